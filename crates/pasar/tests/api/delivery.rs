//! Delivery slots: a Tokyo grocery's slots offered in Tokyo time, held by checkouts exactly to
//! their capacity, closed at the same-day cut-off, given back when an order ends unpaid, and
//! listed for the drivers in the day's manifest.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{
    PASSWORD, Session, TestApp, assert_error, session_of, shipping_address, spawn_app_with,
};

const TOKYO: &str = "Asia/Tokyo";

async fn tokyo_app() -> TestApp {
    spawn_app_with(|config| {
        config.shop_timezone = TOKYO.into();
        config.checkout_batch_size = 1;
    })
    .await
}

fn tokyo_address() -> Value {
    json!({"name": "Sato Hanako", "phone": "+81 90 1234 5678", "line1": "1-2-3 Jingumae", "city": "Shibuya",
           "postal_code": "150-0001", "country": "JP"})
}

/// A Tokyo zone with four slots a day (09–12, 12–15, 15–18, 18–21) of `capacity` orders, an
/// hour's lead time and a noon cut-off for the afternoon and evening slots; a grocery product
/// with plenty of stock.
struct Grocery {
    admin: Session,
    zone: String,
    variant: String,
}

async fn grocery(app: &TestApp, capacity: i64) -> Grocery {
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    let zone = app
        .post(
            "/v1/admin/shipping/zones",
            token,
            &json!({"name": "Tokyo 23 wards", "country": "JP", "postal_prefixes": ["1"]}),
        )
        .await;
    assert_eq!(zone.status(), StatusCode::CREATED);
    let zone = zone.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for (start, end) in [("09:00", "12:00"), ("12:00", "15:00"), ("15:00", "18:00"), ("18:00", "21:00")] {
        let template = app
            .post(
                &format!("/v1/admin/delivery/zones/{zone}/templates"),
                token,
                &json!({"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": start, "end": end, "capacity": capacity}),
            )
            .await;
        assert_eq!(template.status(), StatusCode::CREATED, "{}", template.text().await.unwrap());
    }
    let rules = app
        .put(
            &format!("/v1/admin/delivery/zones/{zone}/rules"),
            token,
            &json!({"lead_minutes": 60, "same_day_cutoff": {"order_by": "12:00", "for_slots_from": "15:00"}}),
        )
        .await;
    assert_eq!(rules.status(), StatusCode::OK);
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 1_000).await;
    Grocery { admin, zone, variant }
}

/// A buyer with the Tokyo address saved; returns the session and the address id.
async fn tokyo_buyer(app: &TestApp) -> (Session, String) {
    tokyo_buyer_named(app, &format!("buyer-{}@shop.test", uuid::Uuid::now_v7().simple())).await
}

async fn tokyo_buyer_named(app: &TestApp, email: &str) -> (Session, String) {
    let buyer = app.register(email).await;
    let address = app
        .post(
            "/v1/me/addresses",
            Some(&buyer.access_token),
            &json!({"recipient_name": "Sato Hanako", "phone": "+81 90 1234 5678", "line1": "1-2-3 Jingumae",
                    "city": "Shibuya", "postal_code": "150-0001", "country": "JP"}),
        )
        .await;
    assert_eq!(address.status(), StatusCode::CREATED);
    let id = address.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    (buyer, id)
}

async fn slots(app: &TestApp, buyer: &Session, address: &str, days: u32) -> Vec<Value> {
    let response = app
        .get(&format!("/v1/delivery/slots?address_id={address}&days={days}"), Some(&buyer.access_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["time_zone"], TOKYO);
    body["data"].as_array().unwrap().clone()
}

fn slot<'a>(slots: &'a [Value], local_start: &str) -> Option<&'a Value> {
    slots.iter().find(|s| s["local_start"].as_str().unwrap().starts_with(local_start))
}

async fn checkout(app: &TestApp, buyer: &Session, variant: &str, slot: Option<&str>) -> reqwest::Response {
    app.post(
        "/v1/checkout",
        Some(&buyer.access_token),
        &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": "sandbox",
                "shipping_address": tokyo_address(), "delivery_slot_id": slot}),
    )
    .await
}

/// The local date in Tokyo `days` from now, as `YYYY-MM-DD`.
fn tokyo_date(app: &TestApp, days: i64) -> String {
    let now = jiff::Timestamp::from_millisecond(app.clock.now().millis()).unwrap();
    let tz = jiff::tz::TimeZone::get(TOKYO).unwrap();
    let date = tz.to_datetime(now).date().checked_add(jiff::Span::new().days(days)).unwrap();
    date.to_string()
}

/// Moves the server's clock forward to the next `hour:minute` in Tokyo.
fn advance_to_tokyo(app: &TestApp, hour: i8, minute: i8) {
    let now = jiff::Timestamp::from_millisecond(app.clock.now().millis()).unwrap();
    let tz = jiff::tz::TimeZone::get(TOKYO).unwrap();
    let today = tz.to_datetime(now).date();
    let mut target = tz.to_timestamp(today.at(hour, minute, 0, 0)).unwrap();
    if target <= now {
        target = tz.to_timestamp(today.tomorrow().unwrap().at(hour, minute, 0, 0)).unwrap();
    }
    let by = target.as_millisecond() - now.as_millisecond();
    app.clock.advance(Duration::from_millis(by as u64));
}

#[tokio::test]
async fn fifty_buyers_racing_for_the_last_five_places_of_a_slot_leave_exactly_five_with_it() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 5).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let offered = slots(&app, &buyer, &address, 3).await;
    let wanted = slot(&offered, &format!("{}T09:00", tokyo_date(&app, 2))).unwrap().clone();
    assert_eq!(wanted["remaining"], 5);
    let wanted_id = wanted["id"].as_str().unwrap();

    let attempts = (0..50).map(|_| checkout(&app, &buyer, &shop.variant, Some(wanted_id)));
    let answers = futures::future::join_all(attempts).await;
    let mut placed = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::CREATED => placed += 1,
            StatusCode::CONFLICT => {
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["error"]["code"], "slot_full", "{body}");
                let next = body["error"]["details"]["next_slots"].as_array().unwrap();
                assert!(!next.is_empty(), "a full slot's refusal suggests others");
                assert!(next.iter().all(|s| s["id"] != wanted_id && s["available"] == true), "{body}");
            }
            other => panic!("unexpected {other}: {}", answer.text().await.unwrap()),
        }
    }
    assert_eq!(placed, 5, "exactly the slot's capacity is sold");
    let after = slots(&app, &buyer, &address, 3).await;
    let full = after.iter().find(|s| s["id"] == wanted_id).unwrap();
    assert_eq!((full["remaining"].as_i64(), full["available"].as_bool()), (Some(0), Some(false)));
    assert_invariants(&app).await;
}

#[tokio::test]
async fn the_evening_slots_close_at_noon_tokyo_time_and_the_next_days_open_after_tokyo_midnight() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 20).await;
    let email = "hanako@shop.test";
    let (_, address) = tokyo_buyer_named(&app, email).await;
    // Hours pass on the server's clock: the buyer signs in again each time.
    let signed_in = || async { session_of(app.login(email, PASSWORD).await.json().await.unwrap()) };

    advance_to_tokyo(&app, 11, 30);
    let buyer = signed_in().await;
    let today = tokyo_date(&app, 0);
    let before_noon = slots(&app, &buyer, &address, 2).await;
    assert!(
        slot(&before_noon, &format!("{today}T09:00")).is_none(),
        "a slot already under way is not offered"
    );
    let evening =
        slot(&before_noon, &format!("{today}T18:00")).expect("this evening is offered before noon").clone();
    assert_eq!(evening["local_start"], format!("{today}T18:00:00+09:00"));
    let start: jiff::Timestamp = evening["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(start.to_string(), format!("{today}T09:00:00Z"), "18:00 in Tokyo is 09:00 UTC");

    advance_to_tokyo(&app, 12, 30);
    let buyer = signed_in().await;
    let after_noon = slots(&app, &buyer, &address, 2).await;
    assert!(slot(&after_noon, &format!("{today}T18:00")).is_none(), "past the cut-off: not offered");
    assert!(slot(&after_noon, &format!("{today}T15:00")).is_none());
    let tomorrow = tokyo_date(&app, 1);
    assert!(slot(&after_noon, &format!("{tomorrow}T18:00")).is_some(), "tomorrow's evening stays open");
    let late = checkout(&app, &buyer, &shop.variant, evening["id"].as_str()).await;
    assert_error(late, StatusCode::UNPROCESSABLE_ENTITY, "slot_closed").await;

    // 00:30 in Tokyo is 15:30 UTC of the day before: the new Tokyo day's evening is open.
    advance_to_tokyo(&app, 0, 30);
    let buyer = signed_in().await;
    assert_eq!(tokyo_date(&app, 0), tomorrow);
    let utc_date = jiff::Timestamp::from_millisecond(app.clock.now().millis()).unwrap().to_string();
    assert!(!utc_date.starts_with(&tomorrow), "the UTC date is still the day before");
    let after_midnight = slots(&app, &buyer, &address, 1).await;
    let new_evening = slot(&after_midnight, &format!("{tomorrow}T18:00")).expect("the new day's evening");
    assert!(slot(&after_midnight, &format!("{tomorrow}T09:00")).is_some());
    let booked = checkout(&app, &buyer, &shop.variant, new_evening["id"].as_str()).await;
    assert_eq!(booked.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_expired_checkout_gives_its_slot_back() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 1).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let wanted = slot(&slots(&app, &buyer, &address, 4).await, &format!("{}T12:00", tokyo_date(&app, 3)))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await;
    assert_error(second, StatusCode::CONFLICT, "slot_full").await;

    app.clock.advance(Duration::from_secs(601));
    app.sweep().await;
    let offered = slots(&app, &buyer, &address, 4).await;
    assert_eq!(offered.iter().find(|s| s["id"] == wanted.as_str()).unwrap()["remaining"], 1);
    let again = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await;
    assert_eq!(again.status(), StatusCode::CREATED, "the place is free again");
}

#[tokio::test]
async fn a_cancelled_order_gives_its_slot_back() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 3).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let wanted = slot(&slots(&app, &buyer, &address, 3).await, &format!("{}T15:00", tokyo_date(&app, 2)))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let placed: Value = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    assert_eq!(placed["order"]["delivery_slot"]["id"], wanted.as_str());
    let remaining = |offered: Vec<Value>| {
        offered.iter().find(|s| s["id"] == wanted.as_str()).unwrap()["remaining"].clone()
    };
    assert_eq!(remaining(slots(&app, &buyer, &address, 3).await), 2);

    let cancelled = app
        .request(Method::POST, &format!("/v1/orders/{order_id}/cancel"), Some(&buyer.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(remaining(slots(&app, &buyer, &address, 3).await), 3);
    assert_invariants(&app).await;
}

#[tokio::test]
async fn a_closed_date_offers_no_slots_and_its_slots_cannot_be_booked() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 20).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let holiday = tokyo_date(&app, 2);
    let before = slots(&app, &buyer, &address, 4).await;
    let on_holiday = slot(&before, &format!("{holiday}T09:00")).unwrap()["id"].as_str().unwrap().to_owned();

    let closed = app
        .post(
            &format!("/v1/admin/delivery/zones/{}/closed-dates", shop.zone),
            Some(&shop.admin.access_token),
            &json!({"date": holiday}),
        )
        .await;
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    let after = slots(&app, &buyer, &address, 4).await;
    assert!(after.iter().all(|s| s["date"] != holiday.as_str()), "nothing on the holiday");
    assert!(after.iter().any(|s| s["date"] == tokyo_date(&app, 3).as_str()), "the day after is open");
    let refused = checkout(&app, &buyer, &shop.variant, Some(&on_holiday)).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "slot_closed").await;
}

#[tokio::test]
async fn tokyo_orders_need_a_slot_and_other_orders_may_not_name_one() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 20).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let any = slots(&app, &buyer, &address, 3).await[0]["id"].as_str().unwrap().to_owned();

    let without = checkout(&app, &buyer, &shop.variant, None).await;
    assert_error(without, StatusCode::UNPROCESSABLE_ENTITY, "delivery_slot_required").await;
    let to_jakarta = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": shop.variant, "quantity": 1}], "payment_method": "sandbox",
                    "shipping_address": shipping_address(), "delivery_slot_id": any}),
        )
        .await;
    assert_error(to_jakarta, StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery").await;
    let digital = app.product(&shop.admin, "digital", &[10_000]).await.remove(0);
    let digital_with_slot = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": digital, "quantity": 1}], "payment_method": "wallet",
                    "delivery_slot_id": any}),
        )
        .await;
    assert_error(digital_with_slot, StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery").await;
}

#[tokio::test]
async fn the_days_manifest_lists_the_paid_orders_per_slot_as_json_and_csv() {
    let app = tokyo_app().await;
    let shop = grocery(&app, 20).await;
    let (buyer, address) = tokyo_buyer(&app).await;
    let day = tokyo_date(&app, 2);
    let wanted = slot(&slots(&app, &buyer, &address, 3).await, &format!("{day}T18:00")).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid: Value = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await.json().await.unwrap();
    let unpaid: Value = checkout(&app, &buyer, &shop.variant, Some(&wanted)).await.json().await.unwrap();
    let paid_id = paid["order"]["id"].as_str().unwrap();
    assert_eq!(app.press(paid["payment"]["id"].as_str().unwrap(), "succeed").await.status(), StatusCode::OK);
    let order = app.wait_for_order(&buyer.access_token, paid_id, "paid").await;
    assert_eq!(order["delivery_slot"]["start"], format!("{day}T09:00:00.000Z"));

    let token = Some(shop.admin.access_token.as_str());
    let manifest =
        app.get(&format!("/v1/admin/delivery/manifest?date={day}&zone_id={}", shop.zone), token).await;
    assert_eq!(manifest.status(), StatusCode::OK);
    let manifest: Value = manifest.json().await.unwrap();
    let slots = manifest["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{manifest}");
    assert_eq!(slots[0]["slot"]["local_start"], format!("{day}T18:00:00+09:00"));
    let orders = slots[0]["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "only the paid order: {manifest}");
    assert_eq!(orders[0]["order_id"], paid_id);
    assert_eq!(orders[0]["shipping_address"]["postal_code"], "150-0001");
    assert_eq!(orders[0]["lines"][0]["quantity"], 1);

    let csv = app.get(&format!("/v1/admin/delivery/manifest?date={day}&format=csv"), token).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "a header and the paid order: {csv}");
    assert!(rows[0].starts_with("slot_start,slot_end,order_id"));
    assert!(rows[1].contains(paid_id) && rows[1].contains("150-0001") && rows[1].contains("Sato Hanako"));
    assert!(!csv.contains(unpaid["order"]["id"].as_str().unwrap()));
}
