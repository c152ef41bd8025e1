//! Cart routes. A signed-in buyer uses their bearer token; a guest sends `X-Cart-Token`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{CartAccess, CartError, CartView, MAX_QUANTITY};
use crate::http::auth::MaybeCaller;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::{ApiResult, AppState};
use crate::identity::Role;
use crate::ids::{CartId, VariantId};

pub const TOKEN_HEADER: &str = "x-cart-token";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_cart))
        .routes(routes!(show_cart))
        .routes(routes!(add_item))
        .routes(routes!(change_item, remove_item))
}

impl From<CartError> for ApiError {
    fn from(err: CartError) -> Self {
        let message = err.to_string();
        match err {
            CartError::NotFound => ApiError::not_found(),
            CartError::NotForSale(variant) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_for_sale", message)
                    .with_details(serde_json::json!({ "variant_id": variant }))
            }
            CartError::StoreSuspended(variant) => ApiError::conflict("store_suspended", message)
                .with_details(serde_json::json!({ "variant_id": variant })),
            CartError::TooMany | CartError::TooManyLines => ApiError::conflict("cart_limit", message),
            CartError::Catalog(e) => e.into(),
            CartError::Database(e) => e.into(),
        }
    }
}

async fn access(
    state: &AppState,
    caller: &MaybeCaller,
    headers: &HeaderMap,
    id: CartId,
) -> ApiResult<CartAccess> {
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    Ok(state.carts.access(id, caller.0.as_ref(), token).await?)
}

fn role_of(caller: &MaybeCaller) -> Role {
    caller.0.map_or(Role::Customer, |p| p.role)
}

/// A signed-in buyer's cart, or a new guest cart (its `token` is in this answer only).
#[utoipa::path(
    post, path = "/v1/carts", tag = "cart", security((), ("bearer" = [])),
    responses((status = 201, body = CartView), (status = 401, body = ErrorEnvelope))
)]
async fn open_cart(
    State(state): State<AppState>,
    caller: MaybeCaller,
) -> ApiResult<(StatusCode, Json<CartView>)> {
    let (access, token) = state.carts.open(caller.0.map(|p| p.user)).await?;
    let mut view = state.carts.view(access, role_of(&caller)).await?;
    view.token = token;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A cart, priced now for the caller.
#[utoipa::path(
    get, path = "/v1/carts/{id}", tag = "cart", security((), ("bearer" = [])),
    params(("id" = CartId, Path), ("X-Cart-Token" = Option<String>, Header, description = "for a guest cart")),
    responses((status = 200, body = CartView), (status = 404, body = ErrorEnvelope))
)]
async fn show_cart(
    State(state): State<AppState>,
    caller: MaybeCaller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<CartId>,
) -> ApiResult<Json<CartView>> {
    let access = access(&state, &caller, &headers, id).await?;
    Ok(Json(state.carts.view(access, role_of(&caller)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewItem {
    variant_id: VariantId,
    /// 1 to 100; adds to what is already in the cart.
    #[schema(minimum = 1, maximum = 100)]
    quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct QuantityChange {
    /// 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    quantity: i64,
}

fn check_quantity(quantity: i64) -> ApiResult<()> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(ApiError::field("quantity", format!("must be between 1 and {MAX_QUANTITY}")))
    }
}

/// Put a variant in the cart.
#[utoipa::path(
    post, path = "/v1/carts/{id}/items", tag = "cart", security((), ("bearer" = [])), request_body = NewItem,
    params(("id" = CartId, Path), ("X-Cart-Token" = Option<String>, Header, description = "for a guest cart")),
    responses((status = 200, body = CartView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn add_item(
    State(state): State<AppState>,
    caller: MaybeCaller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<CartId>,
    ApiJson(body): ApiJson<NewItem>,
) -> ApiResult<Json<CartView>> {
    check_quantity(body.quantity)?;
    let access = access(&state, &caller, &headers, id).await?;
    state.carts.add(access, body.variant_id, body.quantity).await?;
    Ok(Json(state.carts.view(access, role_of(&caller)).await?))
}

/// Change how many of a variant the cart holds.
#[utoipa::path(
    patch, path = "/v1/carts/{id}/items/{variant_id}", tag = "cart", security((), ("bearer" = [])), request_body = QuantityChange,
    params(("id" = CartId, Path), ("variant_id" = VariantId, Path), ("X-Cart-Token" = Option<String>, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn change_item(
    State(state): State<AppState>,
    caller: MaybeCaller,
    headers: HeaderMap,
    ApiPath((id, variant)): ApiPath<(CartId, VariantId)>,
    ApiJson(body): ApiJson<QuantityChange>,
) -> ApiResult<Json<CartView>> {
    check_quantity(body.quantity)?;
    let access = access(&state, &caller, &headers, id).await?;
    state.carts.set_quantity(access, variant, body.quantity).await?;
    Ok(Json(state.carts.view(access, role_of(&caller)).await?))
}

/// Take a variant out of the cart.
#[utoipa::path(
    delete, path = "/v1/carts/{id}/items/{variant_id}", tag = "cart", security((), ("bearer" = [])),
    params(("id" = CartId, Path), ("variant_id" = VariantId, Path), ("X-Cart-Token" = Option<String>, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ErrorEnvelope))
)]
async fn remove_item(
    State(state): State<AppState>,
    caller: MaybeCaller,
    headers: HeaderMap,
    ApiPath((id, variant)): ApiPath<(CartId, VariantId)>,
) -> ApiResult<Json<CartView>> {
    let access = access(&state, &caller, &headers, id).await?;
    state.carts.remove(access, variant).await?;
    Ok(Json(state.carts.view(access, role_of(&caller)).await?))
}
