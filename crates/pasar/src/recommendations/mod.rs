//! Recommendations: "bought together" (products in the same paid orders, normalised by each
//! one's popularity), "similar" (same category and brand, close price) and "popular in the
//! category" (units sold over 30 days) for a product's page, and a buyer's own list from what
//! they bought. Counts are kept by this module, fed by `order.confirmed` on the outbox (each
//! order once); orders paid before the module existed are counted once by a job under a lease.

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use service::{ProductRecommendations, Recommendations, RecommendationsError, RecommendedProduct};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026121150,
        name: "recommendations: paid orders counted, orders per product and pair, purchases, daily sales",
        sql: "CREATE TABLE recommendation_orders (
            order_id TEXT PRIMARY KEY,
            counted_at BIGINT NOT NULL
          );
          CREATE TABLE recommendation_products (
            product_id TEXT PRIMARY KEY,
            orders BIGINT NOT NULL
          );
          CREATE TABLE recommendation_pairs (
            product_id TEXT NOT NULL,
            other_id TEXT NOT NULL,
            orders BIGINT NOT NULL,
            PRIMARY KEY (product_id, other_id)
          );
          CREATE TABLE recommendation_purchases (
            buyer_id TEXT NOT NULL,
            product_id TEXT NOT NULL,
            PRIMARY KEY (buyer_id, product_id)
          );
          CREATE TABLE recommendation_sales (
            category_id TEXT NOT NULL,
            product_id TEXT NOT NULL,
            day BIGINT NOT NULL,
            units BIGINT NOT NULL,
            PRIMARY KEY (category_id, product_id, day)
          );
          CREATE INDEX recommendation_sales_product ON recommendation_sales (product_id);
          CREATE TABLE recommendation_jobs (
            name TEXT PRIMARY KEY,
            done_at BIGINT NOT NULL
          );",
        postgres: None,
    },
    Migration {
        version: 2026121251,
        name: "recommendations: a wholly refunded order is taken back out of the counts",
        sql: "ALTER TABLE recommendation_orders ADD COLUMN refunded_at BIGINT",
        postgres: None,
    },
];
