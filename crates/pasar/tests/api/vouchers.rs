use std::time::Duration;

use pasar::identity::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{Session, TestApp, assert_error, shipping_address, spawn_app};

/// Creates a voucher through `path` (the admin's or the seller's) and returns it.
async fn create(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let response = app.post(path, Some(token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "creating a voucher {body}");
    response.json().await.unwrap()
}

async fn platform_voucher(app: &TestApp, admin: &Session, body: Value) -> Value {
    create(app, "/v1/admin/vouchers", &admin.access_token, body).await
}

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

async fn checkout_with(app: &TestApp, token: &str, items: &[(&str, i64)], vouchers: &[&str]) -> Response {
    let items: Vec<Value> = items.iter().map(|(v, q)| json!({"variant_id": v, "quantity": q})).collect();
    app.post(
        "/v1/checkout",
        Some(token),
        &json!({"items": items, "payment_method": "sandbox", "shipping_address": shipping_address(),
                "vouchers": vouchers}),
    )
    .await
}

/// Asserts a 409 refusing `code` for `reason`.
async fn assert_refused(response: Response, code: &str, reason: &str) {
    let body = assert_error(response, StatusCode::CONFLICT, "voucher_not_applicable").await;
    assert_eq!(body["error"]["details"]["reason"], reason, "{body}");
    assert_eq!(
        body["error"]["details"]["code"].as_str().map(str::to_uppercase).as_deref(),
        Some(code),
        "{body}"
    );
}

/// Why `POST /v1/vouchers/validate` refuses `body`.
async fn refusal(app: &TestApp, buyer: &Session, body: Value) -> String {
    let response = app.post("/v1/vouchers/validate", Some(&buyer.access_token), &body).await;
    let body = assert_error(response, StatusCode::CONFLICT, "voucher_not_applicable").await;
    body["error"]["details"]["reason"].as_str().unwrap().to_owned()
}

async fn placed(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED, "a checkout");
    response.json().await.unwrap()
}

async fn usage(app: &TestApp, admin: &Session, voucher: &Value) -> Value {
    let response = app
        .get(
            &format!("/v1/admin/vouchers/{}/usage", voucher["id"].as_str().unwrap()),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn buyer(app: &TestApp, name: &str) -> Session {
    app.user_with_role(&format!("{name}-{}@example.com", uuid::Uuid::now_v7().simple()), Role::Customer).await
}

/// An active physical product of `seller`'s store at `price`, stocked; its variant.
async fn store_product(app: &TestApp, admin: &Session, seller: &Session, price: i64) -> String {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category: Value = app
        .post("/v1/admin/categories", token, &json!({"name": format!("Category {suffix}")}))
        .await
        .json()
        .await
        .unwrap();
    let body = json!({
        "name": format!("Product {suffix}"), "description": "A thing to buy", "kind": "physical",
        "status": "active", "category_id": category["id"], "seller_id": seller.id,
        "variants": [{"sku": format!("SKU-{}", &suffix[20..]), "options": {}, "price": idr(price)}],
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "creating a store's product");
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 100).await;
    variant
}

/// A shop with one stocked platform product at Rp 100,000.
async fn shop() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[100_000]).await.remove(0);
    app.stock(&admin, &variant, 1_000).await;
    (app, admin, variant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_buyers_racing_for_ten_uses_leave_exactly_ten_orders_with_the_voucher() {
    let (app, admin, variant) = shop().await;
    let voucher =
        platform_voucher(&app, &admin, json!({"code": "sepuluh", "percent_off": 10, "usage_limit": 10}))
            .await;
    let mut buyers = Vec::new();
    for i in 0..100 {
        buyers.push(buyer(&app, &format!("racer{i}")).await);
    }
    let app = &app;
    let variant = variant.as_str();
    let attempts = buyers.iter().map(|b| async move {
        let response = checkout_with(app, &b.access_token, &[(variant, 1)], &["SEPULUH"]).await;
        let status = response.status();
        (b, status, response.json::<Value>().await.unwrap())
    });
    let answers = futures::future::join_all(attempts).await;
    let won: Vec<(&Session, &Value)> =
        answers.iter().filter(|(_, s, _)| *s == StatusCode::CREATED).map(|(b, _, o)| (*b, o)).collect();
    assert_eq!(won.len(), 10, "exactly the ten uses are taken");
    for (_, status, body) in answers.iter().filter(|(_, s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["details"]["reason"], "used_up", "{body}");
    }
    for (buyer, placed) in &won {
        let order = &placed["order"];
        assert_eq!(order["vouchers"][0]["code"], "SEPULUH");
        assert_eq!(order["discount"]["amount"], 10_000);
        assert_eq!(order["total"]["amount"], 90_000);
        assert_eq!(placed["payment"]["amount"]["amount"], 90_000);
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
        app.wait_for_order(&buyer.access_token, order["id"].as_str().unwrap(), "paid").await;
    }
    let report = usage(app, &admin, &voucher).await;
    assert_eq!((report["used"].as_i64(), report["held"].as_i64()), (Some(10), Some(0)), "{report}");
    assert_eq!(report["discount_given"]["amount"], 100_000);
    assert_eq!(report["buyers"].as_array().unwrap().len(), 10);
    let redeemed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE event_type = 'voucher.redeemed'")
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    assert_eq!(redeemed, 10, "one voucher.redeemed per paid order");
    assert_eq!(app.stock_level(&admin, variant).await["on_hand"], 990);
    assert_invariants(app).await;
}

#[tokio::test]
async fn a_voucher_held_by_a_checkout_that_expires_is_usable_again() {
    let (app, admin, variant) = shop().await;
    let voucher =
        platform_voucher(&app, &admin, json!({"code": "ONCE", "amount_off": idr(5_000), "usage_limit": 1}))
            .await;
    let (first, second) = (buyer(&app, "first").await, buyer(&app, "second").await);
    placed(checkout_with(&app, &first.access_token, &[(&variant, 1)], &["once"]).await).await;
    assert_refused(
        checkout_with(&app, &second.access_token, &[(&variant, 1)], &["ONCE"]).await,
        "ONCE",
        "used_up",
    )
    .await;

    app.clock.advance(Duration::from_secs(601));
    assert_eq!(app.sweep().await.0, 1, "the unpaid checkout expires");
    let again = placed(checkout_with(&app, &second.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    assert_eq!(again["order"]["discount"]["amount"], 5_000);
    let report = usage(&app, &admin, &voucher).await;
    assert_eq!((report["held"].as_i64(), report["released"].as_i64()), (Some(1), Some(1)), "{report}");
}

#[tokio::test]
async fn cancelling_an_unpaid_order_gives_its_voucher_back_and_a_failed_payment_does_too() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "ONCE", "percent_off": 5, "usage_limit": 1})).await;
    let (first, second) = (buyer(&app, "first").await, buyer(&app, "second").await);
    let order = placed(checkout_with(&app, &first.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    let id = order["order"]["id"].as_str().unwrap();
    let cancelled = app
        .request(Method::POST, &format!("/v1/orders/{id}/cancel"), Some(&first.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);

    let order = placed(checkout_with(&app, &second.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    assert_eq!(app.press(order["payment"]["id"].as_str().unwrap(), "fail").await.status(), StatusCode::OK);
    app.wait_for_order(&second.access_token, order["order"]["id"].as_str().unwrap(), "cancelled").await;
    placed(checkout_with(&app, &first.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
}

#[tokio::test]
async fn a_buyer_uses_a_voucher_at_most_their_limit() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "TWICE", "percent_off": 5, "per_buyer_limit": 2})).await;
    let (ana, budi) = (buyer(&app, "ana").await, buyer(&app, "budi").await);
    for _ in 0..2 {
        placed(checkout_with(&app, &ana.access_token, &[(&variant, 1)], &["TWICE"]).await).await;
    }
    assert_refused(
        checkout_with(&app, &ana.access_token, &[(&variant, 1)], &["TWICE"]).await,
        "TWICE",
        "per_buyer_limit_reached",
    )
    .await;
    placed(checkout_with(&app, &budi.access_token, &[(&variant, 1)], &["TWICE"]).await).await;
}

#[tokio::test]
async fn a_first_order_voucher_is_only_for_buyers_without_a_paid_order() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "WELCOME", "percent_off": 20, "first_order_only": true}))
        .await;
    let (regular, newcomer) = (buyer(&app, "regular").await, buyer(&app, "newcomer").await);
    let first = placed(app.checkout(&regular.access_token, &[(&variant, 1)]).await).await;
    app.press(first["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&regular.access_token, first["order"]["id"].as_str().unwrap(), "paid").await;
    assert_refused(
        checkout_with(&app, &regular.access_token, &[(&variant, 1)], &["WELCOME"]).await,
        "WELCOME",
        "first_order_only",
    )
    .await;
    let order =
        placed(checkout_with(&app, &newcomer.access_token, &[(&variant, 1)], &["welcome"]).await).await;
    assert_eq!(order["order"]["discount"]["amount"], 20_000);
    assert_refused(
        checkout_with(&app, &newcomer.access_token, &[(&variant, 1)], &["WELCOME"]).await,
        "WELCOME",
        "first_order_only",
    )
    .await;
}

#[tokio::test]
async fn minimum_spend_and_the_window_are_honoured() {
    let (app, admin, variant) = shop().await;
    let now = app.clock.now();
    platform_voucher(
        &app,
        &admin,
        json!({"code": "BIG", "amount_off": idr(30_000), "min_spend": idr(150_000)}),
    )
    .await;
    platform_voucher(
        &app,
        &admin,
        json!({"code": "LATER", "percent_off": 10,
               "starts_at": now.plus(Duration::from_secs(60)).to_rfc3339(),
               "ends_at": now.plus(Duration::from_secs(120)).to_rfc3339()}),
    )
    .await;
    let shopper = buyer(&app, "shopper").await;
    let token = &shopper.access_token;
    assert_refused(checkout_with(&app, token, &[(&variant, 1)], &["BIG"]).await, "BIG", "min_spend_not_met")
        .await;
    let two = placed(checkout_with(&app, token, &[(&variant, 2)], &["BIG"]).await).await;
    assert_eq!(two["order"]["total"]["amount"], 170_000);

    assert_refused(checkout_with(&app, token, &[(&variant, 1)], &["LATER"]).await, "LATER", "not_started")
        .await;
    app.clock.advance(Duration::from_secs(60));
    placed(checkout_with(&app, token, &[(&variant, 1)], &["LATER"]).await).await;
    app.clock.advance(Duration::from_secs(60));
    assert_refused(checkout_with(&app, token, &[(&variant, 1)], &["LATER"]).await, "LATER", "expired").await;
}

#[tokio::test]
async fn two_platform_vouchers_need_to_be_stackable_and_a_platform_and_a_store_voucher_combine() {
    let (app, admin, variant) = shop().await;
    let (seller, _) = crate::sellers::seller(&app, &admin, "toko").await;
    let store_variant = store_product(&app, &admin, &seller, 200_000).await;
    platform_voucher(&app, &admin, json!({"code": "ONE", "percent_off": 10})).await;
    platform_voucher(&app, &admin, json!({"code": "TWO", "amount_off": idr(1_000)})).await;
    platform_voucher(&app, &admin, json!({"code": "STACK-A", "percent_off": 10, "stackable": true})).await;
    platform_voucher(&app, &admin, json!({"code": "STACK-B", "amount_off": idr(1_000), "stackable": true}))
        .await;
    create(&app, "/v1/seller/vouchers", &seller.access_token, json!({"code": "TOKO5", "percent_off": 5}))
        .await;
    let shopper = buyer(&app, "shopper").await;
    let token = &shopper.access_token;

    assert_refused(
        checkout_with(&app, token, &[(&variant, 1)], &["ONE", "TWO"]).await,
        "TWO",
        "not_stackable",
    )
    .await;
    assert_refused(
        checkout_with(&app, token, &[(&variant, 1)], &["STACK-A", "TWO"]).await,
        "TWO",
        "not_stackable",
    )
    .await;
    let stacked = placed(checkout_with(&app, token, &[(&variant, 1)], &["STACK-A", "STACK-B"]).await).await;
    assert_eq!(stacked["order"]["discount"]["amount"], 10_000 + 1_000);

    let mixed =
        placed(checkout_with(&app, token, &[(&variant, 1), (&store_variant, 1)], &["ONE", "TOKO5"]).await)
            .await;
    let order = &mixed["order"];
    // ONE: 10% of 300,000; TOKO5: 5% of what is left on the store's line (200,000 - 20,000).
    assert_eq!(order["discount"]["amount"], 30_000 + 9_000);
    assert_eq!(order["total"]["amount"], 300_000 - 39_000);
    let funders: Vec<(&str, &str, i64)> = order["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["code"].as_str().unwrap(),
                v["funder"].as_str().unwrap(),
                v["amount"]["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(funders, vec![("ONE", "platform", 30_000), ("TOKO5", "store", 9_000)]);
    let store_line = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["variant_id"] == store_variant.as_str())
        .unwrap();
    assert_eq!(
        (store_line["platform_discount"]["amount"].as_i64(), store_line["store_discount"]["amount"].as_i64()),
        (Some(20_000), Some(9_000))
    );
}

#[tokio::test]
async fn a_sellers_voucher_discounts_only_that_sellers_items_and_other_stores_cannot_see_it() {
    let (app, admin, platform_variant) = shop().await;
    let (seller, _) = crate::sellers::seller(&app, &admin, "toko").await;
    let (rival, _) = crate::sellers::seller(&app, &admin, "saingan").await;
    let mine = store_product(&app, &admin, &seller, 50_000).await;
    let theirs = store_product(&app, &admin, &rival, 50_000).await;
    let voucher = create(
        &app,
        "/v1/seller/vouchers",
        &seller.access_token,
        json!({"code": "TOKO", "amount_off": idr(20_000)}),
    )
    .await;
    assert_eq!(
        (voucher["funder"].as_str(), voucher["store_id"].as_str()),
        (Some("store"), Some(seller.id.as_str()))
    );
    let shopper = buyer(&app, "shopper").await;

    assert_refused(
        checkout_with(&app, &shopper.access_token, &[(&theirs, 1), (&platform_variant, 1)], &["TOKO"]).await,
        "TOKO",
        "not_applicable_to_items",
    )
    .await;
    let order =
        placed(checkout_with(&app, &shopper.access_token, &[(&mine, 1), (&theirs, 1)], &["TOKO"]).await)
            .await;
    for line in order["order"]["lines"].as_array().unwrap() {
        let expected = if line["variant_id"] == mine.as_str() { 20_000 } else { 0 };
        assert_eq!(line["store_discount"]["amount"], expected, "{line}");
        assert_eq!(line["platform_discount"]["amount"], 0);
    }

    let id = voucher["id"].as_str().unwrap();
    for path in [format!("/v1/seller/vouchers/{id}"), format!("/v1/seller/vouchers/{id}/usage")] {
        assert_error(app.get(&path, Some(&rival.access_token)).await, StatusCode::NOT_FOUND, "not_found")
            .await;
        assert_eq!(app.get(&path, Some(&seller.access_token)).await.status(), StatusCode::OK);
    }
    let pause =
        app.request(Method::POST, &format!("/v1/seller/vouchers/{id}/pause"), Some(&rival.access_token));
    assert_error(pause.send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    let listed: Value = app.get("/v1/seller/vouchers", Some(&rival.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    let listed: Value =
        app.get("/v1/seller/vouchers", Some(&seller.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["code"], "TOKO");
    assert_error(
        app.get("/v1/seller/vouchers", Some(&shopper.access_token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/v1/admin/vouchers", Some(&seller.access_token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let elsewhere = json!({"code": "SNEAKY", "percent_off": 50, "applies_to": {"stores": [rival.id]}});
    let refused = app.post("/v1/seller/vouchers", Some(&seller.access_token), &elsewhere).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn validate_gives_the_discount_per_line_or_the_reason() {
    let (app, admin, variant) = shop().await;
    let other = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &other, 10).await;
    platform_voucher(&app, &admin, json!({"code": "HEMAT", "percent_off": 10, "max_discount": idr(12_000)}))
        .await;
    platform_voucher(
        &app,
        &admin,
        json!({"code": "BIG", "amount_off": idr(1_000), "min_spend": idr(1_000_000)}),
    )
    .await;
    platform_voucher(&app, &admin, json!({"code": "GONE", "amount_off": idr(1_000), "usage_limit": 1})).await;
    let shopper = buyer(&app, "shopper").await;
    let token = Some(shopper.access_token.as_str());
    let items = json!([{"variant_id": variant, "quantity": 1}, {"variant_id": other, "quantity": 1}]);

    let response = app.post("/v1/vouchers/validate", token, &json!({"code": "hemat", "items": items})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let quote: Value = response.json().await.unwrap();
    assert_eq!(quote["discount"]["amount"], 12_000, "10% of 140,000, capped");
    let per_line: Vec<i64> = quote["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["discount"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(per_line.iter().sum::<i64>(), 12_000);
    assert_eq!(per_line, vec![8_571, 3_429], "shared in proportion, exactly");

    let reason = |body: Value| refusal(&app, &shopper, body);
    assert_eq!(reason(json!({"code": "NOPE", "items": items})).await, "unknown_code");
    assert_eq!(reason(json!({"code": "BIG", "items": items})).await, "min_spend_not_met");
    placed(checkout_with(&app, &shopper.access_token, &[(&variant, 1)], &["GONE"]).await).await;
    assert_eq!(reason(json!({"code": "GONE", "items": items})).await, "used_up");
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    let cart: Value = app.post("/v1/carts", token, &json!({})).await.json().await.unwrap();
    let cart_id = cart["id"].as_str().unwrap();
    let added = app
        .post(&format!("/v1/carts/{cart_id}/items"), token, &json!({"variant_id": other, "quantity": 2}))
        .await;
    assert!(added.status().is_success(), "adding to the cart");
    let response =
        app.post("/v1/vouchers/validate", token, &json!({"code": "GONE", "cart_id": cart_id})).await;
    assert_eq!(response.status(), StatusCode::OK, "released again, and the cart is priced");
    let quote: Value = response.json().await.unwrap();
    assert_eq!(quote["lines"][0]["discount"]["amount"], 1_000);
}

#[tokio::test]
async fn a_paused_voucher_refuses_checkouts_until_resumed() {
    let (app, admin, variant) = shop().await;
    let voucher = platform_voucher(&app, &admin, json!({"code": "RAMADAN", "percent_off": 15})).await;
    let id = voucher["id"].as_str().unwrap();
    let shopper = buyer(&app, "shopper").await;
    let post = |path: String| app.request(Method::POST, &path, Some(&admin.access_token)).send();
    let paused: Value = post(format!("/v1/admin/vouchers/{id}/pause")).await.unwrap().json().await.unwrap();
    assert_eq!(paused["paused"], true);
    assert_refused(
        checkout_with(&app, &shopper.access_token, &[(&variant, 1)], &["RAMADAN"]).await,
        "RAMADAN",
        "paused",
    )
    .await;
    let resumed: Value = post(format!("/v1/admin/vouchers/{id}/resume")).await.unwrap().json().await.unwrap();
    assert_eq!(resumed["paused"], false);
    placed(checkout_with(&app, &shopper.access_token, &[(&variant, 1)], &["RAMADAN"]).await).await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE subject_id = $1 AND event_type IN ('voucher.created', 'voucher.paused', 'voucher.resumed')",
    )
    .bind(id)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(audited, 3, "every admin decision is an event, and so audited");
}

#[tokio::test]
async fn a_voucher_that_cannot_apply_refuses_the_checkout_and_holds_nothing() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "ONE", "percent_off": 10, "usage_limit": 1})).await;
    platform_voucher(
        &app,
        &admin,
        json!({"code": "BIG", "amount_off": idr(1_000), "min_spend": idr(1_000_000)}),
    )
    .await;
    let shopper = buyer(&app, "shopper").await;
    assert_refused(
        checkout_with(&app, &shopper.access_token, &[(&variant, 3)], &["ONE", "BIG"]).await,
        "BIG",
        "min_spend_not_met",
    )
    .await;
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(1_000), Some(0)));
    let orders: Value = app.get("/v1/orders", Some(&shopper.access_token)).await.json().await.unwrap();
    assert_eq!(orders["data"], json!([]));
    // ONE was not held by the refused checkout: its only use is still there.
    placed(checkout_with(&app, &shopper.access_token, &[(&variant, 1)], &["ONE"]).await).await;
}

#[tokio::test]
async fn an_automatic_promotion_applies_without_a_code_and_codes_are_unique_whatever_their_case() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "FLASH", "percent_off": 10, "automatic": true})).await;
    let taken = app
        .post("/v1/admin/vouchers", Some(&admin.access_token), &json!({"code": "flash", "percent_off": 5}))
        .await;
    assert_error(taken, StatusCode::CONFLICT, "voucher_code_taken").await;
    let shopper = buyer(&app, "shopper").await;
    let order = placed(app.checkout(&shopper.access_token, &[(&variant, 1)]).await).await;
    assert_eq!(order["order"]["vouchers"][0]["code"], "FLASH");
    assert_eq!(order["order"]["total"]["amount"], 90_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_buyer_racing_with_themselves_gets_exactly_their_limit() {
    let (app, admin, variant) = shop().await;
    let voucher =
        platform_voucher(&app, &admin, json!({"code": "DUA", "percent_off": 5, "per_buyer_limit": 2})).await;
    let greedy = buyer(&app, "greedy").await;
    let attempts = (0..20).map(|_| async {
        checkout_with(&app, &greedy.access_token, &[(&variant, 1)], &["DUA"]).await.status()
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(usage(&app, &admin, &voucher).await["held"], 2);
}

#[tokio::test]
async fn a_late_payment_takes_its_voucher_back_only_within_the_limit() {
    let (app, admin, variant) = shop().await;
    let voucher =
        platform_voucher(&app, &admin, json!({"code": "ONCE", "percent_off": 10, "usage_limit": 1})).await;
    let (late, quick) = (buyer(&app, "late").await, buyer(&app, "quick").await);
    let first = placed(checkout_with(&app, &late.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    let first_id = first["order"]["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    let second = placed(checkout_with(&app, &quick.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    app.press(second["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&quick.access_token, second["order"]["id"].as_str().unwrap(), "paid").await;

    // The gateway still took the late buyer's money: the stock is there, the voucher is not.
    assert_eq!(app.press(first["payment"]["id"].as_str().unwrap(), "succeed").await.status(), StatusCode::OK);
    let order = crate::helpers::eventually("the late payment to be settled", || async {
        let order: Value =
            app.get(&format!("/v1/orders/{first_id}"), Some(&late.access_token)).await.json().await.unwrap();
        (order["refund_due"] == true).then_some(order)
    })
    .await;
    assert_eq!(order["status"], "expired");
    let report = usage(&app, &admin, &voucher).await;
    assert_eq!((report["used"].as_i64(), report["held"].as_i64()), (Some(1), Some(0)), "{report}");
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_late_payment_revives_its_order_with_its_voucher_when_a_use_is_left() {
    let (app, admin, variant) = shop().await;
    let voucher =
        platform_voucher(&app, &admin, json!({"code": "ONCE", "percent_off": 10, "usage_limit": 1})).await;
    let late = buyer(&app, "late").await;
    let first = placed(checkout_with(&app, &late.access_token, &[(&variant, 1)], &["ONCE"]).await).await;
    let first_id = first["order"]["id"].as_str().unwrap();
    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    app.press(first["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&late.access_token, first_id, "paid").await;
    let report = usage(&app, &admin, &voucher).await;
    assert_eq!((report["used"].as_i64(), report["released"].as_i64()), (Some(1), Some(0)), "{report}");
}

#[tokio::test]
async fn an_order_a_voucher_pays_whole_is_confirmed_at_once_without_a_gateway() {
    let (app, admin, variant) = shop().await;
    platform_voucher(&app, &admin, json!({"code": "GRATIS", "percent_off": 100})).await;
    let shopper = buyer(&app, "lucky").await;
    let order = placed(checkout_with(&app, &shopper.access_token, &[(&variant, 1)], &["GRATIS"]).await).await;
    assert_eq!(order["order"]["total"], idr(0));
    assert_eq!(order["payment"]["provider"], "wallet", "nothing to pay: {order}");
    assert_eq!(order["payment"]["status"], "succeeded");
    assert_eq!(order["order"]["status"], "paid");
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 999, "the unit is sold");
}
