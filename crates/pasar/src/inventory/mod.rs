//! Inventory: stock levels per variant, the movements that explain them, reservations that hold
//! stock for unpaid orders, and digital stock items (keys, accounts, files) delivered on payment.
//!
//! Invariants (DESIGN section 4), kept by guarded updates and CHECK constraints on both backends:
//! `0 <= reserved <= on_hand`; `on_hand` equals the sum of the variant's movements; a digital
//! item goes to at most one order line. For a digital variant, `on_hand` is its count of
//! unassigned items: adding items is a movement in, delivering them a movement out.

pub mod domain;

pub mod import;
pub mod routes;
mod sealing;
mod service;
mod store;

pub use domain::{
    Availability, DigitalFile, ItemContent, Reservation, StockLevel, StockMovement, StockStatus,
};
pub use sealing::ItemSealer;
pub use service::{DeliveredItem, Inventory, InventoryError, ItemsAdded, ReservationRequest};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112230,
        name: "inventory: stock levels, movements, reservations, digital items",
        sql: "CREATE TABLE stock_levels (
            variant_id TEXT PRIMARY KEY,
            on_hand BIGINT NOT NULL,
            reserved BIGINT NOT NULL,
            low_stock_threshold BIGINT NOT NULL,
            is_digital BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (reserved >= 0),
            CHECK (reserved <= on_hand)
          );

          CREATE TABLE stock_movements (
            id TEXT PRIMARY KEY,
            variant_id TEXT NOT NULL,
            delta BIGINT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            reference TEXT,
            actor TEXT NOT NULL,
            on_hand_after BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX stock_movements_variant ON stock_movements (variant_id, id);

          CREATE TABLE stock_reservations (
            id TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            variant_id TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            status TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (quantity > 0)
          );
          CREATE INDEX stock_reservations_holder ON stock_reservations (holder);
          CREATE INDEX stock_reservations_due ON stock_reservations (expires_at) WHERE status = 'held';

          CREATE TABLE digital_items (
            id TEXT PRIMARY KEY,
            variant_id TEXT NOT NULL,
            sealed TEXT NOT NULL,
            status TEXT NOT NULL,
            holder TEXT,
            order_line_id TEXT,
            created_at BIGINT NOT NULL,
            assigned_at BIGINT
          );
          CREATE INDEX digital_items_available ON digital_items (variant_id, id) WHERE status = 'available';
          CREATE INDEX digital_items_holder ON digital_items (holder);",
        postgres: None,
    },
    Migration {
        version: 2026120101,
        name: "inventory: one digital item text per variant (keyed digest)",
        // Rows from before are given their digest when the server starts (it needs the key).
        sql: "ALTER TABLE digital_items ADD COLUMN digest TEXT;
          CREATE UNIQUE INDEX digital_items_digest ON digital_items (variant_id, digest);",
        postgres: None,
    },
    Migration {
        version: 2026120106,
        name: "inventory: movements by what they refer to (an order's restocks)",
        sql: "CREATE INDEX stock_movements_reference ON stock_movements (reference, kind);",
        postgres: None,
    },
    Migration {
        version: 2026120600,
        name: "inventory: file items beside text items (both sealed)",
        sql: "ALTER TABLE digital_items ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';",
        postgres: None,
    },
];
