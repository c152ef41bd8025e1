//! Notifications' SQL: deliveries (one row per event, person, channel and template) and
//! preferences.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{Category, Channel, Status};
use crate::db::{Connection, Db};
use crate::ids::{EventId, NotificationId, UserId};
use crate::time::Timestamp;

/// A delivery as stored.
#[derive(Clone, Debug)]
pub struct Notification {
    pub id: NotificationId,
    pub event_id: EventId,
    pub event_type: String,
    pub user_id: UserId,
    pub channel: Channel,
    pub template: String,
    pub category: Category,
    /// Where an email goes when not to the account's address (a new address to verify).
    pub address: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: Status,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub read_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, event_id, event_type, user_id, channel, template, category, address, subject, \
                       body_text, body_html, status, attempts, next_attempt_at, last_error, read_at, created_at, sent_at";

fn parse<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|e: T::Err| sqlx::Error::ColumnDecode { index: column.into(), source: e.to_string().into() })
}

fn notification_of(row: &AnyRow) -> Result<Notification, sqlx::Error> {
    Ok(Notification {
        id: parse(row, "id")?,
        event_id: parse(row, "event_id")?,
        event_type: row.try_get("event_type")?,
        user_id: parse(row, "user_id")?,
        channel: parse(row, "channel")?,
        template: row.try_get("template")?,
        category: parse(row, "category")?,
        address: row.try_get("address")?,
        subject: row.try_get("subject")?,
        body_text: row.try_get("body_text")?,
        body_html: row.try_get("body_html")?,
        status: parse(row, "status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: Timestamp::from_millis(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        read_at: row.try_get::<Option<i64>, _>("read_at")?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        sent_at: row.try_get::<Option<i64>, _>("sent_at")?.map(Timestamp::from_millis),
    })
}

/// Whether an event was already turned into deliveries (they are written all at once).
pub async fn event_seen<'c>(
    ex: impl Executor<'c, Database = Any>,
    event: EventId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM notifications WHERE event_id = $1 LIMIT 1")
        .bind(event.to_string())
        .fetch_optional(ex)
        .await?
        .is_some())
}

/// Writes a delivery unless the same one (event, person, channel, template) exists.
pub async fn insert(conn: &mut Connection, n: &Notification) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifications (id, event_id, event_type, user_id, channel, template, category, address,
                                    subject, body_text, body_html, status, attempts, next_attempt_at, created_at,
                                    sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14, $15)
         ON CONFLICT (event_id, user_id, channel, template) DO NOTHING",
    )
    .bind(n.id.to_string())
    .bind(n.event_id.to_string())
    .bind(&n.event_type)
    .bind(n.user_id.to_string())
    .bind(n.channel.as_str())
    .bind(&n.template)
    .bind(n.category.as_str())
    .bind(&n.address)
    .bind(&n.subject)
    .bind(&n.body_text)
    .bind(&n.body_html)
    .bind(n.status.as_str())
    .bind(n.next_attempt_at.millis())
    .bind(n.created_at.millis())
    .bind(n.sent_at.map(Timestamp::millis))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: NotificationId,
) -> Result<Option<Notification>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(notification_of)
        .transpose()
}

/// Deliveries due now on the sending channels, oldest first.
pub async fn due<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
         ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?
    .iter()
    .map(notification_of)
    .collect()
}

/// Takes a delivery to send it until `until`; false when another sender holds it or it is
/// no longer pending (this is what makes a send happen on one instance only).
pub async fn claim(
    db: &Db,
    id: NotificationId,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE notifications SET claimed_until = $1
         WHERE id = $2 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $3)",
    )
    .bind(until.millis())
    .bind(id.to_string())
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Records an attempt's outcome: `status`, the attempts made, when to try next, the error.
pub async fn settle(
    db: &Db,
    id: NotificationId,
    status: Status,
    attempts: i64,
    next_attempt_at: Timestamp,
    error: Option<&str>,
    sent_at: Option<Timestamp>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE notifications SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4,
                sent_at = $5, claimed_until = NULL
         WHERE id = $6",
    )
    .bind(status.as_str())
    .bind(attempts)
    .bind(next_attempt_at.millis())
    .bind(error)
    .bind(sent_at.map(Timestamp::millis))
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Sends a sent or dead delivery again: pending now, with a fresh count of attempts.
pub async fn resend(db: &Db, id: NotificationId, now: Timestamp) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = NULL,
                last_error = NULL, sent_at = NULL
         WHERE id = $2 AND status <> 'pending' AND channel <> 'in_app'",
    )
    .bind(now.millis())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// A person's in-app notifications, newest first, before `before`.
pub async fn inbox<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    before: Option<NotificationId>,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE user_id = $1 AND channel = 'in_app' AND ($2 IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(user.to_string())
    .bind(before.map(|b| b.to_string()))
    .bind(limit)
    .fetch_all(ex)
    .await?
    .iter()
    .map(notification_of)
    .collect()
}

pub async fn unread<'c>(ex: impl Executor<'c, Database = Any>, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1 AND channel = 'in_app' AND read_at IS NULL")
        .bind(user.to_string())
        .fetch_one(ex)
        .await?
        .try_get("n")
}

/// Marks one of a person's notifications read (or all when `id` is None); how many changed.
pub async fn mark_read(
    db: &Db,
    user: UserId,
    id: Option<NotificationId>,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE notifications SET read_at = $1
         WHERE user_id = $2 AND channel = 'in_app' AND read_at IS NULL AND ($3 IS NULL OR id = $3)",
    )
    .bind(now.millis())
    .bind(user.to_string())
    .bind(id.map(|i| i.to_string()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Whether `id` is one of `user`'s in-app notifications.
pub async fn in_inbox<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    id: NotificationId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2 AND channel = 'in_app'")
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(ex)
        .await?
        .is_some())
}

/// Every delivery, newest first, for admins.
pub async fn list<'c>(
    ex: impl Executor<'c, Database = Any>,
    status: Option<Status>,
    channel: Option<Channel>,
    before: Option<NotificationId>,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR channel = $2) AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(status.map(Status::as_str))
    .bind(channel.map(Channel::as_str))
    .bind(before.map(|b| b.to_string()))
    .bind(limit)
    .fetch_all(ex)
    .await?
    .iter()
    .map(notification_of)
    .collect()
}

/// The categories a person turned off.
pub async fn turned_off<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
) -> Result<Vec<Category>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT category FROM notification_preferences WHERE user_id = $1 AND enabled = 0")
            .bind(user.to_string())
            .fetch_all(ex)
            .await?;
    rows.iter().map(|row| parse(row, "category")).collect()
}

pub async fn set_preference(
    db: &Db,
    user: UserId,
    choices: &[(Category, bool)],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for (category, enabled) in choices {
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, category, enabled, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, category) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(user.to_string())
        .bind(category.as_str())
        .bind(i64::from(*enabled))
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
