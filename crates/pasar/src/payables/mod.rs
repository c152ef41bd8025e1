//! What the marketplace owes its sellers: each store's share of a paid order (its items, less
//! the discounts it funded, less the platform's commission) held in the ledger until the part
//! is delivered and the hold period has passed, then withdrawable; clawed back in proportion
//! when money is refunded; paid out through the same payout path as wallet withdrawals.

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use domain::CommissionRate;
pub use service::{Payables, PayablesError, StoreBalance};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120701,
    name: "payables: each store's share of each paid order",
    sql: "CREATE TABLE seller_shares (
            fulfilment_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            seller_id TEXT NOT NULL,
            currency TEXT NOT NULL,
            base BIGINT NOT NULL,
            commission BIGINT NOT NULL,
            seller_amount BIGINT NOT NULL,
            clawed_back BIGINT NOT NULL,
            released_amount BIGINT,
            clawed_after_release BIGINT NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (commission + seller_amount = base),
            CHECK (commission >= 0 AND seller_amount >= 0),
            CHECK (clawed_back >= 0 AND clawed_back <= seller_amount),
            CHECK (status IN ('held', 'released', 'voided'))
          );
          CREATE INDEX seller_shares_seller ON seller_shares (seller_id, status);
          CREATE INDEX seller_shares_status ON seller_shares (status, fulfilment_id);
          CREATE INDEX seller_shares_order ON seller_shares (order_id);",
    postgres: None,
}];
