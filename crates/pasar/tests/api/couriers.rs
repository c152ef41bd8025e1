//! Couriers and tracking over HTTP, against a local Biteship: booking a courier ships a paid
//! part under the courier's waybill; webhooks with the configured secret (and only those) and
//! polling both fill the shipment's timeline, once per event; the courier's "delivered"
//! delivers the part and the order; the courier failing changes nothing; a part shipped by hand
//! shows its tracking number and timeline to its buyer.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::fakes::biteship::{FakeBiteship, Trouble, WEBHOOK_SECRET, status_webhook};
use crate::helpers::{Session, TestApp, assert_error, spawn_app, spawn_app_with};

const WEBHOOK: &str = "/v1/webhooks/couriers/biteship";

async fn json_of(response: Response, status: StatusCode) -> Value {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "status of {url}");
    response.json().await.unwrap()
}

/// A shop wired to a local Biteship, with an admin and a buyer.
async fn shop() -> (TestApp, FakeBiteship, Session, Session) {
    let biteship = FakeBiteship::start().await;
    let app = spawn_app_with(|config| biteship.configure(config)).await;
    let admin = app.admin().await;
    let buyer = app.register(&format!("pembeli-{}@shop.test", uuid::Uuid::now_v7().simple())).await;
    (app, biteship, admin, buyer)
}

/// A paid order of two bags of coffee weighing 1.2 kg each; returns the order.
async fn paid_order(app: &TestApp, admin: &Session, buyer: &Session) -> Value {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Kopi {suffix}")})).await;
    let category = json_of(category, StatusCode::CREATED).await;
    let body = json!({
        "name": format!("Kopi Toraja {}", &suffix[24..]), "description": "Biji kopi", "kind": "physical",
        "status": "active", "category_id": category["id"],
        "variants": [{"sku": format!("KOPI-{}", &suffix[20..]), "options": {}, "weight_grams": 1200,
                      "price": {"amount": 85_000, "currency": "IDR"}}],
    });
    let product = json_of(app.post("/v1/admin/products", token, &body).await, StatusCode::CREATED).await;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    let placed =
        json_of(app.checkout(&buyer.access_token, &[(&variant, 2)]).await, StatusCode::CREATED).await;
    let order_id = placed["order"]["id"].as_str().unwrap();
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    app.wait_for_order(&buyer.access_token, order_id, "paid").await
}

fn part_path(order: &Value, tail: &str) -> String {
    format!(
        "/v1/admin/orders/{}/parts/{}/{tail}",
        order["id"].as_str().unwrap(),
        order["fulfilments"][0]["id"].as_str().unwrap()
    )
}

async fn book(app: &TestApp, admin: &Session, order: &Value) -> Response {
    app.post(
        &part_path(order, "shipment"),
        Some(&admin.access_token),
        &json!({"courier": "jne", "service": "reg"}),
    )
    .await
}

async fn order_of(app: &TestApp, buyer: &Session, order: &Value) -> Value {
    let path = format!("/v1/orders/{}", order["id"].as_str().unwrap());
    json_of(app.get(&path, Some(&buyer.access_token)).await, StatusCode::OK).await
}

fn statuses(shipment: &Value) -> Vec<String> {
    shipment["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn booking_a_courier_for_a_paid_part_ships_it_under_the_couriers_waybill() {
    let (app, biteship, admin, buyer) = shop().await;
    let order = paid_order(&app, &admin, &buyer).await;

    let rates = app.get(&part_path(&order, "rates"), Some(&admin.access_token)).await;
    let rates = json_of(rates, StatusCode::OK).await;
    assert_eq!(rates["data"][0]["courier"], "jne");
    assert_eq!(
        rates["data"][0]["price"],
        json!({"amount": 27_000, "currency": "IDR"}),
        "3 kg (2.4 rounded up) at 9000"
    );

    let shipment = json_of(book(&app, &admin, &order).await, StatusCode::CREATED).await;
    let booking = biteship.booking_for(order["id"].as_str().unwrap()).expect("a booking at Biteship");
    assert_eq!(shipment["tracking_number"], booking.waybill_id.as_str());
    assert_eq!(shipment["provider"], "biteship");
    assert_eq!((shipment["courier"].as_str(), shipment["service"].as_str()), (Some("jne"), Some("reg")));
    assert_eq!(statuses(&shipment), ["confirmed"]);
    // What Biteship was asked: the shop's pickup address, the buyer's, the goods by weight.
    assert_eq!(booking.request["origin_postal_code"], 10220);
    assert_eq!(booking.request["destination_postal_code"], 10110);
    assert_eq!(booking.request["destination_contact_name"], "Ana");
    assert_eq!(booking.request["items"][0]["weight"], 1200);
    assert_eq!(booking.request["items"][0]["quantity"], 2);

    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "shipped", "its only part left: {seen}");
    assert_eq!(seen["fulfilments"][0]["status"], "shipped");
    assert_eq!(seen["fulfilments"][0]["tracking_number"], booking.waybill_id.as_str());
    assert_eq!(seen["fulfilments"][0]["carrier"], "jne");
    assert_eq!(seen["shipments"][0]["id"], shipment["id"]);

    // A shipped part is not booked twice.
    assert_error(book(&app, &admin, &order).await, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(biteship.calls("create"), 1);
}

#[tokio::test]
async fn a_webhook_without_the_configured_secret_is_refused_and_changes_nothing() {
    let (app, biteship, admin, buyer) = shop().await;
    let order = paid_order(&app, &admin, &buyer).await;
    json_of(book(&app, &admin, &order).await, StatusCode::CREATED).await;
    let booking = biteship.booking_for(order["id"].as_str().unwrap()).unwrap();
    let delivered = biteship.move_quietly(&booking.id, "delivered", "Diterima oleh Ana");

    for secret in [Some("kurir-rahasia-0000"), Some(""), None] {
        let answer = biteship.post_webhook(&app.url(WEBHOOK), &status_webhook(&delivered), secret).await;
        assert_error(answer, StatusCode::UNAUTHORIZED, "invalid_signature").await;
    }

    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "shipped");
    assert_eq!(seen["fulfilments"][0]["status"], "shipped");
    assert_eq!(statuses(&seen["shipments"][0]), ["confirmed"]);
}

#[tokio::test]
async fn a_delivered_webhook_delivers_the_part_and_the_order_and_a_repeat_adds_nothing() {
    let (app, biteship, admin, buyer) = shop().await;
    let order = paid_order(&app, &admin, &buyer).await;
    json_of(book(&app, &admin, &order).await, StatusCode::CREATED).await;
    let booking = biteship.booking_for(order["id"].as_str().unwrap()).unwrap();
    let webhook = app.url(WEBHOOK);

    for status in ["picked", "dropping_off", "delivered"] {
        let answer = json_of(biteship.move_on(&webhook, &booking.id, status).await, StatusCode::OK).await;
        assert_eq!(answer["result"], "applied", "{status}");
    }
    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["fulfilments"][0]["status"], "delivered");
    assert_eq!(seen["status"], "delivered", "its last part arrived: {seen}");
    let shipment = &seen["shipments"][0];
    assert_eq!(statuses(shipment), ["confirmed", "picked", "dropping_off", "delivered"]);
    assert_eq!(shipment["status"], "delivered");
    assert_eq!(shipment["events"][3]["description"], "The package has been delivered to the receiver.");

    // Biteship retries a webhook it thinks was lost: the same event, once in the timeline.
    let again = biteship
        .post_webhook(&webhook, &status_webhook(&booking_now(&biteship, &order)), Some(WEBHOOK_SECRET))
        .await;
    assert_eq!(json_of(again, StatusCode::OK).await["result"], "no_change");
    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(statuses(&seen["shipments"][0]).len(), 4);
    let delivered_steps =
        seen["timeline"].as_array().unwrap().iter().filter(|e| e["to"] == "delivered").count();
    assert_eq!(delivered_steps, 1, "the order was delivered once: {}", seen["timeline"]);
}

fn booking_now(biteship: &FakeBiteship, order: &Value) -> crate::fakes::biteship::Booking {
    biteship.booking_for(order["id"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn polling_learns_what_the_courier_said_when_no_webhook_came() {
    let (app, biteship, admin, buyer) = shop().await;
    let order = paid_order(&app, &admin, &buyer).await;
    json_of(book(&app, &admin, &order).await, StatusCode::CREATED).await;
    let booking = booking_now(&biteship, &order);
    biteship.move_quietly(&booking.id, "picked", "Paket diambil kurir, Jakarta");
    biteship.move_quietly(&booking.id, "delivered", "Diterima oleh Ana");

    // Not asked again before the polling interval has passed since the booking.
    assert_eq!(app.state.couriers.poll().await.unwrap(), 0);
    assert_eq!(biteship.calls("track"), 0);

    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(app.state.couriers.poll().await.unwrap(), 2, "picked and delivered");
    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "delivered");
    let shipment = &seen["shipments"][0];
    assert_eq!(statuses(shipment), ["confirmed", "picked", "delivered"]);
    assert_eq!(shipment["events"][1]["description"], "Paket diambil kurir, Jakarta");

    // A delivered parcel is not asked about again.
    app.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(app.state.couriers.poll().await.unwrap(), 0);
    assert_eq!(biteship.calls("track"), 1);
}

#[tokio::test]
async fn the_courier_failing_is_a_clear_error_and_changes_nothing() {
    let (app, biteship, admin, buyer) = shop().await;
    let order = paid_order(&app, &admin, &buyer).await;

    biteship.trouble("create", [Trouble::Status(500), Trouble::Hang, Trouble::Status(400)]);
    let failed = assert_error(
        book(&app, &admin, &order).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "courier_unavailable",
    )
    .await;
    assert!(failed["error"]["message"].as_str().unwrap().contains("nothing was booked"), "{failed}");
    assert_error(book(&app, &admin, &order).await, StatusCode::SERVICE_UNAVAILABLE, "courier_unavailable")
        .await;
    assert_error(book(&app, &admin, &order).await, StatusCode::BAD_GATEWAY, "courier_refused").await;
    assert_eq!(biteship.calls("create"), 3, "a booking is never sent twice by Pasar");

    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "paid");
    assert_eq!(seen["fulfilments"][0]["status"], "paid");
    assert_eq!(seen["shipments"], json!([]));

    // Once the courier is back, the booking goes through.
    json_of(book(&app, &admin, &order).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn a_part_shipped_by_hand_shows_its_tracking_number_and_timeline_to_its_buyer() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let buyer = app.register("tangan@shop.test").await;
    let order = paid_order(&app, &admin, &buyer).await;

    let moved = app
        .post(
            &part_path(&order, "status"),
            Some(&admin.access_token),
            &json!({"status": "shipped", "tracking_number": "JNE0042", "carrier": "JNE"}),
        )
        .await;
    json_of(moved, StatusCode::OK).await;

    let seen = order_of(&app, &buyer, &order).await;
    let shipment = &seen["shipments"][0];
    assert_eq!(shipment["tracking_number"], "JNE0042");
    assert_eq!(shipment["courier"], "JNE");
    assert!(shipment.get("provider").is_none(), "shipped by hand: {shipment}");
    assert_eq!(statuses(shipment), ["shipped"]);
    assert_eq!(shipment["events"][0]["description"], "Handed to JNE.");

    // Without Biteship configured, booking a courier says so.
    assert_error(book(&app, &admin, &order).await, StatusCode::CONFLICT, "courier_not_configured").await;
}

/// A store with one physical product of 800 g, stocked; returns the store's session and variant.
async fn store(app: &TestApp, admin: &Session) -> (Session, String) {
    let slug = format!("toko-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (session, _) = crate::sellers::seller(app, admin, &slug).await;
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Batik {suffix}")})).await;
    let category = json_of(category, StatusCode::CREATED).await;
    let body = json!({
        "category_id": category["id"], "seller_id": session.id,
        "name": format!("Batik {suffix}"), "description": "Hand-made", "kind": "physical", "status": "active",
        "variants": [{"sku": format!("BTK-{}", &suffix[20..]), "options": {}, "weight_grams": 800,
                      "price": {"amount": 150_000, "currency": "IDR"}}],
    });
    let created = json_of(app.post("/v1/admin/products", token, &body).await, StatusCode::CREATED).await;
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    (session, variant)
}

#[tokio::test]
async fn a_store_books_its_own_part_and_the_order_is_delivered_only_with_its_last_part() {
    let (app, biteship, admin, buyer) = shop().await;
    let (booking_store, first) = store(&app, &admin).await;
    let (own_store, second) = store(&app, &admin).await;
    let placed =
        json_of(app.checkout(&buyer.access_token, &[(&first, 1), (&second, 1)]).await, StatusCode::CREATED)
            .await;
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    let order_id = placed["order"]["id"].as_str().unwrap();
    let order = app.wait_for_order(&buyer.access_token, order_id, "paid").await;

    let path = format!("/v1/seller/orders/{order_id}/shipment");
    let booked = app
        .post(&path, Some(&booking_store.access_token), &json!({"courier": "sicepat", "service": "best"}))
        .await;
    let shipment = json_of(booked, StatusCode::CREATED).await;
    let booking = booking_now(&biteship, &order);
    assert_eq!(booking.request["items"][0]["weight"], 800, "only the booking store's goods");
    assert_eq!(booking.request["items"].as_array().unwrap().len(), 1);
    let shipped = json!({"status": "shipped", "tracking_number": "POS77", "carrier": "POS"});
    let status_path = format!("/v1/seller/orders/{order_id}/status");
    json_of(app.post(&status_path, Some(&own_store.access_token), &shipped).await, StatusCode::OK).await;

    let delivered = biteship.move_on(&app.url(WEBHOOK), &booking.id, "delivered").await;
    assert_eq!(json_of(delivered, StatusCode::OK).await["result"], "applied");
    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "shipped", "the other part is still on its way: {seen}");
    assert_eq!(seen["shipments"].as_array().unwrap().len(), 2);

    // Each store sees its own part's shipment only.
    let mine = app.get(&format!("/v1/seller/orders/{order_id}"), Some(&booking_store.access_token)).await;
    let mine = json_of(mine, StatusCode::OK).await;
    assert_eq!(mine["part"]["status"], "delivered");
    assert_eq!(mine["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(mine["shipments"][0]["id"], shipment["id"]);
    assert_eq!(statuses(&mine["shipments"][0]), ["confirmed", "delivered"]);

    let last = json!({"status": "delivered"});
    json_of(app.post(&status_path, Some(&own_store.access_token), &last).await, StatusCode::OK).await;
    let seen = order_of(&app, &buyer, &order).await;
    assert_eq!(seen["status"], "delivered", "{seen}");
    let delivered_steps =
        seen["timeline"].as_array().unwrap().iter().filter(|e| e["to"] == "delivered").count();
    assert_eq!(delivered_steps, 1);
}
