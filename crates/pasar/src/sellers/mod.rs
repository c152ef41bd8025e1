//! Sellers: customers apply for a store of their own, admins approve, reject, suspend and
//! reinstate them, and shoppers see a live store's page.
//!
//! A store is one seller user: products carry their store's owner in `seller_id`, and other
//! modules key stores by that user id ([`Sellers::store_of_user`], [`Sellers::commission_bps`],
//! [`Sellers::payout_account`]). Suspending a store hides its products through the catalog
//! service; the catalog's tables stay the catalog's. When the owner deletes their account
//! (`user.deleted`), the store is closed for good: hidden the same way, its profile, logo and
//! documents erased.

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use domain::{Decision, ProfileChange, Seller, SellerDocument, SellerStatus, StorePage};
pub use service::{Sellers, SellersError};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120301,
    name: "sellers: stores and their business documents",
    sql: "CREATE TABLE sellers (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            status TEXT NOT NULL,
            store_name TEXT NOT NULL,
            slug TEXT NOT NULL,
            description TEXT NOT NULL,
            contact_email TEXT NOT NULL,
            contact_phone TEXT NOT NULL,
            bank_code TEXT NOT NULL,
            account_number TEXT NOT NULL,
            account_name TEXT NOT NULL,
            logo_key TEXT,
            commission_bps BIGINT,
            reason TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            approved_at BIGINT,
            CHECK (commission_bps IS NULL OR (commission_bps >= 0 AND commission_bps <= 10000))
          );
          CREATE UNIQUE INDEX sellers_user_key ON sellers (user_id);
          CREATE UNIQUE INDEX sellers_slug_key ON sellers (slug);
          CREATE INDEX sellers_status ON sellers (status, id);

          CREATE TABLE seller_documents (
            id TEXT PRIMARY KEY,
            seller_id TEXT NOT NULL REFERENCES sellers (id),
            object_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX seller_documents_seller ON seller_documents (seller_id, id);",
    postgres: None,
}];
