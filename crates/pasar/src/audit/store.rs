//! The audit table. Insert and read only: there is no update or delete here, on purpose.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::chain::{Entry, Head};
use crate::db::{Connection, bulk};

const COLUMNS: &str = "seq, event_id, recorded_at, occurred_at, actor, action, entity, before_state, \
     after_state, prev_hash, hash";

fn entry_of(row: &AnyRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        seq: row.try_get("seq")?,
        event_id: row.try_get("event_id")?,
        recorded_at: row.try_get("recorded_at")?,
        occurred_at: row.try_get("occurred_at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        entity: row.try_get("entity")?,
        before: row.try_get("before_state")?,
        after: row.try_get("after_state")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

pub async fn insert<'c>(ex: impl Executor<'c, Database = Any>, entry: &Entry) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO audit_entries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(entry.seq)
    .bind(&entry.event_id)
    .bind(entry.recorded_at)
    .bind(entry.occurred_at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.entity)
    .bind(entry.before.as_deref())
    .bind(entry.after.as_deref())
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn insert_many(conn: &mut Connection, entries: &[Entry]) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        &format!("INSERT INTO audit_entries ({COLUMNS})"),
        "",
        11,
        entries,
        |args, entry| {
            args.add(entry.seq)?;
            args.add(entry.event_id.as_str())?;
            args.add(entry.recorded_at)?;
            args.add(entry.occurred_at)?;
            args.add(entry.actor.as_str())?;
            args.add(entry.action.as_str())?;
            args.add(entry.entity.as_str())?;
            args.add(entry.before.as_deref())?;
            args.add(entry.after.as_deref())?;
            args.add(entry.prev_hash.as_str())?;
            args.add(entry.hash.as_str())
        },
    )
    .await
    .map(|_| ())
}

/// Which of `event_ids` have an entry already.
pub async fn recorded_events(
    conn: &mut Connection,
    event_ids: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    let ids: Vec<&str> = event_ids.iter().map(String::as_str).collect();
    let rows = bulk::fetch_in(conn, "SELECT event_id FROM audit_entries WHERE event_id IN", "", &ids).await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// The seq of the entry recorded for an event, if there is one.
pub async fn seq_of_event<'c>(
    ex: impl Executor<'c, Database = Any>,
    event_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT seq FROM audit_entries WHERE event_id = $1")
        .bind(event_id)
        .fetch_optional(ex)
        .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// The last entry's seq and hash.
pub async fn last<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Option<Head>, sqlx::Error> {
    let row = sqlx::query("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        .fetch_optional(ex)
        .await?;
    row.map(|row| Ok(Head { seq: row.try_get(0)?, hash: row.try_get(1)? })).transpose()
}

pub async fn hash_at<'c>(
    ex: impl Executor<'c, Database = Any>,
    seq: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT hash FROM audit_entries WHERE seq = $1").bind(seq).fetch_optional(ex).await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// Entries in seq order after `after_seq`, for walking the chain in pages.
pub async fn entries_after<'c>(
    ex: impl Executor<'c, Database = Any>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after_seq)
            .bind(limit)
            .fetch_all(ex)
            .await?;
    rows.iter().map(entry_of).collect()
}

/// Entries newest first, filtered, before the cursor `before` (a seq).
pub async fn search<'c>(
    ex: impl Executor<'c, Database = Any>,
    entity: Option<&str>,
    actor: Option<&str>,
    action: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_entries
         WHERE ($1 IS NULL OR entity = $1) AND ($2 IS NULL OR actor = $2)
           AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR seq < $4)
         ORDER BY seq DESC LIMIT $5"
    ))
    .bind(entity)
    .bind(actor)
    .bind(action)
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(ex)
    .await?;
    rows.iter().map(entry_of).collect()
}
