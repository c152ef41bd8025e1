//! Domain events and the transactional outbox (DESIGN section 7).
//!
//! A state change and its event are written in the same transaction, so an event exists if and
//! only if its change committed. Delivery (the relay to in-process subscribers, merchant
//! webhooks and NATS) reads `outbox_events` in id order; ids are UUIDv7, so id order is the
//! order events were written.
//!
//! [`relay`] hands every event at least once to the in-process [`Subscriber`]s and queues it
//! for the merchant [`webhooks`] that want it.

pub mod relay;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use crate::db::{Connection, Migration};
use crate::ids::EventId;
use crate::time::Timestamp;

pub use relay::Relay;

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

/// Writes many events into the outbox in one statement, as part of the caller's transaction.
/// Their ids increase in the order given, so the relay hands them out in that order.
pub async fn record_many<P: Serialize>(
    conn: &mut Connection,
    at: Timestamp,
    events: Vec<NewEvent<P>>,
) -> Result<(), sqlx::Error> {
    let rows = events
        .into_iter()
        .map(|event| {
            let payload =
                serde_json::to_string(&event.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            Ok((EventId::new().to_string(), event, payload))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    crate::db::bulk::insert_rows(
        conn,
        "INSERT INTO outbox_events (id, event_type, version, subject_id, actor, occurred_at, payload)",
        "",
        7,
        &rows,
        |args, (id, event, payload)| {
            args.add(id.as_str())?;
            args.add(event.event_type)?;
            args.add(event.version)?;
            args.add(event.subject_id.as_str())?;
            args.add(event.actor.as_str())?;
            args.add(at.millis())?;
            args.add(payload.as_str())
        },
    )
    .await?;
    Ok(())
}

/// The relay's bookkeeping on the outbox: a lease (`claimed_until`, `claim_token`) so that
/// several instances sharing a database never work on the same event at once, and the failed
/// attempts of the subscribers with the last error. After a failure `claimed_until` is the
/// time of the retry: the event is not claimed again before it.
pub static RELAY_MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112220,
    name: "events: relay leases and retries",
    sql: "ALTER TABLE outbox_events ADD COLUMN claimed_until BIGINT;
          ALTER TABLE outbox_events ADD COLUMN claim_token TEXT;
          ALTER TABLE outbox_events ADD COLUMN relay_attempts BIGINT NOT NULL DEFAULT 0;
          ALTER TABLE outbox_events ADD COLUMN relay_error TEXT;",
    postgres: None,
}];

/// An event as it was written to the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub event_type: String,
    pub version: i64,
    pub subject_id: String,
    pub actor: String,
    pub occurred_at: Timestamp,
    pub payload: serde_json::Value,
}

impl Event {
    /// The event as merchants receive it: `{id, type, version, occurred_at, subject_id, actor,
    /// data}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "type": self.event_type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "subject_id": self.subject_id,
            "actor": self.actor,
            "data": self.payload,
        })
    }
}

/// A future a [`Subscriber`] returns; boxed so that subscribers of different types can sit in
/// one list.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// What [`Subscriber::deliver_all`] returns: one answer per event, in order.
pub type Deliveries<'a> = Pin<Box<dyn Future<Output = Vec<anyhow::Result<()>>> + Send + 'a>>;

/// An in-process consumer of events (the audit store, later notifications, search indexing…).
///
/// The relay hands it every event at least once, in id order within a batch: a subscriber must
/// be idempotent (key its effect by `event.id`). Returning an error leaves the event in the
/// outbox, to be handed again, to every subscriber, after a backoff.
pub trait Subscriber: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a>;

    /// Delivers a round of events in order, answering for each. The default hands them to
    /// [`Subscriber::deliver`] one by one; a subscriber that can take many at once (one
    /// transaction, one commit for the round) overrides it.
    fn deliver_all<'a>(&'a self, events: &'a [&'a Event]) -> Deliveries<'a> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(events.len());
            for event in events {
                answers.push(self.deliver(event).await);
            }
            answers
        })
    }
}

pub(crate) const EVENT_COLUMNS: &str = "id, event_type, version, subject_id, actor, occurred_at, payload";

pub(crate) fn event_of(row: &AnyRow) -> Result<Event, sqlx::Error> {
    let decode = |column: &str, source: String| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: source.into(),
    };
    let id: String = row.try_get("id")?;
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        id: id.parse().map_err(|_| decode("id", format!("not an event id: {id:?}")))?,
        event_type: row.try_get("event_type")?,
        version: row.try_get("version")?,
        subject_id: row.try_get("subject_id")?,
        actor: row.try_get("actor")?,
        occurred_at: Timestamp::from_millis(row.try_get("occurred_at")?),
        payload: serde_json::from_str(&payload).map_err(|e| decode("payload", e.to_string()))?,
    })
}

/// One event of the outbox, with whether the relay has published it yet.
pub async fn find<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: EventId,
) -> Result<Option<(Event, bool)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS}, published_at FROM outbox_events WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| Ok((event_of(&row)?, row.try_get::<Option<i64>, _>("published_at")?.is_some()))).transpose()
}
