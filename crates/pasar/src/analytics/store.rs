//! Analytics' tables: the figures per grain (hour, day, all time), bucket, scope, figure and
//! dimension; the buyers active per bucket (to count them once over a range); the events
//! already counted; and the watermark of the cart count.

use sqlx::{Any, Executor, Row};

use super::domain::{Delta, Figure};
use crate::db::Connection;
use crate::db::column::decode_error;
use crate::ids::{EventId, UserId};
use crate::time::Timestamp;

/// Marks `event` counted; false when it was counted already.
pub async fn claim_event(conn: &mut Connection, event: EventId, at: Timestamp) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO analytics_counted_events (event_id, counted_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.to_string())
    .bind(at.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add(conn: &mut Connection, grain: &str, bucket: i64, delta: &Delta) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO analytics_figures (grain, scope, bucket, figure, dimension, value) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (grain, scope, figure, bucket, dimension)
         DO UPDATE SET value = analytics_figures.value + $6",
    )
    .bind(grain)
    .bind(&delta.scope)
    .bind(bucket)
    .bind(delta.figure.as_str())
    .bind(&delta.dimension)
    .bind(delta.value)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `buyer` active in the bucket; true the first time.
pub async fn add_active(
    conn: &mut Connection,
    grain: &str,
    bucket: i64,
    scope: &str,
    buyer: UserId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO analytics_active_customers (grain, scope, bucket, user_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (grain, scope, bucket, user_id) DO NOTHING",
    )
    .bind(grain)
    .bind(scope)
    .bind(bucket)
    .bind(buyer.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn figure_of(row: &sqlx::any::AnyRow) -> Result<Figure, sqlx::Error> {
    let text: String = row.try_get("figure")?;
    Figure::parse(&text).ok_or_else(|| decode_error("figure", &text))
}

/// `figure IN (…)` for `figures`, its placeholders numbered from `first`: the key leads with
/// the figure, so each one is a range read of its own buckets only.
fn figure_in(first: usize, figures: &[Figure]) -> String {
    let placeholders: Vec<String> = (first..first + figures.len()).map(|i| format!("${i}")).collect();
    format!("figure IN ({})", placeholders.join(", "))
}

/// `figures` (undivided) of `scope` per bucket in [from, to).
pub async fn series<'c>(
    ex: impl Executor<'c, Database = Any>,
    grain: &str,
    scope: &str,
    figures: &[Figure],
    from: i64,
    to: i64,
) -> Result<Vec<(i64, Figure, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT bucket, figure, value FROM analytics_figures
         WHERE grain = $1 AND scope = $2 AND bucket >= $3 AND bucket < $4 AND dimension = '' AND {}",
        figure_in(5, figures)
    );
    let mut query = sqlx::query(&sql).bind(grain).bind(scope).bind(from).bind(to);
    for figure in figures {
        query = query.bind(figure.as_str());
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(|row| Ok((row.try_get("bucket")?, figure_of(row)?, row.try_get("value")?))).collect()
}

/// `figures` (divided) of `scope` summed over [from, to), per figure and dimension.
pub async fn breakdown<'c>(
    ex: impl Executor<'c, Database = Any>,
    grain: &str,
    scope: &str,
    figures: &[Figure],
    from: i64,
    to: i64,
) -> Result<Vec<(Figure, String, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT figure, dimension, CAST(SUM(value) AS BIGINT) AS value FROM analytics_figures
         WHERE grain = $1 AND scope = $2 AND bucket >= $3 AND bucket < $4 AND dimension <> '' AND {}
         GROUP BY figure, dimension",
        figure_in(5, figures)
    );
    let mut query = sqlx::query(&sql).bind(grain).bind(scope).bind(from).bind(to);
    for figure in figures {
        query = query.bind(figure.as_str());
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(|row| Ok((figure_of(row)?, row.try_get("dimension")?, row.try_get("value")?))).collect()
}

/// Distinct buyers of `scope` active in [from, to).
pub async fn active_customers<'c>(
    ex: impl Executor<'c, Database = Any>,
    grain: &str,
    scope: &str,
    from: i64,
    to: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(DISTINCT user_id) AS n FROM analytics_active_customers
         WHERE grain = $1 AND scope = $2 AND bucket >= $3 AND bucket < $4",
    )
    .bind(grain)
    .bind(scope)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await?
    .try_get("n")
}

/// Every figure of the whole shop since the start, per dimension (for `/metrics`).
pub async fn all_time<'c>(
    ex: impl Executor<'c, Database = Any>,
) -> Result<Vec<(Figure, String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT figure, dimension, value FROM analytics_figures WHERE grain = 'all' AND scope = ''",
    )
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| Ok((figure_of(row)?, row.try_get("dimension")?, row.try_get("value")?))).collect()
}

/// Where the watermark job `name` stopped (millis; 0 before its first run).
pub async fn watermark(conn: &mut Connection, name: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT until_ms FROM analytics_watermarks WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.map_or(Ok(0), |row| row.try_get("until_ms"))
}

pub async fn set_watermark(conn: &mut Connection, name: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO analytics_watermarks (name, until_ms) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET until_ms = $2",
    )
    .bind(name)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}
