//! The storefront's conversation: updates in, accounts, conversations, limits, and which
//! message or button leads where (the buyer's flows are in `shopping`, the admin commands in
//! `admin`). The bot is one more client of the services (identity, catalog, inventory,
//! checkout, wallet, orders, payments): it never reads or writes their tables, and what it does
//! in a buyer's name is done as that buyer's account, with the Telegram user as the actor where
//! the bot records it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::api::{BotApi, BotError};
use super::domain::{
    Callback, CallbackQuery, Conversation, Keyboard, Message, TelegramUser, Update, command,
};
use super::state::{ActionLimit, Allowed, Conversations, Redis};
use super::store;
use crate::catalog::{Catalog, CatalogError};
use crate::checkout::{Checkout, CheckoutError};
use crate::config::{Config, TelegramMode};
use crate::db::Db;
use crate::identity::telegram::telegram_actor;
use crate::identity::{Identity, IdentityError, Role, User};
use crate::inventory::Inventory;
use crate::money::{Currency, Money, format_for_display};
use crate::orders::{OrderStatus, Orders};
use crate::payments::Payments;
use crate::time::{Clock, Timestamp};
use crate::wallet::Wallet;

/// The services the bot is a client of.
#[derive(Clone)]
pub struct Shop {
    pub identity: Identity,
    pub catalog: Catalog,
    pub inventory: Inventory,
    pub orders: Orders,
    pub payments: Payments,
    pub checkout: Checkout,
    pub wallet: Wallet,
}

#[derive(Clone)]
pub struct Bot {
    inner: Arc<Inner>,
}

struct Inner {
    api: BotApi,
    db: Db,
    clock: Clock,
    shop: Shop,
    admin_ids: Vec<i64>,
    secret: String,
    mode: TelegramMode,
    countdown: Duration,
    currency: Currency,
    public_url: String,
    conversations: Conversations,
    actions: ActionLimit,
}

/// Where the answer to an update goes: the chat, and the bot's message a button was on (edited
/// in place when it is a text message).
pub(super) struct Reply {
    pub(super) chat_id: i64,
    pub(super) editable: Option<i64>,
}

impl Bot {
    /// The bot, when a token is configured; its conversations and limits in Redis when
    /// `REDIS_URL` is set.
    pub async fn from_config(
        config: &Config,
        public_url: &str,
        shop: Shop,
        db: Db,
        clock: Clock,
    ) -> anyhow::Result<Option<Self>> {
        let Some(token) = config.telegram_bot_token.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let currency = shop.wallet.currency();
        let redis = match config.redis_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => Some(Redis::connect(url, &config.redis_key_prefix).await?),
            None => None,
        };
        let conversations = match &redis {
            Some(redis) => Conversations::Redis(redis.clone()),
            None => Conversations::Database { db: db.clone(), clock: clock.clone() },
        };
        Ok(Some(Self {
            inner: Arc::new(Inner {
                api: BotApi::new(&config.telegram_api_url, token.trim())?,
                db,
                clock,
                shop,
                admin_ids: config.telegram_admin_ids.clone(),
                secret: config.telegram_webhook_secret()?,
                mode: config.telegram_mode(public_url),
                countdown: Duration::from_secs(config.telegram_countdown_secs.max(1)),
                currency,
                public_url: public_url.trim_end_matches('/').to_owned(),
                conversations,
                actions: ActionLimit::new(config.telegram_actions_per_minute, redis),
            }),
        }))
    }

    pub fn api(&self) -> &BotApi {
        &self.inner.api
    }

    pub fn mode(&self) -> TelegramMode {
        self.inner.mode
    }

    pub(super) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub(super) fn shop(&self) -> &Shop {
        &self.inner.shop
    }

    pub(super) fn currency(&self) -> Currency {
        self.inner.currency
    }

    pub(super) fn countdown(&self) -> Duration {
        self.inner.countdown
    }

    /// Whether `presented` is the webhook secret, compared in constant time.
    pub fn secret_matches(&self, presented: &[u8]) -> bool {
        let expected = self.inner.secret.as_bytes();
        let mut differs = expected.len() ^ presented.len();
        for (i, byte) in expected.iter().enumerate() {
            differs |= usize::from(byte ^ presented.get(i).copied().unwrap_or(0));
        }
        differs == 0
    }

    pub fn webhook_secret(&self) -> &str {
        &self.inner.secret
    }

    /// Handles one update once: Telegram's retries of an update already handled are ignored.
    /// An error leaves the update unhandled, so Telegram's retry (or the next poll) tries again.
    pub async fn handle(&self, update: Update) -> anyhow::Result<()> {
        let now = self.inner.clock.now();
        if !store::first_sight(&self.inner.db, update.update_id, now).await? {
            return Ok(());
        }
        let from = update
            .message
            .as_ref()
            .and_then(|m| m.from.as_ref())
            .or(update.callback_query.as_ref().map(|c| &c.from));
        if let Some(from) = from {
            if self.inner.shop.identity.telegram_banned(from.id).await? {
                return self.banned(update.message.as_ref(), update.callback_query.as_ref()).await;
            }
            // Writing to the bot again undoes a block: broadcasts reach them again.
            store::unblock(&self.inner.db, from.id).await?;
        }
        let allowed = match from {
            Some(from) => self.inner.actions.take(from.id).await?,
            None => Allowed::Yes,
        };
        let handled = match allowed {
            Allowed::No { tell } => {
                self.slow_down(update.message.as_ref(), update.callback_query.as_ref(), tell).await
            }
            _ => match (update.message, update.callback_query) {
                (Some(message), _) => self.on_message(message).await,
                (None, Some(callback)) => self.on_callback(callback).await,
                (None, None) => Ok(()),
            },
        };
        if let Err(err) = &handled {
            tracing::warn!(update = update.update_id, error = %err, "a Telegram update was not handled");
            store::forget_update(&self.inner.db, update.update_id).await?;
        }
        handled
    }

    /// Answers an action over the limit: a button's spinner always stops; the user is told once
    /// per minute.
    async fn slow_down(
        &self,
        message: Option<&Message>,
        callback: Option<&CallbackQuery>,
        tell: bool,
    ) -> anyhow::Result<()> {
        const SLOW_DOWN: &str = "You are going a little fast. Please wait a moment and try again.";
        if let Some(callback) = callback {
            self.inner.api.answer_callback_query(&callback.id, Some(SLOW_DOWN), false).await?;
        } else if let (Some(message), true) = (message, tell) {
            self.inner.api.send_message(message.chat.id, SLOW_DOWN, None).await?;
        }
        Ok(())
    }

    /// Answers a banned user: the spinner stops, and nothing is done.
    async fn banned(
        &self,
        message: Option<&Message>,
        callback: Option<&CallbackQuery>,
    ) -> anyhow::Result<()> {
        const BANNED: &str = "You cannot use this shop.";
        if let Some(callback) = callback {
            self.inner.api.answer_callback_query(&callback.id, Some(BANNED), false).await?;
        } else if let Some(message) = message {
            self.inner.api.send_message(message.chat.id, BANNED, None).await?;
        }
        Ok(())
    }

    /// Forgets the limits of users idle for a minute (periodic upkeep).
    pub(super) fn forget_idle_users(&self) {
        self.inner.actions.forget_idle();
    }

    /// Where buyers reach the shop on the web.
    pub(super) fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The Telegram ids to alert: the whitelist and the Telegram users of admin accounts.
    pub(super) async fn admin_chats(&self) -> anyhow::Result<Vec<i64>> {
        let identity = &self.inner.shop.identity;
        let mut chats = self.inner.admin_ids.clone();
        chats.extend(identity.telegram_ids(Some(Role::Admin)).await?);
        chats.extend(identity.telegram_ids(Some(Role::SuperAdmin)).await?);
        chats.sort_unstable();
        chats.dedup();
        Ok(chats)
    }

    // ---- accounts and conversations ---------------------------------------------------------

    async fn account(&self, from: &TelegramUser) -> anyhow::Result<(User, bool)> {
        Ok(self.inner.shop.identity.open_telegram_account(from.id, &from.display_name()).await?)
    }

    async fn conversation(&self, telegram_id: i64) -> anyhow::Result<Conversation> {
        self.inner.conversations.get(telegram_id).await
    }

    pub(super) async fn set_conversation(
        &self,
        telegram_id: i64,
        state: &Conversation,
    ) -> anyhow::Result<()> {
        self.inner.conversations.set(telegram_id, state).await
    }

    pub(super) fn is_whitelisted_admin(&self, telegram_id: i64) -> bool {
        self.inner.admin_ids.contains(&telegram_id)
    }

    // ---- messages -------------------------------------------------------------------------

    async fn on_message(&self, message: Message) -> anyhow::Result<()> {
        let Some(from) = message.from.clone().filter(|f| !f.is_bot) else { return Ok(()) };
        let reply = Reply { chat_id: message.chat.id, editable: None };
        let text = message.text.clone().or_else(|| message.caption.clone()).unwrap_or_default();
        let (user, opened) = self.account(&from).await?;
        let command = command(&text);
        let conversation = self.conversation(from.id).await?;
        // `/skip` answers an `/addproduct` step that may be skipped; any other command (and
        // `/skip` anywhere else) leaves the flow.
        let skipped = matches!(&command, Some((name, _)) if name == "skip") && conversation.is_product_step();
        if let (Some((name, args)), false) = (command, skipped) {
            self.set_conversation(from.id, &Conversation::Idle).await?;
            if self.admin_command(&reply, &message, &user, &name, &args).await? {
                let args = if name == "addstock" { args.lines().next().unwrap_or_default() } else { &args };
                self.audit(from.id, &format!("/{name}"), serde_json::json!({ "args": args })).await?;
                return Ok(());
            }
            return match name.as_str() {
                "start" if !args.is_empty() => self.link(&reply, &from, &args).await,
                "start" => self.welcome(&reply, &user, opened).await,
                "link" => self.link(&reply, &from, &args).await,
                "help" => self.help(&reply, &user, from.id).await,
                "cancel" => {
                    self.say(&reply, "Cancelled. Nothing is waiting for you.", Some(main_menu())).await
                }
                "shop" | "menu" => self.categories(&reply, &user, 0).await,
                "orders" => self.orders(&reply, &user, 0).await,
                "balance" => self.balance(&reply, &user).await,
                _ => self.say(&reply, "Unknown command. Send /help to see what I can do.", None).await,
            };
        }
        match conversation {
            Conversation::DepositAmount => {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                match digits.parse::<i64>() {
                    Ok(amount) if amount > 0 => {
                        self.set_conversation(from.id, &Conversation::Idle).await?;
                        self.deposit(&reply, &user, from.id, amount).await
                    }
                    _ => {
                        self.say(
                            &reply,
                            "Please send the amount as a number, such as 20000, or /cancel.",
                            None,
                        )
                        .await
                    }
                }
            }
            Conversation::AddStock { variant, sku } => {
                if self.admin_principal(from.id, &user).is_none() {
                    self.set_conversation(from.id, &Conversation::Idle).await?;
                    return self
                        .say(&reply, "Use the buttons below, or send /help.", Some(main_menu()))
                        .await;
                }
                let keys = match &message.document {
                    Some(document) => {
                        let bytes = self.api().download(&document.file_id, 1024 * 1024).await?;
                        String::from_utf8_lossy(&bytes).to_string()
                    }
                    None => text.clone(),
                };
                self.set_conversation(from.id, &Conversation::Idle).await?;
                tracing::info!(sku, "keys added from the chat");
                self.add_stock(&reply, variant, &keys, &telegram_actor(from.id)).await
            }
            Conversation::Idle => {
                self.say(&reply, "Use the buttons below, or send /help.", Some(main_menu())).await
            }
            step @ (Conversation::ProductName
            | Conversation::ProductCategory { .. }
            | Conversation::ProductPrice { .. }
            | Conversation::ProductDescription { .. }
            | Conversation::ProductPhoto { .. }) => {
                let Some(admin) = self.admin_principal(from.id, &user) else {
                    self.set_conversation(from.id, &Conversation::Idle).await?;
                    return self
                        .say(&reply, "Use the buttons below, or send /help.", Some(main_menu()))
                        .await;
                };
                let answer = if skipped { "" } else { text.trim() };
                self.product_step(&reply, &admin, from.id, step, answer, &message).await
            }
        }
    }

    /// Records what a Telegram user did through the bot in the outbox (and so in the audit
    /// store), with the Telegram user as the actor: the services record the change itself in
    /// the name of the user's account.
    pub(super) async fn audit(
        &self,
        telegram_id: i64,
        action: &str,
        details: serde_json::Value,
    ) -> anyhow::Result<()> {
        let now = self.inner.clock.now();
        let mut tx = self.inner.db.begin().await?;
        crate::events::record(
            &mut tx,
            now,
            crate::events::NewEvent {
                event_type: "telegram.action",
                version: 1,
                subject_id: telegram_id.to_string(),
                actor: telegram_actor(telegram_id),
                payload: serde_json::json!({ "action": action, "details": details }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn welcome(&self, reply: &Reply, user: &User, opened: bool) -> anyhow::Result<()> {
        let greeting = if opened {
            format!("Welcome, {}! Your account is ready.", user.name)
        } else {
            format!("Welcome back, {}!", user.name)
        };
        let text = format!(
            "{greeting}\nBrowse the shop, pay by QRIS or from your balance, and get your items right here."
        );
        self.say(reply, &text, Some(main_menu())).await
    }

    async fn help(&self, reply: &Reply, user: &User, telegram_id: i64) -> anyhow::Result<()> {
        let mut text = String::from(
            "/start - the main menu\n/shop - browse the products\n/orders - your orders, and your items sent again\n\
             /balance - your balance and a deposit by QRIS\n/link CODE - use your web account here \
             (the code is at POST /v1/me/telegram-link)\n/cancel - leave what you are doing\n/help - this list",
        );
        if self.admin_principal(telegram_id, user).is_some() {
            text.push_str("\n\n");
            text.push_str(super::domain::ADMIN_HELP);
        }
        self.say(reply, &text, Some(main_menu())).await
    }

    async fn link(&self, reply: &Reply, from: &TelegramUser, code: &str) -> anyhow::Result<()> {
        if code.is_empty() {
            return self.say(reply, "Send /link followed by the code from your account page.", None).await;
        }
        match self.inner.shop.identity.link_telegram(from.id, code).await {
            Ok(user) => {
                self.audit(from.id, "link", serde_json::json!({ "user_id": user.id })).await?;
                let text = format!("Linked: you now shop here as {} ({}).", user.name, user.role);
                self.say(reply, &text, Some(main_menu())).await
            }
            Err(err @ (IdentityError::InvalidLinkCode | IdentityError::TelegramTaken)) => {
                self.say(reply, &format!("Not linked: {err}."), None).await
            }
            Err(other) => Err(other.into()),
        }
    }

    // ---- buttons ---------------------------------------------------------------------------

    async fn on_callback(&self, callback: CallbackQuery) -> anyhow::Result<()> {
        let api = &self.inner.api;
        let Some(message) = callback.message.as_ref() else {
            api.answer_callback_query(&callback.id, None, false).await?;
            return Ok(());
        };
        let reply = Reply {
            chat_id: message.chat.id,
            editable: message.text.is_some().then_some(message.message_id),
        };
        let Some(action) = callback.data.as_deref().and_then(Callback::parse) else {
            return self.stale(&callback, &reply).await;
        };
        let (user, _) = self.account(&callback.from).await?;
        let from = callback.from.id;
        // Answered first, so the spinner stops even when what follows takes a while.
        let acknowledgement = match action {
            Callback::Pay { .. } => Some("Placing your order…"),
            _ => None,
        };
        api.answer_callback_query(&callback.id, acknowledgement, false).await?;
        let done = match action {
            Callback::Menu => self.say(&reply, "What would you like to do?", Some(main_menu())).await,
            Callback::Cancel => {
                self.set_conversation(from, &Conversation::Idle).await?;
                self.say(&reply, "Cancelled.", Some(main_menu())).await
            }
            Callback::Categories { page } => self.categories(&reply, &user, page).await,
            Callback::Category { id, page } => self.category(&reply, &user, id, page).await,
            Callback::Product { id } => self.product(&reply, &user, id).await,
            Callback::Variant { id } => self.quantities(&reply, &user, id).await,
            Callback::Quantity { variant, quantity } => self.confirm(&reply, &user, variant, quantity).await,
            Callback::Pay { variant, quantity, with, .. } => {
                let key = format!("tg:{}:{}:{}", message.chat.id, message.message_id, action.encode());
                self.pay(&reply, &user, from, variant, quantity, with, &key).await
            }
            Callback::Orders { page } => self.orders(&reply, &user, page).await,
            Callback::KeysAgain { order } => self.keys_again(&reply, &user, order, &callback.id).await,
            Callback::Balance => self.balance(&reply, &user).await,
            Callback::Deposit { amount } => self.deposit(&reply, &user, from, amount).await,
            Callback::DepositCustom => {
                self.set_conversation(from, &Conversation::DepositAmount).await?;
                self.say(&reply, "How much would you like to deposit? Send the amount, such as 20000.", None)
                    .await
            }
        };
        match done {
            Err(err) if is_gone(&err) => {
                self.say(&reply, "That is no longer available. Here is the menu again.", Some(main_menu()))
                    .await
            }
            other => other,
        }
    }

    /// A button this bot does not understand (an old message's): answered kindly.
    async fn stale(&self, callback: &CallbackQuery, reply: &Reply) -> anyhow::Result<()> {
        self.inner
            .api
            .answer_callback_query(
                &callback.id,
                Some("That button is out of date; here is the menu again."),
                false,
            )
            .await?;
        let fresh = Reply { chat_id: reply.chat_id, editable: None };
        self.say(&fresh, "What would you like to do?", Some(main_menu())).await
    }

    /// Answers with text: edits the button's message when it is a text message, else sends.
    pub(super) async fn say(&self, reply: &Reply, text: &str, markup: Option<Value>) -> anyhow::Result<()> {
        let api = &self.inner.api;
        if let Some(message_id) = reply.editable {
            match api.edit_message_text(reply.chat_id, message_id, text, markup.clone()).await {
                Ok(()) => return Ok(()),
                // A message too old to edit, or deleted: say it anew.
                Err(BotError::Refused { code: 400, .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        api.send_message(reply.chat_id, text, markup).await?;
        Ok(())
    }
}

/// The main menu's buttons.
pub fn main_menu() -> Value {
    Keyboard::new()
        .row(vec![
            ("🛍 Shop".into(), Callback::Categories { page: 0 }),
            ("📦 My orders".into(), Callback::Orders { page: 0 }),
        ])
        .button("💰 Balance", Callback::Balance)
        .markup()
}

pub(super) fn pager(
    before: bool,
    after: bool,
    to: impl Fn(u32) -> Callback,
    page: u32,
) -> Vec<(String, Callback)> {
    let mut buttons = Vec::new();
    if before {
        buttons.push(("‹ Previous".to_owned(), to(page - 1)));
    }
    if after {
        buttons.push(("Next ›".to_owned(), to(page + 1)));
    }
    buttons
}

pub(super) fn price_for(price: Money, reseller_price: Option<Money>, role: Role) -> Money {
    match (role, reseller_price) {
        (Role::Reseller, Some(reseller)) => reseller,
        _ => price,
    }
}

/// Money as buyers read it (`Rp 15.000`), with plain spaces.
pub fn rp(money: Money) -> String {
    format_for_display(money).replace('\u{a0}', " ")
}

/// The end of an id: enough to tell a buyer's orders apart in a chat.
pub fn short(id: &str) -> String {
    let start = id.len().saturating_sub(8);
    format!("#{}", &id[start..]).to_uppercase()
}

pub(super) fn lines_text(order: &crate::orders::Order) -> String {
    order.lines.iter().map(|l| format!("{} × {}", l.quantity, l.product_name)).collect::<Vec<_>>().join("\n")
}

pub(super) fn status_text(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::PendingPayment => "waiting for payment",
        OrderStatus::Paid | OrderStatus::Processing => "paid",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Delivered | OrderStatus::Completed => "delivered",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Expired => "expired",
        OrderStatus::PartiallyRefunded => "partly refunded",
        OrderStatus::Refunded => "refunded",
    }
}

/// A QRIS message's caption: what is paid, and the minutes left to pay it.
pub fn countdown_caption(summary: &str, expires_at: Timestamp, now: Timestamp) -> String {
    let left = expires_at.millis().saturating_sub(now.millis()).max(0);
    let minutes = (left + 59_999) / 60_000;
    format!("{summary}\n\nScan to pay with any QRIS app. ⏳ {minutes} min left to pay.")
}

/// Whether an error means the thing a button named is gone (a stale button).
fn is_gone(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<CatalogError>(),
        Some(CatalogError::ProductNotFound | CatalogError::VariantNotFound | CatalogError::CategoryNotFound)
    ) || matches!(
        err.downcast_ref::<crate::orders::OrdersError>(),
        Some(crate::orders::OrdersError::NotFound)
    ) || matches!(
        err.downcast_ref::<CheckoutError>(),
        Some(CheckoutError::NotForSale(_) | CheckoutError::Catalog(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_rounds_minutes_up_and_stops_at_zero() {
        let now = Timestamp::from_millis(1_000_000);
        assert!(countdown_caption("x", now.plus(Duration::from_secs(600)), now).contains("10 min left"));
        assert!(countdown_caption("x", now.plus(Duration::from_secs(61)), now).contains("2 min left"));
        assert!(countdown_caption("x", now.minus(Duration::from_secs(5)), now).contains("0 min left"));
    }

    #[test]
    fn a_short_order_number_is_the_ids_end() {
        assert_eq!(short("ord_0190aabbccddeeff0011223344556677"), "#44556677");
    }
}
