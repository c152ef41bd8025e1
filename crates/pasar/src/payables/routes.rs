//! Sellers' money: `/v1/seller/balance` and `/v1/seller/payouts` for a seller,
//! `/v1/admin/payables` for admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{PayablesError, StoreBalance};
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::money::Money;
use crate::payments::{Payout, PayoutDestination};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let payouts = OpenApiRouter::new()
        .routes(routes!(request_payout))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(store_balance))
        .routes(routes!(list_payouts))
        .routes(routes!(payables_report))
        .merge(payouts)
}

impl From<PayablesError> for ApiError {
    fn from(err: PayablesError) -> Self {
        let message = err.to_string();
        match err {
            PayablesError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payout", message)
            }
            PayablesError::InsufficientBalance => ApiError::conflict("insufficient_balance", message),
            PayablesError::Wallet(e) => e.into(),
            PayablesError::Ledger(e) => ApiError::internal(e),
            PayablesError::Orders(e) => e.into(),
            PayablesError::Sellers(e) => e.into(),
            PayablesError::NoPayoutAccount => ApiError::field("destination", message),
            PayablesError::Database(e) => e.into(),
        }
    }
}

/// The calling seller's money: sales, commission, held until delivery and the hold period,
/// available to withdraw, in transit and paid out.
#[utoipa::path(
    get, path = "/v1/seller/balance", tag = "seller", security(("bearer" = [])),
    responses((status = 200, body = StoreBalance), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn store_balance(State(state): State<AppState>, seller: ActiveSeller) -> ApiResult<Json<StoreBalance>> {
    Ok(Json(state.payables.balance(seller.user, state.wallet.currency()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SellerPayoutRequest)]
struct PayoutRequest {
    /// How much to pay out; absent pays out everything available.
    amount: Option<Money>,
    /// Where to send it; absent sends it to the store's payout account.
    destination: Option<PayoutDestination>,
    /// The provider that pays out (default: the first configured one that can).
    #[schema(schema_with = crate::payments::payout_providers_or_null)]
    payment_method: Option<String>,
}

/// Pay out (part of) what the calling seller has available: held at once, gone when the
/// provider confirms, back in the balance if the payout fails. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/payouts", tag = "seller", security(("bearer" = [])), request_body = PayoutRequest,
    responses(
        (status = 201, body = Payout),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "insufficient_balance", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope),
    )
)]
async fn request_payout(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiJson(body): ApiJson<PayoutRequest>,
) -> ApiResult<(StatusCode, Json<Payout>)> {
    let method = crate::wallet::routes::payout_method(&state, body.payment_method)?;
    let payout = state
        .payables
        .pay_out(seller.user, body.amount, state.wallet.currency(), body.destination, &method)
        .await?;
    Ok((StatusCode::CREATED, Json(state.payments.with_page(payout))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SellerPayoutPage)]
struct PayoutPage {
    data: Vec<Payout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The calling seller's payouts, newest first.
#[utoipa::path(
    get, path = "/v1/seller/payouts", tag = "seller", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = PayoutPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn list_payouts(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiQuery(query): ApiQuery<PageParams>,
) -> ApiResult<Json<PayoutPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (payouts, more) = state.payables.payouts(seller.user, page.position()?, page.limit()?).await?;
    let payouts = payouts.into_iter().map(|p| state.payments.with_page(p)).collect();
    let Page { data, next_cursor } = Page::new(payouts, more, |p: &Payout| p.id.to_string());
    Ok(Json(PayoutPage { data, next_cursor }))
}

#[derive(Serialize, ToSchema)]
struct PayablesReport {
    stores: Vec<StoreBalance>,
}

/// What the marketplace owes each store: sales, commission, held, available, in transit and
/// paid out.
#[utoipa::path(
    get, path = "/v1/admin/payables", tag = "sellers", security(("bearer" = [])),
    responses((status = 200, body = PayablesReport), (status = 403, body = ErrorEnvelope))
)]
async fn payables_report(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<PayablesReport>> {
    Ok(Json(PayablesReport { stores: state.payables.report().await? }))
}
