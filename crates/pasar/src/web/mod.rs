//! The web storefront: server-rendered pages for buyers (home, search, product, cart, login,
//! register), served by the same binary as the JSON API and calling the same services.
//!
//! Pages are minijinja templates compiled into the binary, enhanced with htmx (vendored under
//! `static/`). Every response carries a strict Content-Security-Policy: no inline script or
//! style anywhere. A browser signs in with a cookie holding an identity web session
//! (`identity::web_sessions`); every unsafe request must echo the visit's CSRF token.

mod account;
mod admin;
mod buy;
mod cart;
mod charts;
mod i18n;
mod me;
mod pages;
mod security;
mod seller;
mod templates;
mod visit;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

use crate::http::AppState;

pub use visit::Visit;

/// Every page and the static files, with the storefront's security headers and the visit
/// (session, language, CSRF check) resolved before each handler.
pub fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/search", get(pages::search))
        .route("/products/{id_or_slug}", get(pages::product))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add))
        .route("/cart/items/{variant_id}", post(cart::change))
        .route("/cart/items/{variant_id}/remove", post(cart::remove))
        .route("/login", get(account::login_page).post(account::login))
        .route("/register", get(account::register_page).post(account::register))
        .route("/logout", post(account::logout))
        .route("/language", post(account::language))
        .merge(buy::routes())
        .merge(me::routes())
        .merge(admin::routes())
        .merge(seller::routes())
        .layer(middleware::from_fn_with_state(state.clone(), visit::resolve));
    let https = security::is_https(&state);
    Router::new()
        .route("/static/{file}", get(static_file))
        .merge(pages)
        .layer(middleware::from_fn_with_state(https, security::headers))
        // Pages and their script and stylesheet are text: gzip makes them a third or less.
        .layer(CompressionLayer::new())
}

/// A vendored or own static file, named with its version or content hash so it can be cached
/// for a year.
struct StaticFile {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTMX: StaticFile = StaticFile {
    name: "htmx-2.0.11.min.js",
    content_type: "text/javascript; charset=utf-8",
    body: include_bytes!("static/htmx-2.0.11.min.js"),
};

/// The shop's icon, so browsers do not ask for a missing `/favicon.ico`.
const FAVICON: StaticFile = StaticFile {
    name: "favicon-1.svg",
    content_type: "image/svg+xml",
    body: include_bytes!("static/favicon.svg"),
};

const CSS_BODY: &[u8] = include_bytes!("static/pasar.css");

const JS_BODY: &[u8] = include_bytes!("static/pasar.js");

/// The stylesheet's name: `pasar.{first 12 hex digits of its SHA-256}.css`.
fn css_name() -> &'static str {
    static NAME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        format!("pasar.{}.css", &hex::encode(sha2::Sha256::digest(CSS_BODY))[..12])
    });
    &NAME
}

/// The script's name: `pasar.{first 12 hex digits of its SHA-256}.js`.
fn js_name() -> &'static str {
    static NAME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        format!("pasar.{}.js", &hex::encode(sha2::Sha256::digest(JS_BODY))[..12])
    });
    &NAME
}

async fn static_file(Path(file): Path<String>) -> Response {
    let found = if let Some(vendored) = [HTMX, FAVICON].into_iter().find(|known| known.name == file) {
        Some((vendored.content_type, vendored.body))
    } else if file == css_name() {
        Some(("text/css; charset=utf-8", CSS_BODY))
    } else if file == js_name() {
        Some(("text/javascript; charset=utf-8", JS_BODY))
    } else {
        None
    };
    match found {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found")
            .into_response(),
    }
}
