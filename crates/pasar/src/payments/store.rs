//! Payments' tables (the sandbox gateway keeps its own, in `providers/sandbox/`).

use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::domain::{Payment, PaymentPurpose, PaymentStatus};
use crate::db::column::decode_error;
use crate::db::{Connection, bulk};
use crate::ids::PaymentId;
use crate::money::{Currency, Money};
use crate::time::Timestamp;

const COLUMNS: &str = "id, purpose, reference, payer_id, provider, method, provider_ref, status, currency, amount, \
                       fee, total, checkout_url, payment_number, instructions, provider_fee, expires_at, created_at";

fn payment_of(row: &AnyRow) -> Result<Payment, sqlx::Error> {
    let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    let currency = Currency::parse(&text("currency")?).map_err(|_| decode_error("currency", "?"))?;
    let id = text("id")?;
    let purpose = text("purpose")?;
    let status = text("status")?;
    Ok(Payment {
        id: id.parse().map_err(|_| decode_error("id", &id))?,
        purpose: PaymentPurpose::parse(&purpose).ok_or_else(|| decode_error("purpose", &purpose))?,
        reference: text("reference")?,
        payer_id: text("payer_id")?,
        provider: text("provider")?,
        method: row.try_get::<Option<String>, _>("method")?.map_or_else(|| text("provider"), Ok)?,
        provider_ref: row.try_get("provider_ref")?,
        status: PaymentStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        amount: Money::new(row.try_get("amount")?, currency),
        fee: Money::new(row.try_get("fee")?, currency),
        total: Money::new(row.try_get("total")?, currency),
        checkout_url: row.try_get("checkout_url")?,
        payment_number: row.try_get("payment_number")?,
        provider_fee: row.try_get::<Option<i64>, _>("provider_fee")?.map(|fee| Money::new(fee, currency)),
        qr_code_url: None,
        instructions: row
            .try_get::<Option<String>, _>("instructions")?
            .map(|text| serde_json::from_str(&text).map_err(|_| decode_error("instructions", "?")))
            .transpose()?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

pub async fn insert_many(conn: &mut Connection, payments: &[Payment]) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO payments (id, purpose, reference, payer_id, provider, method, provider_ref, status, currency,
                               amount, fee, total, checkout_url, expires_at, created_at, updated_at)",
        "",
        16,
        payments,
        |args, payment| {
            args.add(payment.id.to_string())?;
            args.add(payment.purpose.as_str())?;
            args.add(payment.reference.as_str())?;
            args.add(payment.payer_id.as_str())?;
            args.add(payment.provider.as_str())?;
            args.add(payment.method.as_str())?;
            args.add(payment.provider_ref.as_deref())?;
            args.add(payment.status.as_str())?;
            args.add(payment.amount.currency.code())?;
            args.add(payment.amount.amount)?;
            args.add(payment.fee.amount)?;
            args.add(payment.total.amount)?;
            args.add(payment.checkout_url.as_deref())?;
            args.add(payment.expires_at.millis())?;
            args.add(payment.created_at.millis())?;
            args.add(payment.created_at.millis())
        },
    )
    .await
    .map(|_| ())
}

pub async fn payment<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PaymentId,
) -> Result<Option<Payment>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(payment_of).transpose()
}

pub async fn for_reference<'c>(
    ex: impl Executor<'c, Database = Any>,
    reference: &str,
) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE reference = $1 ORDER BY id"))
        .bind(reference)
        .fetch_all(ex)
        .await?;
    rows.iter().map(payment_of).collect()
}

/// Records what the gateway answered when asked to collect the payment.
pub async fn attach<'c>(
    ex: impl Executor<'c, Database = Any>,
    payment: &Payment,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET provider_ref = $1, checkout_url = $2, payment_number = $3, instructions = $4,
           expires_at = $5, updated_at = $6, provider_fee = $8
         WHERE id = $7",
    )
    .bind(payment.provider_ref.as_deref())
    .bind(payment.checkout_url.as_deref())
    .bind(payment.payment_number.as_deref())
    .bind(payment.instructions.as_ref().map(serde_json::Value::to_string))
    .bind(payment.expires_at.millis())
    .bind(now.millis())
    .bind(payment.id.to_string())
    .bind(payment.provider_fee.map(|fee| fee.amount))
    .execute(ex)
    .await
    .map(|_| ())
}

/// Records the fee the provider reports keeping, unless one is recorded already.
pub async fn record_provider_fee<'c>(
    ex: impl Executor<'c, Database = Any>,
    payment: PaymentId,
    fee: i64,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET provider_fee = $1, updated_at = $2 WHERE id = $3 AND provider_fee IS NULL",
    )
    .bind(fee)
    .bind(now.millis())
    .bind(payment.to_string())
    .execute(ex)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// Moves a payment from `from` to `to` only if it is still in `from`.
pub async fn move_status<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PaymentId,
    from: PaymentStatus,
    to: PaymentStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.as_str())
        .bind(now.millis())
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves every payment of `ids` still in `from` to `to`; returns how many moved.
pub async fn move_statuses(
    conn: &mut Connection,
    ids: &[PaymentId],
    from: PaymentStatus,
    to: PaymentStatus,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    bulk::move_statuses(conn, "payments", &ids, from.as_str(), to.as_str(), now.millis()).await
}

/// Records a gateway event id; false when it was seen before.
pub async fn first_sighting<'c>(
    ex: impl Executor<'c, Database = Any>,
    provider: &str,
    event_id: &str,
    payment: PaymentId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO payment_webhook_events (provider, event_id, payment_id, received_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(payment.to_string())
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pending payments whose deadline has passed.
pub async fn due<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
    ))
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payment_of).collect()
}

/// Pending payments the gateway was never told about (the process stopped in between).
pub async fn unrequested<'c>(
    ex: impl Executor<'c, Database = Any>,
    created_before: Timestamp,
    limit: i64,
) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE status = 'pending' AND provider_ref IS NULL AND created_at <= $1 ORDER BY created_at LIMIT $2"
    ))
    .bind(created_before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payment_of).collect()
}

/// Pending payments the gateway knows of, created before `created_before` (for reconciliation).
pub async fn pending_before<'c>(
    ex: impl Executor<'c, Database = Any>,
    created_before: Timestamp,
    limit: i64,
) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE status = 'pending' AND provider_ref IS NOT NULL AND created_at <= $1 ORDER BY created_at LIMIT $2"
    ))
    .bind(created_before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payment_of).collect()
}

/// A payer's payments for `purpose`, newest first, after the id `before` (ids sort by time).
pub async fn of_payer<'c>(
    ex: impl Executor<'c, Database = Any>,
    purpose: PaymentPurpose,
    payer: &str,
    before: Option<PaymentId>,
    limit: i64,
) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE purpose = $1 AND payer_id = $2 AND ($3 = '' OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(purpose.as_str())
    .bind(payer)
    .bind(before.map(|id| id.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payment_of).collect()
}

/// Payments created since `since`: succeeded, ended otherwise, and the succeeded ones' fees.
pub async fn totals_since<'c>(
    ex: impl Executor<'c, Database = Any>,
    since: Timestamp,
) -> Result<(i64, i64, i64), sqlx::Error> {
    let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN status IN ('succeeded', 'refunded') THEN 1 ELSE 0 END), 0) AS BIGINT) AS succeeded,
                    CAST(COALESCE(SUM(CASE WHEN status IN ('failed', 'expired', 'cancelled') THEN 1 ELSE 0 END), 0) AS BIGINT) AS ended,
                    CAST(COALESCE(SUM(CASE WHEN status IN ('succeeded', 'refunded') THEN fee ELSE 0 END), 0) AS BIGINT) AS fees
             FROM payments WHERE created_at >= $1",
        )
        .bind(since.millis())
        .fetch_one(ex)
        .await?;
    Ok((row.try_get("succeeded")?, row.try_get("ended")?, row.try_get("fees")?))
}
