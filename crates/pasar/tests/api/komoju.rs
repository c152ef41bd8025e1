//! KOMOJU konbini as a buyer, an admin and KOMOJU itself see it, against a local fake KOMOJU:
//! slips, routing between Stripe and KOMOJU, webhooks good and bad, wallet refunds, and
//! reconciliation of a webhook that never came.

use pasar::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::fakes::komoju::{FakeKomoju, SECRET_KEY, Trouble, WEBHOOK_SECRET, sign};
use crate::fakes::stripe::{self, FakeStripe};
use crate::gateways::five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it;
use crate::helpers::{Session, TestApp, assert_error, shipping_address, spawn_app_with};

fn with_komoju(config: &mut Config, fake: &FakeKomoju) {
    config.komoju_secret_key = Some(SECRET_KEY.into());
    config.komoju_webhook_secret = Some(WEBHOOK_SECRET.into());
    config.komoju_base_url = fake.url.clone();
    config.currency = "JPY".into();
}

/// Pasar (wallets in yen) with KOMOJU configured against `fake`, which delivers its events here.
async fn komoju_app(fake: &FakeKomoju, configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        with_komoju(config, fake);
        configure(config);
    })
    .await;
    fake.deliver_to(app.url("/v1/webhooks/komoju"));
    app
}

/// An active physical product priced in yen; returns its variant.
async fn jpy_product(app: &TestApp, admin: &Session, price: i64) -> String {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category =
        app.post("/v1/admin/categories", token, &json!({"name": format!("Senbei {suffix}")})).await;
    assert_eq!(category.status(), StatusCode::CREATED);
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "name": format!("Senbei {suffix}"), "description": "Rice crackers", "kind": "physical",
        "status": "active", "category_id": category["id"],
        "variants": [{"sku": format!("SNB-{}", &suffix[20..]), "options": {"size": "tin"},
                      "price": {"amount": price, "currency": "JPY"}}],
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "creating a JPY product");
    let created: Value = created.json().await.unwrap();
    created["variants"][0]["id"].as_str().unwrap().to_owned()
}

/// A buyer with a pending konbini order for one unit of a ¥1,200 product stocked with 3.
struct KonbiniOrder {
    admin: Session,
    buyer: Session,
    email: String,
    variant: String,
    order_id: String,
    payment_id: String,
    placed: Value,
}

async fn konbini_order(app: &TestApp) -> KonbiniOrder {
    let admin = app.admin().await;
    let variant = jpy_product(app, &admin, 1_200).await;
    app.stock(&admin, &variant, 3).await;
    let email = format!("hanako-{}@example.jp", uuid::Uuid::now_v7().simple());
    let buyer = app.register(&email).await;
    let response = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "konbini",
                    "shipping_address": shipping_address()}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.unwrap();
    KonbiniOrder {
        order_id: placed["order"]["id"].as_str().unwrap().to_owned(),
        payment_id: placed["payment"]["id"].as_str().unwrap().to_owned(),
        admin,
        buyer,
        email,
        variant,
        placed,
    }
}

async fn incoming(app: &TestApp, admin: &Session) -> Vec<Value> {
    let response = app.get("/v1/admin/webhooks/incoming?provider=komoju", Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

async fn order_status(app: &TestApp, buyer: &Session, order_id: &str) -> Value {
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    order["status"].clone()
}

/// POSTs `body` to Pasar's KOMOJU webhook with `signature`.
async fn post_webhook(app: &TestApp, signature: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/webhooks/komoju"))
        .header("content-type", "application/json")
        .header("x-komoju-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_konbini_checkout_answers_the_slip_and_paying_at_the_store_pays_the_order_once() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let order = konbini_order(&app).await;
    let payment = &order.placed["payment"];
    assert_eq!((payment["provider"].as_str(), payment["method"].as_str()), (Some("komoju"), Some("konbini")));
    assert_eq!(payment["fee"]["amount"], 0);
    let instructions = &payment["instructions"];
    assert_eq!(instructions["store"], "lawson");
    assert_eq!(
        (instructions["confirmation_code"].as_str(), instructions["receipt"].as_str()),
        (Some("8901"), Some("LW-20181018-0042"))
    );
    assert!(instructions["payment_deadline"].as_str().unwrap().ends_with("T14:59:59Z"));
    let url = instructions["instructions_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/instructions/", fake.url)), "{url}");
    assert_eq!(payment["checkout_url"].as_str(), Some(url));

    let at_komoju = fake.payment_of(&order.payment_id).expect("a KOMOJU payment");
    assert_eq!((at_komoju["amount"].as_i64(), at_komoju["currency"].as_str()), (Some(1_200), Some("JPY")));
    assert_eq!(at_komoju["payment_details"]["email"], order.email.as_str());
    assert_eq!(at_komoju["payment_details"]["store"], "lawson");
    let create = fake.seen().into_iter().find(|s| s.method == "POST").unwrap();
    assert!(create.idempotency_key.unwrap().contains(&order.payment_id), "keyed by the payment");

    let (status, answer) = fake.pay(&order.payment_id).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("applied")), "{answer}");
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    let (_, again) = fake.redeliver("payment.captured").await;
    assert_eq!(again["result"], "no_change", "a duplicated event applies once");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(2), Some(0)), "sold once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_create_retried_after_503s_makes_one_slip_and_a_500_undoes_the_checkout() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    fake.trouble(Trouble::Status(503), 2);
    let order = konbini_order(&app).await;
    let posts: Vec<_> = fake.seen().into_iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 3, "two 503s, then the answer: {posts:?}");
    let key = posts[0].idempotency_key.clone().expect("an X-KOMOJU-IDEMPOTENCY key");
    assert!(posts.iter().all(|p| p.idempotency_key.as_deref() == Some(key.as_str())));
    assert_eq!(fake.payments().len(), 1);

    fake.trouble(Trouble::Status(500), 1);
    let buyer = app.register("taro@example.jp").await;
    let refused = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": order.variant, "quantity": 1}], "payment_method": "konbini",
                    "shipping_address": shipping_address()}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!(level["reserved"], 1, "only the first order still holds stock");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn konbini_goes_to_stripe_when_both_are_configured_unless_pinned_to_komoju() {
    let komoju = FakeKomoju::start().await;
    let stripe_fake = FakeStripe::start().await;
    let both = |config: &mut Config| {
        config.stripe_secret_key = Some(stripe::SECRET_KEY.into());
        config.stripe_webhook_secret = Some(stripe::WEBHOOK_SECRET.into());
        config.stripe_base_url = stripe_fake.url.clone();
    };
    let app = komoju_app(&komoju, both).await;
    let order = konbini_order(&app).await;
    assert_eq!(order.placed["payment"]["provider"], "stripe");
    assert!(stripe_fake.intent_of(&order.payment_id).is_some());
    assert!(komoju.payments().is_empty());

    let pinned = komoju_app(&komoju, |config| {
        both(config);
        config.payment_methods = "konbini=komoju".into();
    })
    .await;
    let order = konbini_order(&pinned).await;
    assert_eq!(order.placed["payment"]["provider"], "komoju");
    assert!(komoju.payment_of(&order.payment_id).is_some());
    assert!(stripe_fake.intent_of(&order.payment_id).is_none());
}

#[tokio::test]
async fn konbini_is_listed_in_yen_with_no_fee() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let response = app.get("/v1/payment-methods?amount=1200&currency=JPY", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let methods: Value = response.json().await.unwrap();
    let konbini = methods["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "konbini")
        .unwrap_or_else(|| panic!("{methods}"));
    assert_eq!(konbini["provider"], "komoju", "{konbini}");
    assert_eq!(konbini["fee"]["amount"], 0, "{konbini}");
    assert_eq!(konbini["total"]["amount"], 1_200, "{konbini}");
}

#[tokio::test]
async fn forged_altered_unsigned_and_mispriced_webhooks_change_nothing_and_are_logged_as_rejected() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let order = konbini_order(&app).await;
    let body = fake.pay_silently(&order.payment_id);

    let forged = post_webhook(&app, &sign("not_the_token", &body), body.clone()).await;
    assert_error(forged, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let text = String::from_utf8(body.clone()).unwrap();
    let altered = text.replace("\"amount\":1200", "\"amount\":1");
    assert_ne!(altered, text);
    let response = post_webhook(&app, &sign(WEBHOOK_SECRET, &body), altered.clone().into_bytes()).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let unsigned = app.post_raw("/v1/webhooks/komoju", "application/json", body.clone()).await;
    assert_error(unsigned, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let mispriced = post_webhook(&app, &sign(WEBHOOK_SECRET, altered.as_bytes()), altered.into_bytes()).await;
    assert_error(mispriced, StatusCode::BAD_REQUEST, "amount_mismatch").await;

    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "pending_payment");
    let log = incoming(&app, &order.admin).await;
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|entry| entry["result"] == "rejected"), "{log:?}");
    assert_eq!(log[0]["error_code"], "amount_mismatch");

    let accepted = post_webhook(&app, &sign(WEBHOOK_SECRET, &body), body.clone()).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(accepted.json::<Value>().await.unwrap()["result"], "applied");
    let replayed = post_webhook(&app, &sign(WEBHOOK_SECRET, &body), body).await;
    assert_eq!(replayed.json::<Value>().await.unwrap()["result"], "no_change", "an event id applies once");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_expired_or_cancelled_event_after_payment_changes_nothing() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let order = konbini_order(&app).await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;
    let (status, late) = fake.send_event(&order.payment_id, "payment.expired", "expired").await;
    assert_eq!((status, late["result"].as_str()), (200, Some("no_change")), "{late}");
    let (_, late) = fake.send_event(&order.payment_id, "payment.cancelled", "cancelled").await;
    assert_eq!(late["result"], "no_change");
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!(level["on_hand"], 2, "sold once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_event_pasar_does_not_use_is_refused_with_a_reason() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let body = serde_json::to_vec(&json!({"id": "evt_x", "type": "ping", "data": {}})).unwrap();
    let response = post_webhook(&app, &sign(WEBHOOK_SECRET, &body), body).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_webhook").await;
}

#[tokio::test]
async fn an_admin_cancel_of_a_paid_konbini_order_refunds_to_the_buyers_wallet() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let order = konbini_order(&app).await;
    fake.pay(&order.payment_id).await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "paid").await;

    let cancel = format!("/v1/admin/orders/{}/cancel", order.order_id);
    let response = app.post(&cancel, Some(&order.admin.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(cancelled["refunds"][0]["destination"], "wallet");
    let wallet: Value = app.get("/v1/wallet", Some(&order.buyer.access_token)).await.json().await.unwrap();
    assert_eq!(
        (wallet["balance"]["amount"].as_i64(), wallet["balance"]["currency"].as_str()),
        (Some(1_200), Some("JPY"))
    );
    assert_eq!(fake.payment_of(&order.payment_id).unwrap()["status"], "captured", "nothing asked of KOMOJU");
    let level = app.stock_level(&order.admin, &order.variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(3), Some(0)), "restocked");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn reconciliation_settles_a_payment_whose_webhook_never_came() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |config| config.reconcile_grace_secs = 0).await;
    let order = konbini_order(&app).await;
    fake.pay_silently(&order.payment_id);
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.payments_checked, report.payments_settled), (1, 1));
    assert_eq!(order_status(&app, &order.buyer, &order.order_id).await, "paid");
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(report.payments_settled, 0, "settled once");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_unpaid_slip_past_pasars_deadline_is_cancelled_at_komoju() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let order = konbini_order(&app).await;
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    app.sweep().await;
    app.wait_for_order(&order.buyer.access_token, &order.order_id, "expired").await;
    assert_eq!(fake.payment_of(&order.payment_id).unwrap()["status"], "cancelled");
    let cancel = fake.seen().into_iter().find(|s| s.path.ends_with("/cancel")).unwrap();
    assert!(cancel.idempotency_key.is_some());
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_komoju_that_keeps_failing_is_marked_down_and_refused_at_once_until_it_answers_again() {
    let fake = FakeKomoju::start().await;
    let app = komoju_app(&fake, |_| {}).await;
    let admin = app.admin().await;
    let variant = jpy_product(&app, &admin, 1_200).await;
    app.stock(&admin, &variant, 10).await;
    let buyer = app.register("taro@example.jp").await;
    // A 500 is not retried, so each checkout is one failed create.
    fake.trouble(Trouble::Status(500), 5);
    let asked = || fake.seen().iter().filter(|s| s.method == "POST" && s.path == "/payments").count();
    let body = json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "konbini",
                      "shipping_address": shipping_address()});
    let checkout = || app.post("/v1/checkout", Some(&buyer.access_token), &body);
    five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it(
        &app, "komoju", checkout, asked,
    )
    .await;
}
