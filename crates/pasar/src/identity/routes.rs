//! Identity's HTTP routes: `/v1/auth/*`, `/v1/me`, `/v1/me/addresses`, `/v1/admin/users`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::addresses::{Address, AddressError, AddressInput};
use super::domain::{Email, Password, PersonName, Role, Text};
use super::service::{IdentityError, Principal, TokenPair, User, UserFilter};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::rate_limit::ClientIp;
use crate::http::{ApiResult, AppState};
use crate::ids::{AddressId, CartId, UserId};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new()
        .routes(routes!(add_address))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(telegram_link))
        .routes(routes!(list_addresses))
        .routes(routes!(get_address, replace_address, remove_address))
        .routes(routes!(list_users))
        .routes(routes!(get_user))
        .routes(routes!(change_role))
        .merge(idempotent)
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        let message = err.to_string();
        match err {
            IdentityError::EmailTaken => ApiError::conflict("email_taken", message),
            IdentityError::InvalidCredentials => ApiError::unauthorized("invalid_credentials", message),
            IdentityError::InvalidRefreshToken => ApiError::unauthorized("invalid_refresh_token", message),
            IdentityError::RefreshTokenReused => ApiError::unauthorized("refresh_token_reused", message),
            IdentityError::Unauthenticated => ApiError::unauthorized("unauthenticated", message),
            IdentityError::RoleChange(_) => ApiError::forbidden(message),
            IdentityError::UserNotFound => ApiError::not_found(),
            IdentityError::InvalidLinkCode => ApiError::bad_request("invalid_link_code", message),
            IdentityError::TelegramTaken => ApiError::conflict("telegram_taken", message),
            IdentityError::Database(e) => e.into(),
            IdentityError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<AddressError> for ApiError {
    fn from(err: AddressError) -> Self {
        match err {
            AddressError::NotFound => ApiError::not_found(),
            AddressError::TooMany => ApiError::conflict("too_many_addresses", err.to_string()),
            AddressError::Database(e) => e.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    email: Email,
    password: Password,
    name: PersonName,
}

/// Create a customer account and log in.
#[utoipa::path(
    post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = TokenPair),
        (status = 400, description = "malformed JSON", body = ErrorEnvelope),
        (status = 409, description = "email_taken", body = ErrorEnvelope),
        (status = 422, description = "validation_failed", body = ErrorEnvelope),
    )
)]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenPair>)> {
    let pair = state.identity.register(body.email, body.password, body.name, Role::Customer).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: Email,
    password: Password,
    /// A guest cart to merge into the buyer's own cart.
    cart: Option<GuestCart>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GuestCart {
    id: CartId,
    token: Text<64>,
}

/// Log in with email and password. Attempts are limited per account and per IP. A guest cart
/// given with its token is merged into the buyer's cart.
#[utoipa::path(
    post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "invalid_credentials", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    state.limits.check_login(ip, body.email.as_str())?;
    let pair = state.identity.login(&body.email, &body.password).await?;
    if let Some(cart) = body.cart {
        // Login has succeeded either way; a cart that cannot be merged is left as it was.
        if let Err(err) = state.carts.merge_guest(pair.user.id, cart.id, cart.token.as_str()).await {
            tracing::info!(error = %err, "guest cart not merged at login");
        }
    }
    Ok(Json(pair))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: Text<256>,
}

/// Exchange a refresh token for a new token pair. The old refresh token stops working;
/// presenting it again revokes the whole session.
#[utoipa::path(
    post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "invalid_refresh_token or refresh_token_reused", body = ErrorEnvelope),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(state.identity.refresh(body.refresh_token.as_str()).await?))
}

/// End the current session: its access and refresh tokens stop working.
#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorEnvelope))
)]
async fn logout(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
    state.identity.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(
    get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorEnvelope))
)]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.user(principal.user).await?))
}

/// A one-time code linking a Telegram user to this account.
#[derive(serde::Serialize, ToSchema)]
struct TelegramLink {
    /// Send `/link CODE` to the shop's bot within ten minutes.
    code: String,
    expires_at: crate::time::Timestamp,
}

/// A one-time code to link the caller's Telegram user to this account: sent to the bot as
/// `/link CODE`, it makes the bot act as this account (its role, prices, balance and orders).
#[utoipa::path(
    post, path = "/v1/me/telegram-link", tag = "me", security(("bearer" = [])),
    responses((status = 201, body = TelegramLink), (status = 401, body = ErrorEnvelope))
)]
async fn telegram_link(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<(StatusCode, Json<TelegramLink>)> {
    let (code, expires_at) = state.identity.telegram_link_code(&principal).await?;
    Ok((StatusCode::CREATED, Json(TelegramLink { code, expires_at })))
}

#[derive(serde::Serialize, ToSchema)]
struct AddressList {
    data: Vec<Address>,
}

/// The caller's addresses.
#[utoipa::path(
    get, path = "/v1/me/addresses", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = AddressList), (status = 401, body = ErrorEnvelope))
)]
async fn list_addresses(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<AddressList>> {
    Ok(Json(AddressList { data: state.identity.addresses(principal.user).await? }))
}

/// Save an address. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/me/addresses", tag = "me", security(("bearer" = [])),
    request_body = AddressInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the first response is replayed for 24 hours")),
    responses(
        (status = 201, body = Address),
        (status = 409, description = "too_many_addresses or idempotency_request_in_progress", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn add_address(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<AddressInput>,
) -> ApiResult<(StatusCode, Json<Address>)> {
    let address = state.identity.add_address(principal.user, body).await?;
    Ok((StatusCode::CREATED, Json(address)))
}

/// One of the caller's addresses.
#[utoipa::path(
    get, path = "/v1/me/addresses/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = AddressId, Path)),
    responses((status = 200, body = Address), (status = 404, body = ErrorEnvelope))
)]
async fn get_address(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<AddressId>,
) -> ApiResult<Json<Address>> {
    Ok(Json(state.identity.address(principal.user, id).await?))
}

/// Replace one of the caller's addresses.
#[utoipa::path(
    put, path = "/v1/me/addresses/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = AddressId, Path)), request_body = AddressInput,
    responses((status = 200, body = Address), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn replace_address(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<AddressId>,
    ApiJson(body): ApiJson<AddressInput>,
) -> ApiResult<Json<Address>> {
    Ok(Json(state.identity.replace_address(principal.user, id, body).await?))
}

/// Delete one of the caller's addresses.
#[utoipa::path(
    delete, path = "/v1/me/addresses/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = AddressId, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope))
)]
async fn remove_address(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<AddressId>,
) -> ApiResult<StatusCode> {
    state.identity.remove_address(principal.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UserSearch {
    /// Text to find in email or name (at most 100 characters).
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
    role: Option<Role>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
struct UserPage {
    data: Vec<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Users, newest first, with search and cursor pagination.
#[utoipa::path(
    get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(UserSearch),
    responses((status = 200, body = UserPage), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn list_users(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<UserSearch>,
) -> ApiResult<Json<UserPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let search = query.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::field("q", "must be at most 100 characters"));
    }
    // PostgreSQL text cannot hold NUL: refused here rather than failing in the database.
    if search.as_ref().is_some_and(|q| q.chars().any(char::is_control)) {
        return Err(ApiError::field("q", "must not contain control characters"));
    }
    let filter = UserFilter { search, role: query.role, before: page.position()? };
    let (users, more) = state.identity.list_users(&filter, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(users, more, |user: &User| user.id.to_string());
    Ok(Json(UserPage { data, next_cursor }))
}

/// One user.
#[utoipa::path(
    get, path = "/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = UserId, Path)),
    responses((status = 200, body = User), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn get_user(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.user(id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: Role,
}

/// Change a user's role. Admins manage customer, reseller and seller roles; only a super_admin
/// grants or removes admin and super_admin; nobody changes their own role.
#[utoipa::path(
    put, path = "/v1/admin/users/{id}/role", tag = "admin", security(("bearer" = [])),
    params(("id" = UserId, Path)), request_body = RoleChange,
    responses(
        (status = 200, body = User),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn change_role(
    State(state): State<AppState>,
    Staff(actor): Staff,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<RoleChange>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.change_role(&actor, id, body.role).await?))
}
