//! One browser's visit, resolved before every page: who is signed in (the session cookie),
//! which language to speak, the guest cart it holds, and the CSRF token its forms echo. An
//! unsafe request (POST…) whose token is missing or wrong is refused here with a 403, before
//! any handler runs, so it changes nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::{security, templates};
use crate::http::AppState;
use crate::identity::{IdentityError, Principal};
use crate::ids::CartId;
use crate::locale::Locale;

pub const SESSION_COOKIE: &str = "pasar_session";
pub const VISITOR_COOKIE: &str = "pasar_visitor";
pub const CART_COOKIE: &str = "pasar_cart";
pub const LANG_COOKIE: &str = "lang";
/// The form field and the header (set by htmx from `hx-headers`) carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long the guest cart and language cookies live.
pub const LONG_COOKIE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[derive(Clone, Debug)]
pub struct Visit {
    pub principal: Option<Principal>,
    pub locale: Locale,
    /// What every form (`_csrf`) and htmx request (`X-CSRF-Token`) of this visit sends back.
    pub csrf: String,
    /// Whether cookies are set `Secure` (the shop is served over https).
    pub https: bool,
    /// The guest cart the browser holds: its id and token.
    pub guest_cart: Option<(CartId, String)>,
}

impl Visit {
    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over https; no `max_age` makes a
    /// cookie that ends with the browser session, a zero one removes it.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
        set_cookie(name, value, max_age, self.https)
    }

    pub fn removed_cookie(&self, name: &str) -> HeaderValue {
        set_cookie(name, "", Some(Duration::ZERO), self.https)
    }
}

fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, https: bool) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if https {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie names and values are ASCII without controls")
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Response> {
        parts.extensions.get::<Visit>().cloned().ok_or_else(|| {
            tracing::error!("a page was routed without the visit layer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A new random secret for a cookie: 256 bits, URL-safe base64.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The CSRF token of a visit: a one-way hash of the session's secret (signed in) or of the
/// visitor cookie's (a guest), so a page can show it without revealing the cookie.
fn csrf_token(source: &str) -> String {
    hex::encode(Sha256::digest(format!("pasar-web-csrf:{source}").as_bytes()))
}

/// Compares in time independent of where the two differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The language: the `lang` cookie, else the first of `Accept-Language` Pasar speaks, else
/// Indonesian.
fn locale_of(headers: &HeaderMap) -> Locale {
    if let Some(locale) = cookie(headers, LANG_COOKIE).and_then(|tag| tag.parse().ok()) {
        return locale;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value.split(',').filter_map(|tag| tag.split(';').next()?.trim().parse::<Locale>().ok()).next()
        })
        .unwrap_or_default()
}

fn guest_cart_of(headers: &HeaderMap) -> Option<(CartId, String)> {
    let (id, token) = cookie(headers, CART_COOKIE)?.split_once('.')?;
    Some((id.parse().ok()?, token.to_owned()))
}

pub async fn resolve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let https = security::is_https(&state);
    let headers = request.headers();
    let mut set_cookies = Vec::new();
    let session_secret = cookie(headers, SESSION_COOKIE).map(str::to_owned);
    let principal = match &session_secret {
        Some(secret) => match state.identity.authenticate_web(secret).await {
            Ok(principal) => Some(principal),
            Err(IdentityError::Unauthenticated) => {
                set_cookies.push(set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO), https));
                None
            }
            Err(err) => {
                tracing::error!(error = ?err, "checking a web session failed");
                let visit = Visit {
                    principal: None,
                    locale: locale_of(headers),
                    csrf: String::new(),
                    https,
                    guest_cart: None,
                };
                return templates::error_page(&visit, StatusCode::INTERNAL_SERVER_ERROR, "error_internal");
            }
        },
        None => None,
    };
    let visitor = match cookie(headers, VISITOR_COOKIE).filter(|value| value.len() == 43) {
        Some(visitor) => visitor.to_owned(),
        None => {
            let visitor = new_secret();
            set_cookies.push(set_cookie(VISITOR_COOKIE, &visitor, None, https));
            visitor
        }
    };
    let csrf = match (&principal, &session_secret) {
        (Some(_), Some(secret)) => csrf_token(&format!("session:{secret}")),
        _ => csrf_token(&format!("visitor:{visitor}")),
    };
    let visit =
        Visit { principal, locale: locale_of(headers), csrf, https, guest_cart: guest_cart_of(headers) };

    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut request = if safe {
        request
    } else {
        // A signed-in visitor's upload form may carry an image as large as the media store takes;
        // a guest's body stays within the API's limit.
        let upload_limit = if visit.principal.is_some() {
            state.config.media_max_bytes + 64 * 1024
        } else {
            state.config.body_limit_bytes
        };
        match checked(request, &visit, state.config.body_limit_bytes, upload_limit).await {
            Ok(request) => request,
            Err(status) => {
                let key = if status == StatusCode::FORBIDDEN { "error_csrf" } else { "error_too_large" };
                let mut response = templates::error_page(&visit, status, key);
                append_cookies(&mut response, set_cookies);
                return response;
            }
        }
    };
    request.extensions_mut().insert(visit.clone());
    let mut response = next.run(request).await;
    if let Some(failure) = response.extensions().get::<templates::PageError>().copied() {
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let cookies_set: Vec<HeaderValue> =
            response.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
        response = templates::error_page(&visit, failure.status, failure.key);
        if let Some(retry_after) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, retry_after);
        }
        append_cookies(&mut response, cookies_set);
    }
    append_cookies(&mut response, set_cookies);
    response
}

fn append_cookies(response: &mut Response, cookies: Vec<HeaderValue>) {
    for value in cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The request again when it carries the visit's CSRF token, in the `X-CSRF-Token` header or
/// the form's `_csrf` field (URL-encoded or multipart); else 403 (or 413 for a body past the
/// limit: `limit`, or `upload_limit` for a multipart form).
async fn checked(
    request: Request,
    visit: &Visit,
    limit: usize,
    upload_limit: usize,
) -> Result<Request, StatusCode> {
    let from_header = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(token) = from_header {
        return if same_token(&token, &visit.csrf) { Ok(request) } else { Err(StatusCode::FORBIDDEN) };
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let boundary = multer::parse_boundary(&content_type).ok();
    let limit = if boundary.is_some() { upload_limit } else { limit };
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    let token = match boundary {
        Some(boundary) => multipart_text(bytes.clone(), boundary, CSRF_FIELD).await,
        None if content_type.starts_with("application/x-www-form-urlencoded") => {
            form_urlencoded::parse(&bytes)
                .find(|(name, _)| name == CSRF_FIELD)
                .map(|(_, value)| value.into_owned())
        }
        None => None,
    };
    match token {
        Some(token) if same_token(&token, &visit.csrf) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(StatusCode::FORBIDDEN),
    }
}

/// The text of field `name` in a multipart body.
async fn multipart_text(body: Bytes, boundary: String, name: &str) -> Option<String> {
    let mut multipart =
        multer::Multipart::new(futures_util::stream::once(async { Ok::<_, Infallible>(body) }), boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; pasar_session_x=no"));
        headers.append(header::COOKIE, HeaderValue::from_static("pasar_session=yes"));
        assert_eq!(cookie(&headers, "pasar_session"), Some("yes"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr-FR, ja;q=0.8, en;q=0.5"));
        assert_eq!(locale_of(&headers), Locale::Ja);
        headers.insert(header::COOKIE, HeaderValue::from_static("lang=en"));
        assert_eq!(locale_of(&headers), Locale::En);
        assert_eq!(locale_of(&HeaderMap::new()), Locale::Id);
    }

    #[test]
    fn csrf_tokens_differ_per_source_and_compare_exactly() {
        let (a, b) = (csrf_token("session:one"), csrf_token("session:two"));
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, &a[1..]));
        assert!(!a.contains("one"), "the token does not show its source");
    }
}
