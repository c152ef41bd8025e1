//! The buyer's side of the storefront: browsing, the confirm step with the fee, paying by QRIS
//! or from the balance, orders and the balance with its deposits.

use serde_json::json;

use super::domain::{Callback, Keyboard, MOST_QUANTITY, PayWith, page_of};
use super::service::{
    Bot, Reply, countdown_caption, lines_text, main_menu, pager, price_for, rp, short, status_text,
};
use super::store::{self, PaymentMessage};
use crate::catalog::{CatalogError, ProductFilter, ProductKind, ProductStatus};
use crate::checkout::{CheckoutError, CheckoutRequest, ItemRequest};
use crate::identity::{Identity, Role, User};
use crate::ids::{CategoryId, OrderId, ProductId, VariantId};
use crate::money::Money;
use crate::orders::{OrderFilter, OrderStatus};
use crate::payments::{Payment, PaymentsError};
use crate::wallet::WalletError;

/// The amounts offered for a deposit, in rupiah.
const DEPOSIT_AMOUNTS: [i64; 4] = [10_000, 25_000, 50_000, 100_000];

impl Bot {
    // ---- browsing --------------------------------------------------------------------------

    pub(super) async fn categories(&self, reply: &Reply, _user: &User, page: u32) -> anyhow::Result<()> {
        let mut categories = self.shop().catalog.categories().await?;
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

    pub(super) async fn category(
        &self,
        reply: &Reply,
        user: &User,
        id: CategoryId,
        page: u32,
    ) -> anyhow::Result<()> {
        let filter = ProductFilter {
            status: Some(ProductStatus::Active),
            category: Some(id),
            ..ProductFilter::default()
        };
        let (products, _) = self.shop().catalog.list_products(&filter, 200).await?;
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

    pub(super) async fn product(&self, reply: &Reply, user: &User, id: ProductId) -> anyhow::Result<()> {
        let product = self.shop().catalog.product_for_shoppers(&id.to_string()).await?;
        let back = Keyboard::new().button("« Back", Callback::Category { id: product.category_id, page: 0 });
        if product.kind != ProductKind::Digital {
            // The bot delivers in the chat only: goods that travel are bought on the web shop,
            // where the address and the shipping method are asked.
            let text = format!(
                "{}\n\n{}\n\nThis item is shipped to you, so it cannot be bought in this chat: please order it \
                 from the shop at {}.",
                product.name,
                product.description,
                self.public_url(),
            );
            return self.show_product(reply, &product, &text, back).await;
        }
        let ids: Vec<VariantId> = product.variants.iter().map(|v| v.id).collect();
        let levels = self.shop().inventory.levels(&ids).await?;
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
        self.show_product(reply, &product, &text, keyboard).await
    }

    /// Shows a product: with its first photo when it has one (a new message, since a text
    /// message cannot be edited into a photo), else as text in place.
    async fn show_product(
        &self,
        reply: &Reply,
        product: &crate::catalog::Product,
        text: &str,
        keyboard: Keyboard,
    ) -> anyhow::Result<()> {
        let Some(media) = product.media.first() else {
            return self.say(reply, text, Some(keyboard.markup())).await;
        };
        let key = media.url.rsplit('/').next().unwrap_or_default();
        let (content_type, bytes) = self.shop().catalog.media_object(key).await?;
        self.api()
            .send_photo(reply.chat_id, (key, &content_type, bytes.to_vec()), text, Some(keyboard.markup()))
            .await?;
        Ok(())
    }

    pub(super) async fn quantities(
        &self,
        reply: &Reply,
        user: &User,
        variant: VariantId,
    ) -> anyhow::Result<()> {
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
    pub(super) async fn variant_for(
        &self,
        user: &User,
        variant: VariantId,
    ) -> anyhow::Result<(String, Money, i64)> {
        let shop = self.shop();
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
    pub(super) fn qris_method(&self) -> Option<&'static str> {
        let payments = &self.shop().payments;
        ["qris", "sandbox"].into_iter().find(|m| payments.provider_for(m, self.currency()).is_ok())
    }

    pub(super) async fn confirm(
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
        let balance = self.shop().wallet.summary(user.id).await?.balance;
        let mut text = format!("{product_name}\n{quantity} × {} = {}\n", rp(price), rp(subtotal));
        let mut keyboard = Keyboard::new();
        let nonce = rand::random::<u32>();
        if let Some(method) = self.qris_method() {
            let fee = self.shop().payments.fee(method, subtotal)?;
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
    pub(super) async fn pay(
        &self,
        reply: &Reply,
        user: &User,
        telegram_id: i64,
        variant: VariantId,
        quantity: u32,
        with: PayWith,
        idempotency_key: &str,
    ) -> anyhow::Result<()> {
        let shop = self.shop();
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
            shipping_method: None,
            delivery_slot_id: None,
            points: None,
            vouchers: Vec::new(),
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
        self.audit(
            telegram_id,
            "pay",
            json!({"order_id": order.id, "payment_id": placed.payment.id, "method": method, "quantity": quantity}),
        )
        .await?;
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
        if store::payment_message(self.db().reader(), &placed.payment.id.to_string()).await?.is_some() {
            // The same button pressed twice: the order and its QR code are already there.
            return Ok(());
        }
        self.send_qr(reply, telegram_id, &placed.payment, &summary).await
    }

    /// Sends a payment's QR code with what it is for, and keeps the message to edit later.
    pub(super) async fn send_qr(
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
        let now = self.clock().now();
        let caption = countdown_caption(&summary, payment.expires_at, now);
        let sent =
            self.api().send_photo(reply.chat_id, ("qris.png", "image/png", png), &caption, None).await?;
        let message = PaymentMessage {
            payment_id: payment.id.to_string(),
            telegram_id,
            chat_id: reply.chat_id,
            message_id: sent.message_id,
            summary,
            expires_at: payment.expires_at,
            state: "pending".into(),
        };
        store::insert_payment_message(self.db(), &message, now).await?;
        Ok(())
    }

    // ---- orders and balance -----------------------------------------------------------------

    pub(super) async fn orders(&self, reply: &Reply, user: &User, page: u32) -> anyhow::Result<()> {
        let filter = OrderFilter { buyer: Some(user.id), ..OrderFilter::default() };
        let (orders, _) = self.shop().orders.list(&filter, 60).await?;
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

    pub(super) async fn keys_again(
        &self,
        reply: &Reply,
        user: &User,
        order_id: OrderId,
        request: &str,
    ) -> anyhow::Result<()> {
        let order = self.shop().orders.order(order_id).await?;
        if order.buyer_id != user.id {
            return Err(CatalogError::ProductNotFound.into());
        }
        let now = self.clock().now();
        for line in &order.lines {
            let body = json!({"kind": "items", "order_id": order.id, "line_id": line.id, "again": true});
            store::enqueue(self.db(), &format!("again:{}:{request}", line.id), reply.chat_id, &body, now)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn balance(&self, reply: &Reply, user: &User) -> anyhow::Result<()> {
        let wallet = &self.shop().wallet;
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
                .map(|a| (rp(Money::new(*a, self.currency())), Callback::Deposit { amount: *a }))
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

    pub(super) async fn deposit(
        &self,
        reply: &Reply,
        user: &User,
        telegram_id: i64,
        amount: i64,
    ) -> anyhow::Result<()> {
        let Some(method) = self.qris_method() else {
            return self.say(reply, "Deposits by QRIS are not available.", None).await;
        };
        let amount = Money::new(amount, self.currency());
        let payment = match self.shop().wallet.deposit(user.id, amount, method).await {
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
        self.audit(telegram_id, "deposit", json!({"payment_id": payment.id, "amount": amount})).await?;
        let fresh = Reply { chat_id: reply.chat_id, editable: None };
        self.send_qr(&fresh, telegram_id, &payment, "Deposit to your balance").await
    }
}
