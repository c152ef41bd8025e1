//! Who is calling. Every route either takes one of these extractors or is public on purpose
//! (registration, login, refresh, health): that is the guard on every route.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::identity::{IdentityError, Principal};

/// The bearer token of a request, if it carries one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A 401 that tells the client how to authenticate.
pub struct Unauthenticated(ApiError);

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

/// A caller who sells in the marketplace: the `seller` role.
pub struct SellerCaller(pub Principal);

impl FromRequestParts<AppState> for SellerCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.role == crate::identity::Role::Seller {
            Ok(SellerCaller(principal))
        } else {
            Err(ApiError::forbidden("this route is for sellers").into_response())
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
