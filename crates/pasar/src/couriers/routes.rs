//! Couriers' routes: an admin or the part's store books a courier for a paid part (and sees
//! what the courier would charge), and the courier service's webhook.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::courier::{CourierError, Party, Rate};
use super::domain::Shipment;
use super::service::{Booking, CouriersError};
use crate::catalog::WeightGrams;
use crate::http::auth::{FulfillingSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, RawBody};
use crate::http::idempotency::{self, Callers};
use crate::http::{ApiResult, AppState};
use crate::identity::domain::Text;
use crate::ids::{FulfilmentId, OrderId, UserId};
use crate::orders::FulfilmentStatus;

/// The one courier service Pasar has an adapter for.
const BITESHIP: &str = "biteship";

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let staff = OpenApiRouter::new().routes(routes!(book_part)).route_layer(middleware::from_fn_with_state(
        (state.clone(), Callers::Staff),
        idempotency::idempotent,
    ));
    let sellers = OpenApiRouter::new()
        .routes(routes!(book_seller_part))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(part_rates))
        .routes(routes!(biteship_webhook))
        .merge(staff)
        .merge(sellers)
}

impl From<CouriersError> for ApiError {
    fn from(err: CouriersError) -> Self {
        match err {
            CouriersError::NotConfigured => {
                ApiError::conflict("courier_not_configured", "no courier service is configured")
            }
            CouriersError::NoAddress => ApiError::conflict("no_shipping_address", err.to_string()),
            CouriersError::NoOrigin => ApiError::field("origin", err.to_string()),
            CouriersError::WeightUnknown(_) => ApiError::field("weight_grams", err.to_string()),
            CouriersError::NothingToShip => ApiError::conflict("nothing_to_ship", err.to_string()),
            CouriersError::Courier(CourierError::Unavailable(message)) => {
                tracing::warn!(%message, "the courier service failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "courier_unavailable",
                    "the courier service could not be reached or failed; nothing was booked, retry shortly",
                )
                .with_retry_after(30)
            }
            CouriersError::Courier(CourierError::Refused(message)) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "courier_refused",
                format!("the courier service refused: {message}"),
            ),
            CouriersError::Courier(CourierError::BadSecret) => {
                ApiError::unauthorized("invalid_signature", "webhook secret missing or wrong")
            }
            CouriersError::Courier(CourierError::BadWebhook(message)) => {
                ApiError::bad_request("invalid_webhook", message)
            }
            CouriersError::Orders(e) => e.into(),
            CouriersError::Catalog(e) => e.into(),
            CouriersError::Database(e) => e.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Origin {
    name: Text<100>,
    phone: Text<30>,
    address: Text<300>,
    postal_code: Text<20>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BookingBody {
    /// The courier company, as the rates name it (`jne`).
    courier: Text<50>,
    /// Its service (`reg`).
    service: Text<50>,
    /// Where the courier picks the parcel up; the shop's configured address when absent.
    origin: Option<Origin>,
    /// The whole parcel's weight, when its products' weights are unknown or not right.
    weight_grams: Option<WeightGrams>,
}

impl From<BookingBody> for Booking {
    fn from(body: BookingBody) -> Self {
        Booking {
            courier: body.courier.as_str().to_owned(),
            service: body.service.as_str().to_owned(),
            origin: body.origin.map(|o| Party {
                name: o.name.as_str().to_owned(),
                phone: o.phone.as_str().to_owned(),
                address: o.address.as_str().to_owned(),
                postal_code: o.postal_code.as_str().to_owned(),
            }),
            weight_grams: body.weight_grams.map(u32::from),
        }
    }
}

/// The part `part` of order `id`, or a 404.
async fn part_of(state: &AppState, id: OrderId, part: FulfilmentId) -> ApiResult<()> {
    let order = state.orders.order(id).await?;
    if order.fulfilments.iter().any(|f| f.id == part) { Ok(()) } else { Err(ApiError::not_found()) }
}

/// The calling store's paid part of order `id`, or a 404.
async fn seller_part(state: &AppState, seller: UserId, id: OrderId) -> ApiResult<FulfilmentId> {
    let order = state.orders.order(id).await?;
    order
        .fulfilments
        .iter()
        .find(|f| f.seller_id == Some(seller) && f.status != FulfilmentStatus::AwaitingPayment)
        .map(|f| f.id)
        .ok_or_else(ApiError::not_found)
}

/// Book the courier for one store's paid part of an order: Biteship picks it up, and the part
/// is marked shipped with the courier's waybill. The courier failing books nothing and changes
/// nothing (503, or 502 when it refuses). Send an `Idempotency-Key`: a retry books once.
#[utoipa::path(
    post, path = "/v1/admin/orders/{id}/parts/{part_id}/shipment", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path), ("part_id" = FulfilmentId, Path)), request_body = BookingBody,
    responses(
        (status = 201, body = Shipment),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition, courier_not_configured, no_shipping_address, nothing_to_ship", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 502, description = "courier_refused: the courier service said no", body = ErrorEnvelope),
        (status = 503, description = "courier_unavailable: nothing was booked", body = ErrorEnvelope),
    )
)]
async fn book_part(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath((id, part)): ApiPath<(OrderId, FulfilmentId)>,
    ApiJson(body): ApiJson<BookingBody>,
) -> ApiResult<(StatusCode, Json<Shipment>)> {
    part_of(&state, id, part).await?;
    let shipment = state.couriers.book(BITESHIP, part, body.into(), &admin.user.to_string()).await?;
    Ok((StatusCode::CREATED, Json(shipment)))
}

/// Book the courier for the calling store's paid part of an order, as an admin would.
#[utoipa::path(
    post, path = "/v1/seller/orders/{id}/shipment", tag = "seller", security(("bearer" = [])),
    params(("id" = OrderId, Path)), request_body = BookingBody,
    responses(
        (status = 201, body = Shipment),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition, courier_not_configured, no_shipping_address, nothing_to_ship", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 502, description = "courier_refused: the courier service said no", body = ErrorEnvelope),
        (status = 503, description = "courier_unavailable: nothing was booked", body = ErrorEnvelope),
    )
)]
async fn book_seller_part(
    State(state): State<AppState>,
    FulfillingSeller(seller): FulfillingSeller,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<BookingBody>,
) -> ApiResult<(StatusCode, Json<Shipment>)> {
    let part = seller_part(&state, seller.user, id).await?;
    let shipment = state.couriers.book(BITESHIP, part, body.into(), &seller.user.to_string()).await?;
    Ok((StatusCode::CREATED, Json(shipment)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RatesQuery {
    /// Where the parcel leaves from; the shop's configured address when absent.
    #[param(min_length = 1, max_length = 20)]
    origin_postal_code: Option<String>,
    /// The whole parcel's weight, when its products' weights are unknown.
    #[param(minimum = 1, maximum = 1_000_000)]
    weight_grams: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct Rates {
    data: Vec<Rate>,
}

/// What the courier service would charge to send one part of an order, per courier and
/// service: what to choose from before booking.
#[utoipa::path(
    get, path = "/v1/admin/orders/{id}/parts/{part_id}/rates", tag = "orders", security(("bearer" = [])),
    params(("id" = OrderId, Path), ("part_id" = FulfilmentId, Path), RatesQuery),
    responses(
        (status = 200, body = Rates),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "courier_not_configured, no_shipping_address, nothing_to_ship", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 502, description = "courier_refused", body = ErrorEnvelope),
        (status = 503, description = "courier_unavailable", body = ErrorEnvelope),
    )
)]
async fn part_rates(
    State(state): State<AppState>,
    Staff(_admin): Staff,
    ApiPath((id, part)): ApiPath<(OrderId, FulfilmentId)>,
    ApiQuery(query): ApiQuery<RatesQuery>,
) -> ApiResult<Json<Rates>> {
    part_of(&state, id, part).await?;
    if query.weight_grams.is_some_and(|w| !(1..=1_000_000).contains(&w)) {
        return Err(ApiError::field("weight_grams", "must be 1 to 1000000 grams"));
    }
    if query.origin_postal_code.as_ref().is_some_and(|p| p.is_empty() || p.len() > 20) {
        return Err(ApiError::field("origin_postal_code", "must be 1 to 20 characters"));
    }
    let data = state.couriers.rates(part, query.origin_postal_code.as_deref(), query.weight_grams).await?;
    Ok(Json(Rates { data }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = CourierWebhookReceived)]
struct Received {
    /// `applied`, or `no_change` when the event was known already or changes nothing.
    result: &'static str,
}

/// Biteship reports a booking's progress (`order.status`, `order.waybill_id`). It must carry
/// the header and secret configured in Biteship's dashboard (else 401, and nothing changes);
/// an event already in the shipment's timeline changes nothing. The courier's "delivered"
/// delivers the part, and the order once it was the last part on its way.
#[utoipa::path(
    post, path = "/v1/webhooks/couriers/biteship", tag = "payments",
    request_body(content = String, description = "Biteship's own event format", content_type = "application/json"),
    extensions(("x-raw-body" = json!(true))),
    responses(
        (status = 200, body = Received),
        (status = 400, description = "invalid_webhook", body = ErrorEnvelope),
        (status = 401, description = "invalid_signature: the configured secret header is missing or wrong", body = ErrorEnvelope),
        (status = 409, description = "courier_not_configured", body = ErrorEnvelope),
    )
)]
async fn biteship_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Received>> {
    let applied = state.couriers.receive_webhook(BITESHIP, &headers, &body).await?;
    Ok(Json(Received { result: if applied { "applied" } else { "no_change" } }))
}
