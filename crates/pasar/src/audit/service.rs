//! The audit store's use cases: append an event's entry, search entries, verify the chain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::Mutex;
use utoipa::ToSchema;

use super::chain::{self, Break, Entry, Head, Record, Verifier};
use super::{MIGRATIONS, store};
use crate::config::Config;
use crate::db::{self, Connection, Db, Dialect};
use crate::events::{Deliveries, Delivery, Event, Subscriber};
use crate::time::{Clock, Timestamp};

/// Serialises appends across PostgreSQL clients (SQLite's write lock does it there).
const APPEND_LOCK: i64 = 6_175_646_974;
/// Entries read per query when walking the chain.
const VERIFY_PAGE: i64 = 500;

/// An entry as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub event_id: String,
    pub recorded_at: Timestamp,
    pub occurred_at: Timestamp,
    /// Who caused it: a user id, `system` or `gateway:<provider>`.
    pub actor: String,
    /// The event type, such as `user.role_changed`.
    pub action: String,
    /// The id of what changed.
    pub entity: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<Entry> for AuditEntry {
    fn from(entry: Entry) -> Self {
        // Stored text that no longer parses (tampering) is shown as it is, as a string.
        let json = |text: String| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Self {
            seq: entry.seq,
            event_id: entry.event_id,
            recorded_at: Timestamp::from_millis(entry.recorded_at),
            occurred_at: Timestamp::from_millis(entry.occurred_at),
            actor: entry.actor,
            action: entry.action,
            entity: entry.entity,
            before: entry.before.map(json),
            after: entry.after.map(json),
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub before: Option<i64>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Recorded {
        seq: i64,
    },
    /// The event already had its entry: a redelivery, nothing written.
    AlreadyRecorded {
        seq: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The chain no longer reaches the head this process last wrote: appending would hide it.
    #[error(
        "the audit chain does not reach its head (seq {head_seq}): entries were removed or changed; \
         appends are stopped, run `pasar audit verify`"
    )]
    HeadNotInChain { head_seq: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct AuditStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    key: Vec<u8>,
    head_path: PathBuf,
    clock: Clock,
    /// The last head written; held while appending, so this process appends one at a time and
    /// writes heads in seq order.
    head: Mutex<Option<Head>>,
}

impl AuditStore {
    /// Opens the audit database named by the configuration and brings its schema up to date.
    pub async fn open(config: &Config, clock: Clock) -> anyhow::Result<Self> {
        let url = config.audit_database_url();
        anyhow::ensure!(
            url != config.database_url(),
            "the audit store needs a database of its own: AUDIT_DATABASE_URL must differ from DATABASE_URL"
        );
        let db = Db::connect(&url, config.database_max_connections.clamp(2, 4))
            .await
            .context("opening the audit database")?;
        db::migrate(&db, MIGRATIONS.iter().collect()).await.context("migrating the audit database")?;
        Self::new(db, config.audit_key()?, config.audit_head_path(), clock)
    }

    pub fn new(db: Db, key: Vec<u8>, head_path: PathBuf, clock: Clock) -> anyhow::Result<Self> {
        let head = read_head(&head_path)?;
        Ok(Self { inner: Arc::new(Inner { db, key, head_path, clock, head: Mutex::new(head) }) })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Records an event's entry at the end of the chain, once: a second call for the same
    /// event changes nothing.
    pub async fn append(&self, event: &Event) -> Result<Appended, AuditError> {
        let record = record_of(event, self.inner.clock.now());
        let mut head = self.inner.head.lock().await;
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        if db.dialect() == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
        }
        if let Some(seq) = store::seq_of_event(&mut *tx, &record.event_id).await? {
            return Ok(Appended::AlreadyRecorded { seq });
        }
        let last = store::last(&mut *tx).await?;
        check_head_reached(&mut tx, head.as_ref(), last.as_ref()).await?;
        let entry = chain::next_entry(&self.inner.key, last.as_ref(), record);
        store::insert(&mut *tx, &entry).await?;
        tx.commit().await?;
        let new_head = Head { seq: entry.seq, hash: entry.hash };
        // The entry is committed either way; a head that lags behind still guards what it saw.
        if let Err(err) = write_head(&self.inner.head_path, &new_head) {
            tracing::error!(error = format!("{err:#}"), path = %self.inner.head_path.display(), "writing the audit head failed");
        }
        *head = Some(new_head);
        Ok(Appended::Recorded { seq: entry.seq })
    }

    /// [`AuditStore::append`] for many events in one transaction: one commit and one head
    /// write for all of them. Events recorded before are skipped; the rest are chained in the
    /// order given.
    pub async fn append_all(&self, events: &[&Event]) -> Result<(), AuditError> {
        let now = self.inner.clock.now();
        let mut head = self.inner.head.lock().await;
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        if db.dialect() == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_LOCK).execute(&mut *tx).await?;
        }
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        let recorded = store::recorded_events(&mut tx, &ids).await?;
        let mut last = store::last(&mut *tx).await?;
        check_head_reached(&mut tx, head.as_ref(), last.as_ref()).await?;
        let mut entries = Vec::with_capacity(events.len());
        for event in events.iter().filter(|e| !recorded.contains(&e.id.to_string())) {
            let entry = chain::next_entry(&self.inner.key, last.as_ref(), record_of(event, now));
            last = Some(Head { seq: entry.seq, hash: entry.hash.clone() });
            entries.push(entry);
        }
        let Some(new_head) = last.filter(|_| !entries.is_empty()) else { return Ok(()) };
        store::insert_many(&mut tx, &entries).await?;
        tx.commit().await?;
        // The entries are committed either way; a head that lags behind still guards what it saw.
        if let Err(err) = write_head(&self.inner.head_path, &new_head) {
            tracing::error!(error = format!("{err:#}"), path = %self.inner.head_path.display(), "writing the audit head failed");
        }
        *head = Some(new_head);
        Ok(())
    }

    /// One page of entries, newest first, and whether more follow.
    pub async fn search(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<(Vec<AuditEntry>, bool), AuditError> {
        let mut entries = store::search(
            self.inner.db.reader(),
            filter.entity.as_deref(),
            filter.actor.as_deref(),
            filter.action.as_deref(),
            filter.before,
            limit + 1,
        )
        .await?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        Ok((entries.into_iter().map(AuditEntry::from).collect(), more))
    }

    /// Walks the whole chain from the first entry against the head file: the number of
    /// entries, or the first broken one.
    pub async fn verify(&self) -> anyhow::Result<Result<u64, Break>> {
        let head = read_head(&self.inner.head_path)?;
        let mut verifier = Verifier::new(&self.inner.key, head);
        let mut after = 0;
        loop {
            let page = store::entries_after(self.inner.db.reader(), after, VERIFY_PAGE).await?;
            for entry in &page {
                if let Err(broken) = verifier.push(entry) {
                    return Ok(Err(broken));
                }
            }
            match page.last() {
                Some(last) if page.len() as i64 == VERIFY_PAGE => after = last.seq,
                _ => break,
            }
        }
        Ok(verifier.finish())
    }

    pub async fn close(&self) {
        self.inner.db.close().await;
    }
}

/// The relay hands every event to the audit store through this.
impl Subscriber for AuditStore {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move { self.append(event).await.map(|_| ()).map_err(anyhow::Error::from) })
    }

    /// The round in one transaction; if that fails, event by event, so that only the events
    /// that fail on their own wait for a retry.
    fn deliver_all<'a>(&'a self, events: &'a [&'a Event]) -> Deliveries<'a> {
        Box::pin(async move {
            if self.append_all(events).await.is_ok() {
                return events.iter().map(|_| Ok(())).collect();
            }
            let mut answers = Vec::with_capacity(events.len());
            for event in events {
                answers.push(self.append(event).await.map(|_| ()).map_err(anyhow::Error::from));
            }
            answers
        })
    }
}

/// Refuses to append when the chain no longer reaches the head this process last wrote (an
/// entry at or before it was edited or removed).
async fn check_head_reached(
    conn: &mut Connection,
    known: Option<&Head>,
    last: Option<&Head>,
) -> Result<(), AuditError> {
    let Some(known) = known else { return Ok(()) };
    let reached = match last {
        Some(last) if last.seq == known.seq => last.hash == known.hash,
        Some(last) if last.seq > known.seq => {
            store::hash_at(&mut *conn, known.seq).await?.as_deref() == Some(known.hash.as_str())
        }
        _ => false,
    };
    if reached { Ok(()) } else { Err(AuditError::HeadNotInChain { head_seq: known.seq }) }
}

/// An event as an audit record: its payload's `before` and `after` objects when it has them
/// (the convention for events that describe a change), else the whole payload as `after`.
fn record_of(event: &Event, now: Timestamp) -> Record {
    let part = |name: &str| {
        event.payload.get(name).filter(|value| !value.is_null()).map(serde_json::Value::to_string)
    };
    let (before, after) = match (part("before"), part("after")) {
        (None, None) => (None, Some(event.payload.to_string())),
        parts => parts,
    };
    Record {
        event_id: event.id.to_string(),
        recorded_at: now.millis(),
        occurred_at: event.occurred_at.millis(),
        actor: event.actor.clone(),
        action: event.event_type.clone(),
        entity: event.subject_id.clone(),
        before,
        after,
    }
}

fn read_head(path: &Path) -> anyhow::Result<Option<Head>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Head::parse(&text)
            .map(Some)
            .with_context(|| format!("{} is not an audit head (\"<seq> <hash>\")", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Replaces the head file in one step (write aside, then rename), so it is never half written.
fn write_head(path: &Path, head: &Head) -> anyhow::Result<()> {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, head.to_line()).with_context(|| format!("writing {}", aside.display()))?;
    std::fs::rename(&aside, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::EventId;

    fn event(payload: serde_json::Value) -> Event {
        Event {
            id: EventId::new(),
            event_type: "user.role_changed".into(),
            version: 1,
            subject_id: "usr_1".into(),
            actor: "usr_2".into(),
            occurred_at: Timestamp::from_millis(1_000),
            payload,
        }
    }

    #[test]
    fn a_change_is_recorded_with_its_before_and_after_and_anything_else_whole() {
        let change = record_of(
            &event(json!({"before": {"role": "customer"}, "after": {"role": "seller"}})),
            Timestamp::from_millis(5),
        );
        assert_eq!(change.before.as_deref(), Some(r#"{"role":"customer"}"#));
        assert_eq!(change.after.as_deref(), Some(r#"{"role":"seller"}"#));
        assert_eq!(
            (change.actor.as_str(), change.action.as_str(), change.entity.as_str()),
            ("usr_2", "user.role_changed", "usr_1")
        );
        let created = record_of(&event(json!({"after": {"email": "a@b.co"}})), Timestamp::from_millis(5));
        assert_eq!((created.before, created.after.as_deref()), (None, Some(r#"{"email":"a@b.co"}"#)));
        let other = record_of(&event(json!({"stock": 3})), Timestamp::from_millis(5));
        assert_eq!((other.before, other.after.as_deref()), (None, Some(r#"{"stock":3}"#)));
    }

    #[test]
    fn the_head_file_is_replaced_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit_head");
        assert_eq!(read_head(&path).unwrap(), None);
        let head = Head { seq: 7, hash: "ab".repeat(32) };
        write_head(&path, &head).unwrap();
        assert_eq!(read_head(&path).unwrap(), Some(head));
        std::fs::write(&path, "garbage").unwrap();
        assert!(read_head(&path).is_err());
    }
}
