//! What the bot tells buyers after the fact, through a durable queue fed by the outbox: the
//! items of a paid order (once per order line: the queue's key is the line), the QRIS message
//! turned into a receipt or marked expired, and the countdown on QRIS messages still open.
//!
//! The outbox hands each event at least once; queueing is keyed, so a second hand-over (a
//! replay, a crash before the relay marked the event) queues nothing new. A queued message is
//! sent until Telegram takes it; a crash after Telegram took it and before it was marked sent
//! is the one case that sends it again. Items are read from the inventory when sent, so the
//! queue never holds a key in the clear.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::api::BotError;
use super::domain::Keyboard;
use super::service::{Bot, countdown_caption, rp, short};
use super::store::{self, BroadcastProgress};
use crate::events::{Delivery, Event, Subscriber};
use crate::ids::{DigitalItemId, OrderId, OrderLineId, UserId};
use crate::inventory::ItemContent;
use crate::money::Money;

/// Attempts at sending one queued message before it is given up.
const MOST_ATTEMPTS: i64 = 10;
/// How long a sender holds a message it is sending.
const CLAIM: Duration = Duration::from_secs(60);
/// Queued messages sent per round.
const ROUND: i64 = 20;
/// How often a broadcast's status message is edited with its counts.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// How long messages sent or given up are kept (the items of an order line are kept always).
const KEEP_SENT: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often old state is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The outbox subscriber queueing the bot's messages.
pub struct Deliveries {
    bot: Bot,
}

impl Deliveries {
    pub fn new(bot: Bot) -> Self {
        Self { bot }
    }

    async fn on_event(&self, event: &Event) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            "order.delivered" => self.items_of(event).await,
            "payment.completed" => self.payment_settled(event, "paid").await,
            "payment.expired" | "payment.failed" | "payment.cancelled" => {
                self.payment_settled(event, "expired").await
            }
            "payment.provider_down"
            | "payment.provider_up"
            | "stock.low"
            | "order.refund_due"
            | "payout.failed" => self.alert_admins(event).await,
            _ => Ok(()),
        }
    }

    /// Queues the items of each line of a delivered order for its buyer, when the buyer uses
    /// the bot.
    async fn items_of(&self, event: &Event) -> anyhow::Result<()> {
        let Some(buyer) = event.payload["buyer_id"].as_str().and_then(|b| b.parse::<UserId>().ok()) else {
            anyhow::bail!("order.delivered {} lacks its buyer", event.id);
        };
        let shop = self.bot.shop();
        let Some(chat_id) = shop.identity.telegram_id_of(buyer).await? else { return Ok(()) };
        let order_id: OrderId =
            event.subject_id.parse().map_err(|_| anyhow::anyhow!("order id {}", event.subject_id))?;
        let order = shop.orders.order(order_id).await?;
        let now = self.bot.clock().now();
        for line in &order.lines {
            let body = json!({"kind": "items", "order_id": order.id, "line_id": line.id, "again": false});
            store::enqueue(self.bot.db(), &format!("items:{}", line.id), chat_id, &body, now).await?;
        }
        Ok(())
    }

    /// Queues the edit of a bot QRIS message whose payment ended, and for an expiry a word to
    /// the buyer.
    async fn payment_settled(&self, event: &Event, outcome: &str) -> anyhow::Result<()> {
        let db = self.bot.db().reader();
        let Some(message) = store::payment_message(db, &event.subject_id).await? else { return Ok(()) };
        let now = self.bot.clock().now();
        let body = json!({"kind": outcome, "payment_id": message.payment_id,
                          "reference": event.payload["reference"], "total": event.payload["total"]});
        store::enqueue(
            self.bot.db(),
            &format!("{outcome}:{}", message.payment_id),
            message.chat_id,
            &body,
            now,
        )
        .await?;
        Ok(())
    }
}

impl Deliveries {
    /// Tells the admins in Telegram about an outage (once per outage: the breaker records one
    /// event when a provider goes down and one when it is back), low stock, a failed payout and
    /// a refund due.
    async fn alert_admins(&self, event: &Event) -> anyhow::Result<()> {
        let payload = &event.payload;
        let text = match event.event_type.as_str() {
            "payment.provider_down" => format!(
                "⚠️ Payment provider {} is not answering: its payments are refused for now. \
                 Buyers can still pay from their balance.",
                payload["provider"].as_str().unwrap_or("?")
            ),
            "payment.provider_up" => {
                format!("✅ Payment provider {} answers again.", payload["provider"].as_str().unwrap_or("?"))
            }
            "stock.low" => {
                let sku = match payload["variant_id"].as_str().and_then(|v| v.parse().ok()) {
                    Some(variant) => self
                        .bot
                        .shop()
                        .catalog
                        .variants_for_sale(&[variant])
                        .await?
                        .into_iter()
                        .next()
                        .map_or_else(|| variant.to_string(), |v| v.sku),
                    None => event.subject_id.clone(),
                };
                format!("📉 Low stock: {sku} has {} left.", payload["available"])
            }
            "payout.failed" => {
                let amount: Option<Money> = serde_json::from_value(payload["amount"].clone()).ok();
                format!(
                    "❗ Payout {} of {} to {} failed at {}: the money stays with the shop (a withdrawal's \
                     goes back to its wallet). Check the destination and ask again.",
                    event.subject_id,
                    amount.map(rp).unwrap_or_default(),
                    payload["destination"]["account_name"].as_str().unwrap_or("?"),
                    payload["provider"].as_str().unwrap_or("?"),
                )
            }
            _ => format!("💸 A refund is due for order {}: it was paid after it ended.", event.subject_id),
        };
        let body = json!({"kind": "text", "text": text});
        let now = self.bot.clock().now();
        for chat in self.bot.admin_chats().await? {
            store::enqueue(self.bot.db(), &format!("alert:{}:{chat}", event.id), chat, &body, now).await?;
        }
        Ok(())
    }
}

impl Subscriber for Deliveries {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(self.on_event(event))
    }
}

impl Bot {
    /// Queues a plain text message to a chat, once per `key` (notifications use this: the
    /// bot's sender paces and retries it with the rest of its queue).
    pub async fn queue_text(&self, key: &str, chat_id: i64, text: &str) -> Result<bool, sqlx::Error> {
        let body = json!({"kind": "text", "text": text});
        store::enqueue(self.db(), key, chat_id, &body, self.clock().now()).await
    }

    /// Sends what is queued until `stop`, and keeps the countdowns of open QRIS messages.
    pub async fn run_sender(self, mut stop: watch::Receiver<bool>, poll: Duration) {
        let mut last_countdown = tokio::time::Instant::now();
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            match self.send_due().await {
                Ok(sent) if sent > 0 => continue,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "sending queued Telegram messages failed; will retry")
                }
            }
            if last_countdown.elapsed() >= self.countdown() {
                last_countdown = tokio::time::Instant::now();
                if let Err(err) = self.tick_countdowns().await {
                    tracing::warn!(error = %err, "updating QRIS countdowns failed");
                }
                self.forget_idle_users();
                self.api().forget_quiet_chats();
            }
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(tokio::time::Instant::now());
                let now = self.clock().now();
                let (cutoff, sends_cutoff) =
                    (now.minus(super::state::CONVERSATION_TTL), now.minus(KEEP_SENT));
                if let Err(err) = store::prune(self.db(), cutoff, sends_cutoff).await {
                    tracing::warn!(error = %err, "pruning the bot's old state failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sends one round of the queued messages that are due; how many were handled.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let db = self.db().reader();
        let now = self.clock().now();
        let due = store::due_sends(db, now, ROUND).await?;
        let mut handled = 0;
        for send in due {
            if !store::claim_send(self.db(), &send.id, now, now.plus(CLAIM)).await? {
                continue;
            }
            handled += 1;
            if send.body["kind"] == "broadcast" {
                // Broadcasts take part of the bot's budget, leaving the rest to the answers to
                // the users talking to it meanwhile.
                self.api().broadcast_turn().await;
            }
            let sent = self.send_one(&send).await;
            match sent {
                Ok(()) => store::mark_sent(self.db(), &send.id, self.clock().now()).await?,
                Err(err) => {
                    if err.is_blocked() {
                        store::mark_blocked(self.db(), send.chat_id, self.clock().now()).await?;
                    }
                    let now = self.clock().now();
                    let (next_at, failed) = match &err {
                        BotError::RetryAfter(secs) => (now.plus(Duration::from_secs(*secs)), None),
                        BotError::Refused { .. } => (now, Some(now)),
                        BotError::Unavailable(_) if send.attempts + 1 >= MOST_ATTEMPTS => (now, Some(now)),
                        BotError::Unavailable(_) => (
                            now.plus(Duration::from_secs(2u64.saturating_pow(send.attempts.min(10) as u32))),
                            None,
                        ),
                    };
                    tracing::warn!(send = %send.id, error = %err, gave_up = failed.is_some(), "a queued Telegram message was not sent");
                    store::mark_unsent(self.db(), &send.id, next_at, failed, &err.to_string()).await?;
                    if matches!(err, BotError::RetryAfter(_)) {
                        break;
                    }
                }
            }
        }
        self.report_broadcasts().await?;
        Ok(handled)
    }

    /// Edits each running broadcast's status message with its counts (every few seconds), and
    /// reports a broadcast whose messages are all sent or given up to the admin who sent it.
    async fn report_broadcasts(&self) -> anyhow::Result<()> {
        let db = self.db().reader();
        for progress in store::broadcasts_in_progress(db).await? {
            let now = self.clock().now();
            let BroadcastProgress { id, admin_chat, sent, failed, waiting, total, .. } = &progress;
            let text = if *waiting == 0 {
                if !store::finish_broadcast(self.db(), id, now).await? {
                    continue;
                }
                let text = format!("📣 Broadcast finished: {sent} sent, {failed} failed.");
                let body = json!({"kind": "text", "text": text});
                store::enqueue(self.db(), &format!("broadcast-done:{id}"), *admin_chat, &body, now).await?;
                text
            } else {
                let due = progress.reported_at.is_none_or(|at| now.duration_since(at) >= PROGRESS_EVERY);
                if !due || !store::mark_reported(self.db(), id, progress.reported_at, now).await? {
                    continue;
                }
                format!("📣 Broadcast to {total} users: {sent} sent, {failed} failed, {waiting} to go…")
            };
            if let Some(message_id) = progress.status_message_id {
                if let Err(err) = self.api().edit_message_text(*admin_chat, message_id, &text, None).await {
                    tracing::debug!(error = %err, "a broadcast's status message was not updated");
                }
            }
        }
        Ok(())
    }

    async fn send_one(&self, send: &store::Send) -> Result<(), BotError> {
        let (chat_id, body) = (send.chat_id, &send.body);
        let api = self.api();
        match body["kind"].as_str() {
            Some("items") => {
                let (Some(order_id), Some(line_id)) = (
                    body["order_id"].as_str().and_then(|o| o.parse::<OrderId>().ok()),
                    body["line_id"].as_str().and_then(|l| l.parse::<OrderLineId>().ok()),
                ) else {
                    return Err(refused("a queued item message without its order line"));
                };
                let again = body["again"] == true;
                let shop = self.shop();
                let order = shop.orders.order(order_id).await.map_err(unavailable)?;
                let Some(line) = order.lines.iter().find(|l| l.id == line_id) else {
                    return Err(refused("the order line is gone"));
                };
                let (mut texts, mut files) = (Vec::new(), Vec::new());
                for item in
                    shop.inventory.delivered_items(&order_id.to_string()).await.map_err(unavailable)?
                {
                    match item.content {
                        _ if item.order_line_id != line_id => {}
                        ItemContent::Text(text) => texts.push(text),
                        ItemContent::File(_) => files.push(item.id),
                    }
                }
                let heading = format!(
                    "{}{} × {} (order {})",
                    if again { "Sent again: " } else { "Your items: " },
                    line.quantity,
                    line.product_name,
                    short(&order_id.to_string())
                );
                // File items go as documents, each queued on its own (keyed by this message and
                // the item), so each is sent once even when a crash cuts the line's delivery.
                let now = self.clock().now();
                for item in files {
                    let body =
                        json!({"kind": "file", "order_id": order_id, "item_id": item, "heading": heading});
                    let key = format!("{}file:{}:{item}", if again { "again-" } else { "" }, send.id);
                    store::enqueue(self.db(), &key, chat_id, &body, now).await.map_err(unavailable)?;
                }
                if texts.is_empty() {
                    return Ok(());
                }
                let text = format!("{heading}\n\n{}", texts.join("\n"));
                if text.chars().count() > 4000 {
                    let file = format!("{}\n", texts.join("\n")).into_bytes();
                    let name =
                        format!("{}-{}.txt", line.sku, short(&order_id.to_string()).trim_start_matches('#'));
                    api.send_document(chat_id, &name, "text/plain", file, &heading).await.map(|_| ())
                } else {
                    api.send_message(chat_id, &text, None).await.map(|_| ())
                }
            }
            Some(outcome @ ("paid" | "expired")) => {
                let payment_id = body["payment_id"].as_str().unwrap_or_default();
                let db = self.db().reader();
                let Some(message) = store::payment_message(db, payment_id).await.map_err(unavailable)? else {
                    return Ok(());
                };
                let deposit = body["reference"].as_str().is_some_and(|r| r.starts_with("wallet:"));
                let total: Option<Money> = serde_json::from_value(body["total"].clone()).ok();
                let total = total.map(rp).unwrap_or_default();
                let caption = if outcome == "paid" {
                    let what =
                        if deposit { "Added to your balance." } else { "Your items follow in this chat." };
                    format!("{}\n\n✅ PAID {total}. Thank you! {what}", message.summary)
                } else {
                    format!("{}\n\n⌛ EXPIRED: this code can no longer be paid.", message.summary)
                };
                api.edit_message_caption(message.chat_id, message.message_id, &caption, None).await?;
                store::settle_payment_message(self.db(), payment_id, outcome, self.clock().now())
                    .await
                    .map_err(unavailable)?;
                if outcome == "expired" {
                    let text = if deposit {
                        "Your deposit's QRIS code expired; nothing was charged. Start a new one with /balance."
                    } else {
                        "Your order's payment time ran out, so the order was cancelled and its stock released. \
                         Nothing was charged; you can order again any time."
                    };
                    let keyboard =
                        Keyboard::new().button("Shop again", super::domain::Callback::Categories { page: 0 });
                    api.send_message(chat_id, text, Some(keyboard.markup())).await?;
                }
                Ok(())
            }
            Some("file") => {
                let (Some(order_id), Some(item_id)) = (
                    body["order_id"].as_str().and_then(|o| o.parse::<OrderId>().ok()),
                    body["item_id"].as_str().and_then(|i| i.parse::<DigitalItemId>().ok()),
                ) else {
                    return Err(refused("a queued file without its order or item"));
                };
                let items = self
                    .shop()
                    .inventory
                    .delivered_items(&order_id.to_string())
                    .await
                    .map_err(unavailable)?;
                let Some(ItemContent::File(file)) =
                    items.into_iter().find(|i| i.id == item_id).map(|i| i.content)
                else {
                    return Err(refused("the file item is no longer the order's"));
                };
                let heading = body["heading"].as_str().unwrap_or_default();
                api.send_document(chat_id, &file.file_name, &file.content_type, file.bytes, heading)
                    .await
                    .map(|_| ())
            }
            Some("broadcast") => {
                let text = body["text"].as_str().unwrap_or_default();
                api.send_message(chat_id, text, None).await.map(|_| ())
            }
            Some("text") => {
                let text = body["text"].as_str().unwrap_or_default();
                api.send_message(chat_id, text, None).await.map(|_| ())
            }
            _ => Err(refused("a queued message of an unknown kind")),
        }
    }

    /// Edits the countdown of each QRIS message still open.
    async fn tick_countdowns(&self) -> anyhow::Result<()> {
        let now = self.clock().now();
        for message in store::pending_payment_messages(self.db().reader(), now, 200).await? {
            let caption = countdown_caption(&message.summary, message.expires_at, now);
            if let Err(err) =
                self.api().edit_message_caption(message.chat_id, message.message_id, &caption, None).await
            {
                tracing::debug!(error = %err, "a QRIS countdown was not updated");
                if matches!(err, BotError::RetryAfter(_)) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Long-polls Telegram for updates until `stop` (polling mode), handling each in turn.
    pub async fn run_polling(self, mut stop: watch::Receiver<bool>) {
        if let Err(err) = self.api().delete_webhook().await {
            tracing::warn!(error = %err, "could not remove the Telegram webhook before polling");
        }
        let mut offset = 0;
        loop {
            if *stop.borrow() {
                return;
            }
            let polled = tokio::select! {
                polled = self.api().get_updates(offset, 25) => polled,
                _ = stop.changed() => return,
            };
            match polled {
                Ok(updates) => {
                    for update in updates {
                        let id = update.update_id;
                        if let Err(err) = self.handle(update).await {
                            tracing::warn!(update = id, error = %err, "a polled Telegram update failed");
                        }
                        offset = offset.max(id + 1);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "polling Telegram failed; retrying");
                    let wait = match err {
                        BotError::RetryAfter(secs) => Duration::from_secs(secs),
                        _ => Duration::from_secs(3),
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

fn refused(why: &str) -> BotError {
    BotError::Refused { method: "queue", code: 0, description: why.to_owned() }
}

fn unavailable(err: impl std::fmt::Display) -> BotError {
    BotError::Unavailable(err.to_string())
}
