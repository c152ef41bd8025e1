//! The storefront's conversation: what the bot answers to each message and button. The bot is
//! one more client of the services (identity, catalog, inventory, checkout, wallet, orders,
//! payments): it never reads or writes their tables, and what it does in a buyer's name is
//! done as that buyer's account, with the Telegram user as the actor where the bot records it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::{BotApi, BotError};
use super::domain::{
    Callback, CallbackQuery, Conversation, Keyboard, MOST_QUANTITY, Message, PayWith, TelegramUser, Update,
    command, page_of,
};
use super::store::{self, PaymentMessage};
use crate::catalog::{Catalog, CatalogError, ProductFilter, ProductKind, ProductStatus};
use crate::checkout::{Checkout, CheckoutError, CheckoutRequest, ItemRequest};
use crate::config::{Config, TelegramMode};
use crate::db::Db;
use crate::identity::telegram::telegram_actor;
use crate::identity::{Identity, IdentityError, Role, User};
use crate::ids::{CategoryId, OrderId, ProductId, VariantId};
use crate::inventory::Inventory;
use crate::money::{Currency, Money, format_for_display};
use crate::orders::{OrderFilter, OrderStatus, Orders};
use crate::payments::{Payment, Payments, PaymentsError};
use crate::time::{Clock, Timestamp};
use crate::wallet::{Wallet, WalletError};

/// How long a conversation's state lasts without activity (seed 000: sessions with a TTL).
pub const CONVERSATION_TTL: Duration = Duration::from_secs(24 * 3600);
/// The amounts offered for a deposit, in rupiah.
const DEPOSIT_AMOUNTS: [i64; 4] = [10_000, 25_000, 50_000, 100_000];

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
    actions_per_minute: u32,
    /// Each user's actions in the current minute: (window start, count, told to slow down).
    actions: dashmap::DashMap<i64, (std::time::Instant, u32, bool)>,
}

/// Where the answer to an update goes: the chat, and the bot's message a button was on (edited
/// in place when it is a text message).
pub(super) struct Reply {
    pub(super) chat_id: i64,
    pub(super) editable: Option<i64>,
}

impl Bot {
    /// The bot, when a token is configured.
    pub fn from_config(
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
                actions_per_minute: config.telegram_actions_per_minute,
                actions: dashmap::DashMap::new(),
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
        let handled = match from.map(|f| self.take_action(f.id)) {
            Some(Allowed::No { tell }) => {
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

    /// Counts an action of a user against their limit per minute.
    fn take_action(&self, telegram_id: i64) -> Allowed {
        let limit = self.inner.actions_per_minute;
        if limit == 0 {
            return Allowed::Yes;
        }
        let now = std::time::Instant::now();
        let mut entry = self.inner.actions.entry(telegram_id).or_insert((now, 0, false));
        let (start, count, told) = &mut *entry;
        if now.duration_since(*start) >= Duration::from_secs(60) {
            (*start, *count, *told) = (now, 0, false);
        }
        *count += 1;
        if *count <= limit {
            return Allowed::Yes;
        }
        let tell = !*told;
        *told = true;
        Allowed::No { tell }
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
        self.inner.actions.retain(|_, (start, _, _)| start.elapsed() < Duration::from_secs(60));
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
        let now = self.inner.clock.now();
        Ok(match store::conversation(self.inner.db.reader(), telegram_id).await? {
            Some((state, at)) if now.duration_since(at) < CONVERSATION_TTL => {
                serde_json::from_str(&state).unwrap_or_default()
            }
            _ => Conversation::Idle,
        })
    }

    pub(super) async fn set_conversation(
        &self,
        telegram_id: i64,
        state: &Conversation,
    ) -> anyhow::Result<()> {
        let text = serde_json::to_string(state)?;
        store::set_conversation(&self.inner.db, telegram_id, &text, self.inner.clock.now()).await?;
        Ok(())
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
        if let Some((name, args)) = command(&text) {
            self.set_conversation(from.id, &Conversation::Idle).await?;
            if self.admin_command(&reply, &message, &user, &name, &args).await? {
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
        match self.conversation(from.id).await? {
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
        }
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
            text.push_str(super::admin::ADMIN_HELP);
        }
        self.say(reply, &text, Some(main_menu())).await
    }

    async fn link(&self, reply: &Reply, from: &TelegramUser, code: &str) -> anyhow::Result<()> {
        if code.is_empty() {
            return self.say(reply, "Send /link followed by the code from your account page.", None).await;
        }
        match self.inner.shop.identity.link_telegram(from.id, code).await {
            Ok(user) => {
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

    // ---- browsing --------------------------------------------------------------------------

    async fn categories(&self, reply: &Reply, _user: &User, page: u32) -> anyhow::Result<()> {
        let mut categories = self.inner.shop.catalog.categories().await?;
        categories.sort_by(|a, b| a.name.cmp(&b.name));
        let (shown, before, after) = page_of(&categories, page);
        if categories.is_empty() {
            return self.say(reply, "The shop has nothing on sale yet.", Some(main_menu())).await;
        }
        let mut keyboard = Keyboard::new();
        for category in shown {
            keyboard =
                keyboard.button(category.name.clone(), Callback::Category { id: category.id, page: 0 });
        }
        keyboard = keyboard.row(pager(before, after, |p| Callback::Categories { page: p }, page));
        let keyboard = keyboard.button("« Menu", Callback::Menu);
        self.say(reply, "Choose a category:", Some(keyboard.markup())).await
    }

    async fn category(&self, reply: &Reply, user: &User, id: CategoryId, page: u32) -> anyhow::Result<()> {
        let filter = ProductFilter {
            status: Some(ProductStatus::Active),
            category: Some(id),
            ..ProductFilter::default()
        };
        let (products, _) = self.inner.shop.catalog.list_products(&filter, 200).await?;
        let products: Vec<_> = products.into_iter().filter(|p| p.kind == ProductKind::Digital).collect();
        if products.is_empty() {
            let keyboard = Keyboard::new().button("« Categories", Callback::Categories { page: 0 });
            return self.say(reply, "Nothing on sale in this category now.", Some(keyboard.markup())).await;
        }
        let (shown, before, after) = page_of(&products, page);
        let mut keyboard = Keyboard::new();
        for product in shown {
            let from = product
                .variants
                .iter()
                .map(|v| price_for(v.price, v.reseller_price, user.role))
                .min_by_key(|price| price.amount);
            let label = match from {
                Some(price) => format!("{} · {}", product.name, rp(price)),
                None => product.name.clone(),
            };
            keyboard = keyboard.button(label, Callback::Product { id: product.id });
        }
        keyboard = keyboard.row(pager(before, after, |p| Callback::Category { id, page: p }, page));
        let keyboard = keyboard.button("« Categories", Callback::Categories { page: 0 });
        self.say(reply, "Choose a product:", Some(keyboard.markup())).await
    }

    async fn product(&self, reply: &Reply, user: &User, id: ProductId) -> anyhow::Result<()> {
        let product = self.inner.shop.catalog.product_for_shoppers(&id.to_string()).await?;
        if product.kind != ProductKind::Digital {
            return Err(CatalogError::ProductNotFound.into());
        }
        let ids: Vec<VariantId> = product.variants.iter().map(|v| v.id).collect();
        let levels = self.inner.shop.inventory.levels(&ids).await?;
        let mut text = format!("{}\n\n{}\n", product.name, product.description);
        let mut keyboard = Keyboard::new();
        for variant in &product.variants {
            let price = price_for(variant.price, variant.reseller_price, user.role);
            let left = levels.get(&variant.id).map_or(0, |l| l.available);
            let options = variant.options.values().cloned().collect::<Vec<_>>().join(" / ");
            let name = if options.is_empty() { variant.sku.clone() } else { options };
            text.push_str(&format!("\n• {name}: {} — {left} left", rp(price)));
            if left > 0 {
                keyboard = keyboard
                    .button(format!("Buy {name} · {}", rp(price)), Callback::Variant { id: variant.id });
            }
        }
        if user.role == Role::Reseller && product.variants.iter().any(|v| v.reseller_price.is_some()) {
            text.push_str("\n\nReseller prices shown.");
        }
        if levels.values().all(|l| l.available <= 0) {
            text.push_str("\n\nSold out for now.");
        }
        let keyboard = keyboard.button("« Back", Callback::Category { id: product.category_id, page: 0 });
        self.say(reply, &text, Some(keyboard.markup())).await
    }

    async fn quantities(&self, reply: &Reply, user: &User, variant: VariantId) -> anyhow::Result<()> {
        let (product_name, price, left) = self.variant_for(user, variant).await?;
        if left <= 0 {
            return self.say(reply, "Sorry, this one just sold out.", Some(main_menu())).await;
        }
        let choices: Vec<(String, Callback)> = [1u32, 2, 3, 5, 10]
            .into_iter()
            .filter(|q| i64::from(*q) <= left && *q <= MOST_QUANTITY)
            .map(|q| (q.to_string(), Callback::Quantity { variant, quantity: q }))
            .collect();
        let text = format!("{product_name}\n{} each, {left} left.\nHow many?", rp(price));
        let keyboard = Keyboard::new().row(choices).button("Cancel", Callback::Cancel);
        self.say(reply, &text, Some(keyboard.markup())).await
    }

    /// The product name, this member's price and the stock left of a variant on sale.
    async fn variant_for(&self, user: &User, variant: VariantId) -> anyhow::Result<(String, Money, i64)> {
        let shop = &self.inner.shop;
        let sale = shop.catalog.variants_for_sale(&[variant]).await?;
        let sale = sale.into_iter().next().ok_or(CatalogError::VariantNotFound)?;
        if sale.kind != ProductKind::Digital {
            return Err(CatalogError::VariantNotFound.into());
        }
        let left = shop.inventory.level(variant).await?.available;
        Ok((sale.product_name.clone(), sale.price_for(user.role), left))
    }

    /// The gateway method QRIS is paid through: Pakasir's `qris` when configured, else the
    /// sandbox (whose pay page the QR code then opens).
    fn qris_method(&self) -> Option<&'static str> {
        let payments = &self.inner.shop.payments;
        ["qris", "sandbox"].into_iter().find(|m| payments.provider_for(m, self.inner.currency).is_ok())
    }

    async fn confirm(
        &self,
        reply: &Reply,
        user: &User,
        variant: VariantId,
        quantity: u32,
    ) -> anyhow::Result<()> {
        let (product_name, price, left) = self.variant_for(user, variant).await?;
        if i64::from(quantity) > left {
            let text = format!("Only {left} left of {product_name}. Choose a smaller quantity.");
            let keyboard = Keyboard::new().button("Choose again", Callback::Variant { id: variant });
            return self.say(reply, &text, Some(keyboard.markup())).await;
        }
        let subtotal = Money::new(price.amount * i64::from(quantity), price.currency);
        let balance = self.inner.shop.wallet.summary(user.id).await?.balance;
        let mut text = format!("{product_name}\n{quantity} × {} = {}\n", rp(price), rp(subtotal));
        let mut keyboard = Keyboard::new();
        let nonce = rand::random::<u32>();
        if let Some(method) = self.qris_method() {
            let fee = self.inner.shop.payments.fee(method, subtotal)?;
            let total = subtotal.checked_add(fee)?;
            text.push_str(&format!("\nBy QRIS: fee {}, total {}", rp(fee), rp(total)));
            keyboard = keyboard.button(
                format!("Pay {} by QRIS", rp(total)),
                Callback::Pay { variant, quantity, with: PayWith::Qris, nonce },
            );
        }
        text.push_str(&format!("\nFrom your balance ({}): no fee, total {}", rp(balance), rp(subtotal)));
        let keyboard = keyboard
            .button(
                format!("Pay {} from balance", rp(subtotal)),
                Callback::Pay { variant, quantity, with: PayWith::Balance, nonce },
            )
            .button("Cancel", Callback::Cancel);
        self.say(reply, &text, Some(keyboard.markup())).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn pay(
        &self,
        reply: &Reply,
        user: &User,
        telegram_id: i64,
        variant: VariantId,
        quantity: u32,
        with: PayWith,
        idempotency_key: &str,
    ) -> anyhow::Result<()> {
        let shop = &self.inner.shop;
        let method = match with {
            PayWith::Balance => crate::payments::WALLET,
            PayWith::Qris => match self.qris_method() {
                Some(method) => method,
                None => return self.say(reply, "QRIS is not available; pay from your balance.", None).await,
            },
        };
        let request = CheckoutRequest {
            items: Some(vec![ItemRequest { variant_id: variant, quantity: i64::from(quantity) }]),
            cart_id: None,
            payment_method: method.to_owned(),
            shipping_address: None,
            points: None,
        };
        let buyer = Identity::telegram_principal(user);
        let placed = match shop.checkout.place(&buyer, request, Some(idempotency_key)).await {
            Ok(placed) => placed,
            Err(CheckoutError::InsufficientBalance) => {
                let balance = shop.wallet.summary(user.id).await?.balance;
                let text = format!(
                    "Your balance ({}) does not cover this order. Top up your balance, or pay by QRIS.",
                    rp(balance)
                );
                let keyboard = Keyboard::new()
                    .button("Top up balance", Callback::Balance)
                    .button("Pay by QRIS instead", Callback::Quantity { variant, quantity });
                return self.say(reply, &text, Some(keyboard.markup())).await;
            }
            Err(CheckoutError::OutOfStock(_)) => {
                let text = "Sorry, there is not enough stock left for that quantity.";
                let keyboard = Keyboard::new().button("Choose again", Callback::Variant { id: variant });
                return self.say(reply, text, Some(keyboard.markup())).await;
            }
            Err(
                CheckoutError::GatewayUnavailable
                | CheckoutError::Payments(PaymentsError::ProviderDown { .. }),
            ) => {
                let text = "QRIS payments are not available right now. You can still pay from your balance, \
                            or try QRIS again in a few minutes.";
                let keyboard = Keyboard::new()
                    .button(
                        "Pay from balance",
                        Callback::Pay { variant, quantity, with: PayWith::Balance, nonce: rand::random() },
                    )
                    .button("Cancel", Callback::Cancel);
                return self.say(reply, text, Some(keyboard.markup())).await;
            }
            Err(other) => return Err(other.into()),
        };
        let order = &placed.order;
        let summary = format!("Order {}\n{}", short(&order.id.to_string()), lines_text(order));
        if with == PayWith::Balance {
            let text =
                format!("{summary}\nPaid {} from your balance. Your items follow.", rp(placed.payment.total));
            return self.say(reply, &text, None).await;
        }
        if placed.payment.status != crate::payments::PaymentStatus::Pending {
            // A press of a button whose payment could not be started before.
            let text = "That payment did not go through. Please choose again.";
            let keyboard = Keyboard::new().button("Choose again", Callback::Quantity { variant, quantity });
            return self.say(reply, text, Some(keyboard.markup())).await;
        }
        if store::payment_message(self.inner.db.reader(), &placed.payment.id.to_string()).await?.is_some() {
            // The same button pressed twice: the order and its QR code are already there.
            return Ok(());
        }
        self.send_qr(reply, telegram_id, &placed.payment, &summary).await
    }

    /// Sends a payment's QR code with what it is for, and keeps the message to edit later.
    async fn send_qr(
        &self,
        reply: &Reply,
        telegram_id: i64,
        payment: &Payment,
        summary: &str,
    ) -> anyhow::Result<()> {
        let Some(text) = payment.payment_number.clone().or_else(|| payment.checkout_url.clone()) else {
            anyhow::bail!("payment {} has neither a QRIS string nor a pay page", payment.id);
        };
        let png = crate::payments::qr::png(&text)?;
        let summary = format!(
            "{summary}\nAmount {}\nFee {}\nTotal to pay {}",
            rp(payment.amount),
            rp(payment.fee),
            rp(payment.total)
        );
        let now = self.inner.clock.now();
        let caption = countdown_caption(&summary, payment.expires_at, now);
        let sent = self.inner.api.send_photo(reply.chat_id, png, &caption, None).await?;
        let message = PaymentMessage {
            payment_id: payment.id.to_string(),
            telegram_id,
            chat_id: reply.chat_id,
            message_id: sent.message_id,
            summary,
            expires_at: payment.expires_at,
            state: "pending".into(),
        };
        store::insert_payment_message(&self.inner.db, &message, now).await?;
        Ok(())
    }

    // ---- orders and balance -----------------------------------------------------------------

    async fn orders(&self, reply: &Reply, user: &User, page: u32) -> anyhow::Result<()> {
        let filter = OrderFilter { buyer: Some(user.id), ..OrderFilter::default() };
        let (orders, _) = self.inner.shop.orders.list(&filter, 60).await?;
        if orders.is_empty() {
            return self.say(reply, "You have no orders yet.", Some(main_menu())).await;
        }
        let (shown, before, after) = page_of(&orders, page);
        let mut text = String::from("Your orders:\n");
        let mut keyboard = Keyboard::new();
        for order in shown {
            text.push_str(&format!(
                "\n{} · {} · {}\n{}",
                short(&order.id.to_string()),
                status_text(order.status),
                rp(order.total),
                lines_text(order)
            ));
            if matches!(order.status, OrderStatus::Delivered | OrderStatus::Completed)
                && order.is_digital_only()
            {
                keyboard = keyboard.button(
                    format!("Send my items again ({})", short(&order.id.to_string())),
                    Callback::KeysAgain { order: order.id },
                );
            }
        }
        let keyboard = keyboard
            .row(pager(before, after, |p| Callback::Orders { page: p }, page))
            .button("« Menu", Callback::Menu);
        self.say(reply, &text, Some(keyboard.markup())).await
    }

    async fn keys_again(
        &self,
        reply: &Reply,
        user: &User,
        order_id: OrderId,
        request: &str,
    ) -> anyhow::Result<()> {
        let order = self.inner.shop.orders.order(order_id).await?;
        if order.buyer_id != user.id {
            return Err(CatalogError::ProductNotFound.into());
        }
        let now = self.inner.clock.now();
        for line in &order.lines {
            let body = json!({"kind": "items", "order_id": order.id, "line_id": line.id, "again": true});
            store::enqueue(
                &self.inner.db,
                &format!("again:{}:{request}", line.id),
                reply.chat_id,
                &body,
                now,
            )
            .await?;
        }
        Ok(())
    }

    async fn balance(&self, reply: &Reply, user: &User) -> anyhow::Result<()> {
        let wallet = &self.inner.shop.wallet;
        let summary = wallet.summary(user.id).await?;
        let mut text = format!("Your balance: {}", rp(summary.balance));
        if summary.pending.amount > 0 {
            text.push_str(&format!("\nHeld for withdrawals: {}", rp(summary.pending)));
        }
        let (history, _) = wallet.history(user.id, false, None, 5).await?;
        if !history.is_empty() {
            text.push_str("\n\nLatest:");
            for entry in history {
                let amount = entry.amount.map(rp).unwrap_or_default();
                let day = entry.created_at.to_rfc3339().chars().take(10).collect::<String>();
                text.push_str(&format!("\n{day} {} {amount}", entry.kind.replace('_', " ")));
            }
        }
        let mut keyboard = Keyboard::new();
        if self.qris_method().is_some() {
            text.push_str("\n\nTop up by QRIS:");
            let amounts: Vec<(String, Callback)> = DEPOSIT_AMOUNTS
                .iter()
                .map(|a| (rp(Money::new(*a, self.inner.currency)), Callback::Deposit { amount: *a }))
                .collect();
            let (first, second) = amounts.split_at(2);
            keyboard = keyboard
                .row(first.to_vec())
                .row(second.to_vec())
                .button("Another amount", Callback::DepositCustom);
        }
        let keyboard = keyboard.button("« Menu", Callback::Menu);
        self.say(reply, &text, Some(keyboard.markup())).await
    }

    async fn deposit(&self, reply: &Reply, user: &User, telegram_id: i64, amount: i64) -> anyhow::Result<()> {
        let Some(method) = self.qris_method() else {
            return self.say(reply, "Deposits by QRIS are not available.", None).await;
        };
        let amount = Money::new(amount, self.inner.currency);
        let payment = match self.inner.shop.wallet.deposit(user.id, amount, method).await {
            Ok(payment) => payment,
            Err(WalletError::Invalid(why)) => {
                return self.say(reply, &format!("Not possible: {why}."), None).await;
            }
            Err(
                WalletError::GatewayUnavailable | WalletError::Payments(PaymentsError::ProviderDown { .. }),
            ) => {
                return self
                    .say(
                        reply,
                        "QRIS payments are not available right now; please try again in a few minutes.",
                        None,
                    )
                    .await;
            }
            Err(other) => return Err(other.into()),
        };
        let fresh = Reply { chat_id: reply.chat_id, editable: None };
        self.send_qr(&fresh, telegram_id, &payment, "Deposit to your balance").await
    }
}

enum Allowed {
    Yes,
    No { tell: bool },
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

fn pager(before: bool, after: bool, to: impl Fn(u32) -> Callback, page: u32) -> Vec<(String, Callback)> {
    let mut buttons = Vec::new();
    if before {
        buttons.push(("‹ Previous".to_owned(), to(page - 1)));
    }
    if after {
        buttons.push(("Next ›".to_owned(), to(page + 1)));
    }
    buttons
}

fn price_for(price: Money, reseller_price: Option<Money>, role: Role) -> Money {
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

fn lines_text(order: &crate::orders::Order) -> String {
    order.lines.iter().map(|l| format!("{} × {}", l.quantity, l.product_name)).collect::<Vec<_>>().join("\n")
}

fn status_text(status: OrderStatus) -> &'static str {
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
