//! Vouchers' routes: the platform's at `/v1/admin/vouchers`, a store's at
//! `/v1/seller/vouchers`, and `POST /v1/vouchers/validate` for buyers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{AppliesTo, Funder, Refused, Voucher};
use super::service::{NewVoucher, PromotionsError, Scope, Usage};
use crate::checkout::ItemRequest;
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::ids::{CartId, UserId, VariantId, VoucherId};
use crate::money::Money;
use crate::time::Timestamp;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let admin = OpenApiRouter::new()
        .routes(routes!(admin_list, admin_create))
        .routes(routes!(admin_get))
        .routes(routes!(admin_pause))
        .routes(routes!(admin_resume))
        .routes(routes!(admin_usage))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), Callers::Staff),
            idempotency::idempotent,
        ));
    let signed_in = OpenApiRouter::new()
        .routes(routes!(seller_list, seller_create))
        .routes(routes!(seller_get))
        .routes(routes!(seller_pause))
        .routes(routes!(seller_resume))
        .routes(routes!(seller_usage))
        .routes(routes!(validate))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    admin.merge(signed_in)
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        ApiError::conflict("voucher_not_applicable", refused.to_string())
            .with_details(serde_json::json!({ "code": refused.code, "reason": refused.reason.code() }))
    }
}

impl From<PromotionsError> for ApiError {
    fn from(err: PromotionsError) -> Self {
        let message = err.to_string();
        match err {
            PromotionsError::Invalid { field, message } => ApiError::field(field, message),
            PromotionsError::CodeTaken(_) => ApiError::conflict("voucher_code_taken", message),
            PromotionsError::NotFound => ApiError::not_found(),
            PromotionsError::Refused(refused) => refused.into(),
            PromotionsError::Database(e) => e.into(),
        }
    }
}

/// The voucher scope of the calling store.
fn store_scope(seller: &ActiveSeller) -> Scope {
    Scope::Store(seller.user)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateVoucherRequest {
    /// What buyers type, 3 to 40 letters, digits, `-` or `_`; case does not matter (stored
    /// upper-case) and it is unique across the shop.
    #[schema(pattern = "^[A-Za-z0-9_-]{3,40}$")]
    code: String,
    /// A whole percent, 1 to 100, off the items it applies to. Give this or `amount_off`.
    #[schema(minimum = 1, maximum = 100)]
    percent_off: Option<i64>,
    /// A fixed amount off, never more than the items it applies to.
    amount_off: Option<Money>,
    /// The most a `percent_off` voucher takes off an order.
    max_discount: Option<Money>,
    /// The least the items it applies to must come to.
    min_spend: Option<Money>,
    starts_at: Option<Timestamp>,
    /// The first moment it no longer applies.
    ends_at: Option<Timestamp>,
    /// Uses in all (orders paid or awaiting payment); none for no limit.
    #[schema(minimum = 1)]
    usage_limit: Option<i64>,
    #[schema(minimum = 1)]
    per_buyer_limit: Option<i64>,
    /// Only for buyers without a paid order yet (once each).
    #[serde(default)]
    first_order_only: bool,
    /// Which items it discounts; nothing listed means every item (of the store, for a store's
    /// voucher).
    #[serde(default)]
    applies_to: AppliesTo,
    /// May be combined with other vouchers of the same funder (the platform, or the same store).
    #[serde(default)]
    stackable: bool,
    /// An automatic promotion: applied at checkout without its code whenever it is eligible.
    #[serde(default)]
    automatic: bool,
}

impl From<CreateVoucherRequest> for NewVoucher {
    fn from(body: CreateVoucherRequest) -> Self {
        NewVoucher {
            code: body.code,
            percent_off: body.percent_off,
            amount_off: body.amount_off,
            max_discount: body.max_discount,
            min_spend: body.min_spend,
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            usage_limit: body.usage_limit,
            per_buyer_limit: body.per_buyer_limit,
            first_order_only: body.first_order_only,
            applies_to: body.applies_to,
            stackable: body.stackable,
            automatic: body.automatic,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct VoucherPage {
    data: Vec<Voucher>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(state: &AppState, scope: Scope, query: ListQuery) -> ApiResult<Json<VoucherPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (vouchers, more) = state.promotions.list(scope, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(vouchers, more, |v: &Voucher| v.id.to_string());
    Ok(Json(VoucherPage { data, next_cursor }))
}

async fn create(
    state: &AppState,
    scope: Scope,
    actor: UserId,
    body: CreateVoucherRequest,
) -> ApiResult<(StatusCode, Json<Voucher>)> {
    let voucher = state.promotions.create(scope, actor, body.into()).await?;
    Ok((StatusCode::CREATED, Json(voucher)))
}

/// Create a platform-funded voucher (or automatic promotion). Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/vouchers", tag = "promotions", security(("bearer" = [])),
    request_body = CreateVoucherRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = Voucher), (status = 403, body = ErrorEnvelope),
              (status = 409, description = "voucher_code_taken", body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope))
)]
async fn admin_create(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiJson(body): ApiJson<CreateVoucherRequest>,
) -> ApiResult<(StatusCode, Json<Voucher>)> {
    create(&state, Scope::Platform, admin.user, body).await
}

/// Every voucher, the platform's and the stores', newest first.
#[utoipa::path(
    get, path = "/v1/admin/vouchers", tag = "promotions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = VoucherPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn admin_list(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<VoucherPage>> {
    list(&state, Scope::Platform, query).await
}

#[utoipa::path(
    get, path = "/v1/admin/vouchers/{id}", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn admin_get(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.voucher(Scope::Platform, id).await?))
}

/// Pause a voucher: new checkouts cannot use it; orders holding it go on.
#[utoipa::path(
    post, path = "/v1/admin/vouchers/{id}/pause", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn admin_pause(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.set_paused(Scope::Platform, id, true, admin.user).await?))
}

#[utoipa::path(
    post, path = "/v1/admin/vouchers/{id}/resume", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn admin_resume(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.set_paused(Scope::Platform, id, false, admin.user).await?))
}

/// Uses held, used and released, the discount given, in all and per buyer.
#[utoipa::path(
    get, path = "/v1/admin/vouchers/{id}/usage", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Usage), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn admin_usage(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Usage>> {
    Ok(Json(state.promotions.usage(Scope::Platform, id).await?))
}

/// Create a voucher funded by the caller's store; it only ever discounts the store's own
/// items. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/vouchers", tag = "promotions", security(("bearer" = [])),
    request_body = CreateVoucherRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = Voucher), (status = 403, body = ErrorEnvelope),
              (status = 409, description = "voucher_code_taken", body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope))
)]
async fn seller_create(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiJson(body): ApiJson<CreateVoucherRequest>,
) -> ApiResult<(StatusCode, Json<Voucher>)> {
    create(&state, store_scope(&seller), seller.user, body).await
}

/// The caller's store's vouchers, newest first.
#[utoipa::path(
    get, path = "/v1/seller/vouchers", tag = "promotions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = VoucherPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn seller_list(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<VoucherPage>> {
    list(&state, store_scope(&seller), query).await
}

/// One of the caller's store's vouchers; another store's is a 404.
#[utoipa::path(
    get, path = "/v1/seller/vouchers/{id}", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn seller_get(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.voucher(store_scope(&seller), id).await?))
}

#[utoipa::path(
    post, path = "/v1/seller/vouchers/{id}/pause", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn seller_pause(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.set_paused(store_scope(&seller), id, true, seller.user).await?))
}

#[utoipa::path(
    post, path = "/v1/seller/vouchers/{id}/resume", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Voucher), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn seller_resume(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Voucher>> {
    Ok(Json(state.promotions.set_paused(store_scope(&seller), id, false, seller.user).await?))
}

#[utoipa::path(
    get, path = "/v1/seller/vouchers/{id}/usage", tag = "promotions", security(("bearer" = [])),
    params(("id" = VoucherId, Path)),
    responses((status = 200, body = Usage), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn seller_usage(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VoucherId>,
) -> ApiResult<Json<Usage>> {
    Ok(Json(state.promotions.usage(store_scope(&seller), id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ValidateRequest {
    code: String,
    /// The items to check against; or give `cart_id`.
    items: Option<Vec<ItemRequest>>,
    cart_id: Option<CartId>,
}

#[derive(Serialize, ToSchema)]
struct LineDiscount {
    variant_id: VariantId,
    discount: Money,
}

#[derive(Serialize, ToSchema)]
struct Validated {
    voucher_id: VoucherId,
    code: String,
    funder: Funder,
    /// What it would take off these items now.
    discount: Money,
    lines: Vec<LineDiscount>,
}

/// What a voucher would take off these items (or this cart) for the caller, line by line, or
/// why it cannot be used (409 `voucher_not_applicable` with `details.reason`: `unknown_code`,
/// `expired`, `not_started`, `paused`, `min_spend_not_met`, `used_up`,
/// `per_buyer_limit_reached`, `first_order_only`, `not_applicable_to_items`, `wrong_currency`).
/// Nothing is held.
#[utoipa::path(
    post, path = "/v1/vouchers/validate", tag = "promotions", security(("bearer" = [])),
    request_body = ValidateRequest,
    responses((status = 200, body = Validated), (status = 401, body = ErrorEnvelope),
              (status = 404, description = "no such cart", body = ErrorEnvelope),
              (status = 409, description = "voucher_not_applicable, with the reason", body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope))
)]
async fn validate(
    State(state): State<AppState>,
    buyer: Principal,
    ApiJson(body): ApiJson<ValidateRequest>,
) -> ApiResult<Json<Validated>> {
    let (variants, priced) =
        state.checkout.voucher_quote(&buyer, &body.code, body.items, body.cart_id).await?;
    let applied = priced
        .applied
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no voucher priced")))?;
    let currency = applied.amount.currency;
    Ok(Json(Validated {
        voucher_id: applied.voucher_id,
        code: applied.code,
        funder: applied.funder,
        discount: applied.amount,
        lines: variants
            .into_iter()
            .zip(applied.lines)
            .map(|(variant_id, off)| LineDiscount { variant_id, discount: Money::new(off, currency) })
            .collect(),
    }))
}
