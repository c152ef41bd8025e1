//! The Telegram storefront (seed 000, QuickCart): browse, buy, pay by QRIS or from the balance,
//! and receive the items in the chat. The bot is one more client of the services.
//!
//! - [`api`]: a small Bot API client (flood control honoured bot-wide, retries on 5xx).
//! - [`domain`]: updates, buttons' callback data, keyboards, conversation state.
//! - `service`: updates in, accounts, conversations, limits, and what each message or button
//!   leads to; `shopping`: the buyer's flows; `admin`: the admin commands.
//! - [`delivery`]: the outbox subscriber and durable send queue (items, receipts, expiries),
//!   the QRIS countdowns, and the polling loop.
//! - `state`: conversations (24-hour TTL) and per-user action limits, in the database and in
//!   memory, or in Redis when `REDIS_URL` is set.
//! - [`routes`]: `POST /v1/webhooks/telegram`.

mod admin;
pub mod api;
pub mod delivery;
pub mod domain;
pub mod routes;
mod service;
mod shopping;
mod state;
mod store;

pub use api::{BotApi, BotError};
pub use delivery::Deliveries;
pub use service::{Bot, Shop};
pub use store::MIGRATIONS;
