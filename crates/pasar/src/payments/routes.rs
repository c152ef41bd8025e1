//! Gateway webhooks (`POST /v1/webhooks/{provider}` for payments, `POST
//! /v1/webhooks/{provider}/payouts` for payouts), their log, and the sandbox's hosted pages.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::breaker::ProviderHealth;
use super::gateway::GatewayError;
use super::qr;
use super::reconciliation::Report;
use super::service::PaymentsError;
use super::settlement::Settlement;
use super::webhook_log::{Arrival, Handled, IncomingWebhook, LogFilter, WebhookResult};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiPath, ApiQuery, RawBody};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::ids::PaymentId;
use crate::money::{Currency, Money};

/// The webhook routes, and the sandbox's pages when the sandbox is offered.
pub fn router(sandbox_enabled: bool) -> OpenApiRouter<AppState> {
    let webhooks = OpenApiRouter::new()
        .routes(routes!(receive_webhook))
        .routes(routes!(receive_payout_webhook))
        .routes(routes!(list_incoming))
        .routes(routes!(payment_methods))
        .routes(routes!(qr_png))
        .routes(routes!(provider_health))
        .routes(routes!(reconcile_now));
    if sandbox_enabled { webhooks.merge(super::providers::sandbox::router()) } else { webhooks }
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
            PaymentsError::ProviderDown { ref provider, retry_after, ref available } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_provider_unavailable",
                message.clone(),
            )
            .with_retry_after(retry_after.as_secs().max(1))
            .with_details(serde_json::json!({ "provider": provider, "available_methods": available })),
            PaymentsError::NotRefundable(_) => ApiError::conflict("not_refundable", message),
            PaymentsError::RefundTooLarge { left } => ApiError::conflict("refund_exceeds_payment", message)
                .with_details(serde_json::json!({ "refundable": left })),
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
    receive(&state, &provider, WebhookKind::Payment, &headers, &body).await
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
    receive(&state, &provider, WebhookKind::Payout, &headers, &body).await
}

#[derive(Clone, Copy)]
enum WebhookKind {
    Payment,
    Payout,
}

/// Hands a webhook to the settlement pipeline and logs it, whatever became of it; a refused
/// one is also logged at `warn` with the reason.
async fn receive(
    state: &AppState,
    provider: &str,
    kind: WebhookKind,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Json<Received>> {
    let received_at = state.webhook_log.now();
    let started = std::time::Instant::now();
    let answer = settle(state, provider, kind, headers, body).await;
    let handled = match &answer {
        Ok(settlement) => Handled {
            result: if *settlement == Settlement::Applied {
                WebhookResult::Applied
            } else {
                WebhookResult::NoChange
            },
            error_code: None,
            reason: None,
            status_code: 200,
            duration: started.elapsed(),
        },
        Err(err) => {
            let result =
                if err.status().is_server_error() { WebhookResult::Failed } else { WebhookResult::Rejected };
            tracing::warn!(provider, status = err.status().as_u16(), code = err.code(), reason = %err, "webhook rejected");
            Handled {
                result,
                error_code: Some(err.code()),
                reason: Some(err.to_string()),
                status_code: err.status().as_u16(),
                duration: started.elapsed(),
            }
        }
    };
    let kind_name = match kind {
        WebhookKind::Payment => "payment",
        WebhookKind::Payout => "payout",
    };
    let arrival = Arrival { provider, kind: kind_name, headers, body, received_at };
    state.webhook_log.record(&arrival, &handled).await;
    answer.map(|settlement| Json(Received { result: settlement.as_str() }))
}

async fn settle(
    state: &AppState,
    provider: &str,
    kind: WebhookKind,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Settlement> {
    state.payments.gateway(provider).map_err(|_| ApiError::not_found())?;
    match kind {
        WebhookKind::Payment => {
            match state.settlements.receive_payment_webhook(provider, headers, body).await {
                Err(PaymentsError::NotFound) => {
                    Err(ApiError::bad_request("unknown_payment", "the webhook names no payment of this shop"))
                }
                other => Ok(other?),
            }
        }
        WebhookKind::Payout => {
            match state.settlements.receive_payout_webhook(provider, headers, body).await {
                Err(PaymentsError::PayoutNotFound) => {
                    Err(ApiError::bad_request("unknown_payout", "the webhook names no payout of this shop"))
                }
                other => Ok(other?),
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct IncomingSearch {
    /// Only this provider's, such as `pakasir`.
    provider: Option<String>,
    /// Only those with this result.
    result: Option<WebhookResult>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct IncomingPage {
    data: Vec<IncomingWebhook>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Every webhook the payment providers sent, newest first, accepted or rejected: the headers
/// that verify it, the raw body (cut at 16 KiB), the result, the error and how long it took.
/// Kept 30 days.
#[utoipa::path(
    get, path = "/v1/admin/webhooks/incoming", tag = "payments", security(("bearer" = [])),
    params(IncomingSearch),
    responses((status = 200, body = IncomingPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn list_incoming(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(search): ApiQuery<IncomingSearch>,
) -> ApiResult<Json<IncomingPage>> {
    let page = PageQuery { limit: search.limit, cursor: search.cursor };
    let filter = LogFilter { provider: search.provider, result: search.result };
    let (entries, more) = state.webhook_log.list(&filter, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(entries, more, |e: &IncomingWebhook| e.id.to_string());
    Ok(Json(IncomingPage { data, next_cursor }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MethodsQuery {
    /// The amount to pay, in minor units, so each method's fee can be shown.
    #[param(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    amount: i64,
    /// ISO 4217, such as `IDR`.
    currency: Currency,
}

#[derive(Serialize, ToSchema)]
struct MethodOnOffer {
    /// What to send as `payment_method`.
    method: String,
    /// The provider that serves it.
    provider: String,
    /// The fee this method adds.
    fee: Money,
    /// What the buyer pays with it: amount plus fee.
    total: Money,
}

#[derive(Serialize, ToSchema)]
struct MethodsOnOffer {
    data: Vec<MethodOnOffer>,
}

/// The ways to pay on offer for an amount, each with the fee it adds, so a buyer sees the fee
/// before choosing. `wallet` (the buyer's balance) is always listed and adds nothing.
#[utoipa::path(
    get, path = "/v1/payment-methods", tag = "payments", params(MethodsQuery),
    responses((status = 200, body = MethodsOnOffer), (status = 422, body = ErrorEnvelope))
)]
async fn payment_methods(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<MethodsQuery>,
) -> ApiResult<Json<MethodsOnOffer>> {
    let currency = query.currency;
    if !(1..=Money::LIMIT).contains(&query.amount) {
        return Err(ApiError::field("amount", format!("must be between 1 and {}", Money::LIMIT)));
    }
    let amount = Money::new(query.amount, currency);
    let offer = state.payments.methods_on_offer(amount)?;
    let data = offer
        .into_iter()
        .map(|(method, provider, fee)| {
            let total = amount.checked_add(fee).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
            Ok(MethodOnOffer { method, provider, fee, total })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(MethodsOnOffer { data }))
}

/// The QRIS string of a payment the caller may see (its payer, or an admin).
async fn qris_of(state: &AppState, caller: &Principal, id: PaymentId) -> ApiResult<String> {
    let payment = state.payments.payment(id).await?;
    if payment.payer_id != caller.user.to_string() && !caller.role.is_staff() {
        return Err(ApiError::not_found());
    }
    match (payment.method.as_str(), payment.payment_number) {
        ("qris", Some(qris)) => Ok(qris),
        _ => Err(ApiError::not_found()),
    }
}

/// A QRIS payment's code to scan, as a PNG (for its payer and admins).
#[utoipa::path(
    get, path = "/v1/payments/{id}/qr.png", tag = "payments", security(("bearer" = [])),
    params(("id" = PaymentId, Path)),
    responses((status = 200, description = "the QR code", content_type = "image/png", body = Vec<u8>),
              (status = 404, description = "no such QRIS payment of the caller's", body = ErrorEnvelope))
)]
async fn qr_png(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<PaymentId>,
) -> ApiResult<impl IntoResponse> {
    let qris = qris_of(&state, &caller, id).await?;
    let image = qr::png(&qris).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, max-age=600")], image))
}

#[derive(Serialize, ToSchema)]
struct ProvidersHealth {
    data: Vec<ProviderHealth>,
}

/// Each configured payment provider's circuit breaker on this instance: `closed` (calls go
/// through), `open` (down: its methods are refused until `open_until`) or `half_open` (the
/// next call decides).
#[utoipa::path(
    get, path = "/v1/admin/payments/providers", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = ProvidersHealth), (status = 403, body = ErrorEnvelope))
)]
async fn provider_health(State(state): State<AppState>, _staff: Staff) -> Json<ProvidersHealth> {
    Json(ProvidersHealth { data: state.payments.provider_health() })
}

/// Runs reconciliation now, on this instance, rather than at its next turn: every payment,
/// payout and refund pending past the grace period is checked with its gateway and a missed
/// outcome applied (as the scheduled job and `pasar reconcile` do). Answers what the pass did;
/// the run and its report are audited as `payments.reconciliation_run`.
#[utoipa::path(
    post, path = "/v1/admin/payments/reconciliation", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Report), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn reconcile_now(State(state): State<AppState>, Staff(admin): Staff) -> ApiResult<Json<Report>> {
    Ok(Json(state.reconciler.run_by(&admin.user.to_string()).await.map_err(ApiError::internal)?))
}
