//! Shipping: delivery zones (a country, postal-code prefixes or ranges, or an area on the map),
//! methods with their rates (flat, by weight, by order value, free above a threshold), and
//! quotes; a checkout charges what the quote says.

pub mod domain;
pub mod routes;
pub mod service;
mod store;

use crate::db::Migration;

pub use domain::{Coordinates, DeliveryDays, Destination, Method, Parcel, Rate, Zone};
pub use service::{NewMethod, NewZone, Quote, Shipping, ShippingError};

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120121,
    name: "shipping: zones and methods",
    sql: "CREATE TABLE shipping_zones (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            country TEXT NOT NULL,
            postal_prefixes TEXT NOT NULL,
            postal_ranges TEXT NOT NULL,
            area TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE TABLE shipping_methods (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            currency TEXT NOT NULL,
            rate TEXT NOT NULL,
            free_above BIGINT,
            zone_ids TEXT NOT NULL,
            min_days BIGINT NOT NULL,
            max_days BIGINT NOT NULL,
            active BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );",
    postgres: None,
}];
