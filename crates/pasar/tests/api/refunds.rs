//! Refunds of paid orders: partial and whole, never more than was paid (also at once), back
//! to where the money came from or to the wallet, with stock put back as asked.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{Session, TestApp, assert_error, spawn_app};
use crate::wallet::fund;

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

/// A paid order of `quantity` units at 50,000 each, through the sandbox; (order id, variant).
async fn paid_order(app: &TestApp, admin: &Session, buyer: &Session, quantity: i64) -> (String, String) {
    let variant = app.product(admin, "physical", &[50_000]).await.remove(0);
    app.stock(admin, &variant, 10).await;
    let placed: Value =
        app.checkout(&buyer.access_token, &[(&variant, quantity)]).await.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap().to_owned();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, &order, "paid").await;
    (order, variant)
}

async fn refund(app: &TestApp, admin: &Session, order: &str, body: Value) -> Response {
    app.request(Method::POST, &format!("/v1/admin/orders/{order}/refunds"), Some(&admin.access_token))
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_part_then_the_rest_is_refunded_and_the_order_says_which() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let (order, variant) = paid_order(&app, &admin, &ana, 2).await;
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 8);

    let part = refund(
        &app,
        &admin,
        &order,
        json!({"amount": idr(30_000), "reason": "one arrived broken",
        "restock": [{"variant_id": variant, "quantity": 1}]}),
    )
    .await;
    assert_eq!(part.status(), StatusCode::CREATED);
    let part: Value = part.json().await.unwrap();
    assert_eq!(
        (part["refund"]["status"].as_str(), part["refund"]["destination"].as_str()),
        (Some("succeeded"), Some("source"))
    );
    assert_eq!(part["order"]["status"], "partially_refunded");
    assert_eq!(part["order"]["payments"][0]["status"], "succeeded");
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 9);
    let timeline = part["order"]["timeline"].to_string();
    assert!(timeline.contains("one arrived broken"), "{timeline}");

    let rest = refund(&app, &admin, &order, json!({"reason": "customer returned the rest"})).await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["refund"]["amount"], idr(70_000));
    assert_eq!(rest["order"]["status"], "refunded");
    assert_eq!(rest["order"]["payments"][0]["status"], "refunded");
    assert_eq!(rest["order"]["refunds"].as_array().unwrap().len(), 2);
    let buyer_view: Value =
        app.get(&format!("/v1/orders/{order}"), Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(buyer_view["refunds"].as_array().unwrap().len(), 2, "the buyer sees the refunds");

    let more = refund(&app, &admin, &order, json!({"amount": idr(1), "reason": "again"})).await;
    assert_error(more, StatusCode::CONFLICT, "not_refundable").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_refund_beyond_what_was_paid_or_restock_beyond_what_was_bought_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let (order, variant) = paid_order(&app, &admin, &ana, 1).await;

    let too_much = refund(&app, &admin, &order, json!({"amount": idr(50_001), "reason": "typo"})).await;
    let body = assert_error(too_much, StatusCode::CONFLICT, "refund_exceeds_payment").await;
    assert_eq!(body["error"]["details"]["refundable"], idr(50_000));
    let too_many = refund(
        &app,
        &admin,
        &order,
        json!({"amount": idr(1_000), "reason": "returns",
        "restock": [{"variant_id": variant, "quantity": 2}]}),
    )
    .await;
    assert_error(too_many, StatusCode::UNPROCESSABLE_ENTITY, "invalid_restock").await;

    let unchanged: Value =
        app.get(&format!("/v1/admin/orders/{order}"), Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(unchanged["status"], "paid");
    assert_eq!(unchanged["refunds"], json!([]));
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 9);
    let unpaid_variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &unpaid_variant, 1).await;
    let unpaid: Value = app.checkout(&ana.access_token, &[(&unpaid_variant, 1)]).await.json().await.unwrap();
    let unpaid_refund =
        refund(&app, &admin, unpaid["order"]["id"].as_str().unwrap(), json!({"reason": "x"})).await;
    assert_error(unpaid_refund, StatusCode::CONFLICT, "not_refundable").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn refunds_asked_at_once_never_add_up_to_more_than_was_paid() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let (order, _) = paid_order(&app, &admin, &ana, 2).await;
    let asks = (0..5)
        .map(|i| refund(&app, &admin, &order, json!({"amount": idr(30_000), "reason": format!("part {i}")})));
    let answers = futures::future::join_all(asks).await;
    let statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    let seen: Value =
        app.get(&format!("/v1/admin/orders/{order}"), Some(&admin.access_token)).await.json().await.unwrap();
    let refunded: i64 =
        seen["refunds"].as_array().unwrap().iter().map(|r| r["amount"]["amount"].as_i64().unwrap()).sum();
    assert_eq!(refunded, 90_000);
    assert_eq!(seen["status"], "partially_refunded");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_wallet_paid_order_is_refunded_to_the_wallet() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    fund(&app, &admin, &ana, 100_000).await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 3).await;
    let placed = app
        .post(
            "/v1/checkout",
            Some(&ana.access_token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}],
            "payment_method": "wallet", "shipping_address": crate::helpers::shipping_address()}),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap();
    let answer = refund(&app, &admin, order, json!({"amount": idr(15_000), "reason": "late delivery"})).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["refund"]["destination"], "wallet");
    let wallet: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(wallet["balance"]["amount"], 75_000);
    let history: Value =
        app.get("/v1/wallet/transactions", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(
        (history["data"][0]["kind"].as_str(), history["data"][0]["amount"].clone()),
        (Some("refund"), idr(15_000))
    );
    assert_invariants(&app).await;
}
