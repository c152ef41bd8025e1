//! Web Push's routes: the server's public key at `/v1/push/public-key`, and a user's browsers
//! under `/v1/me/push-subscriptions` (subscribe, list, end, send a test message).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{PushMessage, Subscription, SubscriptionKeys};
use super::service::{PushError, PushSent};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::ids::PushSubscriptionId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(subscribe, my_subscriptions))
        .routes(routes!(unsubscribe))
        .routes(routes!(send_test))
}

impl From<PushError> for ApiError {
    fn from(err: PushError) -> Self {
        let message = err.to_string();
        match err {
            PushError::NotConfigured => ApiError::new(StatusCode::NOT_FOUND, "push_not_configured", message),
            PushError::Invalid { field, message } => ApiError::field(field, message),
            PushError::EndpointRefused(refused) => ApiError::field("endpoint", refused.to_string()),
            PushError::NotFound => ApiError::not_found(),
            PushError::RateLimited(after) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "push_service_rate_limited", message)
                    .with_retry_after(after.as_secs().max(1))
            }
            PushError::Unreachable(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "push_service_unavailable", message)
            }
            PushError::Database(e) => e.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct PublicKey {
    /// The server's VAPID public key (uncompressed P-256 point, base64url): pass it to
    /// `PushManager.subscribe({applicationServerKey})`.
    public_key: String,
}

/// The key a browser subscribes with. 404 `push_not_configured` when Web Push is off.
#[utoipa::path(
    get, path = "/v1/push/public-key", tag = "notifications",
    responses(
        (status = 200, body = PublicKey),
        (status = 404, description = "push_not_configured: Web Push is off on this server", body = ErrorEnvelope),
    )
)]
async fn public_key(State(state): State<AppState>) -> ApiResult<Json<PublicKey>> {
    Ok(Json(PublicKey { public_key: state.push.public_key()? }))
}

/// What `PushSubscription.toJSON()` gives in a browser.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    /// The push service's URL for this browser.
    #[schema(min_length = 1, max_length = 2000)]
    endpoint: String,
    keys: SubscriptionKeys,
    /// When the browser says the subscription lapses (milliseconds); Pasar learns it from the
    /// push service instead.
    #[serde(rename = "expirationTime")]
    #[allow(dead_code)]
    expiration_time: Option<f64>,
}

/// Subscribe this browser to your notifications. Subscribing an endpoint again (or for another
/// account signed in on the same browser) replaces its subscription.
#[utoipa::path(
    post, path = "/v1/me/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    request_body = SubscribeRequest,
    responses(
        (status = 201, body = Subscription),
        (status = 404, description = "push_not_configured", body = ErrorEnvelope),
        (status = 422, description = "an endpoint or keys that are not a push subscription's", body = ErrorEnvelope),
    )
)]
async fn subscribe(
    State(state): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubscribeRequest>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    if body.endpoint.len() > 2000 {
        return Err(ApiError::field("endpoint", "must be at most 2000 characters"));
    }
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let subscription = state.push.subscribe(caller.user, &body.endpoint, &body.keys, agent).await?;
    Ok((StatusCode::CREATED, Json(subscription)))
}

#[derive(Serialize, ToSchema)]
struct Subscriptions {
    data: Vec<Subscription>,
}

/// The browsers subscribed to your notifications.
#[utoipa::path(
    get, path = "/v1/me/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Subscriptions))
)]
async fn my_subscriptions(
    State(state): State<AppState>,
    caller: Principal,
) -> ApiResult<Json<Subscriptions>> {
    Ok(Json(Subscriptions { data: state.push.subscriptions(caller.user).await? }))
}

/// Stop notifications to one of your browsers.
#[utoipa::path(
    delete, path = "/v1/me/push-subscriptions/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = PushSubscriptionId, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope))
)]
async fn unsubscribe(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<PushSubscriptionId>,
) -> ApiResult<StatusCode> {
    state.push.unsubscribe(caller.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send yourself a test notification on every subscribed browser: to see that they show.
#[utoipa::path(
    post, path = "/v1/me/push-subscriptions/test", tag = "notifications", security(("bearer" = [])),
    responses(
        (status = 200, body = PushSent),
        (status = 404, description = "push_not_configured", body = ErrorEnvelope),
        (status = 502, description = "no push service took it and one can be retried", body = ErrorEnvelope),
    )
)]
async fn send_test(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<PushSent>> {
    let message = PushMessage {
        title: "Pasar".into(),
        body: "Notifications reach this browser.".into(),
        url: None,
        tag: Some("pasar-test".into()),
    };
    Ok(Json(state.push.send(caller.user, &message).await?))
}
