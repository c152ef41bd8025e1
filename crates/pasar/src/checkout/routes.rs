//! `POST /v1/checkout`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{CheckoutRequest, Placed};
use crate::http::error::ErrorEnvelope;
use crate::http::extract::ApiJson;
use crate::http::idempotency::{self, Callers};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkout))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent))
}

/// Buy items (or a cart): stock is reserved, the order is written awaiting payment, and the
/// payment is created at the gateway, whose fee is shown before paying. Send an
/// `Idempotency-Key`: a retry returns the same order, never a second one.
#[utoipa::path(
    post, path = "/v1/checkout", tag = "checkout", security(("bearer" = [])),
    request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses(
        (status = 201, body = Placed),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "no such cart", body = ErrorEnvelope),
        (status = 409, description = "out_of_stock, naming the variant", body = ErrorEnvelope),
        (status = 422, description = "invalid_checkout, not_for_sale, unknown_payment_method, validation_failed", body = ErrorEnvelope),
        (status = 503, description = "the payment gateway is unavailable", body = ErrorEnvelope),
    )
)]
async fn checkout(
    State(state): State<AppState>,
    buyer: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> ApiResult<(StatusCode, Json<Placed>)> {
    let key = headers.get(idempotency::HEADER).and_then(|v| v.to_str().ok());
    let placed = state.checkout.place(&buyer, body, key).await?;
    Ok((StatusCode::CREATED, Json(placed)))
}
