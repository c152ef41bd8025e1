//! Reviews: a buyer rates and describes each delivered order line once (1–5 stars, text, up
//! to five images) and may edit it for 30 days; the product's seller (or, for the shop's own
//! products, an admin) replies once; admins hide and show reviews. Every change recomputes the
//! product's rating from the visible reviews in its own transaction and hands it to the
//! catalog; a store's rating is counted from the rows when asked. A deleted account's reviews
//! keep their rating and text and show identity's placeholder as their author.

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use domain::{Review, ReviewImage, ReviewSort, Stars, line_is_delivered};
pub use service::{EditReview, NewReview, ProductReviews, Reviews, ReviewsError};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120501,
    name: "reviews: reviews, their images, each product's star tally",
    sql: "CREATE TABLE reviews (
            id TEXT PRIMARY KEY,
            product_id TEXT NOT NULL,
            order_id TEXT NOT NULL,
            order_line_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            seller_id TEXT,
            rating BIGINT NOT NULL,
            body TEXT NOT NULL,
            image_count BIGINT NOT NULL,
            hidden BIGINT NOT NULL,
            hidden_reason TEXT,
            reply_text TEXT,
            reply_by TEXT,
            replied_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (rating BETWEEN 1 AND 5)
          );
          CREATE UNIQUE INDEX reviews_order_line_key ON reviews (order_line_id);
          CREATE INDEX reviews_product ON reviews (product_id, hidden, id);
          CREATE INDEX reviews_seller ON reviews (seller_id, hidden);

          CREATE TABLE review_images (
            id TEXT PRIMARY KEY,
            uploader_id TEXT NOT NULL,
            review_id TEXT REFERENCES reviews (id),
            position BIGINT,
            object_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX review_images_key ON review_images (object_key);
          CREATE INDEX review_images_review ON review_images (review_id, position);

          CREATE TABLE review_tallies (
            product_id TEXT PRIMARY KEY,
            stars_1 BIGINT NOT NULL,
            stars_2 BIGINT NOT NULL,
            stars_3 BIGINT NOT NULL,
            stars_4 BIGINT NOT NULL,
            stars_5 BIGINT NOT NULL
          );",
    postgres: None,
}];
