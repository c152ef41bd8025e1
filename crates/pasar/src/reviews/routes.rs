//! Reviews' HTTP routes: writing, editing and replying under `/v1/reviews`, image uploads at
//! `/v1/reviews/images`, hiding under `/v1/admin/reviews`, a product's reviews at
//! `/v1/products/{id_or_slug}/reviews`, and the images themselves at `/media/reviews/{key}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{Review, ReviewCursor, ReviewImage, ReviewSort, ReviewText, StarCounts, Stars};
use super::service::{EditReview, NewReview, ReviewsError};
use crate::catalog::routes::{ImageFile, upload_body};
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};
use crate::identity::Principal;
use crate::identity::domain::Text;
use crate::ids::{MediaId, OrderLineId, ReviewId};
use crate::rating::Rating;

pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    // An image body has its own limit, larger than the JSON routes' one.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_image))
        .route_layer(DefaultBodyLimit::max(state.reviews.image_max_bytes()));
    OpenApiRouter::new()
        .routes(routes!(create_review))
        .routes(routes!(edit_review))
        .routes(routes!(reply))
        .routes(routes!(hide))
        .routes(routes!(unhide))
        .routes(routes!(product_reviews))
        .routes(routes!(store_reviews))
        .merge(uploads)
}

/// `/media/reviews/{key}`: review images, served like product images, outside the API's rate
/// limit.
pub fn media_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve_image))
}

impl From<ReviewsError> for ApiError {
    fn from(err: ReviewsError) -> Self {
        let message = err.to_string();
        match err {
            ReviewsError::NotAVerifiedBuyer => {
                ApiError::new(StatusCode::FORBIDDEN, "not_a_verified_buyer", message)
            }
            ReviewsError::NotTheSeller => ApiError::new(StatusCode::FORBIDDEN, "not_the_seller", message),
            ReviewsError::AlreadyReviewed => ApiError::conflict("already_reviewed", message),
            ReviewsError::EditWindowClosed(_) => ApiError::conflict("edit_window_closed", message),
            ReviewsError::AlreadyReplied => ApiError::conflict("already_replied", message),
            ReviewsError::AlreadyHidden => ApiError::conflict("already_hidden", message),
            ReviewsError::NotHidden => ApiError::conflict("not_hidden", message),
            ReviewsError::Invalid { field, message } => ApiError::field(field, message),
            ReviewsError::NotFound => ApiError::not_found(),
            ReviewsError::Upload(refused) => refused.into(),
            ReviewsError::Storage(e) => ApiError::unavailable(e),
            ReviewsError::Catalog(e) => e.into(),
            ReviewsError::Orders(e) => e.into(),
            ReviewsError::Identity(e) => e.into(),
            ReviewsError::Database(e) => e.into(),
        }
    }
}

// ---- writing --------------------------------------------------------------------------------

/// Upload an image for a review you are about to write: the raw PNG, JPEG, WebP or GIF as the
/// body, with its Content-Type. Name its `id` in `images` when you post the review.
#[utoipa::path(
    post, path = "/v1/reviews/images", tag = "reviews", security(("bearer" = [])),
    request_body(
        description = "the image file itself, sent with its own type as Content-Type",
        content((ImageFile = "image/png"), (ImageFile = "image/jpeg"), (ImageFile = "image/webp"), (ImageFile = "image/gif")),
    ),
    responses(
        (status = 201, body = ReviewImage),
        (status = 413, description = "larger than media_max_bytes", body = ErrorEnvelope),
        (status = 415, description = "not an image, or not the type Content-Type says", body = ErrorEnvelope),
    )
)]
async fn upload_image(
    State(state): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<ReviewImage>)> {
    let bytes = upload_body(body, state.reviews.image_max_bytes())?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let image = state.reviews.upload_image(caller.user, content_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(image)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateReviewRequest {
    /// The order line reviewed (`oln_…`, from the order): each line once.
    order_line_id: OrderLineId,
    rating: Stars,
    #[serde(default)]
    text: ReviewText,
    /// Up to 5 images uploaded through `POST /v1/reviews/images`, in the order to show them.
    #[serde(default)]
    #[schema(max_items = 5)]
    images: Vec<MediaId>,
}

/// Review a line of an order you received (delivered or completed): 1 to 5 stars, text and up
/// to 5 images. Each line is reviewed once; edit the review to change it.
#[utoipa::path(
    post, path = "/v1/reviews", tag = "reviews", security(("bearer" = [])),
    request_body = CreateReviewRequest,
    responses(
        (status = 201, body = Review),
        (status = 403, description = "not_a_verified_buyer: not your order, or not delivered yet", body = ErrorEnvelope),
        (status = 409, description = "already_reviewed", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn create_review(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(body): ApiJson<CreateReviewRequest>,
) -> ApiResult<(StatusCode, Json<Review>)> {
    let new = NewReview {
        order_line_id: body.order_line_id,
        rating: body.rating,
        text: body.text,
        images: body.images,
    };
    Ok((StatusCode::CREATED, Json(state.reviews.create(caller.user, new).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EditReviewRequest {
    rating: Option<Stars>,
    text: Option<ReviewText>,
}

/// Edit your review's stars or text, within 30 days of writing it. Someone else's review is
/// not found.
#[utoipa::path(
    patch, path = "/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)), request_body = EditReviewRequest,
    responses(
        (status = 200, body = Review),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "edit_window_closed", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn edit_review(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ReviewId>,
    ApiJson(body): ApiJson<EditReviewRequest>,
) -> ApiResult<Json<Review>> {
    let edit = EditReview { rating: body.rating, text: body.text };
    Ok(Json(state.reviews.edit(caller.user, id, edit).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    /// Not empty.
    text: ReviewText,
}

/// Reply to a review, once: the product's seller, or an admin when the shop sells the product
/// itself. Anyone else is refused with 403 (the review is public, so there is nothing to hide).
#[utoipa::path(
    post, path = "/v1/reviews/{id}/reply", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)), request_body = ReplyRequest,
    responses(
        (status = 200, body = Review),
        (status = 403, description = "not_the_seller", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "already_replied", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn reply(
    State(state): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<ReviewId>,
    ApiJson(body): ApiJson<ReplyRequest>,
) -> ApiResult<Json<Review>> {
    Ok(Json(state.reviews.reply(caller, id, body.text).await?))
}

// ---- moderation -----------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ModerationRequest {
    /// Why, for the audit log.
    reason: Text<500>,
}

/// Hide a review: it leaves the product's listing and no longer counts in its rating. The
/// decision and its reason go to the audit log.
#[utoipa::path(
    post, path = "/v1/admin/reviews/{id}/hide", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)), request_body = ModerationRequest,
    responses(
        (status = 200, body = Review),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "already_hidden", body = ErrorEnvelope),
    )
)]
async fn hide(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ReviewId>,
    ApiJson(body): ApiJson<ModerationRequest>,
) -> ApiResult<Json<Review>> {
    Ok(Json(state.reviews.set_hidden(admin.user, id, true, body.reason.as_str()).await?))
}

/// Show a hidden review again; it counts in the rating again. Audited with its reason.
#[utoipa::path(
    post, path = "/v1/admin/reviews/{id}/unhide", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)), request_body = ModerationRequest,
    responses(
        (status = 200, body = Review),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "not_hidden", body = ErrorEnvelope),
    )
)]
async fn unhide(
    State(state): State<AppState>,
    Staff(admin): Staff,
    ApiPath(id): ApiPath<ReviewId>,
    ApiJson(body): ApiJson<ModerationRequest>,
) -> ApiResult<Json<Review>> {
    Ok(Json(state.reviews.set_hidden(admin.user, id, false, body.reason.as_str()).await?))
}

// ---- reading --------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReviewQuery {
    /// `newest` (default), `highest`, `lowest` or `with_photos` (those with images first).
    #[param(inline)]
    sort: Option<ReviewSort>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page (of the same sort).
    cursor: Option<String>,
}

/// A page of a product's reviews, with the rating and star histogram of all its visible ones.
#[derive(Serialize, ToSchema)]
struct ReviewPage {
    data: Vec<Review>,
    rating: Rating,
    /// How many visible reviews gave each number of stars.
    histogram: StarCounts,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A product's reviews (hidden ones left out), in the order asked, with its rating and star
/// histogram. Authors are shown by their display name only.
#[utoipa::path(
    get, path = "/v1/products/{id_or_slug}/reviews", tag = "reviews",
    params(("id_or_slug" = String, Path, description = "a product id or slug"), ReviewQuery),
    responses((status = 200, body = ReviewPage), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope))
)]
async fn product_reviews(
    State(state): State<AppState>,
    ApiPath(id_or_slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<ReviewQuery>,
) -> ApiResult<Json<ReviewPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let limit = page.limit()?;
    let after: Option<ReviewCursor> = page.position()?;
    let sort = query.sort.unwrap_or_default();
    let product = state.catalog.product_for_shoppers(&id_or_slug).await?;
    let found = state.reviews.for_product(product.id, sort, after, limit).await?;
    let Page { data, next_cursor } = Page::new(found.reviews, found.more, |last: &Review| {
        ReviewCursor::after(sort, last.rating, !last.images.is_empty(), last.id).to_string()
    });
    Ok(Json(ReviewPage { data, rating: found.rating, histogram: found.histogram, next_cursor }))
}

/// A review image, as its `url` names it.
#[utoipa::path(
    get, path = "/media/reviews/{key}", tag = "reviews",
    params(("key" = String, Path, description = "`{media id}.{extension}`")),
    responses(
        (status = 200, description = "the image, with its content type", content_type = "image/*", body = ImageFile),
        (status = 404, body = ErrorEnvelope),
    )
)]
async fn serve_image(State(state): State<AppState>, ApiPath(key): ApiPath<String>) -> ApiResult<Response> {
    let (content_type, bytes) = state.reviews.image(&key).await?;
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StoreReviewQuery {
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of the calling seller's store reviews.
#[derive(Serialize, ToSchema)]
struct StoreReviewPage {
    data: Vec<Review>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The reviews of the products the calling seller's store sold (hidden ones left out), newest
/// first, with their replies: what to answer with `POST /v1/reviews/{id}/reply`.
#[utoipa::path(
    get, path = "/v1/seller/reviews", tag = "seller", security(("bearer" = [])), params(StoreReviewQuery),
    responses(
        (status = 200, body = StoreReviewPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn store_reviews(
    State(state): State<AppState>,
    seller: ActiveSeller,
    ApiQuery(query): ApiQuery<StoreReviewQuery>,
) -> ApiResult<Json<StoreReviewPage>> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let (reviews, more) = state.reviews.for_store(seller.user, page.position()?, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(reviews, more, |last: &Review| last.id.to_string());
    Ok(Json(StoreReviewPage { data, next_cursor }))
}
