//! The sellers' HTTP routes: applying (`/v1/sellers`), admins' decisions
//! (`/v1/admin/sellers`) and a live store's page (`/v1/stores/{slug}`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{Application, Decision, ProfileChange, Seller, SellerDocument, SellerStatus, StorePage};
use super::service::SellersError;
use crate::catalog::routes::upload_body;
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::{self, Callers};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::identity::domain::Text;
use crate::ids::{SellerDocumentId, SellerId};

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let idempotent = OpenApiRouter::new().routes(routes!(apply)).route_layer(middleware::from_fn_with_state(
        (state.clone(), Callers::SignedIn),
        idempotency::idempotent,
    ));
    // Uploads have the media store's limit, larger than the JSON routes' one.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_logo))
        .routes(routes!(upload_document))
        .route_layer(DefaultBodyLimit::max(state.sellers.upload_max_bytes()));
    OpenApiRouter::new()
        .routes(routes!(my_store, update_my_store))
        .routes(routes!(document))
        .routes(routes!(list_sellers))
        .routes(routes!(get_seller, update_seller))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(store_page))
        .routes(routes!(store_logo))
        .merge(idempotent)
        .merge(uploads)
}

impl From<SellersError> for ApiError {
    fn from(err: SellersError) -> Self {
        let message = err.to_string();
        match err {
            SellersError::NotFound => ApiError::not_found(),
            SellersError::AlreadyApplied => ApiError::conflict("already_applied", message),
            SellersError::SlugTaken => ApiError::conflict("slug_taken", message),
            SellersError::StaffCannotApply => ApiError::forbidden(message),
            SellersError::InvalidTransition(refused) => ApiError::conflict("invalid_transition", message)
                .with_details(
                    serde_json::json!({ "status": refused.from, "decision": refused.decision.as_str() }),
                ),
            SellersError::Closed => ApiError::conflict("store_closed", message),
            SellersError::CommissionTooHigh => ApiError::field("commission_bps", message),
            SellersError::TooManyDocuments => ApiError::conflict("too_many_documents", message),
            SellersError::NotADocument => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
            }
            SellersError::Upload(refused) => refused.into(),
            SellersError::Identity(e) => e.into(),
            SellersError::Catalog(e) => e.into(),
            SellersError::Reviews(e) => e.into(),
            SellersError::Storage(e) => ApiError::unavailable(e),
            SellersError::Database(e) => e.into(),
        }
    }
}

// ---- applying ------------------------------------------------------------------------------

/// Apply for a store: it starts `pending` until an admin approves or rejects it. One store per
/// account. Accepts `Idempotency-Key`.
#[utoipa::path(
    post, path = "/v1/sellers", tag = "sellers", security(("bearer" = [])),
    request_body = Application,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely: the first response is replayed for 24 hours")),
    responses(
        (status = 201, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "staff accounts do not apply", body = ErrorEnvelope),
        (status = 409, description = "slug_taken or already_applied", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn apply(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<Application>,
) -> ApiResult<(StatusCode, Json<Seller>)> {
    Ok((StatusCode::CREATED, Json(state.sellers.apply(&caller, body).await?)))
}

/// The caller's own store (its application while pending), with its status and the reason of a
/// rejection or suspension.
#[utoipa::path(
    get, path = "/v1/sellers/me", tag = "sellers", security(("bearer" = [])),
    responses((status = 200, body = Seller), (status = 401, body = ErrorEnvelope), (status = 404, description = "never applied", body = ErrorEnvelope))
)]
async fn my_store(State(state): State<AppState>, caller: Principal) -> ApiResult<Json<Seller>> {
    Ok(Json(state.sellers.mine(caller.user).await?))
}

/// Change the caller's live store: its name, description or contact (absent fields stay).
/// The slug and the payout account stay as applied. Audited (`seller.updated`). A suspended
/// store changes nothing (403 `store_suspended`).
#[utoipa::path(
    patch, path = "/v1/sellers/me", tag = "sellers", security(("bearer" = [])),
    request_body = ProfileChange,
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "not a seller with an approved store, or store_suspended", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_my_store(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiJson(body): ApiJson<ProfileChange>,
) -> ApiResult<Json<Seller>> {
    Ok(Json(state.sellers.update_profile(seller.user, body).await?))
}

/// A file's bytes, as the OpenAPI document shows them (an upload, not JSON).
struct UploadFile;

impl utoipa::PartialSchema for UploadFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for UploadFile {}

/// Upload (or replace) the caller's store logo: the raw PNG, JPEG, WebP or GIF as the body,
/// with its Content-Type. It is public: the store page links it.
#[utoipa::path(
    put, path = "/v1/sellers/me/logo", tag = "sellers", security(("bearer" = [])),
    request_body(
        description = "the image file itself, sent with its own type as Content-Type",
        content((UploadFile = "image/png"), (UploadFile = "image/jpeg"), (UploadFile = "image/webp"), (UploadFile = "image/gif")),
    ),
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "never applied", body = ErrorEnvelope),
        (status = 409, description = "store_closed", body = ErrorEnvelope),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_logo(
    State(state): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Seller>> {
    let bytes = upload_body(body, state.sellers.upload_max_bytes())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Ok(Json(state.sellers.set_logo(caller.user, content_type, bytes).await?))
}

/// Add a business document to the caller's store application (a registration, a tax number):
/// the raw PDF or image as the body, with its Content-Type. Only the owner and admins can read
/// it back. At most 10.
#[utoipa::path(
    post, path = "/v1/sellers/me/documents", tag = "sellers", security(("bearer" = [])),
    request_body(
        description = "the file itself, sent with its own type as Content-Type (a PDF as `application/pdf` or `application/octet-stream`)",
        content((UploadFile = "application/octet-stream"), (UploadFile = "image/png"), (UploadFile = "image/jpeg"), (UploadFile = "image/webp"), (UploadFile = "image/gif")),
    ),
    responses(
        (status = 201, body = SellerDocument),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "never applied", body = ErrorEnvelope),
        (status = 409, description = "too_many_documents or store_closed", body = ErrorEnvelope),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not a PDF or an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_document(
    State(state): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<SellerDocument>)> {
    let bytes = upload_body(body, state.sellers.upload_max_bytes())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let document = state.sellers.add_document(caller.user, content_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(document)))
}

/// A business document of a store, for its owner and admins (anyone else: 404).
#[utoipa::path(
    get, path = "/v1/sellers/{id}/documents/{document_id}", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path), ("document_id" = SellerDocumentId, Path)),
    responses(
        (status = 200, description = "the file, with its content type", content_type = "application/octet-stream", body = UploadFile),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
async fn document(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath((id, document_id)): ApiPath<(SellerId, SellerDocumentId)>,
) -> ApiResult<Response> {
    let (content_type, bytes) = state.sellers.document(&caller, id, document_id).await?;
    let content_type = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment")),
        ],
        bytes,
    )
        .into_response())
}

// ---- admins --------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SellerSearch {
    /// Only stores in this status, such as `pending` (applications to decide).
    #[param(inline)]
    status: Option<SellerStatus>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SellerPage {
    data: Vec<Seller>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Stores and applications, newest first, by status, with cursor pagination.
#[utoipa::path(
    get, path = "/v1/admin/sellers", tag = "sellers", security(("bearer" = [])), params(SellerSearch),
    responses(
        (status = 200, body = SellerPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn list_sellers(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<SellerSearch>,
) -> ApiResult<Json<SellerPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (sellers, more) = state.sellers.list(query.status, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(sellers, more, |last: &Seller| last.id.to_string());
    Ok(Json(SellerPage { data, next_cursor }))
}

/// A store or application, with its documents.
#[utoipa::path(
    get, path = "/v1/admin/sellers/{id}", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)),
    responses((status = 200, body = Seller), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope))
)]
async fn get_seller(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<SellerId>,
) -> ApiResult<Json<Seller>> {
    Ok(Json(state.sellers.get(id).await?))
}

/// Reads a field that may be absent (leave it), null (clear it) or a value (set it).
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SellerChange {
    /// The store's own commission in basis points of its item totals (0 to 10,000; 1,000 =
    /// 10%); `null` puts it back on the platform default (`PASAR_COMMISSION_BPS`).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    commission_bps: Option<Option<u32>>,
}

/// Change a store's settings: its commission rate. Audited. A closed store is a 409.
#[utoipa::path(
    patch, path = "/v1/admin/sellers/{id}", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)), request_body = SellerChange,
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "store_closed: its owner deleted their account", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn update_seller(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<SellerId>,
    ApiJson(body): ApiJson<SellerChange>,
) -> ApiResult<Json<Seller>> {
    match body.commission_bps {
        Some(commission) => Ok(Json(state.sellers.set_commission(&admin, id, commission).await?)),
        None => Ok(Json(state.sellers.get(id).await?)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionReason {
    /// Why, as the store's owner will read it.
    reason: Text<500>,
}

async fn decided(
    state: &AppState,
    admin: &Principal,
    id: SellerId,
    decision: Decision,
    reason: Option<Text<500>>,
) -> ApiResult<Json<Seller>> {
    let reason = reason.map(String::from);
    Ok(Json(state.sellers.decide(admin, id, decision, reason).await?))
}

/// Approve a pending application: the applicant becomes a `seller` and the store goes live
/// (`seller.approved`). Audited.
#[utoipa::path(
    post, path = "/v1/admin/sellers/{id}/approve", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)),
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition: the store is not pending (details.status)", body = ErrorEnvelope),
    )
)]
async fn approve(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<SellerId>,
) -> ApiResult<Json<Seller>> {
    decided(&state, &admin, id, Decision::Approve, None).await
}

/// Reject a pending application, with a reason (`seller.rejected`). Audited.
#[utoipa::path(
    post, path = "/v1/admin/sellers/{id}/reject", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)), request_body = DecisionReason,
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition: the store is not pending (details.status)", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn reject(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<SellerId>,
    ApiJson(body): ApiJson<DecisionReason>,
) -> ApiResult<Json<Seller>> {
    decided(&state, &admin, id, Decision::Reject, Some(body.reason)).await
}

/// Suspend a live store, with a reason (`seller.suspended`): its products are hidden from
/// listings, pages and search and cannot be bought; orders already placed continue. Audited.
#[utoipa::path(
    post, path = "/v1/admin/sellers/{id}/suspend", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)), request_body = DecisionReason,
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition: the store is not approved (details.status)", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn suspend(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<SellerId>,
    ApiJson(body): ApiJson<DecisionReason>,
) -> ApiResult<Json<Seller>> {
    decided(&state, &admin, id, Decision::Suspend, Some(body.reason)).await
}

/// Reinstate a suspended store (`seller.reinstated`): its products are shown and sold again.
/// Audited.
#[utoipa::path(
    post, path = "/v1/admin/sellers/{id}/reinstate", tag = "sellers", security(("bearer" = [])),
    params(("id" = SellerId, Path)),
    responses(
        (status = 200, body = Seller),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "invalid_transition: the store is not suspended (details.status)", body = ErrorEnvelope),
    )
)]
async fn reinstate(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<SellerId>,
) -> ApiResult<Json<Seller>> {
    decided(&state, &admin, id, Decision::Reinstate, None).await
}

// ---- shoppers ------------------------------------------------------------------------------

/// A live store's page: its profile, logo, number of products on sale and when it joined.
/// Its products: `GET /v1/products?store={slug}`. A pending, rejected, suspended or closed
/// store is a 404.
#[utoipa::path(
    get, path = "/v1/stores/{slug}", tag = "sellers",
    params(("slug" = String, Path, description = "the store's slug")),
    responses((status = 200, body = StorePage), (status = 404, body = ErrorEnvelope))
)]
async fn store_page(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<StorePage>> {
    Ok(Json(state.sellers.store_page(&slug).await?))
}

/// A live store's logo.
#[utoipa::path(
    get, path = "/v1/stores/{slug}/logo", tag = "sellers",
    params(("slug" = String, Path, description = "the store's slug")),
    responses(
        (status = 200, description = "the image, with its content type", content_type = "image/*", body = UploadFile),
        (status = 404, body = ErrorEnvelope),
    )
)]
async fn store_logo(State(state): State<AppState>, ApiPath(slug): ApiPath<String>) -> ApiResult<Response> {
    let (content_type, bytes) = state.sellers.logo(&slug).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // A logo may be replaced: caches keep it for a while, not for good.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}
