//! The pages' templates, compiled into the binary, and how a page is answered. Names end in
//! `.html`, so minijinja escapes every value written into them.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, State, Value, context};

use super::visit::Visit;
use super::{FAVICON, HTMX, css_name, i18n, js_name};
use crate::locale::Locale;

/// (name, source): one list per area of the pages.
pub type Sources = &'static [(&'static str, &'static str)];

const SETS: &[Sources] = &[
    STOREFRONT,
    super::buy::TEMPLATES,
    super::me::TEMPLATES,
    super::admin::TEMPLATES,
    super::seller::TEMPLATES,
];

const STOREFRONT: Sources = &[
    ("base.html", include_str!("templates/base.html")),
    ("home.html", include_str!("templates/home.html")),
    ("search.html", include_str!("templates/search.html")),
    ("product.html", include_str!("templates/product.html")),
    ("cart.html", include_str!("templates/cart.html")),
    ("cart_lines.html", include_str!("templates/cart_lines.html")),
    ("product_cards.html", include_str!("templates/product_cards.html")),
    ("chart.html", include_str!("templates/chart.html")),
    ("login.html", include_str!("templates/login.html")),
    ("register.html", include_str!("templates/register.html")),
    ("error.html", include_str!("templates/error.html")),
];

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in sources() {
        env.add_template(name, source).expect("the embedded templates parse (checked by a test)");
    }
    env.add_function("t", translate);
    env
});

fn sources() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    SETS.iter().flat_map(|set| set.iter())
}

/// `t("key")`: the message in the page's language.
fn translate(state: &State, key: &str) -> String {
    let locale = state
        .lookup("locale")
        .and_then(|value| value.as_str().and_then(|tag| tag.parse::<Locale>().ok()))
        .unwrap_or_default();
    i18n::message(locale, key).to_owned()
}

/// A page: `template` rendered with `page` (an object) and what every page knows.
pub fn render(visit: &Visit, status: StatusCode, template: &str, page: Value) -> Response {
    let context = context! {
        locale => visit.locale.as_str(),
        csrf => visit.csrf.as_str(),
        signed_in => visit.principal.is_some(),
        role => visit.principal.as_ref().map(|principal| principal.role.as_str()),
        staff => visit.principal.as_ref().is_some_and(|principal| principal.role.is_staff()),
        css_url => format!("/static/{}", css_name()),
        htmx_url => format!("/static/{}", HTMX.name),
        js_url => format!("/static/{}", js_name()),
        favicon_url => format!("/static/{}", FAVICON.name),
        ..page
    };
    match PAGES.get_template(template).and_then(|t| t.render(context)) {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                // Pages carry the visit's CSRF token and the signed-in buyer's cart.
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            html,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = ?err, template, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "")
                .into_response()
        }
    }
}

/// A page telling what went wrong, by the message's key.
pub fn error_page(visit: &Visit, status: StatusCode, key: &str) -> Response {
    let message = i18n::message(visit.locale, key);
    render(visit, status, "error.html", context! { status => status.as_u16(), message })
}

/// A page that could not be made: the visit layer answers it with the error page in the
/// visitor's language.
#[derive(Clone, Copy, Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub key: &'static str,
}

impl PageError {
    pub fn not_found() -> Self {
        Self { status: StatusCode::NOT_FOUND, key: "error_not_found" }
    }

    /// A failure of Pasar's own, logged with its cause; the visitor sees only that it failed.
    pub fn internal(cause: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?cause, "a page failed");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, key: "error_internal" }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub type PageResult = Result<Response, PageError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_every_message_it_asks_for_exists_in_each_language() {
        for (name, source) in sources() {
            assert!(PAGES.get_template(name).is_ok(), "{name} parses");
            let keys = source.split("{{ t(\"").skip(1).map(|piece| piece.split('"').next().unwrap());
            let quoted = source.split("{{ t('").skip(1).map(|piece| piece.split('\'').next().unwrap());
            for key in keys.chain(quoted) {
                for locale in Locale::ALL {
                    assert!(i18n::has(locale, key), "{name}: no {locale} message for {key}");
                }
            }
        }
    }

    #[test]
    fn nothing_inline_runs_or_styles_a_page() {
        for (name, source) in sources() {
            assert!(!source.contains("<script>"), "{name} has an inline script");
            assert!(!source.contains("<style"), "{name} has an inline style element");
            assert!(!source.contains("style=\""), "{name} has an inline style attribute");
            for handler in ["onclick=", "onsubmit=", "onchange=", "onload="] {
                assert!(!source.contains(handler), "{name} has an inline event handler");
            }
            assert!(!source.contains("hx-on"), "{name} has an htmx inline handler");
        }
    }
}
