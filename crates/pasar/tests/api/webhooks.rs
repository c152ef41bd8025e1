//! Gateway webhooks: signed, applied once, never backwards, and nothing written for a bad one.

use pasar::payments::providers::sandbox::signature_header;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{SANDBOX_SECRET, Session, TestApp, spawn_app_with};

/// A shop whose sandbox cannot reach it: the tests deliver the webhooks themselves.
async fn unreachable_gateway_shop() -> (TestApp, Session, String) {
    let app = spawn_app_with(|config| config.public_url = Some("http://127.0.0.1:9".into())).await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 100).await;
    (app, admin, variant)
}

/// Places an order and returns (buyer token, order id, payment id, payment total).
async fn placed_order(app: &TestApp, variant: &str, email: &str) -> (String, String, String, i64) {
    let buyer = app.register(email).await;
    let placed: Value = app.checkout(&buyer.access_token, &[(variant, 1)]).await.json().await.unwrap();
    (
        buyer.access_token,
        placed["order"]["id"].as_str().unwrap().to_owned(),
        placed["payment"]["id"].as_str().unwrap().to_owned(),
        placed["payment"]["total"]["amount"].as_i64().unwrap(),
    )
}

fn event(id: &str, kind: &str, payment_id: &str, amount: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": kind, "created": chrono::Utc::now().timestamp(),
        "data": {"payment_id": payment_id, "charge_ref": "sbx_test", "status": kind.trim_start_matches("payment."),
                 "amount": {"amount": amount, "currency": "IDR"}}
    }))
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<String>) -> Response {
    let mut request =
        app.client.post(app.url("/v1/webhooks/sandbox")).header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("sandbox-signature", signature);
    }
    request.body(body.to_vec()).send().await.unwrap()
}

fn signed(app: &TestApp, body: &[u8]) -> Option<String> {
    Some(signature_header(SANDBOX_SECRET.as_bytes(), app.clock.now().unix_seconds(), body))
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql).bind(bind).fetch_one(app.state.db.reader()).await.unwrap()
}

#[tokio::test]
async fn the_same_webhook_twenty_times_in_a_row_has_one_effect() {
    let (app, admin, variant) = unreachable_gateway_shop().await;
    let (token, order_id, payment_id, total) = placed_order(&app, &variant, "ana@example.com").await;
    assert_eq!(app.press(&payment_id, "succeed").await.status(), StatusCode::OK);
    let body = event("sbxevt_repeat", "payment.succeeded", &payment_id, total);
    for i in 0..20 {
        let response = deliver(&app, &body, signed(&app, &body)).await;
        assert_eq!(response.status(), StatusCode::OK, "delivery {i}");
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["result"], if i == 0 { "applied" } else { "no_change" });
    }
    let order = app.wait_for_order(&token, &order_id, "paid").await;
    assert_eq!(order["timeline"].as_array().unwrap().iter().filter(|e| e["to"] == "paid").count(), 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'payment.completed' AND subject_id = $1",
            &payment_id
        )
        .await,
        1
    );
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 99, "stock taken once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_webhook_twenty_times_at_once_has_one_effect() {
    let (app, admin, variant) = unreachable_gateway_shop().await;
    let (token, order_id, payment_id, total) = placed_order(&app, &variant, "ana@example.com").await;
    app.press(&payment_id, "succeed").await;
    let body = event("sbxevt_burst", "payment.succeeded", &payment_id, total);
    let responses =
        futures::future::join_all((0..20).map(|_| deliver(&app, &body, signed(&app, &body)))).await;
    let mut applied = 0;
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        if response.json::<Value>().await.unwrap()["result"] == "applied" {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    app.wait_for_order(&token, &order_id, "paid").await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM stock_movements WHERE reference = $1", &order_id).await, 1);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 99);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn every_ordering_of_events_ends_where_the_gateway_says() {
    let (app, _admin, variant) = unreachable_gateway_shop().await;
    let kinds = ["payment.created", "payment.succeeded", "payment.failed"];
    let orderings = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (n, indices) in orderings.iter().enumerate() {
        let ordering: Vec<&str> = indices.iter().map(|&i| kinds[i]).collect();
        for (outcome, button, final_status) in [("paid", "succeed", "paid"), ("failed", "fail", "cancelled")]
        {
            let (token, order_id, payment_id, total) =
                placed_order(&app, &variant, &format!("buyer-{n}-{outcome}@example.com")).await;
            app.press(&payment_id, button).await;
            for (i, kind) in ordering.iter().enumerate() {
                let body = event(&format!("sbxevt_{n}_{outcome}_{i}"), kind, &payment_id, total);
                assert_eq!(deliver(&app, &body, signed(&app, &body)).await.status(), StatusCode::OK);
            }
            let order = app.wait_for_order(&token, &order_id, final_status).await;
            let steps = order["timeline"].as_array().unwrap().len();
            assert_eq!(steps, 2, "one move only, whatever the order of events: {ordering:?} {order}");
        }
    }
    assert_invariants(&app).await;
}

#[tokio::test]
async fn forged_altered_stale_or_unsigned_webhooks_are_refused_and_write_nothing() {
    let (app, _admin, variant) = unreachable_gateway_shop().await;
    let (token, order_id, payment_id, total) = placed_order(&app, &variant, "ana@example.com").await;
    app.press(&payment_id, "succeed").await;
    let body = event("sbxevt_forged", "payment.succeeded", &payment_id, total);
    let now = app.clock.now().unix_seconds();

    let mut altered = body.clone();
    let last = altered.len() - 2;
    altered[last] ^= 1;
    let cases: Vec<(Vec<u8>, Option<String>)> = vec![
        (body.clone(), None),
        (body.clone(), Some(signature_header(b"not the secret at all, not at all", now, &body))),
        (altered.clone(), Some(signature_header(SANDBOX_SECRET.as_bytes(), now, &body))),
        (body.clone(), Some(signature_header(SANDBOX_SECRET.as_bytes(), now - 301, &body))),
        (body.clone(), Some(format!("t={now}"))),
        (body.clone(), Some("garbage".into())),
    ];
    for (payload, signature) in cases {
        let response = deliver(&app, &payload, signature).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let envelope: Value = response.json().await.unwrap();
        assert_eq!(envelope["error"]["code"], "invalid_signature");
    }
    let wrong_amount = event("sbxevt_amount", "payment.succeeded", &payment_id, total - 1);
    let response = deliver(&app, &wrong_amount, signed(&app, &wrong_amount)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "amount_mismatch");

    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM payment_webhook_events WHERE payment_id = $1", &payment_id).await,
        0
    );
    let order: Value = app.get(&format!("/v1/orders/{order_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(order["status"], "pending_payment");
}

#[tokio::test]
async fn a_signed_success_for_a_payment_the_gateway_did_not_take_changes_nothing() {
    let (app, _admin, variant) = unreachable_gateway_shop().await;
    let (token, order_id, payment_id, total) = placed_order(&app, &variant, "ana@example.com").await;
    // Nobody pressed Pay: the gateway says pending, whatever the event claims.
    let body = event("sbxevt_claim", "payment.succeeded", &payment_id, total);
    let response = deliver(&app, &body, signed(&app, &body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["result"], "no_change");
    let order: Value = app.get(&format!("/v1/orders/{order_id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(order["status"], "pending_payment");
}
