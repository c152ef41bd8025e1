//! CHIP and Revio (one adapter, two configurations) against a local fake of their gateway API:
//! hosted checkouts, deposits, withdrawals by payout, refunds, RSA-signed webhooks good and
//! bad, and reconciliation of a webhook that never came.

use pasar::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::fakes::chip::{FakeChip, forger_key, paid_fee, public_pem, sign, signing_key};
use crate::gateways::five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it;
use crate::helpers::{Session, TestApp, assert_error, eventually, shipping_address, spawn_app_with};

/// Pasar with `chip` configured against `fake`.
async fn chip_app(fake: &FakeChip, configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        fake.configure_chip(config);
        configure(config);
    })
    .await;
    fake.deliver_payouts_to(app.url("/v1/webhooks/chip/payouts"));
    app
}

/// An active physical product priced in `currency`, stocked with 3; returns its variant.
async fn product(app: &TestApp, admin: &Session, price: i64, currency: &str) -> String {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Kuih {suffix}")})).await;
    assert_eq!(category.status(), StatusCode::CREATED);
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "name": format!("Kuih lapis {suffix}"), "description": "Layered cake", "kind": "physical",
        "status": "active", "category_id": category["id"],
        "variants": [{"sku": format!("KL-{}", &suffix[20..]), "options": {"size": "box"},
                      "price": {"amount": price, "currency": currency}}],
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "creating a {currency} product");
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 3).await;
    variant
}

struct Order {
    admin: Session,
    email: String,
    buyer: Session,
    variant: String,
    order_id: String,
    payment_id: String,
    placed: Value,
}

/// A buyer's pending `hosted` order for one unit at `price` in `currency`.
async fn hosted_order(app: &TestApp, price: i64, currency: &str) -> Order {
    let admin = app.admin().await;
    let variant = product(app, &admin, price, currency).await;
    let email = format!("siti-{}@example.my", uuid::Uuid::now_v7().simple());
    let buyer = app.register(&email).await;
    let response = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "hosted",
                    "shipping_address": shipping_address()}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.unwrap();
    Order {
        order_id: placed["order"]["id"].as_str().unwrap().to_owned(),
        payment_id: placed["payment"]["id"].as_str().unwrap().to_owned(),
        admin,
        email,
        buyer,
        variant,
        placed,
    }
}

async fn order_status(app: &TestApp, buyer: &Session, order_id: &str) -> Value {
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    order["status"].clone()
}

async fn incoming(app: &TestApp, admin: &Session, provider: &str) -> Vec<Value> {
    let path = format!("/v1/admin/webhooks/incoming?provider={provider}");
    let response = app.get(&path, Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

async fn balance(app: &TestApp, user: &Session) -> (Option<i64>, Option<i64>) {
    let wallet: Value = app.get("/v1/wallet", Some(&user.access_token)).await.json().await.unwrap();
    (wallet["balance"]["amount"].as_i64(), wallet["pending"]["amount"].as_i64())
}

#[tokio::test]
async fn chip_a_hosted_checkout_answers_the_page_and_paying_there_pays_the_order_once() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |_| {}).await;
    let order = hosted_order(&app, 4_590, "MYR").await;
    let payment = &order.placed["payment"];
    assert_eq!((payment["provider"].as_str(), payment["method"].as_str()), (Some("chip"), Some("hosted")));
    assert_eq!(payment["fee"]["amount"], 0, "the gateway's fee is the merchant's");
    let purchase = fake.purchase_of(&order.payment_id).expect("a purchase at CHIP");
    assert_eq!(payment["checkout_url"], purchase["checkout_url"]);
    assert_eq!(
        (purchase["purchase"]["total"].as_i64(), purchase["purchase"]["currency"].as_str()),
        (Some(4_590), Some("MYR"))
    );
    assert_eq!(purchase["client"]["email"], order.email.as_str());
    assert_eq!(purchase["purchase"]["due_strict"], true);
    assert!(purchase["due"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(purchase["success_callback"], app.url("/v1/webhooks/chip"));

    let (body, status, answer) = fake.pay(&order.payment_id).await;
    assert_eq!((status, answer["result"].as_str()), (StatusCode::OK, Some("applied")), "{answer}");
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    let (status, again) = fake.post_signed(&app.url("/v1/webhooks/chip"), signing_key(), &body).await;
    assert_eq!(
        (status, again["result"].as_str()),
        (StatusCode::OK, Some("no_change")),
        "a duplicate applies once"
    );
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(2), Some(0)));
    assert!(fake.seen().iter().any(|(m, p)| m == "GET" && p == "/public_key/"), "the key was fetched");
    // The gateway's `fee_amount` on the paid purchase is the shop's cost.
    let fee = paid_fee(4_590);
    assert_eq!(app.posted(&order.admin, "fees:MYR").await, Some(-fee));
    assert_eq!(app.posted(&order.admin, "clearing:chip:MYR").await, Some(-(4_590 - fee)));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_a_deposit_in_ringgit_credits_the_wallet_once() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.currency = "MYR".into()).await;
    let siti = app.register("siti@example.my").await;
    let created = app
        .post(
            "/v1/wallet/deposits",
            Some(&siti.access_token),
            &json!({"amount": {"amount": 10_000, "currency": "MYR"}, "payment_method": "hosted"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let deposit: Value = created.json().await.unwrap();
    let payment_id = deposit["id"].as_str().unwrap();
    assert!(deposit["checkout_url"].is_string());
    let (body, _, answer) = fake.pay(payment_id).await;
    assert_eq!(answer["result"], "applied");
    eventually("the deposit to land", || async {
        (balance(&app, &siti).await.0 == Some(10_000)).then_some(())
    })
    .await;
    let (_, again) = fake.post_signed(&app.url("/v1/webhooks/chip"), signing_key(), &body).await;
    assert_eq!(again["result"], "no_change");
    assert_eq!(balance(&app, &siti).await.0, Some(10_000));
    assert_invariants(&app).await;
}

/// A buyer with RM 1,000.00 who withdraws `amount` through CHIP: (buyer, email, payout).
async fn funded_withdrawal(app: &TestApp, amount: i64) -> (Session, String, Value) {
    let admin = app.admin().await;
    let email = format!("siti-{}@example.my", uuid::Uuid::now_v7().simple());
    let siti = app.register(&email).await;
    let funded = app
        .post(
            &format!("/v1/admin/users/{}/wallet/adjust", siti.id),
            Some(&admin.access_token),
            &json!({"amount": {"amount": 100_000, "currency": "MYR"}, "reason": "opening balance"}),
        )
        .await;
    assert_eq!(funded.status(), StatusCode::OK);
    let response = app
        .post(
            "/v1/wallet/withdrawals",
            Some(&siti.access_token),
            &json!({"amount": {"amount": amount, "currency": "MYR"}, "payment_method": "chip",
                    "destination": {"bank_code": "MBB", "account_number": "5140 1234 5678", "account_name": "Siti"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    (siti, email, response.json().await.unwrap())
}

#[tokio::test]
async fn chip_a_withdrawal_leaves_the_wallet_when_its_payout_succeeds() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.currency = "MYR".into()).await;
    let (siti, email, payout) = funded_withdrawal(&app, 40_000).await;
    let payout_id = payout["id"].as_str().unwrap();
    let at_chip = eventually("the payout to reach CHIP", || async { fake.payout_of(payout_id) }).await;
    assert_eq!(
        (at_chip["payment"]["amount"].as_i64(), at_chip["client"]["email"].as_str()),
        (Some(40_000), Some(email.as_str()))
    );
    eventually("the payout to be executed", || async { (!fake.executions().is_empty()).then_some(()) }).await;
    assert_eq!(fake.executions()[0]["destination"]["account_number"], "514012345678");
    assert_eq!(balance(&app, &siti).await, (Some(60_000), Some(40_000)));

    let (status, answer) = fake.settle_payout(payout_id, "success").await;
    assert_eq!((status, answer["result"].as_str()), (StatusCode::OK, Some("applied")), "{answer}");
    eventually("the funds to leave", || async {
        (balance(&app, &siti).await == (Some(60_000), Some(0))).then_some(())
    })
    .await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_a_withdrawal_whose_payout_fails_gives_the_money_back() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.currency = "MYR".into()).await;
    let (siti, _, payout) = funded_withdrawal(&app, 70_000).await;
    let payout_id = payout["id"].as_str().unwrap();
    eventually("the payout to be executed", || async { (!fake.executions().is_empty()).then_some(()) }).await;
    let (status, answer) = fake.settle_payout(payout_id, "failed").await;
    assert_eq!((status, answer["result"].as_str()), (StatusCode::OK, Some("applied")), "{answer}");
    eventually("the funds to come back", || async {
        (balance(&app, &siti).await == (Some(100_000), Some(0))).then_some(())
    })
    .await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_full_and_partial_refunds_reach_chip_once_each() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |_| {}).await;
    let whole = hosted_order(&app, 4_590, "MYR").await;
    fake.pay(&whole.payment_id).await;
    app.wait_for_order(&whole.buyer.access_token, &whole.order_id, "paid").await;
    let cancel = format!("/v1/admin/orders/{}/cancel", whole.order_id);
    let response = app.post(&cancel, Some(&whole.admin.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "refunded");
    let again = app.post(&cancel, Some(&whole.admin.access_token), &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1, "refunded once: {refunds:?}");
    assert_eq!(refunds[0]["amount"], 4_590);

    let part = hosted_order(&app, 10_000, "MYR").await;
    fake.pay(&part.payment_id).await;
    app.wait_for_order(&part.buyer.access_token, &part.order_id, "paid").await;
    let response = app
        .request(
            Method::POST,
            &format!("/v1/admin/orders/{}/refunds", part.order_id),
            Some(&part.admin.access_token),
        )
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({"amount": {"amount": 2_500, "currency": "MYR"}, "reason": "one arrived broken"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[1]["amount"], 2_500);
    let purchase = fake.purchase_of(&part.payment_id).unwrap();
    assert_eq!(refunds[1]["purchase"], purchase["id"]);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_a_refund_chip_did_not_answer_stays_pending_and_is_left_to_a_person() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = hosted_order(&app, 4_590, "MYR").await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    fake.trouble([503]);
    let cancel = format!("/v1/admin/orders/{}/cancel", order.order_id);
    let response = app.post(&cancel, Some(&order.admin.access_token), &json!({})).await;
    // CHIP may have taken it and documents no way to ask: the refund is not failed (asking
    // again could refund twice), not sent again, and counted for a person to check.
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "refund_pending").await;
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.refunds_checked, report.refunds_unresolved), (1, 1), "{report:?}");
    assert!(fake.refunds().is_empty(), "not sent again");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let again = app.post(&cancel, Some(&order.admin.access_token), &json!({})).await;
    assert_error(again, StatusCode::CONFLICT, "invalid_transition").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_forged_altered_unsigned_and_mispriced_webhooks_change_nothing_and_are_logged_as_rejected() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |_| {}).await;
    let order = hosted_order(&app, 4_590, "MYR").await;
    let event = fake.pay_silently(&order.payment_id);
    let body = serde_json::to_vec(&event).unwrap();
    let url = app.url("/v1/webhooks/chip");

    let (status, _) = fake.post_signed(&url, forger_key(), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "signed by another key");
    let text = String::from_utf8(body.clone()).unwrap();
    let altered = text.replace("\"total\":4590", "\"total\":1");
    assert_ne!(altered, text);
    let (status, _) =
        fake.post_webhook(&url, Some(sign(signing_key(), &body)), altered.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a body altered after signing");
    let (status, _) = fake.post_webhook(&url, None, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no signature");
    let (status, answer) = fake.post_signed(&url, signing_key(), altered.as_bytes()).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("amount_mismatch"))
    );

    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "pending_payment");
    let log = incoming(&app, &order.admin, "chip").await;
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log.iter().all(|entry| entry["result"] == "rejected"), "{log:?}");

    let (_, applied) = fake.post_signed(&url, signing_key(), &body).await;
    assert_eq!(applied["result"], "applied");
    let (_, replayed) = fake.post_signed(&url, signing_key(), &body).await;
    assert_eq!(replayed["result"], "no_change", "an event applies once");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_a_gateway_that_fails_the_create_undoes_the_checkout() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.chip_public_key = Some(public_pem(signing_key()))).await;
    let admin = app.admin().await;
    let variant = product(&app, &admin, 4_590, "MYR").await;
    let buyer = app.register("amin@example.my").await;
    // With the key configured nothing is fetched: the create meets the 503 and is not retried
    // (CHIP documents no idempotency key).
    fake.trouble([503]);
    let response = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "hosted",
                    "shipping_address": shipping_address()}),
        )
        .await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(fake.purchases(), 0);
    let creates = fake.seen().into_iter().filter(|(m, p)| m == "POST" && p == "/purchases/").count();
    assert_eq!(creates, 1, "sent once");
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!(level["reserved"], 0, "nothing held");
}

#[tokio::test]
async fn revio_the_same_adapter_sells_in_rand() {
    let fake = FakeChip::start().await;
    let app = spawn_app_with(|config| fake.configure_revio(config)).await;
    let methods: Value =
        app.get("/v1/payment-methods?amount=15000&currency=ZAR", None).await.json().await.unwrap();
    assert!(methods.to_string().contains("revio"), "{methods}");
    let order = hosted_order(&app, 15_000, "ZAR").await;
    assert_eq!(order.placed["payment"]["provider"], "revio");
    let purchase = fake.purchase_of(&order.payment_id).unwrap();
    assert_eq!(purchase["purchase"]["currency"], "ZAR");
    assert_eq!(purchase["success_callback"], app.url("/v1/webhooks/revio"));
    let (_, status, answer) = fake.pay(&order.payment_id).await;
    assert_eq!((status, answer["result"].as_str()), (StatusCode::OK, Some("applied")), "{answer}");
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    assert!(!fake.seen().iter().any(|(_, p)| p == "/public_key/"), "the configured key is used");
    assert_eq!(incoming(&app, &order.admin, "revio").await.len(), 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_reconciliation_settles_a_payment_whose_webhook_never_came() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = hosted_order(&app, 4_590, "MYR").await;
    fake.pay_silently(&order.payment_id);
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.payments_checked, report.payments_settled), (1, 1));
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(report.payments_settled, 0, "settled once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn chip_a_webhook_before_the_key_is_known_is_answered_503_and_the_key_is_fetched() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |_| {}).await;
    let body = serde_json::to_vec(&json!({
        "id": "p_unknown", "status": "paid", "reference": "not-a-payment", "event_type": "purchase.paid",
        "purchase": {"total": 100, "currency": "MYR"}, "updated_on": 1
    }))
    .unwrap();
    let url = app.url("/v1/webhooks/chip");
    let (status, _) = fake.post_signed(&url, signing_key(), &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the gateway is asked to deliver again");
    eventually("the key to be fetched", || async {
        fake.seen().iter().any(|(_, p)| p == "/public_key/").then_some(())
    })
    .await;
    let again = eventually("the key to be used", || async {
        let (status, answer) = fake.post_signed(&url, signing_key(), &body).await;
        (status != StatusCode::SERVICE_UNAVAILABLE).then_some(answer)
    })
    .await;
    assert_eq!(again["error"]["code"], "invalid_webhook", "verified, then refused for its reference");
}

#[tokio::test]
async fn chip_that_keeps_failing_is_marked_down_and_refused_at_once_until_it_answers_again() {
    let fake = FakeChip::start().await;
    let app = chip_app(&fake, |config| config.chip_public_key = Some(public_pem(signing_key()))).await;
    let admin = app.admin().await;
    let variant = product(&app, &admin, 4_590, "MYR").await;
    app.stock(&admin, &variant, 10).await;
    let buyer = app.register("amin@example.my").await;
    fake.trouble([503; 5]);
    let asked = || fake.seen().iter().filter(|(m, p)| m == "POST" && p == "/purchases/").count();
    let body = json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "hosted",
                      "shipping_address": shipping_address()});
    let checkout = || app.post("/v1/checkout", Some(&buyer.access_token), &body);
    five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it(&app, "chip", checkout, asked)
        .await;
}
