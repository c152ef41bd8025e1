//! Pakasir, driven over HTTP against a local fake that follows its documented contract: QRIS
//! and virtual accounts at checkout and for deposits, the unsigned webhook taken as a hint and
//! confirmed with `transactiondetail`, expiry, reconciliation and a misbehaving Pakasir.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::fakes::pakasir::{self, FakePakasir, Trouble};
use crate::gateways::outage_events;
use crate::helpers::{Session, TestApp, assert_error, eventually, shipping_address, spawn_app_with};

const VA_METHODS: [&str; 9] = [
    "bni_va",
    "bri_va",
    "cimb_niaga_va",
    "sampoerna_va",
    "bnc_va",
    "maybank_va",
    "permata_va",
    "atm_bersama_va",
    "artha_graha_va",
];

/// A shop on Pakasir (the fake), selling one variant at `price` with `stock` units, and a buyer.
async fn shop(fake: &FakePakasir, price: i64, stock: i64) -> (TestApp, Session, String, Session) {
    shop_with(fake, price, stock, |_| {}).await
}

async fn shop_with(
    fake: &FakePakasir,
    price: i64,
    stock: i64,
    configure: impl FnOnce(&mut pasar::config::Config),
) -> (TestApp, Session, String, Session) {
    let app = spawn_app_with(|config| {
        fake.configure(config);
        configure(config);
    })
    .await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[price]).await.remove(0);
    app.stock(&admin, &variant, stock).await;
    let buyer = app.register("ana@example.com").await;
    (app, admin, variant, buyer)
}

async fn checkout_with(app: &TestApp, token: &str, variant: &str, method: &str) -> reqwest::Response {
    app.post(
        "/v1/checkout",
        Some(token),
        &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": method,
                "shipping_address": shipping_address()}),
    )
    .await
}

async fn placed(app: &TestApp, token: &str, variant: &str, method: &str) -> Value {
    let response = checkout_with(app, token, variant, method).await;
    assert_eq!(response.status(), StatusCode::CREATED, "checking out with {method}");
    response.json().await.unwrap()
}

fn webhook_url(app: &TestApp) -> String {
    app.url("/v1/webhooks/pakasir")
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

async fn order(app: &TestApp, token: &str, order_id: &str) -> Value {
    app.get(&format!("/v1/orders/{order_id}"), Some(token)).await.json().await.unwrap()
}

/// What a phone's camera reads from a PNG.
pub fn scan(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the picture");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn a_qris_checkout_shows_the_code_and_its_fee_and_paying_at_pakasir_pays_the_order() {
    let fake = FakePakasir::start().await;
    fake.expire_after(Duration::from_secs(300));
    let (app, admin, variant, ana) = shop(&fake, 99_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    let payment = &placed["payment"];
    assert_eq!((payment["provider"].as_str(), payment["method"].as_str()), (Some("pakasir"), Some("qris")));
    assert_eq!(payment["amount"]["amount"], 99_000);
    assert_eq!(
        (payment["fee"]["amount"].as_i64(), payment["total"]["amount"].as_i64()),
        (Some(1_003), Some(100_003))
    );

    // Pakasir was asked for the amount before its fee, under Pasar's payment id.
    let at_pakasir = fake.transaction(id(payment)).expect("a transaction at Pakasir");
    assert_eq!((at_pakasir.amount, at_pakasir.total), (99_000, 100_003));
    assert!(at_pakasir.payment_number.starts_with("000201"));
    assert_eq!(payment["payment_number"], at_pakasir.payment_number.as_str());
    // Pakasir's deadline (5 minutes) is earlier than Pasar's (10): the buyer sees Pakasir's.
    let pakasir_deadline = chrono::DateTime::parse_from_rfc3339(&at_pakasir.expired_at).unwrap();
    let shown = chrono::DateTime::parse_from_rfc3339(payment["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(shown.timestamp_millis(), pakasir_deadline.timestamp_millis());

    let qr_url = payment["qr_code_url"].as_str().unwrap();
    assert!(qr_url.ends_with(&format!("/v1/payments/{}/qr.png", id(payment))), "{qr_url}");
    let qr_path = &qr_url[app.address.len()..];
    let image = app.get(qr_path, Some(&ana.access_token)).await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(scan(&image.bytes().await.unwrap()), at_pakasir.payment_number);
    let budi = app.register("budi@example.com").await;
    assert_error(app.get(qr_path, Some(&budi.access_token)).await, StatusCode::NOT_FOUND, "not_found").await;

    let answer = fake.pay(&webhook_url(&app), id(payment)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await.unwrap()["result"], "applied");
    let paid = app.wait_for_order(&ana.access_token, id(&placed["order"]), "paid").await;
    assert_eq!(paid["payments"][0]["status"], "succeeded");
    assert!(fake.calls("detail") >= 1, "the webhook was confirmed with transactiondetail");
    // The buyer paid the fee Pakasir keeps: the shop's fees net to zero, and Pakasir owes it
    // the sale's amount.
    assert_eq!(app.posted(&admin, "fees:IDR").await, Some(0));
    assert_eq!(app.posted(&admin, "clearing:pakasir:IDR").await, Some(-99_000));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_virtual_account_checkout_shows_the_account_number_and_the_flat_fee() {
    let fake = FakePakasir::start().await;
    let (app, _admin, variant, ana) = shop(&fake, 99_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "bni_va").await;
    let payment = &placed["payment"];
    assert_eq!(payment["method"], "bni_va");
    assert_eq!(
        (payment["fee"]["amount"].as_i64(), payment["total"]["amount"].as_i64()),
        (Some(4_000), Some(103_000))
    );
    let at_pakasir = fake.transaction(id(payment)).unwrap();
    assert_eq!(at_pakasir.method, "bni_va");
    assert_eq!(payment["payment_number"], at_pakasir.payment_number.as_str());
    assert!(payment.get("qr_code_url").is_none(), "a VA has no QR code: {payment}");
    let qr = app.get(&format!("/v1/payments/{}/qr.png", id(payment)), Some(&ana.access_token)).await;
    assert_error(qr, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_methods_on_offer_are_qris_with_pakasirs_fee_and_every_virtual_account_in_rupiah_only() {
    let fake = FakePakasir::start().await;
    let app = spawn_app_with(|config| fake.configure(config)).await;
    let offer: Value =
        app.get("/v1/payment-methods?amount=99000&currency=IDR", None).await.json().await.unwrap();
    let methods = offer["data"].as_array().unwrap();
    let named = |name: &str| methods.iter().find(|m| m["method"] == name).cloned();
    let qris = named("qris").expect("qris on offer");
    assert_eq!((qris["provider"].as_str(), qris["fee"]["amount"].as_i64()), (Some("pakasir"), Some(1_003)));
    assert_eq!(qris["total"]["amount"], 100_003);
    for va in VA_METHODS {
        let offered = named(va).unwrap_or_else(|| panic!("{va} on offer: {offer}"));
        assert_eq!(offered["fee"]["amount"], 4_000, "{va}");
    }
    assert!(named("sandbox").is_none(), "the sandbox is off once a real provider is configured");
    assert_eq!(methods.len(), 1 + 1 + VA_METHODS.len(), "wallet, qris and the VAs: {offer}");

    let yen: Value =
        app.get("/v1/payment-methods?amount=1000&currency=JPY", None).await.json().await.unwrap();
    assert_eq!(yen["data"].as_array().unwrap().len(), 1, "only the wallet outside rupiah: {yen}");
}

#[tokio::test]
async fn a_deposit_by_qris_credits_the_wallet_once_however_often_the_webhook_comes() {
    let fake = FakePakasir::start().await;
    let app = spawn_app_with(|config| fake.configure(config)).await;
    let ana = app.register("ana@example.com").await;
    let created = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": {"amount": 50_000, "currency": "IDR"}, "payment_method": "qris"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let deposit: Value = created.json().await.unwrap();
    assert_eq!(deposit["fee"]["amount"], 350 + 310);
    assert!(deposit["payment_number"].as_str().unwrap().starts_with("000201"));

    assert_eq!(
        fake.pay(&webhook_url(&app), id(&deposit)).await.json::<Value>().await.unwrap()["result"],
        "applied"
    );
    let again = pakasir::webhook_body(&fake.transaction(id(&deposit)).unwrap());
    let replayed = fake.post_webhook(&webhook_url(&app), &again).await;
    assert_eq!(replayed.json::<Value>().await.unwrap()["result"], "no_change");

    let wallet: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(wallet["balance"]["amount"], 50_000);
    let history: Value =
        app.get("/v1/wallet/transactions", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(history["data"].as_array().unwrap().len(), 1, "one deposit line: {history}");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_webhook_pakasir_does_not_confirm_changes_nothing_until_pakasir_does() {
    let fake = FakePakasir::start().await;
    let (app, _admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    let payment_id = id(&placed["payment"]);

    let hint = fake.hint_paid(&webhook_url(&app), payment_id).await;
    assert_eq!(hint.status(), StatusCode::OK);
    assert_eq!(hint.json::<Value>().await.unwrap()["result"], "no_change");
    assert_eq!(order(&app, &ana.access_token, id(&placed["order"])).await["status"], "pending_payment");

    // The real completion is a delivery of its own, not a replay of the hint.
    let paid = fake.pay(&webhook_url(&app), payment_id).await;
    assert_eq!(paid.json::<Value>().await.unwrap()["result"], "applied");
    app.wait_for_order(&ana.access_token, id(&placed["order"]), "paid").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn webhooks_for_another_project_amount_or_order_change_nothing_and_are_logged_as_rejected() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    let mut body = pakasir::webhook_body(&fake.transaction(id(&placed["payment"])).unwrap());
    body["status"] = json!("completed");
    body["completed_at"] = json!("2026-12-01T08:07:02.819+07:00");
    let hook = webhook_url(&app);

    let mut other_project = body.clone();
    other_project["project"] = json!("someone-elses-shop");
    assert_error(fake.post_webhook(&hook, &other_project).await, StatusCode::BAD_REQUEST, "invalid_webhook")
        .await;
    let mut with_fee = body.clone();
    with_fee["amount"] = placed["payment"]["total"]["amount"].clone();
    assert_error(fake.post_webhook(&hook, &with_fee).await, StatusCode::BAD_REQUEST, "amount_mismatch").await;
    let mut unknown = body.clone();
    unknown["order_id"] = json!(pasar::ids::PaymentId::new().to_string());
    assert_error(fake.post_webhook(&hook, &unknown).await, StatusCode::BAD_REQUEST, "unknown_payment").await;
    let mut foreign = body.clone();
    foreign["order_id"] = json!("240910HDE7C9");
    assert_error(fake.post_webhook(&hook, &foreign).await, StatusCode::BAD_REQUEST, "invalid_webhook").await;

    assert_eq!(fake.calls("detail"), 0, "nothing refused was worth asking Pakasir about");
    assert_eq!(order(&app, &ana.access_token, id(&placed["order"])).await["status"], "pending_payment");
    let log: Value = app
        .get("/v1/admin/webhooks/incoming?provider=pakasir", Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<(&str, &str)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["result"].as_str().unwrap(), e["error_code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("rejected", "invalid_webhook"),
            ("rejected", "unknown_payment"),
            ("rejected", "amount_mismatch"),
            ("rejected", "invalid_webhook")
        ],
        "newest first: {log}"
    );
}

#[tokio::test]
async fn an_expired_orders_payment_is_cancelled_at_pakasir() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    let payment_id = id(&placed["payment"]);
    assert_eq!(fake.transaction(payment_id).unwrap().status, "pending");

    app.clock.advance(Duration::from_secs(601));
    assert_eq!(app.sweep().await.0, 1);
    assert_eq!(
        fake.transaction(payment_id).unwrap().status,
        "cancelled",
        "the QR code cannot be paid any more"
    );
    let expired = order(&app, &ana.access_token, id(&placed["order"])).await;
    assert_eq!(
        (expired["status"].as_str(), expired["payments"][0]["status"].as_str()),
        (Some("expired"), Some("expired"))
    );
    assert_eq!(app.stock_level(&admin, &variant).await["available"], 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_cancelled_order_is_cancelled_at_pakasir_unless_the_buyer_had_paid_meanwhile() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 2).await;
    let cancel = |order_id: String| {
        app.request(reqwest::Method::POST, &format!("/v1/orders/{order_id}/cancel"), Some(&ana.access_token))
            .send()
    };

    let unpaid = placed(&app, &ana.access_token, &variant, "qris").await;
    assert_eq!(cancel(id(&unpaid["order"]).to_owned()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(fake.transaction(id(&unpaid["payment"])).unwrap().status, "cancelled");

    // The buyer scanned and paid a moment before pressing cancel: Pakasir refuses to cancel,
    // says the transaction is completed, and the order is paid after all.
    let paid = placed(&app, &ana.access_token, &variant, "qris").await;
    fake.complete_quietly(id(&paid["payment"]));
    cancel(id(&paid["order"]).to_owned()).await.unwrap();
    app.wait_for_order(&ana.access_token, id(&paid["order"]), "paid").await;
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["available"].as_i64()), (Some(1), Some(1)));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn the_buyer_is_shown_pasars_va_fee_even_where_pakasir_charges_another() {
    let fake = FakePakasir::start().await;
    let (app, _admin, variant, ana) = shop_with(&fake, 99_000, 1, |c| c.pakasir_va_fee = 5_000).await;
    let placed = placed(&app, &ana.access_token, &variant, "permata_va").await;
    assert_eq!(placed["payment"]["fee"]["amount"], 5_000);
    assert_eq!(placed["payment"]["total"]["amount"], 104_000);
    // Pakasir was asked for the amount before fee and charges its own (a warning names both).
    let at_pakasir = fake.transaction(id(&placed["payment"])).unwrap();
    assert_eq!((at_pakasir.amount, at_pakasir.total), (99_000, 99_000 + pakasir::VA_FEE));
    fake.pay(&webhook_url(&app), id(&placed["payment"])).await;
    app.wait_for_order(&ana.access_token, id(&placed["order"]), "paid").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn reconciliation_settles_a_payment_whose_webhook_never_came() {
    let fake = FakePakasir::start().await;
    let (app, _admin, variant, ana) = shop_with(&fake, 20_000, 2, |c| c.reconcile_grace_secs = 0).await;
    let paid = placed(&app, &ana.access_token, &variant, "qris").await;
    let unpaid = placed(&app, &ana.access_token, &variant, "bri_va").await;
    fake.complete_quietly(id(&paid["payment"]));

    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((report.payments_checked, report.payments_settled), (2, 1));
    app.wait_for_order(&ana.access_token, id(&paid["order"]), "paid").await;
    assert_eq!(order(&app, &ana.access_token, id(&unpaid["order"])).await["status"], "pending_payment");
    let again = app.state.reconciler.run_once().await.unwrap();
    assert_eq!((again.payments_checked, again.payments_settled), (1, 0));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_status_query_that_meets_a_503_is_asked_again_and_the_webhook_applies() {
    let fake = FakePakasir::start().await;
    let (app, _admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    fake.trouble("detail", [Trouble::Status(503)]);

    let answer = fake.pay(&webhook_url(&app), id(&placed["payment"])).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await.unwrap()["result"], "applied");
    assert_eq!(fake.calls("detail"), 2, "one 503, then the answer");
    app.wait_for_order(&ana.access_token, id(&placed["order"]), "paid").await;
}

#[tokio::test]
async fn a_create_that_fails_answers_503_once_tried_and_releases_the_order() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let troubles = [Trouble::Status(503), Trouble::Status(500), Trouble::Garbage, Trouble::Hang];
    for (tried, trouble) in troubles.into_iter().enumerate() {
        fake.trouble("create", [trouble]);
        let response = checkout_with(&app, &ana.access_token, &variant, "qris").await;
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
        assert_eq!(fake.calls("create"), tried + 1, "a create is never sent twice ({trouble:?})");
        assert_eq!(app.stock_level(&admin, &variant).await["available"], 1, "released after {trouble:?}");
    }
    let orders: Value = app.get("/v1/orders", Some(&ana.access_token)).await.json().await.unwrap();
    let statuses: Vec<&str> =
        orders["data"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["cancelled"; 4]);

    // Each create whose answer never came is cancelled at Pakasir, in case it was made there.
    eventually("the clean-up cancellations", || async { (fake.calls("cancel") == 4).then_some(()) }).await;

    // Pakasir is back: the next checkout goes through.
    placed(&app, &ana.access_token, &variant, "qris").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_pakasir_payment_is_refunded_to_the_wallet_and_pakasir_pays_nothing_out() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 1).await;
    let placed = placed(&app, &ana.access_token, &variant, "qris").await;
    fake.pay(&webhook_url(&app), id(&placed["payment"])).await;
    let order_id = id(&placed["order"]);
    app.wait_for_order(&ana.access_token, order_id, "paid").await;

    // Pakasir has no refund API: the money goes to the buyer's wallet instead.
    let cancelled = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/orders/{order_id}/cancel"),
            Some(&admin.access_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(cancelled["refunds"][0]["destination"], "wallet");

    let adjusted = app
        .post(
            &format!("/v1/admin/users/{}/wallet/adjust", ana.id),
            Some(&admin.access_token),
            &json!({"amount": {"amount": 30_000, "currency": "IDR"}, "reason": "goodwill"}),
        )
        .await;
    assert!(adjusted.status().is_success(), "adjusting the wallet: {}", adjusted.status());
    let withdrawal = app
        .post(
            "/v1/wallet/withdrawals",
            Some(&ana.access_token),
            &json!({"amount": {"amount": 10_000, "currency": "IDR"}, "payment_method": "pakasir",
                    "destination": {"bank_code": "BCA", "account_number": "1234567890", "account_name": "Ana"}}),
        )
        .await;
    assert_error(withdrawal, StatusCode::UNPROCESSABLE_ENTITY, "unsupported_by_provider").await;
    let wallet: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(
        (wallet["balance"]["amount"].as_i64(), wallet["pending"]["amount"].as_i64()),
        (Some(50_000), Some(0)),
        "the refund and the adjustment, nothing held"
    );
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_pakasir_that_keeps_failing_is_marked_down_and_refused_at_once_until_it_answers_again() {
    let fake = FakePakasir::start().await;
    let (app, admin, variant, ana) = shop(&fake, 20_000, 20).await;
    fake.trouble("create", [Trouble::Status(503); 5]);
    for _ in 0..5 {
        let failed = checkout_with(&app, &ana.access_token, &variant, "qris").await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(fake.calls("create"), 5);

    let refused = checkout_with(&app, &ana.access_token, &variant, "qris").await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body = assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "payment_provider_unavailable").await;
    let available = body["error"]["details"]["available_methods"].as_array().unwrap();
    assert!(available.iter().any(|m| m == "wallet") && !available.iter().any(|m| m == "qris"), "{body}");
    assert_eq!(fake.calls("create"), 5, "refused without asking Pakasir");
    assert_eq!(app.stock_level(&admin, &variant).await["reserved"], 0, "nothing held for refused buyers");
    let health: Value =
        app.get("/v1/admin/payments/providers", Some(&admin.access_token)).await.json().await.unwrap();
    let pakasir =
        health["data"].as_array().unwrap().iter().find(|p| p["provider"] == "pakasir").unwrap().clone();
    assert_eq!(pakasir["state"], "open");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("pasar_payment_provider_up{provider=\"pakasir\"} 0"), "{metrics}");
    assert_eq!(outage_events(&app, "pakasir", "payment.provider_down").await, 1);

    // After the cool-off the next buyer's checkout is the trial; Pakasir answers, so it is up.
    app.clock.advance(Duration::from_secs(31));
    let placed = checkout_with(&app, &ana.access_token, &variant, "qris").await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let health: Value =
        app.get("/v1/admin/payments/providers", Some(&admin.access_token)).await.json().await.unwrap();
    assert!(
        health["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["provider"] == "pakasir" && p["state"] == "closed")
    );
    assert_eq!(outage_events(&app, "pakasir", "payment.provider_down").await, 1, "one event per outage");
    assert_eq!(outage_events(&app, "pakasir", "payment.provider_up").await, 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn the_api_document_lists_the_methods_this_server_offers() {
    let fake = FakePakasir::start().await;
    let (app, ..) = shop(&fake, 20_000, 1).await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let text = doc.to_string();
    assert!(!text.contains("x-pasar-methods"), "every mark is filled in");
    let checkout =
        &doc["paths"]["/v1/checkout"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let checkout = match checkout.get("$ref").and_then(Value::as_str) {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => checkout,
    };
    let methods: Vec<&str> = checkout["properties"]["payment_method"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        methods.contains(&"qris") && methods.contains(&"bni_va") && methods.contains(&"wallet"),
        "{methods:?}"
    );
    assert!(!methods.contains(&"sandbox"), "the sandbox is off once Pakasir is configured: {methods:?}");
}
