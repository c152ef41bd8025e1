//! Checkout, the pay step and the buyer's orders: `/checkout`, `/pay/…`, `/orders/…`,
//! `/account/orders`.

mod checkout;
mod messages;
mod orders;
mod pay;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::i18n::Messages;
use super::templates::Sources;
use crate::http::AppState;

pub(super) const MESSAGES: Messages = messages::MESSAGES;

pub(super) const TEMPLATES: Sources = &[
    ("buy/checkout.html", include_str!("../templates/buy/checkout.html")),
    ("buy/checkout_form.html", include_str!("../templates/buy/checkout_form.html")),
    ("buy/pay.html", include_str!("../templates/buy/pay.html")),
    ("buy/pay_status.html", include_str!("../templates/buy/pay_status.html")),
    ("buy/order.html", include_str!("../templates/buy/order.html")),
    ("buy/orders.html", include_str!("../templates/buy/orders.html")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/checkout", get(checkout::show).post(checkout::place))
        .route("/checkout/quote", post(checkout::quote))
        .route("/pay/{payment_id}", get(pay::show))
        .route("/pay/{payment_id}/status", get(pay::status))
        .route("/pay/{payment_id}/sandbox/{outcome}", post(pay::sandbox))
        .route("/orders/{order_id}", get(orders::show))
        .route("/account/orders", get(orders::list))
}

/// A redirect after a POST (or to where a page lives): 303 to a path of this site.
fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// A guest is sent to sign in and brought back to `back` afterwards.
fn to_login(back: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}
