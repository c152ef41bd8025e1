//! Shipping's routes: zones and methods under `/v1/admin/shipping/…`, and
//! `GET /v1/shipping/quote` for anyone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{
    Coordinates, DeliveryDays, Destination, Method, Parcel, ParcelLine, PostalRange, Rate, Zone,
};
use super::service::{NewMethod, NewZone, Quote, ShippingError};
use crate::catalog::ProductKind;
use crate::http::auth::{MaybeCaller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Role;
use crate::identity::addresses::CountryCode;
use crate::identity::domain::Text;
use crate::ids::{ShippingMethodId, ShippingZoneId, VariantId};
use crate::money::{Currency, Money};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_zones, create_zone))
        .routes(routes!(delete_zone))
        .routes(routes!(list_methods, create_method))
        .routes(routes!(delete_method))
        .routes(routes!(quote))
}

impl From<ShippingError> for ApiError {
    fn from(err: ShippingError) -> Self {
        let message = err.to_string();
        match err {
            ShippingError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_shipping", message)
            }
            ShippingError::Unavailable(method) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "shipping_method_unavailable", message)
                    .with_details(serde_json::json!({ "shipping_method": method }))
            }
            ShippingError::CodeTaken(_) => ApiError::conflict("shipping_method_exists", message),
            ShippingError::ZoneInUse(_) => ApiError::conflict("zone_in_use", message),
            ShippingError::NotFound => ApiError::not_found(),
            ShippingError::Database(e) => e.into(),
        }
    }
}

/// A GeoJSON Polygon with one ring (holes are not supported).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GeoJsonPolygon {
    #[serde(rename = "type")]
    _kind: PolygonType,
    /// One closed ring of [lng, lat] positions.
    #[schema(min_items = 1, max_items = 1)]
    coordinates: Vec<Vec<Vec<f64>>>,
}

#[derive(Deserialize, ToSchema)]
enum PolygonType {
    Polygon,
}

impl GeoJsonPolygon {
    /// The ring, when there is exactly one and each position is [lng, lat].
    fn ring(self) -> Option<Vec<[f64; 2]>> {
        let [ring]: [Vec<Vec<f64>>; 1] = self.coordinates.try_into().ok()?;
        ring.into_iter().map(|position| <[f64; 2]>::try_from(position).ok()).collect()
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateZoneRequest {
    name: Text<100>,
    country: CountryCode,
    /// Postal codes starting with any of these (digits or capital letters).
    #[serde(default)]
    postal_prefixes: Vec<String>,
    /// Postal codes in any of these ranges.
    #[serde(default)]
    postal_ranges: Vec<PostalRange>,
    /// An area on the map: addresses whose coordinates fall inside it.
    area: Option<GeoJsonPolygon>,
}

/// Create a delivery zone: a whole country, postal-code prefixes or ranges within it, or an
/// area on the map. An address belongs to the most specific zone that contains it.
#[utoipa::path(
    post, path = "/v1/admin/shipping/zones", tag = "shipping", security(("bearer" = [])),
    request_body = CreateZoneRequest,
    responses((status = 201, body = Zone), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn create_zone(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(body): ApiJson<CreateZoneRequest>,
) -> ApiResult<(StatusCode, Json<Zone>)> {
    let area = match body.area.map(GeoJsonPolygon::ring) {
        None => None,
        Some(Some(ring)) => Some(ring),
        Some(None) => {
            return Err(ApiError::field(
                "area",
                "a GeoJSON Polygon with one ring (no holes) of [lng, lat] positions",
            ));
        }
    };
    let zone = state
        .shipping
        .create_zone(NewZone {
            name: body.name.into(),
            country: body.country.into(),
            postal_prefixes: body.postal_prefixes,
            postal_ranges: body.postal_ranges,
            area,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(zone)))
}

#[derive(Serialize, ToSchema)]
struct ZoneList {
    data: Vec<Zone>,
}

#[utoipa::path(
    get, path = "/v1/admin/shipping/zones", tag = "shipping", security(("bearer" = [])),
    responses((status = 200, body = ZoneList), (status = 403, body = ErrorEnvelope))
)]
async fn list_zones(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<ZoneList>> {
    Ok(Json(ZoneList { data: state.shipping.zones().await? }))
}

/// Delete a zone no method serves.
#[utoipa::path(
    delete, path = "/v1/admin/shipping/zones/{id}", tag = "shipping", security(("bearer" = [])),
    params(("id" = ShippingZoneId, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 409, description = "zone_in_use", body = ErrorEnvelope))
)]
async fn delete_zone(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<ShippingZoneId>,
) -> ApiResult<StatusCode> {
    state.shipping.delete_zone(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateMethodRequest {
    /// What checkouts name: lower-case letters, digits and `_`, such as `regular`.
    #[schema(pattern = "^[a-z0-9_]{1,40}$")]
    code: String,
    name: Text<100>,
    currency: Currency,
    rate: Rate,
    /// Orders worth at least this ship free.
    free_above: Option<Money>,
    zone_ids: Vec<ShippingZoneId>,
    delivery_days: DeliveryDays,
}

/// Create a shipping method: its rate, the zones it serves, free delivery above a threshold.
#[utoipa::path(
    post, path = "/v1/admin/shipping/methods", tag = "shipping", security(("bearer" = [])),
    request_body = CreateMethodRequest,
    responses((status = 201, body = Method), (status = 403, body = ErrorEnvelope),
              (status = 409, description = "shipping_method_exists", body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope))
)]
async fn create_method(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(body): ApiJson<CreateMethodRequest>,
) -> ApiResult<(StatusCode, Json<Method>)> {
    let code = body.code;
    if !super::domain::method_code_ok(&code) {
        return Err(ApiError::field("code", "1 to 40 lower-case letters, digits and _"));
    }
    let method = state
        .shipping
        .create_method(NewMethod {
            code,
            name: body.name.into(),
            currency: body.currency,
            rate: body.rate,
            free_above: body.free_above,
            zone_ids: body.zone_ids,
            delivery_days: body.delivery_days,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(method)))
}

#[derive(Serialize, ToSchema)]
struct MethodList {
    data: Vec<Method>,
}

#[utoipa::path(
    get, path = "/v1/admin/shipping/methods", tag = "shipping", security(("bearer" = [])),
    responses((status = 200, body = MethodList), (status = 403, body = ErrorEnvelope))
)]
async fn list_methods(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<MethodList>> {
    Ok(Json(MethodList { data: state.shipping.methods().await? }))
}

/// Delete a method: checkouts can no longer choose it; orders that did keep its code and price.
#[utoipa::path(
    delete, path = "/v1/admin/shipping/methods/{id}", tag = "shipping", security(("bearer" = [])),
    params(("id" = ShippingMethodId, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn delete_method(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<ShippingMethodId>,
) -> ApiResult<StatusCode> {
    state.shipping.delete_method(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct QuoteQuery {
    /// What is bought: `variant_id:quantity` pairs, comma-separated.
    #[param(
        example = "var_0192f5a3c1e27d3a9b4c5d6e7f809112:2",
        pattern = "^var_[0-9a-f]{32}:[1-9][0-9]{0,2}(,var_[0-9a-f]{32}:[1-9][0-9]{0,2}){0,99}$"
    )]
    items: String,
    #[param(value_type = String, pattern = "^[A-Z]{2}$", example = "ID")]
    country: CountryCode,
    postal_code: Text<20>,
    /// The address's coordinates, for zones drawn on the map (with `lng`).
    #[param(minimum = -90, maximum = 90)]
    lat: Option<f64>,
    #[param(minimum = -180, maximum = 180)]
    lng: Option<f64>,
}

#[derive(Serialize, ToSchema)]
struct QuoteList {
    /// Cheapest first; empty when nothing delivers there.
    data: Vec<Quote>,
}

/// The shipping methods that deliver these items to this address, with their prices (for this
/// buyer's prices when signed in). A checkout naming one charges exactly this.
#[utoipa::path(
    get, path = "/v1/shipping/quote", tag = "shipping", params(QuoteQuery),
    responses((status = 200, body = QuoteList), (status = 422, body = ErrorEnvelope))
)]
async fn quote(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(query): ApiQuery<QuoteQuery>,
) -> ApiResult<Json<QuoteList>> {
    let items = parse_items(&query.items)?;
    let coordinates = match (query.lat, query.lng) {
        (None, None) => None,
        (Some(lat), Some(lng)) if (Coordinates { lat, lng }).is_valid() => Some(Coordinates { lat, lng }),
        _ => return Err(ApiError::field("lat", "lat and lng come together, within -90..90 and -180..180")),
    };
    let ids: Vec<VariantId> = items.iter().map(|(id, _)| *id).collect();
    let variants = state.catalog.variants_for_sale(&ids).await?;
    let role = caller.map_or(Role::Customer, |c| c.role);
    let mut lines = Vec::with_capacity(items.len());
    for (id, quantity) in items {
        let variant = variants
            .iter()
            .find(|v| v.id == id)
            .ok_or_else(|| ApiError::field("items", format!("{id} is not for sale")))?;
        lines.push(ParcelLine {
            physical: variant.kind == ProductKind::Physical,
            unit_weight_grams: variant.weight_grams,
            quantity,
            total: variant
                .price_for(role)
                .times(quantity as i64)
                .map_err(|e| ApiError::field("items", e.to_string()))?,
            store: variant.seller_id,
        });
    }
    if lines.iter().any(|l| l.total.currency != lines[0].total.currency) {
        return Err(ApiError::field("items", "all items must be priced in one currency"));
    }
    let parcels = Parcel::per_store(&lines).map_err(|e| ApiError::field("items", e.to_string()))?;
    let to =
        Destination { country: query.country.into(), postal_code: query.postal_code.into(), coordinates };
    Ok(Json(QuoteList { data: state.shipping.quote(&to, &parcels).await? }))
}

/// `variant_id:quantity,…`: 1 to 100 lines, each quantity 1 to 100.
fn parse_items(text: &str) -> Result<Vec<(VariantId, u64)>, ApiError> {
    let bad = || ApiError::field("items", "variant_id:quantity pairs, comma-separated, 1 to 100 of each");
    let items: Vec<(VariantId, u64)> = text
        .split(',')
        .map(|pair| {
            let (id, quantity) = pair.trim().split_once(':').ok_or_else(bad)?;
            let quantity: u64 = quantity.parse().map_err(|_| bad())?;
            if !(1..=100).contains(&quantity) {
                return Err(bad());
            }
            Ok((id.parse().map_err(|_| bad())?, quantity))
        })
        .collect::<Result<_, _>>()?;
    if items.is_empty() || items.len() > 100 { Err(bad()) } else { Ok(items) }
}
