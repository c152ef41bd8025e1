//! Inventory's tables. Only this module reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::domain::{MovementKind, Reservation, ReservationStatus, StockLevel, StockMovement};
use crate::db::column::{decode_error, parse_text};
use crate::db::{Connection, Dialect, bulk};
use crate::ids::{DigitalItemId, ReservationId, StockMovementId, VariantId};
use crate::time::Timestamp;

fn level_of(row: &AnyRow) -> Result<StockLevel, sqlx::Error> {
    Ok(StockLevel::new(
        parse_text(row, "variant_id")?,
        row.try_get("on_hand")?,
        row.try_get("reserved")?,
        row.try_get("low_stock_threshold")?,
        row.try_get::<i64, _>("is_digital")? != 0,
    ))
}

const LEVEL_COLUMNS: &str = "variant_id, on_hand, reserved, low_stock_threshold, is_digital";

pub async fn level<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
) -> Result<Option<StockLevel>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {LEVEL_COLUMNS} FROM stock_levels WHERE variant_id = $1"))
        .bind(variant.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(level_of).transpose()
}

/// Creates the variant's level row if it has none (at zero).
pub async fn ensure_level<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    is_digital: bool,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_levels (variant_id, on_hand, reserved, low_stock_threshold, is_digital, updated_at)
         VALUES ($1, 0, 0, 0, $2, $3) ON CONFLICT (variant_id) DO NOTHING",
    )
    .bind(variant.to_string())
    .bind(i64::from(is_digital))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Changes on hand by `delta` unless that would take it below what is reserved (or below
/// zero); returns the level after, or None when refused.
pub async fn change_on_hand<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    delta: i64,
    now: Timestamp,
) -> Result<Option<StockLevel>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE stock_levels SET on_hand = on_hand + $1, updated_at = $2
         WHERE variant_id = $3 AND on_hand + $1 >= reserved AND on_hand + $1 >= 0
         RETURNING {LEVEL_COLUMNS}"
    ))
    .bind(delta)
    .bind(now.millis())
    .bind(variant.to_string())
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(level_of).transpose()
}

pub async fn set_threshold<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    threshold: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stock_levels SET low_stock_threshold = $1, updated_at = $2 WHERE variant_id = $3")
        .bind(threshold)
        .bind(now.millis())
        .bind(variant.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// The oversell guard: reserves only while `on_hand - reserved` covers the quantity. Under
/// PostgreSQL's read committed the WHERE is re-checked against the newest row version after a
/// concurrent update, so the check and the change are one atomic step on both backends.
pub async fn hold<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    quantity: i64,
    now: Timestamp,
) -> Result<Option<StockLevel>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE stock_levels SET reserved = reserved + $1, updated_at = $2
         WHERE variant_id = $3 AND on_hand - reserved >= $1 RETURNING {LEVEL_COLUMNS}"
    ))
    .bind(quantity)
    .bind(now.millis())
    .bind(variant.to_string())
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(level_of).transpose()
}

pub async fn unhold<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    quantity: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stock_levels SET reserved = reserved - $1, updated_at = $2 WHERE variant_id = $3")
        .bind(quantity)
        .bind(now.millis())
        .bind(variant.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Moves held stock out: on hand and reserved both drop by the quantity.
pub async fn take_held<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    quantity: i64,
    now: Timestamp,
) -> Result<StockLevel, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE stock_levels SET on_hand = on_hand - $1, reserved = reserved - $1, updated_at = $2
         WHERE variant_id = $3 RETURNING {LEVEL_COLUMNS}"
    ))
    .bind(quantity)
    .bind(now.millis())
    .bind(variant.to_string())
    .fetch_one(ex)
    .await?;
    level_of(&row)
}

pub struct NewMovement<'a> {
    pub variant: VariantId,
    pub delta: i64,
    pub kind: MovementKind,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub actor: &'a str,
    pub on_hand_after: i64,
}

pub async fn insert_movement<'c>(
    ex: impl Executor<'c, Database = Any>,
    movement: &NewMovement<'_>,
    now: Timestamp,
) -> Result<StockMovementId, sqlx::Error> {
    let id = StockMovementId::new();
    sqlx::query(
        "INSERT INTO stock_movements (id, variant_id, delta, kind, reason, reference, actor, on_hand_after, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_string())
    .bind(movement.variant.to_string())
    .bind(movement.delta)
    .bind(movement.kind.as_str())
    .bind(movement.reason)
    .bind(movement.reference)
    .bind(movement.actor)
    .bind(movement.on_hand_after)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(id)
}

pub async fn movements<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: VariantId,
    limit: i64,
) -> Result<Vec<StockMovement>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, delta, kind, reason, reference, actor, on_hand_after, created_at
         FROM stock_movements WHERE variant_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(variant.to_string())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(StockMovement {
                id: parse_text(row, "id")?,
                delta: row.try_get("delta")?,
                kind: MovementKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
                reason: row.try_get("reason")?,
                reference: row.try_get("reference")?,
                actor: row.try_get("actor")?,
                on_hand_after: row.try_get("on_hand_after")?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
            })
        })
        .collect()
}

pub async fn insert_reservation<'c>(
    ex: impl Executor<'c, Database = Any>,
    reservation: &Reservation,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_reservations (id, holder, variant_id, quantity, status, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(reservation.id.to_string())
    .bind(&reservation.holder)
    .bind(reservation.variant_id.to_string())
    .bind(reservation.quantity)
    .bind(reservation.status.as_str())
    .bind(reservation.expires_at.millis())
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

fn reservation_of(row: &AnyRow) -> Result<Reservation, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Reservation {
        id: parse_text(row, "id")?,
        holder: row.try_get("holder")?,
        variant_id: parse_text(row, "variant_id")?,
        quantity: row.try_get("quantity")?,
        status: ReservationStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

pub async fn held_by<'c>(
    ex: impl Executor<'c, Database = Any>,
    holder: &str,
) -> Result<Vec<Reservation>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, holder, variant_id, quantity, status, expires_at FROM stock_reservations
         WHERE holder = $1 AND status = 'held' ORDER BY variant_id",
    )
    .bind(holder)
    .fetch_all(ex)
    .await?;
    rows.iter().map(reservation_of).collect()
}

pub async fn reservations_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    holder: &str,
) -> Result<Vec<Reservation>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, holder, variant_id, quantity, status, expires_at FROM stock_reservations
         WHERE holder = $1 ORDER BY variant_id",
    )
    .bind(holder)
    .fetch_all(ex)
    .await?;
    rows.iter().map(reservation_of).collect()
}

/// Held reservations past their expiry, oldest first.
pub async fn due_holders<'c>(
    ex: impl Executor<'c, Database = Any>,
    before: Timestamp,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT holder FROM stock_reservations WHERE status = 'held' AND expires_at <= $1 LIMIT $2",
    )
    .bind(before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| row.try_get("holder")).collect()
}

/// Moves a reservation from held to `to`; false when it was no longer held (another path
/// released or committed it first).
pub async fn settle_reservation<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ReservationId,
    to: ReservationStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE stock_reservations SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'held'",
    )
    .bind(to.as_str())
    .bind(now.millis())
    .bind(id.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds an item unless the variant already holds one with the same digest; returns whether it
/// was added.
pub async fn insert_digital_item<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: DigitalItemId,
    variant: VariantId,
    (kind, sealed, digest): (&str, &str, &str),
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO digital_items (id, variant_id, kind, sealed, digest, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'available', $6)
         ON CONFLICT (variant_id, digest) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(variant.to_string())
    .bind(kind)
    .bind(sealed)
    .bind(digest)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Items stored before digests existed, after the id `after`: (id, variant, sealed).
pub async fn items_without_digest<'c>(
    ex: impl Executor<'c, Database = Any>,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, variant_id, sealed FROM digital_items WHERE digest IS NULL AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("variant_id")?, r.try_get("sealed")?))).collect()
}

pub async fn set_digest<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: &str,
    digest: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE digital_items SET digest = $1 WHERE id = $2 AND digest IS NULL")
        .bind(digest)
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Assigns up to `count` available items of the variant to an order line; returns how many.
/// PostgreSQL skips rows another transaction is assigning; the outer status check makes a
/// row that changed meanwhile count as not assigned rather than assigned twice. The pick is a
/// MATERIALIZED CTE so it runs once and never hands out more than `count` rows.
pub async fn assign_items<'c>(
    ex: impl Executor<'c, Database = Any>,
    dialect: Dialect,
    variant: VariantId,
    count: i64,
    holder: &str,
    order_line: &str,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let lock = match dialect {
        Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let done = sqlx::query(&format!(
        "WITH picked AS MATERIALIZED (
           SELECT id FROM digital_items WHERE variant_id = $4 AND status = 'available'
           ORDER BY id LIMIT $5 {lock})
         UPDATE digital_items SET status = 'assigned', holder = $1, order_line_id = $2, assigned_at = $3
         WHERE status = 'available' AND id IN (SELECT id FROM picked)"
    ))
    .bind(holder)
    .bind(order_line)
    .bind(now.millis())
    .bind(variant.to_string())
    .bind(count)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

pub struct SealedItem {
    pub id: String,
    pub order_line_id: String,
    pub kind: String,
    pub sealed: String,
}

pub async fn items_of_holder<'c>(
    ex: impl Executor<'c, Database = Any>,
    holder: &str,
) -> Result<Vec<SealedItem>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, order_line_id, kind, sealed FROM digital_items WHERE holder = $1 AND status = 'assigned' ORDER BY id",
    )
    .bind(holder)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SealedItem {
                id: row.try_get("id")?,
                order_line_id: row.try_get("order_line_id")?,
                kind: row.try_get("kind")?,
                sealed: row.try_get("sealed")?,
            })
        })
        .collect()
}

/// The levels of `variants`, locked for the caller's transaction on PostgreSQL (SQLite's one
/// writer holds the whole database already), in variant order so batches lock alike.
pub async fn lock_levels(
    conn: &mut Connection,
    dialect: Dialect,
    variants: &[VariantId],
) -> Result<Vec<StockLevel>, sqlx::Error> {
    let ids: Vec<String> = variants.iter().map(ToString::to_string).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let head = format!("SELECT {LEVEL_COLUMNS} FROM stock_levels WHERE variant_id IN");
    let tail = format!(" ORDER BY variant_id{}", dialect.row_lock());
    let rows = bulk::fetch_in(conn, &head, &tail, &ids).await?;
    rows.iter().map(level_of).collect()
}

/// The levels of `variants` that have one, read without locking.
pub async fn levels(conn: &mut Connection, variants: &[VariantId]) -> Result<Vec<StockLevel>, sqlx::Error> {
    let ids: Vec<String> = variants.iter().map(ToString::to_string).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let head = format!("SELECT {LEVEL_COLUMNS} FROM stock_levels WHERE variant_id IN");
    let rows = bulk::fetch_in(conn, &head, "", &ids).await?;
    rows.iter().map(level_of).collect()
}

/// [`hold`] for many variants in one guarded statement: each takes its quantity only while
/// `on_hand - reserved` covers it. Returns the levels after, of the variants that took it.
pub async fn hold_many(
    conn: &mut Connection,
    takes: &[(VariantId, i64)],
    now: Timestamp,
) -> Result<Vec<StockLevel>, sqlx::Error> {
    change_levels(conn, "reserved = reserved + v.column2", "AND on_hand - reserved >= v.column2", takes, now)
        .await
}

/// [`take_held`] for many variants in one statement. Returns the levels after.
pub async fn take_held_many(
    conn: &mut Connection,
    takes: &[(VariantId, i64)],
    now: Timestamp,
) -> Result<Vec<StockLevel>, sqlx::Error> {
    change_levels(conn, "on_hand = on_hand - v.column2, reserved = reserved - v.column2", "", takes, now)
        .await
}

/// Applies `set` (in terms of `v.column2`, each variant's quantity) to the levels of `takes`
/// where `guard` holds, in one statement; returns the levels it changed, after.
async fn change_levels(
    conn: &mut Connection,
    set: &str,
    guard: &str,
    takes: &[(VariantId, i64)],
    now: Timestamp,
) -> Result<Vec<StockLevel>, sqlx::Error> {
    let rows = bulk::returning_rows(
        conn,
        &format!("UPDATE stock_levels SET {set}, updated_at = v.column3 FROM ("),
        &format!(") AS v WHERE variant_id = v.column1 {guard} RETURNING {LEVEL_COLUMNS}"),
        3,
        takes,
        |args, (variant, quantity)| {
            args.add(variant.to_string())?;
            args.add(*quantity)?;
            args.add(now.millis())
        },
    )
    .await?;
    rows.iter().map(level_of).collect()
}

pub async fn insert_reservations(
    conn: &mut Connection,
    reservations: &[Reservation],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO stock_reservations (id, holder, variant_id, quantity, status, expires_at, created_at, updated_at)",
        "",
        8,
        reservations,
        |args, r| {
            args.add(r.id.to_string())?;
            args.add(r.holder.as_str())?;
            args.add(r.variant_id.to_string())?;
            args.add(r.quantity)?;
            args.add(r.status.as_str())?;
            args.add(r.expires_at.millis())?;
            args.add(now.millis())?;
            args.add(now.millis())
        },
    )
    .await
    .map(|_| ())
}

/// Moves every held reservation of `holders` to `to` in one statement; returns those moved.
pub async fn settle_held_of(
    conn: &mut Connection,
    holders: &[&str],
    to: ReservationStatus,
    now: Timestamp,
) -> Result<Vec<Reservation>, sqlx::Error> {
    if holders.is_empty() {
        return Ok(Vec::new());
    }
    let holders = bulk::padded(holders);
    let mut p = bulk::Placeholders::for_connection(conn);
    let sql = format!(
        "UPDATE stock_reservations SET status = {}, updated_at = {}
         WHERE status = 'held' AND holder IN ({})
         RETURNING id, holder, variant_id, quantity, status, expires_at",
        p.one(),
        p.one(),
        p.list(holders.len())
    );
    let mut query = sqlx::query(&sql).bind(to.as_str()).bind(now.millis());
    for holder in &holders {
        query = query.bind(*holder);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(reservation_of).collect()
}

pub async fn insert_movements(
    conn: &mut Connection,
    movements: &[(StockMovementId, NewMovement<'_>)],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO stock_movements (id, variant_id, delta, kind, reason, reference, actor, on_hand_after, created_at)",
        "",
        9,
        movements,
        |args, (id, m)| {
            args.add(id.to_string())?;
            args.add(m.variant.to_string())?;
            args.add(m.delta)?;
            args.add(m.kind.as_str())?;
            args.add(m.reason)?;
            args.add(m.reference)?;
            args.add(m.actor)?;
            args.add(m.on_hand_after)?;
            args.add(now.millis())
        },
    )
    .await
    .map(|_| ())
}

/// Units put back per variant by movements of `kind` referring to `holder`.
pub async fn restocked_of(
    conn: &mut Connection,
    holder: &str,
    kind: &str,
) -> Result<std::collections::HashMap<VariantId, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT variant_id, CAST(SUM(delta) AS BIGINT) AS units FROM stock_movements
         WHERE reference = $1 AND kind = $2 GROUP BY variant_id",
    )
    .bind(holder)
    .bind(kind)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| Ok((parse_text(row, "variant_id")?, row.try_get("units")?))).collect()
}

/// How many variants have less available than their low-stock threshold.
pub async fn low_count<'c>(ex: impl Executor<'c, Database = Any>) -> Result<i64, sqlx::Error> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM stock_levels WHERE on_hand - reserved < low_stock_threshold")
            .fetch_one(ex)
            .await?;
    row.try_get("n")
}
