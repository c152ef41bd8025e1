//! Gateway webhooks (`POST /v1/webhooks/{provider}` for payments, `POST
//! /v1/webhooks/{provider}/payouts` for payouts) and the sandbox's hosted pages.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::gateway::GatewayError;
use super::service::PaymentsError;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::ApiPath;
use crate::http::{ApiResult, AppState};

/// The webhook routes, and the sandbox's pages when the sandbox is offered.
pub fn router(sandbox_enabled: bool) -> OpenApiRouter<AppState> {
    let webhooks =
        OpenApiRouter::new().routes(routes!(receive_webhook)).routes(routes!(receive_payout_webhook));
    if sandbox_enabled { webhooks.merge(super::sandbox::router()) } else { webhooks }
}

impl From<PaymentsError> for ApiError {
    fn from(err: PaymentsError) -> Self {
        let message = err.to_string();
        match err {
            PaymentsError::UnknownMethod(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_payment_method", message)
            }
            PaymentsError::NotFound | PaymentsError::PayoutNotFound => ApiError::not_found(),
            PaymentsError::InvalidPayout(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payout", message)
            }
            PaymentsError::PayoutExists => ApiError::conflict("payout_exists", message),
            PaymentsError::Moved => ApiError::conflict("payment_changed", message),
            PaymentsError::AmountMismatch => ApiError::bad_request("amount_mismatch", message),
            PaymentsError::Gateway(GatewayError::BadSignature) => {
                ApiError::bad_request("invalid_signature", message)
            }
            PaymentsError::Gateway(GatewayError::BadWebhook(_)) => {
                ApiError::bad_request("invalid_webhook", message)
            }
            PaymentsError::Gateway(GatewayError::Unsupported(flow)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_by_provider",
                format!("this payment method's provider does not offer {flow}"),
            ),
            PaymentsError::Gateway(other) => ApiError::unavailable(other),
            PaymentsError::NoHandler(_) | PaymentsError::Settle(_) => ApiError::internal(err),
            PaymentsError::Database(e) => e.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Received {
    /// `applied`, or `no_change` when the event was applied before or changes nothing.
    result: &'static str,
}

/// A gateway reports a payment's outcome. The signature is checked over the raw body; the
/// event is applied at most once, and what is applied is the gateway's own answer to a status
/// query, so stale, duplicate or reordered events cannot move a payment backwards.
#[utoipa::path(
    post, path = "/v1/webhooks/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "the gateway, such as `sandbox`")),
    request_body(content = String, description = "the gateway's own event format", content_type = "application/json"),
    responses(
        (status = 200, body = Received),
        (status = 400, description = "invalid_signature, invalid_webhook, amount_mismatch or unknown payment", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 503, description = "the gateway could not be asked; it will retry", body = ErrorEnvelope),
    )
)]
async fn receive_webhook(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    state.payments.gateway(&provider).map_err(|_| ApiError::not_found())?;
    let settlement = match state.settlements.receive_payment_webhook(&provider, &headers, &body).await {
        Err(PaymentsError::NotFound) => {
            return Err(ApiError::bad_request(
                "unknown_payment",
                "the webhook names no payment of this shop",
            ));
        }
        other => other?,
    };
    Ok(Json(Received { result: settlement.as_str() }))
}

/// A gateway reports a payout's outcome. Checked and applied like a payment's webhook: the
/// signature over the raw body, the amount against the payout, each event id at most once, and
/// what is applied is the gateway's own answer when asked, so a payout that succeeded is never
/// failed by a later event (its funds would be handed back twice).
#[utoipa::path(
    post, path = "/v1/webhooks/{provider}/payouts", tag = "payments",
    params(("provider" = String, Path, description = "the gateway, such as `sandbox`")),
    request_body(content = String, description = "the gateway's own event format", content_type = "application/json"),
    responses(
        (status = 200, body = Received),
        (status = 400, description = "invalid_signature, invalid_webhook, amount_mismatch or unknown_payout", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 503, description = "the gateway could not be asked; it will retry", body = ErrorEnvelope),
    )
)]
async fn receive_payout_webhook(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    state.payments.gateway(&provider).map_err(|_| ApiError::not_found())?;
    let settlement = match state.settlements.receive_payout_webhook(&provider, &headers, &body).await {
        Err(PaymentsError::PayoutNotFound) => {
            return Err(ApiError::bad_request("unknown_payout", "the webhook names no payout of this shop"));
        }
        other => other?,
    };
    Ok(Json(Received { result: settlement.as_str() }))
}
