//! Checkout, the pay step and the order pages, driven as a browser would.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, csrf_of, location, product_named};
use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// The value of the hidden field `name` in a page's form.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("the page has a {name} field"));
    page[at + marker.len()..].split('"').next().unwrap().to_owned()
}

/// A buyer registered through the API and signed in with a browser.
async fn signed_in_buyer<'a>(app: &'a TestApp, name: &str) -> (Session, Browser<'a>) {
    let email = format!("{name}-{}@buyer.test", uuid::Uuid::now_v7().simple());
    let session = app.register(&email).await;
    let mut browser = Browser::new(app);
    let signed_in = browser.login(&email, PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    (session, browser)
}

async fn add_to_cart(browser: &mut Browser<'_>, variant: &str, quantity: &str) {
    let csrf = browser.csrf().await;
    let added = browser
        .post("/cart/items", &[("_csrf", &csrf), ("variant_id", variant), ("quantity", quantity)])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
}

async fn my_orders(app: &TestApp, buyer: &Session) -> Vec<Value> {
    let orders: Value = app.get("/v1/orders", Some(&buyer.access_token)).await.json().await.unwrap();
    orders["data"].as_array().unwrap().clone()
}

/// A shop that ships to Indonesia by one method at a flat Rp 10.000.
async fn ships_regular(app: &TestApp, admin: &Session) {
    let token = Some(admin.access_token.as_str());
    let zone =
        app.post("/v1/admin/shipping/zones", token, &json!({"name": "Indonesia", "country": "ID"})).await;
    assert_eq!(zone.status(), StatusCode::CREATED);
    let zone: Value = zone.json().await.unwrap();
    let method = app
        .post(
            "/v1/admin/shipping/methods",
            token,
            &json!({"code": "regular", "name": "Regular parcel", "currency": "IDR", "zone_ids": [zone["id"]],
                    "rate": {"type": "flat", "price": {"amount": 10_000, "currency": "IDR"}},
                    "delivery_days": {"min": 2, "max": 4}}),
        )
        .await;
    assert_eq!(method.status(), StatusCode::CREATED);
}

const NEW_ADDRESS: [(&str, &str); 7] = [
    ("address", "new"),
    ("recipient_name", "Ana"),
    ("phone", "+62 812 3456 7890"),
    ("line1", "Jl. Merdeka 1"),
    ("city", "Jakarta"),
    ("postal_code", "10110"),
    ("country", "ID"),
];

#[tokio::test]
async fn a_buyer_checks_out_a_digital_key_pays_with_the_sandbox_buttons_and_only_they_see_the_key() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "digital", &[75_000]).await.remove(0);
    let keys = json!({"items": ["GAME-KEY-0001", "GAME-KEY-0002"]});
    let stocked = app
        .post(&format!("/v1/admin/variants/{variant}/digital-items"), Some(&admin.access_token), &keys)
        .await;
    assert!(stocked.status().is_success());
    let (buyer, mut browser) = signed_in_buyer(&app, "ana").await;
    add_to_cart(&mut browser, &variant, "1").await;

    // The cart leads to the checkout, which lists the line and the sandbox with its fee.
    assert!(browser.page("/cart").await.contains("action=\"/checkout\""));
    let checkout = browser.page("/checkout").await;
    assert!(checkout.contains("Rp 75.000"), "the line's price");
    assert!(checkout.contains("value=\"sandbox\""), "the sandbox is offered");
    assert!(checkout.contains("Rp 835"), "its fee (0.7% + Rp 310) shown before paying");
    assert!(!checkout.contains("name=\"shipping_method\""), "nothing to ship");

    let placed = browser
        .post(
            "/checkout",
            &[
                ("_csrf", &csrf_of(&checkout)),
                ("idempotency_key", &field(&checkout, "idempotency_key")),
                ("payment_method", "sandbox"),
            ],
        )
        .await;
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let pay_path = location(&placed);
    assert!(pay_path.starts_with("/pay/"), "{pay_path}");
    let order = my_orders(&app, &buyer).await.remove(0);
    let order_id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "pending_payment");

    // The pay step shows the sandbox's buttons; pressing Pay pays it.
    let pay = browser.page(&pay_path).await;
    assert!(pay.contains("Rp 75.835"), "the total with the fee");
    assert!(pay.contains(&format!("hx-get=\"{pay_path}/status\"")), "it polls its status");
    let pressed = browser.post(&format!("{pay_path}/sandbox/succeed"), &[("_csrf", &csrf_of(&pay))]).await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    app.wait_for_order(&buyer.access_token, &order_id, "delivered").await;

    // Polling now sends the browser to the order (htmx), as does the page itself.
    let polled = browser
        .client
        .get(app.url(&format!("{pay_path}/status")))
        .header("cookie", browser.cookie_header())
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(polled.headers()["hx-redirect"], format!("/orders/{order_id}").as_str());
    let revisited = browser.get(&pay_path).await;
    assert_eq!(location(&revisited), format!("/orders/{order_id}"));

    let order_page = browser.page(&format!("/orders/{order_id}")).await;
    assert!(order_page.contains("GAME-KEY-000"), "the key is shown to its buyer");
    assert!(order_page.contains("Dibayar"), "the timeline shows it paid");
    assert!(browser.page("/account/orders").await.contains(&format!("/orders/{order_id}")));

    // Another buyer sees neither the order nor its payment.
    let (_, mut other) = signed_in_buyer(&app, "budi").await;
    assert_eq!(other.get(&format!("/orders/{order_id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(other.get(&pay_path).await.status(), StatusCode::NOT_FOUND);
    assert!(!other.page("/account/orders").await.contains(&order_id));
}

#[tokio::test]
async fn a_physical_order_ships_to_a_new_address_by_the_chosen_method_with_the_payment_fee_shown() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    ships_regular(&app, &admin).await;
    let (_, variant) = product_named(&app, &admin, "Kopi Gayo", 50_000).await;
    let (buyer, mut browser) = signed_in_buyer(&app, "citra").await;
    add_to_cart(&mut browser, &variant, "1").await;

    // Without an address nothing can be placed; typing one quotes its shipping.
    let checkout = browser.page("/checkout").await;
    assert!(checkout.contains("name=\"recipient_name\""), "a new address can be typed");
    let csrf = csrf_of(&checkout);
    let key = field(&checkout, "idempotency_key");
    let mut form: Vec<(&str, &str)> = vec![("_csrf", &csrf), ("idempotency_key", &key)];
    form.extend(NEW_ADDRESS);
    let quoted = browser.post("/checkout/quote", &form).await;
    assert_eq!(quoted.status(), StatusCode::OK);
    let quoted = quoted.text().await.unwrap();
    assert!(quoted.contains("Regular parcel") && quoted.contains("Rp 10.000"), "the method and its price");
    // Rp 60.000 with shipping: the sandbox adds 0.7% + Rp 310 = Rp 730.
    assert!(quoted.contains("Rp 730") && quoted.contains("Rp 60.730"), "the fee and the total before paying");

    // Enhanced, the same quote answers only the form.
    let partial = browser
        .client
        .post(app.url("/checkout/quote"))
        .header("cookie", browser.cookie_header())
        .header("hx-request", "true")
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(partial.starts_with("<form id=\"checkout\"") && !partial.contains("<html"));

    form.extend([("shipping_method", "regular"), ("payment_method", "sandbox")]);
    let placed = browser.post("/checkout", &form).await;
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let pay = browser.page(&location(&placed)).await;
    assert!(pay.contains("Rp 60.730"));

    let order = my_orders(&app, &buyer).await.remove(0);
    assert_eq!(order["shipping"]["amount"], 10_000);
    assert_eq!(order["shipping_method"], "regular");
    assert_eq!(order["shipping_address"]["line1"], "Jl. Merdeka 1");
    let book: Value = app.get("/v1/me/addresses", Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(book["data"][0]["line1"], "Jl. Merdeka 1", "the new address joined the book");

    let order_page = browser.page(&format!("/orders/{}", order["id"].as_str().unwrap())).await;
    assert!(order_page.contains("Jl. Merdeka 1") && order_page.contains("regular"));
    assert!(order_page.contains("Rp 10.000"), "its shipping");

    // The next checkout offers the saved address.
    add_to_cart(&mut browser, &variant, "1").await;
    let again = browser.page("/checkout").await;
    assert!(again.contains("Ana, Jl. Merdeka 1"), "the address book's address");
    assert!(again.contains("Rp 10.000"), "quoted at once for it");
}

#[tokio::test]
async fn a_second_post_of_the_same_checkout_form_makes_no_second_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "digital", &[20_000]).await.remove(0);
    let keys = json!({"items": ["K-1", "K-2", "K-3"]});
    app.post(&format!("/v1/admin/variants/{variant}/digital-items"), Some(&admin.access_token), &keys).await;
    let (buyer, mut browser) = signed_in_buyer(&app, "dewi").await;
    add_to_cart(&mut browser, &variant, "1").await;
    let checkout = browser.page("/checkout").await;
    let (csrf, key) = (csrf_of(&checkout), field(&checkout, "idempotency_key"));
    let form = [("_csrf", csrf.as_str()), ("idempotency_key", key.as_str()), ("payment_method", "sandbox")];

    let first = browser.post("/checkout", &form).await;
    let second = browser.post("/checkout", &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), location(&second), "the same payment");
    assert_eq!(my_orders(&app, &buyer).await.len(), 1);
}

#[tokio::test]
async fn a_checkout_post_without_the_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Teh Tarik", 30_000).await;
    let (buyer, mut browser) = signed_in_buyer(&app, "eka").await;
    add_to_cart(&mut browser, &variant, "1").await;
    let mut form = vec![("payment_method", "sandbox"), ("idempotency_key", "web-forged")];
    form.extend(NEW_ADDRESS);

    let forged = browser.post("/checkout", &form).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(my_orders(&app, &buyer).await.is_empty());
    assert!(browser.page("/cart").await.contains("Teh Tarik"), "the cart is as it was");
    let book: Value = app.get("/v1/me/addresses", Some(&buyer.access_token)).await.json().await.unwrap();
    assert!(book["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_guest_is_sent_to_log_in_and_comes_back_to_the_checkout() {
    let app = spawn_app().await;
    let email = format!("fajar-{}@buyer.test", uuid::Uuid::now_v7().simple());
    app.register(&email).await;
    let mut guest = Browser::new(&app);

    let sent = guest.get("/checkout").await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&sent), "/login?next=%2Fcheckout");
    let login = guest.page("/login?next=%2Fcheckout").await;
    assert_eq!(field(&login, "next"), "/checkout");
    let back = guest
        .post(
            "/login",
            &[("_csrf", &csrf_of(&login)), ("email", &email), ("password", PASSWORD), ("next", "/checkout")],
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/checkout");
    assert!(guest.page("/checkout").await.contains("action=\"/checkout\""));

    // Only a path of this site is followed.
    let mut elsewhere = Browser::new(&app);
    let csrf = elsewhere.csrf().await;
    let off_site = elsewhere
        .post(
            "/login",
            &[("_csrf", &csrf), ("email", &email), ("password", PASSWORD), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(location(&off_site), "/");
}
