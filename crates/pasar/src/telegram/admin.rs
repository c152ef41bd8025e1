//! Admin commands in the chat, for whitelisted Telegram ids (`PASAR_TELEGRAM_ADMIN_IDS`) and
//! accounts with an admin role; anyone else is told the command is unknown. Each goes through
//! the owning service with the Telegram user as the actor.

use super::domain::{Conversation, Message};
use super::service::{Bot, Reply, rp, short};
use crate::catalog::media::ImageType;
use crate::catalog::{Actor, CatalogError, NewProduct};
use crate::identity::telegram::telegram_actor;
use crate::identity::{Identity, IdentityError, Principal, Role, User};
use crate::ids::ProductId;
use crate::ids::{OrderId, VariantId};
use crate::orders::{OrderFilter, OrderStatus};

/// The largest key file accepted by `/addstock`.
const MOST_FILE_BYTES: i64 = 1024 * 1024;

impl Bot {
    /// Who an admin acts as: their account, with an admin role when only the whitelist makes
    /// them one. None for anyone else.
    pub(super) fn admin_principal(&self, telegram_id: i64, user: &User) -> Option<Principal> {
        let mut principal = Identity::telegram_principal(user);
        if user.role.is_staff() {
            Some(principal)
        } else if self.is_whitelisted_admin(telegram_id) {
            principal.role = Role::Admin;
            Some(principal)
        } else {
            None
        }
    }

    /// Runs an admin command; false when `name` is not one (or the caller is no admin).
    pub(super) async fn admin_command(
        &self,
        reply: &Reply,
        message: &Message,
        user: &User,
        name: &str,
        args: &str,
    ) -> anyhow::Result<bool> {
        let telegram_id = message.from.as_ref().map_or(0, |f| f.id);
        let Some(admin) = self.admin_principal(telegram_id, user) else { return Ok(false) };
        let actor = telegram_actor(telegram_id);
        let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        match name {
            "orders" if !args.is_empty() => self.shop_orders(reply, first).await?,
            "order" => self.one_order(reply, first).await?,
            "stats" => self.stats(reply).await?,
            "ban" | "unban" => {
                let Ok(target) = first.parse::<i64>() else {
                    self.say(reply, &format!("Send /{name} TELEGRAM_ID."), None).await?;
                    return Ok(true);
                };
                if target == telegram_id {
                    self.say(reply, "You cannot ban yourself.", None).await?;
                } else if self.shop().identity.set_telegram_ban(target, name == "ban", telegram_id).await? {
                    let done = if name == "ban" { "banned" } else { "no longer banned" };
                    self.say(reply, &format!("{target} is {done}."), None).await?;
                } else {
                    self.say(reply, "Nobody with that Telegram id has used the bot.", None).await?;
                }
            }
            "stock" => self.stock(reply, first).await?,
            "addproduct" => {
                self.set_conversation(telegram_id, &Conversation::ProductName).await?;
                self.say(reply, "A new digital product. What is its name? (/cancel to stop)", None).await?;
            }
            "addstock" => {
                let Some(variant) = self.digital_variant(reply, first).await? else { return Ok(true) };
                if let Some(document) = &message.document {
                    if document.file_size.unwrap_or(0) > MOST_FILE_BYTES {
                        self.say(reply, "That file is too large (1 MiB at most).", None).await?;
                        return Ok(true);
                    }
                    let bytes = self.api().download(&document.file_id, MOST_FILE_BYTES as usize).await?;
                    let text = String::from_utf8_lossy(&bytes).to_string();
                    self.add_stock(reply, variant, &text, &actor).await?;
                } else if rest.trim().is_empty() {
                    self.set_conversation(
                        telegram_id,
                        &Conversation::AddStock { variant, sku: first.to_owned() },
                    )
                    .await?;
                    let text =
                        format!("Send the keys for {first}, one per line (or a text file), or /cancel.");
                    self.say(reply, &text, None).await?;
                } else {
                    self.add_stock(reply, variant, rest, &actor).await?;
                }
            }
            "setrole" => self.set_role(reply, &admin, first, rest.trim()).await?,
            "refund" => self.refund(reply, first, &actor).await?,
            "broadcast" => self.broadcast(reply, first, rest, args).await?,
            "price" => self.price(reply, &admin, args).await?,
            "balance" if !args.is_empty() => {
                let key = format!("telegram:{}:{}", message.chat.id, message.message_id);
                self.member_balance(reply, args, &key, &actor).await?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn shop_orders(&self, reply: &Reply, status: &str) -> anyhow::Result<()> {
        let status = match status {
            "all" => None,
            other => match OrderStatus::parse(other) {
                Some(status) => Some(status),
                None => {
                    return self
                        .say(reply, "Send /orders all, or /orders with a status such as paid.", None)
                        .await;
                }
            },
        };
        let filter = OrderFilter { status, ..OrderFilter::default() };
        let (orders, more) = self.shop().orders.list(&filter, 10).await?;
        let mut text = String::from("Latest orders:\n");
        for order in &orders {
            text.push_str(&format!(
                "\n{} {} {} {}",
                order.id,
                order.status.as_str(),
                rp(order.total),
                order.created_at.to_rfc3339()
            ));
        }
        if orders.is_empty() {
            text.push_str("\nnone");
        }
        if more {
            text.push_str("\n…and more");
        }
        self.say(reply, &text, None).await
    }

    /// Today (UTC) and the last 7 days: orders, revenue, fees, new users, payment success
    /// rate; and the variants low on stock.
    async fn stats(&self, reply: &Reply) -> anyhow::Result<()> {
        let shop = self.shop();
        let now = self.clock().now();
        let day = 24 * 3600 * 1000;
        let today = crate::time::Timestamp::from_millis(now.millis() - now.millis().rem_euclid(day));
        let week = now.minus(std::time::Duration::from_secs(7 * 24 * 3600));
        let currency = shop.wallet.currency();
        let mut text = String::from("📊 Shop figures");
        for (label, since) in [("Today", today), ("7 days", week)] {
            let (placed, revenue) = shop.orders.totals_since(since).await?;
            let (succeeded, ended, fees) = shop.payments.totals_since(since).await?;
            let users = shop.identity.users_since(since).await?;
            let rate = if succeeded + ended == 0 {
                "-".to_owned()
            } else {
                format!("{}%", succeeded * 100 / (succeeded + ended))
            };
            text.push_str(&format!(
                "\n\n{label}: {placed} orders, revenue {}, fees {}, {users} new users, payments succeeded {rate}",
                rp(crate::money::Money::new(revenue, currency)),
                rp(crate::money::Money::new(fees, currency)),
            ));
        }
        text.push_str(&format!("\n\nLow on stock: {} variants", shop.inventory.low_count().await?));
        self.say(reply, &text, None).await
    }

    async fn one_order(&self, reply: &Reply, id: &str) -> anyhow::Result<()> {
        let Ok(id) = id.parse::<OrderId>() else {
            return self.say(reply, "Send /order followed by an order id (ord_…).", None).await;
        };
        let order = match self.shop().orders.order(id).await {
            Ok(order) => order,
            Err(crate::orders::OrdersError::NotFound) => {
                return self.say(reply, "No such order.", None).await;
            }
            Err(other) => return Err(other.into()),
        };
        let mut text = format!(
            "Order {} ({})\nstatus {}\nbuyer {}\ntotal {}",
            order.id,
            short(&order.id.to_string()),
            order.status.as_str(),
            order.buyer_id,
            rp(order.total)
        );
        for line in &order.lines {
            text.push_str(&format!(
                "\n{} × {} ({}) {}",
                line.quantity,
                line.product_name,
                line.sku,
                rp(line.line_total)
            ));
        }
        if order.refund_due {
            text.push_str("\nA REFUND IS DUE.");
        }
        self.say(reply, &text, None).await
    }

    async fn stock(&self, reply: &Reply, sku: &str) -> anyhow::Result<()> {
        let Some(variant) = self.shop().catalog.variant_by_sku(sku).await? else {
            return self.say(reply, &format!("No variant has the SKU {sku:?}."), None).await;
        };
        let level = self.shop().inventory.level(variant).await?;
        let text = format!(
            "{sku}: {} available, {} reserved, {} on hand{}",
            level.available,
            level.reserved,
            level.on_hand,
            if level.available < level.low_stock_threshold { " (LOW)" } else { "" }
        );
        self.say(reply, &text, None).await
    }

    /// The digital variant with `sku`, or None after telling the admin why not.
    async fn digital_variant(&self, reply: &Reply, sku: &str) -> anyhow::Result<Option<VariantId>> {
        let catalog = &self.shop().catalog;
        let Some(variant) = catalog.variant_by_sku(sku).await? else {
            self.say(reply, &format!("No variant has the SKU {sku:?}."), None).await?;
            return Ok(None);
        };
        if catalog.variant_kind(variant).await? != Some(crate::catalog::ProductKind::Digital) {
            self.say(reply, &format!("{sku} is not a digital product: adjust its stock on the API."), None)
                .await?;
            return Ok(None);
        }
        Ok(Some(variant))
    }

    /// Adds the keys in `text` (one per line, blank lines skipped) and reports duplicates.
    pub(super) async fn add_stock(
        &self,
        reply: &Reply,
        variant: VariantId,
        text: &str,
        actor: &str,
    ) -> anyhow::Result<()> {
        let items = crate::inventory::domain::pasted_keys(text);
        if items.is_empty() {
            return self.say(reply, "No keys found: one key per line, please.", None).await;
        }
        let added = match self.shop().inventory.add_digital_items(variant, &items, actor).await {
            Ok(added) => added,
            Err(err) => return self.say(reply, &format!("Nothing added: {err}."), None).await,
        };
        let mut answer = format!("Added {} keys; {} available now.", added.added, added.level.available);
        if !added.duplicates.is_empty() {
            answer.push_str(&format!(
                "\n{} duplicates were not added:\n{}",
                added.duplicates.len(),
                added.duplicates.join("\n")
            ));
        }
        self.say(reply, &answer, None).await
    }

    async fn set_role(
        &self,
        reply: &Reply,
        admin: &Principal,
        target: &str,
        role: &str,
    ) -> anyhow::Result<()> {
        let (Ok(target), Some(role)) = (target.parse::<i64>(), Role::parse(role)) else {
            return self.say(reply, "Send /setrole TELEGRAM_ID customer|reseller|admin.", None).await;
        };
        let identity = &self.shop().identity;
        let Some(user) = identity.telegram_account(target).await? else {
            return self.say(reply, "Nobody with that Telegram id has used the bot.", None).await;
        };
        match identity.change_role(admin, user.id, role).await {
            Ok(user) => self.say(reply, &format!("{} is now {}.", user.name, user.role), None).await,
            Err(IdentityError::RoleChange(refused)) => {
                self.say(reply, &format!("Refused: {refused}."), None).await
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Queues `text` for every Telegram user of the audience (all, or one role), skipping
    /// those who blocked the bot; the admin is told the counts when it is done.
    async fn broadcast(&self, reply: &Reply, first: &str, rest: &str, all_args: &str) -> anyhow::Result<()> {
        let (audience, role, text) = match (first, Role::parse(first)) {
            ("all", _) => ("all", None, rest.trim()),
            (_, Some(role)) => (first, Some(role), rest.trim()),
            _ => ("all", None, all_args.trim()),
        };
        if text.is_empty() {
            return self
                .say(reply, "Send /broadcast [all|customer|reseller|admin] followed by the message.", None)
                .await;
        }
        let blocked = super::store::blocked(self.db().reader()).await?;
        let recipients: Vec<i64> = self
            .shop()
            .identity
            .telegram_ids(role)
            .await?
            .into_iter()
            .filter(|id| !blocked.contains(id))
            .collect();
        if recipients.is_empty() {
            return self.say(reply, "Nobody to send it to.", None).await;
        }
        let skipped = if blocked.is_empty() {
            String::new()
        } else {
            format!(" ({} who blocked the bot skipped)", blocked.len())
        };
        // The status message, edited with the counts as the broadcast goes.
        let status = format!("📣 Broadcast queued for {} users{skipped}. Sending…", recipients.len());
        let status = self.api().send_message(reply.chat_id, &status, None).await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let mut tx = self.db().begin().await?;
        super::store::start_broadcast(
            &mut tx,
            &id,
            (reply.chat_id, status.message_id),
            audience,
            &recipients,
            text,
            self.clock().now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `/price SKU AMOUNT [reseller AMOUNT]`: a variant's price, and its reseller price.
    async fn price(&self, reply: &Reply, admin: &Principal, args: &str) -> anyhow::Result<()> {
        const USAGE: &str = "Send /price SKU AMOUNT, or /price SKU AMOUNT reseller AMOUNT.";
        let words: Vec<&str> = args.split_whitespace().collect();
        let amount = |text: &str| text.replace(['.', ','], "").parse::<i64>().ok();
        let (sku, price, reseller) = match words.as_slice() {
            [sku, price] => (*sku, amount(price), None),
            [sku, price, "reseller", reseller] => (*sku, amount(price), Some(amount(reseller))),
            _ => return self.say(reply, USAGE, None).await,
        };
        let currency = self.shop().wallet.currency();
        let as_price = |amount: Option<i64>| {
            amount.and_then(|a| crate::catalog::Price::parse(crate::money::Money::new(a, currency)).ok())
        };
        let (Some(price), reseller) = (as_price(price), reseller.map(as_price)) else {
            return self.say(reply, USAGE, None).await;
        };
        if reseller.as_ref().is_some_and(Option::is_none) {
            return self.say(reply, USAGE, None).await;
        }
        let catalog = &self.shop().catalog;
        let Some(variant) = catalog.variant_by_sku(sku).await? else {
            return self.say(reply, &format!("No variant has the SKU {sku:?}."), None).await;
        };
        let change = crate::catalog::VariantChange {
            price: Some(price),
            reseller_price: reseller,
            ..crate::catalog::VariantChange::default()
        };
        match catalog.update_variant(crate::catalog::Actor::Staff(admin.user), variant, change).await {
            Ok(variant) => {
                let mut text = format!("{sku} now costs {}", rp(variant.price));
                if let Some(reseller) = variant.reseller_price {
                    text.push_str(&format!(" (resellers {})", rp(reseller)));
                }
                self.say(reply, &format!("{text}."), None).await
            }
            Err(err) => self.say(reply, &format!("Not changed: {err}."), None).await,
        }
    }

    /// `/balance TELEGRAM_ID [adjust AMOUNT REASON]`: a member's balance, and an adjustment
    /// (negative to take away) posted once per message.
    async fn member_balance(&self, reply: &Reply, args: &str, key: &str, actor: &str) -> anyhow::Result<()> {
        const USAGE: &str = "Send /balance TELEGRAM_ID, or /balance TELEGRAM_ID adjust AMOUNT REASON.";
        let words: Vec<&str> = args.splitn(4, char::is_whitespace).collect();
        let Some(target) = words.first().and_then(|w| w.parse::<i64>().ok()) else {
            return self.say(reply, USAGE, None).await;
        };
        let Some(user) = self.shop().identity.telegram_account(target).await? else {
            return self.say(reply, "Nobody with that Telegram id has used the bot.", None).await;
        };
        let wallet = &self.shop().wallet;
        match words.as_slice() {
            [_] => {}
            [_, "adjust", amount, reason] if !reason.trim().is_empty() => {
                let Ok(amount) = amount.replace(['.', ','], "").parse::<i64>() else {
                    return self.say(reply, USAGE, None).await;
                };
                let money = crate::money::Money::new(amount, wallet.currency());
                if let Err(err) = wallet.adjust(key, user.id, money, reason.trim(), actor).await {
                    return self.say(reply, &format!("Not adjusted: {err}."), None).await;
                }
            }
            _ => return self.say(reply, USAGE, None).await,
        }
        let summary = wallet.summary(user.id).await?;
        self.say(reply, &format!("{} ({target}) has {}.", user.name, rp(summary.balance)), None).await
    }

    async fn refund(&self, reply: &Reply, order: &str, actor: &str) -> anyhow::Result<()> {
        let Ok(order) = order.parse::<OrderId>() else {
            return self.say(reply, "Send /refund followed by an order id (ord_…).", None).await;
        };
        match self.shop().checkout.refund_paid(order, actor).await {
            Ok(order) => {
                self.say(reply, &format!("Order {} is {} now.", order.id, order.status.as_str()), None).await
            }
            Err(err) => self.say(reply, &format!("Not refunded: {err}."), None).await,
        }
    }
}

impl Bot {
    /// One step of `/addproduct`: `answer` is what the admin sent ("" for `/skip`).
    pub(super) async fn product_step(
        &self,
        reply: &Reply,
        admin: &Principal,
        telegram_id: i64,
        step: Conversation,
        answer: &str,
        message: &Message,
    ) -> anyhow::Result<()> {
        let catalog = &self.shop().catalog;
        let (next, text) = match step {
            Conversation::ProductName if answer.is_empty() => {
                (Conversation::ProductName, "The product needs a name. What is it?".to_owned())
            }
            Conversation::ProductName => {
                let mut categories = catalog.categories().await?;
                categories.sort_by(|a, b| a.name.cmp(&b.name));
                let names: Vec<String> = categories.into_iter().map(|c| c.name).collect();
                let text = format!("Which category? Send one of: {}.", names.join(", "));
                (Conversation::ProductCategory { name: answer.to_owned() }, text)
            }
            Conversation::ProductCategory { name } => {
                let categories = catalog.categories().await?;
                match categories.iter().find(|c| c.name.eq_ignore_ascii_case(answer) || c.slug == answer) {
                    Some(category) => (
                        Conversation::ProductPrice { name, category: category.id },
                        format!("Its price in {}, such as 15000?", self.currency()),
                    ),
                    None => {
                        let text = format!("No category is called {answer:?}. Send one of the names above.");
                        (Conversation::ProductCategory { name }, text)
                    }
                }
            }
            Conversation::ProductPrice { name, category } => {
                match answer.replace(['.', ','], "").parse::<i64>() {
                    Ok(price) if price > 0 => (
                        Conversation::ProductDescription { name, category, price },
                        "A short description for buyers? (/skip for none)".to_owned(),
                    ),
                    _ => (
                        Conversation::ProductPrice { name, category },
                        "Send the price as a number, such as 15000.".to_owned(),
                    ),
                }
            }
            Conversation::ProductDescription { name, category, price } => {
                // Parsed as the API parses it, so the bot accepts exactly what the API does.
                let sku = format!("TG-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]).to_uppercase();
                let input = serde_json::json!({
                    "name": name, "description": answer, "kind": "digital", "status": "active",
                    "category_id": category,
                    "variants": [{"sku": sku, "price": {"amount": price, "currency": self.currency()}}],
                });
                let created = match serde_json::from_value::<NewProduct>(input) {
                    Ok(input) => catalog.create_product(Actor::Staff(admin.user), input).await,
                    Err(err) => {
                        self.set_conversation(telegram_id, &Conversation::Idle).await?;
                        return self
                            .say(reply, &format!("Not created: {err}. Start again with /addproduct."), None)
                            .await;
                    }
                };
                match created {
                    Ok(product) => {
                        self.audit(
                            telegram_id,
                            "addproduct",
                            serde_json::json!({ "product_id": product.id, "sku": sku }),
                        )
                        .await?;
                        let text = format!(
                            "Created {} ({sku}) at {}. Send a photo to show with it, or /skip. \
                             Then add its keys with /addstock {sku}.",
                            product.name,
                            rp(crate::money::Money::new(price, self.currency()))
                        );
                        (Conversation::ProductPhoto { product: product.id, sku }, text)
                    }
                    Err(err) => {
                        self.set_conversation(telegram_id, &Conversation::Idle).await?;
                        return self
                            .say(reply, &format!("Not created: {err}. Start again with /addproduct."), None)
                            .await;
                    }
                }
            }
            Conversation::ProductPhoto { product, sku } => {
                let photo = message.photo.as_ref().and_then(|sizes| sizes.last());
                match photo {
                    None if answer.is_empty() => {
                        (Conversation::Idle, format!("Done. Add its keys with /addstock {sku}."))
                    }
                    None => {
                        (Conversation::ProductPhoto { product, sku }, "Send a photo, or /skip.".to_owned())
                    }
                    Some(photo) => {
                        let most = self.shop().catalog.media_max_bytes();
                        if photo.file_size.unwrap_or(0) > most as i64 {
                            (
                                Conversation::ProductPhoto { product, sku },
                                "That photo is too large; send a smaller one, or /skip.".to_owned(),
                            )
                        } else {
                            let bytes = self.api().download(&photo.file_id, most).await?;
                            match self.add_photo(admin, product, bytes).await {
                                Ok(()) => (
                                    Conversation::Idle,
                                    format!("Photo added. Add its keys with /addstock {sku}."),
                                ),
                                Err(err) => (
                                    Conversation::ProductPhoto { product, sku },
                                    format!("Not added: {err}. Send another photo, or /skip."),
                                ),
                            }
                        }
                    }
                }
            }
            other => (other, "Use the buttons below, or send /help.".to_owned()),
        };
        self.set_conversation(telegram_id, &next).await?;
        self.say(reply, &text, None).await
    }

    /// Adds a photo sent in the chat to the product (Telegram sends photos as JPEG; the type is
    /// read from the bytes all the same).
    async fn add_photo(
        &self,
        admin: &Principal,
        product: ProductId,
        bytes: Vec<u8>,
    ) -> Result<(), CatalogError> {
        let declared = ImageType::sniff(&bytes).map(ImageType::content_type);
        self.shop().catalog.add_media(Actor::Staff(admin.user), product, declared, bytes.into()).await?;
        Ok(())
    }
}
