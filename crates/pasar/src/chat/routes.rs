//! Chat's HTTP routes: conversations and messages under `/v1/chat`, the live socket at
//! `/v1/chat/ws`, images at `/v1/chat/images`, and reported conversations under
//! `/v1/admin/chat`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{ChatImage, ChatMessage, Conversation, MessageText, MyConversation, Unread, Window};
use super::service::{ChatError, NewConversation, NewMessage};
use super::ws;
use crate::catalog::routes::{ImageFile, upload_body};
use crate::http::auth::{Staff, Unauthenticated, bearer_token};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::domain::Text;
use crate::identity::{IdentityError, Principal};
use crate::ids::{ChatMessageId, ConversationId, MediaId, OrderId, ProductId, UserId};

/// Messages per page unless asked otherwise, and at most.
const DEFAULT_MESSAGES: usize = 50;
const MAX_MESSAGES: usize = 100;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    // An image body has its own limit, larger than the JSON routes' one.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_image))
        .route_layer(DefaultBodyLimit::max(state.chat.image_max_bytes()));
    OpenApiRouter::new()
        .routes(routes!(list_conversations, start_conversation))
        .routes(routes!(conversation_messages, send_message))
        .routes(routes!(mark_read))
        .routes(routes!(report))
        .routes(routes!(unread))
        .routes(routes!(serve_image))
        .routes(routes!(reported))
        .routes(routes!(admin_messages))
        .routes(routes!(socket))
        .merge(uploads)
}

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> Self {
        let message = err.to_string();
        match err {
            ChatError::NotFound => ApiError::not_found(),
            ChatError::Invalid { field, message } => ApiError::field(field, message),
            ChatError::AlreadyReported => ApiError::conflict("already_reported", message),
            ChatError::RateLimited { retry_after_secs } => ApiError::too_many_requests(retry_after_secs),
            ChatError::Upload(refused) => refused.into(),
            ChatError::Storage(e) => ApiError::unavailable(e),
            ChatError::Sellers(e) => e.into(),
            ChatError::Catalog(e) => e.into(),
            ChatError::Orders(e) => e.into(),
            ChatError::Database(e) => e.into(),
        }
    }
}

// ---- conversations --------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    /// The store written to: its id (`sel_…`) or its slug. It must be open (approved).
    store: Text<120>,
    /// A product of that store the conversation is about.
    #[serde(default)]
    product_id: Option<ProductId>,
    /// One of your orders with a line from that store the conversation is about (not with
    /// `product_id`).
    #[serde(default)]
    order_id: Option<OrderId>,
    /// The first message: 1 to 2,000 characters.
    text: MessageText,
}

#[derive(Serialize, ToSchema)]
struct Started {
    conversation: MyConversation,
    message: ChatMessage,
}

/// Write to a store. A buyer has one conversation per store and subject (the store itself, a
/// product, or an order): writing again about the same subject adds the message to it (200)
/// instead of opening another (201). Limited to `chat_messages_per_minute` messages per user.
#[utoipa::path(
    post, path = "/v1/chat/conversations", tag = "chat", security(("bearer" = [])),
    request_body = StartRequest,
    responses(
        (status = 201, description = "a new conversation", body = Started),
        (status = 200, description = "the conversation you had about this subject, with the message added", body = Started),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "rate_limited: too many messages; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn start_conversation(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<StartRequest>,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let new = NewConversation {
        store: body.store.as_ref().to_owned(),
        product: body.product_id,
        order: body.order_id,
        text: body.text,
    };
    let started = state.chat.start(caller.user, new).await?;
    let status = if started.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Started { conversation: started.conversation, message: started.message })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ConversationPage {
    data: Vec<MyConversation>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Your conversations, the most recently active first: as a buyer, and as your store's
/// owner. Each says which side you are on and how many of its messages you have not read.
#[utoipa::path(
    get, path = "/v1/chat/conversations", tag = "chat", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = ConversationPage), (status = 422, body = ErrorEnvelope))
)]
async fn list_conversations(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let limit = page.limit()?;
    let after: Option<ChatMessageId> = page.position()?;
    let (found, more) = state.chat.conversations(caller.user, after, limit).await?;
    let Page { data, next_cursor } =
        Page::new(found, more, |last: &MyConversation| last.conversation.last_message_id.to_string());
    Ok(Json(ConversationPage { data, next_cursor }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// Messages after this one, oldest first (for catching up).
    after: Option<ChatMessageId>,
    /// Messages before this one (for scrolling back); without `after`, the newest of them.
    before: Option<ChatMessageId>,
    /// Messages per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

impl MessagesQuery {
    fn window(&self) -> Result<Window, ApiError> {
        let limit = match self.limit {
            None => DEFAULT_MESSAGES,
            Some(n) if (1..=MAX_MESSAGES).contains(&n) => n,
            Some(_) => return Err(ApiError::field("limit", format!("must be between 1 and {MAX_MESSAGES}"))),
        };
        Ok(Window { after: self.after, before: self.before, limit })
    }
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
struct MessagePage {
    data: Vec<ChatMessage>,
    /// Whether more messages lie beyond this page: after its last one when read with
    /// `after`, before its first one otherwise. Pass that message's id to get them.
    more: bool,
}

/// A conversation's messages, oldest first within the page: the newest by default, the ones
/// after `after` to catch up, or the ones before `before` to scroll back. Someone else's
/// conversation is not found.
#[utoipa::path(
    get, path = "/v1/chat/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = ConversationId, Path), MessagesQuery),
    responses((status = 200, body = MessagePage), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn conversation_messages(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<MessagePage>> {
    let (data, more) = state.chat.messages(caller.user, id, query.window()?).await?;
    Ok(Json(MessagePage { data, more }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    /// 1 to 2,000 characters.
    text: MessageText,
    /// An image uploaded through `POST /v1/chat/images` and not sent yet.
    #[serde(default)]
    image: Option<MediaId>,
}

/// Send a message in one of your conversations; both sides' open sockets get it at once.
/// Limited to `chat_messages_per_minute` messages per user.
#[utoipa::path(
    post, path = "/v1/chat/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = ConversationId, Path)), request_body = SendRequest,
    responses(
        (status = 201, body = ChatMessage),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "rate_limited: too many messages; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn send_message(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<SendRequest>,
) -> ApiResult<(StatusCode, Json<ChatMessage>)> {
    let message = state.chat.send(caller.user, id, NewMessage { text: body.text, image: body.image }).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReadRequest {
    /// Read up to this message; the conversation's last one when absent.
    #[serde(default)]
    message_id: Option<ChatMessageId>,
}

/// Mark a conversation read by your side, up to a message or to its end. A read marker never
/// moves back.
#[utoipa::path(
    post, path = "/v1/chat/conversations/{id}/read", tag = "chat", security(("bearer" = [])),
    params(("id" = ConversationId, Path)), request_body = ReadRequest,
    responses((status = 200, body = MyConversation), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn mark_read(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<ReadRequest>,
) -> ApiResult<Json<MyConversation>> {
    Ok(Json(state.chat.mark_read(caller.user, id, body.message_id).await?))
}

/// How many messages you have not read, and in how many conversations.
#[utoipa::path(
    get, path = "/v1/chat/unread", tag = "chat", security(("bearer" = [])),
    responses((status = 200, body = Unread))
)]
async fn unread(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<Unread>> {
    Ok(Json(state.chat.unread(caller.user).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportRequest {
    /// What is wrong, for the admins.
    reason: Text<500>,
}

/// Report one of your conversations to the shop's admins (once): they may then read it, and
/// each of their reads is audited.
#[utoipa::path(
    post, path = "/v1/chat/conversations/{id}/report", tag = "chat", security(("bearer" = [])),
    params(("id" = ConversationId, Path)), request_body = ReportRequest,
    responses(
        (status = 200, body = MyConversation),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "already_reported", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn report(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<ReportRequest>,
) -> ApiResult<Json<MyConversation>> {
    Ok(Json(state.chat.report(caller.user, id, body.reason.as_ref()).await?))
}

// ---- images ---------------------------------------------------------------------------------

/// Upload an image to send: the raw PNG, JPEG, WebP or GIF as the body, with its Content-Type.
/// Name its `id` as `image` when you send the message. Only you, the conversation it is sent
/// in, and admins reading a reported conversation can see it.
#[utoipa::path(
    post, path = "/v1/chat/images", tag = "chat", security(("bearer" = [])),
    request_body(
        description = "the image file itself, sent with its own type as Content-Type",
        content((ImageFile = "image/png"), (ImageFile = "image/jpeg"), (ImageFile = "image/webp"), (ImageFile = "image/gif")),
    ),
    responses(
        (status = 201, body = ChatImage),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_image(
    State(state): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<ChatImage>)> {
    let bytes = upload_body(body, state.chat.image_max_bytes())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let image = state.chat.upload_image(caller.user, content_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(image)))
}

/// An image sent in a chat, as its `url` names it: for its sender, the conversation's
/// participants, and admins once the conversation is reported.
#[utoipa::path(
    get, path = "/v1/chat/images/{key}", tag = "chat", security(("bearer" = [])),
    params(("key" = String, Path, description = "`{media id}.{extension}`")),
    responses(
        (status = 200, description = "the image, with its content type", content_type = "image/*", body = ImageFile),
        (status = 404, body = ErrorEnvelope),
    )
)]
async fn serve_image(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Response> {
    let (content_type, bytes) = state.chat.image(caller, &key).await?;
    let content_type = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // Private to the conversation: no shared cache may keep it.
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

// ---- admins ---------------------------------------------------------------------------------

/// A conversation a participant reported, with who reported it and why.
#[derive(Serialize, ToSchema)]
struct ReportedConversation {
    #[serde(flatten)]
    conversation: Conversation,
    reported_by: UserId,
    reason: String,
}

#[derive(Serialize, ToSchema)]
struct ReportedPage {
    data: Vec<ReportedConversation>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Reported conversations, the newest first.
#[utoipa::path(
    get, path = "/v1/admin/chat/conversations", tag = "chat", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = ReportedPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn reported(
    State(state): State<AppState>,
    Staff(_admin): Staff,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ReportedPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let limit = page.limit()?;
    let after: Option<ConversationId> = page.position()?;
    let (found, more) = state.chat.reported(after, limit).await?;
    let found = found
        .into_iter()
        .map(|(conversation, reported_by, reason)| ReportedConversation { conversation, reported_by, reason })
        .collect();
    let Page { data, next_cursor } =
        Page::new(found, more, |last: &ReportedConversation| last.conversation.id.to_string());
    Ok(Json(ReportedPage { data, next_cursor }))
}

/// Read a reported conversation's messages (paged as for its participants). Every read is
/// recorded in the audit log (`chat.conversation.read_by_admin`); a conversation nobody
/// reported is not found.
#[utoipa::path(
    get, path = "/v1/admin/chat/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = ConversationId, Path), MessagesQuery),
    responses(
        (status = 200, body = MessagePage),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn admin_messages(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<MessagePage>> {
    let (data, more) = state.chat.messages_for_admin(admin.user, id, query.window()?).await?;
    Ok(Json(MessagePage { data, more }))
}

// ---- the socket -----------------------------------------------------------------------------

/// The longest access token the socket reads from its query (the document's `maxLength`).
const MAX_TOKEN_CHARS: usize = 4096;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SocketQuery {
    /// Your access token. Browsers cannot set headers on a WebSocket, so it goes here; other
    /// clients may send `Authorization: Bearer` instead.
    #[param(max_length = 4096)]
    access_token: Option<String>,
    /// The last message this client saw: the server first sends every message of your
    /// conversations after it (at most 500; read the rest over REST).
    after: Option<ChatMessageId>,
}

/// The live chat socket. Authenticate with `?access_token=` (or `Authorization: Bearer`).
/// The server sends JSON text frames: `{"type":"message","message":{…}}` for each new message
/// of your conversations (yours included), `{"type":"ready"}` once the messages after `after`
/// are sent, `{"type":"sent","ref":…,"message_id":…}` and `{"type":"error","ref":…,"code":…,
/// "message":…}` in answer to yours. You send `{"type":"send","conversation_id":…,"text":…,
/// "image":…,"ref":…}` (`image` and `ref` optional; the same limits as REST). When the token
/// expires or the session ends the server closes with code 4001: reconnect with a fresh token
/// and `after` = the last message id you saw.
#[utoipa::path(
    get, path = "/v1/chat/ws", tag = "chat",
    params(SocketQuery),
    responses(
        (status = 101, description = "switched to the WebSocket protocol"),
        (status = 401, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 426, description = "upgrade_required: not a WebSocket handshake", body = ErrorEnvelope),
    )
)]
async fn socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Response> {
    // The query's token is checked even when a header carries one: a request is refused for
    // what it says, whichever token wins.
    if query.access_token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_CHARS) {
        return Err(ApiError::field("access_token", format!("must be at most {MAX_TOKEN_CHARS} characters"))
            .into_response());
    }
    let token = bearer_token(&headers).map(str::to_owned).or(query.access_token).ok_or_else(|| {
        Unauthenticated(ApiError::unauthorized(
            "unauthenticated",
            "the chat socket needs an access token: ?access_token=<token>",
        ))
        .into_response()
    })?;
    let principal = match state.identity.authenticate(&token).await {
        Ok(principal) => principal,
        Err(IdentityError::Unauthenticated) => {
            return Err(Unauthenticated(ApiError::unauthorized(
                "unauthenticated",
                "the access token is invalid or expired, or its session has ended",
            ))
            .into_response());
        }
        Err(other) => return Err(ApiError::from(other).into_response()),
    };
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "this route is a WebSocket: send its handshake",
        )
        .into_response()
    })?;
    let chat = state.chat.clone();
    let identity = state.identity.clone();
    Ok(upgrade
        .max_message_size(ws::MAX_FRAME)
        .max_frame_size(ws::MAX_FRAME)
        .on_upgrade(move |socket| ws::serve(chat, identity, token, principal.user, query.after, socket)))
}
