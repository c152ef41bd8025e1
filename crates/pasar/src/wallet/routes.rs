//! Wallet routes: balance and history, deposits, withdrawals, and the admin's adjustments.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::WalletEntry;
use super::service::{WalletError, WalletSummary};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::identity::domain::Text;
use crate::ids::UserId;
use crate::money::Money;
use crate::payments::{Payment, Payout, PayoutDestination};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let buyers = OpenApiRouter::new().routes(routes!(deposit)).routes(routes!(withdraw)).route_layer(
        middleware::from_fn_with_state((state.clone(), Callers::SignedIn), idempotency::idempotent),
    );
    let staff = OpenApiRouter::new()
        .routes(routes!(adjust))
        .route_layer(middleware::from_fn_with_state((state, Callers::Staff), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(transactions))
        .routes(routes!(list_deposits))
        .routes(routes!(list_withdrawals))
        .merge(buyers)
        .merge(staff)
}

impl From<WalletError> for ApiError {
    fn from(err: WalletError) -> Self {
        let message = err.to_string();
        match err {
            WalletError::InsufficientBalance => ApiError::conflict("insufficient_balance", message),
            WalletError::InsufficientPoints => ApiError::conflict("insufficient_points", message),
            WalletError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_wallet_request", message)
            }
            WalletError::NotFound => ApiError::not_found(),
            WalletError::GatewayUnavailable => ApiError::unavailable(anyhow::anyhow!(message)),
            WalletError::Ledger(e) => ApiError::internal(e),
            WalletError::Payments(e) => e.into(),
            WalletError::Database(e) => e.into(),
        }
    }
}

/// The caller's wallet: spendable balance, funds held for withdrawals, and points.
#[utoipa::path(
    get, path = "/v1/wallet", tag = "wallet", security(("bearer" = [])),
    responses((status = 200, body = WalletSummary), (status = 401, body = ErrorEnvelope))
)]
async fn summary(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<WalletSummary>> {
    Ok(Json(state.wallet.summary(caller.user).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// `true` for the points history instead of the money.
    points: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct TransactionPage {
    data: Vec<WalletEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's wallet (or points) history, newest first: one line per deposit, payment,
/// withdrawal, refund or adjustment, with its state (`pending`, `completed`, `returned`), the
/// amount (positive in, negative out) and the related order, payment or payout.
#[utoipa::path(
    get, path = "/v1/wallet/transactions", tag = "wallet", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = TransactionPage), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn transactions(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<TransactionPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let before: Option<String> = page.position()?;
    let (records, more) = state
        .wallet
        .history(caller.user, query.points.unwrap_or(false), before.as_deref(), page.limit()?)
        .await?;
    let Page { data, next_cursor } = Page::new(records, more, |r: &WalletEntry| r.id.clone());
    Ok(Json(TransactionPage { data, next_cursor }))
}

#[derive(Serialize, ToSchema)]
struct DepositPage {
    data: Vec<Payment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's deposits, newest first, each with its status and, while unpaid, where to pay
/// (`checkout_url`).
#[utoipa::path(
    get, path = "/v1/wallet/deposits", tag = "wallet", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = DepositPage), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn list_deposits(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<DepositPage>> {
    let page = PageQuery { limit: page.limit, cursor: page.cursor };
    let (deposits, more) = state.wallet.deposits(caller.user, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(deposits, more, |p: &Payment| p.id.to_string());
    Ok(Json(DepositPage { data, next_cursor }))
}

#[derive(Serialize, ToSchema)]
struct WithdrawalPage {
    data: Vec<Payout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's withdrawals, newest first, each with its payout's status and the gateway's page
/// for it (`payout_url`).
#[utoipa::path(
    get, path = "/v1/wallet/withdrawals", tag = "wallet", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = WithdrawalPage), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn list_withdrawals(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<WithdrawalPage>> {
    let page = PageQuery { limit: page.limit, cursor: page.cursor };
    let (payouts, more) = state.wallet.withdrawals(caller.user, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(payouts, more, |p: &Payout| p.id.to_string());
    Ok(Json(WithdrawalPage { data, next_cursor }))
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DepositRequest {
    /// 1 to 10^12 minor units, in the shop's currency.
    #[schema(schema_with = wallet_amount)]
    amount: Money,
    /// How to pay: a method on offer in the wallet's currency (`GET /v1/payment-methods`).
    #[schema(schema_with = crate::payments::deposit_methods)]
    payment_method: String,
}

/// Add money to the wallet through a gateway: answers the payment to complete (its
/// `checkout_url`); the wallet is credited once, when the gateway confirms. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/wallet/deposits", tag = "wallet", security(("bearer" = [])), request_body = DepositRequest,
    responses((status = 201, body = Payment), (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope))
)]
async fn deposit(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<DepositRequest>,
) -> ApiResult<(StatusCode, Json<Payment>)> {
    let payment = state.wallet.deposit(caller.user, body.amount, &body.payment_method).await?;
    Ok((StatusCode::CREATED, Json(payment)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WithdrawalRequest {
    /// 1 to 10^12 minor units, in the shop's currency.
    #[schema(schema_with = wallet_amount)]
    amount: Money,
    destination: PayoutDestination,
    /// The provider that pays out (default: the first configured one that can).
    #[schema(schema_with = crate::payments::payout_providers_or_null)]
    payment_method: Option<String>,
}

/// Send money from the wallet to a bank account. The funds are held at once; they leave the
/// wallet when the gateway confirms the payout, or come back if it fails. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/wallet/withdrawals", tag = "wallet", security(("bearer" = [])), request_body = WithdrawalRequest,
    responses(
        (status = 201, body = Payout),
        (status = 409, description = "insufficient_balance", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope),
    )
)]
async fn withdraw(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<WithdrawalRequest>,
) -> ApiResult<(StatusCode, Json<Payout>)> {
    let method = payout_method(&state, body.payment_method)?;
    let payout = state.wallet.withdraw(caller.user, body.amount, body.destination, &method).await?;
    Ok((StatusCode::CREATED, Json(state.payments.with_page(payout))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WalletAdjustment)]
struct Adjustment {
    /// Positive credits the wallet, negative debits it (never below zero); at most 10^12 minor
    /// units either way, in the shop's currency.
    #[schema(schema_with = adjustment_amount)]
    amount: Money,
    reason: Text<200>,
}

/// Money whose amount lies in one of `ranges`.
fn money_within(ranges: &[(i64, i64)]) -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, schema::Type};
    let amount = ranges.iter().fold(OneOfBuilder::new(), |one_of, &(min, max)| {
        one_of.item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max)))
    });
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("amount", amount)
        .property("currency", <crate::money::Currency as utoipa::PartialSchema>::schema())
        .required("amount")
        .required("currency")
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        .build()
}

fn wallet_amount() -> utoipa::openapi::Object {
    money_within(&[(1, 1_000_000_000_000)])
}

fn adjustment_amount() -> utoipa::openapi::Object {
    money_within(&[(1, 1_000_000_000_000), (-1_000_000_000_000, -1)])
}

#[derive(Serialize, ToSchema)]
struct Adjusted {
    balance: Money,
}

/// Correct a buyer's wallet (audited with the admin as actor). With `Idempotency-Key`, a retry
/// adjusts once.
#[utoipa::path(
    post, path = "/v1/admin/users/{id}/wallet/adjust", tag = "wallet", security(("bearer" = [])),
    params(("id" = UserId, Path)), request_body = Adjustment,
    responses(
        (status = 200, body = Adjusted),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "insufficient_balance", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn adjust(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(user): ApiPath<UserId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Adjustment>,
) -> ApiResult<Json<Adjusted>> {
    state.identity.user(user).await?;
    let id = headers.get(idempotency::HEADER).and_then(|v| v.to_str().ok()).map_or_else(
        || uuid::Uuid::now_v7().simple().to_string(),
        |key| format!("{admin}:{key}", admin = admin.user),
    );
    let balance =
        state.wallet.adjust(&id, user, body.amount, body.reason.as_str(), &admin.user.to_string()).await?;
    Ok(Json(Adjusted { balance: Money::new(balance.available, body.amount.currency) }))
}

/// The provider a payout goes through: the one asked for, or the first configured one that
/// pays out. Wallet withdrawals and seller payouts choose alike.
pub(crate) fn payout_method(state: &AppState, asked: Option<String>) -> ApiResult<String> {
    let method = match asked {
        Some(method) => method,
        None => state.payments.payout_providers().into_iter().next().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_payment_method",
                "no configured provider pays out",
            )
        })?,
    };
    state.payments.gateway(&method)?;
    Ok(method)
}
