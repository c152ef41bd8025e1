//! Payouts' tables (the sandbox gateway keeps its own, in `providers/sandbox/`).

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::PayoutDestination;
use super::payouts::{Payout, PayoutStatus};
use crate::db::column::decode_error;
use crate::ids::PayoutId;
use crate::money::{Currency, Money};
use crate::time::Timestamp;

const COLUMNS: &str = "id, reference, payee_id, provider, provider_ref, status, currency, amount, destination, created_at, updated_at";

/// The destination as stored: whole, since the gateway must be asked again with it after a
/// crash. Only this module writes the account number out.
fn stored(destination: &PayoutDestination) -> String {
    serde_json::json!({
        "bank_code": destination.bank_code.as_str(),
        "account_number": destination.account_number.as_str(),
        "account_name": destination.account_name.as_str(),
    })
    .to_string()
}

fn payout_of(row: &AnyRow) -> Result<Payout, sqlx::Error> {
    let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    let currency = Currency::parse(&text("currency")?).map_err(|_| decode_error("currency", "?"))?;
    let id = text("id")?;
    let status = text("status")?;
    let destination: PayoutDestination =
        serde_json::from_str(&text("destination")?).map_err(|_| decode_error("destination", "?"))?;
    Ok(Payout {
        id: id.parse().map_err(|_| decode_error("id", &id))?,
        reference: text("reference")?,
        payee_id: text("payee_id")?,
        provider: text("provider")?,
        provider_ref: row.try_get("provider_ref")?,
        status: PayoutStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        amount: Money::new(row.try_get("amount")?, currency),
        destination,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        payout_url: None,
    })
}

pub async fn insert<'c>(ex: impl Executor<'c, Database = Any>, payout: &Payout) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payouts (id, reference, payee_id, provider, provider_ref, status, currency, amount, destination,
                              created_at, updated_at)
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10)",
    )
    .bind(payout.id.to_string())
    .bind(&payout.reference)
    .bind(&payout.payee_id)
    .bind(&payout.provider)
    .bind(payout.status.as_str())
    .bind(payout.amount.currency.code())
    .bind(payout.amount.amount)
    .bind(stored(&payout.destination))
    .bind(payout.created_at.millis())
    .bind(payout.updated_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn payout<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PayoutId,
) -> Result<Option<Payout>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payouts WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(payout_of).transpose()
}

pub async fn attach<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PayoutId,
    provider_ref: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payouts SET provider_ref = $1, updated_at = $2 WHERE id = $3")
        .bind(provider_ref)
        .bind(now.millis())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Moves a payout from `from` to `to` only if it is still in `from`.
pub async fn move_status<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PayoutId,
    from: PayoutStatus,
    to: PayoutStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE payouts SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.as_str())
        .bind(now.millis())
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a gateway's payout event id; false when it was seen before.
pub async fn first_sighting<'c>(
    ex: impl Executor<'c, Database = Any>,
    provider: &str,
    event_id: &str,
    payout: PayoutId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO payout_webhook_events (provider, event_id, payout_id, received_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(payout.to_string())
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pending payouts the gateway has (it gave a reference), oldest first.
pub async fn pending<'c>(
    ex: impl Executor<'c, Database = Any>,
    created_before: Timestamp,
    limit: i64,
) -> Result<Vec<Payout>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payouts
         WHERE status = 'pending' AND provider_ref IS NOT NULL AND created_at <= $1 ORDER BY created_at LIMIT $2"
    ))
    .bind(created_before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payout_of).collect()
}

/// Pending payouts the gateway was never told about, oldest first.
pub async fn unrequested<'c>(
    ex: impl Executor<'c, Database = Any>,
    created_before: Timestamp,
    limit: i64,
) -> Result<Vec<Payout>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payouts
         WHERE status = 'pending' AND provider_ref IS NULL AND created_at <= $1 ORDER BY created_at LIMIT $2"
    ))
    .bind(created_before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payout_of).collect()
}

/// A payee's payouts, newest first, after the id `before` (ids sort by time).
pub async fn of_payee<'c>(
    ex: impl Executor<'c, Database = Any>,
    payee: &str,
    before: Option<PayoutId>,
    limit: i64,
) -> Result<Vec<Payout>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payouts WHERE payee_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(payee)
    .bind(before.map(|id| id.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payout_of).collect()
}
