//! The Telegram storefront, driven as Telegram drives it: updates POSTed to
//! `/v1/webhooks/telegram` with the webhook secret, and everything the bot says read back from
//! a fake Bot API server.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use pasar::events::Subscriber;
use pasar::identity::Role;
use pasar::money::{Currency, Money};
use pasar::orders::OrderFilter;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

use crate::fakes::telegram::{Call, FakeTelegram, SECRET, Trouble};
use crate::helpers::{TestApp, eventually, spawn_app_with};

static NEXT_UPDATE: AtomicI64 = AtomicI64::new(1_000);

async fn shop_with_bot(configure: impl FnOnce(&mut pasar::config::Config)) -> (TestApp, FakeTelegram) {
    let telegram = FakeTelegram::start().await;
    let app = spawn_app_with(|config| {
        telegram.configure(config);
        configure(config);
    })
    .await;
    (app, telegram)
}

/// A Telegram user talking to the bot.
struct Buyer<'a> {
    app: &'a TestApp,
    telegram: &'a FakeTelegram,
    id: i64,
}

impl<'a> Buyer<'a> {
    fn new(app: &'a TestApp, telegram: &'a FakeTelegram, id: i64) -> Self {
        Self { app, telegram, id }
    }

    fn from(&self) -> Value {
        json!({"id": self.id, "is_bot": false, "first_name": "Budi", "username": format!("budi{}", self.id)})
    }

    async fn post(&self, update: &Value, secret: Option<&str>) -> StatusCode {
        let mut request =
            self.app.client.post(format!("{}/v1/webhooks/telegram", self.app.address)).json(update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.unwrap().status()
    }

    /// A text file sent to the bot, with an optional caption.
    async fn send_file(&self, file_id: &str, caption: Option<&str>) {
        let id = NEXT_UPDATE.fetch_add(1, Ordering::SeqCst);
        let mut update = json!({"update_id": id, "message": {
            "message_id": id, "from": self.from(), "chat": {"id": self.id, "type": "private"},
            "date": 1_700_000_000, "document": {"file_id": file_id, "file_name": "keys.txt", "file_size": 20}}});
        if let Some(caption) = caption {
            update["message"]["caption"] = caption.into();
        }
        assert_eq!(self.post(&update, Some(SECRET)).await, StatusCode::OK, "sending a file");
    }

    fn message(&self, text: &str) -> Value {
        let id = NEXT_UPDATE.fetch_add(1, Ordering::SeqCst);
        json!({"update_id": id, "message": {
            "message_id": id, "from": self.from(), "chat": {"id": self.id, "type": "private"},
            "date": 1_700_000_000, "text": text}})
    }

    async fn say(&self, text: &str) {
        assert_eq!(self.post(&self.message(text), Some(SECRET)).await, StatusCode::OK, "sending {text}");
    }

    /// A photo sent to the bot, with an optional caption.
    async fn send_photo(&self, file_id: &str) {
        let id = NEXT_UPDATE.fetch_add(1, Ordering::SeqCst);
        let update = json!({"update_id": id, "message": {
            "message_id": id, "from": self.from(), "chat": {"id": self.id, "type": "private"},
            "date": 1_700_000_000,
            "photo": [{"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 90},
                      {"file_id": file_id, "file_unique_id": "l", "width": 800, "height": 800, "file_size": 2_000}]}});
        assert_eq!(self.post(&update, Some(SECRET)).await, StatusCode::OK, "sending a photo");
    }

    /// Presses a button carrying `data` on a text message of the bot's.
    async fn press(&self, data: &str) -> String {
        let id = format!("cb{}", NEXT_UPDATE.load(Ordering::SeqCst));
        let update = json!({"update_id": NEXT_UPDATE.fetch_add(1, Ordering::SeqCst), "callback_query": {
            "id": id, "from": self.from(), "chat_instance": "1", "data": data,
            "message": {"message_id": 77, "chat": {"id": self.id, "type": "private"}, "date": 1_700_000_000,
                        "text": "menu"}}});
        assert_eq!(self.post(&update, Some(SECRET)).await, StatusCode::OK, "pressing {data}");
        id
    }

    /// Presses the button whose label contains `label` on the bot's latest keyboard.
    async fn press_labelled(&self, label: &str) -> String {
        let data = latest_button(self.telegram, label);
        self.press(&data).await
    }
}

/// The buttons (label, data) a call carried.
fn buttons(call: &Call) -> Vec<(String, String)> {
    let markup = match &call.params["reply_markup"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    markup["inline_keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                .map(|b| {
                    (b["text"].as_str().unwrap().to_owned(), b["callback_data"].as_str().unwrap().to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn latest_button(telegram: &FakeTelegram, label: &str) -> String {
    let calls = telegram.calls();
    for call in calls.iter().rev() {
        let found = buttons(call);
        if found.is_empty() {
            continue;
        }
        if let Some((_, data)) = found.iter().find(|(text, _)| text.contains(label)) {
            return data.clone();
        }
        panic!("the latest keyboard has no button {label:?}: {found:?}");
    }
    panic!("the bot showed no keyboard");
}

fn rp(amount: i64) -> String {
    pasar::money::format_for_display(Money::new(amount, Currency::IDR)).replace('\u{a0}', " ")
}

/// A digital product in a category of its own, with `keys` in stock; returns the variant id
/// and the product's name.
async fn digital_product(
    app: &TestApp,
    price: i64,
    reseller: Option<i64>,
    keys: &[&str],
) -> (String, String) {
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category: Value = app
        .post("/v1/admin/categories", token, &json!({"name": format!("Games {}", &suffix[24..])}))
        .await
        .json()
        .await
        .unwrap();
    let mut variant = json!({"sku": format!("KEY-{}", &suffix[24..]), "options": {"edition": "Standard"},
                             "price": {"amount": price, "currency": "IDR"}});
    if let Some(reseller) = reseller {
        variant["reseller_price"] = json!({"amount": reseller, "currency": "IDR"});
    }
    let name = format!("Game key {}", &suffix[24..]);
    let created = app
        .post(
            "/v1/admin/products",
            token,
            &json!({"name": name, "description": "A key for the game", "kind": "digital", "status": "active",
                    "category_id": category["id"], "variants": [variant]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    if !keys.is_empty() {
        let added = app
            .post(&format!("/v1/admin/variants/{variant}/digital-items"), token, &json!({"items": keys}))
            .await;
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    (variant, name)
}

/// Browses from the menu to the confirm step of `quantity` of the only product.
async fn browse_to_confirm(buyer: &Buyer<'_>, product_name: &str, quantity: u32) {
    buyer.say("/start").await;
    buyer.press("cats:0").await;
    buyer.press_labelled("Games").await;
    buyer.press_labelled(product_name).await;
    buyer.press_labelled("Buy").await;
    buyer.press_labelled(&quantity.to_string()).await;
}

async fn only_order_of(app: &TestApp, telegram_id: i64) -> (pasar::orders::Order, pasar::payments::Payment) {
    let user = app.state.identity.telegram_account(telegram_id).await.unwrap().expect("an account");
    let filter = OrderFilter { buyer: Some(user.id), ..OrderFilter::default() };
    let (orders, _) = app.state.orders.list(&filter, 10).await.unwrap();
    assert_eq!(orders.len(), 1, "one order");
    let payments = app.state.payments.for_reference(&orders[0].id.to_string()).await.unwrap();
    (orders[0].clone(), payments[0].clone())
}

#[tokio::test]
async fn an_update_without_the_right_secret_is_refused_and_does_nothing() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let buyer = Buyer::new(&app, &telegram, 5_001);
    let update = buyer.message("/start");
    assert_eq!(buyer.post(&update, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        buyer.post(&update, Some("wrong-secret-wrong-secret-wrong-secret")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(buyer.post(&update, Some(&SECRET[..SECRET.len() - 1])).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(telegram.calls().is_empty(), "the bot said something: {:?}", telegram.texts());
    assert!(app.state.identity.telegram_account(5_001).await.unwrap().is_none(), "no account was opened");
    // The same update with the secret is handled.
    assert_eq!(buyer.post(&update, Some(SECRET)).await, StatusCode::OK);
    telegram.wait_for("sendMessage", "Welcome").await;
}

#[tokio::test]
async fn the_webhook_is_not_there_without_a_bot_token() {
    let app = spawn_app_with(|_| {}).await;
    let response = app
        .client
        .post(format!("{}/v1/webhooks/telegram", app.address))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&json!({"update_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_first_start_opens_a_customer_account_once_and_a_retried_update_is_handled_once() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let buyer = Buyer::new(&app, &telegram, 5_002);
    let start = buyer.message("/start");
    assert_eq!(buyer.post(&start, Some(SECRET)).await, StatusCode::OK);
    let welcome = telegram.wait_for("sendMessage", "Welcome, Budi").await;
    assert!(buttons(&welcome).iter().any(|(text, _)| text.contains("Shop")), "the main menu is shown");
    let user = app.state.identity.telegram_account(5_002).await.unwrap().expect("an account was opened");
    assert_eq!(user.role, Role::Customer);
    // Telegram delivers the same update again: nothing more happens.
    assert_eq!(buyer.post(&start, Some(SECRET)).await, StatusCode::OK);
    buyer.say("/start").await;
    telegram.wait_for("sendMessage", "Welcome back").await;
    assert_eq!(telegram.calls_of("sendMessage").len(), 2, "{:?}", telegram.texts());
    let again = app.state.identity.telegram_account(5_002).await.unwrap().unwrap();
    assert_eq!(again.id, user.id, "one account per Telegram user");
    // The account opening is recorded with the Telegram user as the actor.
    let row = sqlx::query("SELECT actor FROM outbox_events WHERE event_type = 'user.telegram_linked'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("actor"), "telegram:5002");
}

#[tokio::test]
async fn a_new_buyer_pays_by_qris_and_receives_the_keys_once_per_line() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let (variant, name) =
        digital_product(&app, 15_000, None, &["KEY-AAAA-0001", "KEY-AAAA-0002", "KEY-AAAA-0003"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_003);
    browse_to_confirm(&buyer, &name, 2).await;

    // The confirm step shows the total and QRIS's fee before paying (0.7% + Rp310, rounded up).
    let fee = (30_000_i64 * 7 + 999) / 1000 + 310;
    let confirm = telegram.wait_for("editMessageText", "By QRIS").await;
    let text = confirm.params["text"].as_str().unwrap();
    assert!(text.contains(&format!("fee {}, total {}", rp(fee), rp(30_000 + fee))), "{text}");
    assert!(
        text.contains("3 left") || telegram.texts().iter().any(|t| t.contains("3 left")),
        "stock left is shown"
    );

    buyer.press_labelled("by QRIS").await;
    let photo = telegram.wait_for("sendPhoto", "Total to pay").await;
    let caption = photo.params["caption"].as_str().unwrap();
    assert!(caption.contains(&rp(30_000 + fee)) && caption.contains("10 min left"), "{caption}");
    let png = photo.file.as_ref().expect("the QR code is uploaded");
    assert!(png.starts_with(b"\x89PNG"), "the photo is a PNG");

    let (order, payment) = only_order_of(&app, 5_003).await;
    assert_eq!(order.lines[0].variant_id.to_string(), variant);
    assert_eq!(payment.fee.amount, fee);
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);

    let keys = telegram.wait_for("sendMessage", "Your items").await;
    let keys_text = keys.params["text"].as_str().unwrap();
    assert_eq!(keys_text.matches("KEY-AAAA-").count(), 2, "{keys_text}");
    assert_eq!(keys.params["chat_id"], 5_003);
    let receipt = telegram.wait_for("editMessageCaption", "PAID").await;
    assert_eq!(receipt.params["message_id"], photo_message_id(&telegram));

    // The order's delivery event handed over again (a replay, a crash before the relay marked
    // it): nothing is sent twice.
    let row =
        sqlx::query("SELECT id FROM outbox_events WHERE event_type = 'order.delivered' AND subject_id = $1")
            .bind(order.id.to_string())
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    let event_id = row.get::<String, _>("id").parse().unwrap();
    let (event, _) = pasar::events::find(app.state.db.reader(), event_id).await.unwrap().unwrap();
    let deliveries = pasar::telegram::Deliveries::new(app.state.telegram.clone().unwrap());
    deliveries.deliver(&event).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_items = telegram.texts().iter().filter(|t| t.starts_with("Your items")).count();
    assert_eq!(sent_items, 1, "{:?}", telegram.texts());

    // /orders offers the keys again, and says so.
    buyer.say("/orders").await;
    telegram.wait_for("sendMessage", "delivered").await;
    buyer.press_labelled("Send my items again").await;
    let again = telegram.wait_for("sendMessage", "Sent again").await;
    assert_eq!(again.params["text"].as_str().unwrap().matches("KEY-AAAA-").count(), 2);
}

fn photo_message_id(telegram: &FakeTelegram) -> Value {
    // The fake numbers messages in the order it sends them.
    let calls = telegram.calls();
    let sends: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.method.as_str(), "sendMessage" | "sendPhoto" | "sendDocument"))
        .collect();
    let position = sends.iter().position(|c| c.method == "sendPhoto").unwrap();
    json!(position as i64 + 1)
}

#[tokio::test]
async fn a_deposit_by_qris_then_paying_from_the_balance_and_a_short_balance_refused_clearly() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let (_, name) = digital_product(&app, 20_000, None, &["BAL-KEY-1", "BAL-KEY-2"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_004);

    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("from balance").await;
    telegram.wait_for("editMessageText", "does not cover").await;

    buyer.say("/balance").await;
    telegram.wait_for("sendMessage", "Your balance: Rp 0").await;
    buyer.press_labelled(&rp(25_000)).await;
    telegram.wait_for("sendPhoto", "Deposit to your balance").await;
    let user = app.state.identity.telegram_account(5_004).await.unwrap().unwrap();
    let (deposits, _) = app.state.wallet.deposits(user.id, None, 10).await.unwrap();
    assert_eq!(deposits.len(), 1);
    assert_eq!(app.press(&deposits[0].id.to_string(), "succeed").await.status(), StatusCode::OK);
    telegram.wait_for("editMessageCaption", "Added to your balance").await;
    assert_eq!(app.state.wallet.summary(user.id).await.unwrap().balance.amount, 25_000);

    buyer.press("cats:0").await;
    buyer.press_labelled("Games").await;
    buyer.press_labelled(&name).await;
    buyer.press_labelled("Buy").await;
    buyer.press_labelled("1").await;
    buyer.press_labelled("from balance").await;
    telegram.wait_for("editMessageText", "from your balance. Your items follow").await;
    let keys = telegram.wait_for("sendMessage", "Your items").await;
    assert!(keys.params["text"].as_str().unwrap().contains("BAL-KEY-"));
    assert_eq!(app.state.wallet.summary(user.id).await.unwrap().balance.amount, 5_000);
}

#[tokio::test]
async fn an_unpaid_qris_order_expires_the_buyer_is_told_and_the_stock_goes_back() {
    let (app, telegram) = shop_with_bot(|config| config.payment_ttl = 1).await;
    let (variant, name) = digital_product(&app, 10_000, None, &["EXP-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_005);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let level = app.state.inventory.level(variant.parse().unwrap()).await.unwrap();
    assert_eq!(level.available, 0, "the key is held while the buyer pays");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    app.sweep().await;
    telegram.wait_for("editMessageCaption", "EXPIRED").await;
    telegram.wait_for("sendMessage", "payment time ran out").await;
    let level = app.state.inventory.level(variant.parse().unwrap()).await.unwrap();
    assert_eq!(level.available, 1, "the stock went back");
}

#[tokio::test]
async fn a_linked_reseller_sees_reseller_prices() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let (_, name) = digital_product(&app, 50_000, Some(42_000), &["RS-1"]).await;
    let reseller = app.user_with_role("reseller@shop.test", Role::Reseller).await;
    let link = app.post("/v1/me/telegram-link", Some(&reseller.access_token), &json!({})).await;
    assert_eq!(link.status(), StatusCode::CREATED);
    let code = link.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();

    let buyer = Buyer::new(&app, &telegram, 5_006);
    buyer.say(&format!("/link {code}")).await;
    telegram.wait_for("sendMessage", "(reseller)").await;
    // A code works once.
    let other = Buyer::new(&app, &telegram, 5_106);
    other.say(&format!("/link {code}")).await;
    telegram.wait_for("sendMessage", "Not linked").await;

    buyer.press("cats:0").await;
    buyer.press_labelled("Games").await;
    buyer.press_labelled(&name).await;
    let product = telegram.wait_for("editMessageText", "Reseller prices").await;
    let text = product.params["text"].as_str().unwrap();
    assert!(text.contains(&rp(42_000)) && !text.contains(&rp(50_000)), "{text}");

    // A customer sees the price.
    let customer = Buyer::new(&app, &telegram, 5_007);
    customer.say("/start").await;
    customer.press("cats:0").await;
    customer.press_labelled("Games").await;
    let listing = telegram.calls().last().cloned().unwrap();
    assert!(
        buttons(&listing).iter().any(|(label, _)| label.contains(&rp(50_000))),
        "{:?}",
        buttons(&listing)
    );
}

#[tokio::test]
async fn a_stale_or_unknown_button_is_answered_kindly_and_every_press_is_answered() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let (_, name) = digital_product(&app, 10_000, None, &["ST-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_008);
    buyer.say("/start").await;
    let unknown = buyer.press("buy:17").await;
    let answer = eventually("the press to be answered", || async {
        telegram
            .calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.params["callback_query_id"] == unknown)
    })
    .await;
    assert!(answer.params["text"].as_str().unwrap().contains("out of date"));

    // A product taken off sale after its button was shown.
    buyer.press("cats:0").await;
    buyer.press_labelled("Games").await;
    let product_button = latest_button(&telegram, &name);
    let admin = app.admin().await;
    let product_id = product_button.trim_start_matches("prd:");
    let archived = app
        .patch(
            &format!("/v1/admin/products/{product_id}"),
            Some(&admin.access_token),
            &json!({"status": "archived"}),
        )
        .await;
    assert_eq!(archived.status(), StatusCode::OK);
    buyer.press(&product_button).await;
    telegram.wait_for("editMessageText", "no longer available").await;

    let answered = telegram.calls_of("answerCallbackQuery").len();
    assert_eq!(answered, 4, "every press was answered once: {:?}", telegram.texts());
}

#[tokio::test]
async fn telegrams_flood_control_is_honoured_before_trying_again() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    telegram.trouble("sendMessage", [Trouble::RetryAfter(1), Trouble::Status(502)]);
    let buyer = Buyer::new(&app, &telegram, 5_009);
    buyer.say("/start").await;
    let sends = telegram.calls_of("sendMessage");
    assert_eq!(sends.len(), 3, "a 429, a 502, then the message");
    assert!(sends[1].at.duration_since(sends[0].at) >= Duration::from_millis(950), "retry_after was waited");
    assert!(sends[2].params["text"].as_str().unwrap().contains("Welcome"));
}

#[tokio::test]
async fn the_bot_polls_for_updates_in_polling_mode() {
    let telegram = FakeTelegram::start().await;
    let app = spawn_app_with(|config| {
        telegram.configure(config);
        config.telegram_mode = Some(pasar::config::TelegramMode::Polling);
    })
    .await;
    let buyer = Buyer::new(&app, &telegram, 5_010);
    telegram.queue_update(buyer.message("/start"));
    telegram.wait_for("sendMessage", "Welcome").await;
    assert!(!telegram.calls_of("deleteWebhook").is_empty(), "a webhook would stop getUpdates");
    assert_eq!(telegram.wrong_token_calls(), 0);
}

#[tokio::test]
async fn the_qris_countdown_is_edited_in_place_while_the_buyer_has_not_paid() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_countdown_secs = 1).await;
    let (_, name) = digital_product(&app, 10_000, None, &["CD-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_011);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "10 min left").await;
    let tick = telegram.wait_for("editMessageCaption", "min left").await;
    assert_eq!(tick.params["message_id"], photo_message_id(&telegram), "the QR message itself is edited");
}

#[tokio::test]
async fn keys_paid_for_before_a_crash_are_delivered_once_after_the_restart() {
    // The relay is idle for a minute: the payment's events stay in the outbox, as they would
    // if the process died right after the payment committed.
    let (app, telegram) = shop_with_bot(|config| config.relay_poll_ms = 60_000).await;
    let (_, name) = digital_product(&app, 10_000, None, &["CRASH-KEY-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_012);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let (order, payment) = only_order_of(&app, 5_012).await;
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);
    eventually("the order to be paid", || async {
        let order = app.state.orders.order(order.id).await.unwrap();
        (order.status != pasar::orders::OrderStatus::PendingPayment).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !telegram.texts().iter().any(|t| t.contains("CRASH-KEY-1")),
        "nothing was sent before the restart"
    );

    let mut app = app;
    app.config.relay_poll_ms = 25;
    let app = app.restart_after(Duration::from_secs(1)).await;
    telegram.wait_for("sendMessage", "CRASH-KEY-1").await;
    telegram.wait_for("editMessageCaption", "PAID").await;
    let app = app.restart_after(Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = telegram.texts().iter().filter(|t| t.contains("CRASH-KEY-1")).count();
    assert_eq!(sent, 1, "{:?}", telegram.texts());
    drop(app);
}

async fn sku_of(app: &TestApp, variant: &str) -> String {
    let found = app.state.catalog.variants_for_sale(&[variant.parse().unwrap()]).await.unwrap();
    found[0].sku.clone()
}

#[tokio::test]
async fn admin_commands_work_for_a_whitelisted_admin_and_are_unknown_to_a_customer() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![7_001]).await;
    let (variant, name) = digital_product(&app, 10_000, None, &["ADM-0"]).await;
    let sku = sku_of(&app, &variant).await;
    let admin = Buyer::new(&app, &telegram, 7_001);
    let customer = Buyer::new(&app, &telegram, 7_002);
    customer.say("/start").await;

    for command in [
        format!("/stock {sku}"),
        format!("/addstock {sku}\nNOPE-1"),
        "/setrole 7002 admin".to_owned(),
        "/order ord_x".to_owned(),
        "/refund ord_x".to_owned(),
        format!("/price {sku} 1"),
        "/broadcast all hello".to_owned(),
        "/stats".to_owned(),
        "/ban 7001".to_owned(),
        "/addproduct".to_owned(),
    ] {
        let before = telegram.calls().len();
        customer.say(&command).await;
        let answer = telegram.calls()[before..].iter().find(|c| c.method == "sendMessage").cloned().unwrap();
        assert!(
            answer.params["text"].as_str().unwrap().starts_with("Unknown command"),
            "{command}: {answer:?}"
        );
    }
    assert_eq!(app.state.inventory.level(variant.parse().unwrap()).await.unwrap().available, 1);
    // `/orders all` is a customer's own list, not the shop's.
    customer.say("/orders all").await;
    telegram.wait_for("sendMessage", "You have no orders yet").await;

    // Keys pasted under the command: duplicates reported, the rest added.
    admin.say(&format!("/addstock {sku}\nADM-1\nADM-2\nADM-1\nADM-0")).await;
    let added = telegram.wait_for("sendMessage", "Added 2 keys").await;
    assert!(added.params["text"].as_str().unwrap().contains("2 duplicates"), "{added:?}");
    // Keys as a text file after the command.
    admin.say(&format!("/addstock {sku}")).await;
    telegram.wait_for("sendMessage", "one per line").await;
    telegram.add_file("file-1", b"ADM-3\r\nADM-4\n\n");
    admin.send_file("file-1", None).await;
    telegram.wait_for("sendMessage", "Added 2 keys; 5 available").await;
    // Or as a file captioned with the command.
    telegram.add_file("file-2", b"ADM-5\n");
    admin.send_file("file-2", Some(&format!("/addstock {sku}"))).await;
    telegram.wait_for("sendMessage", "Added 1 keys; 6 available").await;
    admin.say(&format!("/stock {sku}")).await;
    telegram.wait_for("sendMessage", &format!("{sku}: 6 available")).await;
    let by_admin = sqlx::query("SELECT COUNT(*) AS n FROM outbox_events WHERE actor = 'telegram:7001'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get::<i64, _>("n");
    assert!(by_admin >= 3, "the stock additions are recorded with the Telegram admin as actor");

    admin.say("/setrole 7002 reseller").await;
    telegram.wait_for("sendMessage", "is now reseller").await;
    // The role change is audited in the Telegram admin's name (the service records it in the
    // account's).
    let audited = sqlx::query(
        "SELECT payload FROM outbox_events WHERE event_type = 'telegram.action' AND actor = 'telegram:7001'",
    )
    .fetch_all(app.state.db.reader())
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.get::<String, _>("payload"))
    .collect::<Vec<_>>();
    assert!(audited.iter().any(|p| p.contains("/setrole") && p.contains("7002 reseller")), "{audited:?}");
    assert!(audited.iter().all(|p| !p.contains("ADM-1")), "keys added are not written in the audit");
    let user = app.state.identity.telegram_account(7_002).await.unwrap().unwrap();
    assert_eq!(user.role, Role::Reseller);
    admin.say("/setrole 7002 admin").await;
    telegram.wait_for("sendMessage", "Refused").await;

    admin.say(&format!("/price {sku} 12.000 reseller 9000")).await;
    telegram.wait_for("sendMessage", &format!("now costs {} (resellers {})", rp(12_000), rp(9_000))).await;
    admin.say(&format!("/price {sku} 10000")).await;
    telegram.wait_for("sendMessage", &format!("now costs {} (resellers", rp(10_000))).await;
    let sale = app.state.catalog.variants_for_sale(&[variant.parse().unwrap()]).await.unwrap();
    assert_eq!((sale[0].price.amount, sale[0].reseller_price.map(|p| p.amount)), (10_000, Some(9_000)));

    admin.say("/balance 7002 adjust 5000 welcome gift").await;
    telegram.wait_for("sendMessage", &format!("has {}", rp(5_000))).await;
    assert_eq!(app.state.wallet.summary(user.id).await.unwrap().balance.amount, 5_000);
    admin.say("/balance 7002 adjust -2000 correction").await;
    telegram.wait_for("sendMessage", &format!("has {}", rp(3_000))).await;
    admin.say("/balance 7002").await;
    assert_eq!(app.state.wallet.summary(user.id).await.unwrap().balance.amount, 3_000);

    // The customer buys; the admin looks the order up and refunds it.
    browse_to_confirm(&customer, &name, 1).await;
    customer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let (order, payment) = only_order_of(&app, 7_002).await;
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);
    telegram.wait_for("sendMessage", "Your items").await;
    admin.say("/orders all").await;
    telegram.wait_for("sendMessage", &order.id.to_string()).await;
    admin.say(&format!("/order {}", order.id)).await;
    telegram.wait_for("sendMessage", "status delivered").await;
    admin.say(&format!("/refund {}", order.id)).await;
    telegram.wait_for("sendMessage", "is refunded now").await;
    let refunded = app.state.orders.order(order.id).await.unwrap();
    assert_eq!(refunded.status, pasar::orders::OrderStatus::Refunded);
    admin.say("/ban 7002").await;
    telegram.wait_for("sendMessage", "7002 is banned").await;
    customer.say("/orders").await;
    telegram.wait_for("sendMessage", "You cannot use this shop").await;
    let pressed = customer.press("cats:0").await;
    let answer = telegram
        .calls_of("answerCallbackQuery")
        .into_iter()
        .find(|c| c.params["callback_query_id"] == pressed);
    assert!(answer.unwrap().params["text"].as_str().unwrap().contains("cannot use"));
    admin.say("/unban 7002").await;
    telegram.wait_for("sendMessage", "7002 is no longer banned").await;
    let welcomed = telegram.texts().iter().filter(|t| t.starts_with("Welcome back")).count();
    customer.say("/start").await;
    assert_eq!(telegram.texts().iter().filter(|t| t.starts_with("Welcome back")).count(), welcomed + 1);

    admin.say("/stats").await;
    let stats = telegram.wait_for("sendMessage", "Shop figures").await;
    let stats = stats.params["text"].as_str().unwrap();
    assert!(stats.contains("7 days: 1 orders"), "{stats}");
    assert!(stats.contains("3 new users") && stats.contains("payments succeeded 100%"), "{stats}");
}

#[tokio::test]
async fn a_user_going_too_fast_is_told_once_and_the_rest_is_not_done() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_actions_per_minute = 3).await;
    let buyer = Buyer::new(&app, &telegram, 5_013);
    for _ in 0..5 {
        buyer.say("/help").await;
    }
    let pressed = buyer.press("menu").await;
    let texts = telegram.texts();
    assert_eq!(texts.iter().filter(|t| t.starts_with("/start - the main menu")).count(), 3, "{texts:?}");
    assert_eq!(
        texts.iter().filter(|t| t.contains("a little fast")).count(),
        2,
        "told once, and the press answered: {texts:?}"
    );
    let answer = telegram
        .calls_of("answerCallbackQuery")
        .into_iter()
        .find(|c| c.params["callback_query_id"] == pressed);
    assert!(answer.unwrap().params["text"].as_str().unwrap().contains("a little fast"));
}

#[tokio::test]
async fn admins_are_alerted_in_telegram_when_stock_runs_low() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![7_101]).await;
    let (variant, name) = digital_product(&app, 10_000, None, &["LOW-1", "LOW-2"]).await;
    let sku = sku_of(&app, &variant).await;
    let admin = app.admin().await;
    let threshold = app
        .put(
            &format!("/v1/admin/variants/{variant}/stock/threshold"),
            Some(&admin.access_token),
            &json!({"low_stock_threshold": 2}),
        )
        .await;
    assert_eq!(threshold.status(), StatusCode::OK);
    let buyer = Buyer::new(&app, &telegram, 5_014);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    let alert = telegram.wait_for("sendMessage", "Low stock").await;
    assert_eq!(alert.params["chat_id"], 7_101);
    assert!(alert.params["text"].as_str().unwrap().contains(&sku));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(telegram.texts().iter().filter(|t| t.contains("Low stock")).count(), 1);
}

/// Opens accounts for Telegram users `ids` (as their first /start would).
async fn telegram_users(app: &TestApp, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        app.state.identity.open_telegram_account(id, "Subscriber").await.unwrap();
    }
}

/// How many times each chat received `text` successfully.
fn received(telegram: &FakeTelegram, text: &str) -> std::collections::HashMap<i64, usize> {
    let mut counts = std::collections::HashMap::new();
    for call in telegram.calls_of("sendMessage") {
        if call.status == 200 && call.params["text"] == text {
            *counts.entry(call.params["chat_id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_broadcast_reaches_each_user_once_through_429s_within_the_limits_and_skips_who_blocked_the_bot() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![9_000]).await;
    let users: Vec<i64> = (1..=200).map(|i| 100_000 + i).collect();
    telegram_users(&app, users.iter().copied()).await;
    for blocked in &users[..5] {
        telegram.block(*blocked);
    }
    let admin = Buyer::new(&app, &telegram, 9_000);
    admin.say("/broadcast all Flash sale tonight!").await;
    telegram.wait_for("sendMessage", "Broadcast queued for 201 users").await;
    eventually("50 messages out", || async {
        (received(&telegram, "Flash sale tonight!").len() >= 50).then_some(())
    })
    .await;
    telegram.trouble("sendMessage", [Trouble::RetryAfter(1), Trouble::Status(502)]);
    let done = telegram_wait_long(&telegram, "Broadcast finished").await;
    assert!(done.contains("196 sent, 5 failed"), "{done}");
    // The status message was edited as it went, and ends with the counts.
    let status = telegram.wait_for("sendMessage", "Broadcast queued for 201").await.message_id;
    let edits: Vec<String> = telegram
        .calls_of("editMessageText")
        .into_iter()
        .filter(|c| c.params["message_id"].as_i64() == status)
        .map(|c| c.params["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(edits.iter().any(|t| t.contains("sent") && t.contains("to go")), "{edits:?}");
    eventually("the status message to show the end", || async {
        let last = telegram
            .calls_of("editMessageText")
            .into_iter()
            .rfind(|c| c.params["message_id"].as_i64() == status)?;
        last.params["text"].as_str().unwrap().contains("finished: 196 sent, 5 failed").then_some(())
    })
    .await;
    let counts = received(&telegram, "Flash sale tonight!");
    assert_eq!(counts.len(), 196);
    assert!(counts.values().all(|n| *n == 1), "nobody got it twice");
    assert!(users[..5].iter().all(|u| !counts.contains_key(u)));
    // Never more than 30 requests in any second.
    let times: Vec<_> = telegram.calls_of("sendMessage").iter().map(|c| c.at).collect();
    for (i, start) in times.iter().enumerate() {
        let within =
            times[i..].iter().take_while(|t| t.duration_since(*start) < Duration::from_secs(1)).count();
        assert!(within <= 30, "{within} messages within one second");
    }
    // The next broadcast skips those who blocked the bot.
    admin.say("/broadcast customer Last call").await;
    telegram.wait_for("sendMessage", "queued for 196 users (5 who blocked the bot skipped)").await;
}

/// Like `wait_for`, for a long run (a broadcast): at most 60 s; the message's text.
async fn telegram_wait_long(telegram: &FakeTelegram, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(text) = telegram.texts().into_iter().find(|t| t.contains(needle)) {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "no message containing {needle:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_broadcast_cut_by_a_restart_resumes_without_sending_anything_twice() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![9_001]).await;
    telegram_users(&app, (1..=60).map(|i| 200_000 + i)).await;
    let admin = Buyer::new(&app, &telegram, 9_001);
    admin.say("/broadcast all New stock is in").await;
    telegram.wait_for("sendMessage", "queued for 61 users").await;
    eventually("20 messages out", || async {
        (received(&telegram, "New stock is in").len() >= 20).then_some(())
    })
    .await;
    let app = app.restart_after(Duration::from_secs(61)).await;
    let before_restart = telegram.calls_of("sendMessage").len();
    let done = telegram_wait_long(&telegram, "Broadcast finished").await;
    assert!(done.contains("61 sent, 0 failed"), "{done}");
    assert!(
        telegram.calls_of("sendMessage").len() > before_restart + 1,
        "the restarted server sent the rest"
    );
    let counts = received(&telegram, "New stock is in");
    assert_eq!(counts.len(), 61);
    assert!(counts.values().all(|n| *n == 1), "nobody got it twice: {counts:?}");
    drop(app);
}

#[tokio::test]
async fn with_pakasir_the_qr_photo_scans_to_the_qris_string_and_paying_at_pakasir_delivers_the_keys() {
    let pakasir = crate::fakes::pakasir::FakePakasir::start().await;
    let (app, telegram) = shop_with_bot(|config| pakasir.configure(config)).await;
    let (_, name) = digital_product(&app, 99_000, None, &["PKS-KEY-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_015);
    browse_to_confirm(&buyer, &name, 1).await;
    // Pakasir's documented example: 99000 → fee 1003, total 100003.
    telegram.wait_for("editMessageText", &format!("fee {}, total {}", rp(1_003), rp(100_003))).await;
    buyer.press_labelled("by QRIS").await;
    let photo = telegram.wait_for("sendPhoto", "Total to pay").await;
    let (_, payment) = only_order_of(&app, 5_015).await;
    assert_eq!(payment.method, "qris");
    let at_pakasir = pakasir.transaction(&payment.id.to_string()).expect("a transaction at Pakasir");
    assert_eq!(crate::pakasir::scan(photo.file.as_ref().unwrap()), at_pakasir.payment_number);
    let answer = pakasir.pay(&format!("{}/v1/webhooks/pakasir", app.address), &payment.id.to_string()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    telegram.wait_for("sendMessage", "PKS-KEY-1").await;
    telegram.wait_for("editMessageCaption", "PAID").await;
}

#[tokio::test]
async fn when_qris_is_down_the_buyer_is_offered_the_balance_and_the_admins_are_told_once() {
    let pakasir = crate::fakes::pakasir::FakePakasir::start().await;
    let (app, telegram) = shop_with_bot(|config| {
        pakasir.configure(config);
        config.telegram_admin_ids = vec![7_201];
    })
    .await;
    let (_, name) = digital_product(&app, 10_000, None, &["DOWN-1"]).await;
    pakasir.trouble("create", std::iter::repeat_n(crate::fakes::pakasir::Trouble::Status(500), 40));
    let buyer = Buyer::new(&app, &telegram, 5_016);
    browse_to_confirm(&buyer, &name, 1).await;
    for _ in 0..6 {
        buyer.press_labelled("by QRIS").await;
        telegram.wait_for("editMessageText", "still pay from your balance").await;
        // Back to a fresh confirm screen.
        buyer.press_labelled("Cancel").await;
        buyer.press("cats:0").await;
        buyer.press_labelled("Games").await;
        buyer.press_labelled(&name).await;
        buyer.press_labelled("Buy").await;
        buyer.press_labelled("1").await;
    }
    let alert = telegram.wait_for("sendMessage", "is not answering").await;
    assert_eq!(alert.params["chat_id"], 7_201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(telegram.texts().iter().filter(|t| t.contains("is not answering")).count(), 1, "told once");
    // Pressing the same Pay button again after a failure does not show a dead payment.
    let stale_pay = latest_button(&telegram, "by QRIS");
    buyer.press(&stale_pay).await;
    buyer.press(&stale_pay).await;
    assert!(telegram.calls_of("sendPhoto").is_empty());
}

/// Redis at 127.0.0.1:6379, and a key prefix no other test uses.
async fn redis() -> (redis::aio::MultiplexedConnection, String) {
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let connection = client.get_multiplexed_async_connection().await.expect("Redis runs at 127.0.0.1:6379");
    (connection, format!("pasar-test-{}:", uuid::Uuid::now_v7().simple()))
}

#[tokio::test]
async fn with_redis_a_conversation_lives_there_for_a_day_and_another_instance_carries_it_on() {
    let (mut connection, prefix) = redis().await;
    let (app, telegram) = shop_with_bot(|config| {
        config.redis_url = Some("redis://127.0.0.1:6379".into());
        config.redis_key_prefix = prefix.clone();
    })
    .await;
    let buyer = Buyer::new(&app, &telegram, 5_301);
    buyer.say("/balance").await;
    buyer.press_labelled("Another amount").await;
    telegram.wait_for("editMessageText", "How much would you like to deposit").await;

    let key = format!("{prefix}telegram:conversation:5301");
    let state: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap();
    assert_eq!(state.as_deref(), Some(r#"{"flow":"deposit_amount"}"#));
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut connection).await.unwrap();
    assert!((86_000..=86_400).contains(&ttl), "a day to live: {ttl}");
    let in_database = sqlx::query("SELECT COUNT(*) AS n FROM telegram_conversations")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get::<i64, _>("n");
    assert_eq!(in_database, 0, "nothing kept in the database");

    // The amount reaches another instance behind the load balancer: it knows the flow.
    let other = app.another_instance().await;
    let on_other = Buyer::new(&other, &telegram, 5_301);
    on_other.say("20000").await;
    telegram.wait_for("sendPhoto", "Deposit to your balance").await;
    let state: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap();
    assert_eq!(state, None, "the flow is over, and forgotten");
}

#[tokio::test]
async fn with_redis_the_action_limit_is_counted_across_instances() {
    let (mut connection, prefix) = redis().await;
    let (app, telegram) = shop_with_bot(|config| {
        config.redis_url = Some("redis://127.0.0.1:6379".into());
        config.redis_key_prefix = prefix.clone();
        config.telegram_actions_per_minute = 3;
    })
    .await;
    let other = app.another_instance().await;
    // Counts are per wall-clock minute: start well inside one.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let here = Buyer::new(&app, &telegram, 5_302);
    let there = Buyer::new(&other, &telegram, 5_302);
    here.say("/help").await;
    there.say("/help").await;
    here.say("/help").await;
    there.say("/help").await;
    let texts = telegram.texts();
    assert_eq!(texts.iter().filter(|t| t.starts_with("/start - the main menu")).count(), 3, "{texts:?}");
    assert_eq!(texts.iter().filter(|t| t.contains("a little fast")).count(), 1, "{texts:?}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}telegram:actions:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "one count for the user: {keys:?}");
}

#[tokio::test]
async fn an_admin_adds_a_product_step_by_step_with_a_photo_that_buyers_then_see() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![7_301]).await;
    let (_, _) = digital_product(&app, 10_000, None, &[]).await;
    let category = app.state.catalog.categories().await.unwrap()[0].name.clone();
    let admin = Buyer::new(&app, &telegram, 7_301);
    admin.say("/addproduct").await;
    telegram.wait_for("sendMessage", "What is its name").await;
    admin.say("Netflix 1 month").await;
    telegram.wait_for("sendMessage", &format!("Send one of: {category}")).await;
    admin.say("Movies").await;
    telegram.wait_for("sendMessage", "No category is called \"Movies\"").await;
    admin.say(&category.to_uppercase()).await;
    telegram.wait_for("sendMessage", "Its price").await;
    admin.say("35.000").await;
    telegram.wait_for("sendMessage", "A short description").await;
    admin.say("One profile, 30 days").await;
    let created = telegram.wait_for("sendMessage", "Created Netflix 1 month").await;
    let sku = created.params["text"].as_str().unwrap().split(['(', ')']).nth(1).unwrap().to_owned();
    assert!(sku.starts_with("TG-"), "{sku}");
    let photo = pasar::payments::qr::png("a product photo").unwrap();
    telegram.add_file("photo-1", &photo);
    admin.send_photo("photo-1").await;
    telegram.wait_for("sendMessage", "Photo added").await;
    admin.say(&format!("/addstock {sku}\nNFX-1")).await;
    telegram.wait_for("sendMessage", "Added 1 keys").await;
    // The description and the photo may be skipped; `/skip` elsewhere is no command.
    admin.say("/addproduct").await;
    admin.say("Spotify 1 month").await;
    admin.say(&category).await;
    admin.say("20000").await;
    admin.say("/skip").await;
    telegram.wait_for("sendMessage", "Created Spotify 1 month").await;
    admin.say("/skip").await;
    telegram.wait_for("sendMessage", "Done. Add its keys").await;
    admin.say("/skip").await;
    let last = telegram.calls_of("sendMessage").pop().unwrap();
    assert!(last.params["text"].as_str().unwrap().starts_with("Unknown command"), "{last:?}");

    let variant = app.state.catalog.variant_by_sku(&sku).await.unwrap().expect("the variant exists");
    let sale = app.state.catalog.variants_for_sale(&[variant]).await.unwrap();
    assert_eq!(sale[0].price.amount, 35_000);
    let by_admin = sqlx::query(
        "SELECT COUNT(*) AS n FROM outbox_events WHERE event_type = 'telegram.action' AND actor = 'telegram:7301'",
    )
    .fetch_one(app.state.db.reader())
    .await
    .unwrap()
    .get::<i64, _>("n");
    assert!(by_admin >= 2, "/addproduct and /addstock are audited in the Telegram admin's name");

    // A buyer sees the photo with the product's text and its buttons.
    let buyer = Buyer::new(&app, &telegram, 5_302);
    buyer.say("/start").await;
    buyer.press("cats:0").await;
    buyer.press_labelled(&category).await;
    buyer.press_labelled("Netflix 1 month").await;
    let shown = telegram.wait_for("sendPhoto", "One profile, 30 days").await;
    assert_eq!(shown.file.as_deref(), Some(photo.as_slice()), "the product's own photo");
    assert!(shown.params["caption"].as_str().unwrap().contains(&rp(35_000)));
    assert!(buttons(&shown).iter().any(|(label, _)| label.starts_with("Buy")), "{:?}", buttons(&shown));
    // Pressing Buy under the photo answers with a new message (a photo's text cannot be edited).
    buyer.press_labelled("Buy").await;
    telegram.wait_for("editMessageText", "How many").await;
}

#[tokio::test]
async fn a_file_item_is_added_sealed_refused_twice_and_delivered_as_a_document() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let (variant, name) = digital_product(&app, 15_000, None, &[]).await;
    let admin = app.admin().await;
    let account = b"email: buyer@example.com\npassword: s3cret-Pa55\n".to_vec();
    let upload = |file_name: &str, bytes: Vec<u8>| {
        app.request(
            reqwest::Method::POST,
            &format!("/v1/admin/variants/{variant}/digital-items/files?file_name={file_name}"),
            Some(&admin.access_token),
        )
        .header("content-type", "text/plain")
        .body(bytes)
        .send()
    };
    let added = upload("account-1.txt", account.clone()).await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    assert_eq!((added["added"].as_i64(), added["level"]["available"].as_i64()), (Some(1), Some(1)));
    let again: Value = upload("copy.txt", account.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(again["duplicates"], json!(["copy.txt"]), "the same bytes are one item");
    let refused = upload("a%2Fb.txt", b"x".to_vec()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let sealed =
        sqlx::query("SELECT sealed, kind FROM digital_items").fetch_all(app.state.db.reader()).await.unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].get::<String, _>("kind"), "file");
    assert!(!sealed[0].get::<String, _>("sealed").contains("s3cret"), "sealed at rest");

    let buyer = Buyer::new(&app, &telegram, 5_303);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let (order, payment) = only_order_of(&app, 5_303).await;
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);
    let document = telegram.wait_for("sendDocument", "Your items").await;
    assert_eq!(document.file.as_deref(), Some(account.as_slice()));
    assert_eq!(document.file_name.as_deref(), Some("account-1.txt"));
    assert_eq!(document.params["chat_id"], 5_303);
    let queued = sqlx::query("SELECT COUNT(*) AS n FROM telegram_sends WHERE dedupe_key LIKE 'file:%'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get::<i64, _>("n");
    assert_eq!(queued, 1, "the file is queued on its own, once");

    // The order shows the file to the admin (and its buyer), in base64.
    let shown: Value = app
        .get(&format!("/v1/admin/orders/{}", order.id), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    let file = &shown["lines"][0]["files"][0];
    assert_eq!(file["file_name"], "account-1.txt");
    use base64::Engine;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(file["content_base64"].as_str().unwrap()).unwrap();
    assert_eq!(bytes, account);

    // Asked for again, the same file comes again, said so.
    buyer.say("/orders").await;
    buyer.press_labelled("Send my items again").await;
    let again = telegram.wait_for("sendDocument", "Sent again").await;
    assert_eq!(again.file.as_deref(), Some(account.as_slice()));
    assert_eq!(telegram.calls_of("sendDocument").len(), 2);
}

#[tokio::test]
async fn replies_to_one_chat_are_paced_to_about_one_a_second_after_a_short_burst() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let buyer = Buyer::new(&app, &telegram, 5_304);
    for _ in 0..6 {
        buyer.say("/help").await;
    }
    let times: Vec<_> = telegram.calls_of("sendMessage").iter().map(|c| c.at).collect();
    assert_eq!(times.len(), 6);
    for (i, start) in times.iter().enumerate() {
        let within =
            // A little under a second: the fake times arrivals, and the first request also
            // opened the connection.
            times[i..].iter().take_while(|t| t.duration_since(*start) < Duration::from_millis(900)).count();
        assert!(within <= 3, "{within} messages to one chat within a second");
    }
    assert!(
        times[5].duration_since(times[0]) >= Duration::from_millis(2_900),
        "one a second after the burst"
    );
}

#[tokio::test]
async fn admins_are_alerted_in_telegram_when_a_payout_fails() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![7_302]).await;
    let payee = pasar::ids::UserId::new();
    let amount = Money::new(250_000, Currency::IDR);
    app.state
        .wallet
        .adjust(&format!("fund:{payee}"), payee, amount, "funds to withdraw", "system")
        .await
        .unwrap();
    let destination = serde_json::from_value(
        json!({"bank_code": "bca", "account_number": "1234-5678-90", "account_name": "Ana Suryani"}),
    )
    .unwrap();
    let payout = app.state.wallet.withdraw(payee, amount, destination, "sandbox").await.unwrap();
    let failed = app
        .request(reqwest::Method::POST, &format!("/sandbox/payouts/{}/fail", payout.id), None)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::OK);
    let alert = telegram.wait_for("sendMessage", "failed at sandbox").await;
    assert_eq!(alert.params["chat_id"], 7_302);
    let text = alert.params["text"].as_str().unwrap();
    assert!(
        text.contains(&payout.id.to_string()) && text.contains(&rp(250_000)) && text.contains("Ana Suryani"),
        "{text}"
    );
    assert!(!text.contains("1234"), "no account number in the chat");
}

#[tokio::test]
async fn a_shipped_product_is_shown_but_can_only_be_bought_outside_the_chat() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let admin = app.admin().await;
    let variants = app.product(&admin, "physical", &[80_000]).await;
    app.stock(&admin, &variants[0], 5).await;
    let buyer = Buyer::new(&app, &telegram, 5_305);
    buyer.say("/start").await;
    buyer.press("cats:0").await;
    buyer.press_labelled("Category").await;
    buyer.press_labelled("Product").await;
    let shown = telegram.wait_for("editMessageText", "cannot be bought in this chat").await;
    assert!(shown.params["text"].as_str().unwrap().contains(&app.address), "{shown:?}");
    assert!(buttons(&shown).iter().all(|(label, _)| !label.starts_with("Buy")), "{:?}", buttons(&shown));
    // A forged Buy button for it is answered as gone, and nothing is ordered.
    buyer.press(&format!("qty:{}:1", variants[0])).await;
    telegram.wait_for("editMessageText", "no longer available").await;
    let user = app.state.identity.telegram_account(5_305).await.unwrap().unwrap();
    let filter = OrderFilter { buyer: Some(user.id), ..OrderFilter::default() };
    assert!(app.state.orders.list(&filter, 10).await.unwrap().0.is_empty());
}

#[tokio::test]
async fn old_messages_and_state_are_pruned_but_a_delivered_line_is_never_sent_twice() {
    let (app, telegram) = shop_with_bot(|config| config.telegram_admin_ids = vec![9_002]).await;
    let (_, name) = digital_product(&app, 10_000, None, &["PRUNE-1"]).await;
    let buyer = Buyer::new(&app, &telegram, 5_306);
    browse_to_confirm(&buyer, &name, 1).await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let (order, payment) = only_order_of(&app, 5_306).await;
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);
    telegram.wait_for("sendMessage", "PRUNE-1").await;
    let admin = Buyer::new(&app, &telegram, 9_002);
    admin.say("/broadcast all Hello").await;
    telegram_wait_long(&telegram, "Broadcast finished").await;
    buyer.say("/balance").await;
    buyer.press_labelled("Another amount").await;
    let count = |app: &TestApp, sql: &'static str| {
        let db = app.state.db.clone();
        async move { sqlx::query(sql).fetch_one(db.reader()).await.unwrap().get::<i64, _>("n") }
    };
    assert!(
        count(&app, "SELECT COUNT(*) AS n FROM telegram_sends WHERE dedupe_key NOT LIKE 'items:%'").await > 0
    );

    let app = app.restart_after(Duration::from_secs(31 * 24 * 3600)).await;
    eventually("old state to be pruned", || async {
        let left =
            count(&app, "SELECT COUNT(*) AS n FROM telegram_sends WHERE dedupe_key NOT LIKE 'items:%'").await
                + count(&app, "SELECT COUNT(*) AS n FROM telegram_broadcasts").await
                + count(&app, "SELECT COUNT(*) AS n FROM telegram_conversations").await
                + count(&app, "SELECT COUNT(*) AS n FROM telegram_payment_messages").await;
        (left == 0).then_some(())
    })
    .await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM telegram_sends WHERE dedupe_key LIKE 'items:%'").await,
        1
    );
    // The order's delivery handed over once more: still nothing sent twice.
    let row =
        sqlx::query("SELECT id FROM outbox_events WHERE event_type = 'order.delivered' AND subject_id = $1")
            .bind(order.id.to_string())
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    let (event, _) = pasar::events::find(app.state.db.reader(), row.get::<String, _>("id").parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    pasar::telegram::Deliveries::new(app.state.telegram.clone().unwrap()).deliver(&event).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(telegram.texts().iter().filter(|t| t.contains("PRUNE-1")).count(), 1);
}

#[tokio::test]
async fn a_telegram_buyer_buys_the_demo_shops_e_book_and_receives_its_key() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    pasar::demo::load(&app.state).await.unwrap();
    let buyer = Buyer::new(&app, &telegram, 5_307);
    buyer.say("/start").await;
    buyer.press("cats:0").await;
    buyer.press_labelled("Kitchen").await;
    // The mortar is shown too, as sold on the web; the e-book is sold here.
    buyer.press_labelled("Cobek Batu").await;
    telegram.wait_for("editMessageText", "cannot be bought in this chat").await;
    buyer.press_labelled("Back").await;
    buyer.press_labelled("E-book Resep Nusantara").await;
    buyer.press_labelled("Buy").await;
    buyer.press_labelled("1").await;
    buyer.press_labelled("by QRIS").await;
    telegram.wait_for("sendPhoto", "Total to pay").await;
    let (_, payment) = only_order_of(&app, 5_307).await;
    assert_eq!(app.press(&payment.id.to_string(), "succeed").await.status(), StatusCode::OK);
    let keys = telegram.wait_for("sendMessage", "Your items").await;
    assert!(keys.params["text"].as_str().unwrap().contains("E-book Resep Nusantara"), "{keys:?}");
}

#[tokio::test]
async fn a_linked_buyer_hears_on_telegram_that_their_order_was_shipped_with_its_tracking_number() {
    let (app, telegram) = shop_with_bot(|_| {}).await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("linked-buyer@shop.test").await;
    let link = app.post("/v1/me/telegram-link", Some(&buyer.access_token), &json!({})).await;
    let code = link.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
    let chat = Buyer::new(&app, &telegram, 5_207);
    chat.say(&format!("/link {code}")).await;
    telegram.wait_for("sendMessage", "Linked:").await;

    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, order_id, "paid").await;
    let path = format!("/v1/admin/orders/{order_id}/status");
    let token = Some(admin.access_token.as_str());
    assert_eq!(app.post(&path, token, &json!({"status": "processing"})).await.status(), StatusCode::OK);
    let shipped = app.post(&path, token, &json!({"status": "shipped", "tracking_number": "JNE-TG-77"})).await;
    assert_eq!(shipped.status(), StatusCode::OK);

    let told = telegram.wait_for("sendMessage", "JNE-TG-77").await;
    assert_eq!(told.params["chat_id"], 5_207, "to the buyer's own chat");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let times = telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.params["text"].as_str().is_some_and(|t| t.contains("JNE-TG-77")))
        .count();
    assert_eq!(times, 1, "once");
}
