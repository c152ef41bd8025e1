//! Reviews' use cases. Each change to a review runs in one transaction that also recomputes
//! the product's tally from the visible reviews, hands the rating to the catalog and writes the
//! event, so a rating never drifts from the reviews it stands on.

use axum::body::Bytes;
use serde::Serialize;

use super::domain::{
    self, EditWindowClosed, Histogram, MAX_IMAGES, Review, ReviewAuthor, ReviewCursor, ReviewImage,
    ReviewSort, ReviewText, StarCounts, Stars,
};
use super::store;
use crate::catalog::media::{MediaKey, UploadRefused, check_upload};
use crate::catalog::{Catalog, CatalogError, MediaStore};
use crate::db::{self, Connection, Db};
use crate::events::{self, Delivery, Event, NewEvent, Subscriber};
use crate::identity::{self, Identity, IdentityError, Principal};
use crate::ids::{MediaId, OrderLineId, ProductId, ReviewId, UserId};
use crate::orders::{Orders, OrdersError};
use crate::rating::Rating;
use crate::time::Clock;

#[derive(Debug, thiserror::Error)]
pub enum ReviewsError {
    #[error("only the buyer of a delivered order line may review it")]
    NotAVerifiedBuyer,
    #[error("this order line has a review already; edit that one")]
    AlreadyReviewed,
    #[error(transparent)]
    EditWindowClosed(#[from] EditWindowClosed),
    #[error("this review has a reply already")]
    AlreadyReplied,
    #[error("only the product's seller (or, for the shop's own products, an admin) may reply")]
    NotTheSeller,
    #[error("the review is hidden already")]
    AlreadyHidden,
    #[error("the review is not hidden")]
    NotHidden,
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Upload(#[from] UploadRefused),
    #[error("the image store failed: {0}")]
    Storage(#[from] object_store::Error),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A review as its buyer writes it.
#[derive(Clone, Debug)]
pub struct NewReview {
    pub order_line_id: OrderLineId,
    pub rating: Stars,
    pub text: ReviewText,
    /// Images the buyer uploaded for it, in the order to show them.
    pub images: Vec<MediaId>,
}

/// An edit: what is given changes.
#[derive(Clone, Debug, Default)]
pub struct EditReview {
    pub rating: Option<Stars>,
    pub text: Option<ReviewText>,
}

/// A page of a product's reviews with the histogram and rating of all of them.
#[derive(Clone, Debug)]
pub struct ProductReviews {
    pub reviews: Vec<Review>,
    pub more: bool,
    pub rating: Rating,
    pub histogram: StarCounts,
}

/// What a change event says about a review: the review as shown, plus whose it is.
#[derive(Serialize)]
struct Snapshot<'a> {
    #[serde(flatten)]
    review: &'a Review,
    author_id: UserId,
    seller_id: Option<UserId>,
    hidden_reason: Option<&'a str>,
}

fn snapshot(review: &Review) -> Snapshot<'_> {
    Snapshot {
        review,
        author_id: review.author_id,
        seller_id: review.seller_id,
        hidden_reason: review.hidden_reason.as_deref(),
    }
}

#[derive(Clone)]
pub struct Reviews {
    db: Db,
    clock: Clock,
    catalog: Catalog,
    orders: Orders,
    identity: Identity,
    media: MediaStore,
}

impl Reviews {
    pub fn new(
        db: Db,
        clock: Clock,
        catalog: Catalog,
        orders: Orders,
        identity: Identity,
        media: MediaStore,
    ) -> Self {
        Self { db, clock, catalog, orders, identity, media }
    }

    /// Largest image accepted, in bytes.
    pub fn image_max_bytes(&self) -> usize {
        self.media.max_bytes()
    }

    /// Stores an image a buyer uploads for a review they are about to write. The bytes go to
    /// the catalog's object store first and the row second; when the row cannot be written the
    /// object is removed again.
    #[tracing::instrument(skip_all)]
    pub async fn upload_image(
        &self,
        uploader: UserId,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<ReviewImage, ReviewsError> {
        let image_type = check_upload(&bytes, content_type, self.media.max_bytes())?;
        let key = MediaKey { id: MediaId::new(), image_type };
        let size = bytes.len();
        let record = async {
            let mut tx = self.db.begin().await?;
            store::insert_image(&mut *tx, uploader, key, size, self.clock.now()).await?;
            tx.commit().await?;
            Ok::<_, ReviewsError>(())
        };
        self.media.put_recorded(key, bytes, record).await?;
        Ok(ReviewImage {
            id: key.id,
            url: format!("/media/reviews/{key}"),
            content_type: image_type.content_type().to_owned(),
            size: u64::try_from(size).unwrap_or(u64::MAX),
        })
    }

    /// The bytes and content type of the review image served at `/media/reviews/{key}`.
    pub async fn image(&self, key: &str) -> Result<(String, Bytes), ReviewsError> {
        let key: MediaKey = key.parse().map_err(|()| ReviewsError::NotFound)?;
        let content_type =
            store::image_content_type(self.db.reader(), key).await?.ok_or(ReviewsError::NotFound)?;
        let bytes = self.media.get(key).await?.ok_or(ReviewsError::NotFound)?;
        Ok((content_type, bytes))
    }

    /// A buyer's review of a line they bought and received.
    #[tracing::instrument(skip_all)]
    pub async fn create(&self, author: UserId, new: NewReview) -> Result<Review, ReviewsError> {
        if new.images.len() > MAX_IMAGES {
            return Err(invalid("images", format!("at most {MAX_IMAGES} images")));
        }
        let mut seen = std::collections::HashSet::new();
        if !new.images.iter().all(|id| seen.insert(*id)) {
            return Err(invalid("images", "an image is given twice"));
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let order = match self.orders.order_of_line_in(&mut tx, new.order_line_id).await {
            Ok(order) => order,
            Err(OrdersError::NotFound) => return Err(ReviewsError::NotAVerifiedBuyer),
            Err(other) => return Err(other.into()),
        };
        if !domain::is_verified_buyer(&order, new.order_line_id, author) {
            return Err(ReviewsError::NotAVerifiedBuyer);
        }
        let line =
            order.lines.iter().find(|l| l.id == new.order_line_id).ok_or(ReviewsError::NotAVerifiedBuyer)?;
        let product = self.catalog.product(line.product_id).await?;
        let name = self.identity.user(author).await?.name;
        store::lock_tally(&mut tx, product.id).await?;
        let mut review = Review {
            id: ReviewId::new(),
            product_id: product.id,
            order_line_id: new.order_line_id,
            author: ReviewAuthor { name },
            rating: new.rating,
            text: new.text.as_str().to_owned(),
            images: Vec::new(),
            reply: None,
            hidden: false,
            created_at: now,
            updated_at: now,
            author_id: author,
            seller_id: product.seller_id,
            hidden_reason: None,
        };
        match store::insert_review(&mut *tx, &review, order.id, new.images.len()).await {
            Err(err) if db::is_unique_violation(&err) => return Err(ReviewsError::AlreadyReviewed),
            other => other?,
        }
        for (position, image) in new.images.iter().enumerate() {
            if !store::attach_image(&mut *tx, *image, author, review.id, position).await? {
                return Err(invalid(
                    format!("images[{position}]"),
                    "not an image you uploaded, or one already on a review",
                ));
            }
        }
        review.images =
            store::images_of(&mut *tx, &[review.id]).await?.remove(&review.id).unwrap_or_default();
        self.recount(&mut tx, product.id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "review.created",
                version: 1,
                subject_id: review.id.to_string(),
                actor: author.to_string(),
                payload: serde_json::json!({
                    "review_id": review.id,
                    "product_id": review.product_id,
                    "store_id": review.seller_id,
                    "order_line_id": review.order_line_id,
                    "rating": review.rating,
                    "after": snapshot(&review),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.catalog.forget_cached_reads();
        Ok(review)
    }

    /// The author's edit of their review, within 30 days of writing it. Another's review is
    /// not found.
    #[tracing::instrument(skip_all)]
    pub async fn edit(&self, author: UserId, id: ReviewId, edit: EditReview) -> Result<Review, ReviewsError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let before = self
            .review_in(&mut tx, id)
            .await?
            .filter(|r| r.author_id == author)
            .ok_or(ReviewsError::NotFound)?;
        domain::check_edit_window(before.created_at, now)?;
        store::lock_tally(&mut tx, before.product_id).await?;
        let mut after = before.clone();
        if let Some(rating) = edit.rating {
            after.rating = rating;
        }
        if let Some(text) = edit.text {
            after.text = text.as_str().to_owned();
        }
        if (after.rating, &after.text) == (before.rating, &before.text) {
            return Ok(before);
        }
        after.updated_at = now;
        store::update_content(&mut *tx, &after).await?;
        self.recount(&mut tx, after.product_id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "review.updated",
                version: 1,
                subject_id: id.to_string(),
                actor: author.to_string(),
                payload: serde_json::json!({
                    "review_id": id,
                    "product_id": after.product_id,
                    "store_id": after.seller_id,
                    "rating": after.rating,
                    "before": snapshot(&before),
                    "after": snapshot(&after),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.catalog.forget_cached_reads();
        Ok(after)
    }

    /// The one reply to a review: by the product's seller, or by an admin when the shop sells
    /// the product itself.
    #[tracing::instrument(skip_all)]
    pub async fn reply(
        &self,
        caller: Principal,
        id: ReviewId,
        text: ReviewText,
    ) -> Result<Review, ReviewsError> {
        if text.as_str().is_empty() {
            return Err(invalid("text", "must not be empty"));
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let before = self.review_in(&mut tx, id).await?.ok_or(ReviewsError::NotFound)?;
        let product = self.catalog.product(before.product_id).await?;
        if !domain::may_reply(product.seller_id, caller.user, caller.role) {
            return Err(ReviewsError::NotTheSeller);
        }
        if !store::set_reply(&mut *tx, id, text.as_str(), caller.user, now).await? {
            return Err(ReviewsError::AlreadyReplied);
        }
        let after = self.review_in(&mut tx, id).await?.ok_or(ReviewsError::NotFound)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "review.replied",
                version: 1,
                subject_id: id.to_string(),
                actor: caller.user.to_string(),
                payload: serde_json::json!({
                    "review_id": id,
                    "product_id": after.product_id,
                    "before": snapshot(&before),
                    "after": snapshot(&after),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// An admin hides a review (with the reason) or shows it again; the rating follows, and the
    /// event carries the decision to the audit log.
    #[tracing::instrument(skip_all)]
    pub async fn set_hidden(
        &self,
        admin: UserId,
        id: ReviewId,
        hidden: bool,
        reason: &str,
    ) -> Result<Review, ReviewsError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let before = self.review_in(&mut tx, id).await?.ok_or(ReviewsError::NotFound)?;
        store::lock_tally(&mut tx, before.product_id).await?;
        let hidden_reason = hidden.then_some(reason);
        if !store::set_hidden(&mut *tx, id, hidden, hidden_reason).await? {
            return Err(if hidden { ReviewsError::AlreadyHidden } else { ReviewsError::NotHidden });
        }
        let after = self.review_in(&mut tx, id).await?.ok_or(ReviewsError::NotFound)?;
        self.recount(&mut tx, after.product_id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: if hidden { "review.hidden" } else { "review.unhidden" },
                version: 1,
                subject_id: id.to_string(),
                actor: admin.to_string(),
                payload: serde_json::json!({
                    "review_id": id,
                    "product_id": after.product_id,
                    "store_id": after.seller_id,
                    "reason": reason,
                    "before": snapshot(&before),
                    "after": snapshot(&after),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.catalog.forget_cached_reads();
        Ok(after)
    }

    /// One page of a product's visible reviews, with the histogram and rating of all of them.
    #[tracing::instrument(skip_all)]
    pub async fn for_product(
        &self,
        product: ProductId,
        sort: ReviewSort,
        after: Option<ReviewCursor>,
        limit: usize,
    ) -> Result<ProductReviews, ReviewsError> {
        if after.is_some_and(|cursor| cursor.sort() != sort) {
            return Err(invalid("cursor", "not a cursor of this sort"));
        }
        let mut conn = self.db.reader().acquire().await?;
        let mut reviews = store::list(&mut *conn, product, sort, after, limit + 1).await?;
        let more = reviews.len() > limit;
        reviews.truncate(limit);
        let ids: Vec<ReviewId> = reviews.iter().map(|r| r.id).collect();
        let mut images = store::images_of(&mut *conn, &ids).await?;
        for review in &mut reviews {
            review.images = images.remove(&review.id).unwrap_or_default();
        }
        let histogram = store::tally(&mut *conn, product).await?;
        Ok(ProductReviews { reviews, more, rating: histogram.rating(), histogram: histogram.into() })
    }

    /// One page of the visible reviews of the products a store sold (`seller_user`, its
    /// owner), newest first, with their images, and whether more follow.
    #[tracing::instrument(skip_all)]
    pub async fn for_store(
        &self,
        seller_user: UserId,
        after: Option<ReviewId>,
        limit: usize,
    ) -> Result<(Vec<Review>, bool), ReviewsError> {
        let mut conn = self.db.reader().acquire().await?;
        let mut reviews = store::of_seller(&mut *conn, seller_user, after, limit + 1).await?;
        let more = reviews.len() > limit;
        reviews.truncate(limit);
        let ids: Vec<ReviewId> = reviews.iter().map(|r| r.id).collect();
        let mut images = store::images_of(&mut *conn, &ids).await?;
        for review in &mut reviews {
            review.images = images.remove(&review.id).unwrap_or_default();
        }
        Ok((reviews, more))
    }

    /// A store's rating: the average and count of the visible reviews of the products it sold,
    /// counted from the reviews themselves, so it is exact at every read.
    #[tracing::instrument(skip_all)]
    pub async fn store_rating(&self, seller_user: UserId) -> Result<Rating, ReviewsError> {
        let (sum, count) = store::store_sum_and_count(self.db.reader(), seller_user).await?;
        Ok(Rating::of(sum, count))
    }

    async fn review_in(&self, conn: &mut Connection, id: ReviewId) -> Result<Option<Review>, ReviewsError> {
        let Some(mut review) = store::review(&mut *conn, id).await? else { return Ok(None) };
        review.images = store::images_of(&mut *conn, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(Some(review))
    }

    /// Counts the product's visible reviews again from the rows (its tally is locked), keeps
    /// the histogram and gives the catalog the rating, all in the caller's transaction.
    async fn recount(&self, conn: &mut Connection, product: ProductId) -> Result<Histogram, ReviewsError> {
        let histogram = store::count_visible(&mut *conn, product).await?;
        store::save_tally(&mut *conn, product, &histogram).await?;
        let (sum, count) = histogram.sum_and_count();
        self.catalog.set_rating(conn, product, sum, count).await?;
        Ok(histogram)
    }

    /// Once an account is deleted, its reviews stay (their rating and text are the shop's
    /// record) but no longer say who wrote them: the author's name becomes identity's
    /// placeholder. The name is on nothing else (search and recommendations hold no authors).
    #[tracing::instrument(skip_all)]
    pub async fn forget_author(&self, author: UserId) -> Result<u64, ReviewsError> {
        let mut tx = self.db.begin().await?;
        let renamed = store::rename_author(&mut *tx, author, identity::DELETED_NAME).await?;
        tx.commit().await?;
        Ok(renamed)
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReviewsError {
    ReviewsError::Invalid { field: field.into(), message: message.into() }
}

/// Reviews hear of deleted accounts from the outbox.
impl Subscriber for Reviews {
    fn name(&self) -> &'static str {
        "reviews"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            if let Some(author) = identity::deleted_account(event)? {
                self.forget_author(author).await?;
            }
            Ok(())
        })
    }
}
