//! Carts: what a buyer means to buy. A signed-in buyer has one cart; a guest's cart is reached
//! with its id and a secret token, and merges into the buyer's cart at login. Prices are never
//! stored here: a cart is priced from the catalog each time it is read.

pub mod routes;
mod service;

pub use service::{CartAccess, CartError, CartLine, CartView, Carts, MAX_LINES, MAX_QUANTITY};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
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
}];
