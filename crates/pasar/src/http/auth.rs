//! Who is calling. Every route either takes one of these extractors or is public on purpose
//! (registration, login, refresh, health): that is the guard on every route.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::identity::{IdentityError, Principal, Role};
use crate::ids::{SellerId, UserId};
use crate::sellers::SellerStatus;

/// The bearer token of a request, if it carries one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A 401 that tells the client how to authenticate.
pub struct Unauthenticated(pub ApiError);

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // Already authenticated by the idempotency layer, for this same request.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(*principal);
        }
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            Unauthenticated(ApiError::unauthorized(
                "unauthenticated",
                "this route needs an access token: Authorization: Bearer <token>",
            ))
            .into_response()
        })?;
        match state.identity.authenticate(token).await {
            Ok(principal) => Ok(principal),
            Err(IdentityError::Unauthenticated) => Err(Unauthenticated(ApiError::unauthorized(
                "unauthenticated",
                "the access token is invalid or expired, or its session has ended",
            ))
            .into_response()),
            Err(other) => Err(ApiError::from(other).into_response()),
        }
    }
}

/// A caller who runs the shop: `admin` or `super_admin`.
pub struct Staff(pub Principal);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.role.is_staff() {
            Ok(Staff(principal))
        } else {
            Err(ApiError::forbidden("this route is for admins").into_response())
        }
    }
}

/// A caller who may or may not be signed in; a token that is present must be valid.
pub struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if parts.headers.contains_key(AUTHORIZATION) {
            Principal::from_request_parts(parts, state).await.map(|p| MaybeCaller(Some(p)))
        } else {
            Ok(MaybeCaller(None))
        }
    }
}

/// A caller who runs an approved store: the `seller` role and a store an admin approved. The
/// store's routes (`/v1/seller/…`) take this. A suspended store's owner may still read (GET)
/// its own things but change nothing (403 `store_suspended`); a customer, a pending or
/// rejected applicant, or staff get 403.
pub struct ActiveSeller {
    pub principal: Principal,
    /// The store's owner: what its products carry as `seller_id`.
    pub user: UserId,
    pub seller: SellerId,
}

impl FromRequestParts<AppState> for ActiveSeller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        seller_with_store(parts, state, false).await
    }
}

/// A seller seeing its orders through: like [`ActiveSeller`], but a suspended store may still
/// pack, ship, deliver and cancel the orders it had (its products are hidden and cannot be
/// bought; open orders continue).
pub struct FulfillingSeller(pub ActiveSeller);

impl FromRequestParts<AppState> for FulfillingSeller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        seller_with_store(parts, state, true).await.map(FulfillingSeller)
    }
}

async fn seller_with_store(
    parts: &mut Parts,
    state: &AppState,
    suspended_may_act: bool,
) -> Result<ActiveSeller, Response> {
    let principal = Principal::from_request_parts(parts, state).await?;
    let refused = || ApiError::forbidden("this route is for sellers whose store is approved").into_response();
    if principal.role != Role::Seller {
        return Err(refused());
    }
    let store =
        state.sellers.store_of_user(principal.user).await.map_err(|e| ApiError::from(e).into_response())?;
    let store = store.ok_or_else(refused)?;
    let reads = parts.method == Method::GET || parts.method == Method::HEAD;
    match store.status {
        SellerStatus::Approved => {}
        SellerStatus::Suspended if reads || suspended_may_act => {}
        SellerStatus::Suspended => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "store_suspended",
                "your store is suspended: it can read but not change anything until an admin reinstates it",
            )
            .into_response());
        }
        SellerStatus::Pending | SellerStatus::Rejected | SellerStatus::Closed => return Err(refused()),
    }
    Ok(ActiveSeller { principal, user: principal.user, seller: store.id })
}
