//! Carts: what a buyer means to buy. A signed-in buyer has one cart; a guest's cart is reached
//! with its id and a secret token, and merges into the buyer's cart at login. Prices are never
//! stored here: a cart is priced from the catalog each time it is read.

pub mod routes;
mod service;

pub use service::{CartAccess, CartError, CartLine, CartView, Carts, CartsInHour, MAX_LINES, MAX_QUANTITY};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112260,
        name: "cart: carts and their items",
        sql: "CREATE TABLE carts (
            id TEXT PRIMARY KEY,
            owner_id TEXT,
            token_hash TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX carts_owner ON carts (owner_id);

          CREATE TABLE cart_items (
            cart_id TEXT NOT NULL REFERENCES carts (id),
            variant_id TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            added_at BIGINT NOT NULL,
            PRIMARY KEY (cart_id, variant_id),
            CHECK (quantity > 0)
          );",
        postgres: None,
    },
    // A cart's life from its first item to its checkout, for conversion: a signed-in buyer
    // keeps one cart for good, so carts opened says little about baskets.
    Migration {
        version: 2026121250,
        name: "cart: from first item to checkout",
        sql: "CREATE TABLE cart_fills (
            id TEXT PRIMARY KEY,
            cart_id TEXT NOT NULL,
            filled_at BIGINT NOT NULL,
            ended_at BIGINT,
            outcome TEXT,
            CHECK ((ended_at IS NULL) = (outcome IS NULL)),
            CHECK (outcome IS NULL OR outcome IN ('checked_out', 'merged'))
          );
          CREATE UNIQUE INDEX cart_fills_open ON cart_fills (cart_id) WHERE ended_at IS NULL;
          CREATE INDEX cart_fills_filled ON cart_fills (filled_at);
          CREATE INDEX cart_fills_ended ON cart_fills (ended_at);",
        postgres: None,
    },
];
