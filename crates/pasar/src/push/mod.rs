//! Web Push: notifications to buyers' browsers (RFC 8030), the server identified by its VAPID
//! key (RFC 8292) and every payload encrypted for the one browser that subscribed (RFC 8291,
//! `aes128gcm`), so the push service in between reads nothing.
//!
//! Off until `PASAR_VAPID_PRIVATE_KEY` is set. The notifications module sends through
//! [`Push::send`]; a browser subscribes with what its `PushManager.subscribe()` gave it.

pub mod domain;
pub mod routes;
pub mod service;
mod store;

use crate::db::Migration;

pub use domain::{PushMessage, Subscription, SubscriptionKeys, VapidKey};
pub use service::{Push, PushError, PushSent};

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121200,
    name: "push: browsers subscribed to Web Push",
    sql: "CREATE TABLE push_subscriptions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            endpoint TEXT NOT NULL UNIQUE,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            user_agent TEXT,
            created_at BIGINT NOT NULL,
            last_sent_at BIGINT
          );
          CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, created_at);",
    postgres: None,
}];
