//! Recommendations over a fixed history of paid orders: four products of one category and
//! brand, bought by four buyers as {A,B} {A,B} {A,C} {A,B,D}.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, eventually, spawn_app};

struct Product {
    id: String,
    variant: String,
}

/// An active physical product of `category` and `brand` at `price`, 5 in stock.
async fn product(app: &TestApp, admin: &Session, category: &str, brand: &str, price: i64) -> Product {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let body = json!({
        "name": format!("Kopi {suffix}"), "description": "Beans", "kind": "physical", "status": "active",
        "category_id": category, "brand_id": brand,
        "variants": [{"sku": format!("KP-{}", &suffix[20..]), "options": {}, "price": {"amount": price, "currency": "IDR"}}],
    });
    let created = app.post("/v1/admin/products", Some(&admin.access_token), &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 5).await;
    Product { id: created["id"].as_str().unwrap().to_owned(), variant }
}

async fn created_id(app: &TestApp, admin: &Session, path: &str, name: &str) -> String {
    let response = app.post(path, Some(&admin.access_token), &json!({"name": name})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// A buyer who paid one order of one of each of `products`, and that order's id.
async fn buyer_of(app: &TestApp, email: &str, products: &[&Product]) -> (Session, String) {
    let buyer = app.register(email).await;
    let items: Vec<(&str, i64)> = products.iter().map(|p| (p.variant.as_str(), 1)).collect();
    let placed = app.checkout(&buyer.access_token, &items).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    let order = placed["order"]["id"].as_str().unwrap().to_owned();
    app.wait_for_order(&buyer.access_token, &order, "paid").await;
    (buyer, order)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

struct History {
    app: TestApp,
    admin: Session,
    a: Product,
    b: Product,
    c: Product,
    d: Product,
    /// Bought A and C.
    third: Session,
    /// The third buyer's order.
    third_order: String,
}

async fn history() -> History {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let category = created_id(&app, &admin, "/v1/admin/categories", "Kopi").await;
    let brand = created_id(&app, &admin, "/v1/admin/brands", "Kapal Api").await;
    // Created in this order, so their ids sort A < B < C < D.
    let a = product(&app, &admin, &category, &brand, 100_000).await;
    let b = product(&app, &admin, &category, &brand, 120_000).await;
    let c = product(&app, &admin, &category, &brand, 90_000).await;
    let d = product(&app, &admin, &category, &brand, 300_000).await;
    buyer_of(&app, "one@example.com", &[&a, &b]).await;
    buyer_of(&app, "two@example.com", &[&a, &b]).await;
    let (third, third_order) = buyer_of(&app, "three@example.com", &[&a, &c]).await;
    buyer_of(&app, "four@example.com", &[&a, &b, &d]).await;
    History { app, admin, a, b, c, d, third, third_order }
}

#[tokio::test]
async fn a_products_page_lists_what_was_bought_with_it_what_is_like_it_and_what_sells_in_its_category() {
    let History { app, a, b, c, d, .. } = history().await;
    let path = format!("/v1/products/{}/recommendations", a.id);
    let lists: Value = eventually("the four orders counted", || async {
        let lists: Value = app.get(&path, None).await.json().await.unwrap();
        (lists["bought_together"].as_array().unwrap().len() == 3).then_some(lists)
    })
    .await;
    // B: 3/sqrt(4·3) ≈ 0.87; C and D: 1/sqrt(4·1) = 0.5 each, the smaller id first.
    assert_eq!(ids(&lists["bought_together"]), vec![b.id.clone(), c.id.clone(), d.id.clone()]);
    // Within half of 100 000, closest first: C (10 000 off), B (20 000 off); not D.
    assert_eq!(ids(&lists["similar"]), vec![c.id.clone(), b.id.clone()]);
    // Units sold in the category, the product itself left out: B 3, then C and D 1 each.
    assert_eq!(ids(&lists["popular"]), vec![b.id.clone(), c.id.clone(), d.id.clone()]);
    assert_eq!(lists["bought_together"][0]["price_from"], json!({"amount": 120_000, "currency": "IDR"}));

    // The same history gives the same answer.
    let again: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(again, lists);
}

#[tokio::test]
async fn a_buyer_is_offered_what_others_bought_with_their_things_never_what_they_have_or_what_is_gone() {
    let History { app, admin, a, b, c, d, third, .. } = history().await;
    let mine = eventually("the four orders counted", || async {
        let mine: Value =
            app.get("/v1/me/recommendations", Some(&third.access_token)).await.json().await.unwrap();
        (mine["data"].as_array().unwrap().len() == 2).then_some(mine)
    })
    .await;
    // A and C are theirs already; B goes with A more strongly than D does.
    assert_eq!(ids(&mine["data"]), vec![b.id.clone(), d.id.clone()]);
    assert!(!ids(&mine["data"]).contains(&a.id) && !ids(&mine["data"]).contains(&c.id));

    // D sells out: it is no longer offered, to the buyer or on A's page.
    app.stock(&admin, &d.variant, -4).await;
    let mine: Value =
        app.get("/v1/me/recommendations", Some(&third.access_token)).await.json().await.unwrap();
    assert_eq!(ids(&mine["data"]), vec![b.id.clone()]);
    let lists: Value =
        app.get(&format!("/v1/products/{}/recommendations", a.id), None).await.json().await.unwrap();
    assert_eq!(ids(&lists["bought_together"]), vec![b.id, c.id]);
}

#[tokio::test]
async fn a_wholly_refunded_order_no_longer_counts_as_bought_together_or_sold() {
    let History { app, admin, a, b, c, d, third_order, .. } = history().await;
    let path = format!("/v1/products/{}/recommendations", a.id);
    eventually("the four orders counted", || async {
        let lists: Value = app.get(&path, None).await.json().await.unwrap();
        (lists["bought_together"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;

    // {A, C} comes back whole: C was bought with A only in that order, and sold only there.
    let refunded = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/orders/{third_order}/refunds"),
            Some(&admin.access_token),
        )
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({"reason": "sent back"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refunded.status(), StatusCode::CREATED);
    let lists: Value = eventually("the refunded order taken back", || async {
        let lists: Value = app.get(&path, None).await.json().await.unwrap();
        (lists["bought_together"].as_array().unwrap().len() == 2).then_some(lists)
    })
    .await;
    // B: 3/sqrt(3·3) = 1; D: 1/sqrt(3·1) ≈ 0.58.
    assert_eq!(ids(&lists["bought_together"]), vec![b.id.clone(), d.id.clone()]);
    assert_eq!(ids(&lists["popular"]), vec![b.id.clone(), d.id.clone()], "C sold nothing that was kept");
    assert!(
        !ids(&lists["similar"]).is_empty() && ids(&lists["similar"]).contains(&c.id),
        "C is still like A"
    );
}

#[tokio::test]
async fn recommendations_of_an_unknown_product_are_not_found_and_a_stranger_must_sign_in_for_their_own() {
    let app = spawn_app().await;
    let response = app.get("/v1/products/no-such-product/recommendations", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/me/recommendations", None).await.status(), StatusCode::UNAUTHORIZED);
    let newcomer = app.register("new@example.com").await;
    let mine: Value =
        app.get("/v1/me/recommendations", Some(&newcomer.access_token)).await.json().await.unwrap();
    assert_eq!(mine["data"], json!([]));
}
