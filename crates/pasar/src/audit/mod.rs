//! The audit store: an append-only, hash-chained record of every event, in a database of its
//! own (DESIGN sections 2 and 4).
//!
//! It is fed by the outbox relay as an in-process subscriber, so recording never slows a
//! request and never loses an entry (an event stays in the outbox until its entry is
//! committed). Each event gives exactly one entry (`event_id` is unique; a redelivery is a
//! no-op). Entries are chained with an HMAC whose key lives outside the audit database
//! ([`chain`]); `pasar audit verify` walks the chain and names the first broken entry. There is
//! no update or delete path: the code only appends.

pub mod chain;
pub mod routes;
mod service;
mod store;

pub use service::{Appended, AuditEntry, AuditError, AuditFilter, AuditStore};

use crate::db::Migration;

/// The audit database's own migration history (applied with `db::migrate`).
pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112230,
    name: "audit: entries",
    sql: "CREATE TABLE audit_entries (
            seq BIGINT PRIMARY KEY,
            event_id TEXT UNIQUE NOT NULL,
            recorded_at BIGINT NOT NULL,
            occurred_at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            before_state TEXT NULL,
            after_state TEXT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
          );
          CREATE INDEX audit_entries_entity ON audit_entries (entity, seq);
          CREATE INDEX audit_entries_actor ON audit_entries (actor, seq);
          CREATE INDEX audit_entries_action ON audit_entries (action, seq);",
    postgres: None,
}];
