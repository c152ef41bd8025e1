//! The payables' table. Only this module reads or writes it.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::Share;
use crate::db::column::{decode_error, parse_text};
use crate::ids::{FulfilmentId, OrderId, UserId};
use crate::money::Currency;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareState {
    /// In the ledger as a pending credit to the seller: not yet withdrawable.
    Held,
    Released,
    /// Refunded whole before release: nothing is owed.
    Voided,
}

impl ShareState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Released => "released",
            Self::Voided => "voided",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Held, Self::Released, Self::Voided].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Debug)]
pub struct StoredShare {
    pub fulfilment_id: FulfilmentId,
    pub order_id: OrderId,
    pub seller_id: UserId,
    pub currency: Currency,
    pub share: Share,
    pub clawed_back: i64,
    pub state: ShareState,
}

const COLUMNS: &str =
    "fulfilment_id, order_id, seller_id, currency, base, commission, seller_amount, clawed_back, status";

fn share_of(row: &AnyRow) -> Result<StoredShare, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    let status: String = row.try_get("status")?;
    Ok(StoredShare {
        fulfilment_id: parse_text(row, "fulfilment_id")?,
        order_id: parse_text(row, "order_id")?,
        seller_id: parse_text(row, "seller_id")?,
        currency: Currency::parse(&currency).map_err(|_| decode_error("currency", &currency))?,
        share: Share {
            base: row.try_get("base")?,
            commission: row.try_get("commission")?,
            seller_amount: row.try_get("seller_amount")?,
        },
        clawed_back: row.try_get("clawed_back")?,
        state: ShareState::parse(&status).ok_or_else(|| decode_error("status", &status))?,
    })
}

/// Records a share; false when this part's share was recorded before.
pub async fn insert<'c>(
    ex: impl Executor<'c, Database = Any>,
    share: &StoredShare,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO seller_shares (fulfilment_id, order_id, seller_id, currency, base, commission, seller_amount,
                                    clawed_back, clawed_after_release, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, $9)
         ON CONFLICT (fulfilment_id) DO NOTHING",
    )
    .bind(share.fulfilment_id.to_string())
    .bind(share.order_id.to_string())
    .bind(share.seller_id.to_string())
    .bind(share.currency.code())
    .bind(share.share.base)
    .bind(share.share.commission)
    .bind(share.share.seller_amount)
    .bind(share.state.as_str())
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn of_order<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
) -> Result<Vec<StoredShare>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM seller_shares WHERE order_id = $1 ORDER BY fulfilment_id"
    ))
    .bind(order.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(share_of).collect()
}

/// Held shares, oldest first, after `after`.
pub async fn held<'c>(
    ex: impl Executor<'c, Database = Any>,
    after: Option<FulfilmentId>,
    limit: i64,
) -> Result<Vec<StoredShare>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM seller_shares WHERE status = 'held' AND ($1 IS NULL OR fulfilment_id > $1)
         ORDER BY fulfilment_id LIMIT $2"
    ))
    .bind(after.map(|a| a.to_string()))
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(share_of).collect()
}

/// Adds to what was clawed back of a share (only while it is in `state`); false if it moved.
pub async fn add_clawback<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: FulfilmentId,
    state: ShareState,
    amount: i64,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let after_release = if state == ShareState::Released { amount } else { 0 };
    let done = sqlx::query(
        "UPDATE seller_shares SET clawed_back = clawed_back + $1, clawed_after_release = clawed_after_release + $2,
                                  updated_at = $3
         WHERE fulfilment_id = $4 AND status = $5",
    )
    .bind(amount)
    .bind(after_release)
    .bind(now.millis())
    .bind(id.to_string())
    .bind(state.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a held share: released with what was posted to the seller, or voided. False if it was
/// no longer held.
pub async fn end_hold<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: FulfilmentId,
    to: ShareState,
    released: Option<i64>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE seller_shares SET status = $1, released_amount = $2, updated_at = $3
         WHERE fulfilment_id = $4 AND status = 'held'",
    )
    .bind(to.as_str())
    .bind(released)
    .bind(now.millis())
    .bind(id.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Per seller: sales (base), commission, what is held, what was released, what was clawed back
/// after release.
pub struct Totals {
    pub seller_id: UserId,
    pub currency: Currency,
    pub sales: i64,
    pub commission: i64,
    pub held: i64,
    pub released: i64,
    pub clawed_after_release: i64,
}

pub async fn totals<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: Option<UserId>,
) -> Result<Vec<Totals>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seller_id, currency,
                CAST(COALESCE(SUM(CASE WHEN status <> 'voided' THEN base ELSE 0 END), 0) AS BIGINT) AS sales,
                CAST(COALESCE(SUM(CASE WHEN status <> 'voided' THEN commission ELSE 0 END), 0) AS BIGINT) AS commission,
                CAST(COALESCE(SUM(CASE WHEN status = 'held' THEN seller_amount - clawed_back ELSE 0 END), 0) AS BIGINT) AS held,
                CAST(COALESCE(SUM(COALESCE(released_amount, 0)), 0) AS BIGINT) AS released,
                CAST(COALESCE(SUM(clawed_after_release), 0) AS BIGINT) AS clawed_after_release
         FROM seller_shares WHERE ($1 IS NULL OR seller_id = $1)
         GROUP BY seller_id, currency ORDER BY seller_id",
    )
    .bind(seller.map(|s| s.to_string()))
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("currency")?;
            Ok(Totals {
                seller_id: parse_text(row, "seller_id")?,
                currency: Currency::parse(&currency).map_err(|_| decode_error("currency", &currency))?,
                sales: row.try_get("sales")?,
                commission: row.try_get("commission")?,
                held: row.try_get("held")?,
                released: row.try_get("released")?,
                clawed_after_release: row.try_get("clawed_after_release")?,
            })
        })
        .collect()
}
