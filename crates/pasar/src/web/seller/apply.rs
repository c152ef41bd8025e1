//! Applying for a store (`POST /v1/sellers`), and the application's status afterwards.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{refusal, see_other, to_login};
use crate::http::AppState;
use crate::identity::Role;
use crate::sellers::SellerStatus;
use crate::sellers::domain::Application;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult, error_page, render};
use crate::web::visit::Visit;

/// The application form's fields, as typed (shown again when refused).
#[derive(Default, Deserialize, Serialize)]
pub struct ApplicationForm {
    #[serde(default)]
    store_name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    bank_code: String,
    #[serde(default)]
    account_number: String,
    #[serde(default)]
    account_name: String,
}

impl ApplicationForm {
    /// The application as the API takes it, checked by the same types.
    fn application(&self) -> Result<Application, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "store_name": self.store_name,
            "slug": self.slug.trim(),
            "description": self.description,
            "contact": {"email": self.contact_email.trim(), "phone": self.contact_phone.trim()},
            "payout_account": {
                "bank_code": self.bank_code.trim(),
                "account_number": self.account_number.trim(),
                "account_name": self.account_name,
            },
        }))
    }
}

fn form_page(visit: &Visit, status: StatusCode, form: &ApplicationForm, error: Option<String>) -> Response {
    render(
        visit,
        status,
        "seller/apply.html",
        context! { form => minijinja::Value::from(minijinja::value::Serde(form)), error, back => "/seller/apply" },
    )
}

/// The form for an account without a store; the application's status for one that applied;
/// the dashboard for a live store.
#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit) -> PageResult {
    let Some(principal) = visit.principal else { return Ok(to_login("/seller/apply")) };
    if principal.role.is_staff() {
        return Ok(error_page(&visit, StatusCode::FORBIDDEN, "error_seller_staff"));
    }
    let store = state.sellers.store_of_user(principal.user).await.map_err(PageError::internal)?;
    let Some(store) = store else {
        return Ok(form_page(&visit, StatusCode::OK, &ApplicationForm::default(), None));
    };
    if principal.role == Role::Seller
        && matches!(store.status, SellerStatus::Approved | SellerStatus::Suspended)
    {
        return Ok(see_other("/seller"));
    }
    let submitted = visit.locale.format_datetime(store.created_at);
    Ok(render(
        &visit,
        StatusCode::OK,
        "seller/apply.html",
        context! {
            applied => true,
            status => store.status.as_str(),
            status_label => super::store_status_label(&visit, store.status),
            status_help => i18n::message(visit.locale, &format!("seller_application_{}", store.status.as_str())).to_owned(),
            store_name => store.store_name,
            slug => store.slug,
            reason => store.reason,
            submitted,
            back => "/seller/apply",
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<ApplicationForm>,
) -> PageResult {
    let Some(principal) = visit.principal else { return Ok(to_login("/seller/apply")) };
    let application = match form.application() {
        Ok(application) => application,
        Err(err) => {
            let message = format!("{} ({err})", i18n::message(visit.locale, "error_seller_invalid"));
            return Ok(form_page(&visit, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(message)));
        }
    };
    match state.sellers.apply(&principal, application).await {
        Ok(_) => Ok(see_other("/seller/apply")),
        Err(err) => {
            let (status, message) = refusal(&visit, err)?;
            Ok(form_page(&visit, status, &form, Some(message)).into_response())
        }
    }
}
