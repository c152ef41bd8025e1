//! The marketplace's orders and money: one payment for a cart from several stores, one part
//! per store that the store ships itself, each store's share held until delivery and the hold
//! period, paid out through the payout path, and clawed back in proportion on refunds.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Session, TestApp, assert_error, eventually, session_of, shipping_address, spawn_app,
};

const HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

struct Store {
    /// The store (`sel_…`), as admins name it.
    store_id: String,
    email: String,
    session: Session,
    id: String,
    variant: String,
}

/// Lets the hold period pass: the sessions of that time have ended, so each store signs in
/// again.
async fn after_the_hold(app: &TestApp, stores: &mut [&mut Store]) {
    app.clock.advance(HOLD);
    for store in stores {
        let response = app.login(&store.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        store.session = session_of(response.json().await.unwrap());
    }
}

/// An approved store with one physical product at `price`, 10 in stock.
async fn store(app: &TestApp, admin: &Session, price: i64) -> Store {
    let slug = format!("toko-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (session, store_id) = crate::sellers::seller(app, admin, &slug).await;
    let email = format!("{slug}@people.test");
    let id = session.id.clone();
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app
        .post("/v1/admin/categories", Some(&admin.access_token), &json!({"name": format!("Batik {suffix}")}))
        .await;
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "category_id": category["id"],
        "name": format!("Batik {suffix}"), "description": "Hand-made", "kind": "physical", "status": "active",
        "seller_id": id,
        "variants": [{"sku": format!("BTK-{}", &suffix[20..]), "options": {}, "price": {"amount": price, "currency": "IDR"}}],
    });
    let created = app.post("/v1/admin/products", Some(&admin.access_token), &body).await;
    let status = created.status();
    let created: Value = created.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    Store { store_id, email, session, id, variant }
}

/// A buyer's paid order of one of each store's product (quantities given).
async fn paid_order(app: &TestApp, buyer: &Session, items: &[(&str, i64)]) -> Value {
    let placed = app.checkout(&buyer.access_token, items).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    app.wait_for_order(&buyer.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await
}

async fn balance(app: &TestApp, seller: &Session) -> Value {
    let response = app.get("/v1/seller/balance", Some(&seller.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn move_part(app: &TestApp, seller: &Session, order: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/v1/seller/orders/{order}/status"), Some(&seller.access_token), &body).await
}

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

/// Every transfer balanced, the books summing to zero.
async fn books_balance(app: &TestApp) {
    assert_eq!(app.state.ledger.verify().await.unwrap(), vec![], "the ledger verifies");
}

#[tokio::test]
async fn a_cart_from_three_stores_is_paid_once_and_each_store_ships_its_own_part() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut stores = [
        store(&app, &admin, 100_000).await,
        store(&app, &admin, 50_000).await,
        store(&app, &admin, 20_000).await,
    ];
    let buyer = app.register("buyer@market.test").await;

    let order = paid_order(
        &app,
        &buyer,
        &[(&stores[0].variant, 1), (&stores[1].variant, 2), (&stores[2].variant, 1)],
    )
    .await;
    assert_eq!(order["payments"].as_array().unwrap().len(), 1, "one payment: {order}");
    let parts = order["fulfilments"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "one part per store: {order}");
    for (part, store) in parts.iter().zip(&stores) {
        assert_eq!(part["seller_id"], store.id.as_str());
        assert_eq!(part["status"], "paid");
    }
    let order_id = order["id"].as_str().unwrap();

    // Each store sees its own part and lines only.
    let seen: Value =
        app.get("/v1/seller/orders", Some(&stores[1].session.access_token)).await.json().await.unwrap();
    assert_eq!(seen["data"].as_array().unwrap().len(), 1);
    assert_eq!(seen["data"][0]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(seen["data"][0]["lines"][0]["variant_id"], stores[1].variant.as_str());
    assert_eq!(seen["data"][0]["shipping_address"]["city"], "Jakarta");

    // Shipping needs a tracking number; the order follows its slowest part.
    let untracked = move_part(&app, &stores[0].session, order_id, json!({"status": "shipped"})).await;
    assert_error(untracked, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let packed = move_part(&app, &stores[0].session, order_id, json!({"status": "packed"})).await;
    assert_eq!(packed.status(), StatusCode::OK);
    let packed: Value = packed.json().await.unwrap();
    assert_eq!(
        (packed["part"]["status"].as_str(), packed["order_status"].as_str()),
        (Some("packed"), Some("processing"))
    );
    for (i, store) in stores.iter().enumerate() {
        let shipped = move_part(
            &app,
            &store.session,
            order_id,
            json!({"status": "shipped", "tracking_number": format!("JNE{i}"), "carrier": "JNE"}),
        )
        .await;
        assert_eq!(shipped.status(), StatusCode::OK);
    }
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "shipped");
    assert_eq!(order["fulfilments"][2]["tracking_number"], "JNE2");
    assert_eq!(
        order["fulfilments"][0]["timeline"].as_array().unwrap().len(),
        3,
        "paid, packed, shipped: {order}"
    );

    for store in &stores[..2] {
        assert_eq!(
            move_part(&app, &store.session, order_id, json!({"status": "delivered"})).await.status(),
            StatusCode::OK
        );
    }
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "shipped", "one part is still on its way");
    assert_eq!(
        move_part(&app, &stores[2].session, order_id, json!({"status": "delivered"})).await.status(),
        StatusCode::OK
    );
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "delivered");

    // Delivered is not enough: the shares wait for the hold period.
    let held = balance(&app, &stores[1].session).await;
    assert_eq!(held["sales"], idr(100_000));
    assert_eq!(held["commission"], idr(10_000));
    assert_eq!(held["held"], idr(90_000));
    assert_eq!(held["available"], idr(0));
    assert_eq!(app.state.payables.release_due().await.unwrap(), 0);
    let [first, second, third] = &mut stores;
    after_the_hold(&app, &mut [first, second, third]).await;
    assert_eq!(app.state.payables.release_due().await.unwrap(), 3);
    let admin = app.admin().await;
    let released = balance(&app, &stores[1].session).await;
    assert_eq!((released["held"].clone(), released["available"].clone()), (idr(0), idr(90_000)));

    // Commission stays with the platform: revenue keeps 10% of each store's sales.
    assert_eq!(app.posted(&admin, &format!("payable:{}:IDR", stores[0].id)).await, Some(90_000));
    assert_eq!(app.posted(&admin, "revenue:IDR").await, Some(220_000 - 198_000));
    books_balance(&app).await;
}

#[tokio::test]
async fn a_payout_leaves_the_sellers_balance_when_it_succeeds_and_comes_back_when_it_fails() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut seller = store(&app, &admin, 100_000).await;
    let buyer = app.register("payout-buyer@market.test").await;
    let order = paid_order(&app, &buyer, &[(&seller.variant, 2)]).await;
    let order_id = order["id"].as_str().unwrap();
    move_part(&app, &seller.session, order_id, json!({"status": "shipped", "tracking_number": "SICEPAT1"}))
        .await;
    move_part(&app, &seller.session, order_id, json!({"status": "delivered"})).await;
    after_the_hold(&app, &mut [&mut seller]).await;
    app.state.payables.release_due().await.unwrap();
    assert_eq!(balance(&app, &seller.session).await["available"], idr(180_000));
    let admin = app.admin().await;

    let destination =
        json!({"bank_code": "bca", "account_number": "1234567890", "account_name": "Toko Batik"});
    let too_much = app
        .post(
            "/v1/seller/payouts",
            Some(&seller.session.access_token),
            &json!({"amount": idr(180_001), "destination": destination}),
        )
        .await;
    assert_error(too_much, StatusCode::CONFLICT, "insufficient_balance").await;

    let part = app
        .post(
            "/v1/seller/payouts",
            Some(&seller.session.access_token),
            &json!({"amount": idr(80_000), "destination": destination}),
        )
        .await;
    assert_eq!(part.status(), StatusCode::CREATED);
    let part: Value = part.json().await.unwrap();
    let rest = app.post("/v1/seller/payouts", Some(&seller.session.access_token), &json!({})).await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["amount"], idr(100_000), "no amount pays out all that is available");
    assert_eq!(
        rest["destination"]["account_number_last4"], "7890",
        "no destination pays the store's account"
    );
    let waiting = balance(&app, &seller.session).await;
    assert_eq!((waiting["available"].clone(), waiting["in_transit"].clone()), (idr(0), idr(180_000)));

    for (payout, button) in [(&part, "succeed"), (&rest, "fail")] {
        let path = format!("/sandbox/payouts/{}/{button}", payout["id"].as_str().unwrap());
        assert_eq!(app.request(Method::POST, &path, None).send().await.unwrap().status(), StatusCode::OK);
    }
    let settled = eventually("both payouts to settle", || async {
        let now = balance(&app, &seller.session).await;
        (now["in_transit"] == idr(0)).then_some(now)
    })
    .await;
    assert_eq!(settled["paid_out"], idr(80_000));
    assert_eq!(settled["available"], idr(100_000), "the failed payout's money is back");

    let payouts: Value =
        app.get("/v1/seller/payouts", Some(&seller.session.access_token)).await.json().await.unwrap();
    assert_eq!(payouts["data"].as_array().unwrap().len(), 2);
    let mine: Value =
        app.get("/v1/wallet/withdrawals", Some(&seller.session.access_token)).await.json().await.unwrap();
    assert_eq!(
        mine["data"].as_array().unwrap().len(),
        0,
        "a store's payouts are not its owner's wallet withdrawals"
    );

    for (payout, announced) in [(&part, "seller.payout.completed"), (&rest, "seller.payout.failed")] {
        let rows = sqlx::query("SELECT event_type FROM outbox_events WHERE subject_id = $1")
            .bind(payout["id"].as_str().unwrap())
            .fetch_all(app.state.db.reader())
            .await
            .unwrap();
        let types: Vec<String> = rows.iter().map(|row| sqlx::Row::get(row, "event_type")).collect();
        assert_eq!(types.iter().filter(|t| *t == announced).count(), 1, "{announced} once in {types:?}");
        assert!(!types.iter().any(|t| t.starts_with("wallet.")), "a store's payout is no wallet withdrawal");
    }

    let report: Value = app.get("/v1/admin/payables", Some(&admin.access_token)).await.json().await.unwrap();
    let row = report["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["seller_id"] == seller.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (row["paid_out"].clone(), row["available"].clone(), row["commission"].clone()),
        (idr(80_000), idr(100_000), idr(20_000))
    );
    books_balance(&app).await;
}

#[tokio::test]
async fn a_store_calling_off_its_part_refunds_exactly_that_part_and_gives_back_its_share() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let keeps = store(&app, &admin, 100_000).await;
    let cancels = store(&app, &admin, 30_000).await;
    let buyer = app.register("refund-buyer@market.test").await;
    let order = paid_order(&app, &buyer, &[(&keeps.variant, 1), (&cancels.variant, 2)]).await;
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(balance(&app, &cancels.session).await["held"], idr(54_000));

    let cancelled = app
        .post(
            &format!("/v1/seller/orders/{order_id}/cancel"),
            Some(&cancels.session.access_token),
            &json!({"reason": "out of fabric"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["part"]["status"], "cancelled");
    assert_eq!(app.stock_level(&admin, &cancels.variant).await["on_hand"], 10, "its goods are back in stock");

    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["refunds"][0]["amount"], idr(60_000), "exactly the part: {order}");
    assert_eq!(order["status"], "paid", "the other store's part goes on");
    let gone = balance(&app, &cancels.session).await;
    assert_eq!((gone["held"].clone(), gone["available"].clone()), (idr(0), idr(0)));
    assert_eq!(balance(&app, &keeps.session).await["held"], idr(90_000));

    // A part already cancelled cannot be cancelled again, nor shipped.
    let again = app
        .post(
            &format!("/v1/seller/orders/{order_id}/cancel"),
            Some(&cancels.session.access_token),
            &json!({"reason": "twice"}),
        )
        .await;
    assert_error(again, StatusCode::CONFLICT, "invalid_transition").await;

    // The remaining part's delivery completes the order.
    move_part(&app, &keeps.session, order_id, json!({"status": "shipped", "tracking_number": "JNT9"})).await;
    move_part(&app, &keeps.session, order_id, json!({"status": "delivered"})).await;
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "delivered");
    books_balance(&app).await;
}

#[tokio::test]
async fn a_refund_within_the_hold_shrinks_the_share_and_one_after_it_comes_out_of_the_balance() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut seller = store(&app, &admin, 100_000).await;
    let buyer = app.register("late-refund@market.test").await;
    let order = paid_order(&app, &buyer, &[(&seller.variant, 2)]).await;
    let order_id = order["id"].as_str().unwrap();
    move_part(&app, &seller.session, order_id, json!({"status": "shipped", "tracking_number": "POS1"})).await;
    move_part(&app, &seller.session, order_id, json!({"status": "delivered"})).await;

    let refund = |amount: i64, key: &'static str, admin: &Session| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            let response = app
                .request(Method::POST, &format!("/v1/admin/orders/{order_id}/refunds"), Some(&token))
                .header("Idempotency-Key", key)
                .json(&json!({"amount": idr(amount), "reason": "one arrived broken"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
    };
    // Within the hold: half the goods' money back, half the share gone, the commission's half too.
    refund(100_000, "within-hold", &admin).await;
    assert_eq!(balance(&app, &seller.session).await["held"], idr(90_000));
    after_the_hold(&app, &mut [&mut seller]).await;
    app.state.payables.release_due().await.unwrap();
    assert_eq!(balance(&app, &seller.session).await["available"], idr(90_000));

    // After release: out of what the seller has.
    refund(50_000, "after-release", &app.admin().await).await;
    assert_eq!(balance(&app, &seller.session).await["available"], idr(45_000));
    books_balance(&app).await;
}

#[tokio::test]
async fn a_store_sees_and_moves_only_its_own_parts() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mine = store(&app, &admin, 10_000).await;
    let theirs = store(&app, &admin, 10_000).await;
    let buyer = app.register("matrix@market.test").await;
    let their_order = paid_order(&app, &buyer, &[(&theirs.variant, 1)]).await;
    let id = their_order["id"].as_str().unwrap();
    let token = Some(mine.session.access_token.as_str());

    assert_error(
        app.get(&format!("/v1/seller/orders/{id}"), token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let moved =
        app.post(&format!("/v1/seller/orders/{id}/status"), token, &json!({"status": "packed"})).await;
    assert_error(moved, StatusCode::NOT_FOUND, "not_found").await;
    let cancelled =
        app.post(&format!("/v1/seller/orders/{id}/cancel"), token, &json!({"reason": "mine now"})).await;
    assert_error(cancelled, StatusCode::NOT_FOUND, "not_found").await;
    let listed: Value = app.get("/v1/seller/orders", token).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));

    // An unpaid order is not a store's business yet.
    let unpaid = app.checkout(&buyer.access_token, &[(&mine.variant, 1)]).await;
    let unpaid: Value = unpaid.json().await.unwrap();
    let unpaid_id = unpaid["order"]["id"].as_str().unwrap();
    assert_error(
        app.get(&format!("/v1/seller/orders/{unpaid_id}"), token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Buyers are not sellers; sellers are not admins.
    for path in ["/v1/seller/orders", "/v1/seller/balance", "/v1/seller/payouts"] {
        assert_error(app.get(path, Some(&buyer.access_token)).await, StatusCode::FORBIDDEN, "forbidden")
            .await;
    }
    assert_error(app.get("/v1/admin/payables", token).await, StatusCode::FORBIDDEN, "forbidden").await;
    let their_part = their_order["fulfilments"][0]["id"].as_str().unwrap();
    let by_admin = app
        .post(
            &format!("/v1/admin/orders/{id}/parts/{their_part}/status"),
            token,
            &json!({"status": "packed"}),
        )
        .await;
    assert_error(by_admin, StatusCode::FORBIDDEN, "forbidden").await;

    // Staff may move any store's part.
    let by_staff = app
        .post(
            &format!("/v1/admin/orders/{id}/parts/{their_part}/status"),
            Some(&admin.access_token),
            &json!({"status": "packed"}),
        )
        .await;
    assert_eq!(by_staff.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_store_ships_its_own_parcel_and_the_order_pays_for_each() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let batik = store(&app, &admin, 100_000).await;
    let kopi = store(&app, &admin, 40_000).await;
    let token = Some(admin.access_token.as_str());
    let zone =
        app.post("/v1/admin/shipping/zones", token, &json!({"name": "Indonesia", "country": "ID"})).await;
    let zone: Value = zone.json().await.unwrap();
    let method = app
        .post(
            "/v1/admin/shipping/methods",
            token,
            &json!({"code": "regular", "name": "Regular", "currency": "IDR", "zone_ids": [zone["id"]],
                    "rate": {"type": "flat", "price": idr(9_000)}, "delivery_days": {"min": 2, "max": 4}}),
        )
        .await;
    assert_eq!(method.status(), StatusCode::CREATED);

    let items = format!("{}:1,{}:2", batik.variant, kopi.variant);
    let quoted: Value = app
        .get(&format!("/v1/shipping/quote?items={items}&country=ID&postal_code=10110"), None)
        .await
        .json()
        .await
        .unwrap();
    let regular = &quoted["data"][0];
    assert_eq!(regular["price"], idr(18_000), "two parcels: {quoted}");
    assert_eq!(regular["parcels"].as_array().unwrap().len(), 2);
    assert_eq!(regular["parcels"][1]["seller_id"], kopi.id.as_str());

    let buyer = app.register("parcels@market.test").await;
    let placed = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": batik.variant, "quantity": 1}, {"variant_id": kopi.variant, "quantity": 2}],
                    "payment_method": "sandbox", "shipping_address": shipping_address(), "shipping_method": "regular"}),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(placed["order"]["shipping"], idr(18_000));
    assert_eq!(placed["order"]["total"], idr(180_000 + 18_000));
}

#[tokio::test]
async fn a_suspended_store_still_sees_its_open_orders_through() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let seller = store(&app, &admin, 25_000).await;
    let buyer = app.register("suspended@market.test").await;
    let order = paid_order(&app, &buyer, &[(&seller.variant, 1)]).await;
    let order_id = order["id"].as_str().unwrap();

    let suspended = app
        .post(
            &format!("/v1/admin/sellers/{}/suspend", seller.store_id),
            Some(&admin.access_token),
            &json!({"reason": "documents expired"}),
        )
        .await;
    assert_eq!(suspended.status(), StatusCode::OK);
    // Nothing new is sold, and the store changes nothing in its catalog...
    let again = app.checkout(&buyer.access_token, &[(&seller.variant, 1)]).await;
    assert_error(again, StatusCode::CONFLICT, "store_suspended").await;
    let stock = app
        .post(
            &format!("/v1/seller/variants/{}/stock/adjust", seller.variant),
            Some(&seller.session.access_token),
            &json!({"delta": 1, "reason": "restock"}),
        )
        .await;
    assert_error(stock, StatusCode::FORBIDDEN, "store_suspended").await;
    // ...but the order it had goes out and arrives.
    let shipped =
        move_part(&app, &seller.session, order_id, json!({"status": "shipped", "tracking_number": "JNE7"}))
            .await;
    assert_eq!(shipped.status(), StatusCode::OK);
    assert_eq!(
        move_part(&app, &seller.session, order_id, json!({"status": "delivered"})).await.status(),
        StatusCode::OK
    );
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(order["status"], "delivered");
}

#[tokio::test]
async fn a_stores_own_voucher_comes_out_of_its_share_and_a_platform_voucher_out_of_the_platforms() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let funds = store(&app, &admin, 100_000).await;
    let other = store(&app, &admin, 50_000).await;
    let created = app
        .post(
            "/v1/seller/vouchers",
            Some(&funds.session.access_token),
            &json!({"code": "BATIK10", "amount_off": idr(10_000)}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = app
        .post(
            "/v1/admin/vouchers",
            Some(&admin.access_token),
            &json!({"code": "PASAR5", "amount_off": idr(5_000)}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let buyer = app.register("vouchers@market.test").await;
    let placed = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": funds.variant, "quantity": 1}, {"variant_id": other.variant, "quantity": 1}],
                    "payment_method": "sandbox", "shipping_address": shipping_address(), "vouchers": ["BATIK10", "PASAR5"]}),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(placed["order"]["total"], idr(150_000 - 15_000));
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    let order_id = placed["order"]["id"].as_str().unwrap();
    app.wait_for_order(&buyer.access_token, order_id, "paid").await;

    // The store that funded 10,000 is owed 90% of 90,000; the platform's 5,000 leaves the
    // other store's 45,000 (90% of 50,000) whole.
    assert_eq!(balance(&app, &funds.session).await["held"], idr(81_000));
    assert_eq!(balance(&app, &other.session).await["held"], idr(45_000));

    // Calling off a part the platform discounted owes the store nothing of it.
    let cancelled = app
        .post(
            &format!("/v1/seller/orders/{order_id}/cancel"),
            Some(&other.session.access_token),
            &json!({"reason": "sold out"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(balance(&app, &other.session).await["held"], idr(0));
    let order: Value =
        app.get(&format!("/v1/orders/{order_id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    let refunded = order["refunds"][0]["amount"]["amount"].as_i64().unwrap();
    assert!(
        refunded < 50_000 && refunded > 40_000,
        "the part less its share of the platform's voucher: {refunded}"
    );
    books_balance(&app).await;
}
