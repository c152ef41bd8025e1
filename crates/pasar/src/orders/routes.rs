//! Orders' routes: a buyer's own orders (another buyer's order is a 404) and the admin's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::OrderStatus;
use super::fulfilment::FulfilmentStatus;
use super::service::{Fulfilment, Order, OrderFile, OrderFilter, OrderLine, OrdersError};
use crate::checkout::CheckoutError;
use crate::checkout::{RefundRequest, Restock};
use crate::couriers::Shipment;
use crate::http::auth::{FulfillingSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::identity::domain::Text;
use crate::ids::VariantId;
use crate::ids::{FulfilmentId, OrderId, UserId};
use crate::inventory::ItemContent;
use crate::money::Money;
use crate::orders::Mover;
use crate::payments::{Payment, Refund};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let refunds = OpenApiRouter::new()
        .routes(routes!(refund_order))
        .route_layer(middleware::from_fn_with_state((state, Callers::Staff), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(my_orders))
        .routes(routes!(my_order))
        .routes(routes!(cancel_my_order))
        .routes(routes!(all_orders))
        .routes(routes!(any_order))
        .routes(routes!(advance_order))
        .routes(routes!(cancel_order))
        .routes(routes!(seller_orders))
        .routes(routes!(seller_order))
        .routes(routes!(advance_seller_part))
        .routes(routes!(cancel_seller_part))
        .routes(routes!(advance_part))
        .routes(routes!(cancel_part))
        .merge(refunds)
}

impl From<OrdersError> for ApiError {
    fn from(err: OrdersError) -> Self {
        match err {
            OrdersError::NotFound => ApiError::not_found(),
            OrdersError::Refused(refused) => ApiError::conflict("invalid_transition", refused.to_string())
                .with_details(serde_json::json!({ "from": refused.from, "to": refused.to })),
            OrdersError::Moved => ApiError::conflict("order_changed", err.to_string()),
            OrdersError::FulfilmentRefused(refused) => {
                ApiError::conflict("invalid_transition", refused.to_string()).with_details(
                    serde_json::json!({ "from": refused.from, "to": refused.to, "status": refused.from }),
                )
            }
            OrdersError::TrackingRequired => ApiError::field("tracking_number", err.to_string()),
            OrdersError::Empty | OrdersError::Money(_) => {
                ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_order", err.to_string())
            }
            OrdersError::Database(e) => e.into(),
        }
    }
}

/// An order as its buyer or an admin sees it: with its payments and delivered digital items.
#[derive(Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    order: Order,
    payments: Vec<Payment>,
    /// Money given back, whole or in part.
    refunds: Vec<Refund>,
    /// The parcels sent, each with the courier's timeline.
    shipments: Vec<Shipment>,
}

async fn order_view(state: &AppState, mut order: Order) -> ApiResult<OrderView> {
    for item in state.inventory.delivered_items(&order.id.to_string()).await? {
        if let Some(line) = order.lines.iter_mut().find(|l| l.id == item.order_line_id) {
            match item.content {
                ItemContent::Text(text) => line.items.push(text),
                ItemContent::File(file) => line.files.push(OrderFile {
                    file_name: file.file_name,
                    content_type: file.content_type,
                    content_base64: base64::engine::general_purpose::STANDARD.encode(file.bytes),
                }),
            }
        }
    }
    let payments = state.payments.for_reference(&order.id.to_string()).await?;
    let mut refunds = Vec::new();
    for payment in &payments {
        refunds.extend(state.payments.refunds(payment.id).await?);
    }
    let shipments = state.couriers.for_order(order.id).await?;
    Ok(OrderView { order, payments, refunds, shipments })
}

/// The caller's order, or a 404 for anyone else's.
async fn own_order(state: &AppState, buyer: &Principal, id: OrderId) -> ApiResult<Order> {
    let order = state.orders.order(id).await?;
    if order.buyer_id == buyer.user { Ok(order) } else { Err(ApiError::not_found()) }
}

#[derive(Serialize, ToSchema)]
struct OrderPage {
    data: Vec<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MyOrdersQuery {
    status: Option<OrderStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The caller's orders, newest first.
#[utoipa::path(
    get, path = "/v1/orders", tag = "orders", security(("bearer" = [])), params(MyOrdersQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn my_orders(
    State(state): State<AppState>,
    buyer: Principal,
    ApiQuery(query): ApiQuery<MyOrdersQuery>,
) -> ApiResult<Json<OrderPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let filter = OrderFilter { buyer: Some(buyer.user), status: query.status, before: page.position()? };
    let (orders, more) = state.orders.list(&filter, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(orders, more, |o: &Order| o.id.to_string());
    Ok(Json(OrderPage { data, next_cursor }))
}

/// One of the caller's orders, with its timeline, payments and any delivered digital items.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = OrderId, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorEnvelope))
)]
async fn my_order(
    State(state): State<AppState>,
    buyer: Principal,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    let order = own_order(&state, &buyer, id).await?;
    Ok(Json(order_view(&state, order).await?))
}

/// Cancel one of the caller's orders while it awaits payment; its stock is released.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])), params(("id" = OrderId, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorEnvelope), (status = 409, description = "invalid_transition", body = ErrorEnvelope))
)]
async fn cancel_my_order(
    State(state): State<AppState>,
    buyer: Principal,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    own_order(&state, &buyer, id).await?;
    let order = state.checkout.cancel_unpaid(id, Mover::Buyer, &buyer.user.to_string()).await?;
    Ok(Json(order_view(&state, order).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AllOrdersQuery {
    status: Option<OrderStatus>,
    buyer_id: Option<UserId>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// All orders, newest first, filtered by status and buyer.
#[utoipa::path(
    get, path = "/v1/admin/orders", tag = "orders", security(("bearer" = [])), params(AllOrdersQuery),
    responses((status = 200, body = OrderPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn all_orders(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<AllOrdersQuery>,
) -> ApiResult<Json<OrderPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let filter = OrderFilter { buyer: query.buyer_id, status: query.status, before: page.position()? };
    let (orders, more) = state.orders.list(&filter, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(orders, more, |o: &Order| o.id.to_string());
    Ok(Json(OrderPage { data, next_cursor }))
}

/// Any order, as an admin sees it.
#[utoipa::path(
    get, path = "/v1/admin/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = OrderId, Path)),
    responses((status = 200, body = OrderView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn any_order(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    let order = state.orders.order(id).await?;
    Ok(Json(order_view(&state, order).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// `processing`, `shipped` (needs `tracking_number`), `delivered` or `completed`.
    #[schema(schema_with = fulfilment_statuses)]
    status: OrderStatus,
    tracking_number: Option<Text<100>>,
    note: Option<Text<500>>,
}

fn fulfilment_statuses() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["processing", "shipped", "delivered", "completed"]))
        .build()
}

/// Move an order along fulfilment. Paying, cancelling and refunding have their own paths.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/status", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path)), request_body = Advance,
    responses(
        (status = 200, body = OrderView),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn advance_order(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<Advance>,
) -> ApiResult<Json<OrderView>> {
    use OrderStatus::*;
    if !matches!(body.status, Processing | Shipped | Delivered | Completed) {
        return Err(ApiError::field("status", "must be processing, shipped, delivered or completed"));
    }
    if body.status == Shipped && body.tracking_number.is_none() {
        return Err(ApiError::field("tracking_number", "a shipped order needs its tracking number"));
    }
    let order = state
        .orders
        .advance(
            id,
            body.status,
            &admin.user.to_string(),
            body.tracking_number.as_ref().map(Text::as_str),
            body.note.as_ref().map(Text::as_str),
        )
        .await?;
    if let (Shipped, Some(number)) = (body.status, &body.tracking_number) {
        state.couriers.record_order_by_hand(&order, number.as_str()).await?;
    }
    Ok(Json(order_view(&state, order).await?))
}

/// Cancel an order: an unpaid one is called off and its stock released; a paid one (not yet
/// shipped) is refunded through its gateway and its physical stock put back.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope))
)]
async fn cancel_order(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    let order = state.orders.order(id).await?;
    let actor = admin.user.to_string();
    let order = match order.status {
        OrderStatus::PendingPayment => state.checkout.cancel_unpaid(id, Mover::Staff, &actor).await?,
        OrderStatus::Paid | OrderStatus::Processing => state.checkout.refund_paid(id, &actor).await?,
        other => {
            return Err(ApiError::conflict(
                "invalid_transition",
                format!("a {other} order cannot be cancelled"),
            )
            .with_details(serde_json::json!({ "status": other })));
        }
    };
    Ok(Json(order_view(&state, order).await?))
}

impl From<CheckoutError> for ApiError {
    fn from(err: CheckoutError) -> Self {
        use axum::http::StatusCode;
        match err {
            CheckoutError::Invalid(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_checkout", message)
            }
            CheckoutError::NotForSale(variant) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_for_sale",
                format!("{variant} is not for sale"),
            )
            .with_details(serde_json::json!({ "variant_id": variant })),
            CheckoutError::StoreSuspended(variant) => ApiError::conflict(
                "store_suspended",
                format!("the store selling {variant} is suspended; its products cannot be bought for now"),
            )
            .with_details(serde_json::json!({ "variant_id": variant })),
            CheckoutError::OutOfStock(variant) => {
                ApiError::conflict("out_of_stock", format!("not enough stock of {variant}"))
                    .with_details(serde_json::json!({ "variant_id": variant }))
            }
            CheckoutError::NotFound => ApiError::not_found(),
            CheckoutError::GatewayUnavailable => {
                ApiError::unavailable(anyhow::anyhow!("payment gateway unavailable"))
            }
            CheckoutError::InsufficientBalance => {
                ApiError::conflict("insufficient_balance", "the wallet balance does not cover this order")
            }
            CheckoutError::InsufficientPoints => {
                ApiError::conflict("insufficient_points", "not enough points")
            }
            CheckoutError::Voucher(refused) => refused.into(),
            CheckoutError::Wallet(e) => e.into(),
            CheckoutError::Orders(e) => e.into(),
            CheckoutError::Payments(e) => e.into(),
            CheckoutError::Cart(e) => e.into(),
            CheckoutError::Catalog(e) => e.into(),
            CheckoutError::Inventory(e) => e.into(),
            CheckoutError::Shipping(e) => e.into(),
            CheckoutError::Delivery(e) => e.into(),
            CheckoutError::Payables(e) => e.into(),
            CheckoutError::RefundUnanswered(refund) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "refund_pending",
                format!(
                    "the payment provider did not answer; refund {refund} stays pending and is completed \
                     or failed when the provider says where it stands"
                ),
            )
            .with_details(serde_json::json!({ "refund_id": refund })),
            CheckoutError::Changed(status) => ApiError::conflict(
                "invalid_transition",
                format!("the order is {status} now; another request changed it first"),
            )
            .with_details(serde_json::json!({ "status": status })),
            CheckoutError::Internal(what) => ApiError::internal(anyhow::anyhow!(what)),
            CheckoutError::Database(e) => e.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RestockLine {
    variant_id: VariantId,
    #[schema(minimum = 1)]
    quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderRefundRequest)]
struct RefundBody {
    /// How much to give back; absent gives back all that is left. Never more than was paid
    /// (the fee excluded), whatever refunds came before or run at the same time.
    amount: Option<Money>,
    reason: Text<200>,
    /// Lines to put back in stock (physical goods that came back).
    #[serde(default)]
    restock: Vec<RestockLine>,
}

#[derive(Serialize, ToSchema)]
struct Refunded {
    refund: Refund,
    order: OrderView,
}

/// Give back (part of) a paid order's payment: to the card or account it came from, or to the
/// buyer's wallet for wallet payments and methods that cannot refund (konbini). The order becomes
/// `partially_refunded` or `refunded` with the reason in its timeline, and `refund.completed` is
/// emitted. Send an `Idempotency-Key`: a retry refunds once.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/refunds", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path)), request_body = RefundBody,
    responses(
        (status = 201, body = Refunded),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "not_refundable, refund_exceeds_payment", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 503, description = "the provider could not be asked (nothing was refunded), or did not answer (refund_pending: the refund stays pending until reconciliation learns where it stands)", body = ErrorEnvelope),
    )
)]
async fn refund_order(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<RefundBody>,
) -> ApiResult<(StatusCode, Json<Refunded>)> {
    if let Some(position) = body.restock.iter().position(|l| l.quantity < 1) {
        return Err(ApiError::field(format!("restock[{position}].quantity"), "must be at least 1"));
    }
    let request = RefundRequest {
        amount: body.amount,
        reason: body.reason.as_str().to_owned(),
        restock: Restock::Lines(body.restock.iter().map(|l| (l.variant_id, l.quantity)).collect()),
        part: None,
    };
    let (refund, order) = state.checkout.refund(id, request, &admin.user.to_string()).await?;
    Ok((StatusCode::CREATED, Json(Refunded { refund, order: order_view(&state, order).await? })))
}

// ---- stores' parts ----------------------------------------------------------------------------

/// An order as a store sees it: its own part and lines only, where to send them, and how the
/// order as a whole stands.
#[derive(Serialize, ToSchema)]
struct SellerOrderView {
    order_id: OrderId,
    /// The whole order's status.
    order_status: OrderStatus,
    part: Fulfilment,
    lines: Vec<OrderLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_address: Option<super::ShippingAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_method: Option<String>,
    created_at: crate::time::Timestamp,
    /// The parcels this store sent, each with the courier's timeline.
    shipments: Vec<Shipment>,
}

/// `seller`'s view of `order`; None when the store has no part in it.
fn seller_view(order: Order, seller: UserId) -> Option<SellerOrderView> {
    let part = order.fulfilments.iter().find(|f| f.seller_id == Some(seller))?.clone();
    if part.status == FulfilmentStatus::AwaitingPayment {
        return None;
    }
    let lines = order.lines.into_iter().filter(|l| part.line_ids.contains(&l.id)).collect();
    Some(SellerOrderView {
        order_id: order.id,
        order_status: order.status,
        part,
        lines,
        shipping_address: order.shipping_address,
        shipping_method: order.shipping_method,
        created_at: order.created_at,
        shipments: Vec::new(),
    })
}

/// `view` with its part's shipments.
async fn with_shipments(state: &AppState, mut view: SellerOrderView) -> ApiResult<SellerOrderView> {
    let part = view.part.id;
    view.shipments = state
        .couriers
        .for_order(view.order_id)
        .await?
        .into_iter()
        .filter(|s| s.fulfilment_id == part)
        .collect();
    Ok(view)
}

/// The calling store's part of an order; another store's order (or an unpaid one) is a 404.
async fn seller_part(state: &AppState, seller: UserId, id: OrderId) -> ApiResult<SellerOrderView> {
    let order = state.orders.order(id).await?;
    with_shipments(state, seller_view(order, seller).ok_or_else(ApiError::not_found)?).await
}

#[derive(Serialize, ToSchema)]
struct SellerOrderPage {
    data: Vec<SellerOrderView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SellerOrdersQuery {
    /// Only orders whose part for this store is in this status.
    status: Option<FulfilmentStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The paid orders with a part for the calling store, newest first.
#[utoipa::path(
    get, path = "/v1/seller/orders", tag = "seller", security(("bearer" = [])), params(SellerOrdersQuery),
    responses((status = 200, body = SellerOrderPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn seller_orders(
    State(state): State<AppState>,
    FulfillingSeller(seller): FulfillingSeller,
    ApiQuery(query): ApiQuery<SellerOrdersQuery>,
) -> ApiResult<Json<SellerOrderPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (orders, more) =
        state.orders.list_for_seller(seller.user, query.status, page.position()?, page.limit()?).await?;
    let mut views = Vec::new();
    for view in orders.into_iter().filter_map(|o| seller_view(o, seller.user)) {
        views.push(with_shipments(&state, view).await?);
    }
    let Page { data, next_cursor } = Page::new(views, more, |v: &SellerOrderView| v.order_id.to_string());
    Ok(Json(SellerOrderPage { data, next_cursor }))
}

/// One order's part for the calling store.
#[utoipa::path(
    get, path = "/v1/seller/orders/{id}", tag = "seller", security(("bearer" = [])), params(("id" = OrderId, Path)),
    responses((status = 200, body = SellerOrderView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn seller_order(
    State(state): State<AppState>,
    FulfillingSeller(seller): FulfillingSeller,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<SellerOrderView>> {
    Ok(Json(seller_part(&state, seller.user, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PartAdvance {
    /// `packed`, `shipped` (needs `tracking_number` unless the part has one) or `delivered`.
    #[schema(schema_with = part_statuses)]
    status: FulfilmentStatus,
    tracking_number: Option<Text<100>>,
    carrier: Option<Text<50>>,
    note: Option<Text<500>>,
}

fn part_statuses() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["packed", "shipped", "delivered"]))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PartCancel {
    reason: Text<200>,
}

async fn move_part(state: &AppState, part: FulfilmentId, actor: &str, body: PartAdvance) -> ApiResult<Order> {
    if !matches!(
        body.status,
        FulfilmentStatus::Packed | FulfilmentStatus::Shipped | FulfilmentStatus::Delivered
    ) {
        return Err(ApiError::field("status", "must be packed, shipped or delivered"));
    }
    let tracking = body
        .tracking_number
        .as_ref()
        .map(|number| (number.as_str(), body.carrier.as_ref().map(Text::as_str)));
    let mut tx = state.db.begin().await?;
    let order = state
        .orders
        .move_fulfilment(&mut tx, part, body.status, actor, tracking, body.note.as_ref().map(Text::as_str))
        .await?;
    if let (FulfilmentStatus::Shipped, Some((number, carrier))) = (body.status, tracking) {
        state.couriers.record_by_hand(&mut tx, order.id, part, number, carrier).await?;
    }
    tx.commit().await?;
    Ok(order)
}

/// Move the calling store's part of an order: packed, shipped with its tracking number,
/// delivered. The order follows once every store's part has.
#[utoipa::path(
    post, path = "/v1/seller/orders/{id}/status", tag = "seller", security(("bearer" = [])),
    params(("id" = OrderId, Path)), request_body = PartAdvance,
    responses(
        (status = 200, body = SellerOrderView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn advance_seller_part(
    State(state): State<AppState>,
    FulfillingSeller(seller): FulfillingSeller,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<PartAdvance>,
) -> ApiResult<Json<SellerOrderView>> {
    let part = seller_part(&state, seller.user, id).await?.part.id;
    let order = move_part(&state, part, &seller.user.to_string(), body).await?;
    Ok(Json(with_shipments(&state, seller_view(order, seller.user).ok_or_else(ApiError::not_found)?).await?))
}

/// Call off the calling store's part of a paid order before it ships: what the buyer paid for
/// it is refunded, its goods go back in stock, and the other stores' parts go on.
#[utoipa::path(
    post, path = "/v1/seller/orders/{id}/cancel", tag = "seller", security(("bearer" = [])),
    params(("id" = OrderId, Path)), request_body = PartCancel,
    responses(
        (status = 200, body = SellerOrderView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition", body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope),
    )
)]
async fn cancel_seller_part(
    State(state): State<AppState>,
    FulfillingSeller(seller): FulfillingSeller,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<PartCancel>,
) -> ApiResult<Json<SellerOrderView>> {
    let part = seller_part(&state, seller.user, id).await?.part.id;
    let (_, order) =
        state.checkout.cancel_part(id, part, body.reason.as_str(), &seller.user.to_string()).await?;
    Ok(Json(seller_view(order, seller.user).ok_or_else(ApiError::not_found)?))
}

/// The part `part` of order `id`, or a 404.
async fn part_of(state: &AppState, id: OrderId, part: FulfilmentId) -> ApiResult<()> {
    let order = state.orders.order(id).await?;
    if order.fulfilments.iter().any(|f| f.id == part) { Ok(()) } else { Err(ApiError::not_found()) }
}

/// Move one store's part of an order, as that store would.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/parts/{part_id}/status", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path), ("part_id" = FulfilmentId, Path)), request_body = PartAdvance,
    responses(
        (status = 200, body = OrderView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn advance_part(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath((id, part)): ApiPath<(OrderId, FulfilmentId)>,
    ApiJson(body): ApiJson<PartAdvance>,
) -> ApiResult<Json<OrderView>> {
    part_of(&state, id, part).await?;
    let order = move_part(&state, part, &admin.user.to_string(), body).await?;
    let order = state.orders.order(order.id).await?;
    Ok(Json(order_view(&state, order).await?))
}

/// Call off one store's part of a paid order before it ships, refunding it.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/parts/{part_id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path), ("part_id" = FulfilmentId, Path)), request_body = PartCancel,
    responses(
        (status = 200, body = OrderView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition", body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope),
    )
)]
async fn cancel_part(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath((id, part)): ApiPath<(OrderId, FulfilmentId)>,
    ApiJson(body): ApiJson<PartCancel>,
) -> ApiResult<Json<OrderView>> {
    part_of(&state, id, part).await?;
    let (_, order) =
        state.checkout.cancel_part(id, part, body.reason.as_str(), &admin.user.to_string()).await?;
    Ok(Json(order_view(&state, order).await?))
}
