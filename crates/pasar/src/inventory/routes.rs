//! Inventory's routes: stock levels and movements, adjustments, thresholds and digital items,
//! for admins (`/v1/admin/variants/…`, any variant) and for a store's owner
//! (`/v1/seller/variants/…`, the same shapes on its own variants; another store's is a 404).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{
    DigitalFile, MAX_ITEM_CHARS, MAX_ITEMS_PER_ADD, StockLevel, StockMovement, acceptable_file_name,
    file_content_type, unacceptable_item,
};
use super::import::{self, ImportError, ImportedLevel};
use super::service::{InventoryError, ItemsAdded};
use crate::catalog::{Actor, ProductKind};
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope, FieldError};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, RawBody};
use crate::http::idempotency::{self, Callers};
use crate::http::{ApiResult, AppState};
use crate::identity::domain::Text;
use crate::ids::VariantId;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new()
        .routes(routes!(adjust_stock))
        .routes(routes!(add_digital_items))
        .routes(routes!(add_digital_file))
        .routes(routes!(import_stock))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), Callers::Staff),
            idempotency::idempotent,
        ));
    let sellers_idempotent = OpenApiRouter::new()
        .routes(routes!(adjust_own_stock))
        .routes(routes!(add_own_digital_items))
        .route_layer(middleware::from_fn_with_state((state, Callers::SignedIn), idempotency::idempotent));
    OpenApiRouter::new()
        .routes(routes!(stock))
        .routes(routes!(set_threshold))
        .routes(routes!(own_stock))
        .routes(routes!(set_own_threshold))
        .merge(idempotent)
        .merge(sellers_idempotent)
}

impl From<InventoryError> for ApiError {
    fn from(err: InventoryError) -> Self {
        match err {
            InventoryError::OutOfStock { variant_id } => ApiError::conflict("out_of_stock", err.to_string())
                .with_details(serde_json::json!({ "variant_id": variant_id })),
            InventoryError::BelowReserved => ApiError::conflict("stock_below_reserved", err.to_string()),
            InventoryError::DigitalStockIsItems => ApiError::conflict("digital_stock", err.to_string()),
            InventoryError::CannotRestock(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_restock", err.to_string())
            }
            InventoryError::Database(e) => e.into(),
            InventoryError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::Invalid(lines) => {
                let fields: Vec<FieldError> = lines
                    .iter()
                    .map(|bad| FieldError {
                        field: format!("lines[{}].{}", bad.line, bad.problem.column()),
                        message: bad.problem.message(),
                    })
                    .collect();
                let details = serde_json::json!({ "fields": fields, "lines": lines });
                ApiError::validation(fields).with_details(details)
            }
            ImportError::Catalog(err) => err.into(),
            ImportError::Inventory(err) => err.into(),
        }
    }
}

/// The variant's kind from the catalog; an unknown variant, or another store's for a seller,
/// is a 404.
async fn kind_of(state: &AppState, actor: Actor, variant: VariantId) -> ApiResult<ProductKind> {
    state.catalog.variant_kind_as(actor, variant).await?.ok_or_else(ApiError::not_found)
}

/// Who a stock change is recorded as.
fn acting(actor: Actor) -> String {
    match actor {
        Actor::Staff(user) | Actor::Seller(user) => user.to_string(),
        Actor::System => crate::events::SYSTEM.to_owned(),
    }
}

#[derive(Serialize, ToSchema)]
struct StockReport {
    #[serde(flatten)]
    level: StockLevel,
    /// Newest first, up to 100.
    movements: Vec<StockMovement>,
}

/// A variant's stock: on hand, reserved, available, and its latest movements.
#[utoipa::path(
    get, path = "/v1/admin/variants/{id}/stock", tag = "inventory", security(("bearer" = [])),
    params(("id" = VariantId, Path)),
    responses((status = 200, body = StockReport), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn stock(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
) -> ApiResult<Json<StockReport>> {
    stock_report(&state, Actor::Staff(admin.user), id).await
}

async fn stock_report(state: &AppState, actor: Actor, id: VariantId) -> ApiResult<Json<StockReport>> {
    kind_of(state, actor, id).await?;
    let level = state.inventory.level(id).await?;
    let movements = state.inventory.movements(id, 100).await?;
    Ok(Json(StockReport { level, movements }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StockAdjustment)]
struct Adjustment {
    /// Units to add (positive) or remove (negative); not zero, at most 1,000,000,000 either way.
    #[schema(schema_with = stock_delta)]
    delta: i64,
    /// Why: a count, a delivery, damage.
    reason: Text<200>,
}

/// Change a physical variant's stock on hand, recording a movement. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/variants/{id}/stock/adjust", tag = "inventory", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = Adjustment,
    responses(
        (status = 200, body = StockLevel),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "stock_below_reserved or digital_stock", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn adjust_stock(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<Adjustment>,
) -> ApiResult<Json<StockLevel>> {
    adjusted(&state, Actor::Staff(admin.user), id, body).await
}

async fn adjusted(
    state: &AppState,
    actor: Actor,
    id: VariantId,
    body: Adjustment,
) -> ApiResult<Json<StockLevel>> {
    if body.delta == 0 || body.delta.unsigned_abs() > 1_000_000_000 {
        return Err(ApiError::field("delta", "must be non-zero and at most 1,000,000,000 in size"));
    }
    let kind = kind_of(state, actor, id).await?;
    let level = state
        .inventory
        .adjust(id, kind == ProductKind::Digital, body.delta, body.reason.as_str(), &acting(actor))
        .await?;
    Ok(Json(level))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Threshold {
    /// `stock.low` fires when available stock drops below this; 0 turns it off.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    low_stock_threshold: i64,
}

/// Set the level below which `stock.low` fires.
#[utoipa::path(
    put, path = "/v1/admin/variants/{id}/stock/threshold", tag = "inventory", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = Threshold,
    responses((status = 200, body = StockLevel), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn set_threshold(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<Threshold>,
) -> ApiResult<Json<StockLevel>> {
    threshold_set(&state, Actor::Staff(admin.user), id, body).await
}

async fn threshold_set(
    state: &AppState,
    actor: Actor,
    id: VariantId,
    body: Threshold,
) -> ApiResult<Json<StockLevel>> {
    if !(0..=1_000_000_000).contains(&body.low_stock_threshold) {
        return Err(ApiError::field("low_stock_threshold", "must be between 0 and 1,000,000,000"));
    }
    let kind = kind_of(state, actor, id).await?;
    let level = state
        .inventory
        .set_low_stock_threshold(id, kind == ProductKind::Digital, body.low_stock_threshold, &acting(actor))
        .await?;
    Ok(Json(level))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DigitalItems {
    /// Keys, account texts or download references: 1 to 1,000 items of 1 to 4,096 characters
    /// (line breaks allowed, for account texts).
    #[schema(schema_with = digital_item_list)]
    items: Vec<String>,
}

/// 1 to 1,000,000,000 units either way.
fn stock_delta() -> utoipa::openapi::Schema {
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, schema::Type};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max))
    };
    OneOfBuilder::new().item(range(1, 1_000_000_000)).item(range(-1_000_000_000, -1)).into()
}

/// 1 to 1,000 items, each 1 to 4,096 characters and not only spaces.
fn digital_item_list() -> utoipa::openapi::Array {
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, schema::Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_ITEM_CHARS))
                .pattern(Some(crate::identity::domain::NOT_BLANK_PATTERN)),
        )
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS_PER_ADD))
        .build()
}

/// Add digital items to a digital variant's stock (sealed at rest). An item whose text the
/// variant already holds is refused and listed in `duplicates`; the rest are added. Accepts
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/variants/{id}/digital-items", tag = "inventory", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = DigitalItems,
    responses((status = 201, body = ItemsAdded), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn add_digital_items(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<DigitalItems>,
) -> ApiResult<(StatusCode, Json<ItemsAdded>)> {
    items_added(&state, Actor::Staff(admin.user), id, body).await
}

async fn items_added(
    state: &AppState,
    actor: Actor,
    id: VariantId,
    body: DigitalItems,
) -> ApiResult<(StatusCode, Json<ItemsAdded>)> {
    if body.items.is_empty() || body.items.len() > MAX_ITEMS_PER_ADD {
        return Err(ApiError::field("items", "give 1 to 1,000 items"));
    }
    if let Some(index) = unacceptable_item(&body.items) {
        return Err(ApiError::field(
            format!("items[{index}]"),
            "must be 1 to 4,096 characters, not only spaces",
        ));
    }
    if kind_of(state, actor, id).await? != ProductKind::Digital {
        return Err(ApiError::conflict(
            "physical_stock",
            "this variant is physical; adjust its stock instead",
        ));
    }
    let added = state.inventory.add_digital_items(id, &body.items, &acting(actor)).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

// ---- a seller's own variants ------------------------------------------------------------------

/// The stock of one of the caller's variants, as the admin route shows it.
#[utoipa::path(
    get, path = "/v1/seller/variants/{id}/stock", tag = "seller", security(("bearer" = [])),
    params(("id" = VariantId, Path)),
    responses((status = 200, body = StockReport), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn own_stock(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VariantId>,
) -> ApiResult<Json<StockReport>> {
    stock_report(&state, Actor::Seller(seller.user), id).await
}

/// Change the stock on hand of one of the caller's physical variants. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/variants/{id}/stock/adjust", tag = "seller", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = Adjustment,
    responses(
        (status = 200, body = StockLevel),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "stock_below_reserved or digital_stock", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn adjust_own_stock(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<Adjustment>,
) -> ApiResult<Json<StockLevel>> {
    adjusted(&state, Actor::Seller(seller.user), id, body).await
}

/// Set the low-stock level of one of the caller's variants.
#[utoipa::path(
    put, path = "/v1/seller/variants/{id}/stock/threshold", tag = "seller", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = Threshold,
    responses(
        (status = 200, body = StockLevel),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn set_own_threshold(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<Threshold>,
) -> ApiResult<Json<StockLevel>> {
    threshold_set(&state, Actor::Seller(seller.user), id, body).await
}

/// Add digital items to one of the caller's digital variants. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/seller/variants/{id}/digital-items", tag = "seller", security(("bearer" = [])),
    params(("id" = VariantId, Path)), request_body = DigitalItems,
    responses(
        (status = 201, body = ItemsAdded),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn add_own_digital_items(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiPath(id): ApiPath<VariantId>,
    ApiJson(body): ApiJson<DigitalItems>,
) -> ApiResult<(StatusCode, Json<ItemsAdded>)> {
    items_added(&state, Actor::Seller(seller.user), id, body).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FileItem {
    /// The name the buyer receives the file under: 1 to 200 characters, no slashes.
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f]*[^/\\\x00-\x1f\x7f-\x9f ][^/\\\x00-\x1f\x7f-\x9f]*$"
    )]
    file_name: String,
}

/// A file's bytes, as the OpenAPI document shows them (a file upload, not JSON).
struct AnyFile;

impl utoipa::PartialSchema for AnyFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .into()
    }
}

impl ToSchema for AnyFile {}

/// Add a file (an account file, a licence) to a digital variant's stock as one item, sealed at
/// rest like a key and sent to its buyer as a document. The body is the file itself, with its
/// type as Content-Type (none means `application/octet-stream`); at most the server's body
/// limit. A file with the same bytes as one the variant holds is refused and named in
/// `duplicates`. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/variants/{id}/digital-items/files", tag = "inventory", security(("bearer" = [])),
    params(("id" = VariantId, Path), FileItem),
    request_body(
        description = "the file itself, sent with its own type as Content-Type",
        content((AnyFile = "application/octet-stream")),
    ),
    responses(
        (status = 201, body = ItemsAdded),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "physical_stock", body = ErrorEnvelope),
        (status = 413, description = "larger than the body limit", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn add_digital_file(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<VariantId>,
    ApiQuery(query): ApiQuery<FileItem>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<ItemsAdded>)> {
    let name = query.file_name.as_str();
    if !acceptable_file_name(name) {
        return Err(ApiError::field(
            "file_name",
            "must be 1 to 200 characters, without slashes or control characters",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::field("body", "the file is empty"));
    }
    let content_type =
        file_content_type(headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()));
    if kind_of(&state, Actor::Staff(admin.user), id).await? != ProductKind::Digital {
        return Err(ApiError::conflict(
            "physical_stock",
            "this variant is physical; adjust its stock instead",
        ));
    }
    let file = DigitalFile {
        file_name: name.to_owned(),
        content_type: content_type.to_owned(),
        bytes: body.to_vec(),
    };
    let added = state.inventory.add_digital_files(id, vec![file], &admin.user.to_string()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// A CSV file's bytes, as the OpenAPI document shows them (a file, so that generated clients
/// send it as one).
struct CsvFile;

impl utoipa::PartialSchema for CsvFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .examples(["sku,on_hand,reason\nKAOS-POLOS-M,24,\"count, aisle 3\"\n"])
            .into()
    }
}

impl ToSchema for CsvFile {}

#[derive(Serialize, ToSchema)]
struct StockImported {
    /// Each row's variant, its level before and now, in the file's order.
    data: Vec<ImportedLevel>,
    /// How many variants' stock changed (a row already at its level changes nothing).
    changed: usize,
}

/// Set physical variants' stock on hand from a CSV file (a stock take): a header row naming
/// `sku` and `on_hand`, optionally `reason` (in any order), then up to 1,000 rows. Every row is
/// checked first: an unknown SKU, a digital variant, a level that is not a whole number, below
/// zero or below what open orders hold, a SKU named twice, too many rows: the answer is 422
/// `validation_failed` with every bad line in `details.lines` (each `{line, sku, code}`,
/// and the same in `details.fields`), and nothing changes. Otherwise each level is set, all in one transaction, as an adjustment by
/// the difference with the row's reason (`stock import` when none), recorded as a movement and
/// audited as `stock.moved`. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/admin/stock/import", tag = "inventory", security(("bearer" = [])),
    request_body(description = "the CSV file", content((CsvFile = "text/csv"))),
    responses(
        (status = 200, body = StockImported),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "stock_below_reserved: an order reserved stock while the import ran; nothing changed", body = ErrorEnvelope),
        (status = 413, description = "larger than the body limit", body = ErrorEnvelope),
        (status = 415, description = "not sent as text/csv", body = ErrorEnvelope),
        (status = 422, description = "validation_failed: `details.lines` names every bad line", body = ErrorEnvelope),
    )
)]
async fn import_stock(
    State(state): State<AppState>,
    Staff(admin): Staff,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<StockImported>> {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let csv = content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"));
    if !csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as text/csv",
        ));
    }
    let data =
        import::import_levels(&state.catalog, &state.inventory, &body, &admin.user.to_string()).await?;
    let changed = data.iter().filter(|level| level.delta != 0).count();
    Ok(Json(StockImported { data, changed }))
}
