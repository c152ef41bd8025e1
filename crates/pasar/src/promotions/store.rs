//! Promotions' tables. Only this module reads or writes them.
//!
//! Limits are enforced by guarded updates, never by reading then writing: a use is held with
//! `UPDATE … SET held = held + 1 WHERE … AND held + used < usage_limit`, and a buyer's uses
//! with the same guard on their row of `voucher_buyers`, so concurrent checkouts (on
//! PostgreSQL, which re-checks the guard after waiting for the row; on SQLite, whose writer
//! is alone) can never take more than the limit.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{AppliesTo, Funder, Voucher};
use crate::db::Connection;
use crate::db::column::{decode_error, parse_text};
use crate::ids::{OrderId, UserId, VoucherId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

const COLUMNS: &str = "id, code, store_id, percent_off, amount_off, max_discount, min_spend, currency, starts_at, \
                       ends_at, usage_limit, per_buyer_limit, first_order_only, applies_to, stackable, automatic, \
                       paused, held, used, created_at, updated_at";

fn voucher_of(row: &AnyRow) -> Result<Voucher, sqlx::Error> {
    let currency: Option<String> = row.try_get("currency")?;
    let currency =
        currency.map(|c| Currency::parse(&c).map_err(|_| decode_error("currency", &c))).transpose()?;
    let money = |column: &str| -> Result<Option<Money>, sqlx::Error> {
        let amount: Option<i64> = row.try_get(column)?;
        match (amount, currency) {
            (Some(amount), Some(currency)) => Ok(Some(Money::new(amount, currency))),
            (Some(_), None) => Err(decode_error("currency", "missing")),
            (None, _) => Ok(None),
        }
    };
    let at = |column: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp::from_millis))
    };
    let flag = |column: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(column)? != 0) };
    let applies_to: String = row.try_get("applies_to")?;
    let store_id: Option<String> = row.try_get("store_id")?;
    let store_id: Option<UserId> =
        store_id.map(|s| s.parse().map_err(|_| decode_error("store_id", &s))).transpose()?;
    Ok(Voucher {
        id: parse_text(row, "id")?,
        code: row.try_get("code")?,
        funder: if store_id.is_some() { Funder::Store } else { Funder::Platform },
        store_id,
        percent_off: row.try_get("percent_off")?,
        amount_off: money("amount_off")?,
        max_discount: money("max_discount")?,
        min_spend: money("min_spend")?,
        starts_at: at("starts_at")?,
        ends_at: at("ends_at")?,
        usage_limit: row.try_get("usage_limit")?,
        per_buyer_limit: row.try_get("per_buyer_limit")?,
        first_order_only: flag("first_order_only")?,
        applies_to: serde_json::from_str::<AppliesTo>(&applies_to)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        stackable: flag("stackable")?,
        automatic: flag("automatic")?,
        paused: flag("paused")?,
        held: row.try_get("held")?,
        used: row.try_get("used")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

pub async fn insert(conn: &mut Connection, v: &Voucher) -> Result<(), sqlx::Error> {
    let currency =
        [v.amount_off, v.max_discount, v.min_spend].into_iter().flatten().map(|m| m.currency.code()).next();
    let applies_to = serde_json::to_string(&v.applies_to).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(&format!(
        "INSERT INTO vouchers ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(v.id.to_string())
    .bind(v.code.as_str())
    .bind(v.store_id.map(|s| s.to_string()))
    .bind(v.percent_off)
    .bind(v.amount_off.map(|m| m.amount))
    .bind(v.max_discount.map(|m| m.amount))
    .bind(v.min_spend.map(|m| m.amount))
    .bind(currency)
    .bind(v.starts_at.map(Timestamp::millis))
    .bind(v.ends_at.map(Timestamp::millis))
    .bind(v.usage_limit)
    .bind(v.per_buyer_limit)
    .bind(i64::from(v.first_order_only))
    .bind(applies_to)
    .bind(i64::from(v.stackable))
    .bind(i64::from(v.automatic))
    .bind(i64::from(v.paused))
    .bind(v.held)
    .bind(v.used)
    .bind(v.created_at.millis())
    .bind(v.updated_at.millis())
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn voucher<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: VoucherId,
) -> Result<Option<Voucher>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM vouchers WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(voucher_of).transpose()
}

pub async fn by_code<'c>(
    ex: impl Executor<'c, Database = Any>,
    code: &str,
) -> Result<Option<Voucher>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM vouchers WHERE code = $1"))
        .bind(code)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(voucher_of).transpose()
}

/// Automatic promotions not paused and not over; their start and limits are checked by the
/// rules.
pub async fn automatic<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
) -> Result<Vec<Voucher>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM vouchers
         WHERE automatic = 1 AND paused = 0 AND (ends_at IS NULL OR ends_at > $1) ORDER BY id"
    ))
    .bind(now.millis())
    .fetch_all(ex)
    .await?;
    rows.iter().map(voucher_of).collect()
}

/// One page of vouchers, newest first: a store's, or (None) every one.
pub async fn list<'c>(
    ex: impl Executor<'c, Database = Any>,
    store: Option<UserId>,
    before: Option<VoucherId>,
    limit: i64,
) -> Result<Vec<Voucher>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM vouchers
         WHERE ($1 = '' OR store_id = $1) AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(store.map(|s| s.to_string()).unwrap_or_default())
    .bind(before.map(|b| b.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(voucher_of).collect()
}

pub async fn set_paused(
    conn: &mut Connection,
    id: VoucherId,
    paused: bool,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE vouchers SET paused = $1, updated_at = $2 WHERE id = $3 AND paused <> $1")
        .bind(i64::from(paused))
        .bind(now.millis())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What `buyer` holds or used of each voucher.
pub async fn buyer_uses<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: UserId,
) -> Result<HashMap<VoucherId, i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT voucher_id, held + used AS uses FROM voucher_buyers WHERE buyer_id = $1")
        .bind(buyer.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter().map(|row| Ok((parse_text(row, "voucher_id")?, row.try_get("uses")?))).collect()
}

/// Takes one use of the voucher if it is live and not used up; false when it may not.
pub async fn hold_use(conn: &mut Connection, id: VoucherId, now: Timestamp) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vouchers SET held = held + 1
         WHERE id = $1 AND paused = 0 AND (starts_at IS NULL OR starts_at <= $2) AND (ends_at IS NULL OR ends_at > $2)
           AND (usage_limit IS NULL OR held + used < usage_limit)",
    )
    .bind(id.to_string())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes one of the buyer's uses of the voucher if fewer than `cap` are held or used.
pub async fn hold_buyer_use(
    conn: &mut Connection,
    id: VoucherId,
    buyer: UserId,
    cap: Option<i64>,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO voucher_buyers (voucher_id, buyer_id, held, used) VALUES ($1, $2, 0, 0)
         ON CONFLICT (voucher_id, buyer_id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(buyer.to_string())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(
        "UPDATE voucher_buyers SET held = held + 1 WHERE voucher_id = $1 AND buyer_id = $2 AND held + used < $3",
    )
    .bind(id.to_string())
    .bind(buyer.to_string())
    .bind(cap.unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub struct Redemption {
    pub voucher_id: VoucherId,
    pub code: String,
    pub buyer_id: UserId,
    pub discount: Money,
}

pub async fn insert_redemption(
    conn: &mut Connection,
    order: OrderId,
    r: &Redemption,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO voucher_redemptions (voucher_id, order_id, buyer_id, code, status, discount, currency, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'held', $5, $6, $7, $7)",
    )
    .bind(r.voucher_id.to_string())
    .bind(order.to_string())
    .bind(r.buyer_id.to_string())
    .bind(r.code.as_str())
    .bind(r.discount.amount)
    .bind(r.discount.currency.code())
    .bind(now.millis())
    .execute(conn)
    .await
    .map(|_| ())
}

/// The order's redemptions in `status`, in voucher order (the order checkouts lock vouchers in).
pub async fn redemptions(
    conn: &mut Connection,
    order: OrderId,
    status: &str,
) -> Result<Vec<Redemption>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT voucher_id, buyer_id, code, discount, currency FROM voucher_redemptions
         WHERE order_id = $1 AND status = $2 ORDER BY voucher_id",
    )
    .bind(order.to_string())
    .bind(status)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("currency")?;
            Ok(Redemption {
                voucher_id: parse_text(row, "voucher_id")?,
                buyer_id: parse_text(row, "buyer_id")?,
                code: row.try_get("code")?,
                discount: Money::new(
                    row.try_get("discount")?,
                    Currency::parse(&currency).map_err(|_| decode_error("currency", &currency))?,
                ),
            })
        })
        .collect()
}

/// Moves one redemption from `from` to `to` if it is still in `from` (so a second, concurrent
/// move of the same order is a no-op); true when it moved.
pub async fn set_status(
    conn: &mut Connection,
    order: OrderId,
    voucher: VoucherId,
    from: &str,
    to: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE voucher_redemptions SET status = $1, updated_at = $2
         WHERE voucher_id = $3 AND order_id = $4 AND status = $5",
    )
    .bind(to)
    .bind(now.millis())
    .bind(voucher.to_string())
    .bind(order.to_string())
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the order's held redemptions to `used` or `released`, with the counts on the
/// vouchers and their buyers; returns those moved.
pub async fn settle_held(
    conn: &mut Connection,
    order: OrderId,
    to: &str,
    now: Timestamp,
) -> Result<Vec<Redemption>, sqlx::Error> {
    let mut moved = Vec::new();
    for r in redemptions(conn, order, "held").await? {
        if !set_status(conn, order, r.voucher_id, "held", to, now).await? {
            continue;
        }
        let set = match column_of(to) {
            Some(to) => format!("held = held - 1, {to} = {to} + 1"),
            None => "held = held - 1".to_owned(),
        };
        sqlx::query(&format!("UPDATE vouchers SET {set} WHERE id = $1"))
            .bind(r.voucher_id.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!("UPDATE voucher_buyers SET {set} WHERE voucher_id = $1 AND buyer_id = $2"))
            .bind(r.voucher_id.to_string())
            .bind(r.buyer_id.to_string())
            .execute(&mut *conn)
            .await?;
        moved.push(r);
    }
    Ok(moved)
}

/// Takes one use of the voucher if it is not used up (whether paused or over: for an order
/// placed while it ran); false when it may not.
pub async fn take_use(conn: &mut Connection, id: VoucherId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vouchers SET held = held + 1 WHERE id = $1 AND (usage_limit IS NULL OR held + used < usage_limit)",
    )
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The count a redemption status is part of (released ones count in neither).
fn column_of(status: &str) -> Option<&'static str> {
    match status {
        "held" => Some("held"),
        "used" => Some("used"),
        _ => None,
    }
}

/// Per buyer and status: how many redemptions, and their discount.
pub async fn usage<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: VoucherId,
) -> Result<Vec<(UserId, String, i64, Money)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT buyer_id, status, currency, COUNT(*) AS uses, CAST(SUM(discount) AS BIGINT) AS discount
         FROM voucher_redemptions WHERE voucher_id = $1
         GROUP BY buyer_id, status, currency ORDER BY buyer_id, status",
    )
    .bind(id.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((parse_text(row, "buyer_id")?, row.try_get("status")?, row.try_get("uses")?, {
                let currency: String = row.try_get("currency")?;
                Money::new(
                    row.try_get("discount")?,
                    Currency::parse(&currency).map_err(|_| decode_error("currency", &currency))?,
                )
            }))
        })
        .collect()
}
