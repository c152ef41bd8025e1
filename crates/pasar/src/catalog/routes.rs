//! The catalog's HTTP routes: `/v1/admin/{products,variants,categories,brands}` for admins,
//! `/v1/seller/{products,variants}` for a store's owner (the admin routes' shapes, on its own
//! products only), `/v1/{products,categories,brands}` and `/media/{key}` for everyone.

use std::future::Future;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{ProductCursor, ProductSort, ProductStatus};
use super::media::UploadRefused;
use super::service::{
    Actor, Brand, BrandInput, CatalogError, Category, CategoryChange, CategoryInput, CategoryNode, Media,
    NewProduct, NewVariant, Product, ProductChange, ProductFilter, Variant, VariantChange, cursor_after,
};
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::{IdentityError, Role};
use crate::ids::{BrandId, CategoryId, MediaId, ProductId, UserId, VariantId};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new()
        .routes(routes!(create_product))
        .routes(routes!(add_variant))
        .routes(routes!(create_category))
        .routes(routes!(create_brand))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), Callers::Staff),
            idempotency::idempotent,
        ));
    let sellers_idempotent = OpenApiRouter::new()
        .routes(routes!(create_own_product))
        .routes(routes!(add_own_variant))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), Callers::SignedIn),
            idempotency::idempotent,
        ));
    // An image body has its own limit, larger than the JSON routes' one.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_media))
        .routes(routes!(upload_own_media))
        .route_layer(DefaultBodyLimit::max(state.catalog.media_max_bytes()));
    OpenApiRouter::new()
        .routes(routes!(list_products_for_staff))
        .routes(routes!(get_product_for_staff, update_product))
        .routes(routes!(update_variant))
        .routes(routes!(remove_media))
        .routes(routes!(list_categories_for_staff))
        .routes(routes!(update_category, delete_category))
        .routes(routes!(list_brands_for_staff))
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(category_tree))
        .routes(routes!(list_brands))
        .routes(routes!(list_own_products))
        .routes(routes!(get_own_product, update_own_product))
        .routes(routes!(update_own_variant))
        .routes(routes!(remove_own_media))
        .merge(idempotent)
        .merge(sellers_idempotent)
        .merge(uploads)
}

/// `/media/{key}`: product images, served outside the API's rate limit (a page shows many of
/// them, and caches and CDNs in front keep most requests away anyway).
pub fn media_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve_media))
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        let message = err.to_string();
        match err {
            CatalogError::ProductNotFound
            | CatalogError::VariantNotFound
            | CatalogError::CategoryNotFound
            | CatalogError::MediaNotFound => ApiError::not_found(),
            CatalogError::SkuTaken(_) => ApiError::conflict("sku_taken", message),
            CatalogError::SlugTaken => ApiError::conflict("slug_taken", message),
            CatalogError::CategoryHasChildren => ApiError::conflict("category_has_children", message),
            CatalogError::CategoryHasProducts => ApiError::conflict("category_has_products", message),
            CatalogError::TooManyMedia => ApiError::conflict("too_many_media", message),
            CatalogError::Refused(refused) => ApiError::field(refused.field, refused.message),
            CatalogError::Upload(refused) => refused.into(),
            CatalogError::Storage(e) => ApiError::unavailable(e),
            CatalogError::Database(e) => e.into(),
        }
    }
}

/// The seller a product is assigned to must be a user with the `seller` role.
async fn check_seller(state: &AppState, seller: Option<UserId>) -> ApiResult<()> {
    let Some(id) = seller else { return Ok(()) };
    match state.identity.user(id).await {
        Ok(user) if user.role == Role::Seller => Ok(()),
        Ok(_) => Err(ApiError::field("seller_id", "this user is not a seller")),
        Err(IdentityError::UserNotFound) => Err(ApiError::field("seller_id", "no such user")),
        Err(other) => Err(other.into()),
    }
}

/// Answers with a public read from the cache, computing and caching it on a miss.
async fn cached<T: Serialize, E>(
    state: &AppState,
    key: String,
    load: impl Future<Output = Result<T, E>>,
) -> ApiResult<Response>
where
    ApiError: From<E>,
{
    let body = state
        .catalog
        .cache()
        .get_or_load(key, async {
            let value = load.await?;
            serde_json::to_vec(&value).map(Bytes::from).map_err(ApiError::internal)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

// ---- listing products -----------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ProductSearch {
    /// Products in this category or any category below it: its id (`cat_…`) or its slug
    /// (`t-shirts`).
    category: Option<String>,
    /// Products of this store: its slug (`GET /v1/stores/{slug}`). A slug no live store has
    /// lists nothing.
    #[param(max_length = 120)]
    store: Option<String>,
    /// Products of this brand: its id (`brd_…`) or its slug.
    brand: Option<String>,
    /// `true`: only the products the shop features (on its home page); `false`: only the others.
    featured: Option<bool>,
    /// Lowest "from" price (the cheapest variant's), in minor units.
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest "from" price, in minor units.
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Text to find in the name, any case (at most 100 characters).
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
    #[param(inline)]
    sort: Option<ProductSort>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (of the same sort).
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StaffProductSearch {
    /// Only products in this status; all statuses when absent.
    status: Option<ProductStatus>,
    /// Products in this category or any category below it: its id (`cat_…`) or its slug
    /// (`t-shirts`).
    category: Option<String>,
    /// Products of this brand: its id (`brd_…`) or its slug.
    brand: Option<String>,
    /// Lowest "from" price (the cheapest variant's), in minor units.
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest "from" price, in minor units.
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Text to find in the name, any case (at most 100 characters).
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
    #[param(inline)]
    sort: Option<ProductSort>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (of the same sort).
    cursor: Option<String>,
}

impl ProductSearch {
    /// The filter and page size the query asks for, or what is wrong with it. The category and
    /// brand are left to [`named_in`], which may have to look their slugs up.
    fn parse(self, status: Option<ProductStatus>) -> ApiResult<(ProductFilter, usize)> {
        let page = PageQuery { limit: self.limit, cursor: self.cursor };
        let limit = page.limit()?;
        let sort = self.sort.unwrap_or_default();
        let after: Option<ProductCursor> = page.position()?;
        if after.as_ref().is_some_and(|cursor| cursor.sort() != sort) {
            return Err(ApiError::field("cursor", "this cursor belongs to a listing in another order"));
        }
        for (field, price) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if price.is_some_and(|p| p < 0) {
                return Err(ApiError::field(field, "must not be negative"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_price, self.max_price) {
            if min > max {
                return Err(ApiError::field("min_price", "must not be above max_price"));
            }
        }
        let search = self.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
            return Err(ApiError::field("q", "must be at most 100 characters"));
        }
        // PostgreSQL text cannot hold NUL: refused here rather than failing in the database.
        if search.as_ref().is_some_and(|q| q.chars().any(char::is_control)) {
            return Err(ApiError::field("q", "must not contain control characters"));
        }
        let filter = ProductFilter {
            status,
            category: None,
            brand: None,
            seller: None,
            featured: self.featured,
            include_hidden_stores: false,
            min_price: self.min_price,
            max_price: self.max_price,
            search,
            sort,
            after,
        };
        Ok((filter, limit))
    }
}

#[derive(Serialize, ToSchema)]
struct ProductPage {
    data: Vec<Product>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The category and brand a listing names (by id or slug) put into its filter. A name no
/// category or brand has matches no product (as an unknown id does); an empty one filters
/// nothing.
async fn named_in(
    state: &AppState,
    mut filter: ProductFilter,
    category: Option<&str>,
    brand: Option<&str>,
) -> Result<ProductFilter, CatalogError> {
    if let Some(category) = category.filter(|c| !c.is_empty()) {
        // A fresh id is in no category: the listing is empty.
        filter.category = Some(state.catalog.category_named(category).await?.unwrap_or_else(CategoryId::new));
    }
    if let Some(brand) = brand.filter(|b| !b.is_empty()) {
        filter.brand = Some(state.catalog.brand_named(brand).await?.unwrap_or_else(BrandId::new));
    }
    Ok(filter)
}

async fn product_page(
    state: &AppState,
    filter: &ProductFilter,
    limit: usize,
) -> Result<ProductPage, CatalogError> {
    let (products, more) = state.catalog.list_products(filter, limit).await?;
    let Page { data, next_cursor } =
        Page::new(products, more, |last: &Product| cursor_after(last, filter.sort).to_string());
    Ok(ProductPage { data, next_cursor })
}

/// Fills in each variant's availability from the inventory (one read for all of them), for the
/// public product list and page; without the counts when the shop hides them.
async fn with_availability(state: &AppState, products: &mut [Product]) -> ApiResult<()> {
    let variants: Vec<VariantId> = products.iter().flat_map(|p| p.variants.iter().map(|v| v.id)).collect();
    let levels = state.inventory.levels(&variants).await?;
    for variant in products.iter_mut().flat_map(|p| p.variants.iter_mut()) {
        variant.availability = levels.get(&variant.id).map(|level| match state.config.stock_show_counts {
            true => level.availability(),
            false => level.availability().without_count(),
        });
    }
    Ok(())
}

/// Products on sale (active), with filters, a choice of order and cursor pagination.
#[utoipa::path(
    get, path = "/v1/products", tag = "catalog", params(ProductSearch),
    responses((status = 200, body = ProductPage), (status = 422, body = ErrorEnvelope))
)]
async fn list_products(
    State(state): State<AppState>,
    ApiQuery(mut query): ApiQuery<ProductSearch>,
) -> ApiResult<Response> {
    let (category, brand, store) = (query.category.take(), query.brand.take(), query.store.take());
    if store.as_ref().is_some_and(|slug| slug.chars().count() > 120) {
        return Err(ApiError::field("store", "a store's slug is at most 120 characters"));
    }
    let (filter, limit) = query.parse(Some(ProductStatus::Active))?;
    let key = format!("products:{filter:?}:{category:?}:{brand:?}:{store:?}:{limit}");
    cached(&state, key, async {
        let mut filter: ProductFilter =
            named_in(&state, filter, category.as_deref(), brand.as_deref()).await?;
        if let Some(store) = store.filter(|s| !s.is_empty()) {
            // A fresh id owns no product: an unknown store's listing is empty.
            filter.seller = Some(state.sellers.live_store_owner(&store).await?.unwrap_or_else(UserId::new));
        }
        let mut page = product_page(&state, &filter, limit).await?;
        with_availability(&state, &mut page.data).await?;
        ApiResult::Ok(page)
    })
    .await
}

/// Products in every status, with the shoppers' filters, order and pagination.
#[utoipa::path(
    get, path = "/v1/admin/products", tag = "catalog", security(("bearer" = [])), params(StaffProductSearch),
    responses(
        (status = 200, body = ProductPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn list_products_for_staff(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<StaffProductSearch>,
) -> ApiResult<Json<ProductPage>> {
    Ok(Json(managed_products(&state, query, None).await?))
}

/// Products in every status, suspended stores' included, for admins (every store) or a
/// seller (`seller`: its own).
async fn managed_products(
    state: &AppState,
    query: StaffProductSearch,
    seller: Option<UserId>,
) -> ApiResult<ProductPage> {
    let search = ProductSearch {
        category: None,
        store: None,
        brand: None,
        featured: None,
        min_price: query.min_price,
        max_price: query.max_price,
        q: query.q,
        sort: query.sort,
        limit: query.limit,
        cursor: query.cursor,
    };
    let (mut filter, limit) = search.parse(query.status)?;
    filter.seller = seller;
    filter.include_hidden_stores = true;
    let filter = named_in(state, filter, query.category.as_deref(), query.brand.as_deref()).await?;
    Ok(product_page(state, &filter, limit).await?)
}

// ---- one product ----------------------------------------------------------------------------

/// A product on sale, by id (`prd_…`) or slug. Draft and archived products are not found.
#[utoipa::path(
    get, path = "/v1/products/{id_or_slug}", tag = "catalog",
    params(("id_or_slug" = String, Path, description = "a product id or slug")),
    responses((status = 200, body = Product), (status = 404, body = ErrorEnvelope))
)]
async fn get_product(
    State(state): State<AppState>,
    ApiPath(id_or_slug): ApiPath<String>,
) -> ApiResult<Response> {
    let key = format!("product:{id_or_slug}");
    cached(&state, key, async {
        let mut product = state.catalog.product_for_shoppers(&id_or_slug).await?;
        with_availability(&state, std::slice::from_mut(&mut product)).await?;
        ApiResult::Ok(product)
    })
    .await
}

/// A product in any status.
#[utoipa::path(
    get, path = "/v1/admin/products/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = ProductId, Path)),
    responses((status = 200, body = Product), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn get_product_for_staff(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Product>> {
    Ok(Json(state.catalog.product(id).await?))
}

/// Create a product with its variants. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/products", tag = "catalog", security(("bearer" = [])),
    request_body = NewProduct,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the first response is replayed for 24 hours")),
    responses(
        (status = 201, body = Product),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "sku_taken or slug_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn create_product(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiJson(body): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    check_seller(&state, body.seller_id).await?;
    let product = state.catalog.create_product(Actor::Staff(admin.user), body).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Change a product's fields (not its variants, which change one by one), `featured` included.
#[utoipa::path(
    patch, path = "/v1/admin/products/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = ProductId, Path)), request_body = ProductChange,
    responses(
        (status = 200, body = Product),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "slug_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_product(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<ProductChange>,
) -> ApiResult<Json<Product>> {
    check_seller(&state, body.seller_id.flatten()).await?;
    Ok(Json(state.catalog.update_product(Actor::Staff(admin.user), id, body).await?))
}

// ---- variants -------------------------------------------------------------------------------

/// Add a variant to a product, priced in the currency of its other variants. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/products/{id}/variants", tag = "catalog", security(("bearer" = [])),
    params(("id" = ProductId, Path)), request_body = NewVariant,
    responses(
        (status = 201, body = Variant),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "sku_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn add_variant(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<NewVariant>,
) -> ApiResult<(StatusCode, Json<Variant>)> {
    let variant = state.catalog.add_variant(Actor::Staff(admin.user), id, body).await?;
    Ok((StatusCode::CREATED, Json(variant)))
}

/// Change a variant's SKU, options, prices or weight.
#[utoipa::path(
    patch, path = "/v1/admin/variants/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = VariantChange,
    responses(
        (status = 200, body = Variant),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "sku_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_variant(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<VariantChange>,
) -> ApiResult<Json<Variant>> {
    Ok(Json(state.catalog.update_variant(Actor::Staff(admin.user), id, body).await?))
}

// ---- media ----------------------------------------------------------------------------------

/// An image file's bytes, as the OpenAPI document shows them (a file upload, not JSON).
pub(crate) struct ImageFile;

impl utoipa::PartialSchema for ImageFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for ImageFile {}

/// Upload a product image: the raw PNG, JPEG, WebP or GIF as the body, with its Content-Type.
#[utoipa::path(
    post, path = "/v1/admin/products/{id}/media", tag = "catalog", security(("bearer" = [])),
    params(("id" = ProductId, Path)),
    request_body(
        description = "the image file itself, sent with its own type as Content-Type",
        content((ImageFile = "image/png"), (ImageFile = "image/jpeg"), (ImageFile = "image/webp"), (ImageFile = "image/gif")),
    ),
    responses(
        (status = 201, body = Media),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "too_many_media", body = ErrorEnvelope),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_media(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ProductId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Media>)> {
    media_upload(&state, Actor::Staff(admin.user), id, &headers, body).await
}

/// An upload refused: too large (413) or not the image it says it is (415). Every module that
/// takes images answers these alike.
impl From<UploadRefused> for ApiError {
    fn from(refused: UploadRefused) -> Self {
        let message = refused.to_string();
        match refused {
            UploadRefused::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
            }
            UploadRefused::NotAnImage | UploadRefused::TypeMismatch { .. } => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
            }
        }
    }
}

/// The body of an upload of at most `max` bytes, or the error a too-large or unreadable one is.
pub fn upload_body(body: Result<Bytes, BytesRejection>, max: usize) -> ApiResult<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadRefused::TooLarge { max }.into()
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        }
    })
}

/// Stores an uploaded product image for an admin or the product's seller.
async fn media_upload(
    state: &AppState,
    actor: Actor,
    id: ProductId,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Media>)> {
    let bytes = upload_body(body, state.catalog.media_max_bytes())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let media = state.catalog.add_media(actor, id, content_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(media)))
}

/// Remove an image from a product.
#[utoipa::path(
    delete, path = "/v1/admin/products/{id}/media/{media_id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = ProductId, Path), ("media_id" = MediaId, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn remove_media(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath((id, media_id)): ApiPath<(ProductId, MediaId)>,
) -> ApiResult<StatusCode> {
    state.catalog.remove_media(Actor::Staff(admin.user), id, media_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A product image, as its `url` names it.
#[utoipa::path(
    get, path = "/media/{key}", tag = "catalog",
    params(("key" = String, Path, description = "`{media id}.{extension}`")),
    responses(
        (status = 200, description = "the image, with its content type", content_type = "image/*", body = ImageFile),
        (status = 404, body = ErrorEnvelope),
    )
)]
async fn serve_media(State(state): State<AppState>, ApiPath(key): ApiPath<String>) -> ApiResult<Response> {
    let (content_type, bytes) = state.catalog.media_object(&key).await?;
    let content_type = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // A key is never reused for other bytes, so caches may keep it for good.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

// ---- categories -----------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
struct CategoryList {
    data: Vec<Category>,
}

#[derive(Serialize, ToSchema)]
struct CategoryTree {
    data: Vec<CategoryNode>,
}

/// The category tree shoppers browse.
#[utoipa::path(get, path = "/v1/categories", tag = "catalog", responses((status = 200, body = CategoryTree)))]
async fn category_tree(State(state): State<AppState>) -> ApiResult<Response> {
    cached(&state, "categories".into(), async {
        Ok::<_, CatalogError>(CategoryTree { data: state.catalog.category_tree().await? })
    })
    .await
}

/// Every category, flat, by name.
#[utoipa::path(
    get, path = "/v1/admin/categories", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = CategoryList), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn list_categories_for_staff(
    State(state): State<AppState>,
    _staff: Staff,
) -> ApiResult<Json<CategoryList>> {
    Ok(Json(CategoryList { data: state.catalog.categories().await? }))
}

/// Create a category, at the top or under a parent. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/categories", tag = "catalog", security(("bearer" = [])),
    request_body = CategoryInput,
    responses(
        (status = 201, body = Category),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "slug_taken", body = ErrorEnvelope),
        (status = 422, description = "validation_failed, such as an unknown parent", body = ErrorEnvelope),
    )
)]
async fn create_category(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiJson(body): ApiJson<CategoryInput>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    let category = state.catalog.create_category(Actor::Staff(admin.user), body).await?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// Rename or move a category. A move under itself or one of its subcategories is refused.
#[utoipa::path(
    patch, path = "/v1/admin/categories/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = CategoryId, Path)), request_body = CategoryChange,
    responses(
        (status = 200, body = Category),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "slug_taken", body = ErrorEnvelope),
        (status = 422, description = "validation_failed, such as a cycle or an unknown parent", body = ErrorEnvelope),
    )
)]
async fn update_category(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<CategoryId>,
    ApiJson(body): ApiJson<CategoryChange>,
) -> ApiResult<Json<Category>> {
    Ok(Json(state.catalog.update_category(Actor::Staff(admin.user), id, body).await?))
}

/// Delete an empty category.
#[utoipa::path(
    delete, path = "/v1/admin/categories/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = CategoryId, Path)),
    responses(
        (status = 204),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "category_has_children or category_has_products", body = ErrorEnvelope),
    )
)]
async fn delete_category(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<CategoryId>,
) -> ApiResult<StatusCode> {
    state.catalog.delete_category(Actor::Staff(admin.user), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- brands ---------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
struct BrandList {
    data: Vec<Brand>,
}

/// Every brand, by name.
#[utoipa::path(get, path = "/v1/brands", tag = "catalog", responses((status = 200, body = BrandList)))]
async fn list_brands(State(state): State<AppState>) -> ApiResult<Response> {
    cached(&state, "brands".into(), async {
        Ok::<_, CatalogError>(BrandList { data: state.catalog.brands().await? })
    })
    .await
}

/// Every brand, by name.
#[utoipa::path(
    get, path = "/v1/admin/brands", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = BrandList), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn list_brands_for_staff(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<BrandList>> {
    Ok(Json(BrandList { data: state.catalog.brands().await? }))
}

/// Create a brand. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/brands", tag = "catalog", security(("bearer" = [])),
    request_body = BrandInput,
    responses(
        (status = 201, body = Brand),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "slug_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn create_brand(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiJson(body): ApiJson<BrandInput>,
) -> ApiResult<(StatusCode, Json<Brand>)> {
    let brand = state.catalog.create_brand(Actor::Staff(admin.user), body).await?;
    Ok((StatusCode::CREATED, Json(brand)))
}

// ---- a seller's own products ------------------------------------------------------------------
//
// The admin routes' shapes on the caller's own store: the catalog service checks that each
// product or variant is the seller's (another store's is a 404), and a new product's
// `seller_id` is always the caller.

/// The caller's products in every status, with the admin listing's filters.
#[utoipa::path(
    get, path = "/v1/seller/products", tag = "seller", security(("bearer" = [])), params(StaffProductSearch),
    responses(
        (status = 200, body = ProductPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn list_own_products(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiQuery(query): ApiQuery<StaffProductSearch>,
) -> ApiResult<Json<ProductPage>> {
    Ok(Json(managed_products(&state, query, Some(seller.user)).await?))
}

/// One of the caller's products, in any status.
#[utoipa::path(
    get, path = "/v1/seller/products/{id}", tag = "seller", security(("bearer" = [])),
    params(("id" = ProductId, Path)),
    responses((status = 200, body = Product), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn get_own_product(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Product>> {
    Ok(Json(state.catalog.product_as(Actor::Seller(seller.user), id).await?))
}

/// Create a product in the caller's store (`seller_id` is the caller, whatever the body says).
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/products", tag = "seller", security(("bearer" = [])),
    request_body = NewProduct,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the first response is replayed for 24 hours")),
    responses(
        (status = 201, body = Product),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "not an approved seller, or store_suspended", body = ErrorEnvelope),
        (status = 409, description = "sku_taken or slug_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn create_own_product(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiJson(mut body): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    body.seller_id = Some(seller.user);
    let product = state.catalog.create_product(Actor::Seller(seller.user), body).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Change one of the caller's products (its `seller_id` cannot name another store).
#[utoipa::path(
    patch, path = "/v1/seller/products/{id}", tag = "seller", security(("bearer" = [])),
    params(("id" = ProductId, Path)), request_body = ProductChange,
    responses(
        (status = 200, body = Product),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "slug_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_own_product(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<ProductChange>,
) -> ApiResult<Json<Product>> {
    Ok(Json(state.catalog.update_product(Actor::Seller(seller.user), id, body).await?))
}

/// Add a variant to one of the caller's products. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/products/{id}/variants", tag = "seller", security(("bearer" = [])),
    params(("id" = ProductId, Path)), request_body = NewVariant,
    responses(
        (status = 201, body = Variant),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "sku_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn add_own_variant(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<NewVariant>,
) -> ApiResult<(StatusCode, Json<Variant>)> {
    let variant = state.catalog.add_variant(Actor::Seller(seller.user), id, body).await?;
    Ok((StatusCode::CREATED, Json(variant)))
}

/// Change a variant of one of the caller's products.
#[utoipa::path(
    patch, path = "/v1/seller/variants/{id}", tag = "seller", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = VariantChange,
    responses(
        (status = 200, body = Variant),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "sku_taken", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_own_variant(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<VariantChange>,
) -> ApiResult<Json<Variant>> {
    Ok(Json(state.catalog.update_variant(Actor::Seller(seller.user), id, body).await?))
}

/// Upload an image of one of the caller's products, as the admin route takes it.
#[utoipa::path(
    post, path = "/v1/seller/products/{id}/media", tag = "seller", security(("bearer" = [])),
    params(("id" = ProductId, Path)),
    request_body(
        description = "the image file itself, sent with its own type as Content-Type",
        content((ImageFile = "image/png"), (ImageFile = "image/jpeg"), (ImageFile = "image/webp"), (ImageFile = "image/gif")),
    ),
    responses(
        (status = 201, body = Media),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "too_many_media", body = ErrorEnvelope),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_own_media(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<ProductId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Media>)> {
    media_upload(&state, Actor::Seller(seller.user), id, &headers, body).await
}

/// Remove an image from one of the caller's products.
#[utoipa::path(
    delete, path = "/v1/seller/products/{id}/media/{media_id}", tag = "seller", security(("bearer" = [])),
    params(("id" = ProductId, Path), ("media_id" = MediaId, Path)),
    responses((status = 204), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn remove_own_media(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath((id, media_id)): ApiPath<(ProductId, MediaId)>,
) -> ApiResult<StatusCode> {
    state.catalog.remove_media(Actor::Seller(seller.user), id, media_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
