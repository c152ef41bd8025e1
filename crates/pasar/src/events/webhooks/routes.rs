//! Webhooks' HTTP routes, all for staff: `/v1/admin/webhook-endpoints`,
//! `/v1/admin/webhook-deliveries/{id}/replay`, `/v1/admin/events/{id}/replay`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{DeliveryStatus, EventTypes, WebhookUrl};
use super::service::{
    CreatedEndpoint, DeliveryFilter, EndpointChanges, NewEndpoint, WebhookDelivery, WebhookEndpoint,
    WebhookError,
};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::domain::Text;
use crate::ids::{EventId, WebhookDeliveryId, WebhookEndpointId};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new()
        .routes(routes!(create_endpoint))
        .routes(routes!(replay_delivery))
        .routes(routes!(replay_event))
        .route_layer(middleware::from_fn_with_state((state, Callers::Staff), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(list_deliveries))
        .merge(idempotent)
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::UrlRefused(refused) => ApiError::field("url", refused.to_string()),
            WebhookError::EndpointNotFound | WebhookError::DeliveryNotFound | WebhookError::EventNotFound => {
                ApiError::not_found()
            }
            WebhookError::EventNotPublished => ApiError::conflict("event_not_published", err.to_string()),
            WebhookError::Database(e) => e.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEndpointRequest {
    /// https, on a public address.
    url: WebhookUrl,
    /// Event types to receive, such as `["order.created"]`; `["*"]` for all.
    events: EventTypes,
    description: Option<Text<256>>,
}

/// Register an endpoint. The answer carries its signing secret, shown only this once.
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateEndpointRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the first response is replayed for 24 hours")),
    responses(
        (status = 201, body = CreatedEndpoint),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, description = "validation_failed, such as a URL that is not https or reaches a private address", body = ErrorEnvelope),
    )
)]
async fn create_endpoint(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(body): ApiJson<CreateEndpointRequest>,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    let new =
        NewEndpoint { url: body.url, events: body.events, description: body.description.map(String::from) };
    Ok((StatusCode::CREATED, Json(state.webhooks.create_endpoint(new).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EndpointSearch {
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct EndpointPage {
    data: Vec<WebhookEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Webhook endpoints, newest first (without their secrets).
#[utoipa::path(
    get, path = "/v1/admin/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    params(EndpointSearch),
    responses((status = 200, body = EndpointPage), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn list_endpoints(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<EndpointSearch>,
) -> ApiResult<Json<EndpointPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (endpoints, more) = state.webhooks.list_endpoints(page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(endpoints, more, |e: &WebhookEndpoint| e.id.to_string());
    Ok(Json(EndpointPage { data, next_cursor }))
}

/// One webhook endpoint (without its secret).
#[utoipa::path(
    get, path = "/v1/admin/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = WebhookEndpointId, Path)),
    responses((status = 200, body = WebhookEndpoint), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn get_endpoint(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(state.webhooks.endpoint(id).await?))
}

/// Reads `"description": null` as "clear it" and an absent field as "leave it".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEndpointRequest {
    url: Option<WebhookUrl>,
    events: Option<EventTypes>,
    enabled: Option<bool>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Text<256>>)]
    description: Option<Option<Text<256>>>,
}

/// Change an endpoint: any of url, events, enabled, description. A new URL is checked like a
/// new endpoint's.
#[utoipa::path(
    patch, path = "/v1/admin/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = WebhookEndpointId, Path)), request_body = UpdateEndpointRequest,
    responses(
        (status = 200, body = WebhookEndpoint),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_endpoint(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(body): ApiJson<UpdateEndpointRequest>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let changes = EndpointChanges {
        url: body.url,
        events: body.events,
        enabled: body.enabled,
        description: body.description.map(|d| d.map(String::from)),
    };
    Ok(Json(state.webhooks.update_endpoint(id, changes).await?))
}

/// Delete an endpoint and its delivery history.
#[utoipa::path(
    delete, path = "/v1/admin/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = WebhookEndpointId, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn delete_endpoint(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<StatusCode> {
    state.webhooks.delete_endpoint(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliverySearch {
    status: Option<DeliveryStatus>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryPage {
    data: Vec<WebhookDelivery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// An endpoint's deliveries, newest first: status, attempts, last answer or error, next
/// attempt. Dead-lettered deliveries have status `dead`.
#[utoipa::path(
    get, path = "/v1/admin/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = WebhookEndpointId, Path), DeliverySearch),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiQuery(query): ApiQuery<DeliverySearch>,
) -> ApiResult<Json<DeliveryPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let filter = DeliveryFilter { status: query.status, before: page.position()? };
    let (deliveries, more) = state.webhooks.deliveries(id, &filter, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(deliveries, more, |d: &WebhookDelivery| d.id.to_string());
    Ok(Json(DeliveryPage { data, next_cursor }))
}

/// Send a delivery again, whatever its status (dead-lettered ones too), with a fresh set of
/// attempts. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/webhook-deliveries/{id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("id" = WebhookDeliveryId, Path)),
    responses((status = 202, body = WebhookDelivery), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn replay_delivery(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<WebhookDeliveryId>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(state.webhooks.replay_delivery(id).await?)))
}

#[derive(Serialize, ToSchema)]
struct QueuedDeliveries {
    /// The new deliveries, one per enabled endpoint that wants the event.
    data: Vec<WebhookDelivery>,
}

/// Send an event again to every enabled endpoint that wants it now, as new deliveries.
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/events/{id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("id" = EventId, Path)),
    responses(
        (status = 202, body = QueuedDeliveries),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "event_not_published: the relay has not handled it yet", body = ErrorEnvelope),
    )
)]
async fn replay_event(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<EventId>,
) -> ApiResult<(StatusCode, Json<QueuedDeliveries>)> {
    let data = state.webhooks.replay_event(id).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedDeliveries { data })))
}
