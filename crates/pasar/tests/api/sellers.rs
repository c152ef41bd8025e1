//! Sellers over HTTP: applying, admins' decisions (approve, reject, suspend, reinstate) and
//! their audit trail, store pages, a seller running its own products and stock (and only its
//! own), and a suspended store's products hidden and unsellable until it is reinstated.

use pasar::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{Session, TestApp, assert_error, eventually, spawn_app};

const TINY_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn application(slug: &str) -> Value {
    json!({
        "store_name": format!("Toko {slug}"),
        "slug": slug,
        "description": "Batik tulis from Solo",
        "contact": {"email": format!("{slug}@stores.test"), "phone": "+62 812 3456 7890"},
        "payout_account": {"bank_code": "BCA", "account_number": "1234-5678-90", "account_name": "Budi Santoso"},
    })
}

/// A customer who applied for the store `slug`; returns the session and the application.
async fn applicant(app: &TestApp, slug: &str) -> (Session, Value) {
    let user = app.register(&format!("{slug}@people.test")).await;
    let response = app.post("/v1/sellers", Some(&user.access_token), &application(slug)).await;
    assert_eq!(response.status(), StatusCode::CREATED, "applying for {slug}");
    (user, response.json().await.unwrap())
}

pub async fn decide(
    app: &TestApp,
    admin: &Session,
    seller: &str,
    decision: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let path = format!("/v1/admin/sellers/{seller}/{decision}");
    let request = app.request(Method::POST, &path, Some(&admin.access_token));
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// A customer whose store `slug` an admin approved (signed in as `{slug}@people.test`); returns
/// the session and the store's id.
pub async fn seller(app: &TestApp, admin: &Session, slug: &str) -> (Session, String) {
    let (user, applied) = applicant(app, slug).await;
    let id = applied["id"].as_str().unwrap().to_owned();
    let approved = decide(app, admin, &id, "approve", None).await;
    assert_eq!(approved.status(), StatusCode::OK, "approving {slug}");
    (user, id)
}

pub async fn category(app: &TestApp, admin: &Session) -> String {
    let name = format!("Category {}", uuid::Uuid::now_v7().simple());
    let response = app.post("/v1/admin/categories", Some(&admin.access_token), &json!({"name": name})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// An active product the seller creates through its own routes, with `stock` units of its one
/// variant; returns the product.
pub async fn own_product(app: &TestApp, seller: &Session, category: &str, name: &str, stock: i64) -> Value {
    let sku = format!("SKU-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let body = json!({
        "name": name, "kind": "physical", "status": "active", "category_id": category,
        "seller_id": null,
        "variants": [{"sku": sku, "price": {"amount": 75_000, "currency": "IDR"}}],
    });
    let response = app.post("/v1/seller/products", Some(&seller.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "the seller creates {name}");
    let product: Value = response.json().await.unwrap();
    let variant = product["variants"][0]["id"].as_str().unwrap();
    let adjusted = app
        .post(
            &format!("/v1/seller/variants/{variant}/stock/adjust"),
            Some(&seller.access_token),
            &json!({"delta": stock, "reason": "first delivery"}),
        )
        .await;
    assert_eq!(adjusted.status(), StatusCode::OK, "the seller stocks {name}");
    product
}

pub async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.get(&format!("/v1/products?{query}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

pub async fn searched(app: &TestApp, q: &str) -> Vec<String> {
    let page: Value = app.get(&format!("/v1/search?q={q}"), None).await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|hit| hit["name"].as_str().unwrap().to_owned()).collect()
}

pub async fn add_to_cart(app: &TestApp, buyer: &Session, variant: &str) -> reqwest::Response {
    let cart: Value =
        app.post("/v1/carts", Some(&buyer.access_token), &json!({})).await.json().await.unwrap();
    let path = format!("/v1/carts/{}/items", cart["id"].as_str().unwrap());
    app.post(&path, Some(&buyer.access_token), &json!({"variant_id": variant, "quantity": 1})).await
}

#[tokio::test]
async fn an_approved_applicant_sells_its_own_products_on_its_store_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (ana, applied) = applicant(&app, "batik-ana").await;
    assert_eq!(applied["status"], "pending");
    assert_eq!(applied["slug"], "batik-ana");
    assert_eq!(applied["payout_account"]["account_number_last4"], "7890");
    assert!(applied["payout_account"].get("account_number").is_none(), "{applied}");
    let id = applied["id"].as_str().unwrap();
    assert!(id.starts_with("sel_"));

    let mine: Value = app.get("/v1/sellers/me", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(mine["id"], id);
    // Not live yet: no store page, and the applicant cannot sell.
    assert_error(app.get("/v1/stores/batik-ana", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let early = app.get("/v1/seller/products", Some(&ana.access_token)).await;
    assert_error(early, StatusCode::FORBIDDEN, "forbidden").await;

    let pending: Value =
        app.get("/v1/admin/sellers?status=pending", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(pending["data"][0]["id"], id);
    let approved: Value = decide(&app, &admin, id, "approve", None).await.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert!(approved["approved_at"].is_string());
    let me: Value = app.get("/v1/me", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(me["role"], "seller", "the approval made the applicant a seller");
    let still_pending: Value =
        app.get("/v1/admin/sellers?status=pending", Some(&admin.access_token)).await.json().await.unwrap();
    assert!(still_pending["data"].as_array().unwrap().is_empty());

    let shirts = category(&app, &admin).await;
    let product = own_product(&app, &ana, &shirts, "Batik Parang", 5).await;
    assert_eq!(product["seller_id"], ana.id.as_str(), "the product is the caller's, whatever the body said");
    let variant = product["variants"][0]["id"].as_str().unwrap();
    let stock: Value = app
        .get(&format!("/v1/seller/variants/{variant}/stock"), Some(&ana.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stock["on_hand"], 5);

    let page: Value = app.get("/v1/stores/batik-ana", None).await.json().await.unwrap();
    assert_eq!(page["store_name"], "Toko batik-ana");
    assert_eq!(page["product_count"], 1);
    assert!(page["joined_at"].is_string());
    assert_eq!(listed(&app, "store=batik-ana").await, ["Batik Parang"]);
    assert!(listed(&app, "store=no-such-store").await.is_empty(), "an unknown store lists nothing");
    let own: Value = app.get("/v1/seller/products", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(own["data"].as_array().unwrap().len(), 1);
    eventually("the seller's product in search", || async {
        searched(&app, "parang").await.contains(&"Batik Parang".to_owned()).then_some(())
    })
    .await;
    // Search takes the store by its slug too; a store that is not live matches nothing.
    assert_eq!(searched(&app, "parang&store=batik-ana").await, ["Batik Parang"]);
    assert!(searched(&app, "parang&store=no-such-store").await.is_empty());
    assert_eq!(page["rating"], json!({"average": 0.0, "count": 0}), "no reviews yet: {page}");
}

#[tokio::test]
async fn an_application_is_checked_at_the_edge_and_a_store_slug_is_unique() {
    let app = spawn_app().await;
    let (ana, _) = applicant(&app, "toko-ana").await;
    let again = app.post("/v1/sellers", Some(&ana.access_token), &application("toko-ana-2")).await;
    assert_error(again, StatusCode::CONFLICT, "already_applied").await;
    let budi = app.register("budi@people.test").await;
    let taken = app.post("/v1/sellers", Some(&budi.access_token), &application("toko-ana")).await;
    assert_error(taken, StatusCode::CONFLICT, "slug_taken").await;
    for (field, value) in [
        ("slug", json!("Not A Slug")),
        ("store_name", json!("  ")),
        ("contact", json!({"email": "nope", "phone": "+62 812 3456 7890"})),
        ("payout_account", json!({"bank_code": "BCA", "account_number": "12", "account_name": "Budi"})),
    ] {
        let mut body = application("toko-budi");
        body[field] = value;
        let refused = app.post("/v1/sellers", Some(&budi.access_token), &body).await;
        let envelope = assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(envelope["error"]["details"]["fields"][0]["field"].as_str().unwrap().starts_with(field));
    }
    let anonymous = app.post("/v1/sellers", None, &application("toko-x")).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let admin = app.admin().await;
    let staff = app.post("/v1/sellers", Some(&admin.access_token), &application("toko-staff")).await;
    assert_error(staff, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(
        app.get("/v1/sellers/me", Some(&budi.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_rejection_keeps_its_reason_and_decisions_out_of_turn_are_409() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (cici, applied) = applicant(&app, "toko-cici").await;
    let id = applied["id"].as_str().unwrap();

    for decision in ["reinstate"] {
        let refused = decide(&app, &admin, id, decision, None).await;
        let envelope = assert_error(refused, StatusCode::CONFLICT, "invalid_transition").await;
        assert_eq!(envelope["error"]["details"]["status"], "pending");
    }
    let refused = decide(&app, &admin, id, "suspend", Some(json!({"reason": "spam"}))).await;
    assert_error(refused, StatusCode::CONFLICT, "invalid_transition").await;
    let no_reason = decide(&app, &admin, id, "reject", Some(json!({}))).await;
    assert_error(no_reason, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let rejected = decide(&app, &admin, id, "reject", Some(json!({"reason": "documents unreadable"}))).await;
    assert_eq!(rejected.status(), StatusCode::OK);
    let rejected: Value = rejected.json().await.unwrap();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "documents unreadable");
    let mine: Value = app.get("/v1/sellers/me", Some(&cici.access_token)).await.json().await.unwrap();
    assert_eq!(mine["reason"], "documents unreadable");
    let me: Value = app.get("/v1/me", Some(&cici.access_token)).await.json().await.unwrap();
    assert_eq!(me["role"], "customer");

    let approve = decide(&app, &admin, id, "approve", None).await;
    let envelope = assert_error(approve, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(envelope["error"]["details"]["status"], "rejected");
    assert_error(app.get("/v1/stores/toko-cici", None).await, StatusCode::NOT_FOUND, "not_found").await;

    let (_, live) = seller(&app, &admin, "toko-dedi").await;
    let twice = decide(&app, &admin, &live, "approve", None).await;
    let envelope = assert_error(twice, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(envelope["error"]["details"]["status"], "approved");
    let unknown = decide(&app, &admin, "sel_0192f5a3c1e27d3a9b4c5d6e7f809112", "approve", None).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_suspended_store_is_hidden_and_unsellable_until_reinstated() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (eka, store) = seller(&app, &admin, "toko-eka").await;
    let shirts = category(&app, &admin).await;
    let product = own_product(&app, &eka, &shirts, "Kebaya Encim", 10).await;
    let product_id = product["id"].as_str().unwrap();
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    let buyer = app.register("buyer@people.test").await;
    assert_eq!(add_to_cart(&app, &buyer, &variant).await.status(), StatusCode::OK);
    eventually("the product in search", || async {
        searched(&app, "kebaya").await.contains(&"Kebaya Encim".to_owned()).then_some(())
    })
    .await;

    let suspended =
        decide(&app, &admin, &store, "suspend", Some(json!({"reason": "counterfeit goods"}))).await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert_eq!(suspended.json::<Value>().await.unwrap()["status"], "suspended");

    assert!(listed(&app, "store=toko-eka").await.is_empty());
    assert!(!listed(&app, "").await.contains(&"Kebaya Encim".to_owned()));
    let page = app.get(&format!("/v1/products/{product_id}"), None).await;
    assert_error(page, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(app.get("/v1/stores/toko-eka", None).await, StatusCode::NOT_FOUND, "not_found").await;
    eventually("the product gone from search", || async {
        (!searched(&app, "kebaya").await.contains(&"Kebaya Encim".to_owned())).then_some(())
    })
    .await;
    let refused = add_to_cart(&app, &buyer, &variant).await;
    let envelope = assert_error(refused, StatusCode::CONFLICT, "store_suspended").await;
    assert_eq!(envelope["error"]["details"]["variant_id"], variant.as_str());
    let checkout = app.checkout(&buyer.access_token, &[(&variant, 1)]).await;
    assert_error(checkout, StatusCode::CONFLICT, "store_suspended").await;
    // Admins still see it, marked; the seller reads its own things but changes nothing.
    let for_staff: Value = app
        .get(&format!("/v1/admin/products/{product_id}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(for_staff["store_suspended"], true);
    let read = app.get(&format!("/v1/seller/products/{product_id}"), Some(&eka.access_token)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let write = app
        .patch(
            &format!("/v1/seller/products/{product_id}"),
            Some(&eka.access_token),
            &json!({"name": "Kebaya"}),
        )
        .await;
    assert_error(write, StatusCode::FORBIDDEN, "store_suspended").await;

    let reinstated = decide(&app, &admin, &store, "reinstate", None).await;
    assert_eq!(reinstated.json::<Value>().await.unwrap()["status"], "approved");
    assert_eq!(listed(&app, "store=toko-eka").await, ["Kebaya Encim"]);
    assert_eq!(app.get(&format!("/v1/products/{product_id}"), None).await.status(), StatusCode::OK);
    assert_eq!(add_to_cart(&app, &buyer, &variant).await.status(), StatusCode::OK);
    let checkout = app.checkout(&buyer.access_token, &[(&variant, 1)]).await;
    assert_eq!(checkout.status(), StatusCode::CREATED);
    eventually("the product back in search", || async {
        searched(&app, "kebaya").await.contains(&"Kebaya Encim".to_owned()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_seller_reaches_none_of_another_stores_products_variants_images_or_stock() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (fajar, _) = seller(&app, &admin, "toko-fajar").await;
    let (gita, _) = seller(&app, &admin, "toko-gita").await;
    let shirts = category(&app, &admin).await;
    let theirs = own_product(&app, &gita, &shirts, "Songket Gita", 3).await;
    let product = theirs["id"].as_str().unwrap();
    let variant = theirs["variants"][0]["id"].as_str().unwrap();
    let image = app
        .request(Method::POST, &format!("/v1/seller/products/{product}/media"), Some(&gita.access_token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::CREATED);
    let media = image.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // The admin's shop product too: not a store's own.
    let shop_variant = app.product(&admin, "physical", &[10_000]).await.remove(0);

    let token = Some(fajar.access_token.as_str());
    let new_variant = json!({"sku": "FAJAR-1", "price": {"amount": 1_000, "currency": "IDR"}});
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/seller/products/{product}"), None),
        (Method::PATCH, format!("/v1/seller/products/{product}"), Some(json!({"name": "Mine now"}))),
        (Method::POST, format!("/v1/seller/products/{product}/variants"), Some(new_variant)),
        (Method::PATCH, format!("/v1/seller/variants/{variant}"), Some(json!({"sku": "STOLEN"}))),
        (Method::DELETE, format!("/v1/seller/products/{product}/media/{media}"), None),
        (Method::GET, format!("/v1/seller/variants/{variant}/stock"), None),
        (
            Method::POST,
            format!("/v1/seller/variants/{variant}/stock/adjust"),
            Some(json!({"delta": -3, "reason": "x"})),
        ),
        (
            Method::PUT,
            format!("/v1/seller/variants/{variant}/stock/threshold"),
            Some(json!({"low_stock_threshold": 1})),
        ),
        (
            Method::POST,
            format!("/v1/seller/variants/{variant}/digital-items"),
            Some(json!({"items": ["KEY-1"]})),
        ),
        (Method::GET, format!("/v1/seller/variants/{shop_variant}/stock"), None),
    ];
    for (method, path, body) in cases {
        let request = app.request(method.clone(), &path, token);
        let response = match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let upload = app
        .request(Method::POST, &format!("/v1/seller/products/{product}/media"), token)
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::NOT_FOUND, "uploading to another store's product");
    let listing: Value = app.get("/v1/seller/products", token).await.json().await.unwrap();
    assert!(listing["data"].as_array().unwrap().is_empty(), "another store's products are not listed");
    // Nothing changed: Gita's product, image and stock are as they were.
    let after: Value = app
        .get(&format!("/v1/seller/products/{product}"), Some(&gita.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["name"], "Songket Gita");
    assert_eq!(after["media"].as_array().unwrap().len(), 1);
    assert_eq!(after["variants"].as_array().unwrap().len(), 1);
    let stock: Value = app
        .get(&format!("/v1/seller/variants/{variant}/stock"), Some(&gita.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stock["on_hand"], 3);
    // A seller's product cannot be handed to another store.
    let handed = app
        .patch(
            &format!("/v1/seller/products/{product}"),
            Some(&gita.access_token),
            &json!({"seller_id": fajar.id}),
        )
        .await;
    assert_error(handed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn sellers_never_reach_admin_routes_and_customers_never_reach_seller_routes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (hana, store) = seller(&app, &admin, "toko-hana").await;
    for path in
        ["/v1/admin/products", "/v1/admin/sellers", &format!("/v1/admin/sellers/{store}"), "/v1/admin/orders"]
    {
        let response = app.get(path, Some(&hana.access_token)).await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let approve = decide(&app, &hana, &store, "reinstate", None).await;
    assert_error(approve, StatusCode::FORBIDDEN, "forbidden").await;
    let body = json!({"name": "X", "kind": "physical", "status": "active", "category_id": "cat_0192f5a3c1e27d3a9b4c5d6e7f809112",
                      "variants": [{"sku": "X-1", "price": {"amount": 1, "currency": "IDR"}}]});
    let created = app.post("/v1/admin/products", Some(&hana.access_token), &body).await;
    assert_error(created, StatusCode::FORBIDDEN, "forbidden").await;

    let customer = app.register("iwan@people.test").await;
    let reseller = app.user_with_role("reseller@people.test", Role::Reseller).await;
    let bare_seller = app.user_with_role("seller-without-store@people.test", Role::Seller).await;
    for who in [&customer, &reseller, &bare_seller, &admin] {
        for (method, path) in [(Method::GET, "/v1/seller/products"), (Method::POST, "/v1/seller/products")] {
            let response =
                app.request(method.clone(), path, Some(&who.access_token)).json(&body).send().await.unwrap();
            assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    assert_error(app.get("/v1/seller/products", None).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
}

#[tokio::test]
async fn decisions_are_evented_in_the_outbox_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (jaya, store) = seller(&app, &admin, "toko-jaya").await;
    decide(&app, &admin, &store, "suspend", Some(json!({"reason": "late shipping"}))).await;
    decide(&app, &admin, &store, "reinstate", None).await;

    let rows =
        sqlx::query("SELECT event_type, actor, payload FROM outbox_events WHERE subject_id = $1 ORDER BY id")
            .bind(&store)
            .fetch_all(app.state.db.reader())
            .await
            .unwrap();
    let events: Vec<(String, String, Value)> = rows
        .iter()
        .map(|row| {
            let payload: String = row.get("payload");
            (row.get("event_type"), row.get("actor"), serde_json::from_str(&payload).unwrap())
        })
        .collect();
    let types: Vec<&str> = events.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(types, ["seller.applied", "seller.approved", "seller.suspended", "seller.reinstated"]);
    assert_eq!(events[0].1, jaya.id, "the applicant applied");
    assert!(events[1..].iter().all(|(_, actor, _)| *actor == admin.id), "the admin decided");
    assert_eq!(events[2].2["reason"], "late shipping");
    assert_eq!(events[2].2["before"]["status"], "approved");
    assert_eq!(events[2].2["after"]["status"], "suspended");
    let role_changes = sqlx::query(
        "SELECT COUNT(*) AS n FROM outbox_events WHERE subject_id = $1 AND event_type = 'user.role_changed'",
    )
    .bind(&jaya.id)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(role_changes.get::<i64, _>("n"), 1, "the approval granted the role in the same change");

    let path = format!("/v1/admin/audit?entity={store}");
    let entries: Value = eventually("the decisions in the audit log", || async {
        let entries: Value = app.get(&path, Some(&admin.access_token)).await.json().await.unwrap();
        (entries["data"].as_array().unwrap().len() == 4).then_some(entries)
    })
    .await;
    let actions: Vec<&str> =
        entries["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["seller.reinstated", "seller.suspended", "seller.approved", "seller.applied"]);
    assert_eq!(entries["data"][1]["after"]["status"], "suspended");
    assert_eq!(entries["data"][1]["actor"], admin.id.as_str());
}

#[tokio::test]
async fn a_stores_commission_is_its_own_or_the_platform_default() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (kiki, store) = seller(&app, &admin, "toko-kiki").await;
    let user: pasar::ids::UserId = kiki.id.parse().unwrap();
    assert_eq!(app.state.sellers.commission_bps(user).await.unwrap(), 1000, "the platform default");
    let path = format!("/v1/admin/sellers/{store}");
    let token = Some(admin.access_token.as_str());
    let set: Value = app.patch(&path, token, &json!({"commission_bps": 750})).await.json().await.unwrap();
    assert_eq!(set["commission_bps"], 750);
    assert_eq!(app.state.sellers.commission_bps(user).await.unwrap(), 750);
    let too_high = app.patch(&path, token, &json!({"commission_bps": 10_001})).await;
    assert_error(too_high, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let cleared: Value =
        app.patch(&path, token, &json!({"commission_bps": null})).await.json().await.unwrap();
    assert!(cleared["commission_bps"].is_null());
    assert_eq!(app.state.sellers.commission_bps(user).await.unwrap(), 1000);
    let account = app.state.sellers.payout_account(user).await.unwrap().unwrap();
    assert_eq!(account.account_number.as_str(), "1234567890");
    let updates = sqlx::query(
        "SELECT COUNT(*) AS n FROM outbox_events WHERE subject_id = $1 AND event_type = 'seller.updated'",
    )
    .bind(&store)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(updates.get::<i64, _>("n"), 2, "each change of the rate is evented (and so audited)");
}

#[tokio::test]
async fn a_stores_logo_is_public_and_its_documents_are_for_its_owner_and_admins_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (lina, applied) = applicant(&app, "toko-lina").await;
    let store = applied["id"].as_str().unwrap().to_owned();
    let upload = |path: &'static str, content_type: &'static str, body: &'static [u8]| {
        app.request(Method::POST, path, Some(&lina.access_token))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
    };
    let document =
        upload("/v1/sellers/me/documents", "application/pdf", b"%PDF-1.4\nbusiness licence").await.unwrap();
    assert_eq!(document.status(), StatusCode::CREATED);
    let document: Value = document.json().await.unwrap();
    let url = document["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("/v1/sellers/{store}/documents/sdc_")));
    let not_a_document = upload("/v1/sellers/me/documents", "application/pdf", b"MZ\x90\0").await.unwrap();
    assert_error(not_a_document, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // The bytes say what a document is: sent as plain bytes, a PDF is taken as a PDF; declared
    // as something it is not, it is refused.
    let plain =
        upload("/v1/sellers/me/documents", "application/octet-stream", b"%PDF-1.7\nnpwp").await.unwrap();
    assert_eq!(plain.status(), StatusCode::CREATED);
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(plain["content_type"], "application/pdf", "{plain}");
    let png_as_pdf = upload("/v1/sellers/me/documents", "application/pdf", TINY_PNG).await.unwrap();
    assert_error(png_as_pdf, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let own = app.get(&url, Some(&lina.access_token)).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.headers()["content-type"], "application/pdf");
    assert_eq!(own.bytes().await.unwrap().as_ref(), b"%PDF-1.4\nbusiness licence");
    assert_eq!(app.get(&url, Some(&admin.access_token)).await.status(), StatusCode::OK);
    let stranger = app.register("stranger@people.test").await;
    assert_error(app.get(&url, Some(&stranger.access_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(app.get(&url, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let listed: Value =
        app.get(&format!("/v1/admin/sellers/{store}"), Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(listed["documents"][0]["url"], url.as_str());

    let logo = app
        .request(Method::PUT, "/v1/sellers/me/logo", Some(&lina.access_token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), StatusCode::OK);
    let logo_url = logo.json::<Value>().await.unwrap()["logo_url"].as_str().unwrap().to_owned();
    decide(&app, &admin, &store, "approve", None).await;
    let page: Value = app.get("/v1/stores/toko-lina", None).await.json().await.unwrap();
    assert_eq!(page["logo_url"], logo_url.as_str());
    let served = app.get(&logo_url, None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), TINY_PNG);
}
