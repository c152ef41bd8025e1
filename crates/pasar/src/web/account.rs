//! Signing in and out from the browser: one login form for buyers, sellers and admins (the
//! API's rate limits and checks), registration, logout, and the language choice.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::i18n;
use super::templates::{PageError, PageResult, render};
use super::visit::{CART_COOKIE, LANG_COOKIE, LONG_COOKIE, SESSION_COOKIE, Visit};
use crate::http::AppState;
use crate::http::rate_limit::ClientIp;
use crate::identity::{Email, IdentityError, Password, PersonName, SessionOrigin, WebLogin};
use crate::locale::Locale;

fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn origin_of(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> SessionOrigin {
    SessionOrigin::new(headers.get(header::USER_AGENT).and_then(|agent| agent.to_str().ok()), ip)
}

/// Where to go after signing in (`?next=` on the page, a hidden field in its form): a path of
/// this site only.
#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

impl Next {
    /// The path to return to, when one was asked for and it is this site's.
    fn path(&self) -> Option<&str> {
        self.next.as_deref().filter(|next| local_path(Some(next)) != "/")
    }
}

/// `page` (`/login` or `/register`) keeping the path to return to, so switching between the two
/// forms still ends where the visitor was going.
fn keeping_next(page: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => {
            format!("{page}?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
        }
        None => page.to_owned(),
    }
}

pub async fn login_page(visit: Visit, Query(next): Query<Next>) -> Response {
    let (next, register_href) = (next.path(), keeping_next("/register", next.path()));
    render(&visit, StatusCode::OK, "login.html", context! { back => "/login", next, register_href })
}

pub async fn register_page(visit: Visit, Query(next): Query<Next>) -> Response {
    let (next, login_href) = (next.path(), keeping_next("/login", next.path()));
    render(&visit, StatusCode::OK, "register.html", context! { back => "/register", next, login_href })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    visit: Visit,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let again = |status: StatusCode, key: &str| {
        let error = i18n::message(visit.locale, key);
        render(
            &visit,
            status,
            "login.html",
            context! { email => form.email.as_str(), error, back => "/login", next => form.next.as_deref() },
        )
    };
    let (Ok(email), Ok(password)) = (Email::parse(&form.email), Password::parse(form.password.clone()))
    else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_credentials"));
    };
    if let Err(refused) = state.limits.check_login(ip, email.as_str()) {
        let refused = refused.into_response();
        let mut page = again(StatusCode::TOO_MANY_REQUESTS, "error_too_many_attempts");
        if let Some(retry_after) = refused.headers().get(header::RETRY_AFTER) {
            page.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
        }
        return Ok(page);
    }
    match state.identity.web_login(&email, &password, &origin_of(&headers, ip)).await {
        Ok(login) => signed_in(&state, &visit, login, form.next.as_deref()).await,
        Err(IdentityError::InvalidCredentials) => Ok(again(StatusCode::UNAUTHORIZED, "error_credentials")),
        Err(IdentityError::AccountInactive) => Ok(again(StatusCode::FORBIDDEN, "error_inactive")),
        Err(err) => Err(PageError::internal(err)),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    name: String,
    email: String,
    password: String,
    next: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    visit: Visit,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> PageResult {
    let again = |status: StatusCode, key: &str| {
        let error = i18n::message(visit.locale, key);
        let (name, email) = (form.name.as_str(), form.email.as_str());
        let next = form.next.as_deref();
        render(&visit, status, "register.html", context! { name, email, error, next, back => "/register" })
    };
    let Ok(name) = PersonName::parse(&form.name) else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_name"));
    };
    let Ok(email) = Email::parse(&form.email) else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_email"));
    };
    let Ok(password) = Password::parse(form.password.clone()) else {
        return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, "error_password"));
    };
    match state.identity.web_register(email, password, name, &origin_of(&headers, ip)).await {
        Ok(login) => signed_in(&state, &visit, login, form.next.as_deref()).await,
        Err(IdentityError::EmailTaken) => Ok(again(StatusCode::CONFLICT, "error_email_taken")),
        Err(err) => Err(PageError::internal(err)),
    }
}

/// After a login or registration: the new session's cookie replaces the old one (whose session
/// ends), the guest cart the browser held moves into the buyer's cart, and the browser goes
/// where it was asked to return (a path of this site), else home.
async fn signed_in(state: &AppState, visit: &Visit, login: WebLogin, next: Option<&str>) -> PageResult {
    if let Some(previous) = visit.principal {
        state.identity.logout(&previous).await.map_err(PageError::internal)?;
    }
    let mut response = see_other(local_path(next));
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, visit.cookie(SESSION_COOKIE, &login.secret, Some(login.max_age)));
    if let Some((cart, token)) = &visit.guest_cart {
        // Signed in either way; a cart that cannot be merged is left as it was.
        match state.carts.merge_guest(login.user.id, *cart, token).await {
            Ok(_) => {
                headers.append(header::SET_COOKIE, visit.removed_cookie(CART_COOKIE));
            }
            Err(err) => tracing::info!(error = %err, "guest cart not merged at web login"),
        }
    }
    Ok(response)
}

#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>, visit: Visit) -> PageResult {
    if let Some(principal) = visit.principal {
        state.identity.logout(&principal).await.map_err(PageError::internal)?;
    }
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, visit.removed_cookie(SESSION_COOKIE));
    Ok(response)
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    back: Option<String>,
}

/// A path of this site to return to; anything else (another site, `//host`) goes home.
fn local_path(path: Option<&str>) -> &str {
    path.filter(|p| {
        p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control)
    })
    .unwrap_or("/")
}

pub async fn language(visit: Visit, Form(form): Form<LanguageForm>) -> PageResult {
    let locale: Locale = form
        .lang
        .parse()
        .map_err(|_| PageError { status: StatusCode::UNPROCESSABLE_ENTITY, key: "error_language" })?;
    let mut response = see_other(local_path(form.back.as_deref()));
    response
        .headers_mut()
        .append(header::SET_COOKIE, visit.cookie(LANG_COOKIE, locale.as_str(), Some(LONG_COOKIE)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_of_this_site_is_returned_to() {
        assert_eq!(local_path(Some("/search?q=kopi")), "/search?q=kopi");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
