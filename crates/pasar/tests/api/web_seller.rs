//! The seller dashboard, driven as a browser would.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, csrf_of, location};
use crate::helpers::{Session, TestApp, spawn_app};

/// An approved store (signed in through the API too) with one physical product at Rp 80,000
/// (option size 250g), 10 in stock.
pub struct Store {
    /// The store (`sel_…`).
    pub id: String,
    pub slug: String,
    pub email: String,
    pub session: Session,
    pub product: String,
    pub variant: String,
}

pub async fn store(app: &TestApp, admin: &Session, name: &str) -> Store {
    let slug = format!("toko-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (session, id) = crate::sellers::seller(app, admin, &slug).await;
    let category = crate::sellers::category(app, admin).await;
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let body = json!({
        "category_id": category, "name": name, "description": "Hand-made", "kind": "physical",
        "status": "active", "seller_id": session.id,
        "variants": [{"sku": format!("SLR-{}", &suffix[20..]), "options": {"size": "250g"}, "price": {"amount": 80_000, "currency": "IDR"}}],
    });
    let created = app.post("/v1/admin/products", Some(&admin.access_token), &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    Store {
        id,
        email: format!("{slug}@people.test"),
        slug,
        session,
        product: created["id"].as_str().unwrap().to_owned(),
        variant,
    }
}

/// A buyer's paid order of one of `variant`: the buyer, the order's id and the buyer's email.
async fn paid_order(app: &TestApp, variant: &str) -> (Session, String, String) {
    let email = format!("buyer-{}@people.test", uuid::Uuid::now_v7().simple());
    let buyer = app.register(&email).await;
    let placed = app.checkout(&buyer.access_token, &[(variant, 1)]).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();
    app.wait_for_order(&buyer.access_token, &order_id, "paid").await;
    (buyer, order_id, email)
}

async fn buyers_part(app: &TestApp, buyer: &Session, order: &str) -> Value {
    let order: Value =
        app.get(&format!("/v1/orders/{order}"), Some(&buyer.access_token)).await.json().await.unwrap();
    order["fulfilments"][0].clone()
}

#[tokio::test]
async fn a_seller_ships_an_order_part_from_the_pages_and_the_buyer_sees_the_tracking_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let store = store(&app, &admin, "Batik Parang").await;
    let (buyer, order, _) = paid_order(&app, &store.variant).await;
    let mut seller = Browser::signed_in_as(&app, &store.email).await;

    let overview = seller.page("/seller").await;
    assert!(overview.contains("Store balance") && overview.contains("Sales, last 30 days"), "the overview");
    let list = seller.page("/seller/orders").await;
    assert!(list.contains(&format!("/seller/orders/{order}")), "the order is listed to pack");
    let page = seller.page(&format!("/seller/orders/{order}")).await;
    assert!(page.contains("Batik Parang") && page.contains("Jl. Merdeka 1"), "its line and the address show");
    let csrf = csrf_of(&page);
    let ship = format!("/seller/orders/{order}/status");

    let forged = seller.post(&ship, &[("status", "shipped"), ("tracking_number", "JNE-1")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a POST without the CSRF token is refused");
    let untracked =
        seller.post(&ship, &[("_csrf", &csrf), ("status", "shipped"), ("tracking_number", "")]).await;
    assert_eq!(untracked.status(), StatusCode::UNPROCESSABLE_ENTITY, "shipping needs a tracking number");
    assert!(untracked.text().await.unwrap().contains("A tracking number is required"));
    assert_eq!(buyers_part(&app, &buyer, &order).await["status"], "paid", "nothing moved yet");

    let packed = seller.post(&ship, &[("_csrf", &csrf), ("status", "packed")]).await;
    assert_eq!(packed.status(), StatusCode::SEE_OTHER);
    let shipped = seller
        .post(
            &ship,
            &[("_csrf", &csrf), ("status", "shipped"), ("tracking_number", "JNE-0042"), ("carrier", "JNE")],
        )
        .await;
    assert_eq!(shipped.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&shipped), format!("/seller/orders/{order}"));

    let part = buyers_part(&app, &buyer, &order).await;
    assert_eq!(part["status"], "shipped", "{part}");
    assert_eq!(part["tracking_number"], "JNE-0042", "the buyer sees the tracking number: {part}");
    assert!(seller.page(&format!("/seller/orders/{order}")).await.contains("JNE-0042"));
}

#[tokio::test]
async fn a_seller_cannot_see_or_touch_another_stores_order_or_product() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mine = store(&app, &admin, "Kain Tenun").await;
    let theirs = store(&app, &admin, "Kopi Gayo").await;
    let (buyer, order, _) = paid_order(&app, &theirs.variant).await;
    let level_before = app.stock_level(&admin, &theirs.variant).await;
    let mut seller = Browser::signed_in_as(&app, &mine.email).await;
    let csrf = seller.csrf().await;

    assert!(!seller.page("/seller/orders").await.contains(&order), "not listed");
    assert_eq!(seller.get(&format!("/seller/orders/{order}")).await.status(), StatusCode::NOT_FOUND);
    let moved = seller
        .post(&format!("/seller/orders/{order}/status"), &[("_csrf", &csrf), ("status", "packed")])
        .await;
    assert_eq!(moved.status(), StatusCode::NOT_FOUND);
    let cancelled = seller
        .post(&format!("/seller/orders/{order}/cancel"), &[("_csrf", &csrf), ("reason", "not mine")])
        .await;
    assert_eq!(cancelled.status(), StatusCode::NOT_FOUND);
    assert_eq!(buyers_part(&app, &buyer, &order).await["status"], "paid", "their part did not move");

    assert!(!seller.page("/seller/products").await.contains(&theirs.product));
    assert_eq!(
        seller.get(&format!("/seller/products/{}", theirs.product)).await.status(),
        StatusCode::NOT_FOUND
    );
    let renamed = seller
        .post(
            &format!("/seller/products/{}", theirs.product),
            &[("_csrf", &csrf), ("name", "Mine now"), ("status", "active")],
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::NOT_FOUND);
    let stocked = seller
        .post(
            &format!("/seller/products/{}/variants/{}/stock", theirs.product, theirs.variant),
            &[("_csrf", &csrf), ("delta", "-10"), ("reason", "gone")],
        )
        .await;
    assert_eq!(stocked.status(), StatusCode::NOT_FOUND);
    let product: Value =
        app.get(&format!("/v1/products/{}", theirs.product), None).await.json().await.unwrap();
    assert_eq!(product["name"], "Kopi Gayo", "their product is unchanged");
    let level = app.stock_level(&admin, &theirs.variant).await;
    assert_eq!(level["on_hand"], level_before["on_hand"], "their stock is unchanged: {level}");
}

#[tokio::test]
async fn a_buyer_is_sent_to_the_application_and_refused_the_dashboards_actions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let store = store(&app, &admin, "Tas Rotan").await;
    let (buyer_session, order, email) = paid_order(&app, &store.variant).await;

    let mut visitor = Browser::new(&app);
    let away = visitor.get("/seller/orders").await;
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&away), "/login?next=%2Fseller%2Forders", "a visitor signs in first");

    let mut buyer = Browser::signed_in_as(&app, &email).await;
    let csrf = buyer.csrf().await;
    for path in ["/seller", "/seller/orders", &format!("/seller/orders/{order}"), "/seller/products"] {
        let answer = buyer.get(path).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&answer), "/seller/apply", "{path}");
    }
    let moved = buyer
        .post(&format!("/seller/orders/{order}/status"), &[("_csrf", &csrf), ("status", "packed")])
        .await;
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);
    let created = buyer.post("/seller/products/new", &[("_csrf", &csrf), ("name", "Nope")]).await;
    assert_eq!(created.status(), StatusCode::FORBIDDEN);
    assert_eq!(buyers_part(&app, &buyer_session, &order).await["status"], "paid");
}

#[tokio::test]
async fn an_applicant_applies_from_the_pages_and_sees_the_applications_status() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.register("budi@people.test").await;
    let mut browser = Browser::signed_in_as(&app, "budi@people.test").await;

    let form = browser.page("/seller/apply").await;
    assert!(form.contains("action=\"/seller/apply\""), "an account without a store sees the form");
    let csrf = csrf_of(&form);
    let fields = [
        ("store_name", "Batik Budi"),
        ("slug", "batik-budi"),
        ("description", "Batik tulis from Solo"),
        ("contact_email", "shop@budi.test"),
        ("contact_phone", "+62 812 3456 7890"),
        ("bank_code", "BCA"),
        ("account_number", "1234567890"),
        ("account_name", "Budi Santoso"),
    ];
    let forged = browser.post("/seller/apply", &fields).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "without the CSRF token");
    assert_eq!(app.get("/v1/sellers/me", Some(&user.access_token)).await.status(), StatusCode::NOT_FOUND);

    let mut with_csrf = vec![("_csrf", csrf.as_str())];
    with_csrf.extend(fields);
    let applied = browser.post("/seller/apply", &with_csrf).await;
    assert_eq!(applied.status(), StatusCode::SEE_OTHER);
    let status = browser.page("/seller/apply").await;
    assert!(
        status.contains("Batik Budi") && status.contains("Waiting for review"),
        "the pending application"
    );
    assert_eq!(browser.get("/seller").await.status(), StatusCode::SEE_OTHER, "no dashboard while pending");
    let mine: Value = app.get("/v1/sellers/me", Some(&user.access_token)).await.json().await.unwrap();
    assert_eq!(mine["status"], "pending");
    assert_eq!(mine["slug"], "batik-budi");

    let rejected = crate::sellers::decide(
        &app,
        &admin,
        mine["id"].as_str().unwrap(),
        "reject",
        Some(json!({"reason": "No documents"})),
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::OK);
    let status = browser.page("/seller/apply").await;
    assert!(
        status.contains("Rejected") && status.contains("No documents"),
        "the decision and its reason show"
    );
}

#[tokio::test]
async fn a_seller_creates_a_digital_product_and_adds_keys_with_duplicates_reported() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let store = store(&app, &admin, "Voucher Game").await;
    let category = crate::sellers::category(&app, &admin).await;
    let mut seller = Browser::signed_in_as(&app, &store.email).await;

    let form = seller.page("/seller/products/new").await;
    let csrf = csrf_of(&form);
    let fields = [
        ("name", "Game Key"),
        ("description", "A key for the game"),
        ("kind", "digital"),
        ("status", "active"),
        ("category_id", category.as_str()),
        ("sku", "GAME-KEY-1"),
        ("price", "50000"),
        ("weight_grams", ""),
    ];
    let forged = seller.post("/seller/products/new", &fields).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "without the CSRF token");
    let mut with_csrf = vec![("_csrf", csrf.as_str())];
    with_csrf.extend(fields);
    let created = seller.post("/seller/products/new", &with_csrf).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let product_page = location(&created);
    let product_id = product_page.trim_start_matches("/seller/products/").to_owned();

    let listed: Value =
        app.get("/v1/seller/products", Some(&store.session.access_token)).await.json().await.unwrap();
    let ours = listed["data"].as_array().unwrap().iter().find(|p| p["id"] == product_id.as_str()).cloned();
    let ours = ours.expect("the new product is the store's own");
    assert_eq!(ours["name"], "Game Key");
    assert_eq!(ours["kind"], "digital");
    let variant = ours["variants"][0]["id"].as_str().unwrap().to_owned();

    let page = seller.page(&product_page).await;
    let keys = format!("/seller/products/{product_id}/variants/{variant}/keys");
    assert!(page.contains(&format!("action=\"{keys}\"")), "the keys form");
    let added = seller.post(&keys, &[("_csrf", &csrf), ("keys", "KEY-AAA\nKEY-BBB\n\nKEY-AAA\n")]).await;
    assert_eq!(added.status(), StatusCode::OK);
    let text = added.text().await.unwrap();
    assert!(text.contains("2 keys added"), "two new keys");
    let again = seller.post(&keys, &[("_csrf", &csrf), ("keys", "KEY-BBB\nKEY-CCC")]).await;
    let text = again.text().await.unwrap();
    assert!(text.contains("1 keys added") && text.contains("KEY-BBB"), "the duplicate is reported");

    let stock: Value = app
        .get(&format!("/v1/seller/variants/{variant}/stock"), Some(&store.session.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stock["on_hand"], 3, "three keys in stock: {stock}");
}
