//! Chat's tables: conversations (with each side's read marker), their messages, and the
//! images sent in them. Message ids are UUIDv7 text, so comparing them as text orders them by
//! time: the cursors, read markers and catch-up all rest on that.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{ChatImage, ChatMessage, Conversation, Side, Subject, Unread, Window};
use crate::catalog::media::MediaKey;
use crate::db::column::{decode_error, parse_optional, parse_text};
use crate::ids::{ChatMessageId, ConversationId, MediaId, SellerId, UserId};
use crate::time::Timestamp;

const CONVERSATION_COLUMNS: &str = "c.id, c.buyer_id, c.store_id, c.store_user_id, c.product_id, c.order_id, \
     c.last_message_id, c.last_message_at, c.buyer_read_id, c.store_read_id, c.reported_at, c.created_at";

/// The message's columns, with its image's (`m` the message, `i` its image).
const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.sender_id, m.sender_side, m.body, m.created_at, \
     i.id AS image_id, i.object_key, i.content_type, i.size_bytes";

const MESSAGES_FROM: &str = "chat_messages m LEFT JOIN chat_images i ON i.id = m.image_id";

/// The caller's (`$1`) read marker in conversation `c`.
const MY_READ_MARKER: &str =
    "COALESCE(CASE WHEN c.buyer_id = $1 THEN c.buyer_read_id ELSE c.store_read_id END, '')";

fn conversation_of(row: &AnyRow) -> Result<Conversation, sqlx::Error> {
    let reported_at: Option<i64> = row.try_get("reported_at")?;
    Ok(Conversation {
        id: parse_text(row, "id")?,
        buyer_id: parse_text(row, "buyer_id")?,
        store_id: parse_text(row, "store_id")?,
        store_user_id: parse_text(row, "store_user_id")?,
        product_id: parse_optional(row, "product_id")?,
        order_id: parse_optional(row, "order_id")?,
        last_message_id: parse_text(row, "last_message_id")?,
        last_message_at: Timestamp::from_millis(row.try_get("last_message_at")?),
        buyer_read_up_to: parse_optional(row, "buyer_read_id")?,
        store_read_up_to: parse_optional(row, "store_read_id")?,
        reported_at: reported_at.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn image_url(key: MediaKey) -> String {
    format!("/v1/chat/images/{key}")
}

fn message_of(row: &AnyRow) -> Result<ChatMessage, sqlx::Error> {
    let side: String = row.try_get("sender_side")?;
    let image = match parse_optional::<MediaId>(row, "image_id")? {
        None => None,
        Some(id) => {
            let key: String = row.try_get("object_key")?;
            let key: MediaKey = key.parse().map_err(|()| decode_error("object_key", &key))?;
            let size: i64 = row.try_get("size_bytes")?;
            Some(ChatImage {
                id,
                url: image_url(key),
                content_type: row.try_get("content_type")?,
                size: u64::try_from(size).unwrap_or(0),
            })
        }
    };
    Ok(ChatMessage {
        id: parse_text(row, "id")?,
        conversation_id: parse_text(row, "conversation_id")?,
        sender_id: parse_text(row, "sender_id")?,
        side: Side::parse(&side).ok_or_else(|| decode_error("sender_side", &side))?,
        text: row.try_get("body")?,
        image,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

/// A new conversation's row, unless the buyer has one with this store about this subject
/// already; false then. `first` is the id its first message will have.
#[allow(clippy::too_many_arguments)]
pub async fn insert_conversation<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ConversationId,
    buyer: UserId,
    store: SellerId,
    store_user: UserId,
    subject: Subject,
    first: ChatMessageId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let (product, order) = match subject {
        Subject::Store => (None, None),
        Subject::Product(product) => (Some(product.to_string()), None),
        Subject::Order(order) => (None, Some(order.to_string())),
    };
    let done = sqlx::query(
        "INSERT INTO chat_conversations (id, buyer_id, store_id, store_user_id, subject, product_id, order_id,
                                         last_message_id, last_message_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (buyer_id, store_id, subject) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(buyer.to_string())
    .bind(store.to_string())
    .bind(store_user.to_string())
    .bind(subject.key())
    .bind(product)
    .bind(order)
    .bind(first.to_string())
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn conversation_about<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: UserId,
    store: SellerId,
    subject: Subject,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c
         WHERE c.buyer_id = $1 AND c.store_id = $2 AND c.subject = $3"
    ))
    .bind(buyer.to_string())
    .bind(store.to_string())
    .bind(subject.key())
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(conversation_of).transpose()
}

pub async fn conversation<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ConversationId,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c WHERE c.id = $1"))
            .bind(id.to_string())
            .fetch_optional(ex)
            .await?;
    row.as_ref().map(conversation_of).transpose()
}

/// A user's conversations on either side, the most recently active first, after the
/// conversation whose last message was `after`; each with the user's unread count.
pub async fn conversations_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    after: Option<ChatMessageId>,
    limit: usize,
) -> Result<Vec<(Conversation, i64)>, sqlx::Error> {
    let position = if after.is_some() { " AND c.last_message_id < $2" } else { "" };
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS},
                (SELECT COUNT(*) FROM chat_messages m
                 WHERE m.conversation_id = c.id AND m.sender_id <> $1 AND m.id > {MY_READ_MARKER}) AS unread
         FROM chat_conversations c
         WHERE (c.buyer_id = $1 OR c.store_user_id = $1){position}
         ORDER BY c.last_message_id DESC LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql).bind(user.to_string());
    if let Some(after) = after {
        query = query.bind(after.to_string());
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(|row| Ok((conversation_of(row)?, row.try_get::<i64, _>("unread")?))).collect()
}

/// Reported conversations, the most recently created first, after `after`.
pub async fn reported<'c>(
    ex: impl Executor<'c, Database = Any>,
    after: Option<ConversationId>,
    limit: usize,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let position = if after.is_some() { " AND c.id < $1" } else { "" };
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM chat_conversations c
         WHERE c.reported_at IS NOT NULL{position} ORDER BY c.id DESC LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql);
    if let Some(after) = after {
        query = query.bind(after.to_string());
    }
    let rows = query.fetch_all(ex).await?;
    rows.iter().map(conversation_of).collect()
}

/// What a user has not read, over all their conversations.
pub async fn unread_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
) -> Result<Unread, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS messages, COUNT(DISTINCT m.conversation_id) AS conversations
         FROM chat_messages m JOIN chat_conversations c ON c.id = m.conversation_id
         WHERE (c.buyer_id = $1 OR c.store_user_id = $1) AND m.sender_id <> $1 AND m.id > {MY_READ_MARKER}"
    ))
    .bind(user.to_string())
    .fetch_one(ex)
    .await?;
    Ok(Unread { conversations: row.try_get("conversations")?, messages: row.try_get("messages")? })
}

pub async fn insert_message<'c>(
    ex: impl Executor<'c, Database = Any>,
    message: &ChatMessage,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_messages (id, conversation_id, sender_id, sender_side, body, image_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(message.id.to_string())
    .bind(message.conversation_id.to_string())
    .bind(message.sender_id.to_string())
    .bind(message.side.as_str())
    .bind(&message.text)
    .bind(message.image.as_ref().map(|image| image.id.to_string()))
    .bind(message.created_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Makes `message` the conversation's last, and read by its sender's side.
pub async fn note_last_message<'c>(
    ex: impl Executor<'c, Database = Any>,
    message: &ChatMessage,
) -> Result<(), sqlx::Error> {
    let marker = match message.side {
        Side::Buyer => "buyer_read_id",
        Side::Store => "store_read_id",
    };
    sqlx::query(&format!(
        "UPDATE chat_conversations SET last_message_id = $1, last_message_at = $2, {marker} = $1
         WHERE id = $3 AND last_message_id <= $1"
    ))
    .bind(message.id.to_string())
    .bind(message.created_at.millis())
    .bind(message.conversation_id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Moves `side`'s read marker forward to `up_to` (never back).
pub async fn mark_read<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ConversationId,
    side: Side,
    up_to: ChatMessageId,
) -> Result<(), sqlx::Error> {
    let marker = match side {
        Side::Buyer => "buyer_read_id",
        Side::Store => "store_read_id",
    };
    sqlx::query(&format!(
        "UPDATE chat_conversations SET {marker} = $1 WHERE id = $2 AND ({marker} IS NULL OR {marker} < $1)"
    ))
    .bind(up_to.to_string())
    .bind(id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Records a report; false when the conversation was reported already.
pub async fn report<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ConversationId,
    by: UserId,
    reason: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE chat_conversations SET reported_at = $1, reported_by = $2, report_reason = $3
         WHERE id = $4 AND reported_at IS NULL",
    )
    .bind(at.millis())
    .bind(by.to_string())
    .bind(reason)
    .bind(id.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a conversation was reported, and by whom.
pub async fn report_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ConversationId,
) -> Result<Option<(UserId, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT reported_by, report_reason FROM chat_conversations WHERE id = $1 AND reported_at IS NOT NULL",
    )
    .bind(id.to_string())
    .fetch_optional(ex)
    .await?;
    row.map(|row| Ok((parse_text(&row, "reported_by")?, row.try_get("report_reason")?))).transpose()
}

/// A page of a conversation's messages, oldest first, and whether more lie beyond it (after
/// it when read forwards, before it otherwise).
pub async fn messages<'c>(
    ex: impl Executor<'c, Database = Any>,
    conversation: ConversationId,
    window: Window,
) -> Result<(Vec<ChatMessage>, bool), sqlx::Error> {
    let mut bounds = String::new();
    let mut cursors = Vec::new();
    for (cursor, op) in [(window.after, ">"), (window.before, "<")] {
        if let Some(cursor) = cursor {
            cursors.push(cursor.to_string());
            bounds.push_str(&format!(" AND m.id {op} ${}", cursors.len() + 1));
        }
    }
    let order = if window.forwards() { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES_FROM} WHERE m.conversation_id = $1{bounds}
         ORDER BY m.id {order} LIMIT {}",
        window.limit + 1
    );
    let mut query = sqlx::query(&sql).bind(conversation.to_string());
    for cursor in cursors {
        query = query.bind(cursor);
    }
    let rows = query.fetch_all(ex).await?;
    let mut found = rows.iter().map(message_of).collect::<Result<Vec<_>, _>>()?;
    let more = found.len() > window.limit;
    found.truncate(window.limit);
    if !window.forwards() {
        found.reverse();
    }
    Ok((found, more))
}

/// Messages of all a user's conversations after `after`, oldest first: what a reconnecting
/// socket missed.
pub async fn messages_for_user_after<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    after: ChatMessageId,
    limit: usize,
) -> Result<Vec<ChatMessage>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES_FROM} JOIN chat_conversations c ON c.id = m.conversation_id
         WHERE (c.buyer_id = $1 OR c.store_user_id = $1) AND m.id > $2
         ORDER BY m.id LIMIT {limit}"
    ))
    .bind(user.to_string())
    .bind(after.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(message_of).collect()
}

pub async fn message_in<'c>(
    ex: impl Executor<'c, Database = Any>,
    conversation: ConversationId,
    id: ChatMessageId,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 AS found FROM chat_messages WHERE id = $1 AND conversation_id = $2")
        .bind(id.to_string())
        .bind(conversation.to_string())
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

// ---- images --------------------------------------------------------------------------------

pub async fn insert_image<'c>(
    ex: impl Executor<'c, Database = Any>,
    uploader: UserId,
    key: MediaKey,
    size: usize,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_images (id, uploader_id, object_key, content_type, size_bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.to_string())
    .bind(uploader.to_string())
    .bind(key.to_string())
    .bind(key.image_type.content_type())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Puts an image its uploader has not sent yet into a conversation; the image as shown, or
/// None when it is not theirs or was sent already.
pub async fn attach_image(
    conn: &mut crate::db::Connection,
    image: MediaId,
    uploader: UserId,
    conversation: ConversationId,
) -> Result<Option<ChatImage>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE chat_images SET conversation_id = $1 WHERE id = $2 AND uploader_id = $3 AND conversation_id IS NULL",
    )
    .bind(conversation.to_string())
    .bind(image.to_string())
    .bind(uploader.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT object_key, content_type, size_bytes FROM chat_images WHERE id = $1")
        .bind(image.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let key: String = row.try_get("object_key")?;
    let key: MediaKey = key.parse().map_err(|()| decode_error("object_key", &key))?;
    let size: i64 = row.try_get("size_bytes")?;
    Ok(Some(ChatImage {
        id: image,
        url: image_url(key),
        content_type: row.try_get("content_type")?,
        size: u64::try_from(size).unwrap_or(0),
    }))
}

/// A stored image by its key: its content type, its uploader and the conversation it was
/// sent in (None while unsent).
pub async fn image<'c>(
    ex: impl Executor<'c, Database = Any>,
    key: MediaKey,
) -> Result<Option<(String, UserId, Option<ConversationId>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT content_type, uploader_id, conversation_id FROM chat_images WHERE object_key = $1",
    )
    .bind(key.to_string())
    .fetch_optional(ex)
    .await?;
    row.map(|row| {
        Ok((
            row.try_get("content_type")?,
            parse_text(&row, "uploader_id")?,
            parse_optional(&row, "conversation_id")?,
        ))
    })
    .transpose()
}

/// Messages of one conversation from the other side that `user` has not read.
pub async fn unread_in<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    conversation: ConversationId,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM chat_messages m JOIN chat_conversations c ON c.id = m.conversation_id
         WHERE c.id = $2 AND m.sender_id <> $1 AND m.id > {MY_READ_MARKER}"
    ))
    .bind(user.to_string())
    .bind(conversation.to_string())
    .fetch_one(ex)
    .await?;
    row.try_get("n")
}

// ---- deleted accounts ------------------------------------------------------------------------

/// The keys of every image a user uploaded, sent or not.
pub async fn image_keys_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    uploader: UserId,
) -> Result<Vec<MediaKey>, sqlx::Error> {
    let rows = sqlx::query("SELECT object_key FROM chat_images WHERE uploader_id = $1")
        .bind(uploader.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter()
        .map(|row| {
            let key: String = row.try_get("object_key")?;
            key.parse().map_err(|()| decode_error("object_key", &key))
        })
        .collect()
}

/// Empties the text of every message a user sent and takes their images off them, deleting
/// the images' rows; the messages themselves stay, so the other side's conversation reads on.
pub async fn erase_sender(conn: &mut crate::db::Connection, sender: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_messages SET body = '', image_id = NULL
         WHERE sender_id = $1 AND (body <> '' OR image_id IS NOT NULL)",
    )
    .bind(sender.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM chat_images WHERE uploader_id = $1")
        .bind(sender.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
