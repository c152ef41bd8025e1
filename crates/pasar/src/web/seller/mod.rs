//! The seller dashboard under `/seller`: the store's figures and money, its orders to pack and
//! ship, its products with their images, variants, stock and keys, its profile and logo, its
//! reviews to answer, its payouts, and the application for a store. Every page
//! calls the services the `/v1/seller/*` routes call, with the same checks: a store sees and
//! touches only its own orders and products (another store's is a 404), and a suspended store
//! reads and sees its open orders through but changes nothing else.

mod apply;
mod dashboard;
mod messages;
mod orders;
mod payouts;
mod products;
mod reviews;
mod store;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};

use super::admin::products::upload_of;
use super::i18n::{self, Messages};
use super::templates::{PageError, Sources, error_page, render};
use super::visit::Visit;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::identity::Role;
use crate::ids::UserId;
use crate::sellers::{Seller, SellerStatus};

pub(super) const MESSAGES: Messages = messages::MESSAGES;

pub(super) const TEMPLATES: Sources = &[
    ("seller/layout.html", include_str!("../templates/seller/layout.html")),
    ("seller/apply.html", include_str!("../templates/seller/apply.html")),
    ("seller/dashboard.html", include_str!("../templates/seller/dashboard.html")),
    ("seller/orders.html", include_str!("../templates/seller/orders.html")),
    ("seller/order.html", include_str!("../templates/seller/order.html")),
    ("seller/products.html", include_str!("../templates/seller/products.html")),
    ("seller/product_new.html", include_str!("../templates/seller/product_new.html")),
    ("seller/product.html", include_str!("../templates/seller/product.html")),
    ("seller/store.html", include_str!("../templates/seller/store.html")),
    ("seller/reviews.html", include_str!("../templates/seller/reviews.html")),
    ("seller/payouts.html", include_str!("../templates/seller/payouts.html")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/seller", get(dashboard::show))
        .route("/seller/apply", get(apply::show).post(apply::submit))
        .route("/seller/orders", get(orders::list))
        .route("/seller/orders/{id}", get(orders::show))
        .route("/seller/orders/{id}/status", post(orders::advance))
        .route("/seller/orders/{id}/cancel", post(orders::cancel))
        .route("/seller/products", get(products::list))
        .route("/seller/products/new", get(products::new_page).post(products::create))
        .route("/seller/products/{id}", get(products::show).post(products::update))
        .route("/seller/products/{id}/archive", post(products::archive))
        .route("/seller/products/{id}/variants/{variant_id}/stock", post(products::adjust_stock))
        .route("/seller/products/{id}/variants/{variant_id}/keys", post(products::add_keys))
        .route("/seller/products/{id}/variants", post(products::add_variant))
        .route("/seller/products/{id}/images", post(products::upload_image))
        .route("/seller/products/{id}/images/{media_id}/remove", post(products::remove_image))
        .route("/seller/store", get(store::show).post(store::update))
        .route("/seller/store/logo", post(store::upload_logo))
        .route("/seller/reviews", get(reviews::list))
        .route("/seller/reviews/{id}/reply", post(reviews::reply))
        .route("/seller/payouts", get(payouts::show).post(payouts::request))
}

/// What a page is about to do, which decides whether a suspended store may do it (as
/// `ActiveSeller` and `FulfillingSeller` decide for the JSON routes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Reading: any approved or suspended store.
    Read,
    /// Seeing its orders through (pack, ship, deliver, cancel): a suspended store may too.
    Fulfil,
    /// Anything else that changes the store: only an approved one.
    Change,
}

/// The signed-in seller's live store.
struct Store {
    /// The store's owner: what its products and order parts carry as `seller_id`.
    user: UserId,
    seller: Seller,
}

impl Store {
    fn actor(&self) -> String {
        self.user.to_string()
    }
}

/// A store's status in the visit's language.
fn store_status_label(visit: &Visit, status: SellerStatus) -> String {
    i18n::message(visit.locale, &format!("seller_store_{}", status.as_str())).to_owned()
}

/// A redirect a browser follows with a GET.
fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(err) => PageError::internal(err).into_response(),
    }
}

/// To the login form, coming back to `here` after.
fn to_login(here: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}

/// The store of this visit's seller, or the answer instead: the login form for a visitor who
/// is not signed in; the application (or its status) for an account without a live store; a
/// refusal for a suspended store doing what it may not.
async fn store_for(state: &AppState, visit: &Visit, here: &str, need: Need) -> Result<Store, Response> {
    let Some(principal) = visit.principal else { return Err(to_login(here)) };
    let store = state
        .sellers
        .store_of_user(principal.user)
        .await
        .map_err(|e| PageError::internal(e).into_response())?;
    let live = store.filter(|s| {
        principal.role == Role::Seller && matches!(s.status, SellerStatus::Approved | SellerStatus::Suspended)
    });
    let Some(seller) = live else {
        return Err(if need == Need::Read {
            see_other("/seller/apply")
        } else {
            error_page(visit, StatusCode::FORBIDDEN, "error_seller_only")
        });
    };
    if seller.status == SellerStatus::Suspended && need == Need::Change {
        return Err(error_page(visit, StatusCode::FORBIDDEN, "error_seller_suspended"));
    }
    Ok(Store { user: principal.user, seller })
}

/// A dashboard page: `template` (extending `seller/layout.html`) with the store's name and
/// status and the section the navigation marks as current.
fn page(
    visit: &Visit,
    store: &Store,
    status: StatusCode,
    section: &str,
    template: &str,
    page: Value,
) -> Response {
    render(
        visit,
        status,
        template,
        context! {
            store_name => store.seller.store_name.as_str(),
            store_status => store.seller.status.as_str(),
            section,
            back => format!("/seller{}", if section == "home" { String::new() } else { format!("/{section}") }),
            ..page
        },
    )
}

/// Why a service refused a page's action: its status and the message to show with the form;
/// a failure of Pasar's own is a [`PageError`], a missing thing a 404.
fn refusal<E: std::fmt::Debug + Into<ApiError>>(
    visit: &Visit,
    err: E,
) -> Result<(StatusCode, String), PageError> {
    let cause = format!("{err:?}");
    let api: ApiError = err.into();
    let status = api.status();
    if status.is_server_error() {
        return Err(PageError::internal(cause));
    }
    if status == StatusCode::NOT_FOUND {
        return Err(PageError::not_found());
    }
    let key = match api.code() {
        "invalid_transition" => "error_seller_transition",
        "sku_taken" => "error_seller_sku_taken",
        "slug_taken" => "error_seller_slug_taken",
        "already_applied" => "error_seller_already_applied",
        "store_suspended" => "error_seller_suspended",
        "stock_below_reserved" => "error_seller_below_reserved",
        "validation_failed" => "error_seller_invalid",
        "already_replied" => "error_seller_already_replied",
        "not_the_seller" => "error_seller_not_the_seller",
        "too_many_media" => "error_seller_too_many_images",
        "payload_too_large" => "error_seller_image_too_large",
        "unsupported_media_type" => "error_seller_not_an_image",
        "insufficient_balance" => "error_seller_insufficient_balance",
        "invalid_payout" => "error_seller_payout_amount",
        "unknown_payment_method" => "error_seller_no_payout_provider",
        _ => "error_seller_refused",
    };
    Ok((status, i18n::message(visit.locale, key).to_owned()))
}

/// The image a `multipart/form-data` form carries (its declared type, when given, and its
/// bytes), or why there is none to take: too large (413) or no file (422), in the visit's
/// language. `max` is the media store's limit; the form's framing may add a little to it.
async fn uploaded_image(
    visit: &Visit,
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<(Option<String>, Bytes), (StatusCode, String)> {
    match upload_of(headers, body, max, "error_seller_image_too_large", "error_seller_no_image").await {
        Ok(upload) => Ok(((!upload.kind.is_empty()).then_some(upload.kind), upload.bytes)),
        Err((status, key)) => Err((status, i18n::message(visit.locale, key).to_owned())),
    }
}

/// A form that did not pass its checks: 422 with the message in the visit's language.
fn invalid(visit: &Visit, key: &'static str) -> (StatusCode, String) {
    (StatusCode::UNPROCESSABLE_ENTITY, i18n::message(visit.locale, key).to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_message_key_the_seller_pages_name_exists() {
        for source in [
            include_str!("mod.rs"),
            include_str!("apply.rs"),
            include_str!("dashboard.rs"),
            include_str!("orders.rs"),
            include_str!("products.rs"),
            include_str!("store.rs"),
            include_str!("reviews.rs"),
            include_str!("payouts.rs"),
        ] {
            super::i18n::assert_messages_exist(source);
        }
    }
}
