//! Buyer–seller chat: a buyer writes to a store about the store, one of its products or one
//! of their orders from it, and the store's owner answers. Messages (text up to 2,000
//! characters, optionally an image through the media store) are kept in the database, read
//! over REST with cursors and pushed live over a WebSocket; each side keeps a read marker, so
//! unread counts are counted from the rows. A participant may report a conversation; admins
//! then read it, and each read is an audited event. When a participant deletes their account
//! (`user.deleted`), the text of what they wrote is emptied and their images are deleted; the
//! conversation stays for the other side.
//!
//! Events carry ids only (`chat.message.sent`, `chat.conversation.reported`,
//! `chat.conversation.read_by_admin`): they reach merchants' webhooks, and what people write to
//! each other is theirs.

pub mod domain;
mod hub;
pub mod routes;
mod service;
mod store;
mod ws;

pub use domain::{ChatImage, ChatMessage, Conversation, MessageText, MyConversation, Side, Unread};
pub use service::{Chat, ChatError, NewConversation, NewMessage, Started};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121100,
    name: "chat: conversations with read markers, messages, images",
    sql: "CREATE TABLE chat_conversations (
            id TEXT PRIMARY KEY,
            buyer_id TEXT NOT NULL,
            store_id TEXT NOT NULL,
            store_user_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            product_id TEXT,
            order_id TEXT,
            last_message_id TEXT NOT NULL,
            last_message_at BIGINT NOT NULL,
            buyer_read_id TEXT,
            store_read_id TEXT,
            reported_at BIGINT,
            reported_by TEXT,
            report_reason TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX chat_conversations_subject_key ON chat_conversations (buyer_id, store_id, subject);
          CREATE INDEX chat_conversations_buyer ON chat_conversations (buyer_id, last_message_id);
          CREATE INDEX chat_conversations_store ON chat_conversations (store_user_id, last_message_id);
          CREATE INDEX chat_conversations_reported ON chat_conversations (reported_at, id);

          CREATE TABLE chat_messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES chat_conversations (id),
            sender_id TEXT NOT NULL,
            sender_side TEXT NOT NULL,
            body TEXT NOT NULL,
            image_id TEXT,
            created_at BIGINT NOT NULL,
            CHECK (sender_side IN ('buyer', 'store'))
          );
          CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);

          CREATE TABLE chat_images (
            id TEXT PRIMARY KEY,
            uploader_id TEXT NOT NULL,
            object_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            conversation_id TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX chat_images_key ON chat_images (object_key);",
    postgres: None,
}];
