//! Delivery slots' routes: `GET /v1/delivery/slots` for buyers, a zone's setup and the day's
//! manifest under `/v1/admin/delivery/…`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{CapacityOverride, Rules, SameDayCutoff, Template, TimeOfDay};
use super::service::{DeliveryError, MAX_DAYS, NewTemplate, Slot, ZoneSetup};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::ids::{AddressId, DeliveryTemplateId, OrderId, ShippingZoneId};
use crate::orders::{Order, OrderStatus, ShippingAddress};
use crate::shipping::Destination;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(slots))
        .routes(routes!(zone_setup))
        .routes(routes!(set_rules))
        .routes(routes!(create_template))
        .routes(routes!(delete_template))
        .routes(routes!(close_date))
        .routes(routes!(reopen_date))
        .routes(routes!(set_capacity))
        .routes(routes!(manifest))
}

impl From<DeliveryError> for ApiError {
    fn from(err: DeliveryError) -> Self {
        let message = err.to_string();
        match err {
            DeliveryError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery", message)
            }
            DeliveryError::SlotRequired => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "delivery_slot_required", message)
            }
            DeliveryError::SlotClosed(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "slot_closed", message)
            }
            DeliveryError::SlotFull { slot_id, next_slots } => ApiError::conflict("slot_full", message)
                .with_details(serde_json::json!({ "delivery_slot_id": slot_id, "next_slots": next_slots })),
            DeliveryError::NotFound => ApiError::not_found(),
            DeliveryError::Orders(e) => e.into(),
            DeliveryError::Shipping(e) => e.into(),
            DeliveryError::Database(e) => e.into(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SlotsQuery {
    /// One of the caller's saved addresses (`GET /v1/me/addresses`).
    address_id: AddressId,
    /// Local days from today, 1 to 14; 7 when absent.
    #[param(minimum = 1, maximum = 14)]
    days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct SlotList {
    /// The address's zone; absent when it is in none.
    #[serde(skip_serializing_if = "Option::is_none")]
    zone_id: Option<ShippingZoneId>,
    /// The shop's time zone, which the local times are in.
    time_zone: String,
    /// The slots that can be chosen now, in start order; empty when the zone has none (its
    /// orders need no slot).
    data: Vec<Slot>,
}

/// The delivery slots a buyer can choose for one of their addresses: past the lead time and
/// the same-day cut-off, not on closed dates, with the places left. A checkout to that address
/// passes one as `delivery_slot_id`.
#[utoipa::path(
    get, path = "/v1/delivery/slots", tag = "delivery", security(("bearer" = [])),
    params(SlotsQuery),
    responses(
        (status = 200, body = SlotList),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "no such address of the caller's", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn slots(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<SlotsQuery>,
) -> ApiResult<Json<SlotList>> {
    let days = query.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::field("days", format!("must be between 1 and {MAX_DAYS}")));
    }
    let address = state.identity.address(principal.user, query.address_id).await?;
    let to = Destination { country: address.country, postal_code: address.postal_code, coordinates: None };
    let zone_id = state.delivery.slot_zone(&to).await?;
    let data = match zone_id {
        Some(zone) => state.delivery.offered(zone, days).await?,
        None => Vec::new(),
    };
    Ok(Json(SlotList { zone_id, time_zone: state.delivery.time().name().to_owned(), data }))
}

// ---- admin: a zone's setup ------------------------------------------------------------------

/// A zone's delivery setup: rules, slot templates, closed dates and capacity overrides.
#[utoipa::path(
    get, path = "/v1/admin/delivery/zones/{zone_id}", tag = "delivery", security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path)),
    responses((status = 200, body = ZoneSetup), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn zone_setup(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(zone): ApiPath<ShippingZoneId>,
) -> ApiResult<Json<ZoneSetup>> {
    Ok(Json(state.delivery.setup(zone).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RulesRequest {
    /// A slot must start at least this many minutes after the order.
    #[schema(minimum = 0, maximum = 10080)]
    lead_minutes: i64,
    /// Slots from `for_slots_from` on can be chosen on their own day only before `order_by`
    /// (local times); absent for none.
    same_day_cutoff: Option<SameDayCutoff>,
}

/// Set a zone's lead time and same-day cut-off.
#[utoipa::path(
    put, path = "/v1/admin/delivery/zones/{zone_id}/rules", tag = "delivery", security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path)),
    request_body = RulesRequest,
    responses(
        (status = 200, body = Rules),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(zone): ApiPath<ShippingZoneId>,
    ApiJson(body): ApiJson<RulesRequest>,
) -> ApiResult<Json<Rules>> {
    let rules = Rules { lead_minutes: body.lead_minutes, same_day_cutoff: body.same_day_cutoff };
    Ok(Json(state.delivery.set_rules(zone, rules).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateRequest {
    /// ISO weekdays, 1 (Monday) to 7 (Sunday).
    #[schema(min_items = 1, max_items = 7, value_type = Vec<u8>, minimum = 1, maximum = 7)]
    weekdays: Vec<u8>,
    /// Local start time.
    start: TimeOfDay,
    /// Local end time, after the start (`24:00` for midnight).
    end: TimeOfDay,
    /// Orders per slot.
    #[schema(minimum = 0, maximum = 10000)]
    capacity: i64,
}

/// Add a weekly slot to a zone: its slots are offered on the weekdays given.
#[utoipa::path(
    post, path = "/v1/admin/delivery/zones/{zone_id}/templates", tag = "delivery", security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path)),
    request_body = TemplateRequest,
    responses(
        (status = 201, body = Template),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn create_template(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(zone): ApiPath<ShippingZoneId>,
    ApiJson(body): ApiJson<TemplateRequest>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let new =
        NewTemplate { weekdays: body.weekdays, start: body.start, end: body.end, capacity: body.capacity };
    Ok((StatusCode::CREATED, Json(state.delivery.create_template(zone, new).await?)))
}

/// Remove a weekly slot: its slots are offered no more; orders that booked one keep it.
#[utoipa::path(
    delete, path = "/v1/admin/delivery/zones/{zone_id}/templates/{template_id}", tag = "delivery",
    security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path), ("template_id" = DeliveryTemplateId, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn delete_template(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath((zone, id)): ApiPath<(ShippingZoneId, DeliveryTemplateId)>,
) -> ApiResult<StatusCode> {
    state.delivery.delete_template(zone, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClosedDateRequest {
    /// The local date.
    #[schema(value_type = String, format = Date)]
    date: Date,
}

/// Close a local date (a holiday): no slots are offered on it. Closing it again changes nothing.
#[utoipa::path(
    post, path = "/v1/admin/delivery/zones/{zone_id}/closed-dates", tag = "delivery",
    security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path)),
    request_body = ClosedDateRequest,
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn close_date(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(zone): ApiPath<ShippingZoneId>,
    ApiJson(body): ApiJson<ClosedDateRequest>,
) -> ApiResult<StatusCode> {
    state.delivery.close_date(zone, body.date).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Open a closed date again.
#[utoipa::path(
    delete, path = "/v1/admin/delivery/zones/{zone_id}/closed-dates/{date}", tag = "delivery",
    security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path), ("date" = String, Path, format = Date)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn reopen_date(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath((zone, date)): ApiPath<(ShippingZoneId, Date)>,
) -> ApiResult<StatusCode> {
    state.delivery.reopen_date(zone, date).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CapacityRequest {
    /// Orders per slot on that date.
    #[schema(minimum = 0, maximum = 10000)]
    capacity: i64,
    /// Only this template's slot; absent for every slot of the date.
    template_id: Option<DeliveryTemplateId>,
}

/// Set the capacity of a local date's slots (or of one template's slot that day), instead of
/// the templates'. Places already held stay held.
#[utoipa::path(
    put, path = "/v1/admin/delivery/zones/{zone_id}/capacity/{date}", tag = "delivery",
    security(("bearer" = [])),
    params(("zone_id" = ShippingZoneId, Path), ("date" = String, Path, format = Date)),
    request_body = CapacityRequest,
    responses(
        (status = 200, body = CapacityOverride),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn set_capacity(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath((zone, date)): ApiPath<(ShippingZoneId, Date)>,
    ApiJson(body): ApiJson<CapacityRequest>,
) -> ApiResult<Json<CapacityOverride>> {
    let capacity = CapacityOverride { date, template_id: body.template_id, capacity: body.capacity };
    Ok(Json(state.delivery.set_capacity(zone, capacity).await?))
}

// ---- admin: the day's manifest --------------------------------------------------------------

#[derive(Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ManifestFormat {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ManifestQuery {
    /// The local date to deliver on.
    #[param(value_type = String, format = Date)]
    date: Date,
    /// One zone; every zone when absent.
    zone_id: Option<ShippingZoneId>,
    /// `json` (default) or `csv` (`text/csv`, one row per order).
    #[param(inline)]
    format: Option<ManifestFormat>,
}

#[derive(Serialize, ToSchema)]
struct ManifestLine {
    product_name: String,
    sku: String,
    quantity: i64,
}

#[derive(Serialize, ToSchema)]
struct ManifestOrder {
    order_id: OrderId,
    status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_address: Option<ShippingAddress>,
    lines: Vec<ManifestLine>,
}

#[derive(Serialize, ToSchema)]
struct ManifestSlot {
    slot: Slot,
    orders: Vec<ManifestOrder>,
}

#[derive(Serialize, ToSchema)]
struct Manifest {
    #[schema(value_type = String, format = Date)]
    date: Date,
    time_zone: String,
    /// The slots with paid orders, in start order, each with its orders in booking order.
    slots: Vec<ManifestSlot>,
}

fn manifest_order(order: Order) -> ManifestOrder {
    ManifestOrder {
        order_id: order.id,
        status: order.status,
        shipping_address: order.shipping_address,
        lines: order
            .lines
            .into_iter()
            .map(|l| ManifestLine { product_name: l.product_name, sku: l.sku, quantity: l.quantity })
            .collect(),
    }
}

/// The paid orders to deliver on a local date, per slot, with their addresses and lines: as
/// JSON, or with `format=csv` as CSV for the drivers (one row per order).
#[utoipa::path(
    get, path = "/v1/admin/delivery/manifest", tag = "delivery", security(("bearer" = [])),
    params(ManifestQuery),
    responses(
        (status = 200, content((Manifest = "application/json"), (String = "text/csv"))),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn manifest(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<ManifestQuery>,
) -> ApiResult<Response> {
    let slots = state.delivery.manifest(query.date, query.zone_id).await?;
    let manifest = Manifest {
        date: query.date,
        time_zone: state.delivery.time().name().to_owned(),
        slots: slots
            .into_iter()
            .map(|(slot, orders)| ManifestSlot {
                slot,
                orders: orders.into_iter().map(manifest_order).collect(),
            })
            .collect(),
    };
    Ok(match query.format.unwrap_or_default() {
        ManifestFormat::Json => Json(manifest).into_response(),
        ManifestFormat::Csv => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))],
            manifest_csv(&manifest),
        )
            .into_response(),
    })
}

const CSV_HEADER: &str =
    "slot_start,slot_end,order_id,status,recipient,phone,address,city,postal_code,country,items";

fn manifest_csv(manifest: &Manifest) -> String {
    let mut csv = String::from(CSV_HEADER);
    csv.push_str("\r\n");
    for slot in &manifest.slots {
        for order in &slot.orders {
            let address = order.shipping_address.as_ref();
            let text = |f: fn(&ShippingAddress) -> String| address.map(f).unwrap_or_default();
            let items = order
                .lines
                .iter()
                .map(|l| format!("{} x{} ({})", l.product_name, l.quantity, l.sku))
                .collect::<Vec<_>>()
                .join("; ");
            let fields = [
                slot.slot.local_start.clone(),
                slot.slot.local_end.clone(),
                order.order_id.to_string(),
                order.status.to_string(),
                text(|a| a.name.as_str().to_owned()),
                text(|a| String::from(a.phone.clone())),
                text(|a| match &a.line2 {
                    Some(line2) => format!("{}, {}", a.line1.as_str(), line2.as_str()),
                    None => a.line1.as_str().to_owned(),
                }),
                text(|a| a.city.as_str().to_owned()),
                text(|a| a.postal_code.as_str().to_owned()),
                text(|a| String::from(a.country.clone())),
                items,
            ];
            csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            csv.push_str("\r\n");
        }
    }
    csv
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does
/// not run a buyer's address as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\r', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("Shibuya"), "Shibuya");
        assert_eq!(csv_field("1-2-3, Jingumae"), "\"1-2-3, Jingumae\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn times_of_day_are_strings_in_requests() {
        let body: TemplateRequest =
            serde_json::from_str(r#"{"weekdays":[1,2],"start":"09:00","end":"12:00","capacity":20}"#)
                .unwrap();
        assert_eq!(body.start, TimeOfDay::hm(9, 0).unwrap());
    }
}
