//! Notifications: telling people what happened, by email, Telegram, SMS and in the app.
//!
//! - [`domain`]: the table of which event tells whom through which channels ([`domain::RULES`]),
//!   categories and preferences, the retry schedule, the signed unsubscribe token.
//! - [`templates`]: the messages, in Indonesian, English and Japanese, embedded in the binary.
//! - `channels`: the providers (SMTP, SendGrid, `.eml` files, Twilio).
//! - `service`: the outbox subscriber that turns each event into deliveries (once per event,
//!   person, channel and template, in one transaction), the sender loop (claims per delivery,
//!   so each is sent by one instance; retries with backoff; dead letters; providers' rate
//!   limits), the inbox, preferences and the admins' view.
//! - [`routes`]: `/v1/notifications…`, `/v1/me/notification-preferences`,
//!   `/v1/admin/notifications…`.

mod channels;
pub mod domain;
pub mod routes;
mod service;
mod store;
pub mod templates;

pub use channels::SendError;
pub use domain::{Category, Channel, Status};
pub use service::{Notifications, NotificationsError, Sources, language_of, phone_of};
pub use store::Notification;

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121050,
    name: "notifications: deliveries and preferences",
    sql: "CREATE TABLE notifications (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            template TEXT NOT NULL,
            category TEXT NOT NULL,
            address TEXT,
            subject TEXT NOT NULL,
            body_text TEXT NOT NULL,
            body_html TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            claimed_until BIGINT,
            last_error TEXT,
            read_at BIGINT,
            created_at BIGINT NOT NULL,
            sent_at BIGINT
          );
          CREATE UNIQUE INDEX notifications_once ON notifications (event_id, user_id, channel, template);
          CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
          CREATE INDEX notifications_inbox ON notifications (user_id, channel, id);

          CREATE TABLE notification_preferences (
            user_id TEXT NOT NULL,
            category TEXT NOT NULL,
            enabled BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (user_id, category)
          );",
    postgres: None,
}];
