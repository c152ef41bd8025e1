//! Reviews' tables: the reviews, their images, and each product's star tally (the histogram
//! of its visible reviews, recomputed from the rows on every change; its row is also the lock
//! that makes a product's changes run one after another).

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{
    Histogram, Review, ReviewAuthor, ReviewCursor, ReviewImage, ReviewReply, ReviewSort, Stars,
};
use crate::catalog::media::MediaKey;
use crate::db::Connection;
use crate::db::column::{decode_error, parse_optional, parse_text};
use crate::ids::{MediaId, OrderId, ProductId, ReviewId, UserId};
use crate::time::Timestamp;

const REVIEW_COLUMNS: &str = "id, product_id, order_line_id, author_id, author_name, seller_id, rating, body, \
                              hidden, hidden_reason, reply_text, replied_at, created_at, updated_at";

fn review_of(row: &AnyRow) -> Result<Review, sqlx::Error> {
    let stars: i64 = row.try_get("rating")?;
    let reply_text: Option<String> = row.try_get("reply_text")?;
    let replied_at: Option<i64> = row.try_get("replied_at")?;
    Ok(Review {
        id: parse_text(row, "id")?,
        product_id: parse_text(row, "product_id")?,
        order_line_id: parse_text(row, "order_line_id")?,
        author: ReviewAuthor { name: row.try_get("author_name")? },
        rating: Stars::try_from(stars).map_err(|_| decode_error("rating", &stars.to_string()))?,
        text: row.try_get("body")?,
        images: Vec::new(),
        reply: reply_text
            .zip(replied_at)
            .map(|(text, at)| ReviewReply { text, created_at: Timestamp::from_millis(at) }),
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        author_id: parse_text(row, "author_id")?,
        seller_id: parse_optional(row, "seller_id")?,
        hidden_reason: row.try_get("hidden_reason")?,
    })
}

pub async fn insert_review<'c>(
    ex: impl Executor<'c, Database = Any>,
    review: &Review,
    order: OrderId,
    image_count: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reviews (id, product_id, order_id, order_line_id, author_id, author_name, seller_id,
                              rating, body, image_count, hidden, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11)",
    )
    .bind(review.id.to_string())
    .bind(review.product_id.to_string())
    .bind(order.to_string())
    .bind(review.order_line_id.to_string())
    .bind(review.author_id.to_string())
    .bind(&review.author.name)
    .bind(review.seller_id.map(|s| s.to_string()))
    .bind(i64::from(review.rating))
    .bind(&review.text)
    .bind(image_count as i64)
    .bind(review.created_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn review<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ReviewId,
) -> Result<Option<Review>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(review_of).transpose()
}

/// Writes an edit's stars and text.
pub async fn update_content<'c>(
    ex: impl Executor<'c, Database = Any>,
    review: &Review,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reviews SET rating = $1, body = $2, updated_at = $3 WHERE id = $4")
        .bind(i64::from(review.rating))
        .bind(&review.text)
        .bind(review.updated_at.millis())
        .bind(review.id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Hides (with the reason) or shows a review; false when it already was so.
pub async fn set_hidden<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ReviewId,
    hidden: bool,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE reviews SET hidden = $1, hidden_reason = $2 WHERE id = $3 AND hidden = $4")
            .bind(i64::from(hidden))
            .bind(reason)
            .bind(id.to_string())
            .bind(i64::from(!hidden))
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the reply unless there is one already; false when there was.
pub async fn set_reply<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ReviewId,
    text: &str,
    by: UserId,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reviews SET reply_text = $1, reply_by = $2, replied_at = $3 WHERE id = $4 AND reply_text IS NULL",
    )
    .bind(text)
    .bind(by.to_string())
    .bind(at.millis())
    .bind(id.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One page of a product's visible reviews in `sort`'s order, after `after` when given.
pub async fn list<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
    sort: ReviewSort,
    after: Option<ReviewCursor>,
    limit: usize,
) -> Result<Vec<Review>, sqlx::Error> {
    const PHOTOS: &str = "(CASE WHEN image_count > 0 THEN 1 ELSE 0 END)";
    let order = match sort {
        ReviewSort::Newest => "id DESC".to_owned(),
        ReviewSort::Highest => "rating DESC, id DESC".to_owned(),
        ReviewSort::Lowest => "rating ASC, id DESC".to_owned(),
        ReviewSort::WithPhotos => format!("{PHOTOS} DESC, id DESC"),
    };
    let (position, after) = match after {
        None => (String::new(), None),
        Some(ReviewCursor::Newest { id }) => (" AND id < $2".to_owned(), Some((id, None))),
        Some(ReviewCursor::Stars { sort, stars, id }) => {
            let beyond = if sort == ReviewSort::Lowest { ">" } else { "<" };
            (
                format!(" AND (rating {beyond} $3 OR (rating = $3 AND id < $2))"),
                Some((id, Some(i64::from(stars)))),
            )
        }
        Some(ReviewCursor::Photos { with_photos, id }) => (
            format!(" AND ({PHOTOS} < $3 OR ({PHOTOS} = $3 AND id < $2))"),
            Some((id, Some(i64::from(with_photos)))),
        ),
    };
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM reviews WHERE product_id = $1 AND hidden = 0{position}
         ORDER BY {order} LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql).bind(product.to_string());
    if let Some((id, key)) = after {
        query = query.bind(id.to_string());
        if let Some(key) = key {
            query = query.bind(key);
        }
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(review_of).collect()
}

/// One page of the visible reviews of what a store sold, newest first, after `after` when
/// given.
pub async fn of_seller<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: UserId,
    after: Option<ReviewId>,
    limit: usize,
) -> Result<Vec<Review>, sqlx::Error> {
    let position = if after.is_some() { " AND id < $2" } else { "" };
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM reviews WHERE seller_id = $1 AND hidden = 0{position}
         ORDER BY id DESC LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql).bind(seller.to_string());
    if let Some(id) = after {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(review_of).collect()
}

/// Takes the lock on a product's tally for the rest of the transaction (creating its row the
/// first time), so that two changes to one product's reviews recompute one after the other.
pub async fn lock_tally(conn: &mut Connection, product: ProductId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO review_tallies (product_id, stars_1, stars_2, stars_3, stars_4, stars_5)
         VALUES ($1, 0, 0, 0, 0, 0) ON CONFLICT (product_id) DO NOTHING",
    )
    .bind(product.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE review_tallies SET stars_1 = stars_1 WHERE product_id = $1")
        .bind(product.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// The histogram of a product's visible reviews, counted from the rows.
pub async fn count_visible<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
) -> Result<Histogram, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT rating, COUNT(*) AS n FROM reviews WHERE product_id = $1 AND hidden = 0 GROUP BY rating",
    )
    .bind(product.to_string())
    .fetch_all(ex)
    .await?;
    let mut histogram = Histogram::default();
    for row in &rows {
        let stars: i64 = row.try_get("rating")?;
        let stars = Stars::try_from(stars).map_err(|_| decode_error("rating", &stars.to_string()))?;
        histogram.add(stars, row.try_get("n")?);
    }
    Ok(histogram)
}

pub async fn save_tally<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
    histogram: &Histogram,
) -> Result<(), sqlx::Error> {
    let [one, two, three, four, five] = histogram.counts;
    sqlx::query(
        "UPDATE review_tallies SET stars_1 = $1, stars_2 = $2, stars_3 = $3, stars_4 = $4, stars_5 = $5
         WHERE product_id = $6",
    )
    .bind(one)
    .bind(two)
    .bind(three)
    .bind(four)
    .bind(five)
    .bind(product.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn tally<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
) -> Result<Histogram, sqlx::Error> {
    let row = sqlx::query(
        "SELECT stars_1, stars_2, stars_3, stars_4, stars_5 FROM review_tallies WHERE product_id = $1",
    )
    .bind(product.to_string())
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else { return Ok(Histogram::default()) };
    Ok(Histogram {
        counts: [
            row.try_get("stars_1")?,
            row.try_get("stars_2")?,
            row.try_get("stars_3")?,
            row.try_get("stars_4")?,
            row.try_get("stars_5")?,
        ],
    })
}

/// The stars of a store's visible reviews added up, and how many there are.
pub async fn store_sum_and_count<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: UserId,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(rating), 0) AS BIGINT) AS total, COUNT(*) AS n FROM reviews
         WHERE seller_id = $1 AND hidden = 0",
    )
    .bind(seller.to_string())
    .fetch_one(ex)
    .await?;
    Ok((row.try_get("total")?, row.try_get("n")?))
}

// ---- images --------------------------------------------------------------------------------

pub async fn insert_image<'c>(
    ex: impl Executor<'c, Database = Any>,
    uploader: UserId,
    key: MediaKey,
    size: usize,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO review_images (id, uploader_id, object_key, content_type, size_bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.to_string())
    .bind(uploader.to_string())
    .bind(key.to_string())
    .bind(key.image_type.content_type())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Puts an image the uploader has not used yet on a review; false when it is not theirs or is
/// on a review already.
pub async fn attach_image<'c>(
    ex: impl Executor<'c, Database = Any>,
    image: MediaId,
    uploader: UserId,
    review: ReviewId,
    position: usize,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE review_images SET review_id = $1, position = $2
         WHERE id = $3 AND uploader_id = $4 AND review_id IS NULL",
    )
    .bind(review.to_string())
    .bind(position as i64)
    .bind(image.to_string())
    .bind(uploader.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn image_of(row: &AnyRow) -> Result<ReviewImage, sqlx::Error> {
    let key: String = row.try_get("object_key")?;
    let key: MediaKey = key.parse().map_err(|()| decode_error("object_key", &key))?;
    let size: i64 = row.try_get("size_bytes")?;
    Ok(ReviewImage {
        id: key.id,
        url: format!("/media/reviews/{key}"),
        content_type: row.try_get("content_type")?,
        size: u64::try_from(size).unwrap_or(0),
    })
}

/// The images of these reviews, each review's in the order they were given.
pub async fn images_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    reviews: &[ReviewId],
) -> Result<HashMap<ReviewId, Vec<ReviewImage>>, sqlx::Error> {
    let mut by_review: HashMap<ReviewId, Vec<ReviewImage>> = HashMap::new();
    if reviews.is_empty() {
        return Ok(by_review);
    }
    let placeholders: Vec<String> = (1..=reviews.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT review_id, object_key, content_type, size_bytes FROM review_images
         WHERE review_id IN ({}) ORDER BY review_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in reviews {
        query = query.bind(id.to_string());
    }
    for row in query.fetch_all(ex).await? {
        let review: ReviewId = parse_text(&row, "review_id")?;
        by_review.entry(review).or_default().push(image_of(&row)?);
    }
    Ok(by_review)
}

/// The content type of a stored review image, by its key.
pub async fn image_content_type<'c>(
    ex: impl Executor<'c, Database = Any>,
    key: MediaKey,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT content_type FROM review_images WHERE object_key = $1")
        .bind(key.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| row.try_get("content_type")).transpose()
}

/// Puts `name` in place of the author's name on each of their reviews; how many changed (none
/// when it was done before).
pub async fn rename_author<'c>(
    ex: impl Executor<'c, Database = Any>,
    author: UserId,
    name: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("UPDATE reviews SET author_name = $1 WHERE author_id = $2 AND author_name <> $1")
        .bind(name)
        .bind(author.to_string())
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}
