//! Shipping: zones by postal code and by area, methods with rates by weight and value, quotes,
//! and a checkout that charges exactly what the quote said.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{Session, TestApp, assert_error, shipping_address, spawn_app};

fn idr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn zone(app: &TestApp, admin: &Session, body: Value) -> String {
    let zone = created(app.post("/v1/admin/shipping/zones", Some(&admin.access_token), &body).await).await;
    zone["id"].as_str().unwrap().to_owned()
}

async fn method(app: &TestApp, admin: &Session, body: Value) -> Value {
    created(app.post("/v1/admin/shipping/methods", Some(&admin.access_token), &body).await).await
}

/// A physical product in rupiah whose one variant weighs `grams`, stocked with 10.
async fn parcel_product(app: &TestApp, admin: &Session, price: i64, grams: u32) -> String {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let token = Some(admin.access_token.as_str());
    let category: Value = app
        .post("/v1/admin/categories", token, &json!({"name": format!("C {suffix}")}))
        .await
        .json()
        .await
        .unwrap();
    let product = created(
        app.post(
            "/v1/admin/products",
            token,
            &json!({"name": format!("Beras {suffix}"), "kind": "physical", "status": "active",
                    "category_id": category["id"],
                    "variants": [{"sku": format!("BRS-{}", &suffix[20..]), "price": idr(price), "weight_grams": grams}]}),
        )
        .await,
    )
    .await;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    variant
}

/// Jakarta (postal codes from 1) and the rest of Indonesia; `regular` by weight everywhere,
/// free from Rp500,000; `same_day` flat, Jakarta only.
async fn jakarta_shop(app: &TestApp, admin: &Session) {
    let jakarta =
        zone(app, admin, json!({"name": "Jakarta", "country": "ID", "postal_prefixes": ["1"]})).await;
    let indonesia = zone(app, admin, json!({"name": "Indonesia", "country": "ID"})).await;
    method(
        app,
        admin,
        json!({"code": "regular", "name": "Regular", "currency": "IDR", "zone_ids": [jakarta, indonesia],
               "rate": {"type": "by_weight", "tiers": [{"up_to_grams": 1000, "price": idr(10_000)},
                                                       {"up_to_grams": 5000, "price": idr(25_000)}]},
               "free_above": idr(500_000), "delivery_days": {"min": 2, "max": 4}}),
    )
    .await;
    method(
        app,
        admin,
        json!({"code": "same_day", "name": "Same day", "currency": "IDR", "zone_ids": [jakarta],
               "rate": {"type": "flat", "price": idr(30_000)}, "delivery_days": {"min": 0, "max": 0}}),
    )
    .await;
}

async fn quote(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/v1/shipping/quote?{query}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

fn offered(quotes: &[Value]) -> Vec<(String, i64)> {
    quotes
        .iter()
        .map(|q| (q["method"].as_str().unwrap().to_owned(), q["price"]["amount"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_quote_lists_the_methods_of_the_most_specific_zone_priced_by_weight_and_value() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    jakarta_shop(&app, &admin).await;
    let rice = parcel_product(&app, &admin, 60_000, 800).await;

    let one = quote(&app, &format!("items={rice}:1&country=ID&postal_code=10110")).await;
    assert_eq!(offered(&one), [("regular".to_owned(), 10_000), ("same_day".to_owned(), 30_000)]);
    assert_eq!(one[0]["delivery_days"], json!({"min": 2, "max": 4}));
    let three = quote(&app, &format!("items={rice}:3&country=ID&postal_code=60111")).await;
    assert_eq!(offered(&three), [("regular".to_owned(), 25_000)], "2.4 kg, outside Jakarta: no same day");
    let heavy = quote(&app, &format!("items={rice}:7&country=ID&postal_code=60111")).await;
    assert!(heavy.is_empty(), "5.6 kg is beyond the last tier, and Rp420,000 is not free: {heavy:?}");
    let saffron = parcel_product(&app, &admin, 250_000, 50).await;
    let free = quote(&app, &format!("items={saffron}:2&country=ID&postal_code=10110")).await;
    assert_eq!(
        offered(&free),
        [("regular".to_owned(), 0), ("same_day".to_owned(), 30_000)],
        "Rp500,000 ships free"
    );
    assert!(quote(&app, &format!("items={rice}:1&country=JP&postal_code=1000001")).await.is_empty());

    for bad in
        ["items=nope&country=ID&postal_code=10110", &format!("items={rice}:0&country=ID&postal_code=1")]
    {
        assert_error(
            app.get(&format!("/v1/shipping/quote?{bad}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn a_checkout_charges_what_the_quote_said_and_the_order_names_the_method() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    jakarta_shop(&app, &admin).await;
    let rice = parcel_product(&app, &admin, 60_000, 800).await;
    let ana = app.register("ana@example.com").await;
    let (app, token) = (&app, ana.access_token.clone());
    let checkout = |method: Option<&str>, postal: &str| {
        let mut address = shipping_address();
        address["postal_code"] = json!(postal);
        let mut body = json!({"items": [{"variant_id": rice, "quantity": 3}], "payment_method": "sandbox",
                              "shipping_address": address});
        if let Some(method) = method {
            body["shipping_method"] = json!(method);
        }
        let token = token.clone();
        async move { app.post("/v1/checkout", Some(&token), &body).await }
    };

    let quoted = quote(app, &format!("items={rice}:3&country=ID&postal_code=10110")).await;
    let placed = created(checkout(Some("same_day"), "10110").await).await;
    assert_eq!(placed["order"]["shipping"]["amount"], quoted[1]["price"]["amount"]);
    assert_eq!(placed["order"]["shipping_method"], "same_day");
    assert_eq!(placed["order"]["total"]["amount"], 180_000 + 30_000);
    assert_eq!(placed["payment"]["amount"]["amount"], 210_000);

    let before = app.stock_level(&admin, &rice).await;
    let missing = checkout(None, "10110").await;
    assert_error(missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_checkout").await;
    let elsewhere = checkout(Some("same_day"), "60111").await;
    let body = assert_error(elsewhere, StatusCode::UNPROCESSABLE_ENTITY, "shipping_method_unavailable").await;
    assert_eq!(body["error"]["details"]["shipping_method"], "same_day");
    let unknown = checkout(Some("teleport"), "10110").await;
    assert_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "shipping_method_unavailable").await;
    assert_eq!(app.stock_level(&admin, &rice).await, before, "a refused checkout holds nothing");
    assert_invariants(app).await;
}

#[tokio::test]
async fn a_shop_without_shipping_methods_charges_nothing_for_shipping() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let ana = app.register("ana@example.com").await;
    let placed: Value = created(app.checkout(&ana.access_token, &[(&variant, 1)]).await).await;
    assert_eq!(placed["order"]["shipping"]["amount"], 0);
    assert!(placed["order"].get("shipping_method").is_none());
}

#[tokio::test]
async fn a_zone_drawn_on_the_map_holds_the_addresses_inside_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // Central Jakarta as a square of [lng, lat] points.
    let square = json!({"type": "Polygon", "coordinates": [[[106.80, -6.22], [106.86, -6.22], [106.86, -6.15],
                                                            [106.80, -6.15], [106.80, -6.22]]]});
    let central = zone(&app, &admin, json!({"name": "Central", "country": "ID", "area": square})).await;
    method(
        &app,
        &admin,
        json!({"code": "bike", "name": "Bike courier", "currency": "IDR", "zone_ids": [central],
               "rate": {"type": "by_value", "tiers": [{"from": idr(0), "price": idr(15_000)},
                                                      {"from": idr(100_000), "price": idr(5_000)}]},
               "delivery_days": {"min": 0, "max": 1}}),
    )
    .await;
    let rice = parcel_product(&app, &admin, 60_000, 800).await;
    let at = |lat: f64, lng: f64, quantity: u32| {
        format!("items={rice}:{quantity}&country=ID&postal_code=10110&lat={lat}&lng={lng}")
    };
    assert_eq!(offered(&quote(&app, &at(-6.18, 106.83, 1)).await), [("bike".to_owned(), 15_000)]);
    assert_eq!(offered(&quote(&app, &at(-6.18, 106.83, 2)).await), [("bike".to_owned(), 5_000)]);
    assert!(quote(&app, &at(-6.30, 106.83, 1)).await.is_empty(), "south of the square");
    assert!(
        quote(&app, &format!("items={rice}:1&country=ID&postal_code=10110")).await.is_empty(),
        "no coordinates"
    );

    let ana = app.register("ana@example.com").await;
    let mut address = shipping_address();
    address["coordinates"] = json!({"lat": -6.18, "lng": 106.83});
    let body = json!({"items": [{"variant_id": rice, "quantity": 1}], "payment_method": "sandbox",
                      "shipping_address": address, "shipping_method": "bike"});
    let placed = created(app.post("/v1/checkout", Some(&ana.access_token), &body).await).await;
    assert_eq!(placed["order"]["shipping"]["amount"], 15_000);
    assert_eq!(placed["order"]["shipping_address"]["coordinates"]["lat"], -6.18);
}

#[tokio::test]
async fn bad_zones_and_methods_are_refused_and_only_admins_set_them() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    let app = &app;
    let post = |path: &'static str, body: Value| async move { app.post(path, token, &body).await };
    let zones = "/v1/admin/shipping/zones";
    let methods = "/v1/admin/shipping/methods";
    for body in [
        json!({"name": "Backwards", "country": "ID", "postal_ranges": [{"from": "10199", "to": "10110"}]}),
        json!({"name": "Open ring", "country": "ID", "area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}}),
        json!({"name": "Country?", "country": "Indonesia"}),
    ] {
        assert_eq!(post(zones, body).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let jakarta =
        zone(app, &admin, json!({"name": "Jakarta", "country": "ID", "postal_prefixes": ["1"]})).await;
    let flat = |code: &str, price: Value| {
        json!({"code": code, "name": "Flat", "currency": "IDR", "zone_ids": [jakarta],
               "rate": {"type": "flat", "price": price}, "delivery_days": {"min": 1, "max": 2}})
    };
    assert_error(
        post(methods, flat("yen", json!({"amount": 500, "currency": "JPY"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_shipping",
    )
    .await;
    assert_error(
        post(methods, flat("Bad Code", idr(1))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    method(app, &admin, flat("flat", idr(9_000))).await;
    assert_error(
        post(methods, flat("flat", idr(9_000))).await,
        StatusCode::CONFLICT,
        "shipping_method_exists",
    )
    .await;
    let in_use =
        app.request(reqwest::Method::DELETE, &format!("{zones}/{jakarta}"), token).send().await.unwrap();
    assert_error(in_use, StatusCode::CONFLICT, "zone_in_use").await;

    let ana = app.register("ana@example.com").await;
    let refused = app.post(zones, Some(&ana.access_token), &json!({"name": "Mine", "country": "ID"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listed: Value = app.get(methods, token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "nothing refused was kept");
}
