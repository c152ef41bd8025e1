//! The admin dashboard under `/admin`: a layout with the sections' navigation, and a guard in
//! front of every page (the admin allowlist, then a signed-in staff member). Each section is a
//! file of its own; they call the same services as the admin JSON API, with the same actor, so
//! the audit log records the same entries.

mod audit;
mod dashboard;
mod delivery;
mod messages;
mod orders;
mod payments;
// The seller pages take uploads and variant options as these pages do.
pub(super) mod products;
mod sellers;
mod shipping;
mod users;
mod vouchers;
mod webhooks;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};

use super::i18n::Messages;
use super::templates::{PageError, Sources, render};
use super::visit::Visit;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::identity::Principal;

pub(super) const MESSAGES: Messages = messages::MESSAGES;

pub(super) const TEMPLATES: Sources = &[
    ("admin/layout.html", include_str!("../templates/admin/layout.html")),
    ("admin/dashboard.html", include_str!("../templates/admin/dashboard.html")),
    ("admin/orders.html", include_str!("../templates/admin/orders.html")),
    ("admin/order.html", include_str!("../templates/admin/order.html")),
    ("admin/products.html", include_str!("../templates/admin/products.html")),
    ("admin/product_new.html", include_str!("../templates/admin/product_new.html")),
    ("admin/product.html", include_str!("../templates/admin/product.html")),
    ("admin/users.html", include_str!("../templates/admin/users.html")),
    ("admin/user.html", include_str!("../templates/admin/user.html")),
    ("admin/sellers.html", include_str!("../templates/admin/sellers.html")),
    ("admin/audit.html", include_str!("../templates/admin/audit.html")),
    ("admin/ledger.html", include_str!("../templates/admin/ledger.html")),
    ("admin/vouchers.html", include_str!("../templates/admin/vouchers.html")),
    ("admin/voucher_new.html", include_str!("../templates/admin/voucher_new.html")),
    ("admin/voucher.html", include_str!("../templates/admin/voucher.html")),
    ("admin/shipping.html", include_str!("../templates/admin/shipping.html")),
    ("admin/delivery.html", include_str!("../templates/admin/delivery.html")),
    ("admin/payments.html", include_str!("../templates/admin/payments.html")),
    ("admin/webhooks.html", include_str!("../templates/admin/webhooks.html")),
    ("admin/webhook.html", include_str!("../templates/admin/webhook.html")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/{id}", get(orders::show))
        .route("/admin/orders/{id}/status", post(orders::advance))
        .route("/admin/orders/{id}/cancel", post(orders::cancel))
        .route("/admin/orders/{id}/refunds", post(orders::refund))
        .route("/admin/products", get(products::list).post(products::create))
        .route("/admin/products/new", get(products::new_page))
        .route("/admin/products/{id}", get(products::show).post(products::update))
        .route("/admin/products/{id}/archive", post(products::archive))
        .route("/admin/products/{id}/images", post(products::upload_image))
        .route("/admin/variants/{id}", post(products::update_variant))
        .route("/admin/variants/{id}/stock", post(products::adjust_stock))
        .route("/admin/variants/{id}/keys", post(products::add_keys))
        .route("/admin/users", get(users::list))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/users/{id}/role", post(users::change_role))
        .route("/admin/users/{id}/deactivate", post(users::deactivate))
        .route("/admin/users/{id}/reactivate", post(users::reactivate))
        .route("/admin/users/{id}/wallet", post(users::adjust_wallet))
        .route("/admin/sellers", get(sellers::list))
        .route("/admin/sellers/{id}/decision", post(sellers::decide))
        .route("/admin/audit", get(audit::log))
        .route("/admin/ledger", get(audit::ledger))
        .route("/admin/vouchers", get(vouchers::list).post(vouchers::create))
        .route("/admin/vouchers/new", get(vouchers::new_page))
        .route("/admin/vouchers/{id}", get(vouchers::show))
        .route("/admin/vouchers/{id}/pause", post(vouchers::pause))
        .route("/admin/vouchers/{id}/resume", post(vouchers::resume))
        .route("/admin/shipping", get(shipping::show))
        .route("/admin/shipping/zones", post(shipping::create_zone))
        .route("/admin/shipping/zones/{id}/delete", post(shipping::delete_zone))
        .route("/admin/shipping/methods", post(shipping::create_method))
        .route("/admin/shipping/methods/{id}/delete", post(shipping::delete_method))
        .route("/admin/delivery", get(delivery::show))
        .route("/admin/delivery/zones/{zone}/rules", post(delivery::set_rules))
        .route("/admin/delivery/zones/{zone}/templates", post(delivery::add_template))
        .route("/admin/delivery/zones/{zone}/templates/{id}/delete", post(delivery::remove_template))
        .route("/admin/delivery/zones/{zone}/closed-dates", post(delivery::close_date))
        .route("/admin/delivery/zones/{zone}/closed-dates/{date}/delete", post(delivery::reopen_date))
        .route("/admin/delivery/zones/{zone}/capacity", post(delivery::set_capacity))
        .route("/admin/products/{id}/variants", post(products::add_variant))
        .route("/admin/variants/{id}/key-file", post(products::upload_key_file))
        .route("/admin/stock/import", post(products::import_stock))
        .route("/admin/payments", get(payments::show))
        .route("/admin/payments/reconciliation", post(payments::reconcile))
        .route("/admin/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/admin/webhooks/{id}", get(webhooks::show).post(webhooks::update))
        .route("/admin/webhooks/{id}/delete", post(webhooks::delete))
        .route("/admin/webhook-deliveries/{id}/replay", post(webhooks::replay))
}

/// A signed-in member of staff on an admin page, from an address the allowlist lets in.
/// Anyone else: a guest is sent to log in (and back), a buyer or seller gets a 403 page, and
/// an address outside `admin_allow_ips` a 403 page before anything else is looked at.
pub(super) struct Admin {
    pub principal: Principal,
    pub visit: Visit,
}

impl Admin {
    /// The actor the admin JSON routes give the services (and so the audit log).
    fn actor(&self) -> String {
        self.principal.user.to_string()
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visit = Visit::from_request_parts(parts, state).await?;
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        if !state.limits.admin_allows(state.limits.client_ip(&parts.headers, peer)) {
            return Err(
                PageError { status: StatusCode::FORBIDDEN, key: "error_admin_address" }.into_response()
            );
        }
        match visit.principal {
            None => {
                let here = parts.uri.path_and_query().map_or("/admin", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                Err(see_other(&format!("/login?next={next}")))
            }
            Some(principal) if !principal.role.is_staff() => {
                Err(PageError { status: StatusCode::FORBIDDEN, key: "error_admin_staff" }.into_response())
            }
            Some(principal) => Ok(Admin { principal, visit }),
        }
    }
}

fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/admin"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// An admin page: `template` (extending `admin/layout.html`) with `section` marked current in
/// the navigation.
fn page(admin: &Admin, status: StatusCode, template: &str, section: &str, values: Value) -> Response {
    let back =
        format!("/admin{}", if section == "dashboard" { String::new() } else { format!("/{section}") });
    render(&admin.visit, status, template, context! { section, back, ..values })
}

/// How a page answers a service's refusal: the status and code the JSON API would answer,
/// with the message key for that code; a failure of Pasar's own (5xx) is a `PageError`.
fn refusal(err: impl Into<ApiError>) -> Result<(StatusCode, &'static str), PageError> {
    let err: ApiError = err.into();
    let status = err.status();
    if status == StatusCode::SERVICE_UNAVAILABLE && err.code() == "refund_pending" {
        return Ok((StatusCode::ACCEPTED, "error_admin_refund_pending"));
    }
    if status.is_server_error() {
        return Err(PageError::internal(err));
    }
    let key = match err.code() {
        "not_found" => "error_not_found",
        "invalid_transition" | "order_changed" | "payment_changed" => "error_admin_invalid_transition",
        "not_refundable" => "error_admin_not_refundable",
        "refund_exceeds_payment" => "error_admin_refund_exceeds",
        "sku_taken" => "error_admin_sku_taken",
        "slug_taken" => "error_admin_slug_taken",
        "stock_below_reserved" => "error_admin_below_reserved",
        "digital_stock" => "error_admin_digital_stock",
        "too_many_media" => "error_admin_too_many_images",
        "payload_too_large" => "error_admin_image_too_large",
        "unsupported_media_type" => "error_admin_not_an_image",
        "validation_failed" => "error_admin_invalid",
        "forbidden" => "error_admin_not_permitted",
        "insufficient_balance" => "error_admin_insufficient_balance",
        "account_deleted" => "error_admin_account_deleted",
        "voucher_code_taken" => "error_admin_voucher_code_taken",
        "invalid_shipping" => "error_admin_shipping_invalid",
        "shipping_method_exists" => "error_admin_method_exists",
        "zone_in_use" => "error_admin_zone_in_use",
        "invalid_delivery" => "error_admin_delivery_invalid",
        "idempotency_request_in_progress" => "error_admin_form_in_progress",
        "idempotency_key_reused" => "error_admin_form_reused",
        _ => "error_admin_refused",
    };
    Ok((status, key))
}

/// `?done=…` on the page an action redirected to: which action the page confirms.
#[derive(serde::Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

impl DoneQuery {
    /// The confirmation for `done` in `locale`, when it is one of `known` (what, message key);
    /// else nothing.
    pub fn notice(&self, locale: crate::locale::Locale, known: &[(&str, &'static str)]) -> &'static str {
        let key = self.done.as_deref().and_then(|done| known.iter().find(|(what, _)| *what == done));
        key.map_or("", |(_, key)| super::i18n::message(locale, key))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_message_key_the_admin_code_names_exists() {
        for source in [
            include_str!("mod.rs"),
            include_str!("dashboard.rs"),
            include_str!("orders.rs"),
            include_str!("products.rs"),
            include_str!("users.rs"),
            include_str!("audit.rs"),
            include_str!("sellers.rs"),
            include_str!("vouchers.rs"),
            include_str!("shipping.rs"),
            include_str!("delivery.rs"),
            include_str!("payments.rs"),
            include_str!("webhooks.rs"),
        ] {
            super::super::i18n::assert_messages_exist(source);
        }
    }
}
