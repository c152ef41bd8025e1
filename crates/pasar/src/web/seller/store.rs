//! `/seller/store`: the store's profile as shoppers see it on `/stores/{slug}`: its name,
//! description and contact, changed as `PATCH /v1/sellers/me` changes them, and its logo,
//! replaced as `PUT /v1/sellers/me/logo` replaces it (from a plain multipart form).

use axum::Form;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::{Need, Store, page, refusal, see_other, store_for, uploaded_image};
use crate::http::AppState;
use crate::sellers::{ProfileChange, SellerStatus};
use crate::web::admin::DoneQuery;
use crate::web::i18n;
use crate::web::templates::PageResult;
use crate::web::visit::Visit;

/// The profile form's fields, as typed (shown again when refused).
#[derive(Default, Deserialize, Serialize)]
pub struct ProfileForm {
    #[serde(default)]
    store_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    contact_phone: String,
}

impl ProfileForm {
    /// The form as the store stands now.
    fn of(store: &Store) -> Self {
        let seller = &store.seller;
        Self {
            store_name: seller.store_name.clone(),
            description: seller.description.clone(),
            contact_email: seller.contact.as_ref().map(|c| c.email.as_str().to_owned()).unwrap_or_default(),
            contact_phone: seller.contact.as_ref().map(|c| String::from(c.phone.clone())).unwrap_or_default(),
        }
    }

    /// The change as the API takes it, checked by the same types.
    fn change(&self) -> Result<ProfileChange, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "store_name": self.store_name,
            "description": self.description,
            "contact": {"email": self.contact_email.trim(), "phone": self.contact_phone.trim()},
        }))
    }
}

fn profile_page(
    visit: &Visit,
    store: &Store,
    status: StatusCode,
    form: &ProfileForm,
    error: Option<String>,
    notice: &str,
) -> Response {
    page(
        visit,
        store,
        status,
        "store",
        "seller/store.html",
        context! {
            form => Value::from(Serde(form)),
            slug => store.seller.slug.as_str(),
            live => store.seller.status == SellerStatus::Approved,
            logo_url => store.seller.logo_url.as_deref(),
            error,
            notice,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit, Query(query): Query<DoneQuery>) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/store", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let notice =
        query.notice(visit.locale, &[("saved", "seller_done_profile"), ("logo", "seller_done_logo")]);
    Ok(profile_page(&visit, &store, StatusCode::OK, &ProfileForm::of(&store), None, notice))
}

/// Changes the store's name, description and contact, as `PATCH /v1/sellers/me`.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<ProfileForm>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/store", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let change = match form.change() {
        Ok(change) => change,
        Err(err) => {
            let message = format!("{} ({err})", i18n::message(visit.locale, "error_seller_invalid"));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(profile_page(&visit, &store, status, &form, Some(message), ""));
        }
    };
    match state.sellers.update_profile(store.user, change).await {
        Ok(_) => Ok(see_other("/seller/store?done=saved")),
        Err(err) => {
            let (status, message) = refusal(&visit, err)?;
            Ok(profile_page(&visit, &store, status, &form, Some(message), ""))
        }
    }
}

/// Replaces the store's logo, as `PUT /v1/sellers/me/logo`, from a `multipart/form-data` form
/// (its CSRF token in the form's `_csrf` field).
#[tracing::instrument(skip_all)]
pub async fn upload_logo(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/store", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let refused = |(status, message): (StatusCode, String)| {
        profile_page(&visit, &store, status, &ProfileForm::of(&store), Some(message), "")
    };
    let (kind, file) = match uploaded_image(&visit, &headers, body, state.sellers.upload_max_bytes()).await {
        Ok(image) => image,
        Err(refusal) => return Ok(refused(refusal)),
    };
    match state.sellers.set_logo(store.user, kind.as_deref(), file).await {
        Ok(_) => Ok(see_other("/seller/store?done=logo")),
        Err(err) => Ok(refused(refusal(&visit, err)?)),
    }
}
