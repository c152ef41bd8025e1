//! `/password/forgot` (the reset email, the same answer whether or not the address has an
//! account) and `/password/reset?token=…` (a new password, typed twice), through identity as
//! `/v1/auth/password/*` do, limited like login.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::see_other;
use crate::http::AppState;
use crate::http::rate_limit::ClientIp;
use crate::identity::{Email, IdentityError, Password};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::Visit;

/// The longest token a reset link carries (as the API accepts).
const MAX_TOKEN: usize = 256;

#[derive(Deserialize)]
pub struct ForgotQuery {
    sent: Option<String>,
}

pub async fn forgot_page(visit: Visit, Query(query): Query<ForgotQuery>) -> Response {
    render(
        &visit,
        StatusCode::OK,
        "me/forgot.html",
        context! { sent => query.sent.is_some(), back => "/password/forgot" },
    )
}

/// A 429 page keeping the limiter's `Retry-After`.
fn too_many(refused: impl IntoResponse, page: Response) -> Response {
    let refused = refused.into_response();
    let mut page = page;
    if let Some(retry_after) = refused.headers().get(header::RETRY_AFTER) {
        page.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
    }
    page
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

#[tracing::instrument(skip_all)]
pub async fn forgot(
    State(state): State<AppState>,
    visit: Visit,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> PageResult {
    let again = |status, key: &str| {
        let error = i18n::message(visit.locale, key);
        render(
            &visit,
            status,
            "me/forgot.html",
            context! { email => form.email.as_str(), error, back => "/password/forgot" },
        )
    };
    let Ok(email) = Email::parse(&form.email) else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_email"));
    };
    if let Err(refused) = state.limits.check_login(ip, &format!("forgot:{email}")) {
        return Ok(too_many(refused, again(StatusCode::TOO_MANY_REQUESTS, "error_too_many_attempts")));
    }
    state.identity.forgot_password(&email).await.map_err(PageError::internal)?;
    Ok(see_other("/password/forgot?sent=1"))
}

#[derive(Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
    done: Option<String>,
}

pub async fn reset_page(visit: Visit, Query(query): Query<ResetQuery>) -> Response {
    let token = query.token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN);
    let error =
        (token.is_none() && query.done.is_none()).then(|| i18n::message(visit.locale, "error_me_reset_link"));
    render(
        &visit,
        StatusCode::OK,
        "me/reset.html",
        context! { token, error, done => query.done.is_some(), back => "/password/forgot" },
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
    again: String,
}

#[tracing::instrument(skip_all)]
pub async fn reset(
    State(state): State<AppState>,
    visit: Visit,
    ClientIp(ip): ClientIp,
    Form(form): Form<ResetForm>,
) -> PageResult {
    let token = form.token.trim();
    let again = |status, key: &str, keep_token: bool| {
        let error = i18n::message(visit.locale, key);
        let token = keep_token.then_some(token);
        render(&visit, status, "me/reset.html", context! { token, error, back => "/password/forgot" })
    };
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(again(StatusCode::BAD_REQUEST, "error_me_reset_link", false));
    }
    if form.password != form.again {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_me_passwords_differ", true));
    }
    let Ok(password) = Password::parse(form.password.clone()) else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_password", true));
    };
    if let Err(refused) = state.limits.check_login(ip, &format!("reset:{token}")) {
        return Ok(too_many(refused, again(StatusCode::TOO_MANY_REQUESTS, "error_too_many_attempts", true)));
    }
    match state.identity.reset_password(token, &password).await {
        Ok(()) => Ok(see_other("/password/reset?done=1")),
        Err(IdentityError::InvalidAccountToken) => {
            Ok(again(StatusCode::BAD_REQUEST, "error_me_reset_link", false))
        }
        Err(IdentityError::AccountTokenUsed | IdentityError::AccountTokenExpired) => {
            Ok(again(StatusCode::GONE, "error_me_reset_link_used", false))
        }
        Err(IdentityError::AccountInactive) => Ok(again(StatusCode::FORBIDDEN, "error_inactive", false)),
        Err(err) => Err(PageError::internal(err)),
    }
}
