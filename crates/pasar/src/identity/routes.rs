//! Identity's HTTP routes: `/v1/auth/*`, `/v1/me`, `/v1/me/addresses`, `/v1/admin/users`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::{Accepted, ProfileChange};
use super::addresses::{Address, AddressError, AddressInput, Phone};
use super::domain::{Email, Password, PersonName, Role, Text, TimeZoneName};
use super::service::{IdentityError, Principal, SessionOrigin, TokenPair, User, UserFilter};
use super::sessions::SessionInfo;
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::rate_limit::ClientIp;
use crate::http::{ApiResult, AppState};
use crate::ids::{AddressId, CartId, SessionId, UserId};
use crate::locale::Locale;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new()
        .routes(routes!(add_address))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(verify_email))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(change_email))
        .routes(routes!(resend_verification))
        .routes(routes!(list_sessions, end_sessions))
        .routes(routes!(end_session))
        .routes(routes!(deactivate_user))
        .routes(routes!(reactivate_user))
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
            IdentityError::AccountInactive => {
                ApiError::new(StatusCode::FORBIDDEN, "account_inactive", message)
            }
            IdentityError::AccountDeleted => ApiError::conflict("account_deleted", message),
            IdentityError::InvalidAccountToken => ApiError::bad_request("invalid_account_token", message),
            IdentityError::AccountTokenUsed => ApiError::new(StatusCode::GONE, "account_token_used", message),
            IdentityError::AccountTokenExpired => {
                ApiError::new(StatusCode::GONE, "account_token_expired", message)
            }
            IdentityError::WrongPassword => ApiError::new(StatusCode::FORBIDDEN, "wrong_password", message),
            IdentityError::EmailAlreadyVerified => ApiError::conflict("email_already_verified", message),
            IdentityError::NoEmailChangePending => ApiError::conflict("no_email_change_pending", message),
            IdentityError::SameEmail => ApiError::field("email", message),
            IdentityError::SessionNotFound => ApiError::not_found(),
            IdentityError::Deactivation(_) => ApiError::forbidden(message),
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
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenPair>)> {
    let origin = origin_of(&headers, ip);
    let pair = state.identity.register(body.email, body.password, body.name, Role::Customer, &origin).await?;
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
        (status = 403, description = "account_inactive: an admin deactivated the account", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    state.limits.check_login(ip, body.email.as_str())?;
    let pair = state.identity.login_from(&body.email, &body.password, &origin_of(&headers, ip)).await?;
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
        (status = 403, description = "account_inactive", body = ErrorEnvelope),
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

fn origin_of(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> SessionOrigin {
    SessionOrigin::new(headers.get(header::USER_AGENT).and_then(|agent| agent.to_str().ok()), ip)
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { status: "accepted" }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// The token from the link in the email.
    token: Text<256>,
}

/// Verify an email address with the token emailed to it: the account's address, or the new
/// address of an email change, which then becomes the account's address.
#[utoipa::path(
    post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, description = "the account, its address verified", body = User),
        (status = 400, description = "invalid_account_token", body = ErrorEnvelope),
        (status = 403, description = "account_inactive", body = ErrorEnvelope),
        (status = 409, description = "email_taken: the new address was taken meanwhile", body = ErrorEnvelope),
        (status = 410, description = "account_token_used or account_token_expired", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn verify_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.verify_email(body.token.as_str()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ForgotRequest {
    email: Email,
}

/// Ask for a password reset email. Always 202, whether or not the address has an account;
/// limited like login.
#[utoipa::path(
    post, path = "/v1/auth/password/forgot", tag = "auth", request_body = ForgotRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    state.limits.check_login(ip, &format!("forgot:{}", body.email))?;
    state.identity.forgot_password(&body.email).await?;
    Ok(accepted())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    token: Text<256>,
    password: Password,
}

/// Choose a new password with the token of a reset email (single use, 30 minutes). Every
/// session of the account ends.
#[utoipa::path(
    post, path = "/v1/auth/password/reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 204),
        (status = 400, description = "invalid_account_token", body = ErrorEnvelope),
        (status = 403, description = "account_inactive", body = ErrorEnvelope),
        (status = 410, description = "account_token_used or account_token_expired", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see Retry-After", body = ErrorEnvelope),
    )
)]
async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    state.limits.check_login(ip, &format!("reset:{}", body.token.as_str()))?;
    state.identity.reset_password(body.token.as_str(), &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileRequest {
    name: Option<PersonName>,
    phone: Option<Phone>,
    language: Option<Locale>,
    time_zone: Option<TimeZoneName>,
}

/// Change the caller's name, phone, language (`id`, `en`, `ja`) or time zone (an IANA name);
/// fields left out stay as they are.
#[utoipa::path(
    patch, path = "/v1/me", tag = "me", security(("bearer" = [])), request_body = ProfileRequest,
    responses((status = 200, body = User), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn update_me(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ProfileRequest>,
) -> ApiResult<Json<User>> {
    let change = ProfileChange {
        name: body.name,
        phone: body.phone,
        language: body.language,
        time_zone: body.time_zone,
    };
    Ok(Json(state.identity.change_profile(principal.user, change).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordConfirmation {
    password: Password,
}

/// Delete the caller's account, given its password. Name, email, phone, addresses and the
/// Telegram link are erased; then, from the outbox, the author's name on their reviews, their
/// store (closed, its profile and files erased) and their chat messages' text and images.
/// Orders and ledger entries stay for the books.
#[utoipa::path(
    delete, path = "/v1/me", tag = "me", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 204),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "wrong_password", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn delete_me(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> ApiResult<StatusCode> {
    state.identity.delete_account(&principal, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: Password,
    new: Password,
}

/// Change the caller's password, given the current one. The caller's other sessions end.
#[utoipa::path(
    post, path = "/v1/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 204),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "wrong_password", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state.identity.change_password(&principal, &body.current, &body.new).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EmailChangeRequest {
    email: Email,
    password: Password,
}

/// Ask to change the caller's email address, given the password. A token is emailed to the
/// new address; the change applies when it is used at `POST /v1/auth/verify-email`.
#[utoipa::path(
    post, path = "/v1/me/email", tag = "me", security(("bearer" = [])), request_body = EmailChangeRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "wrong_password", body = ErrorEnvelope),
        (status = 409, description = "email_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn change_email(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<EmailChangeRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    state.identity.request_email_change(&principal, &body.email, &body.password).await?;
    Ok(accepted())
}

/// Send the verification email for the caller's address again.
#[utoipa::path(
    post, path = "/v1/me/email/verification", tag = "me", security(("bearer" = [])),
    responses(
        (status = 202, body = Accepted),
        (status = 401, body = ErrorEnvelope),
        (status = 409, description = "email_already_verified", body = ErrorEnvelope),
    )
)]
async fn resend_verification(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    state.identity.request_email_verification(principal.user).await?;
    Ok(accepted())
}

#[derive(serde::Serialize, ToSchema)]
struct SessionList {
    data: Vec<SessionInfo>,
}

/// The caller's live sessions, most recently used first (at most 100).
#[utoipa::path(
    get, path = "/v1/me/sessions", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorEnvelope))
)]
async fn list_sessions(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList { data: state.identity.sessions(&principal).await? }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EndSessions {
    /// Keep the session making this request (log out everywhere else).
    keep_current: Option<bool>,
}

#[derive(serde::Serialize, ToSchema)]
struct SessionsEnded {
    ended: u64,
}

/// Log out everywhere: every session of the caller ends, or every other one with
/// `keep_current=true`.
#[utoipa::path(
    delete, path = "/v1/me/sessions", tag = "me", security(("bearer" = [])), params(EndSessions),
    responses((status = 200, body = SessionsEnded), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn end_sessions(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<EndSessions>,
) -> ApiResult<Json<SessionsEnded>> {
    let ended = state.identity.end_sessions(&principal, query.keep_current.unwrap_or(false)).await?;
    Ok(Json(SessionsEnded { ended }))
}

/// End one of the caller's sessions.
#[utoipa::path(
    delete, path = "/v1/me/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = SessionId, Path)),
    responses((status = 204), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn end_session(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<StatusCode> {
    state.identity.end_session(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivate an account: its sessions end at once and login is refused (`account_inactive`).
/// The rules of role changes apply: staff accounts take a super_admin, nobody acts on themselves.
#[utoipa::path(
    post, path = "/v1/admin/users/{id}/deactivate", tag = "admin", security(("bearer" = [])),
    params(("id" = UserId, Path)),
    responses(
        (status = 200, body = User),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "account_deleted", body = ErrorEnvelope),
    )
)]
async fn deactivate_user(
    State(state): State<AppState>,
    Staff(actor): Staff,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.set_active(&actor, id, false).await?))
}

/// Reactivate a deactivated account: its owner may log in again.
#[utoipa::path(
    post, path = "/v1/admin/users/{id}/reactivate", tag = "admin", security(("bearer" = [])),
    params(("id" = UserId, Path)),
    responses(
        (status = 200, body = User),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "account_deleted", body = ErrorEnvelope),
    )
)]
async fn reactivate_user(
    State(state): State<AppState>,
    Staff(actor): Staff,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.identity.set_active(&actor, id, true).await?))
}
