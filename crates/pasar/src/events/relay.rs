//! The relay: delivers every outbox event at least once.
//!
//! It claims unpublished events in id order in batches, hands each batch to every in-process
//! [`Subscriber`] at once (the audit store records a batch in one transaction), then in ONE
//! transaction queues the events for every merchant webhook endpoint that wants them and marks
//! them published. A subscriber that fails on a batch is handed its events one by one; an
//! event it fails on stays unpublished, to be claimed again after a backoff.
//!
//! Claims are leases (`claimed_until`, `claim_token`), so instances sharing a database never
//! work on the same event at once, and an instance that dies mid-batch only delays its events
//! until the lease runs out. Selection is by `published_at IS NULL`, never by "the last id
//! seen": events commit out of id order, and a cursor would skip the late ones.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use super::webhooks::store as webhook_store;
use super::{EVENT_COLUMNS, Event, Subscriber, event_of};
use crate::db::{Connection, Db, Dialect, bulk};
use crate::time::{Clock, Timestamp};

/// Events claimed per round; a full batch means a backlog, and the relay goes on at once.
const BATCH: i64 = 256;
/// How long a claim keeps other instances off an event.
const LEASE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Relay {
    db: Db,
    clock: Clock,
    poll: Duration,
    subscribers: Arc<[Arc<dyn Subscriber>]>,
}

/// A claimed event and how many times its subscribers already failed on it.
struct Claimed {
    event: Event,
    failures: u32,
}

impl Relay {
    /// Events not yet handed to every subscriber: the outbox's queue length, for `/metrics`.
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
            .fetch_one(self.db.reader())
            .await
    }

    /// A relay with no subscribers yet; `poll` is how long it rests when the outbox is empty.
    pub fn new(db: Db, clock: Clock, poll: Duration) -> Self {
        Self { db, clock, poll: poll.max(Duration::from_millis(10)), subscribers: Arc::new([]) }
    }

    /// Adds an in-process subscriber. Every event is handed to every subscriber, at least once.
    pub fn subscribe(self, subscriber: Arc<dyn Subscriber>) -> Self {
        let subscribers = self.subscribers.iter().cloned().chain([subscriber]).collect();
        Self { subscribers, ..self }
    }

    /// Runs until `stop` turns true (or its sender is dropped), finishing the batch in hand.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let pause = match self.run_once().await {
                Ok(claimed) if claimed >= BATCH as usize => continue,
                Ok(_) => self.poll,
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "outbox relay round failed; will retry");
                    self.poll.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round: claims a batch of due events, delivers them and settles them. Returns how
    /// many events were claimed (0 when there is nothing to do). Tests call it to drain the
    /// outbox deterministically.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let token = uuid::Uuid::now_v7().simple().to_string();
        let claimed = self.claim(now, &token).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        // Each subscriber takes the round at once, minus the events an earlier subscriber
        // failed on (those go to every subscriber again on their retry).
        let mut failures: Vec<Option<(&'static str, anyhow::Error)>> = claimed.iter().map(|_| None).collect();
        for subscriber in self.subscribers.iter() {
            let (positions, events): (Vec<usize>, Vec<&Event>) = claimed
                .iter()
                .enumerate()
                .filter(|(i, _)| failures[*i].is_none())
                .map(|(i, claim)| (i, &claim.event))
                .unzip();
            let answers = subscriber.deliver_all(&events).await;
            for (i, answer) in positions.into_iter().zip(answers) {
                if let Err(err) = answer {
                    failures[i] = Some((subscriber.name(), err));
                }
            }
        }
        let mut delivered = Vec::new();
        let mut failed = Vec::new();
        for (claim, failure) in claimed.iter().zip(failures) {
            match failure {
                None => delivered.push(&claim.event),
                Some((subscriber, err)) => {
                    let failures = claim.failures + 1;
                    let retry_in = retry_delay(failures);
                    tracing::warn!(
                        event = %claim.event.id,
                        event_type = claim.event.event_type,
                        subscriber,
                        failures,
                        retry_in_secs = retry_in.as_secs(),
                        error = format!("{err:#}"),
                        "a subscriber failed on an event; it stays in the outbox"
                    );
                    failed.push((&claim.event, format!("{subscriber}: {err:#}"), now.plus(retry_in)));
                }
            }
        }
        self.settle(&delivered, &failed, &token).await?;
        Ok(claimed.len())
    }

    async fn claim(&self, now: Timestamp, token: &str) -> Result<Vec<Claimed>, sqlx::Error> {
        // PostgreSQL: instances claiming at the same moment skip each other's rows instead of
        // queueing on them; the repeated conditions outside the subquery are re-checked
        // against the latest row version. The pick is a MATERIALIZED CTE so it runs once: as a
        // plain `IN (SELECT … LIMIT … SKIP LOCKED)` the planner may rescan it per row and claim
        // far more than the batch (seen under load). SQLite has one writer, so the claim is
        // serial.
        let lock = match self.db.dialect() {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "WITH picked AS MATERIALIZED (
               SELECT id FROM outbox_events
               WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3)
               ORDER BY id LIMIT $4 {lock})
             UPDATE outbox_events SET claimed_until = $1, claim_token = $2
             WHERE id IN (SELECT id FROM picked)
               AND published_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3)
             RETURNING {EVENT_COLUMNS}, relay_attempts"
        );
        let mut tx = self.db.begin().await?;
        let rows = sqlx::query(&sql)
            .bind(now.plus(LEASE).millis())
            .bind(token)
            .bind(now.millis())
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let failures: i64 = row.try_get("relay_attempts")?;
            claimed.push(Claimed {
                event: event_of(row)?,
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
            });
        }
        // RETURNING promises no order.
        claimed.sort_by_key(|c| c.event.id);
        Ok(claimed)
    }

    /// Marks the delivered events published, queueing their webhook deliveries in the same
    /// transaction, and puts the failed ones back with their retry time. An event whose lease
    /// was lost (this round outlived `LEASE` and another instance claimed it) is left to that
    /// instance.
    async fn settle(
        &self,
        delivered: &[&Event],
        failed: &[(&Event, String, Timestamp)],
        token: &str,
    ) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let endpoints = if delivered.is_empty() {
            Vec::new()
        } else {
            webhook_store::enabled_endpoints(&mut *tx).await?
        };
        let published = publish(&mut tx, delivered, token, now).await?;
        for event in delivered {
            if !published.contains(&event.id.to_string()) {
                tracing::warn!(event = %event.id, "lost the claim on an event before publishing it");
                continue;
            }
            for endpoint in endpoints.iter().filter(|e| e.wants(&event.event_type)) {
                webhook_store::insert_delivery(&mut *tx, endpoint.id, event, now).await?;
            }
        }
        for (event, error, retry_at) in failed {
            sqlx::query(
                "UPDATE outbox_events
                 SET relay_attempts = relay_attempts + 1, relay_error = $1, claimed_until = $2,
                     claim_token = NULL
                 WHERE id = $3 AND claim_token = $4",
            )
            .bind(truncate(error, 1000))
            .bind(retry_at.millis())
            .bind(event.id.to_string())
            .bind(token)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// Marks the events published in one statement where this round still holds their claim;
/// returns the ids it marked.
async fn publish(
    conn: &mut Connection,
    events: &[&Event],
    token: &str,
    now: Timestamp,
) -> Result<HashSet<String>, sqlx::Error> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let ids = bulk::padded(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    let mut p = bulk::Placeholders::for_connection(conn);
    let sql = format!(
        "UPDATE outbox_events
         SET published_at = {}, claimed_until = NULL, claim_token = NULL, relay_error = NULL
         WHERE claim_token = {} AND published_at IS NULL AND id IN ({})
         RETURNING id",
        p.one(),
        p.one(),
        p.list(ids.len())
    );
    let mut query = sqlx::query(&sql).bind(now.millis()).bind(token);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// How long an event rests after its subscribers failed on it `failures` times: 1 s doubling
/// to at most 5 minutes, so a broken subscriber is retried promptly but not hammered.
pub fn retry_delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs((1u64 << exponent).min(300))
}

/// At most `max` characters of `text`, cut on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_event_is_retried_after_a_doubling_delay_of_at_most_five_minutes() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(5), Duration::from_secs(16));
        assert_eq!(retry_delay(20), Duration::from_secs(300));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 10), "hi");
    }
}
