//! Search's HTTP routes: `/v1/search` and `/v1/search/suggest` for everyone,
//! `/v1/admin/search/reindex` for admins.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{MAX_QUERY_CHARS, SearchSort};
use super::service::{Facets, SearchError, SearchHit, SearchRequest, Suggestion};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::ApiQuery;
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::ids::UserId;

/// How far into the results a cursor may go: deeper pages are a crawl, not a search.
const MAX_OFFSET: usize = 10_000;
/// Most suggestions one answer gives.
const MAX_SUGGESTIONS: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(suggest)).routes(routes!(reindex))
}

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::Catalog(err) => err.into(),
            SearchError::Index(err) => ApiError::internal(err),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// The words to find, in any language (Indonesian, English, Japanese…), at most 100
    /// characters. The last word also matches words it begins (search as you type); words of
    /// five letters or more forgive one typo. Empty lists everything the filters allow.
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
    /// Products in this category or any category below it: its id (`cat_…`) or its slug.
    category: Option<String>,
    /// Products of this brand: its id (`brd_…`) or its slug.
    brand: Option<String>,
    /// Products of this store: its slug (a store that is not live matches nothing) or its
    /// owner's user id (`usr_…`), as the `store` facet gives it.
    store: Option<String>,
    /// Lowest "from" price (the cheapest variant's), in minor units.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    price_min: Option<u64>,
    /// Highest "from" price, in minor units.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    price_max: Option<u64>,
    /// `true`: only products with a variant that can be bought now; `false`: only those
    /// without.
    in_stock: Option<bool>,
    /// Only products whose reviews average at least this many stars (1 to 5); products
    /// without reviews are left out.
    #[param(minimum = 1, maximum = 5)]
    rating_min: Option<u64>,
    /// `relevance` (default: best match first, or newest when `q` is empty), `newest`,
    /// `price_asc` or `price_desc`.
    #[param(inline)]
    sort: Option<SearchSort>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (of the same query).
    cursor: Option<String>,
}

/// One page of products found, the facet counts of all of them, and how many there are.
#[derive(Serialize, ToSchema)]
struct SearchPage {
    data: Vec<SearchHit>,
    facets: Facets,
    /// How many products match, on every page.
    total: usize,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Checks the text of a query the way the product listing does.
fn query_text(q: Option<String>) -> ApiResult<String> {
    let q = q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::field("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    // PostgreSQL text cannot hold NUL, and no one types a control character into a search box.
    if q.chars().any(char::is_control) {
        return Err(ApiError::field("q", "must not contain control characters"));
    }
    Ok(q)
}

impl SearchQuery {
    fn parse(self) -> ApiResult<SearchRequest> {
        let page = PageQuery { limit: self.limit, cursor: self.cursor };
        let limit = page.limit()?;
        let offset: usize = page.position()?.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::field("cursor", "not a cursor this API issued"));
        }
        // Prices are Money, bounded at ±10^15 minor units.
        let most = crate::money::Money::LIMIT.unsigned_abs();
        for (name, price) in [("price_min", self.price_min), ("price_max", self.price_max)] {
            if price.is_some_and(|p| p > most) {
                return Err(ApiError::field(name, format!("must be at most {most} minor units")));
            }
        }
        if let (Some(min), Some(max)) = (self.price_min, self.price_max) {
            if min > max {
                return Err(ApiError::field("price_min", "must not be above price_max"));
            }
        }
        if self.rating_min.is_some_and(|stars| !(1..=5).contains(&stars)) {
            return Err(ApiError::field("rating_min", "must be a whole number of stars from 1 to 5"));
        }
        Ok(SearchRequest {
            q: query_text(self.q)?,
            category: self.category,
            brand: self.brand,
            store: self.store,
            price_min: self.price_min,
            price_max: self.price_max,
            in_stock: self.in_stock,
            rating_min: self.rating_min,
            sort: self.sort.unwrap_or_default(),
            offset,
            limit,
        })
    }
}

/// Full-text search over the products on sale, ranked by relevance (BM25), with filters and
/// facet counts for the whole result.
#[utoipa::path(
    get, path = "/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchPage), (status = 422, body = ErrorEnvelope))
)]
async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchPage>> {
    let mut request = query.parse()?;
    if let Some(slug) = request.store.take_if(|store| !store.starts_with(UserId::PREFIX)) {
        let owner = state.sellers.live_store_owner(&slug).await?;
        request.store = Some(owner.map_or(slug, |owner| owner.to_string()));
    }
    let (offset, limit) = (request.offset, request.limit);
    let found = state.search.search(request).await?;
    let Page { data, next_cursor } =
        Page::new(found.hits, found.more && offset + limit <= MAX_OFFSET, |_| (offset + limit).to_string());
    Ok(Json(SearchPage { data, facets: found.facets, total: found.total, next_cursor }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SuggestQuery {
    /// What has been typed so far (at most 100 characters).
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Suggestions {
    /// Up to ten product names, best match first; none for an empty query.
    data: Vec<Suggestion>,
}

/// Autocomplete: names of products on sale that match what has been typed so far.
#[utoipa::path(
    get, path = "/v1/search/suggest", tag = "search", params(SuggestQuery),
    responses((status = 200, body = Suggestions), (status = 422, body = ErrorEnvelope))
)]
async fn suggest(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SuggestQuery>,
) -> ApiResult<Json<Suggestions>> {
    let q = query_text(query.q)?;
    Ok(Json(Suggestions { data: state.search.suggest(&q, MAX_SUGGESTIONS).await? }))
}

#[derive(Serialize, ToSchema)]
struct Reindexed {
    /// Products now in this instance's index.
    indexed: u64,
}

/// Rebuilds this instance's search index from the catalog (as `pasar search reindex` does).
#[utoipa::path(
    post, path = "/v1/admin/search/reindex", tag = "search", security(("bearer" = [])),
    responses(
        (status = 200, body = Reindexed),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
    )
)]
async fn reindex(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<Reindexed>> {
    Ok(Json(Reindexed { indexed: state.search.reindex().await? }))
}
