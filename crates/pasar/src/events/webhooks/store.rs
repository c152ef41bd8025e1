//! Webhooks' tables. Only this module (and the relay, which queues deliveries in the
//! transaction that publishes an event) reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{DeliveryStatus, EventTypes};
use super::service::{WebhookDelivery, WebhookEndpoint};
use crate::db::Dialect;
use crate::db::column::parse_text;
use crate::events::Event;
use crate::ids::{EventId, WebhookDeliveryId, WebhookEndpointId};
use crate::time::Timestamp;

fn decode_error(column: &str, message: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.into(), source: message.into() }
}

fn event_types_of(row: &AnyRow) -> Result<EventTypes, sqlx::Error> {
    let text: String = row.try_get("event_types")?;
    serde_json::from_str(&text).map_err(|e| decode_error("event_types", e.to_string()))
}

fn optional_time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp::from_millis))
}

/// An enabled endpoint as the relay sees it: which events it wants.
pub struct EndpointMatch {
    pub id: WebhookEndpointId,
    types: EventTypes,
}

impl EndpointMatch {
    pub fn wants(&self, event_type: &str) -> bool {
        self.types.wants(event_type)
    }
}

pub async fn enabled_endpoints<'c>(
    ex: impl Executor<'c, Database = Any>,
) -> Result<Vec<EndpointMatch>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1 ORDER BY id")
        .fetch_all(ex)
        .await?;
    rows.iter()
        .map(|row| Ok(EndpointMatch { id: parse_text(row, "id")?, types: event_types_of(row)? }))
        .collect()
}

/// Queues one delivery of `event` to an endpoint, due at once.
pub async fn insert_delivery<'c>(
    ex: impl Executor<'c, Database = Any>,
    endpoint: WebhookEndpointId,
    event: &Event,
    now: Timestamp,
) -> Result<WebhookDeliveryId, sqlx::Error> {
    let id = WebhookDeliveryId::new();
    sqlx::query(
        "INSERT INTO webhook_deliveries
           (id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
    )
    .bind(id.to_string())
    .bind(endpoint.to_string())
    .bind(event.id.to_string())
    .bind(&event.event_type)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(id)
}

const ENDPOINT_COLUMNS: &str = "id, url, event_types, description, enabled, created_at, updated_at";

fn endpoint_of(row: &AnyRow) -> Result<WebhookEndpoint, sqlx::Error> {
    Ok(WebhookEndpoint {
        id: parse_text(row, "id")?,
        url: row.try_get("url")?,
        events: event_types_of(row)?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

fn event_types_text(types: &EventTypes) -> String {
    serde_json::Value::from(types.as_slice().to_vec()).to_string()
}

pub async fn insert_endpoint<'c>(
    ex: impl Executor<'c, Database = Any>,
    endpoint: &WebhookEndpoint,
    secret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_endpoints
           (id, url, event_types, description, secret, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(endpoint.id.to_string())
    .bind(&endpoint.url)
    .bind(event_types_text(&endpoint.events))
    .bind(endpoint.description.as_deref())
    .bind(secret)
    .bind(i64::from(endpoint.enabled))
    .bind(endpoint.created_at.millis())
    .bind(endpoint.updated_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn update_endpoint<'c>(
    ex: impl Executor<'c, Database = Any>,
    endpoint: &WebhookEndpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_endpoints
         SET url = $1, event_types = $2, description = $3, enabled = $4, updated_at = $5
         WHERE id = $6",
    )
    .bind(&endpoint.url)
    .bind(event_types_text(&endpoint.events))
    .bind(endpoint.description.as_deref())
    .bind(i64::from(endpoint.enabled))
    .bind(endpoint.updated_at.millis())
    .bind(endpoint.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn endpoint<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: WebhookEndpointId,
) -> Result<Option<WebhookEndpoint>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(endpoint_of).transpose()
}

/// Where and how to send to an endpoint: its URL and signing secret.
pub async fn endpoint_target<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: WebhookEndpointId,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT url, secret FROM webhook_endpoints WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| Ok((row.try_get("url")?, row.try_get("secret")?))).transpose()
}

/// Endpoints newest first, after the cursor `before`.
pub async fn list_endpoints<'c>(
    ex: impl Executor<'c, Database = Any>,
    before: Option<WebhookEndpointId>,
    limit: usize,
) -> Result<Vec<WebhookEndpoint>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
         WHERE ($1 IS NULL OR id < $1)
         ORDER BY id DESC LIMIT $2"
    ))
    .bind(before.map(|id| id.to_string()))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(ex)
    .await?;
    rows.iter().map(endpoint_of).collect()
}

/// Deletes an endpoint with its delivery history. False when there was no such endpoint.
pub async fn delete_endpoint(
    conn: &mut sqlx::AnyConnection,
    id: WebhookEndpointId,
) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let deleted = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, \
     last_status_code, last_error, created_at, updated_at, delivered_at";

fn delivery_of(row: &AnyRow) -> Result<WebhookDelivery, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    let status_code: Option<i64> = row.try_get("last_status_code")?;
    Ok(WebhookDelivery {
        id: parse_text(row, "id")?,
        endpoint_id: parse_text(row, "endpoint_id")?,
        event_id: parse_text(row, "event_id")?,
        event_type: row.try_get("event_type")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| decode_error("status", format!("unknown status {status:?}")))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_status_code: status_code.and_then(|code| u16::try_from(code).ok()),
        last_error: row.try_get("last_error")?,
        next_attempt_at: optional_time(row, "next_attempt_at")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        delivered_at: optional_time(row, "delivered_at")?,
    })
}

pub async fn delivery<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: WebhookDeliveryId,
) -> Result<Option<WebhookDelivery>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// An endpoint's deliveries newest first, optionally in one status, after the cursor `before`.
pub async fn list_deliveries<'c>(
    ex: impl Executor<'c, Database = Any>,
    endpoint: WebhookEndpointId,
    status: Option<DeliveryStatus>,
    before: Option<WebhookDeliveryId>,
    limit: usize,
) -> Result<Vec<WebhookDelivery>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE endpoint_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(endpoint.to_string())
    .bind(status.map(DeliveryStatus::as_str))
    .bind(before.map(|id| id.to_string()))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(ex)
    .await?;
    rows.iter().map(delivery_of).collect()
}

/// Puts a delivery back in the queue, due now, with a fresh set of attempts. False when there
/// is no such delivery.
pub async fn requeue_delivery<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: WebhookDeliveryId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = NULL,
             claim_token = NULL, updated_at = $1
         WHERE id = $2",
    )
    .bind(now.millis())
    .bind(id.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivery the sender has claimed.
pub struct ClaimedDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub attempts: u32,
}

/// Leases up to `limit` due deliveries of enabled endpoints until `until`, under `token`.
pub async fn claim_due<'c>(
    ex: impl Executor<'c, Database = Any>,
    dialect: Dialect,
    now: Timestamp,
    until: Timestamp,
    token: &str,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    // As for the outbox (see the relay): skip rows another instance is claiming right now, and
    // re-check the conditions on the row as it is when updated.
    let lock = match dialect {
        Dialect::Postgres => "FOR UPDATE OF d SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "WITH picked AS MATERIALIZED (
           SELECT d.id FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.id = d.endpoint_id
           WHERE d.status = 'pending' AND d.next_attempt_at <= $3
             AND (d.claimed_until IS NULL OR d.claimed_until <= $3) AND e.enabled = 1
           ORDER BY d.next_attempt_at, d.id LIMIT $4 {lock})
         UPDATE webhook_deliveries SET claimed_until = $1, claim_token = $2
         WHERE id IN (SELECT id FROM picked)
           AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $3)
         RETURNING id, endpoint_id, event_id, attempts"
    ))
    .bind(until.millis())
    .bind(token)
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                id: parse_text(row, "id")?,
                endpoint_id: parse_text(row, "endpoint_id")?,
                event_id: parse_text(row, "event_id")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// The result of one attempt, to be written back.
pub struct Outcome {
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
}

/// Records an attempt on a delivery this sender still holds. False when the claim was lost
/// (the lease ran out, or an admin replayed or deleted it meanwhile).
pub async fn record_attempt<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: WebhookDeliveryId,
    token: &str,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let delivered_at = (outcome.status == DeliveryStatus::Delivered).then_some(now.millis());
    let done = sqlx::query(
        "UPDATE webhook_deliveries
         SET status = $1, attempts = attempts + 1, last_status_code = $2, last_error = $3,
             next_attempt_at = $4, delivered_at = $5, claimed_until = NULL, claim_token = NULL,
             updated_at = $6
         WHERE id = $7 AND claim_token = $8",
    )
    .bind(outcome.status.as_str())
    .bind(outcome.status_code.map(i64::from))
    .bind(outcome.error.as_deref())
    .bind(outcome.next_attempt_at.map(Timestamp::millis))
    .bind(delivered_at)
    .bind(now.millis())
    .bind(id.to_string())
    .bind(token)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
