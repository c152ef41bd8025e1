//! Domain events and the transactional outbox (DESIGN section 7).
//!
//! A state change and its event are written in the same transaction, so an event exists if and
//! only if its change committed. Delivery (the relay to in-process subscribers, merchant
//! webhooks and NATS) reads `outbox_events` in id order; ids are UUIDv7, so id order is the
//! order events were written.

use serde::Serialize;

use crate::db::{Connection, Migration};
use crate::ids::EventId;
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112202,
    name: "events: outbox",
    sql: "CREATE TABLE outbox_events (
            id TEXT PRIMARY KEY,
            event_type TEXT NOT NULL,
            version BIGINT NOT NULL,
            subject_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            occurred_at BIGINT NOT NULL,
            payload TEXT NOT NULL,
            published_at BIGINT
          );
          CREATE INDEX outbox_events_unpublished ON outbox_events (id) WHERE published_at IS NULL;",
    postgres: None,
}];

/// An event about to be written: its type from the catalogue in DESIGN section 7, the version
/// of its payload's shape, the entity it is about (its prefixed id), who caused it, and the
/// payload itself.
///
/// By convention a payload describing a change carries `before` and `after` objects; the audit
/// store records those as the entry's before and after states.
pub struct NewEvent<P> {
    pub event_type: &'static str,
    pub version: i64,
    pub subject_id: String,
    /// A user id (`usr_…`), `system` (sweepers, jobs) or `gateway:<provider>`.
    pub actor: String,
    pub payload: P,
}

/// The actor for work done by Pasar itself rather than a person.
pub const SYSTEM: &str = "system";

/// Writes an event into the outbox as part of the caller's transaction.
pub async fn record<P: Serialize>(
    conn: &mut Connection,
    at: Timestamp,
    event: NewEvent<P>,
) -> Result<EventId, sqlx::Error> {
    let id = EventId::new();
    let payload = serde_json::to_string(&event.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO outbox_events (id, event_type, version, subject_id, actor, occurred_at, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(event.event_type)
    .bind(event.version)
    .bind(event.subject_id)
    .bind(event.actor)
    .bind(at.millis())
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(id)
}
