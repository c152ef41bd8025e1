//! Analytics: sales, orders, customers, payments and products figures for admins (the whole
//! shop or one store) and for sellers (their own store), by the hour or the day, as JSON or
//! CSV, and the business counters on `/metrics`. Figures are sums kept per bucket by an outbox
//! subscriber (each event once) and a cart-counting job (once across instances), so a report
//! reads pre-aggregated rows and never scans orders.

pub mod domain;
pub mod metrics;
pub mod routes;
mod service;
mod store;

pub use service::{Analytics, AnalyticsError, Period};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121160,
    name: "analytics: figures per bucket, active customers, counted events, watermarks",
    sql: "CREATE TABLE analytics_figures (
            grain TEXT NOT NULL,
            scope TEXT NOT NULL,
            bucket BIGINT NOT NULL,
            figure TEXT NOT NULL,
            dimension TEXT NOT NULL,
            value BIGINT NOT NULL,
            PRIMARY KEY (grain, scope, figure, bucket, dimension)
          );
          CREATE TABLE analytics_active_customers (
            grain TEXT NOT NULL,
            scope TEXT NOT NULL,
            bucket BIGINT NOT NULL,
            user_id TEXT NOT NULL,
            PRIMARY KEY (grain, scope, bucket, user_id)
          );
          CREATE TABLE analytics_counted_events (
            event_id TEXT PRIMARY KEY,
            counted_at BIGINT NOT NULL
          );
          CREATE TABLE analytics_watermarks (
            name TEXT PRIMARY KEY,
            until_ms BIGINT NOT NULL
          );",
    postgres: None,
}];
