//! Stripe as a buyer, an admin and Stripe itself see it, against a local fake Stripe: cards on
//! a hosted Checkout Session, konbini slips, deposits, refunds, webhooks good and bad, and
//! reconciliation of a webhook that never came.

use std::time::Duration;

use pasar::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::fakes::stripe::{FakeStripe, SECRET_KEY, Trouble, WEBHOOK_SECRET, card_fee, sign};
use crate::gateways::five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it;
use crate::helpers::{Session, TestApp, assert_error, eventually, shipping_address, spawn_app_with};

/// Pasar with Stripe configured against `fake`, which delivers its events to this Pasar.
async fn stripe_app(fake: &FakeStripe, configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        config.stripe_secret_key = Some(SECRET_KEY.into());
        config.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
        config.stripe_base_url = fake.url.clone();
        configure(config);
    })
    .await;
    fake.deliver_to(app.url("/v1/webhooks/stripe"));
    app
}

/// An active physical product priced in yen; returns its variant.
async fn jpy_product(app: &TestApp, admin: &Session, price: i64) -> String {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category =
        app.post("/v1/admin/categories", token, &json!({"name": format!("Wagashi {suffix}")})).await;
    assert_eq!(category.status(), StatusCode::CREATED);
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "name": format!("Dorayaki {suffix}"), "description": "Red bean pancakes", "kind": "physical",
        "status": "active", "category_id": category["id"],
        "variants": [{"sku": format!("DRY-{}", &suffix[20..]), "options": {"size": "box"},
                      "price": {"amount": price, "currency": "JPY"}}],
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "creating a JPY product");
    let created: Value = created.json().await.unwrap();
    created["variants"][0]["id"].as_str().unwrap().to_owned()
}

async fn checkout(app: &TestApp, buyer: &Session, variant: &str, method: &str) -> reqwest::Response {
    app.post(
        "/v1/checkout",
        Some(&buyer.access_token),
        &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": method,
                "shipping_address": shipping_address()}),
    )
    .await
}

/// A buyer with a pending card order for one unit of a Rp 40,000 product stocked with 3.
struct CardOrder {
    admin: Session,
    buyer: Session,
    variant: String,
    order_id: String,
    payment_id: String,
    placed: Value,
}

async fn card_order(app: &TestApp) -> CardOrder {
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 3).await;
    let buyer = app.register(&format!("ana-{}@example.com", uuid::Uuid::now_v7().simple())).await;
    let response = checkout(app, &buyer, &variant, "card").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.unwrap();
    CardOrder {
        order_id: placed["order"]["id"].as_str().unwrap().to_owned(),
        payment_id: placed["payment"]["id"].as_str().unwrap().to_owned(),
        admin,
        buyer,
        variant,
        placed,
    }
}

async fn incoming(app: &TestApp, admin: &Session) -> Vec<Value> {
    let response = app.get("/v1/admin/webhooks/incoming?provider=stripe", Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

async fn order_status(app: &TestApp, buyer: &Session, order_id: &str) -> Value {
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    order["status"].clone()
}

/// POSTs `body` to Pasar's Stripe webhook with `signature`.
async fn post_webhook(app: &TestApp, signature: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn a_card_checkout_answers_a_hosted_page_and_paying_there_pays_the_order_once() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    let payment = &order.placed["payment"];
    assert_eq!((payment["provider"].as_str(), payment["method"].as_str()), (Some("stripe"), Some("card")));
    assert_eq!(payment["fee"]["amount"], 0, "Stripe's fee is the merchant's, not added for the buyer");
    let url = payment["checkout_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/c/pay/cs_", fake.url)), "a hosted page: {url}");

    let session = fake.session_of(&order.payment_id).expect("a Checkout Session at Stripe");
    assert_eq!(
        (session["amount_total"].as_i64(), session["currency"].as_str()),
        (Some(4_000_000), Some("idr"))
    );
    assert!(
        session["expires_at"].as_i64().unwrap() >= unix_now() + 29 * 60,
        "Stripe's 30-minute minimum is met although Pasar's deadline is 10 minutes out"
    );

    let answers = fake.pay(&order.payment_id).await;
    let results: Vec<&str> = answers.iter().map(|(_, body)| body["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["applied", "no_change"], "the session's and the intent's events have one effect");
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(2), Some(0)));
    // Stripe's fee, read from the charge's balance transaction (in sen), is the shop's cost:
    // out of the fees account and off what Stripe owes the shop.
    let fee = card_fee(4_000_000) / 100;
    assert_eq!(app.posted(&order.admin, "fees:IDR").await, Some(-fee));
    assert_eq!(app.posted(&order.admin, "clearing:stripe:IDR").await, Some(-(40_000 - fee)));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn every_post_to_stripe_carries_an_idempotency_key_and_a_retry_is_the_same_request() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    fake.trouble(Trouble::Status(503), 2);
    let order = card_order(&app).await;
    let posts: Vec<_> = fake.seen().into_iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 3, "two 503s, then the answer: {posts:?}");
    let key = posts[0].idempotency_key.clone().expect("an Idempotency-Key");
    assert!(key.contains(&order.payment_id), "derived from the payment: {key}");
    assert!(posts.iter().all(|p| p.idempotency_key.as_deref() == Some(key.as_str())));
    assert_eq!(fake.sessions().len(), 1, "one session for three tries");

    fake.trouble(Trouble::Status(500), 1);
    let buyer = app.register("bea@example.com").await;
    let refused = checkout(&app, &buyer, &order.variant, "card").await;
    assert_eq!(
        refused.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a 500 is not retried: the checkout is undone"
    );
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!(level["reserved"], 1, "only the first order still holds stock");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_konbini_checkout_answers_store_codes_and_paying_at_the_store_pays_the_order() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let admin = app.admin().await;
    let variant = jpy_product(&app, &admin, 1_500).await;
    app.stock(&admin, &variant, 2).await;
    let buyer = app.register("hanako@example.jp").await;

    let methods: Value =
        app.get("/v1/payment-methods?amount=1500&currency=JPY", None).await.json().await.unwrap();
    assert!(methods.to_string().contains("konbini"), "konbini is offered in yen: {methods}");
    let response = checkout(&app, &buyer, &variant, "konbini").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.unwrap();
    let payment = &placed["payment"];
    let instructions = &payment["instructions"];
    assert_eq!(instructions["stores"]["familymart"]["payment_code"], "123456789012");
    assert_eq!(instructions["stores"]["lawson"]["confirmation_number"], "09012345678");
    let voucher = instructions["hosted_voucher_url"].as_str().unwrap();
    assert!(voucher.starts_with(&format!("{}/konbini/voucher/pi_", fake.url)));
    assert_eq!(payment["checkout_url"].as_str(), Some(voucher));
    assert!(instructions["expires_at"].is_string());

    let payment_id = payment["id"].as_str().unwrap();
    let intent = fake.intent_of(payment_id).expect("a konbini PaymentIntent");
    assert_eq!((intent["amount"].as_i64(), intent["currency"].as_str()), (Some(1_500), Some("jpy")));
    assert_eq!(intent["billing_email"], "hanako@example.jp");
    assert!(intent["expires_after_days"].is_null(), "a 10-minute deadline asks for an exact expiry instead");

    let answers = fake.pay(payment_id).await;
    assert_eq!(answers[0].1["result"], "applied");
    app.wait_for_order(&buyer.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_konbini_slip_asks_for_its_days_when_pasar_waits_that_long() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |config| {
        config.payment_ttl = 7 * 86_400;
        config.stripe_konbini_expires_after_days = 2;
    })
    .await;
    let admin = app.admin().await;
    let variant = jpy_product(&app, &admin, 800).await;
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("taro@example.jp").await;
    let placed: Value = checkout(&app, &buyer, &variant, "konbini").await.json().await.unwrap();
    let intent = fake.intent_of(placed["payment"]["id"].as_str().unwrap()).unwrap();
    assert_eq!(intent["expires_after_days"], "2");
    assert!(intent["expires_at_asked"].is_null());
}

#[tokio::test]
async fn konbini_is_not_offered_in_rupiah() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let refused = checkout(&app, &buyer, &variant, "konbini").await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "unknown_payment_method").await;
    assert!(fake.intents().is_empty());
}

#[tokio::test]
async fn a_card_deposit_in_rupiah_goes_to_stripe_in_sen_and_credits_the_wallet_once() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let ana = app.register("ana@example.com").await;
    let created = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": {"amount": 100_000, "currency": "IDR"}, "payment_method": "card"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let deposit: Value = created.json().await.unwrap();
    let payment_id = deposit["id"].as_str().unwrap();
    assert_eq!(
        fake.session_of(payment_id).unwrap()["amount_total"],
        10_000_000,
        "Rp 100,000 is 10,000,000 sen"
    );

    fake.pay(payment_id).await;
    let balance = || async {
        let wallet: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
        wallet["balance"]["amount"].as_i64()
    };
    eventually("the deposit to land", || async { (balance().await == Some(100_000)).then_some(()) }).await;
    let (status, again) = fake.redeliver("payment_intent.succeeded").await;
    assert_eq!(
        (status, again["result"].as_str()),
        (200, Some("no_change")),
        "Stripe retrying changes nothing"
    );
    assert_eq!(balance().await, Some(100_000));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn forged_altered_stale_and_mispriced_webhooks_change_nothing_and_are_logged_as_rejected() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    fake.pay_silently(&order.payment_id);
    let body = fake.event("checkout.session.completed");
    let now = unix_now();

    let forged = post_webhook(&app, &sign("whsec_not_the_secret", now, &body), body.clone()).await;
    assert_error(forged, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let text = String::from_utf8(body.clone()).unwrap();
    let altered = text.replace("\"amount_total\":4000000", "\"amount_total\":100");
    assert_ne!(altered, text);
    let response = post_webhook(&app, &sign(WEBHOOK_SECRET, now, &body), altered.clone().into_bytes()).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let stale = post_webhook(&app, &sign(WEBHOOK_SECRET, now - 301, &body), body.clone()).await;
    assert_error(stale, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let far = post_webhook(&app, &sign(WEBHOOK_SECRET, i64::MIN, &body), body.clone()).await;
    assert_error(far, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let mispriced =
        post_webhook(&app, &sign(WEBHOOK_SECRET, now, altered.as_bytes()), altered.into_bytes()).await;
    assert_error(mispriced, StatusCode::BAD_REQUEST, "amount_mismatch").await;
    let unsigned = app.post_raw("/v1/webhooks/stripe", "application/json", body.clone()).await;
    assert_error(unsigned, StatusCode::BAD_REQUEST, "invalid_signature").await;

    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "pending_payment");
    let log = incoming(&app, &order.admin).await;
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|entry| entry["result"] == "rejected"), "{log:?}");
    assert_eq!(log[1]["error_code"], "amount_mismatch");
    assert!(log[0]["headers"].get("stripe-signature").is_none(), "the unsigned one had none");
    assert!(log[1]["headers"]["stripe-signature"].as_str().unwrap().starts_with("t="));

    // While the secret is rolled Stripe signs with both: one right v1 among several passes.
    let right = sign(WEBHOOK_SECRET, now, &body);
    let rolled = format!(
        "{},v1={},{}",
        right.split(',').next().unwrap(),
        "0".repeat(64),
        right.split_once(',').unwrap().1
    );
    let accepted = post_webhook(&app, &rolled, body.clone()).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(accepted.json::<Value>().await.unwrap()["result"], "applied");
    let replayed = post_webhook(&app, &sign(WEBHOOK_SECRET, unix_now(), &body), body).await;
    assert_eq!(replayed.json::<Value>().await.unwrap()["result"], "no_change", "an event id applies once");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_event_pasar_does_not_use_is_refused_with_a_reason() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let body = serde_json::to_vec(&json!({"id": "evt_x", "type": "customer.created",
                                          "data": {"object": {"id": "cus_1"}}}))
    .unwrap();
    let response = post_webhook(&app, &sign(WEBHOOK_SECRET, unix_now(), &body), body).await;
    let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_webhook").await;
    assert!(error["error"]["message"].as_str().unwrap().contains("webhook"));
}

#[tokio::test]
async fn duplicated_and_reordered_events_have_one_effect() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;

    // A failure reported after the success (Stripe does not promise order), then a duplicate.
    let (status, late) = fake
        .send_intent_event(&order.payment_id, "payment_intent.payment_failed", "requires_payment_method")
        .await;
    assert_eq!((status, late["result"].as_str()), (200, Some("no_change")));
    let (_, late) = fake.send_intent_event(&order.payment_id, "payment_intent.canceled", "canceled").await;
    assert_eq!(late["result"], "no_change");
    let (_, again) = fake.redeliver("checkout.session.completed").await;
    assert_eq!(again["result"], "no_change");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!(level["on_hand"], 2, "sold once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_admin_cancel_of_a_paid_card_order_refunds_it_at_stripe_and_restocks() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;

    let cancel = format!("/v1/admin/orders/{}/cancel", order.order_id);
    let response = app.post(&cancel, Some(&order.admin.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "refunded");
    let refund_id = cancelled["refunds"][0]["id"].as_str().unwrap().to_owned();
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    let intent = fake.intent_of(&order.payment_id).unwrap();
    assert_eq!(
        (refunds[0]["amount"].as_i64(), &refunds[0]["payment_intent"]),
        (Some(4_000_000), &intent["id"])
    );
    let refund_post = fake.seen().into_iter().find(|s| s.path == "/v1/refunds").unwrap();
    assert!(refund_post.idempotency_key.unwrap().contains(&refund_id), "keyed by Pasar's refund");

    let again = app.post(&cancel, Some(&order.admin.access_token), &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(fake.refunds().len(), 1, "refunded once");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(3), Some(0)), "restocked");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_refund_made_in_stripes_dashboard_refunds_the_order() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    let (status, answer) = fake.refund_in_dashboard(&order.payment_id).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("applied")), "{answer}");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "refunded");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!(level["on_hand"], 3, "restocked");
    assert_invariants(&app).await;
}

/// A paid card order whose refund of 10,000 (one unit back in stock) meets `trouble` on every
/// try: the admin is told it is pending, and nothing moves yet. Answers the refund's id.
async fn refund_meeting(app: &TestApp, fake: &FakeStripe, order: &CardOrder, trouble: Trouble) -> String {
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    fake.trouble_refunds(trouble, 3);
    let response = app
        .request(
            Method::POST,
            &format!("/v1/admin/orders/{}/refunds", order.order_id),
            Some(&order.admin.access_token),
        )
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({"amount": {"amount": 10_000, "currency": "IDR"}, "reason": "one came broken",
                      "restock": [{"variant_id": order.variant, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "refund_pending").await;
    assert_eq!(order_status(app, &order.buyer, &order.order_id).await, "paid", "nothing moved yet");
    assert_eq!(app.stock_level(&order.admin, &order.variant).await["on_hand"], 2);
    body["error"]["details"]["refund_id"].as_str().unwrap().to_owned()
}

async fn reconciliation_completes_the_refund(app: &TestApp, order: &CardOrder) {
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.refunds_checked, report.refunds_completed), (1, 1), "{report:?}");
    assert_eq!(order_status(app, &order.buyer, &order.order_id).await, "partially_refunded");
    assert_eq!(app.stock_level(&order.admin, &order.variant).await["on_hand"], 3, "the unit is back");
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(report.refunds_checked, 0, "completed once");
    assert_invariants(app).await;
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_found_at_stripe_and_completed_without_refunding_twice() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = card_order(&app).await;
    let refund_id = refund_meeting(&app, &fake, &order, Trouble::AnswerLost(503)).await;
    assert_eq!(fake.refunds().len(), 1, "Stripe took it");
    assert_eq!(fake.refunds()[0]["metadata"]["pasar_refund_id"], refund_id.as_str());

    reconciliation_completes_the_refund(&app, &order).await;
    assert_eq!(fake.refunds().len(), 1, "found, not sent again");
}

#[tokio::test]
async fn a_refund_stripe_never_received_is_sent_by_reconciliation_once() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = card_order(&app).await;
    let refund_id = refund_meeting(&app, &fake, &order, Trouble::Status(503)).await;
    assert!(fake.refunds().is_empty());

    reconciliation_completes_the_refund(&app, &order).await;
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (refunds[0]["amount"].as_i64(), refunds[0]["metadata"]["pasar_refund_id"].as_str()),
        (Some(1_000_000), Some(refund_id.as_str()))
    );
}

#[tokio::test]
async fn reconciliation_settles_a_payment_whose_webhook_never_came() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = card_order(&app).await;
    fake.pay_silently(&order.payment_id);
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.payments_checked, report.payments_settled), (1, 1));
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(report.payments_settled, 0, "settled once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_unpaid_card_order_past_its_deadline_expires_its_session_at_stripe() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let order = card_order(&app).await;
    app.clock.advance(Duration::from_secs(11 * 60));
    app.sweep().await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "expired").await;
    let session = fake.session_of(&order.payment_id).unwrap();
    assert_eq!(session["status"], "expired", "the buyer can no longer pay at Stripe");
    let expire = fake.seen().into_iter().find(|s| s.path.ends_with("/expire")).unwrap();
    assert!(expire.idempotency_key.is_some());
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_stripe_that_keeps_failing_is_marked_down_and_refused_at_once_until_it_answers_again() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 10).await;
    let buyer = app.register("ana@example.com").await;
    // A 500 is not retried, so each checkout is one failed create.
    fake.trouble(Trouble::Status(500), 5);
    let asked = || fake.seen().iter().filter(|s| s.path == "/v1/checkout/sessions").count();
    five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it(
        &app,
        "stripe",
        || checkout(&app, &buyer, &variant, "card"),
        asked,
    )
    .await;
}
