//! Defects found by trying Pasar from outside (issue 15): each test failed before its fix.

use pasar::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{TestApp, assert_error, eventually, spawn_app, spawn_app_with};
use crate::wallet::fund;

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

async fn upload_keys(app: &TestApp, token: &str, variant: &str, keys: &[&str]) -> reqwest::Response {
    app.post(&format!("/v1/admin/variants/{variant}/digital-items"), Some(token), &json!({"items": keys}))
        .await
}

#[tokio::test]
async fn a_digital_key_already_in_the_variant_is_refused_and_named() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let variant = app.product(&admin, "digital", &[50_000]).await.remove(0);

    let first = upload_keys(&app, token, &variant, &["KEY-1", "KEY-2", "KEY-2"]).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["added"].as_u64(), first["duplicates"].clone()), (Some(2), json!(["KEY-2"])));

    let again = upload_keys(&app, token, &variant, &["KEY-3", "KEY-1 ", "KEY-2"]).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!((again["added"].as_u64(), again["duplicates"].clone()), (Some(1), json!(["KEY-1 ", "KEY-2"])));
    assert_eq!(again["level"]["on_hand"], 3);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 3);

    // The same key in another variant is another product's key.
    let other = app.product(&admin, "digital", &[50_000]).await.remove(0);
    let elsewhere: Value = upload_keys(&app, token, &other, &["KEY-1"]).await.json().await.unwrap();
    assert_eq!(elsewhere["added"], 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn uploads_of_one_key_racing_each_other_add_it_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "digital", &[50_000]).await.remove(0);
    let uploads = (0..8).map(|_| upload_keys(&app, &admin.access_token, &variant, &["RACE-KEY"]));
    let answers: Vec<Value> =
        futures::future::join_all(futures::future::join_all(uploads).await.into_iter().map(|r| async move {
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()
        }))
        .await;
    assert_eq!(answers.iter().map(|a| a["added"].as_u64().unwrap()).sum::<u64>(), 1);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 1);
    assert_invariants(&app).await;
}

async fn add_address_with_key(app: &TestApp, token: &str, key: &str) -> reqwest::Response {
    app.request(Method::POST, "/v1/me/addresses", Some(token))
        .header("idempotency-key", key)
        .json(&json!({"recipient_name": "Ana", "phone": "0812345678", "line1": "Jl. Merdeka 1",
                      "city": "Jakarta", "postal_code": "10110", "country": "ID"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_replay_after_logout_is_refused_like_any_request_of_an_ended_session() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    assert_eq!(add_address_with_key(&app, &ana.access_token, "k-1").await.status(), StatusCode::CREATED);
    let logout = app.post("/v1/auth/logout", Some(&ana.access_token), &json!({})).await;
    assert!(logout.status().is_success());

    let replay = add_address_with_key(&app, &ana.access_token, "k-1").await;
    assert!(replay.headers().get("idempotent-replayed").is_none());
    assert_error(replay, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_replay_after_losing_the_admin_role_is_forbidden_and_shows_nothing_stored() {
    // A local endpoint that no event in this test is ever sent to.
    let app = spawn_app_with(|config| config.webhooks_allow_private = true).await;
    let boss = app.admin().await;
    let clerk = app.user_with_role("clerk@shop.test", Role::Admin).await;
    let create = || {
        app.request(Method::POST, "/v1/admin/webhook-endpoints", Some(&clerk.access_token))
            .header("idempotency-key", "endpoint-1")
            .json(&json!({"url": "http://127.0.0.1:9/pasar", "events": ["order.created"]}))
            .send()
    };
    let created = create().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(created.text().await.unwrap().contains("secret"), "the secret is shown once");

    let demoted = app
        .put(
            &format!("/v1/admin/users/{}/role", clerk.id),
            Some(&boss.access_token),
            &json!({"role": "customer"}),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    let replay = create().await.unwrap();
    assert!(replay.headers().get("idempotent-replayed").is_none());
    let body = assert_error(replay, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(!body.to_string().contains("secret"), "{body}");
}

#[tokio::test]
async fn a_stored_answer_belongs_to_the_session_that_made_it() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let first = add_address_with_key(&app, &ana.access_token, "k-1").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = crate::helpers::session_of(
        app.login("ana@example.com", crate::helpers::PASSWORD).await.json().await.unwrap(),
    );
    let other_session = add_address_with_key(&app, &again.access_token, "k-1").await;
    assert_eq!(other_session.status(), StatusCode::CREATED);
    assert!(other_session.headers().get("idempotent-replayed").is_none());
    let same_session = add_address_with_key(&app, &ana.access_token, "k-1").await;
    assert_eq!(same_session.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn with_the_sandbox_off_its_pages_and_method_do_not_exist() {
    let app = spawn_app_with(|config| config.sandbox = Some(false)).await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 3).await;
    let ana = app.register("ana@example.com").await;

    let refused = app.checkout(&ana.access_token, &[(&variant, 1)]).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "unknown_payment_method").await;
    let deposit = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": idr(10_000), "payment_method": "sandbox"}),
        )
        .await;
    assert_error(deposit, StatusCode::UNPROCESSABLE_ENTITY, "unknown_payment_method").await;
    let page = app.get("/sandbox/pay/pay_0190000000007000800000000000000a", None).await;
    assert_error(page, StatusCode::NOT_FOUND, "not_found").await;
    let button =
        app.request(Method::POST, "/sandbox/payouts/pyt_0190000000007000800000000000000a/succeed", None);
    assert_error(button.send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    let webhook = app.post_raw("/v1/webhooks/sandbox", "application/json", "{}").await;
    assert_error(webhook, StatusCode::NOT_FOUND, "not_found").await;
    let stock = app.stock_level(&admin, &variant).await;
    assert_eq!((stock["on_hand"].as_i64(), stock["reserved"].as_i64()), (Some(3), Some(0)));
}

#[tokio::test]
async fn amounts_at_the_ends_of_the_range_are_refused_with_422_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let path = format!("/v1/admin/users/{}/wallet/adjust", ana.id);
    let adjust = |amount: i64| {
        app.request(Method::POST, &path, Some(&admin.access_token))
            .json(&json!({"amount": idr(amount), "reason": "edge"}))
            .send()
    };
    for amount in [i64::MAX, i64::MIN, i64::MIN + 1, 1_000_000_000_000_000_000] {
        assert_error(adjust(amount).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    }
    // Within what money may be, but above what one adjustment may move, like deposits.
    for amount in [1_000_000_000_001, -1_000_000_000_001] {
        assert_error(
            adjust(amount).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_wallet_request",
        )
        .await;
    }
    let deposit = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": idr(i64::MAX), "payment_method": "sandbox"}),
        )
        .await;
    assert_error(deposit, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(adjust(1_000_000_000_000).await.unwrap().status(), StatusCode::OK);
    let summary: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(summary["balance"]["amount"], 1_000_000_000_000_i64);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn of_concurrent_admin_cancels_only_the_one_that_refunded_says_so() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let ana = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&ana.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&ana.access_token, &order_id, "paid").await;

    let path = format!("/v1/admin/orders/{order_id}/cancel");
    let cancels = (0..6).map(|_| app.request(Method::POST, &path, Some(&admin.access_token)).send());
    let answers: Vec<reqwest::Response> =
        futures::future::join_all(cancels).await.into_iter().map(Result::unwrap).collect();
    let mut statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::OK, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    for answer in answers.into_iter().filter(|r| r.status() != StatusCode::OK) {
        let body = assert_error(answer, StatusCode::CONFLICT, "invalid_transition").await;
        // The refund under way may not have finished when the others are answered.
        let status = body["error"]["details"]["status"].as_str();
        assert!(matches!(status, Some("paid" | "refunded")), "the current state is named: {body}");
    }
    // One that comes after the refund finished is refused the same way.
    let late = app.request(Method::POST, &path, Some(&admin.access_token)).send().await.unwrap();
    let body = assert_error(late, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(body["error"]["details"]["status"], "refunded", "{body}");
    let stock = app.stock_level(&admin, &variant).await;
    assert_eq!(stock["on_hand"], 5, "restocked once");
    assert_invariants(&app).await;
}

async fn withdraw(app: &TestApp, token: &str, amount: i64) -> Value {
    let response = app
        .post(
            "/v1/wallet/withdrawals",
            Some(token),
            &json!({"amount": idr(amount),
                    "destination": {"bank_code": "BCA", "account_number": "1234567890", "account_name": "Ana"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_withdrawal_is_one_line_of_the_history_in_the_state_it_is_in() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 100_000).await;
    let sent = withdraw(&app, &ana.access_token, 30_000).await;
    let failed = withdraw(&app, &ana.access_token, 20_000).await;
    assert!(
        sent["payout_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/sandbox/payouts/{}", sent["id"].as_str().unwrap()))
    );

    let history = |app: &TestApp| {
        let token = ana.access_token.clone();
        let url = app.url("/v1/wallet/transactions");
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let waiting = history(&app).await;
    let kinds: Vec<(&str, &str)> = waiting["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("withdrawal", "pending"), ("withdrawal", "pending"), ("adjustment", "completed")]);
    assert_eq!(waiting["data"][0]["amount"], idr(-20_000));
    assert_eq!(waiting["data"][2]["amount"], idr(100_000));
    assert!(waiting["data"][0].get("debit_code").is_none() && waiting["data"][0].get("unit").is_none());

    for (payout, button) in [(&sent, "succeed"), (&failed, "fail")] {
        let path = format!("/sandbox/payouts/{}/{button}", payout["id"].as_str().unwrap());
        assert_eq!(app.request(Method::POST, &path, None).send().await.unwrap().status(), StatusCode::OK);
    }
    let settled = eventually("both payouts to settle", || async {
        let page = history(&app).await;
        let states: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["state"].as_str().unwrap().to_owned())
            .collect();
        (states == ["returned", "completed", "completed"]).then_some(page)
    })
    .await;
    assert_eq!(settled["data"].as_array().unwrap().len(), 3, "one line per withdrawal: {settled}");
    assert_eq!(settled["data"][1]["amount"], idr(-30_000));

    let withdrawals: Value =
        app.get("/v1/wallet/withdrawals?limit=1", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(withdrawals["data"][0]["id"], failed["id"]);
    assert_eq!(withdrawals["data"][0]["status"], "failed");
    assert!(withdrawals["data"][0]["payout_url"].is_string());
    let cursor = withdrawals["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/v1/wallet/withdrawals?limit=1&cursor={cursor}"), Some(&ana.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["id"], sent["id"]);
    assert!(rest.get("next_cursor").is_none());
    let bob = app.register("bob@example.com").await;
    let none: Value = app.get("/v1/wallet/withdrawals", Some(&bob.access_token)).await.json().await.unwrap();
    assert_eq!(none["data"], json!([]));
}

#[tokio::test]
async fn a_buyer_lists_their_own_deposits_with_where_to_pay() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let bob = app.register("bob@example.com").await;
    let deposit = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": idr(50_000), "payment_method": "sandbox"}),
        )
        .await;
    assert_eq!(deposit.status(), StatusCode::CREATED);
    let deposit: Value = deposit.json().await.unwrap();
    let listed: Value = app.get("/v1/wallet/deposits", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], deposit["id"]);
    assert!(listed["data"][0]["checkout_url"].is_string());
    let bobs: Value = app.get("/v1/wallet/deposits", Some(&bob.access_token)).await.json().await.unwrap();
    assert_eq!(bobs["data"], json!([]));
}

#[tokio::test]
async fn a_control_character_in_a_query_parameter_is_a_422() {
    let app = spawn_app().await;
    let response = app.get("/v1/products?q=tee%00shirt", None).await;
    let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "q");
    assert_eq!(app.get("/v1/products?q=tee", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_webhook_body_over_the_limit_is_answered_in_the_envelope() {
    let app = spawn_app_with(|config| config.body_limit_bytes = 1024).await;
    let response = app.post_raw("/v1/webhooks/sandbox", "application/json", vec![b' '; 4096]).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let wrong_method = app.request(Method::DELETE, "/v1/checkout", None).send().await.unwrap();
    assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn gateway_webhooks_have_a_rate_limit_of_their_own() {
    let app = spawn_app_with(|config| {
        config.rate_limit_per_minute = 2;
        config.webhook_rate_limit_per_minute = 20;
    })
    .await;
    for _ in 0..10 {
        let webhook = app.post_raw("/v1/webhooks/sandbox", "application/json", "{}").await;
        assert_error(webhook, StatusCode::BAD_REQUEST, "invalid_signature").await;
    }
    let statuses: Vec<StatusCode> = futures::future::join_all((0..3).map(|_| app.get("/v1/me", None)))
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "buyers keep their own limit: {statuses:?}");
    let mut refused = false;
    for _ in 0..20 {
        refused |= app.post_raw("/v1/webhooks/sandbox", "application/json", "{}").await.status()
            == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the webhook limit still holds");
}
