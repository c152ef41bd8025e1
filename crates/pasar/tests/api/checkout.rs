use std::time::Duration;

use pasar::identity::Role;
use rand::seq::SliceRandom;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, shipping_address, spawn_app};

/// The invariants of DESIGN section 4, checked from the database: 0 <= reserved <= on_hand,
/// on_hand is the sum of the movements, reserved is the sum of held reservations; and the
/// ledger verifies (debits equal credits, no wallet below zero, stored totals match transfers).
pub async fn assert_invariants(app: &TestApp) {
    let violations = app.state.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "ledger violations: {violations:?}");
    let levels: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT variant_id, on_hand, reserved FROM stock_levels")
            .fetch_all(app.state.db.reader())
            .await
            .unwrap();
    for (variant, on_hand, reserved) in levels {
        assert!(0 <= reserved && reserved <= on_hand, "{variant}: reserved {reserved}, on hand {on_hand}");
        let moved: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM stock_movements WHERE variant_id = $1",
        )
        .bind(&variant)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        assert_eq!(moved, on_hand, "{variant}: on hand is the sum of its movements");
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM stock_reservations WHERE variant_id = $1 AND status = 'held'",
        )
        .bind(&variant)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        assert_eq!(held, reserved, "{variant}: reserved is the sum of held reservations");
    }
}

async fn buyers(app: &TestApp, count: usize) -> Vec<Session> {
    let mut all = Vec::new();
    for i in 0..count {
        all.push(app.user_with_role(&format!("buyer{i}@example.com"), Role::Customer).await);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_racing_for_ten_units_get_exactly_ten_orders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 10).await;
    let buyers = buyers(&app, 20).await;

    let one = [(variant.as_str(), 1)];
    let attempts = (0..200).map(|i| app.checkout(&buyers[i % 20].access_token, &one));
    let responses = futures::future::join_all(attempts).await;
    let mut created = 0;
    let mut sold_out = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let body = assert_error(response, StatusCode::CONFLICT, "out_of_stock").await;
                assert_eq!(body["error"]["details"]["variant_id"], variant.as_str());
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!((created, sold_out), (10, 190));
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64(), level["available"].as_i64()),
        (Some(10), Some(10), Some(0))
    );
    let orders: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(orders, 10);
    assert_invariants(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_item_checkouts_in_random_order_never_deadlock_or_oversell() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variants = app.product(&admin, "physical", &[1_000, 2_000, 3_000, 4_000]).await;
    for variant in &variants {
        app.stock(&admin, variant, 15).await;
    }
    let buyers = buyers(&app, 10).await;
    let mut carts = Vec::new();
    let mut rng = rand::thread_rng();
    for _ in 0..100 {
        let mut picked: Vec<&String> = variants.iter().collect();
        picked.shuffle(&mut rng);
        picked.truncate(2 + (rand::random::<usize>() % 2));
        carts.push(picked);
    }
    let app = &app;
    let attempts = carts.iter().enumerate().map(|(i, cart)| {
        let items: Vec<(&str, i64)> = cart.iter().map(|v| (v.as_str(), 1)).collect();
        let token = buyers[i % 10].access_token.clone();
        async move { app.checkout(&token, &items).await.status() }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::CREATED));
    assert_invariants(app).await;
    for variant in &variants {
        let level = app.stock_level(&admin, variant).await;
        assert_eq!(level["on_hand"], 15);
    }
}

#[tokio::test]
async fn a_checkout_answers_with_the_order_and_its_payment_including_the_fee() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[150_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("ana@example.com").await;
    let response = app.checkout(&buyer.access_token, &[(&variant, 2)]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.unwrap();
    let order = &placed["order"];
    assert!(order["id"].as_str().unwrap().starts_with("ord_"));
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["total"], json!({"amount": 300_000, "currency": "IDR"}));
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["lines"][0]["unit_price"]["amount"], 150_000);
    let payment = &placed["payment"];
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["provider"], "sandbox");
    assert_eq!(payment["amount"]["amount"], 300_000);
    // Pakasir's QRIS rule: 0.7% rounded up, plus Rp 310.
    assert_eq!(payment["fee"]["amount"], 2_100 + 310);
    assert_eq!(payment["total"]["amount"], 300_000 + 2_410);
    assert!(
        payment["checkout_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/sandbox/pay/{}", payment["id"].as_str().unwrap()))
    );
    assert!(payment["expires_at"].as_str().is_some());
}

#[tokio::test]
async fn the_client_cannot_set_prices_or_statuses() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[150_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("ana@example.com").await;
    let body = json!({"items": [{"variant_id": variant, "quantity": 1, "price": {"amount": 1, "currency": "IDR"}}],
                      "payment_method": "sandbox", "shipping_address": shipping_address()});
    let response = app.post("/v1/checkout", Some(&buyer.access_token), &body).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let body = json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "sandbox",
                      "shipping_address": shipping_address(), "status": "paid"});
    let response = app.post("/v1/checkout", Some(&buyer.access_token), &body).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn bad_checkouts_are_refused_and_reserve_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("ana@example.com").await;
    let token = Some(buyer.access_token.as_str());
    let cases = [
        (
            json!({"items": [{"variant_id": variant, "quantity": 0}], "payment_method": "sandbox", "shipping_address": shipping_address()}),
            "invalid_checkout",
        ),
        (
            json!({"items": [{"variant_id": variant, "quantity": 101}], "payment_method": "sandbox", "shipping_address": shipping_address()}),
            "invalid_checkout",
        ),
        (
            json!({"items": [], "payment_method": "sandbox", "shipping_address": shipping_address()}),
            "invalid_checkout",
        ),
        (
            json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "sandbox"}),
            "invalid_checkout",
        ),
        (
            json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "cash", "shipping_address": shipping_address()}),
            "unknown_payment_method",
        ),
        (
            json!({"items": [{"variant_id": "var_0192f5a3c1e27d3a9b4c5d6e7f809112", "quantity": 1}], "payment_method": "sandbox", "shipping_address": shipping_address()}),
            "not_for_sale",
        ),
        (json!({"payment_method": "sandbox", "shipping_address": shipping_address()}), "invalid_checkout"),
    ];
    for (body, code) in cases {
        let response = app.post("/v1/checkout", token, &body).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    let over = app.checkout(&buyer.access_token, &[(&variant, 6)]).await;
    assert_error(over, StatusCode::CONFLICT, "out_of_stock").await;
    assert_eq!(app.stock_level(&admin, &variant).await["reserved"], 0);
    let anonymous = app.post("/v1/checkout", None, &json!({})).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_checkout_with_its_idempotency_key_places_one_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 50).await;
    let buyer = app.register("ana@example.com").await;
    let body = json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "sandbox",
                      "shipping_address": shipping_address()});
    let send = || {
        app.request(Method::POST, "/v1/checkout", Some(&buyer.access_token))
            .header("idempotency-key", "checkout-1")
            .json(&body)
            .send()
    };
    let responses = futures::future::join_all((0..5).map(|_| send())).await;
    let mut ids = Vec::new();
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => ids.push(response.json::<Value>().await.unwrap()["order"]["id"].clone()),
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    let again: Value = send().await.unwrap().json().await.unwrap();
    ids.push(again["order"]["id"].clone());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(app.stock_level(&admin, &variant).await["reserved"], 1);
}

#[tokio::test]
async fn a_buyer_browses_fills_a_cart_pays_in_the_sandbox_and_receives_digital_keys() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let key_variant = app.product(&admin, "digital", &[75_000]).await.remove(0);
    let keys = json!({"items": ["GAME-KEY-0001", "GAME-KEY-0002", "GAME-KEY-0003"]});
    let added = app
        .post(&format!("/v1/admin/variants/{key_variant}/digital-items"), Some(&admin.access_token), &keys)
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);

    // Browse.
    let listing: Value = app.get("/v1/products", None).await.json().await.unwrap();
    let product = listing["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "digital")
        .expect("the product is listed")
        .clone();
    let detail: Value = app
        .get(&format!("/v1/products/{}", product["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["variants"][0]["id"], key_variant.as_str());

    // A cart.
    let buyer = app.register("ana@example.com").await;
    let token = Some(buyer.access_token.as_str());
    let cart: Value = app.post("/v1/carts", token, &json!({})).await.json().await.unwrap();
    let cart_id = cart["id"].as_str().unwrap();
    let filled = app
        .post(
            &format!("/v1/carts/{cart_id}/items"),
            token,
            &json!({"variant_id": key_variant, "quantity": 2}),
        )
        .await;
    assert_eq!(filled.status(), StatusCode::OK);
    let filled: Value = filled.json().await.unwrap();
    assert_eq!(filled["subtotal"]["amount"], 150_000);

    // Checkout: digital goods need no shipping address.
    let placed =
        app.post("/v1/checkout", token, &json!({"cart_id": cart_id, "payment_method": "sandbox"})).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    let payment_id = placed["payment"]["id"].as_str().unwrap();
    let emptied: Value = app.get(&format!("/v1/carts/{cart_id}"), token).await.json().await.unwrap();
    assert_eq!(emptied["items"], json!([]), "the cart was bought");

    // The hosted page, then Pay.
    let page = app.get(&format!("/sandbox/pay/{payment_id}"), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Pay"));
    assert_eq!(app.press(payment_id, "succeed").await.status(), StatusCode::OK);

    let order = app.wait_for_order(&buyer.access_token, order_id, "delivered").await;
    let delivered: Vec<&str> =
        order["lines"][0]["items"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(delivered.len(), 2);
    assert!(delivered.iter().all(|k| k.starts_with("GAME-KEY-")));
    let statuses: Vec<&str> =
        order["timeline"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending_payment", "paid", "delivered"]);
    assert_eq!(order["payments"][0]["status"], "succeeded");
    let level = app.stock_level(&admin, &key_variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(1), Some(0)));

    // Only the buyer and admins read the keys.
    let other = app.register("bob@example.com").await;
    assert_error(
        app.get(&format!("/v1/orders/{order_id}"), Some(&other.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let as_admin: Value = app
        .get(&format!("/v1/admin/orders/{order_id}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_admin["lines"][0]["items"].as_array().unwrap().len(), 2);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_failed_payment_cancels_the_order_and_releases_its_stock() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    assert_eq!(app.press(placed["payment"]["id"].as_str().unwrap(), "fail").await.status(), StatusCode::OK);
    app.wait_for_order(&buyer.access_token, placed["order"]["id"].as_str().unwrap(), "cancelled").await;
    assert_eq!(app.stock_level(&admin, &variant).await["available"], 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_unpaid_order_expires_at_its_deadline_and_its_stock_returns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();

    app.clock.advance(Duration::from_secs(599));
    assert_eq!(app.sweep().await.0, 0, "not yet due");
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(app.sweep().await.0, 1);
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "expired");
    assert_eq!(order["payments"][0]["status"], "expired");
    assert_eq!(app.stock_level(&admin, &variant).await["available"], 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn deadlines_that_passed_while_the_server_was_down_are_honoured_at_start() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 2)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();

    let app = app.restart_after(Duration::from_secs(3600)).await;
    // The sweeper runs as the server starts; no manual sweep here.
    let fresh: Value = app.login("ana@example.com", crate::helpers::PASSWORD).await.json().await.unwrap();
    let token = fresh["access_token"].as_str().unwrap();
    app.wait_for_order(token, &order_id, "expired").await;
    let admin = app.admin().await;
    assert_eq!(app.stock_level(&admin, &variant).await["available"], 2);
}

#[tokio::test]
async fn a_payment_after_the_deadline_revives_the_order_when_stock_is_still_there() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    app.wait_for_order(&buyer.access_token, order_id, "expired").await;

    // The gateway still took the money (its QR was open a little longer).
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    let order = app.wait_for_order(&buyer.access_token, order_id, "paid").await;
    assert_eq!(order["refund_due"], false);
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(0), Some(0)));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_payment_after_the_deadline_is_flagged_for_refund_when_the_stock_was_sold_meanwhile() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let late = app.register("late@example.com").await;
    let placed: Value = app.checkout(&late.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    let quick = app.register("quick@example.com").await;
    assert_eq!(app.checkout(&quick.access_token, &[(&variant, 1)]).await.status(), StatusCode::CREATED);

    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let order: Value =
            app.get(&format!("/v1/orders/{order_id}"), Some(&late.access_token)).await.json().await.unwrap();
        if order["refund_due"] == true {
            assert_eq!(order["status"], "expired");
            assert_eq!(order["payments"][0]["status"], "succeeded", "the money is recorded, not dropped");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never flagged: {order}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(1), Some(1)), "never oversold");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_buyer_cancels_an_unpaid_order_but_not_a_paid_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let buyer = app.register("ana@example.com").await;
    let token = Some(buyer.access_token.as_str());
    let first: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let first_id = first["order"]["id"].as_str().unwrap();
    let cancelled =
        app.request(Method::POST, &format!("/v1/orders/{first_id}/cancel"), token).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        app.press(first["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::CONFLICT,
        "the gateway was told"
    );

    let second: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let second_id = second["order"]["id"].as_str().unwrap();
    app.press(second["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, second_id, "paid").await;
    let refused =
        app.request(Method::POST, &format!("/v1/orders/{second_id}/cancel"), token).send().await.unwrap();
    assert_error(refused, StatusCode::CONFLICT, "invalid_transition").await;

    let other = app.register("bob@example.com").await;
    let foreign = app
        .request(Method::POST, &format!("/v1/orders/{second_id}/cancel"), Some(&other.access_token))
        .send()
        .await
        .unwrap();
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found").await;
    assert_invariants(&app).await;
}

#[tokio::test]
async fn an_admin_ships_delivers_and_completes_an_order_and_each_step_is_on_the_timeline() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, order_id, "paid").await;

    let path = format!("/v1/admin/orders/{order_id}/status");
    let token = Some(admin.access_token.as_str());
    let skip = app.post(&path, token, &json!({"status": "delivered"})).await;
    assert_error(skip, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(app.post(&path, token, &json!({"status": "processing"})).await.status(), StatusCode::OK);
    let untracked = app.post(&path, token, &json!({"status": "shipped"})).await;
    assert_error(untracked, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let shipped = app.post(&path, token, &json!({"status": "shipped", "tracking_number": "JNE123"})).await;
    assert_eq!(shipped.status(), StatusCode::OK);
    assert_eq!(shipped.json::<Value>().await.unwrap()["tracking_number"], "JNE123");
    assert_eq!(app.post(&path, token, &json!({"status": "delivered"})).await.status(), StatusCode::OK);
    let completed: Value =
        app.post(&path, token, &json!({"status": "completed"})).await.json().await.unwrap();
    let steps: Vec<&str> =
        completed["timeline"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(steps, ["pending_payment", "paid", "processing", "shipped", "delivered", "completed"]);
    assert!(completed["timeline"].as_array().unwrap()[2]["actor"].as_str().unwrap().starts_with("usr_"));

    let as_buyer = app.post(&path, Some(&buyer.access_token), &json!({"status": "processing"})).await;
    assert_error(as_buyer, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn an_admin_cancelling_a_paid_order_refunds_it_and_restocks() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, order_id, "paid").await;
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 0);

    let cancelled = app
        .request(Method::POST, &format!("/v1/admin/orders/{order_id}/cancel"), Some(&admin.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "refunded");
    assert_eq!(cancelled["payments"][0]["status"], "refunded");
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 1);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn admins_list_orders_by_status_and_buyers_see_only_their_own() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 10).await;
    let ana = app.register("ana@example.com").await;
    let bob = app.register("bob@example.com").await;
    for _ in 0..3 {
        app.checkout(&ana.access_token, &[(&variant, 1)]).await;
    }
    app.checkout(&bob.access_token, &[(&variant, 1)]).await;

    let mine: Value = app.get("/v1/orders", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 3);
    let paged: Value = app.get("/v1/orders?limit=2", Some(&ana.access_token)).await.json().await.unwrap();
    let next = paged["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/v1/orders?limit=2&cursor={next}"), Some(&ana.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);

    let pending: Value = app
        .get("/v1/admin/orders?status=pending_payment", Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["data"].as_array().unwrap().len(), 4);
    let bobs: Value = app
        .get(&format!("/v1/admin/orders?buyer_id={}", bob.id), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["data"].as_array().unwrap().len(), 1);
    let customer_on_admin = app.get("/v1/admin/orders", Some(&ana.access_token)).await;
    assert_error(customer_on_admin, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn the_pay_page_shows_the_amount_in_rupiah_links_the_order_and_says_when_paying_is_late() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[95_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let buyer = app.register("buyer@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let (order_id, payment_id) =
        (placed["order"]["id"].as_str().unwrap(), placed["payment"]["id"].as_str().unwrap());
    // Rp 95.000 and the QRIS fee of 0.7% + Rp 310: Rp 95.975.
    assert_eq!(placed["payment"]["total"]["amount"], 95_975);
    let page = async |app: &TestApp| {
        let page = app.get(&format!("/sandbox/pay/{payment_id}"), None).await;
        page.text().await.unwrap().replace('\u{a0}', " ")
    };

    let open = page(&app).await;
    assert!(open.contains("Rp 95.975"), "{open}");
    assert!(open.contains(&format!("/v1/orders/{order_id}")), "the page links the order: {open}");
    assert!(open.contains("<strong>pending</strong>") && !open.contains("late payment"), "{open}");

    app.clock.advance(Duration::from_secs(601));
    let late = page(&app).await;
    assert!(late.contains("<strong>expired</strong>"), "{late}");
    assert!(late.contains("late payment"), "{late}");
    assert!(late.contains("Pay late"), "a late payment can still be made: {late}");

    app.clock.advance(Duration::from_secs(600));
    let over = page(&app).await;
    assert!(over.contains("<strong>expired</strong>") && over.contains("can no longer be paid"), "{over}");
    assert!(!over.contains("<button>"), "{over}");
}
