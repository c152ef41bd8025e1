//! Batched checkouts (issue 5): buyers checking out at the same moment are written together in
//! one transaction, and each still gets the answer a lone checkout would have given.

use std::collections::HashMap;

use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{Session, TestApp, shipping_address, spawn_app};
use crate::wallet::fund;

async fn buyers(app: &TestApp, prefix: &str, count: usize) -> Vec<Session> {
    let mut all = Vec::new();
    for i in 0..count {
        all.push(app.user_with_role(&format!("{prefix}{i}@example.com"), Role::Customer).await);
    }
    all
}

async fn buy(app: &TestApp, token: &str, variant: &str, method: &str) -> (StatusCode, Value) {
    let response = app
        .post(
            "/v1/checkout",
            Some(token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": method,
                    "shipping_address": shipping_address()}),
        )
        .await;
    (response.status(), response.json().await.unwrap())
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.state.db.reader()).await.unwrap()
}

/// Every order has exactly one reservation, one `order.created` event and one payment.
async fn assert_each_order_backed_once(app: &TestApp) {
    let orders = count(app, "SELECT COUNT(*) FROM orders").await;
    let unbacked = count(
        app,
        "SELECT COUNT(*) FROM orders o WHERE
           (SELECT COUNT(*) FROM stock_reservations r WHERE r.holder = o.id) <> 1
           OR (SELECT COUNT(*) FROM outbox_events e WHERE e.subject_id = o.id AND e.event_type = 'order.created') <> 1
           OR (SELECT COUNT(*) FROM payments p WHERE p.reference = o.id) <> 1",
    )
    .await;
    assert_eq!(unbacked, 0, "of {orders} orders, {unbacked} lack their reservation, event or payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wallet_checkouts_are_written_in_batches_and_each_buyer_gets_their_own_answer() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 50).await;
    // Fifteen buyers can pay for four units each (60, more than the 50 in stock); five have
    // an empty wallet.
    let funded = buyers(&app, "funded", 15).await;
    for buyer in &funded {
        fund(&app, &admin, buyer, 40_000).await;
    }
    let broke = buyers(&app, "broke", 5).await;
    let everyone: Vec<&Session> = funded.iter().chain(&broke).collect();

    let app = &app;
    let attempts = (0..200).map(|i| {
        let buyer = everyone[i % everyone.len()];
        let variant = variant.as_str();
        async move { (buyer.id.clone(), buy(app, &buyer.access_token, variant, "wallet").await) }
    });
    let answers = futures::future::join_all(attempts).await;

    let mut bought: HashMap<String, i64> = HashMap::new();
    for (buyer, (status, body)) in &answers {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(body["order"]["status"], "paid");
                assert_eq!(body["payment"]["status"], "succeeded");
                *bought.entry(buyer.clone()).or_default() += 1;
            }
            StatusCode::CONFLICT => {
                let code = body["error"]["code"].as_str().unwrap();
                assert!(code == "out_of_stock" || code == "insufficient_balance", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(bought.values().sum::<i64>(), 50, "exactly the stock is sold");
    assert!(broke.iter().all(|b| !bought.contains_key(&b.id)), "an empty wallet buys nothing");
    for buyer in &funded {
        let units = bought.get(&buyer.id).copied().unwrap_or(0);
        assert!(units <= 4);
        let wallet: Value = app.get("/v1/wallet", Some(&buyer.access_token)).await.json().await.unwrap();
        assert_eq!(wallet["balance"]["amount"], 40_000 - 10_000 * units, "each buyer paid for what they got");
    }
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(0), Some(0)));

    let stats = app.state.checkout.batch_stats().expect("batching is on by default");
    assert_eq!(stats.handed_back, 0, "no batch failed as a whole");
    assert!(stats.checkouts > stats.batches, "some batches held several checkouts: {stats:?}");
    assert_each_order_backed_once(app).await;
    assert_invariants(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_mixing_wallet_and_gateway_payments_and_digital_goods_settles_each_as_alone() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let keys = app.product(&admin, "digital", &[5_000]).await.remove(0);
    let items: Vec<String> = (0..10).map(|i| format!("KEY-{i:04}")).collect();
    let added = app
        .post(
            &format!("/v1/admin/variants/{keys}/digital-items"),
            Some(&admin.access_token),
            &json!({ "items": items }),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let shirt = app.product(&admin, "physical", &[20_000]).await.remove(0);
    app.stock(&admin, &shirt, 10).await;
    let buyers = buyers(&app, "buyer", 10).await;
    for buyer in &buyers {
        fund(&app, &admin, buyer, 5_000).await;
    }

    let app = &app;
    let attempts = buyers
        .iter()
        .flat_map(|buyer| [(buyer, keys.as_str(), "wallet"), (buyer, shirt.as_str(), "sandbox")]);
    let answers = futures::future::join_all(attempts.map(|(buyer, variant, method)| async move {
        (buyer, method, buy(app, &buyer.access_token, variant, method).await)
    }))
    .await;
    for (buyer, method, (status, placed)) in answers {
        assert_eq!(status, StatusCode::CREATED, "{placed}");
        let order_id = placed["order"]["id"].as_str().unwrap();
        if method == "wallet" {
            assert_eq!(placed["order"]["status"], "delivered");
            let order: Value = app
                .get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token))
                .await
                .json()
                .await
                .unwrap();
            let timeline: Vec<&str> =
                order["timeline"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
            assert_eq!(timeline, ["pending_payment", "paid", "delivered"]);
            assert_eq!(order["lines"][0]["items"].as_array().unwrap().len(), 1, "one key delivered");
        } else {
            assert_eq!(placed["order"]["status"], "pending_payment");
            assert_eq!(placed["payment"]["status"], "pending");
            assert!(placed["payment"]["checkout_url"].is_string(), "the gateway was asked: {placed}");
        }
    }
    let shirts = app.stock_level(&admin, &shirt).await;
    assert_eq!((shirts["on_hand"].as_i64(), shirts["reserved"].as_i64()), (Some(10), Some(10)));
    let keys_left = app.stock_level(&admin, &keys).await;
    assert_eq!((keys_left["on_hand"].as_i64(), keys_left["reserved"].as_i64()), (Some(0), Some(0)));
    assert_each_order_backed_once(app).await;
    assert_invariants(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_each_batch_their_own_buyers_and_never_oversell() {
    let first = spawn_app().await;
    let second = first.another_instance().await;
    let admin = first.admin().await;
    let variant = first.product(&admin, "physical", &[10_000]).await.remove(0);
    first.stock(&admin, &variant, 30).await;
    let buyers = buyers(&first, "buyer", 20).await;
    for buyer in &buyers {
        fund(&first, &admin, buyer, 100_000).await;
    }

    let (first, second) = (&first, &second);
    let attempts = (0..160).map(|i| {
        let app = if i % 2 == 0 { first } else { second };
        let buyer = &buyers[i % buyers.len()];
        let variant = variant.as_str();
        async move { buy(app, &buyer.access_token, variant, "wallet").await.0 }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let sold_out = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((created, sold_out), (30, 130), "{statuses:?}");
    for app in [first, second] {
        let stats = app.state.checkout.batch_stats().unwrap();
        assert!(stats.batches > 0, "each instance batched its own buyers: {stats:?}");
    }
    let level = first.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(0), Some(0)));
    assert_each_order_backed_once(first).await;
    assert_invariants(first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_batching_off_every_checkout_is_written_alone_and_still_never_oversells() {
    let app = crate::helpers::spawn_app_with(|config| config.checkout_batch_size = 1).await;
    assert!(app.state.checkout.batch_stats().is_none());
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyers = buyers(&app, "buyer", 5).await;
    for buyer in &buyers {
        fund(&app, &admin, buyer, 100_000).await;
    }
    let app = &app;
    let attempts = (0..40).map(|i| {
        let buyer = &buyers[i % buyers.len()];
        let variant = variant.as_str();
        async move { buy(app, &buyer.access_token, variant, "wallet").await.0 }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 5, "{statuses:?}");
    assert_each_order_backed_once(app).await;
    assert_invariants(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_in_which_every_buyer_is_refused_writes_nothing_and_fails_nobody() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let buyers = buyers(&app, "buyer", 10).await;
    for buyer in &buyers {
        fund(&app, &admin, buyer, 100_000).await;
    }
    // The first two buy the stock; then everyone finds it gone, again and again.
    for buyer in &buyers[..2] {
        assert_eq!(buy(&app, &buyer.access_token, &variant, "wallet").await.0, StatusCode::CREATED);
    }
    let app = &app;
    let attempts = (0..60).map(|i| {
        let buyer = &buyers[i % buyers.len()];
        let variant = variant.as_str();
        async move { buy(app, &buyer.access_token, variant, "wallet").await }
    });
    for (status, body) in futures::future::join_all(attempts).await {
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["code"], "out_of_stock");
    }
    let stats = app.state.checkout.batch_stats().unwrap();
    assert_eq!(stats.handed_back, 0, "refusing everyone is an answer, not a failed batch: {stats:?}");
    assert_eq!(count(app, "SELECT COUNT(*) FROM orders").await, 2);
    assert_each_order_backed_once(app).await;
    assert_invariants(app).await;
}

#[tokio::test]
async fn a_checkout_right_after_a_price_change_pays_the_new_price() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("ana@example.com").await;
    fund(&app, &admin, &buyer, 100_000).await;
    let (status, first) = buy(&app, &buyer.access_token, &variant, "wallet").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["order"]["total"]["amount"], 10_000);

    let changed = app
        .patch(
            &format!("/v1/admin/variants/{variant}"),
            Some(&admin.access_token),
            &json!({"price": {"amount": 12_500, "currency": "IDR"}}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK, "{}", changed.text().await.unwrap());
    let (status, second) = buy(&app, &buyer.access_token, &variant, "wallet").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["order"]["total"]["amount"], 12_500, "the price the checkout read was not kept");
}
