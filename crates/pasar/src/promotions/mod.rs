//! Promotions: vouchers funded by the platform (admins) or by a store (its seller), automatic
//! promotions applied without a code, and the checkout saga's voucher step (held with the
//! stock, consumed on payment, released when the order ends unpaid). The rules are pure, in
//! [`domain`].

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use domain::{Applied, Candidate, Funder, Line, Priced, Reason, Refused, Shopper, Voucher, price};
pub use service::{Hold, NewVoucher, Promotions, PromotionsError, Scope, Usage};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120400,
    name: "promotions: vouchers, their buyers and redemptions",
    sql: "CREATE TABLE vouchers (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            store_id TEXT,
            percent_off BIGINT,
            amount_off BIGINT,
            max_discount BIGINT,
            min_spend BIGINT,
            currency TEXT,
            starts_at BIGINT,
            ends_at BIGINT,
            usage_limit BIGINT,
            per_buyer_limit BIGINT,
            first_order_only BIGINT NOT NULL,
            applies_to TEXT NOT NULL,
            stackable BIGINT NOT NULL,
            automatic BIGINT NOT NULL,
            paused BIGINT NOT NULL,
            held BIGINT NOT NULL,
            used BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (held >= 0 AND used >= 0),
            CHECK (usage_limit IS NULL OR held + used <= usage_limit),
            CHECK ((percent_off IS NULL) <> (amount_off IS NULL))
          );
          CREATE UNIQUE INDEX vouchers_code ON vouchers (code);
          CREATE INDEX vouchers_store ON vouchers (store_id, id);
          CREATE INDEX vouchers_automatic ON vouchers (automatic, paused);

          CREATE TABLE voucher_buyers (
            voucher_id TEXT NOT NULL REFERENCES vouchers (id),
            buyer_id TEXT NOT NULL,
            held BIGINT NOT NULL,
            used BIGINT NOT NULL,
            PRIMARY KEY (voucher_id, buyer_id),
            CHECK (held >= 0 AND used >= 0)
          );
          CREATE INDEX voucher_buyers_buyer ON voucher_buyers (buyer_id);

          CREATE TABLE voucher_redemptions (
            voucher_id TEXT NOT NULL REFERENCES vouchers (id),
            order_id TEXT NOT NULL,
            buyer_id TEXT NOT NULL,
            code TEXT NOT NULL,
            status TEXT NOT NULL,
            discount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (voucher_id, order_id)
          );
          CREATE INDEX voucher_redemptions_order ON voucher_redemptions (order_id, status);",
    postgres: None,
}];
