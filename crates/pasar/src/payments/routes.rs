//! Gateway webhooks (`POST /v1/webhooks/{provider}` for payments, `POST
//! /v1/webhooks/{provider}/payouts` for payouts) and the sandbox's hosted pages.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::PaymentPurpose;
use super::gateway::GatewayError;
use super::service::PaymentsError;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiPath, RawBody};
use crate::http::{ApiResult, AppState};

/// The webhook routes, and the sandbox's pages when the sandbox is offered.
pub fn router(sandbox_enabled: bool) -> OpenApiRouter<AppState> {
    let webhooks = OpenApiRouter::new()
        .routes(routes!(receive_webhook))
        .routes(routes!(receive_payout_webhook))
        .route_layer(axum::middleware::from_fn(log_rejected_webhook));
    if sandbox_enabled { webhooks.merge(super::sandbox::router()) } else { webhooks }
}

/// A webhook refused (bad signature, unknown payment, amount mismatch…) or not applied is
/// logged at `warn` with the reason the gateway was given, since a gateway that keeps sending
/// refused webhooks (a wrong secret, a misrouted shop) is otherwise noticed only when payments
/// stop settling.
async fn log_rejected_webhook(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if status.is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let (code, message) = (&envelope["error"]["code"], &envelope["error"]["message"]);
    tracing::warn!(
        path,
        status = status.as_u16(),
        code = code.as_str().unwrap_or(""),
        reason = message.as_str().unwrap_or(""),
        "webhook rejected"
    );
    Response::from_parts(parts, Body::from(bytes))
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
            PaymentsError::Gateway(other) => ApiError::unavailable(other),
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
    extensions(("x-raw-body" = json!(true))),
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
    RawBody(body): RawBody,
) -> ApiResult<Json<Received>> {
    state.payments.gateway(&provider).map_err(|_| ApiError::not_found())?;
    let (notice, payment, status) = match state.payments.verify_webhook(&provider, &headers, &body).await {
        Err(PaymentsError::NotFound) => {
            return Err(ApiError::bad_request(
                "unknown_payment",
                "the webhook names no payment of this shop",
            ));
        }
        other => other?,
    };
    let event = Some((provider.as_str(), notice.event_id.as_str()));
    let applied = match payment.purpose {
        PaymentPurpose::Order => {
            state.checkout.settle_payment(payment.id, status, event).await?
                != crate::checkout::Settlement::NoChange
        }
        PaymentPurpose::Deposit => {
            state.wallet.settle_deposit(payment.id, status, event).await?
                != crate::wallet::Settlement::NoChange
        }
    };
    let result = if applied { "applied" } else { "no_change" };
    Ok(Json(Received { result }))
}

/// A gateway reports a payout's outcome. Checked and applied like a payment's webhook: the
/// signature over the raw body, the amount against the payout, each event id at most once, and
/// what is applied is the gateway's own answer when asked, so a payout that succeeded is never
/// failed by a later event (its funds would be handed back twice).
#[utoipa::path(
    post, path = "/v1/webhooks/{provider}/payouts", tag = "payments",
    params(("provider" = String, Path, description = "the gateway, such as `sandbox`")),
    request_body(content = String, description = "the gateway's own event format", content_type = "application/json"),
    extensions(("x-raw-body" = json!(true))),
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
    RawBody(body): RawBody,
) -> ApiResult<Json<Received>> {
    state.payments.gateway(&provider).map_err(|_| ApiError::not_found())?;
    let (notice, payout, status) = match state
        .payments
        .verify_payout_webhook(&provider, &headers, &body)
        .await
    {
        Err(PaymentsError::PayoutNotFound) => {
            return Err(ApiError::bad_request("unknown_payout", "the webhook names no payout of this shop"));
        }
        other => other?,
    };
    let settlement =
        state.wallet.settle_withdrawal(payout.id, status, Some((&provider, &notice.event_id))).await?;
    let result =
        if matches!(settlement, crate::wallet::Settlement::NoChange) { "no_change" } else { "applied" };
    Ok(Json(Received { result }))
}
