//! A log of every webhook a payment provider sends, accepted or rejected: who sent it, the
//! headers that matter for verifying it, the raw body (capped), what verifying it found, what
//! it did, and how long that took. Operators read it to answer "did the gateway tell us?";
//! entries older than 30 days are pruned by a job that runs once across instances.

use std::time::Duration;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use utoipa::ToSchema;

use crate::db::column::decode_error;
use crate::db::lease::Leases;
use crate::db::{Db, Migration};
use crate::ids::IncomingWebhookId;
use crate::time::{Clock, Timestamp};

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120103,
    name: "payments: the log of incoming gateway webhooks",
    sql: "CREATE TABLE incoming_webhooks (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            kind TEXT NOT NULL,
            headers TEXT NOT NULL,
            body TEXT NOT NULL,
            body_bytes BIGINT NOT NULL,
            result TEXT NOT NULL,
            error_code TEXT,
            reason TEXT,
            status_code BIGINT NOT NULL,
            duration_ms BIGINT NOT NULL,
            received_at BIGINT NOT NULL
          );
          CREATE INDEX incoming_webhooks_provider ON incoming_webhooks (provider, id);
          CREATE INDEX incoming_webhooks_received ON incoming_webhooks (received_at);",
    postgres: None,
}];

/// The most of a body the log keeps.
pub const BODY_CAP: usize = 16 * 1024;
/// How long entries are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
const PRUNE_JOB: &str = "incoming_webhooks_prune";
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The headers providers verify with, and the ones that say who sent what. Nothing else is kept.
const KEPT_HEADERS: [&str; 8] = [
    "content-type",
    "user-agent",
    "x-request-id",
    "sandbox-signature",
    "stripe-signature",
    "x-signature",
    "x-komoju-signature",
    "x-forwarded-for",
];

/// What became of a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookResult {
    /// Verified and confirmed; it moved something.
    Applied,
    /// Verified and confirmed; it had been applied before, or changes nothing.
    NoChange,
    /// Refused: a bad signature, an unknown payment, a mismatched amount. Nothing changed.
    Rejected,
    /// Verified, but Pasar could not act on it now (a provider or database down); the
    /// provider is told to retry.
    Failed,
}

impl WebhookResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::NoChange => "no_change",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Applied, Self::NoChange, Self::Rejected, Self::Failed].into_iter().find(|r| r.as_str() == text)
    }
}

/// One logged webhook.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncomingWebhook {
    pub id: IncomingWebhookId,
    pub provider: String,
    /// `payment` or `payout`.
    pub kind: String,
    /// The headers that matter for verifying it.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The raw body, cut at 16 KiB (`body_bytes` tells its whole length).
    pub body: String,
    pub body_bytes: i64,
    pub result: WebhookResult,
    /// The error code Pasar answered with, for rejected and failed ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The HTTP status Pasar answered.
    pub status_code: i64,
    pub duration_ms: i64,
    pub received_at: Timestamp,
}

/// A webhook to log, as the route saw it.
pub struct Arrival<'a> {
    pub provider: &'a str,
    pub kind: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub received_at: Timestamp,
}

/// What the route did with it.
pub struct Handled<'a> {
    pub result: WebhookResult,
    pub error_code: Option<&'a str>,
    pub reason: Option<String>,
    pub status_code: u16,
    pub duration: Duration,
}

/// The headers worth keeping, as a JSON object.
fn kept_headers(headers: &HeaderMap) -> serde_json::Value {
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), serde_json::Value::String(value.chars().take(1024).collect())))
        })
        .collect();
    serde_json::Value::Object(kept)
}

/// The body as text, cut at [`BODY_CAP`] on a character boundary.
fn capped_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_CAP)]).into_owned();
    text.trim_end_matches('\u{FFFD}').to_owned()
}

#[derive(Clone)]
pub struct WebhookLog {
    db: Db,
    clock: Clock,
    leases: Leases,
}

/// Filters of the log's listing.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub provider: Option<String>,
    pub result: Option<WebhookResult>,
}

const COLUMNS: &str = "id, provider, kind, headers, body, body_bytes, result, error_code, reason, status_code, duration_ms, received_at";

fn entry_of(row: &AnyRow) -> Result<IncomingWebhook, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let result: String = row.try_get("result")?;
    let headers: String = row.try_get("headers")?;
    Ok(IncomingWebhook {
        id: id.parse().map_err(|_| decode_error("id", &id))?,
        provider: row.try_get("provider")?,
        kind: row.try_get("kind")?,
        headers: serde_json::from_str(&headers).map_err(|_| decode_error("headers", "?"))?,
        body: row.try_get("body")?,
        body_bytes: row.try_get("body_bytes")?,
        result: WebhookResult::parse(&result).ok_or_else(|| decode_error("result", &result))?,
        error_code: row.try_get("error_code")?,
        reason: row.try_get("reason")?,
        status_code: row.try_get("status_code")?,
        duration_ms: row.try_get("duration_ms")?,
        received_at: Timestamp::from_millis(row.try_get("received_at")?),
    })
}

impl WebhookLog {
    pub fn new(db: Db, clock: Clock, leases: Leases) -> Self {
        Self { db, clock, leases }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Writes one entry. A failure to log is reported, never turned into a failed webhook: the
    /// provider's retry would be refused the same way.
    pub async fn record(&self, arrival: &Arrival<'_>, handled: &Handled<'_>) {
        if let Err(err) = self.insert(arrival, handled).await {
            tracing::warn!(provider = arrival.provider, error = %err, "could not log an incoming webhook");
        }
    }

    async fn insert(&self, arrival: &Arrival<'_>, handled: &Handled<'_>) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO incoming_webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(IncomingWebhookId::new().to_string())
        .bind(arrival.provider.chars().take(64).collect::<String>())
        .bind(arrival.kind)
        .bind(kept_headers(arrival.headers).to_string())
        .bind(capped_body(arrival.body))
        .bind(i64::try_from(arrival.body.len()).unwrap_or(i64::MAX))
        .bind(handled.result.as_str())
        .bind(handled.error_code)
        .bind(handled.reason.as_deref())
        .bind(i64::from(handled.status_code))
        .bind(i64::try_from(handled.duration.as_millis()).unwrap_or(i64::MAX))
        .bind(arrival.received_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Entries newest first, after the entry `before`; and whether more follow.
    pub async fn list(
        &self,
        filter: &LogFilter,
        before: Option<IncomingWebhookId>,
        limit: usize,
    ) -> Result<(Vec<IncomingWebhook>, bool), sqlx::Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incoming_webhooks
             WHERE ($1 = '' OR provider = $1) AND ($2 = '' OR result = $2) AND ($3 = '' OR id < $3)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.provider.clone().unwrap_or_default())
        .bind(filter.result.map_or("", WebhookResult::as_str))
        .bind(before.map(|id| id.to_string()).unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(self.db.reader())
        .await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let entries = rows.iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).map(entry_of);
        Ok((entries.collect::<Result<_, _>>()?, more))
    }

    /// Deletes entries received before `cutoff`; answers how many.
    pub async fn prune_before(&self, cutoff: Timestamp) -> Result<u64, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let done = prune(&mut *tx, cutoff).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Prunes entries past [`RETENTION`] whenever it is this instance's turn (once an hour
    /// across all instances).
    pub async fn prune_every_hour(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = self.clock.now();
            match self.leases.take_turn(PRUNE_JOB, PRUNE_EVERY, now).await {
                Ok(true) => match self.prune_before(now.minus(RETENTION)).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned the incoming webhook log"),
                    Err(err) => {
                        tracing::warn!(error = %err, "pruning the incoming webhook log failed; will retry")
                    }
                },
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "could not take the webhook log's pruning turn"),
            }
        }
    }
}

async fn prune<'c>(ex: impl Executor<'c, Database = Any>, cutoff: Timestamp) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM incoming_webhooks WHERE received_at < $1")
        .bind(cutoff.millis())
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_headers_that_verify_or_identify_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("stripe-signature", "t=1,v1=ab".parse().unwrap());
        headers.insert("authorization", "Bearer secret".parse().unwrap());
        headers.insert("cookie", "session=secret".parse().unwrap());
        let kept = kept_headers(&headers);
        assert_eq!(kept, serde_json::json!({"stripe-signature": "t=1,v1=ab"}));
    }

    #[test]
    fn a_long_body_is_cut_at_the_cap_without_a_broken_character() {
        let body = "é".repeat(BODY_CAP);
        let kept = capped_body(body.as_bytes());
        assert!(kept.len() <= BODY_CAP);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(capped_body(b"{\"a\":1}"), "{\"a\":1}");
    }
}
