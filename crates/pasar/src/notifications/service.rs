//! Notifications' use cases: events in (the outbox subscriber), deliveries out (the sender
//! loop), and what people and admins do with them (inbox, preferences, unsubscribe, resend).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::channels::{Mailer, SendError, Twilio};
use super::domain::{self, Category, Channel, MOST_ATTEMPTS, Recipient, Rule, Status, UnsubscribeToken};
use super::store::{self, Notification};
use super::templates::{Rendered, Templates};
use crate::catalog::Catalog;
use crate::chat::Chat;
use crate::config::Config;
use crate::db::Db;
use crate::events::{Delivery, Event, Subscriber};
use crate::identity::{AccountTokenPurpose, Identity, IdentityError, Role, User, UserFilter};
use crate::ids::{NotificationId, OrderId, ProductId, UserId, VariantId};
use crate::locale::Locale;
use crate::money::Money;
use crate::orders::{Order, Orders};
use crate::payments::{PaymentStatus, Payments};
use crate::push::{Push, PushError, PushMessage};
use crate::telegram::Bot;
use crate::time::{Clock, Timestamp};

/// Deliveries sent per round of the sender.
const ROUND: i64 = 20;
/// How long a sender holds a delivery it is sending (longer than a provider's timeout).
const CLAIM: Duration = Duration::from_secs(60);
/// An SMS carries at most this many characters of the message.
const SMS_MAX_CHARS: usize = 480;
/// What a push notification shows under its title; the rest is in the inbox.
const PUSH_BODY_CHARS: usize = 240;

#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    #[error("no such notification")]
    NotFound,
    #[error("{0} notifications are transactional and cannot be turned off")]
    Transactional(&'static str),
    #[error("the unsubscribe link is not valid")]
    InvalidToken,
    #[error("only a sent or dead notification on a sending channel can be sent again")]
    NotResendable,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The language a person reads: the one they chose in their profile (the shop's default
/// until they do).
pub fn language_of(user: &User) -> Locale {
    user.language
}

/// A person's phone number for SMS, from their profile.
pub fn phone_of(user: &User) -> Option<String> {
    user.phone.clone()
}

/// The services notifications read from to say what happened.
#[derive(Clone)]
pub struct Sources {
    pub identity: Identity,
    pub orders: Orders,
    pub payments: Payments,
    pub catalog: Catalog,
    pub telegram: Option<Bot>,
    pub push: Push,
    pub chat: Chat,
}

#[derive(Clone)]
pub struct Notifications {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    sources: Sources,
    templates: Templates,
    mailer: Mailer,
    twilio: Option<Twilio>,
    email_from: String,
    public_url: String,
    unsubscribe_key: Vec<u8>,
    /// Channels a provider asked to slow down, until when.
    paused: Mutex<HashMap<Channel, Timestamp>>,
}

impl Notifications {
    pub fn new(
        db: Db,
        clock: Clock,
        config: &Config,
        public_url: &str,
        sources: Sources,
    ) -> anyhow::Result<Self> {
        let mailer = Mailer::from_config(config)?;
        let twilio = Twilio::from_config(config)?;
        tracing::info!(email = %mailer.describe(), sms = twilio.is_some(), "notification channels");
        let mut key = Sha256::new();
        key.update(b"pasar notifications: unsubscribe links\0");
        key.update(config.jwt_secret()?);
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                clock,
                sources,
                templates: Templates::new(),
                mailer,
                twilio,
                email_from: config.email_from.clone(),
                public_url: public_url.trim_end_matches('/').to_owned(),
                unsubscribe_key: key.finalize().to_vec(),
                paused: Mutex::default(),
            }),
        })
    }

    /// Where emails are written when no provider is configured (for `pasar demo` to show).
    pub fn mail_dir(&self) -> Option<&std::path::Path> {
        self.inner.mailer.mail_dir()
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }
}

// ---- events in ------------------------------------------------------------------------------

impl Subscriber for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(self.on_event(event))
    }
}

impl Notifications {
    /// Turns an event into its deliveries, all written in one transaction. An event handed
    /// again finds them there and adds nothing (the rows are also unique on event, person,
    /// channel and template, for two instances handling it at once).
    async fn on_event(&self, event: &Event) -> anyhow::Result<()> {
        let rules: Vec<&Rule> = domain::rules_for(&event.event_type).collect();
        if rules.is_empty() || store::event_seen(self.inner.db.reader(), event.id).await? {
            return Ok(());
        }
        let now = self.now();
        let mut rows = Vec::new();
        for rule in rules {
            for recipient in self.recipients(rule.recipient, event).await? {
                // A person gone since (an account erased) is told nothing; the event goes on.
                let user = match self.inner.sources.identity.user(recipient).await {
                    Err(IdentityError::UserNotFound) => continue,
                    found => found?,
                };
                if !rule.category.is_transactional()
                    && store::turned_off(self.inner.db.reader(), user.id).await?.contains(&rule.category)
                {
                    continue;
                }
                let locale = language_of(&user);
                let Some((context, address)) = self.context(rule, event, &user, locale).await? else {
                    continue;
                };
                let rendered = self.inner.templates.render(rule.template, locale, &context)?;
                for channel in std::iter::once(Channel::InApp).chain(rule.channels.iter().copied()) {
                    if !self.reaches(channel, &user).await? {
                        continue;
                    }
                    let in_app = channel == Channel::InApp;
                    rows.push(Notification {
                        id: NotificationId::new(),
                        event_id: event.id,
                        event_type: event.event_type.clone(),
                        user_id: user.id,
                        channel,
                        template: rule.template.to_owned(),
                        category: rule.category,
                        address: if channel == Channel::Email { address.clone() } else { None },
                        subject: rendered.subject.clone(),
                        body_text: rendered.text.clone(),
                        body_html: if channel == Channel::Email {
                            rendered.html.clone()
                        } else {
                            String::new()
                        },
                        status: if in_app { Status::Sent } else { Status::Pending },
                        attempts: 0,
                        next_attempt_at: now,
                        last_error: None,
                        read_at: None,
                        created_at: now,
                        sent_at: in_app.then_some(now),
                    });
                }
            }
        }
        let mut tx = self.inner.db.begin().await?;
        for row in &rows {
            store::insert(&mut tx, row).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether `channel` can reach `user` at all: in-app always, email to a real address (it
    /// falls back to files when no provider is configured), Telegram when the bot runs and they linked a chat, SMS when Twilio is configured
    /// and they have a phone.
    async fn reaches(&self, channel: Channel, user: &User) -> anyhow::Result<bool> {
        Ok(match channel {
            Channel::InApp => true,
            // Accounts opened in Telegram have a placeholder under the reserved `.invalid`
            // domain, which no mail server delivers to.
            Channel::Email => !user.email.ends_with(".invalid"),
            Channel::Telegram => {
                self.inner.sources.telegram.is_some()
                    && self.inner.sources.identity.telegram_id_of(user.id).await?.is_some()
            }
            Channel::Sms => self.inner.twilio.is_some() && phone_of(user).is_some(),
            Channel::Push => {
                self.inner.sources.push.is_configured()
                    && !self.inner.sources.push.subscriptions(user.id).await?.is_empty()
            }
        })
    }

    async fn recipients(&self, rule: Recipient, event: &Event) -> anyhow::Result<Vec<UserId>> {
        let payload = &event.payload;
        let user_at = |pointer: &str| -> anyhow::Result<Vec<UserId>> {
            let id = payload.pointer(pointer).and_then(Value::as_str).and_then(|s| s.parse().ok());
            id.map(|id| vec![id])
                .ok_or_else(|| anyhow::anyhow!("{} {} has no user at {pointer}", event.event_type, event.id))
        };
        match rule {
            Recipient::Buyer => user_at("/buyer_id"),
            Recipient::User => user_at("/user_id"),
            Recipient::Payee => user_at("/payee"),
            Recipient::Reviewer => user_at("/after/author_id"),
            Recipient::OrderSellers => {
                let order = self.order_of(event).await?;
                let mut sellers: Vec<UserId> = order.lines.iter().filter_map(|l| l.seller_id).collect();
                sellers.sort();
                sellers.dedup();
                Ok(sellers)
            }
            Recipient::StockOwner => {
                let variant = self.variant_of(event).await?;
                match variant.and_then(|v| v.seller_id) {
                    Some(seller) => Ok(vec![seller]),
                    None => self.admins().await,
                }
            }
            Recipient::Admins => self.admins().await,
            Recipient::AwayChatRecipient => {
                // Told only when the message could not be seen live; the payload says whether
                // the recipient had a socket open, and one may have opened since.
                let away = payload.get("recipient_online").and_then(Value::as_bool) == Some(false);
                let recipient = user_at("/recipient_id")?;
                Ok(if away && !recipient.iter().any(|u| self.inner.sources.chat.is_online(*u)) {
                    recipient
                } else {
                    Vec::new()
                })
            }
        }
    }

    async fn admins(&self) -> anyhow::Result<Vec<UserId>> {
        let mut admins = Vec::new();
        for role in [Role::Admin, Role::SuperAdmin] {
            let filter = UserFilter { search: None, role: Some(role), before: None };
            let (users, _) = self.inner.sources.identity.list_users(&filter, 100).await?;
            admins.extend(users.into_iter().map(|u| u.id));
        }
        Ok(admins)
    }

    async fn order_of(&self, event: &Event) -> anyhow::Result<Order> {
        let id: OrderId = event
            .payload
            .get("order_id")
            .and_then(Value::as_str)
            .unwrap_or(&event.subject_id)
            .parse()
            .map_err(|_| anyhow::anyhow!("{} {} names no order", event.event_type, event.id))?;
        Ok(self.inner.sources.orders.order(id).await?)
    }

    async fn variant_of(&self, event: &Event) -> anyhow::Result<Option<crate::catalog::SaleVariant>> {
        let id: VariantId =
            event.subject_id.parse().map_err(|_| anyhow::anyhow!("stock.low {}", event.id))?;
        Ok(self.inner.sources.catalog.variants_for_sale(&[id]).await?.into_iter().next())
    }

    /// What the template of `rule` says to `user` about `event`, and the email address when it
    /// is not the account's; None when there is nothing to send (no token issuer connected).
    async fn context(
        &self,
        rule: &Rule,
        event: &Event,
        user: &User,
        locale: Locale,
    ) -> anyhow::Result<Option<(Map<String, Value>, Option<String>)>> {
        let money = |value: &Value| -> Option<String> {
            serde_json::from_value::<Money>(value.clone()).ok().map(|m| locale.format_money(m))
        };
        let payload = &event.payload;
        let mut c = Map::new();
        c.insert("shop".into(), json!("Pasar"));
        c.insert("shop_url".into(), json!(self.inner.public_url));
        c.insert("name".into(), json!(user.name));
        let mut address = None;
        match rule.template {
            "order_placed" | "payment_received" | "order_shipped" | "order_delivered" | "order_cancelled"
            | "order_refunded" | "payment_expired" | "seller_new_order" => {
                let order = self.order_of(event).await?;
                let mine =
                    |seller: Option<UserId>| rule.template != "seller_new_order" || seller == Some(user.id);
                let lines: Vec<Value> = order
                    .lines
                    .iter()
                    .filter(|l| mine(l.seller_id))
                    .map(|l| {
                        json!({"name": l.product_name, "sku": l.sku, "quantity": l.quantity,
                               "total": locale.format_money(l.line_total)})
                    })
                    .collect();
                let nonzero = |m: Money| (m.amount != 0).then(|| locale.format_money(m));
                c.insert("order_id".into(), json!(order.id));
                c.insert("lines".into(), json!(lines));
                c.insert("subtotal".into(), json!(locale.format_money(order.subtotal)));
                c.insert("discount".into(), json!(nonzero(order.discount)));
                c.insert("shipping".into(), json!(nonzero(order.shipping)));
                c.insert("total".into(), json!(locale.format_money(order.total)));
                c.insert("placed_at".into(), json!(locale.format_datetime(order.created_at)));
                c.insert("digital".into(), json!(order.is_digital_only()));
                c.insert("note".into(), payload.get("note").cloned().unwrap_or(Value::Null));
                c.insert("partial".into(), json!(event.event_type == "order.partially_refunded"));
                let part = order.fulfilments.iter().find(|f| f.tracking_number.is_some());
                let tracking =
                    order.tracking_number.clone().or_else(|| part.and_then(|f| f.tracking_number.clone()));
                c.insert("tracking".into(), json!(tracking));
                c.insert("carrier".into(), json!(part.and_then(|f| f.carrier.clone())));
                if rule.template == "payment_received" {
                    let payments = self.inner.sources.payments.for_reference(&order.id.to_string()).await?;
                    if let Some(paid) = payments.iter().find(|p| p.status == PaymentStatus::Succeeded) {
                        c.insert("fee".into(), json!(nonzero(paid.fee)));
                        c.insert("paid_total".into(), json!(locale.format_money(paid.total)));
                    }
                }
            }
            "deposit_credited" | "withdrawal_sent" | "withdrawal_failed" => {
                c.insert("amount".into(), json!(money(&payload["amount"])));
            }
            "seller_approved" | "seller_rejected" => {
                c.insert("reason".into(), payload.get("reason").cloned().unwrap_or(Value::Null));
            }
            "stock_low" => {
                let variant = self.variant_of(event).await?;
                c.insert(
                    "sku".into(),
                    json!(variant.as_ref().map_or(event.subject_id.as_str(), |v| v.sku.as_str())),
                );
                c.insert("product".into(), json!(variant.as_ref().map(|v| v.product_name.clone())));
                c.insert("available".into(), payload["available"].clone());
            }
            "chat_message" => {
                let sender: Option<UserId> =
                    payload.get("sender_id").and_then(Value::as_str).and_then(|s| s.parse().ok());
                let sender = match sender {
                    Some(id) => self.inner.sources.identity.user(id).await.ok().map(|u| u.name),
                    None => None,
                };
                c.insert("sender".into(), json!(sender));
                c.insert("conversation_id".into(), payload["conversation_id"].clone());
            }
            "provider_down" => {
                c.insert("provider".into(), payload["provider"].clone());
            }
            "review_replied" => {
                let product: Option<ProductId> =
                    payload.pointer("/after/product_id").and_then(Value::as_str).and_then(|p| p.parse().ok());
                let name = match product {
                    Some(id) => Some(self.inner.sources.catalog.product(id).await?.name),
                    None => None,
                };
                c.insert("product".into(), json!(name));
                c.insert(
                    "reply".into(),
                    payload.pointer("/after/reply/text").cloned().unwrap_or(Value::Null),
                );
            }
            "email_verification" | "password_reset" => {
                // The token is made now, for this email only: events carry ids, never tokens.
                let (purpose, path) = match event.event_type.as_str() {
                    "user.password_reset_requested" => (AccountTokenPurpose::PasswordReset, "reset-password"),
                    "user.email_change_requested" => (AccountTokenPurpose::EmailChange, "verify-email"),
                    _ => (AccountTokenPurpose::EmailVerification, "verify-email"),
                };
                let token = self.inner.sources.identity.issue_account_token(user.id, purpose).await?;
                c.insert("token".into(), json!(token.token));
                c.insert(
                    "link".into(),
                    json!(format!("{}/{path}?token={}", self.inner.public_url, token.token)),
                );
                c.insert("expires_at".into(), json!(locale.format_datetime(token.expires_at)));
                address = Some(token.email);
            }
            _ => {}
        }
        if !rule.category.is_transactional() {
            let token = UnsubscribeToken::sign(&self.inner.unsubscribe_key, user.id, rule.category);
            c.insert(
                "unsubscribe".into(),
                json!(format!("{}/v1/notifications/unsubscribe?token={token}", self.inner.public_url)),
            );
        }
        Ok(Some((c, address)))
    }
}

// ---- deliveries out -------------------------------------------------------------------------

impl Notifications {
    /// Sends what is due every `poll` until `stop` turns true.
    pub async fn run_sender(self, mut stop: watch::Receiver<bool>, poll: Duration) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(err) = self.send_due().await {
                tracing::warn!(error = %err, "sending notifications failed; will retry");
            }
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One round of the sender: each due delivery this instance manages to claim is sent once.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let now = self.now();
        let due = store::due(self.inner.db.reader(), now, ROUND).await?;
        let mut sent = 0;
        for notification in due {
            if self.paused_until(notification.channel).is_some_and(|until| until > self.now()) {
                continue;
            }
            let now = self.now();
            if !store::claim(&self.inner.db, notification.id, now, now.plus(CLAIM)).await? {
                continue;
            }
            let outcome = self.send(&notification).await;
            let now = self.now();
            let attempts = notification.attempts + 1;
            let db = &self.inner.db;
            match outcome {
                Ok(()) => {
                    sent += 1;
                    store::settle(db, notification.id, Status::Sent, attempts, now, None, Some(now)).await?;
                }
                Err(SendError::RateLimited { retry_after }) => {
                    // Not the delivery's fault: no attempt counted, and the channel waits.
                    let until = now.plus(retry_after);
                    self.inner
                        .paused
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(notification.channel, until);
                    let reason = format!("rate limited by the provider until {}", until.to_rfc3339());
                    store::settle(
                        db,
                        notification.id,
                        Status::Pending,
                        notification.attempts,
                        until,
                        Some(&reason),
                        None,
                    )
                    .await?;
                }
                Err(SendError::Transient(reason)) if attempts < MOST_ATTEMPTS => {
                    let next = now.plus(domain::backoff(attempts));
                    tracing::warn!(notification = %notification.id, attempts, %reason, "notification not sent; will retry");
                    store::settle(db, notification.id, Status::Pending, attempts, next, Some(&reason), None)
                        .await?;
                }
                Err(SendError::Transient(reason)) => {
                    let reason = format!("gave up after {attempts} attempts: {reason}");
                    tracing::error!(notification = %notification.id, %reason, "notification dead-lettered");
                    store::settle(db, notification.id, Status::Dead, attempts, now, Some(&reason), None)
                        .await?;
                }
                Err(SendError::Permanent(reason)) => {
                    tracing::error!(notification = %notification.id, %reason, "notification refused; dead-lettered");
                    store::settle(db, notification.id, Status::Dead, attempts, now, Some(&reason), None)
                        .await?;
                }
            }
        }
        Ok(sent)
    }

    fn paused_until(&self, channel: Channel) -> Option<Timestamp> {
        self.inner.paused.lock().unwrap_or_else(|e| e.into_inner()).get(&channel).copied()
    }

    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let user = || async {
            self.inner
                .sources
                .identity
                .user(n.user_id)
                .await
                .map_err(|e| SendError::Transient(format!("reading the recipient: {e}")))
        };
        match n.channel {
            Channel::InApp => Ok(()),
            Channel::Email => {
                let to = match &n.address {
                    Some(address) => address.clone(),
                    None => user().await?.email,
                };
                let message = Rendered {
                    subject: n.subject.clone(),
                    text: n.body_text.clone(),
                    html: n.body_html.clone(),
                };
                self.inner.mailer.send(&self.inner.email_from, &to, &message).await
            }
            Channel::Telegram => {
                let Some(bot) = &self.inner.sources.telegram else {
                    return Err(SendError::Permanent("the Telegram bot is no longer configured".into()));
                };
                let chat = self
                    .inner
                    .sources
                    .identity
                    .telegram_id_of(n.user_id)
                    .await
                    .map_err(|e| SendError::Transient(format!("reading the Telegram link: {e}")))?
                    .ok_or_else(|| {
                        SendError::Permanent("the user no longer has a linked Telegram chat".into())
                    })?;
                // The bot's own queue paces and retries the message; keyed by this delivery.
                bot.queue_text(
                    &format!("notification:{}", n.id),
                    chat,
                    &format!("{}\n\n{}", n.subject, n.body_text),
                )
                .await
                .map(|_| ())
                .map_err(|e| SendError::Transient(format!("queueing the Telegram message: {e}")))
            }
            Channel::Push => {
                let message = PushMessage {
                    title: n.subject.clone(),
                    body: n.body_text.chars().take(PUSH_BODY_CHARS).collect(),
                    url: None,
                    tag: Some(n.template.clone()),
                };
                match self.inner.sources.push.send(n.user_id, &message).await {
                    Ok(sent) if sent.delivered > 0 => Ok(()),
                    Ok(_) => Err(SendError::Permanent("no subscribed browser took the message".into())),
                    Err(PushError::RateLimited(retry_after)) => Err(SendError::RateLimited { retry_after }),
                    Err(PushError::NotConfigured) => {
                        Err(SendError::Permanent("Web Push is no longer configured".into()))
                    }
                    Err(err) => Err(SendError::Transient(err.to_string())),
                }
            }
            Channel::Sms => {
                let Some(twilio) = &self.inner.twilio else {
                    return Err(SendError::Permanent("SMS is no longer configured".into()));
                };
                let phone = phone_of(&user().await?)
                    .ok_or_else(|| SendError::Permanent("the user no longer has a phone number".into()))?;
                let text: String =
                    format!("{}: {}", n.subject, n.body_text).chars().take(SMS_MAX_CHARS).collect();
                twilio.send(&phone, &text).await
            }
        }
    }
}

// ---- people and admins ----------------------------------------------------------------------

/// One category's setting for a person.
pub struct Preference {
    pub category: Category,
    pub enabled: bool,
}

impl Notifications {
    pub async fn inbox(
        &self,
        user: UserId,
        before: Option<NotificationId>,
        limit: usize,
    ) -> Result<(Vec<Notification>, bool), NotificationsError> {
        let mut rows = store::inbox(self.inner.db.reader(), user, before, limit as i64 + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, more))
    }

    pub async fn unread(&self, user: UserId) -> Result<i64, NotificationsError> {
        Ok(store::unread(self.inner.db.reader(), user).await?)
    }

    pub async fn mark_read(&self, user: UserId, id: NotificationId) -> Result<(), NotificationsError> {
        if !store::in_inbox(self.inner.db.reader(), user, id).await? {
            return Err(NotificationsError::NotFound);
        }
        store::mark_read(&self.inner.db, user, Some(id), self.now()).await?;
        Ok(())
    }

    pub async fn mark_all_read(&self, user: UserId) -> Result<u64, NotificationsError> {
        Ok(store::mark_read(&self.inner.db, user, None, self.now()).await?)
    }

    pub async fn preferences(&self, user: UserId) -> Result<Vec<Preference>, NotificationsError> {
        let off = store::turned_off(self.inner.db.reader(), user).await?;
        Ok(Category::ALL
            .into_iter()
            .map(|category| Preference { category, enabled: !off.contains(&category) })
            .collect())
    }

    /// Sets categories on or off; transactional ones cannot be turned off.
    pub async fn set_preferences(
        &self,
        user: UserId,
        choices: &[(Category, bool)],
    ) -> Result<Vec<Preference>, NotificationsError> {
        if let Some((category, _)) = choices.iter().find(|(c, enabled)| !enabled && c.is_transactional()) {
            return Err(NotificationsError::Transactional(category.as_str()));
        }
        store::set_preference(&self.inner.db, user, choices, self.now()).await?;
        self.preferences(user).await
    }

    /// Who and what an unsubscribe link names, when it is genuine.
    pub fn unsubscribe_target(&self, token: &str) -> Result<(UserId, Category), NotificationsError> {
        UnsubscribeToken::verify(&self.inner.unsubscribe_key, token).ok_or(NotificationsError::InvalidToken)
    }

    /// Follows an unsubscribe link: that category off for that person.
    pub async fn unsubscribe(&self, token: &str) -> Result<Category, NotificationsError> {
        let (user, category) = self.unsubscribe_target(token)?;
        store::set_preference(&self.inner.db, user, &[(category, false)], self.now()).await?;
        Ok(category)
    }

    pub async fn list(
        &self,
        status: Option<Status>,
        channel: Option<Channel>,
        before: Option<NotificationId>,
        limit: usize,
    ) -> Result<(Vec<Notification>, bool), NotificationsError> {
        let mut rows = store::list(self.inner.db.reader(), status, channel, before, limit as i64 + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, more))
    }

    /// Queues a sent or dead delivery to be sent again now.
    pub async fn resend(&self, id: NotificationId) -> Result<Notification, NotificationsError> {
        let db = &self.inner.db;
        store::get(db.reader(), id).await?.ok_or(NotificationsError::NotFound)?;
        if !store::resend(db, id, self.now()).await? {
            return Err(NotificationsError::NotResendable);
        }
        store::get(db.reader(), id).await?.ok_or(NotificationsError::NotFound)
    }
}
