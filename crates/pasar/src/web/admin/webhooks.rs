//! `/admin/webhooks`: the merchant's webhook endpoints (as `/v1/admin/webhook-endpoints`):
//! the list, a new one (its signing secret shown this once, as the API answers it), an
//! endpoint's page to change, disable or delete it, and its deliveries with their status and
//! attempts, a dead-lettered one replayed as `/v1/admin/webhook-deliveries/{id}/replay`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::events::webhooks::{
    DeliveryFilter, DeliveryStatus, EndpointChanges, EventTypes, NewEndpoint, WebhookDelivery,
    WebhookEndpoint, WebhookError, WebhookUrl,
};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Endpoints listed (the API's largest page).
const ENDPOINTS: usize = 100;
/// Deliveries on one page of an endpoint's.
const PER_PAGE: usize = 25;

#[derive(Serialize)]
struct EndpointView {
    id: String,
    href: String,
    url: String,
    events: String,
    description: String,
    enabled: bool,
    created: String,
}

fn view(locale: crate::locale::Locale, endpoint: WebhookEndpoint) -> EndpointView {
    EndpointView {
        id: endpoint.id.to_string(),
        href: format!("/admin/webhooks/{}", endpoint.id),
        url: endpoint.url,
        events: endpoint.events.as_slice().join(", "),
        description: endpoint.description.unwrap_or_default(),
        enabled: endpoint.enabled,
        created: locale.format_datetime(endpoint.created_at),
    }
}

/// Event types typed as a list: separated by commas, spaces or lines.
fn event_types(text: &str) -> Option<EventTypes> {
    let names: Vec<String> =
        text.split([',', ' ', '\n', '\r', '\t']).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    EventTypes::parse(names).ok()
}

/// A description as the API takes it: None when left empty; Err when too long.
fn description_of(text: &str) -> Result<Option<String>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Text::<256>::parse(text).map(|d| Some(String::from(d))).map_err(|_| ())
}

/// How the pages answer a webhooks refusal: a refused URL says so; the rest as the area does.
fn refused(err: WebhookError) -> Result<(StatusCode, &'static str), PageError> {
    match err {
        WebhookError::UrlRefused(_) => Ok((StatusCode::UNPROCESSABLE_ENTITY, "error_admin_hook_url")),
        other => refusal(other),
    }
}

/// The list page with `extra` (a new endpoint's secret, what was typed, an error).
async fn list_page(state: &AppState, admin: &Admin, status: StatusCode, extra: Value) -> PageResult {
    let locale = admin.visit.locale;
    let (endpoints, _) = state.webhooks.list_endpoints(None, ENDPOINTS).await.map_err(PageError::internal)?;
    let endpoints: Vec<EndpointView> = endpoints.into_iter().map(|e| view(locale, e)).collect();
    Ok(page(
        admin,
        status,
        "admin/webhooks.html",
        "webhooks",
        context! { endpoints => Serde(&endpoints), ..extra },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<DoneQuery>) -> PageResult {
    let notice = query.notice(admin.visit.locale, &[("deleted", "admin_hook_done_deleted")]);
    list_page(&state, &admin, StatusCode::OK, context! { notice }).await
}

#[derive(Deserialize, Serialize)]
pub struct EndpointForm {
    url: String,
    events: String,
    #[serde(default)]
    description: String,
    /// A checkbox: present when ticked (the change form only).
    #[serde(default)]
    enabled: Option<String>,
}

/// Like `POST /v1/admin/webhook-endpoints`: the page shows the new endpoint's signing secret,
/// this once.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(form): Form<EndpointForm>,
) -> PageResult {
    let locale = admin.visit.locale;
    let again = |key: &'static str| context! { error => i18n::message(locale, key), form => Serde(&form) };
    let Ok(url) = WebhookUrl::parse(&form.url) else {
        return list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_hook_url"))
            .await;
    };
    let Some(events) = event_types(&form.events) else {
        return list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_hook_events"))
            .await;
    };
    let Ok(description) = description_of(&form.description) else {
        return list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_too_long"))
            .await;
    };
    match state.webhooks.create_endpoint(NewEndpoint { url, events, description }).await {
        Ok(created) => {
            let notice = i18n::message(locale, "admin_hook_created");
            let secret = created.secret;
            let created = view(locale, created.endpoint);
            list_page(
                &state,
                &admin,
                StatusCode::CREATED,
                context! { notice, secret, created => Serde(&created) },
            )
            .await
        }
        Err(err) => {
            let (status, key) = refused(err)?;
            list_page(&state, &admin, status, again(key)).await
        }
    }
}

#[derive(Default, Deserialize)]
pub struct DeliveriesQuery {
    status: Option<String>,
    /// The delivery id the page starts below.
    before: Option<String>,
}

#[derive(Serialize)]
struct DeliveryView {
    id: String,
    event_type: String,
    event_id: String,
    status: &'static str,
    status_name: String,
    attempts: u32,
    last_status_code: Option<u16>,
    last_error: String,
    next_attempt: String,
    updated: String,
}

fn status_name(locale: crate::locale::Locale, status: DeliveryStatus) -> String {
    i18n::message(locale, &format!("admin_hook_{}", status.as_str())).to_owned()
}

fn endpoint_id(id: &str) -> Result<WebhookEndpointId, PageError> {
    id.parse().map_err(|_| PageError::not_found())
}

async fn load(state: &AppState, id: WebhookEndpointId) -> Result<WebhookEndpoint, PageError> {
    match state.webhooks.endpoint(id).await {
        Ok(endpoint) => Ok(endpoint),
        Err(WebhookError::EndpointNotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

/// An endpoint's page: its form and its deliveries, with `extra` (a notice, an error).
async fn endpoint_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    endpoint: WebhookEndpoint,
    query: &DeliveriesQuery,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let wanted = query.status.as_deref().and_then(DeliveryStatus::parse);
    let filter = DeliveryFilter {
        status: wanted,
        before: query.before.as_deref().and_then(|b| b.parse::<WebhookDeliveryId>().ok()),
    };
    let (deliveries, more) =
        state.webhooks.deliveries(endpoint.id, &filter, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(wanted) = wanted {
            pairs.append_pair("status", wanted.as_str());
        }
        pairs.append_pair("before", &deliveries.last().map(|d| d.id.to_string()).unwrap_or_default());
        format!("/admin/webhooks/{}?{}", endpoint.id, pairs.finish())
    });
    let deliveries: Vec<DeliveryView> = deliveries
        .into_iter()
        .map(|d: WebhookDelivery| DeliveryView {
            id: d.id.to_string(),
            event_type: d.event_type,
            event_id: d.event_id.to_string(),
            status: d.status.as_str(),
            status_name: status_name(locale, d.status),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.unwrap_or_default(),
            next_attempt: d.next_attempt_at.map(|at| locale.format_datetime(at)).unwrap_or_default(),
            updated: locale.format_datetime(d.updated_at),
        })
        .collect();
    let statuses: Vec<(&str, String)> =
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Dead]
            .into_iter()
            .map(|s| (s.as_str(), status_name(locale, s)))
            .collect();
    let endpoint = view(locale, endpoint);
    Ok(page(
        admin,
        status,
        "admin/webhook.html",
        "webhooks",
        context! {
            endpoint => Serde(&endpoint),
            deliveries => Serde(&deliveries),
            statuses => Serde(&statuses),
            status_filter => wanted.map(DeliveryStatus::as_str),
            next,
            ..extra
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    let endpoint = load(&state, endpoint_id(&id)?).await?;
    let notice = done.notice(
        admin.visit.locale,
        &[("saved", "admin_done_saved"), ("replayed", "admin_hook_done_replayed")],
    );
    endpoint_page(&state, &admin, StatusCode::OK, endpoint, &query, context! { notice }).await
}

/// The endpoint's page again with a message for `key`.
async fn again(
    state: &AppState,
    admin: &Admin,
    endpoint: WebhookEndpoint,
    status: StatusCode,
    key: &str,
) -> PageResult {
    let error = i18n::message(admin.visit.locale, key);
    endpoint_page(state, admin, status, endpoint, &DeliveriesQuery::default(), context! { error }).await
}

/// Like `PATCH /v1/admin/webhook-endpoints/{id}`: URL, events, description, enabled.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<EndpointForm>,
) -> PageResult {
    let endpoint = load(&state, endpoint_id(&id)?).await?;
    let Ok(url) = WebhookUrl::parse(&form.url) else {
        return again(&state, &admin, endpoint, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_hook_url")
            .await;
    };
    let Some(events) = event_types(&form.events) else {
        return again(&state, &admin, endpoint, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_hook_events")
            .await;
    };
    let Ok(description) = description_of(&form.description) else {
        return again(&state, &admin, endpoint, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_too_long")
            .await;
    };
    let changes = EndpointChanges {
        url: Some(url),
        events: Some(events),
        enabled: Some(form.enabled.is_some()),
        description: Some(description),
    };
    let id = endpoint.id;
    match state.webhooks.update_endpoint(id, changes).await {
        Ok(_) => Ok(see_other(&format!("/admin/webhooks/{id}?done=saved"))),
        Err(err) => {
            let (status, key) = refused(err)?;
            again(&state, &admin, endpoint, status, key).await
        }
    }
}

/// Like `DELETE /v1/admin/webhook-endpoints/{id}`: the endpoint and its deliveries.
#[tracing::instrument(skip_all)]
pub async fn delete(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    let endpoint = load(&state, endpoint_id(&id)?).await?;
    match state.webhooks.delete_endpoint(endpoint.id).await {
        Ok(()) => Ok(see_other("/admin/webhooks?done=deleted")),
        Err(WebhookError::EndpointNotFound) => Err(PageError::not_found()),
        Err(err) => {
            let (status, key) = refused(err)?;
            again(&state, &admin, endpoint, status, key).await
        }
    }
}

/// Like `POST /v1/admin/webhook-deliveries/{id}/replay`: queued again with fresh attempts;
/// back to its endpoint's page.
#[tracing::instrument(skip_all)]
pub async fn replay(State(state): State<AppState>, _admin: Admin, Path(id): Path<String>) -> PageResult {
    let id: WebhookDeliveryId = id.parse().map_err(|_| PageError::not_found())?;
    match state.webhooks.replay_delivery(id).await {
        Ok(delivery) => Ok(see_other(&format!("/admin/webhooks/{}?done=replayed", delivery.endpoint_id))),
        Err(WebhookError::DeliveryNotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_typed_as_a_list() {
        let types = event_types("order.created, order.shipped\nuser.registered").unwrap();
        assert_eq!(types.as_slice(), ["order.created", "order.shipped", "user.registered"]);
        assert_eq!(event_types("*").unwrap().as_slice(), ["*"]);
        assert!(event_types(" , ").is_none());
        assert!(event_types("Order Created").is_none());
    }
}
