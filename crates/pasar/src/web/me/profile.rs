//! `/account`: who is signed in, links to every account page, and the forms to change the name
//! and the password (as `PATCH /v1/me` and `POST /v1/me/password` do).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::context;
use serde::Deserialize;

use super::{Member, notice, see_other};
use crate::http::AppState;
use crate::identity::accounts::ProfileChange;
use crate::identity::{IdentityError, Password, PersonName, Principal};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::Visit;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The account page, with an error (by key) for the form named `failed` when one was refused.
async fn page(
    state: &AppState,
    visit: &Visit,
    principal: &Principal,
    status: StatusCode,
    failed: Option<(&str, &str)>,
    done: Option<&str>,
) -> PageResult {
    let user = state.identity.user(principal.user).await.map_err(PageError::internal)?;
    let (form, key) = failed.unzip();
    let error = key.map(|key| i18n::message(visit.locale, key));
    Ok(render(
        visit,
        status,
        "me/account.html",
        context! {
            user => context! {
                name => user.name, email => user.email,
                role_key => format!("me_role_{}", user.role.as_str()),
                email_verified => user.email_verified,
            },
            failed => form, error,
            notice => notice(done),
            back => "/account", section => "account",
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<Done>,
) -> PageResult {
    page(&state, &visit, &principal, StatusCode::OK, None, query.done.as_deref()).await
}

#[derive(Deserialize)]
pub struct NameForm {
    name: String,
}

#[tracing::instrument(skip_all)]
pub async fn rename(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<NameForm>,
) -> PageResult {
    let Ok(name) = PersonName::parse(&form.name) else {
        let failed = Some(("name", "error_name"));
        return page(&state, &visit, &principal, StatusCode::UNPROCESSABLE_ENTITY, failed, None).await;
    };
    let change = ProfileChange { name: Some(name), phone: None, language: None, time_zone: None };
    state.identity.change_profile(principal.user, change).await.map_err(PageError::internal)?;
    Ok(see_other("/account?done=name_saved"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    again: String,
}

#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let refuse = |status, key| {
        let (state, visit) = (&state, &visit);
        async move { page(state, visit, &principal, status, Some(("password", key)), None).await }
    };
    if form.new != form.again {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "error_me_passwords_differ").await;
    }
    let (Ok(current), Ok(new)) = (Password::parse(form.current), Password::parse(form.new)) else {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "error_password").await;
    };
    match state.identity.change_password(&principal, &current, &new).await {
        Ok(()) => Ok(see_other("/account?done=password_changed")),
        Err(IdentityError::WrongPassword) => refuse(StatusCode::FORBIDDEN, "error_me_wrong_password").await,
        Err(err) => Err(PageError::internal(err)),
    }
}
