//! The Telegram storefront's own tables: updates already handled, each user's conversation,
//! the QRIS messages to edit when their payment settles, and the durable queue of messages to
//! send. Only this module reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::db::{Db, Migration};
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120211,
    name: "telegram: updates, conversations, payment messages, send queue",
    sql: "CREATE TABLE telegram_updates (
            update_id BIGINT PRIMARY KEY,
            received_at BIGINT NOT NULL
          );

          CREATE TABLE telegram_conversations (
            telegram_id BIGINT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at BIGINT NOT NULL
          );

          CREATE TABLE telegram_payment_messages (
            payment_id TEXT PRIMARY KEY,
            telegram_id BIGINT NOT NULL,
            chat_id BIGINT NOT NULL,
            message_id BIGINT NOT NULL,
            summary TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            state TEXT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE INDEX telegram_payment_messages_pending ON telegram_payment_messages (state, expires_at);

          CREATE TABLE telegram_sends (
            id TEXT PRIMARY KEY,
            dedupe_key TEXT NOT NULL,
            chat_id BIGINT NOT NULL,
            body TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            next_at BIGINT NOT NULL,
            claimed_until BIGINT,
            sent_at BIGINT,
            failed_at BIGINT,
            last_error TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX telegram_sends_dedupe ON telegram_sends (dedupe_key);
          CREATE INDEX telegram_sends_due ON telegram_sends (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;

          CREATE TABLE telegram_broadcasts (
            id TEXT PRIMARY KEY,
            admin_chat BIGINT NOT NULL,
            audience TEXT NOT NULL,
            total BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            finished_at BIGINT
          );

          CREATE TABLE telegram_blocked (
            telegram_id BIGINT PRIMARY KEY,
            blocked_at BIGINT NOT NULL
          );",
    postgres: None,
},
Migration {
    version: 2026120601,
    name: "telegram: broadcasts report their progress in a status message; sends know their broadcast",
    sql: "ALTER TABLE telegram_broadcasts ADD COLUMN status_message_id BIGINT;
          ALTER TABLE telegram_broadcasts ADD COLUMN reported_at BIGINT;
          ALTER TABLE telegram_sends ADD COLUMN broadcast_id TEXT;
          UPDATE telegram_sends SET broadcast_id = substr(dedupe_key, 11, 32) WHERE dedupe_key LIKE 'broadcast:%';
          CREATE INDEX telegram_sends_broadcast ON telegram_sends (broadcast_id);
          CREATE INDEX telegram_sends_done ON telegram_sends (created_at) WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;",
    postgres: None,
}];

/// Records an update as handled; false when it was handled before (Telegram retried it).
pub async fn first_sight(db: &Db, update_id: i64, now: Timestamp) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "INSERT INTO telegram_updates (update_id, received_at) VALUES ($1, $2) ON CONFLICT (update_id) DO NOTHING",
    )
    .bind(update_id)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets an update whose handling failed, so Telegram's retry is handled.
pub async fn forget_update(db: &Db, update_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM telegram_updates WHERE update_id = $1")
        .bind(update_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Forgets handled updates and conversations older than `before`; and messages sent or given
/// up, finished broadcasts and settled QRIS messages older than `sends_before`. A delivery of
/// items (and of each file item) is kept: its key is what stops them from being sent twice.
pub async fn prune(db: &Db, before: Timestamp, sends_before: Timestamp) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "DELETE FROM telegram_sends WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1
           AND dedupe_key NOT LIKE 'items:%' AND dedupe_key NOT LIKE 'file:%'",
    )
    .bind(sends_before.millis())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM telegram_broadcasts WHERE finished_at < $1")
        .bind(sends_before.millis())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM telegram_payment_messages WHERE state <> 'pending' AND updated_at < $1")
        .bind(sends_before.millis())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM telegram_updates WHERE received_at < $1")
        .bind(before.millis())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM telegram_conversations WHERE updated_at < $1")
        .bind(before.millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A user's conversation state as stored, with when it last changed.
pub async fn conversation<'c>(
    ex: impl Executor<'c, Database = Any>,
    telegram_id: i64,
) -> Result<Option<(String, Timestamp)>, sqlx::Error> {
    let row = sqlx::query("SELECT state, updated_at FROM telegram_conversations WHERE telegram_id = $1")
        .bind(telegram_id)
        .fetch_optional(ex)
        .await?;
    row.map(|row| Ok((row.try_get("state")?, Timestamp::from_millis(row.try_get("updated_at")?)))).transpose()
}

pub async fn set_conversation(
    db: &Db,
    telegram_id: i64,
    state: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO telegram_conversations (telegram_id, state, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (telegram_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )
    .bind(telegram_id)
    .bind(state)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A QRIS message shown to a buyer, edited as its payment goes.
#[derive(Clone, Debug)]
pub struct PaymentMessage {
    pub payment_id: String,
    pub telegram_id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    /// What the caption says besides the countdown: the item, amount, fee and total.
    pub summary: String,
    pub expires_at: Timestamp,
    pub state: String,
}

fn payment_message_of(row: &AnyRow) -> Result<PaymentMessage, sqlx::Error> {
    Ok(PaymentMessage {
        payment_id: row.try_get("payment_id")?,
        telegram_id: row.try_get("telegram_id")?,
        chat_id: row.try_get("chat_id")?,
        message_id: row.try_get("message_id")?,
        summary: row.try_get("summary")?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        state: row.try_get("state")?,
    })
}

const PAYMENT_MESSAGE_COLUMNS: &str =
    "payment_id, telegram_id, chat_id, message_id, summary, expires_at, state";

pub async fn insert_payment_message(
    db: &Db,
    message: &PaymentMessage,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO telegram_payment_messages
           (payment_id, telegram_id, chat_id, message_id, summary, expires_at, state, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (payment_id) DO NOTHING",
    )
    .bind(&message.payment_id)
    .bind(message.telegram_id)
    .bind(message.chat_id)
    .bind(message.message_id)
    .bind(&message.summary)
    .bind(message.expires_at.millis())
    .bind(&message.state)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn payment_message<'c>(
    ex: impl Executor<'c, Database = Any>,
    payment_id: &str,
) -> Result<Option<PaymentMessage>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {PAYMENT_MESSAGE_COLUMNS} FROM telegram_payment_messages WHERE payment_id = $1"
    ))
    .bind(payment_id)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(payment_message_of).transpose()
}

/// Moves a payment message out of `pending`; false when it already was.
pub async fn settle_payment_message(
    db: &Db,
    payment_id: &str,
    state: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE telegram_payment_messages SET state = $1, updated_at = $2 WHERE payment_id = $3 AND state = 'pending'",
    )
    .bind(state)
    .bind(now.millis())
    .bind(payment_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Payment messages still pending whose deadline is after `now`, for the countdown.
pub async fn pending_payment_messages<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<PaymentMessage>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {PAYMENT_MESSAGE_COLUMNS} FROM telegram_payment_messages
         WHERE state = 'pending' AND expires_at > $1 ORDER BY expires_at LIMIT $2"
    ))
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(payment_message_of).collect()
}

/// Queues a message unless one with the same key was queued before; true when queued now.
pub async fn enqueue(
    db: &Db,
    dedupe_key: &str,
    chat_id: i64,
    body: &serde_json::Value,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "INSERT INTO telegram_sends (id, dedupe_key, chat_id, body, next_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().simple().to_string())
    .bind(dedupe_key)
    .bind(chat_id)
    .bind(body.to_string())
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// A queued message.
#[derive(Clone, Debug)]
pub struct Send {
    pub id: String,
    pub chat_id: i64,
    pub body: serde_json::Value,
    pub attempts: i64,
}

/// Queued messages due now, oldest first.
pub async fn due_sends<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Send>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, chat_id, body, attempts FROM telegram_sends
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1
           AND (claimed_until IS NULL OR claimed_until < $1)
         ORDER BY id LIMIT $2",
    )
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let body: String = row.try_get("body")?;
            Ok(Send {
                id: row.try_get("id")?,
                chat_id: row.try_get("chat_id")?,
                body: serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// Takes a queued message for sending until `until`; false when another sender has it.
pub async fn claim_send(db: &Db, id: &str, now: Timestamp, until: Timestamp) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE telegram_sends SET claimed_until = $1
         WHERE id = $2 AND sent_at IS NULL AND failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)",
    )
    .bind(until.millis())
    .bind(id)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_sent(db: &Db, id: &str, now: Timestamp) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE telegram_sends SET sent_at = $1, attempts = attempts + 1, claimed_until = NULL WHERE id = $2",
    )
    .bind(now.millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Puts a message back in the queue for `next_at`, or gives up on it (`failed`).
pub async fn mark_unsent(
    db: &Db,
    id: &str,
    next_at: Timestamp,
    failed: Option<Timestamp>,
    error: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE telegram_sends SET attempts = attempts + 1, next_at = $1, failed_at = $2, last_error = $3,
                claimed_until = NULL
         WHERE id = $4",
    )
    .bind(next_at.millis())
    .bind(failed.map(Timestamp::millis))
    .bind(error)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a broadcast and queues its message for each recipient, in one transaction.
/// `status` is the admin's chat and the message there that reports the progress.
pub async fn start_broadcast(
    tx: &mut crate::db::Transaction,
    id: &str,
    status: (i64, i64),
    audience: &str,
    recipients: &[i64],
    text: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let (admin_chat, status_message_id) = status;
    sqlx::query(
        "INSERT INTO telegram_broadcasts (id, admin_chat, audience, total, created_at, status_message_id, reported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5)",
    )
    .bind(id)
    .bind(admin_chat)
    .bind(audience)
    .bind(recipients.len() as i64)
    .bind(now.millis())
    .bind(status_message_id)
    .execute(&mut **tx)
    .await?;
    let body = serde_json::json!({"kind": "broadcast", "broadcast_id": id, "text": text});
    for chat in recipients {
        sqlx::query(
            "INSERT INTO telegram_sends (id, dedupe_key, chat_id, body, next_at, created_at, broadcast_id)
             VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().simple().to_string())
        .bind(format!("broadcast:{id}:{chat}"))
        .bind(*chat)
        .bind(body.to_string())
        .bind(now.millis())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Where a broadcast not yet finished stands.
#[derive(Clone, Debug)]
pub struct BroadcastProgress {
    pub id: String,
    pub admin_chat: i64,
    pub status_message_id: Option<i64>,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub waiting: i64,
    pub reported_at: Option<Timestamp>,
}

/// The broadcasts not marked finished, with their counts so far.
pub async fn broadcasts_in_progress<'c>(
    ex: impl Executor<'c, Database = Any>,
) -> Result<Vec<BroadcastProgress>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT b.id, b.admin_chat, b.status_message_id, b.total, b.reported_at,
                SUM(CASE WHEN s.sent_at IS NOT NULL THEN 1 ELSE 0 END) AS sent,
                SUM(CASE WHEN s.failed_at IS NOT NULL THEN 1 ELSE 0 END) AS failed,
                SUM(CASE WHEN s.sent_at IS NULL AND s.failed_at IS NULL THEN 1 ELSE 0 END) AS waiting
         FROM telegram_broadcasts b JOIN telegram_sends s ON s.broadcast_id = b.id
         WHERE b.finished_at IS NULL
         GROUP BY b.id, b.admin_chat, b.status_message_id, b.total, b.reported_at",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BroadcastProgress {
                id: row.try_get("id")?,
                admin_chat: row.try_get("admin_chat")?,
                status_message_id: row.try_get("status_message_id")?,
                total: row.try_get("total")?,
                sent: row.try_get("sent")?,
                failed: row.try_get("failed")?,
                waiting: row.try_get("waiting")?,
                reported_at: row.try_get::<Option<i64>, _>("reported_at")?.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Records that a broadcast's progress was reported at `now`; false when another sender
/// reported it since `seen` (so one instance edits the status message at a time).
pub async fn mark_reported(
    db: &Db,
    id: &str,
    seen: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE telegram_broadcasts SET reported_at = $1
         WHERE id = $2 AND finished_at IS NULL AND (reported_at IS NULL OR reported_at = $3)",
    )
    .bind(now.millis())
    .bind(id)
    .bind(seen.map_or(0, Timestamp::millis))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a broadcast finished; false when another sender did first.
pub async fn finish_broadcast(db: &Db, id: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE telegram_broadcasts SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL")
            .bind(now.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Remembers that a user blocked the bot, so broadcasts skip them.
pub async fn mark_blocked(db: &Db, telegram_id: i64, now: Timestamp) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO telegram_blocked (telegram_id, blocked_at) VALUES ($1, $2) ON CONFLICT (telegram_id) DO NOTHING")
        .bind(telegram_id)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A user wrote to the bot again: they no longer block it.
pub async fn unblock(db: &Db, telegram_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM telegram_blocked WHERE telegram_id = $1")
        .bind(telegram_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

pub async fn blocked<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT telegram_id FROM telegram_blocked").fetch_all(ex).await?;
    rows.iter().map(|row| row.try_get("telegram_id")).collect()
}
