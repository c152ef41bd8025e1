//! `/account/addresses`: the address book (list, add, edit, delete, set the default) through
//! identity's address service, as `/v1/me/addresses` does. Another user's address is a 404.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Member, notice, see_other};
use crate::http::AppState;
use crate::identity::addresses::{Address, AddressError, AddressInput};
use crate::identity::domain::Text;
use crate::ids::AddressId;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::Visit;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn failed(err: AddressError) -> PageError {
    match err {
        AddressError::NotFound => PageError::not_found(),
        err => PageError::internal(err),
    }
}

/// An address id from the path; one that cannot be an id is a page that does not exist.
fn address_id(raw: &str) -> Result<AddressId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<Done>,
) -> PageResult {
    let addresses = state.identity.addresses(principal.user).await.map_err(failed)?;
    Ok(render(
        &visit,
        StatusCode::OK,
        "me/addresses.html",
        context! {
            addresses => Value::from(Serde(&addresses)),
            notice => notice(query.done.as_deref()),
            back => "/account/addresses", section => "addresses",
        },
    ))
}

/// The address form as sent: every field a string, checked by [`AddressForm::input`].
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct AddressForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    recipient_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default, deserialize_with = "checkbox")]
    is_default: bool,
}

/// A checkbox: present (any value) is on.
fn checkbox<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.is_some_and(|v| v != "false"))
}

fn optional<const MAX: usize>(text: &str) -> Result<Option<Text<MAX>>, String> {
    if text.trim().is_empty() { Ok(None) } else { Text::parse(text).map(Some) }
}

impl AddressForm {
    fn of(address: &Address) -> Self {
        Self {
            label: address.label.clone().unwrap_or_default(),
            recipient_name: address.recipient_name.clone(),
            phone: address.phone.clone(),
            line1: address.line1.clone(),
            line2: address.line2.clone().unwrap_or_default(),
            city: address.city.clone(),
            region: address.region.clone().unwrap_or_default(),
            postal_code: address.postal_code.clone(),
            country: address.country.clone(),
            is_default: address.is_default,
        }
    }

    /// The address the API would take from these fields, or none when one is not valid.
    fn input(&self) -> Option<AddressInput> {
        let input = (|| -> Result<AddressInput, String> {
            Ok(AddressInput {
                label: optional(&self.label)?,
                recipient_name: Text::parse(&self.recipient_name)?,
                phone: self.phone.clone().try_into().map_err(str::to_owned)?,
                line1: Text::parse(&self.line1)?,
                line2: optional(&self.line2)?,
                city: Text::parse(&self.city)?,
                region: optional(&self.region)?,
                postal_code: Text::parse(&self.postal_code)?,
                country: self.country.clone().try_into().map_err(str::to_owned)?,
                is_default: self.is_default,
            })
        })();
        input.ok()
    }
}

fn form_page(
    visit: &Visit,
    status: StatusCode,
    editing: Option<&str>,
    form: &AddressForm,
    error: Option<&str>,
) -> PageResult {
    let action =
        editing.map_or_else(|| "/account/addresses".to_owned(), |id| format!("/account/addresses/{id}"));
    let error = error.map(|key| i18n::message(visit.locale, key));
    Ok(render(
        visit,
        status,
        "me/address_form.html",
        context! {
            form => Value::from(Serde(form)),
            editing => editing.is_some(),
            action, error,
            back => "/account/addresses", section => "addresses",
        },
    ))
}

pub async fn new(visit: Visit, Member(_): Member) -> PageResult {
    form_page(&visit, StatusCode::OK, None, &AddressForm::default(), None)
}

#[tracing::instrument(skip_all)]
pub async fn add(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<AddressForm>,
) -> PageResult {
    let Some(input) = form.input() else {
        return form_page(&visit, StatusCode::UNPROCESSABLE_ENTITY, None, &form, Some("error_me_address"));
    };
    match state.identity.add_address(principal.user, input).await {
        Ok(_) => Ok(see_other("/account/addresses?done=address_saved")),
        Err(AddressError::TooMany) => {
            form_page(&visit, StatusCode::CONFLICT, None, &form, Some("error_me_too_many_addresses"))
        }
        Err(err) => Err(failed(err)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn edit(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Path(id): Path<String>,
) -> PageResult {
    let address = state.identity.address(principal.user, address_id(&id)?).await.map_err(failed)?;
    form_page(&visit, StatusCode::OK, Some(&id), &AddressForm::of(&address), None)
}

#[tracing::instrument(skip_all)]
pub async fn replace(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Path(id): Path<String>,
    Form(form): Form<AddressForm>,
) -> PageResult {
    let address = address_id(&id)?;
    let Some(input) = form.input() else {
        // Someone else's address is not found, whatever the form holds.
        state.identity.address(principal.user, address).await.map_err(failed)?;
        return form_page(
            &visit,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&id),
            &form,
            Some("error_me_address"),
        );
    };
    state.identity.replace_address(principal.user, address, input).await.map_err(failed)?;
    Ok(see_other("/account/addresses?done=address_saved"))
}

#[tracing::instrument(skip_all)]
pub async fn remove(
    State(state): State<AppState>,
    Member(principal): Member,
    Path(id): Path<String>,
) -> PageResult {
    state.identity.remove_address(principal.user, address_id(&id)?).await.map_err(failed)?;
    Ok(see_other("/account/addresses?done=address_removed"))
}

/// The address again with `is_default` set: the API's way to choose the default.
#[tracing::instrument(skip_all)]
pub async fn make_default(
    State(state): State<AppState>,
    Member(principal): Member,
    Path(id): Path<String>,
) -> PageResult {
    let id = address_id(&id)?;
    let address = state.identity.address(principal.user, id).await.map_err(failed)?;
    let form = AddressForm { is_default: true, ..AddressForm::of(&address) };
    let input = form.input().ok_or_else(|| PageError::internal("a stored address no longer parses"))?;
    state.identity.replace_address(principal.user, id, input).await.map_err(failed)?;
    Ok(see_other("/account/addresses?done=default_set"))
}
