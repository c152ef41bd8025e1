//! Notifications' HTTP routes: the caller's inbox under `/v1/notifications`, their choices at
//! `/v1/me/notification-preferences`, the unsubscribe link (no login), and the admins' view of
//! every delivery under `/v1/admin/notifications`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{Category, Channel, Status};
use super::service::{NotificationsError, Preference};
use super::store::Notification;
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::ids::{EventId, NotificationId, UserId};
use crate::time::Timestamp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
        .routes(routes!(preferences, set_preferences))
        .routes(routes!(unsubscribe_page, unsubscribe))
        .routes(routes!(admin_list))
        .routes(routes!(resend))
}

impl From<NotificationsError> for ApiError {
    fn from(err: NotificationsError) -> Self {
        let message = err.to_string();
        match err {
            NotificationsError::NotFound => ApiError::not_found(),
            NotificationsError::Transactional(_) => ApiError::field("categories", message),
            NotificationsError::InvalidToken => ApiError::bad_request("invalid_token", message),
            NotificationsError::NotResendable => ApiError::conflict("not_resendable", message),
            NotificationsError::Identity(e) => e.into(),
            NotificationsError::Database(e) => e.into(),
        }
    }
}

// ---- the inbox ------------------------------------------------------------------------------

/// A notification in the caller's inbox.
#[derive(Serialize, ToSchema)]
struct InboxItem {
    id: NotificationId,
    category: Category,
    /// What it is about: `payment_received`, `order_shipped`…
    template: String,
    title: String,
    body: String,
    read: bool,
    created_at: Timestamp,
}

impl From<Notification> for InboxItem {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            category: n.category,
            template: n.template,
            title: n.subject,
            body: n.body_text,
            read: n.read_at.is_some(),
            created_at: n.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct InboxPage {
    data: Vec<InboxItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// Unread notifications in the whole inbox.
    unread: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Paging {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200)]
    cursor: Option<String>,
}

/// Your notifications, newest first, with the unread count.
#[utoipa::path(
    get, path = "/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(Paging),
    responses((status = 200, body = InboxPage), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn inbox(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<Paging>,
) -> ApiResult<Json<InboxPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (rows, more) = state.notifications.inbox(caller.user, page.position()?, page.limit()?).await?;
    let items: Vec<InboxItem> = rows.into_iter().map(InboxItem::from).collect();
    let Page { data, next_cursor } = Page::new(items, more, |n: &InboxItem| n.id.to_string());
    let unread = state.notifications.unread(caller.user).await?;
    Ok(Json(InboxPage { data, next_cursor, unread }))
}

#[derive(Serialize, ToSchema)]
struct UnreadCount {
    unread: i64,
}

/// How many of your notifications are unread (for a badge).
#[utoipa::path(
    get, path = "/v1/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorEnvelope))
)]
async fn unread_count(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<UnreadCount>> {
    Ok(Json(UnreadCount { unread: state.notifications.unread(caller.user).await? }))
}

/// Mark one of your notifications read. Someone else's is not found.
#[utoipa::path(
    post, path = "/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = NotificationId, Path)),
    responses((status = 204), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn mark_read(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<NotificationId>,
) -> ApiResult<StatusCode> {
    state.notifications.mark_read(caller.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct MarkedRead {
    /// How many were unread and are read now.
    marked: u64,
}

/// Mark all your notifications read.
#[utoipa::path(
    post, path = "/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead), (status = 401, body = ErrorEnvelope))
)]
async fn mark_all_read(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<MarkedRead>> {
    Ok(Json(MarkedRead { marked: state.notifications.mark_all_read(caller.user).await? }))
}

// ---- preferences ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryChoice {
    category: Category,
    enabled: bool,
}

#[derive(Serialize, ToSchema)]
struct CategorySetting {
    category: Category,
    enabled: bool,
    /// Transactional categories (orders, money, account, selling, operations) cannot be off.
    transactional: bool,
}

#[derive(Serialize, ToSchema)]
struct Preferences {
    categories: Vec<CategorySetting>,
}

impl From<Vec<Preference>> for Preferences {
    fn from(all: Vec<Preference>) -> Self {
        Self {
            categories: all
                .into_iter()
                .map(|p| CategorySetting {
                    category: p.category,
                    enabled: p.enabled,
                    transactional: p.category.is_transactional(),
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetPreferences {
    #[schema(max_items = 7)]
    categories: Vec<CategoryChoice>,
}

/// Which categories of notifications you receive.
#[utoipa::path(
    get, path = "/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 401, body = ErrorEnvelope))
)]
async fn preferences(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<Preferences>> {
    Ok(Json(state.notifications.preferences(caller.user).await?.into()))
}

/// Turn categories on or off. Marketing and review replies can be off; turning a transactional
/// category off is refused with 422.
#[utoipa::path(
    put, path = "/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = SetPreferences,
    responses((status = 200, body = Preferences), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn set_preferences(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<SetPreferences>,
) -> ApiResult<Json<Preferences>> {
    if body.categories.len() > Category::ALL.len() {
        return Err(ApiError::field("categories", "at most one choice per category"));
    }
    let choices: Vec<(Category, bool)> = body.categories.iter().map(|c| (c.category, c.enabled)).collect();
    Ok(Json(state.notifications.set_preferences(caller.user, &choices).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UnsubscribeQuery {
    /// The token of the link in the email.
    #[param(max_length = 300)]
    token: String,
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 480px; margin: 40px auto\"><h1>{title}</h1>{body}</body></html>"
    ))
}

/// The page an unsubscribe link opens (no login): it asks to confirm, so that a mail scanner
/// following links does not unsubscribe anyone.
#[utoipa::path(
    get, path = "/v1/notifications/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "a page with the confirmation button", content_type = "text/html", body = String),
        (status = 400, description = "invalid_token", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn unsubscribe_page(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UnsubscribeQuery>,
) -> ApiResult<Html<String>> {
    let (_, category) = state.notifications.unsubscribe_target(&query.token)?;
    let action = format!("/v1/notifications/unsubscribe?token={}", query.token);
    Ok(page(
        "Unsubscribe",
        &format!(
            "<p>Stop receiving <b>{}</b> emails?</p><form method=\"post\" action=\"{action}\">\
             <button type=\"submit\">Unsubscribe</button></form>",
            category.as_str()
        ),
    ))
}

/// Unsubscribe (no login): the category the link names is turned off for its person.
#[utoipa::path(
    post, path = "/v1/notifications/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "a page saying it is done", content_type = "text/html", body = String),
        (status = 400, description = "invalid_token", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn unsubscribe(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UnsubscribeQuery>,
) -> ApiResult<Html<String>> {
    let category = state.notifications.unsubscribe(&query.token).await?;
    Ok(page(
        "Unsubscribed",
        &format!("<p>You will no longer receive <b>{}</b> emails.</p>", category.as_str()),
    ))
}

// ---- admins ---------------------------------------------------------------------------------

/// A delivery as admins see it (without its body: it may hold a reset link).
#[derive(Serialize, ToSchema)]
struct DeliveryView {
    id: NotificationId,
    event_id: EventId,
    event_type: String,
    user_id: UserId,
    channel: Channel,
    template: String,
    category: Category,
    subject: String,
    status: Status,
    attempts: i64,
    /// Why the last attempt failed (for a dead delivery, why it was given up).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    next_attempt_at: Timestamp,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<Timestamp>,
}

impl From<Notification> for DeliveryView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            event_id: n.event_id,
            event_type: n.event_type,
            user_id: n.user_id,
            channel: n.channel,
            template: n.template,
            category: n.category,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            last_error: n.last_error,
            next_attempt_at: n.next_attempt_at,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = NotificationDeliveryPage)]
struct DeliveryPage {
    data: Vec<DeliveryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryFilter {
    status: Option<Status>,
    channel: Option<Channel>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200)]
    cursor: Option<String>,
}

/// Every notification delivery, newest first, filtered by status (`dead` for the dead
/// letters) and channel.
#[utoipa::path(
    get, path = "/v1/admin/notifications", tag = "admin", security(("bearer" = [])),
    params(DeliveryFilter),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn admin_list(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<DeliveryFilter>,
) -> ApiResult<Json<DeliveryPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (rows, more) =
        state.notifications.list(query.status, query.channel, page.position()?, page.limit()?).await?;
    let views: Vec<DeliveryView> = rows.into_iter().map(DeliveryView::from).collect();
    let Page { data, next_cursor } = Page::new(views, more, |n: &DeliveryView| n.id.to_string());
    Ok(Json(DeliveryPage { data, next_cursor }))
}

/// Send a sent or dead delivery again (email, Telegram or SMS), now, with a fresh count of
/// attempts.
#[utoipa::path(
    post, path = "/v1/admin/notifications/{id}/resend", tag = "admin", security(("bearer" = [])),
    params(("id" = NotificationId, Path)),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "not_resendable: pending already, or in-app", body = ErrorEnvelope),
    )
)]
async fn resend(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<NotificationId>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    Ok((StatusCode::ACCEPTED, Json(state.notifications.resend(id).await?.into())))
}
