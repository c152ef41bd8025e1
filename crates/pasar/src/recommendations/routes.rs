//! Recommendations' HTTP routes: a product page's lists at
//! `/v1/products/{id_or_slug}/recommendations` and the caller's own at `/v1/me/recommendations`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{ProductRecommendations, RecommendationsError, RecommendedProduct};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::ApiPath;
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(for_product)).routes(routes!(for_me))
}

impl From<RecommendationsError> for ApiError {
    fn from(err: RecommendationsError) -> Self {
        match err {
            RecommendationsError::Catalog(e) => e.into(),
            RecommendationsError::Inventory(e) => e.into(),
            RecommendationsError::Orders(e) => e.into(),
            RecommendationsError::Database(e) => e.into(),
        }
    }
}

/// What goes with a product: bought together with it, similar to it, popular in its category.
/// Only products a shopper can buy now (active, in stock, from a store that is not suspended);
/// the same answer every time for the same history.
#[utoipa::path(
    get, path = "/v1/products/{id_or_slug}/recommendations", tag = "recommendations",
    params(("id_or_slug" = String, Path, description = "a product id or slug")),
    responses((status = 200, body = ProductRecommendations), (status = 404, body = ErrorEnvelope))
)]
async fn for_product(
    State(state): State<AppState>,
    ApiPath(id_or_slug): ApiPath<String>,
) -> ApiResult<Json<ProductRecommendations>> {
    Ok(Json(state.recommendations.for_product(&id_or_slug).await?))
}

#[derive(Serialize, ToSchema)]
struct MyRecommendations {
    data: Vec<RecommendedProduct>,
}

/// Suggestions for the caller from what they bought: what others bought with it, then what
/// sells best in the same categories. Never something they bought already, out of stock,
/// archived or from a suspended store.
#[utoipa::path(
    get, path = "/v1/me/recommendations", tag = "recommendations", security(("bearer" = [])),
    responses((status = 200, body = MyRecommendations), (status = 401, body = ErrorEnvelope))
)]
async fn for_me(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<MyRecommendations>> {
    Ok(Json(MyRecommendations { data: state.recommendations.for_buyer(caller.user).await? }))
}
