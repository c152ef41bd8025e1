//! The `push_subscriptions` table: one row per browser, found by its endpoint (a browser that
//! subscribes again, or for someone else who signed in on it, replaces its row).

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::Subscription;
use crate::db::column::parse_text;
use crate::ids::{PushSubscriptionId, UserId};
use crate::time::Timestamp;

const COLUMNS: &str = "id, user_id, endpoint, p256dh, auth, user_agent, created_at, last_sent_at";

fn subscription_of(row: &AnyRow) -> Result<Subscription, sqlx::Error> {
    Ok(Subscription {
        id: parse_text(row, "id")?,
        user_id: parse_text(row, "user_id")?,
        endpoint: row.try_get("endpoint")?,
        p256dh: row.try_get("p256dh")?,
        auth: row.try_get("auth")?,
        user_agent: row.try_get("user_agent")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_sent_at: row.try_get::<Option<i64>, _>("last_sent_at")?.map(Timestamp::from_millis),
    })
}

/// Saves a browser's subscription, taking over the row of the same endpoint if there is one.
pub async fn upsert<'c>(
    ex: impl Executor<'c, Database = Any>,
    s: &Subscription,
) -> Result<Subscription, sqlx::Error> {
    let row = sqlx::query(&format!(
        "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, user_agent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
           auth = excluded.auth, user_agent = excluded.user_agent, created_at = excluded.created_at,
           last_sent_at = NULL
         RETURNING {COLUMNS}"
    ))
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(&s.user_agent)
    .bind(s.created_at.millis())
    .fetch_one(ex)
    .await?;
    subscription_of(&row)
}

pub async fn of_user<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
) -> Result<Vec<Subscription>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(subscription_of).collect()
}

pub async fn find<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    id: PushSubscriptionId,
) -> Result<Option<Subscription>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM push_subscriptions WHERE id = $1 AND user_id = $2"))
            .bind(id.to_string())
            .bind(user.to_string())
            .fetch_optional(ex)
            .await?;
    row.as_ref().map(subscription_of).transpose()
}

/// Removes a subscription; whether there was one.
pub async fn delete<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PushSubscriptionId,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1").bind(id.to_string()).execute(ex).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn mark_sent<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: PushSubscriptionId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE push_subscriptions SET last_sent_at = $1 WHERE id = $2")
        .bind(at.millis())
        .bind(id.to_string())
        .execute(ex)
        .await?;
    Ok(())
}
