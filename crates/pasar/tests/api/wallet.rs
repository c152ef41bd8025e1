use std::time::Duration;

use pasar::identity::Role;
use pasar::payments::providers::sandbox::signature_header;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{SANDBOX_SECRET, Session, TestApp, assert_error, eventually, spawn_app, spawn_app_with};

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

pub async fn fund(app: &TestApp, admin: &Session, user: &Session, amount: i64) {
    let response = app
        .post(
            &format!("/v1/admin/users/{}/wallet/adjust", user.id),
            Some(&admin.access_token),
            &json!({"amount": idr(amount), "reason": "opening balance"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "funding a wallet");
}

async fn wallet(app: &TestApp, user: &Session) -> Value {
    app.get("/v1/wallet", Some(&user.access_token)).await.json().await.unwrap()
}

async fn assert_ledger_balances(app: &TestApp) {
    let violations = app.state.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "ledger violations: {violations:?}");
}

async fn wallet_checkout(
    app: &TestApp,
    token: &str,
    variant: &str,
    points: Option<i64>,
    method: &str,
) -> reqwest::Response {
    let mut body = json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": method,
                          "shipping_address": crate::helpers::shipping_address()});
    if let Some(points) = points {
        body["points"] = json!(points);
    }
    app.post("/v1/checkout", Some(token), &body).await
}

#[tokio::test]
async fn a_deposit_paid_in_the_sandbox_credits_the_wallet_once() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let created = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": idr(100_000), "payment_method": "sandbox"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let payment: Value = created.json().await.unwrap();
    assert_eq!(payment["amount"]["amount"], 100_000);
    assert!(payment["fee"]["amount"].as_i64().unwrap() > 0, "the fee is shown before paying");
    assert_eq!(app.press(payment["id"].as_str().unwrap(), "succeed").await.status(), StatusCode::OK);

    let summary = eventually("the deposit to land", || async {
        let summary = wallet(&app, &ana).await;
        (summary["balance"]["amount"] == 100_000).then_some(summary)
    })
    .await;
    assert_eq!(summary["pending"]["amount"], 0);
    let history: Value =
        app.get("/v1/wallet/transactions", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
    assert_eq!(history["data"][0]["kind"], "deposit");
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn paying_with_the_wallet_settles_the_order_at_once_or_refuses_it_whole() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[60_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 100_000).await;

    let paid = wallet_checkout(&app, &ana.access_token, &variant, None, "wallet").await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["order"]["status"], "paid");
    assert_eq!(paid["payment"]["status"], "succeeded");
    assert_eq!(paid["payment"]["fee"]["amount"], 0);
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 40_000);

    let refused = wallet_checkout(&app, &ana.access_token, &variant, None, "wallet").await;
    assert_error(refused, StatusCode::CONFLICT, "insufficient_balance").await;
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 40_000);
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(4), Some(0)),
        "nothing held by the refusal"
    );
    let orders: Value = app.get("/v1/orders", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(orders["data"].as_array().unwrap().len(), 1);
    assert_invariants(&app).await;
    assert_ledger_balances(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wallet_checkouts_spend_exactly_what_the_balance_covers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 100).await;
    let ana = app.user_with_role("ana@example.com", Role::Customer).await;
    fund(&app, &admin, &ana, 50_000).await;

    let attempts = (0..30).map(|_| wallet_checkout(&app, &ana.access_token, &variant, None, "wallet"));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 25, "{statuses:?}");
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 0);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 95);
    assert_invariants(&app).await;
    assert_ledger_balances(&app).await;
}

async fn withdraw(app: &TestApp, user: &Session, amount: i64) -> Value {
    let response = app
        .post(
            "/v1/wallet/withdrawals",
            Some(&user.access_token),
            &json!({"amount": idr(amount),
            "destination": {"bank_code": "BCA", "account_number": "1234567890", "account_name": "Ana"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_withdrawal_holds_the_funds_and_leaves_the_wallet_when_the_payout_succeeds() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 100_000).await;
    let payout = withdraw(&app, &ana, 40_000).await;
    let held = wallet(&app, &ana).await;
    assert_eq!(
        (held["balance"]["amount"].as_i64(), held["pending"]["amount"].as_i64()),
        (Some(60_000), Some(40_000))
    );

    let press = app
        .request(Method::POST, &format!("/sandbox/payouts/{}/succeed", payout["id"].as_str().unwrap()), None)
        .send()
        .await
        .unwrap();
    assert_eq!(press.status(), StatusCode::OK);
    let done = eventually("the payout to settle", || async {
        let summary = wallet(&app, &ana).await;
        (summary["pending"]["amount"] == 0).then_some(summary)
    })
    .await;
    assert_eq!(done["balance"]["amount"], 60_000);
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn a_failed_payout_gives_the_money_back() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 100_000).await;
    let payout = withdraw(&app, &ana, 70_000).await;
    let refused = app
        .post(
            "/v1/wallet/withdrawals",
            Some(&ana.access_token),
            &json!({"amount": idr(40_000),
            "destination": {"bank_code": "BCA", "account_number": "1234567890", "account_name": "Ana"}}),
        )
        .await;
    assert_error(refused, StatusCode::CONFLICT, "insufficient_balance").await;

    app.request(Method::POST, &format!("/sandbox/payouts/{}/fail", payout["id"].as_str().unwrap()), None)
        .send()
        .await
        .unwrap();
    let back = eventually("the funds to come back", || async {
        let summary = wallet(&app, &ana).await;
        (summary["pending"]["amount"] == 0).then_some(summary)
    })
    .await;
    assert_eq!(back["balance"]["amount"], 100_000);
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn points_are_earned_when_an_order_completes_and_redeemed_at_checkout() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[150_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 1_000_000).await;

    let first: Value =
        wallet_checkout(&app, &ana.access_token, &variant, None, "wallet").await.json().await.unwrap();
    let path = format!("/v1/admin/orders/{}/status", first["order"]["id"].as_str().unwrap());
    for step in [
        json!({"status": "processing"}),
        json!({"status": "shipped", "tracking_number": "JNE1"}),
        json!({"status": "delivered"}),
        json!({"status": "completed"}),
    ] {
        assert_eq!(app.post(&path, Some(&admin.access_token), &step).await.status(), StatusCode::OK);
    }
    eventually("points for the completed order", || async {
        (wallet(&app, &ana).await["points"] == 150).then_some(())
    })
    .await;

    // Redeem 100 points (Rp 100) on a sandbox checkout: held, then consumed when it is paid.
    let placed = wallet_checkout(&app, &ana.access_token, &variant, Some(100), "sandbox").await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(placed["order"]["discount"]["amount"], 100);
    assert_eq!(placed["order"]["total"]["amount"], 149_900);
    let held = wallet(&app, &ana).await;
    assert_eq!((held["points"].as_i64(), held["points_pending"].as_i64()), (Some(50), Some(100)));
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&ana.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;
    let spent = wallet(&app, &ana).await;
    assert_eq!((spent["points"].as_i64(), spent["points_pending"].as_i64()), (Some(50), Some(0)));

    let too_many = wallet_checkout(&app, &ana.access_token, &variant, Some(51), "sandbox").await;
    assert_error(too_many, StatusCode::CONFLICT, "insufficient_points").await;
    let over_cap = wallet_checkout(&app, &ana.access_token, &variant, Some(80_000), "sandbox").await;
    assert_error(over_cap, StatusCode::UNPROCESSABLE_ENTITY, "invalid_checkout").await;
    let points: Value =
        app.get("/v1/wallet/transactions?points=true", Some(&ana.access_token)).await.json().await.unwrap();
    assert!(points["data"].as_array().unwrap().iter().any(|t| t["kind"] == "points_earned"));
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn held_points_come_back_when_the_payment_expires() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[150_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 1_000_000).await;
    let first: Value =
        wallet_checkout(&app, &ana.access_token, &variant, None, "wallet").await.json().await.unwrap();
    let path = format!("/v1/admin/orders/{}/status", first["order"]["id"].as_str().unwrap());
    for step in [
        json!({"status": "processing"}),
        json!({"status": "shipped", "tracking_number": "JNE1"}),
        json!({"status": "delivered"}),
        json!({"status": "completed"}),
    ] {
        app.post(&path, Some(&admin.access_token), &step).await;
    }
    eventually("points", || async { (wallet(&app, &ana).await["points"] == 150).then_some(()) }).await;

    let placed: Value =
        wallet_checkout(&app, &ana.access_token, &variant, Some(150), "sandbox").await.json().await.unwrap();
    assert_eq!(wallet(&app, &ana).await["points"], 0);
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    app.wait_for_order(&ana.access_token, placed["order"]["id"].as_str().unwrap(), "expired").await;
    let back = wallet(&app, &ana).await;
    assert_eq!((back["points"].as_i64(), back["points_pending"].as_i64()), (Some(150), Some(0)));

    // The money still lands (the gateway's grace): the order is filled, the points stay returned.
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    app.wait_for_order(&ana.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;
    assert_eq!(wallet(&app, &ana).await["points"], 150);
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn reconciliation_credits_a_deposit_whose_webhook_never_came_and_a_late_webhook_changes_nothing() {
    let app = spawn_app_with(|config| config.public_url = Some("http://127.0.0.1:9".into())).await;
    let ana = app.register("ana@example.com").await;
    let payment: Value = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": idr(50_000), "payment_method": "sandbox"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let payment_id = payment["id"].as_str().unwrap();
    assert_eq!(app.press(payment_id, "succeed").await.status(), StatusCode::OK);
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 0, "the webhook cannot reach the shop");

    let early = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(early.payments_settled, 0, "within the grace period the gateway is not asked yet");
    app.clock.advance(Duration::from_secs(301));
    let report = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(report.payments_settled, 1);
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 50_000);
    let again = app.state.reconciler.run_once().await.unwrap();
    assert_eq!(again.payments_settled, 0);

    let body = serde_json::to_vec(&json!({"id": "sbxevt_late", "type": "payment.succeeded", "created": app.clock.now().unix_seconds(),
        "data": {"payment_id": payment_id, "charge_ref": "sbx_x", "status": "succeeded", "amount": payment["total"]}}))
    .unwrap();
    let late = app
        .client
        .post(app.url("/v1/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header(
            "sandbox-signature",
            signature_header(SANDBOX_SECRET.as_bytes(), app.clock.now().unix_seconds(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::OK);
    assert_eq!(late.json::<Value>().await.unwrap()["result"], "no_change");
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 50_000, "credited once");
    assert_ledger_balances(&app).await;
}

#[tokio::test]
async fn reconciliation_runs_once_per_interval_across_instances() {
    let app = spawn_app().await;
    let interval = Duration::from_secs(900);
    // The server ran the job as it started, so its turn is taken for the interval.
    eventually("the start-up run", || async {
        app.state.reconciler.run_if_due(interval).await.unwrap().is_none().then_some(())
    })
    .await;
    app.clock.advance(Duration::from_secs(901));
    assert!(app.state.reconciler.run_if_due(interval).await.unwrap().is_some());
    assert!(app.state.reconciler.run_if_due(interval).await.unwrap().is_none());
}

#[tokio::test]
async fn only_admins_adjust_wallets_and_never_below_zero() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let path = format!("/v1/admin/users/{}/wallet/adjust", ana.id);
    let body = json!({"amount": idr(10_000), "reason": "goodwill"});
    assert_error(app.post(&path, Some(&ana.access_token), &body).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let adjusted: Value = app.post(&path, Some(&admin.access_token), &body).await.json().await.unwrap();
    assert_eq!(adjusted["balance"]["amount"], 10_000);
    let below =
        app.post(&path, Some(&admin.access_token), &json!({"amount": idr(-10_001), "reason": "oops"})).await;
    assert_error(below, StatusCode::CONFLICT, "insufficient_balance").await;
    let wrong = app
        .post(
            &path,
            Some(&admin.access_token),
            &json!({"amount": {"amount": 5, "currency": "USD"}, "reason": "x"}),
        )
        .await;
    assert_error(wrong, StatusCode::UNPROCESSABLE_ENTITY, "invalid_wallet_request").await;
    assert_eq!(wallet(&app, &ana).await["balance"]["amount"], 10_000);
    assert_ledger_balances(&app).await;
}
