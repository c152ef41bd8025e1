use std::collections::HashSet;

use pasar::identity::Role;
use pasar::ids::VariantId;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

/// A 1×1 PNG, complete with its checksums.
pub const TINY_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

async fn admin(app: &TestApp) -> String {
    app.user_with_role("admin@example.com", Role::Admin).await.access_token
}

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.request(Method::PATCH, path, Some(token)).json(body).send().await.expect("request sent")
}

async fn created(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn category(app: &TestApp, token: &str, name: &str, parent: Option<&str>) -> String {
    let body = created(
        app.post("/v1/admin/categories", Some(token), &json!({"name": name, "parent_id": parent})).await,
    )
    .await;
    body["id"].as_str().unwrap().to_owned()
}

async fn brand(app: &TestApp, token: &str, name: &str) -> String {
    let body = created(app.post("/v1/admin/brands", Some(token), &json!({"name": name})).await).await;
    body["id"].as_str().unwrap().to_owned()
}

fn rupiah(amount: i64) -> Value {
    json!({"amount": amount, "currency": "IDR"})
}

/// A product with one variant per (SKU, price).
fn product_body(name: &str, category_id: &str, status: &str, variants: &[(&str, i64)]) -> Value {
    let variants: Vec<Value> = variants
        .iter()
        .map(|(sku, price)| json!({"sku": sku, "options": {"size": sku}, "price": rupiah(*price)}))
        .collect();
    json!({
        "name": name, "description": "", "kind": "physical", "status": status,
        "category_id": category_id, "variants": variants,
    })
}

async fn create_product(app: &TestApp, token: &str, body: &Value) -> Value {
    created(app.post("/v1/admin/products", Some(token), body).await).await
}

async fn public_list(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/products{query}"), None).await;
    assert_eq!(response.status(), StatusCode::OK, "listing {query}");
    response.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

async fn product_count(app: &TestApp, token: &str) -> usize {
    let page: Value = app.get("/v1/admin/products?limit=100", Some(token)).await.json().await.unwrap();
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn an_admin_creates_a_product_with_its_variants() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let clothing = category(&app, &token, "Clothing", None).await;
    let brand_id = brand(&app, &token, "Nusantara Wear").await;
    let body = json!({
        "name": "Kaos Polos", "description": "Soft cotton.\nMade in Bandung.", "kind": "physical",
        "status": "active", "category_id": clothing, "brand_id": brand_id,
        "variants": [
            {"sku": "KAOS-M", "options": {"size": "M"}, "price": rupiah(150_000), "reseller_price": rupiah(120_000)},
            {"sku": "KAOS-L", "options": {"size": "L"}, "price": rupiah(140_000), "weight_grams": 200},
        ],
    });
    let product = create_product(&app, &token, &body).await;

    let id = product["id"].as_str().unwrap();
    assert!(id.starts_with("prd_"));
    assert_eq!(product["slug"], "kaos-polos");
    assert_eq!(product["name"], "Kaos Polos");
    assert_eq!(product["description"], "Soft cotton.\nMade in Bandung.");
    assert_eq!(product["kind"], "physical");
    assert_eq!(product["status"], "active");
    assert_eq!(product["category_id"], clothing.as_str());
    assert_eq!(product["brand_id"], brand_id.as_str());
    assert_eq!(product["seller_id"], Value::Null);
    assert_eq!(product["price_from"], rupiah(140_000), "the cheapest variant's price");
    assert_eq!(product["media"], json!([]));
    let variants = product["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert!(variants.iter().all(|v| v["id"].as_str().unwrap().starts_with("var_")));
    assert_eq!(variants[0]["sku"], "KAOS-M");
    assert_eq!(variants[0]["options"], json!({"size": "M"}));
    assert_eq!(variants[0]["price"], rupiah(150_000));
    assert_eq!(variants[0]["reseller_price"], rupiah(120_000));
    assert_eq!(variants[1]["reseller_price"], Value::Null);
    assert_eq!(variants[1]["weight_grams"], 200);

    let fetched: Value =
        app.get(&format!("/v1/admin/products/{id}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(fetched, product);
}

#[tokio::test]
async fn a_taken_name_gets_a_numbered_slug_and_a_taken_chosen_slug_is_refused() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let first =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("K-1", 1000)])).await;
    let second =
        create_product(&app, &token, &product_body("Kaos!", &shirts, "active", &[("K-2", 1000)])).await;
    assert_eq!(first["slug"], "kaos");
    assert_eq!(second["slug"], "kaos-2");

    let mut chosen = product_body("Another", &shirts, "active", &[("K-3", 1000)]);
    chosen["slug"] = json!("kaos");
    assert_error(
        app.post("/v1/admin/products", Some(&token), &chosen).await,
        StatusCode::CONFLICT,
        "slug_taken",
    )
    .await;
    chosen["slug"] = json!("Not A Slug");
    assert_error(
        app.post("/v1/admin/products", Some(&token), &chosen).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(product_count(&app, &token).await, 2);
}

#[tokio::test]
async fn a_duplicate_sku_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS-M", 1000)])).await;

    let reused = product_body("Kemeja", &shirts, "active", &[("KEMEJA-M", 1000), ("KAOS-M", 2000)]);
    let body = assert_error(
        app.post("/v1/admin/products", Some(&token), &reused).await,
        StatusCode::CONFLICT,
        "sku_taken",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("KAOS-M"));

    let twice = product_body("Kemeja", &shirts, "active", &[("KEMEJA-M", 1000), ("KEMEJA-M", 2000)]);
    let body = assert_error(
        app.post("/v1/admin/products", Some(&token), &twice).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "variants[1].sku");

    assert_eq!(product_count(&app, &token).await, 1, "neither request created a product");
    let kemeja: Value = app.get("/v1/admin/products?q=kemeja", Some(&token)).await.json().await.unwrap();
    assert_eq!(kemeja["data"], json!([]));
}

#[tokio::test]
async fn unknown_fields_and_invalid_values_are_refused_by_name() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let valid = product_body("Kaos", &shirts, "active", &[("KAOS-M", 1000)]);

    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut b = valid.clone();
                b["price"] = json!(5);
                b
            },
            "price",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"][0]["colour"] = json!("red");
                b
            },
            "variants[0].colour",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"][0]["sku"] = json!("has space");
                b
            },
            "variants[0].sku",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"][0]["price"] = rupiah(0);
                b
            },
            "variants[0].price",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"][0]["price"]["currency"] = json!("XXX");
                b
            },
            "variants[0].price.currency",
        ),
        (
            {
                let mut b = valid.clone();
                b["kind"] = json!("service");
                b
            },
            "kind",
        ),
        (
            {
                let mut b = valid.clone();
                b["status"] = json!("deleted");
                b
            },
            "status",
        ),
        (
            {
                let mut b = valid.clone();
                b["name"] = json!("   ");
                b
            },
            "name",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"] = json!([]);
                b
            },
            "variants",
        ),
        (
            {
                let mut b = valid.clone();
                b["category_id"] = json!("cat_0192f5a3c1e27d3a9b4c5d6e7f809112");
                b
            },
            "category_id",
        ),
        (
            {
                let mut b = valid.clone();
                let options: serde_json::Map<String, Value> =
                    (0..11).map(|i| (format!("o{i}"), json!("v"))).collect();
                b["variants"][0]["options"] = Value::Object(options);
                b
            },
            "variants[0].options",
        ),
        (
            {
                let mut b = product_body("Kaos", &shirts, "active", &[("KAOS-M", 1000), ("KAOS-L", 1000)]);
                b["variants"][1]["price"] = json!({"amount": 10, "currency": "USD"});
                b
            },
            "variants[1].price.currency",
        ),
        (
            {
                let mut b = valid.clone();
                b["variants"][0]["reseller_price"] = json!({"amount": 10, "currency": "USD"});
                b
            },
            "variants[0].reseller_price.currency",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/v1/admin/products", Some(&token), &body).await;
        let error = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let named = error["error"]["details"]["fields"][0]["field"].as_str().unwrap().to_owned();
        assert!(named.starts_with(field), "expected {field}, got {named} in {error}");
    }
    assert_eq!(product_count(&app, &token).await, 0);

    let extra = json!({"name": "Kaos", "colour": "red"});
    assert_error(
        app.post("/v1/admin/categories", Some(&token), &extra).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn only_admins_manage_the_catalog() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let body = product_body("Kaos", &shirts, "active", &[("KAOS-M", 1000)]);
    let buyer = app.register("buyer@example.com").await;
    let seller = app.user_with_role("seller@example.com", Role::Seller).await;

    assert_error(
        app.post("/v1/admin/products", None, &body).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    for caller in [&buyer.access_token, &seller.access_token] {
        assert_error(
            app.post("/v1/admin/products", Some(caller), &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_error(app.get("/v1/admin/products", Some(caller)).await, StatusCode::FORBIDDEN, "forbidden")
            .await;
        let new_category = json!({"name": "Hats"});
        assert_error(
            app.post("/v1/admin/categories", Some(caller), &new_category).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_error(app.get("/v1/admin/categories", None).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    assert_eq!(product_count(&app, &token).await, 0);
}

#[tokio::test]
async fn shoppers_see_only_active_products() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let active =
        create_product(&app, &token, &product_body("On Sale", &shirts, "active", &[("A-1", 1000)])).await;
    let draft =
        create_product(&app, &token, &product_body("Coming Soon", &shirts, "draft", &[("D-1", 1000)])).await;
    let archived =
        create_product(&app, &token, &product_body("Gone", &shirts, "archived", &[("G-1", 1000)])).await;

    assert_eq!(names(&public_list(&app, "").await), ["On Sale"]);
    for hidden in [&draft, &archived] {
        for key in [&hidden["id"], &hidden["slug"]] {
            let response = app.get(&format!("/v1/products/{}", key.as_str().unwrap()), None).await;
            assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    let by_id: Value = app
        .get(&format!("/v1/products/{}", active["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    let by_slug: Value = app.get("/v1/products/on-sale", None).await.json().await.unwrap();
    let shop_fields = |mut product: Value| {
        assert_eq!(product["variants"][0]["availability"]["status"], "out_of_stock", "never stocked");
        product["variants"][0].as_object_mut().unwrap().remove("availability");
        product
    };
    assert_eq!(shop_fields(by_id), active);
    assert_eq!(shop_fields(by_slug), active);
    assert_error(app.get("/v1/products/no-such-product", None).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_error(app.get("/v1/products/Not%20A%20Slug", None).await, StatusCode::NOT_FOUND, "not_found")
        .await;

    let everything: Value = app.get("/v1/admin/products", Some(&token)).await.json().await.unwrap();
    assert_eq!(everything["data"].as_array().unwrap().len(), 3);
    let drafts: Value = app.get("/v1/admin/products?status=draft", Some(&token)).await.json().await.unwrap();
    assert_eq!(names(&drafts), ["Coming Soon"]);
    let response = app.get("/v1/products?status=draft", None).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn listings_filter_by_category_and_its_subcategories_brand_price_and_name() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let fashion = category(&app, &token, "Fashion", None).await;
    let shirts = category(&app, &token, "Shirts", Some(&fashion)).await;
    let batik = category(&app, &token, "Batik", Some(&shirts)).await;
    let kitchen = category(&app, &token, "Kitchen", None).await;
    let wear = brand(&app, &token, "Nusantara Wear").await;
    let mut scarf = product_body("Scarf", &fashion, "active", &[("SCARF", 50_000)]);
    scarf["brand_id"] = json!(wear);
    create_product(&app, &token, &scarf).await;
    create_product(&app, &token, &product_body("Diskon 50% Kaos", &shirts, "active", &[("KAOS", 100_000)]))
        .await;
    create_product(
        &app,
        &token,
        &product_body("Diskon 500 Kemeja_Batik", &batik, "active", &[("KEMEJA", 300_000)]),
    )
    .await;
    create_product(&app, &token, &product_body("Cobek", &kitchen, "active", &[("COBEK", 95_000)])).await;

    let sorted = |page: Value| {
        let mut names = names(&page);
        names.sort();
        names
    };
    assert_eq!(
        sorted(public_list(&app, &format!("?category={fashion}")).await),
        ["Diskon 50% Kaos", "Diskon 500 Kemeja_Batik", "Scarf"]
    );
    assert_eq!(
        sorted(public_list(&app, &format!("?category={shirts}")).await),
        ["Diskon 50% Kaos", "Diskon 500 Kemeja_Batik"]
    );
    assert_eq!(sorted(public_list(&app, &format!("?category={batik}")).await), ["Diskon 500 Kemeja_Batik"]);
    assert_eq!(sorted(public_list(&app, &format!("?brand={wear}")).await), ["Scarf"]);
    assert_eq!(
        sorted(public_list(&app, "?min_price=90000&max_price=100000").await),
        ["Cobek", "Diskon 50% Kaos"]
    );
    assert_eq!(sorted(public_list(&app, "?min_price=100001").await), ["Diskon 500 Kemeja_Batik"]);
    assert_eq!(sorted(public_list(&app, &format!("?category={fashion}&max_price=60000")).await), ["Scarf"]);
    assert_eq!(
        sorted(public_list(&app, "?q=50%25").await),
        ["Diskon 50% Kaos"],
        "% is a character, not a wildcard"
    );
    assert_eq!(sorted(public_list(&app, "?q=DISKON").await), ["Diskon 50% Kaos", "Diskon 500 Kemeja_Batik"]);
    assert_eq!(
        sorted(public_list(&app, "?q=n_b").await),
        [] as [&str; 0],
        "_ is a character, not a wildcard"
    );
    assert_eq!(sorted(public_list(&app, "?q=a_b").await), ["Diskon 500 Kemeja_Batik"]);

    for bad in ["?min_price=-1", "?min_price=10&max_price=5", "?sort=cheapest", "?limit=0", "?cursor=zzz"] {
        assert_error(
            app.get(&format!("/v1/products{bad}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn listings_take_a_category_or_brand_by_its_slug_as_well_as_its_id() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let fashion = category(&app, &token, "Fashion", None).await;
    let shirts = category(&app, &token, "T-Shirts", Some(&fashion)).await;
    let wear = brand(&app, &token, "Nusantara Wear").await;
    let mut kaos = product_body("Kaos", &shirts, "active", &[("KAOS", 79_000)]);
    kaos["brand_id"] = json!(wear);
    create_product(&app, &token, &kaos).await;
    create_product(&app, &token, &product_body("Scarf", &fashion, "active", &[("SCARF", 50_000)])).await;

    assert_eq!(names(&public_list(&app, "?category=t-shirts").await), ["Kaos"]);
    assert_eq!(names(&public_list(&app, &format!("?category={shirts}")).await), ["Kaos"]);
    let mut in_fashion = names(&public_list(&app, "?category=fashion").await);
    in_fashion.sort();
    assert_eq!(in_fashion, ["Kaos", "Scarf"], "a slug includes the categories below it too");
    assert_eq!(names(&public_list(&app, "?brand=nusantara-wear").await), ["Kaos"]);
    assert_eq!(names(&public_list(&app, &format!("?brand={wear}")).await), ["Kaos"]);
    let staff: Value = app
        .get("/v1/admin/products?category=t-shirts&brand=nusantara-wear", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&staff), ["Kaos"]);

    // A slug no category has matches no product, as an unknown id does; an empty one filters nothing.
    let none: Value = app.get("/v1/products?category=t-shirt", None).await.json().await.unwrap();
    assert_eq!(none["data"], json!([]));
    let all: Value = app.get("/v1/products?category=&brand=", None).await.json().await.unwrap();
    assert!(!all["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn shoppers_see_what_each_variant_has_left_and_a_sale_shows_within_the_cache_ttl() {
    let app = spawn_app_with(|config| config.catalog_cache_ms = 200).await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let physical = app.product(&admin, "physical", &[10_000, 20_000, 30_000]).await;
    app.stock(&admin, &physical[0], 10).await;
    app.stock(&admin, &physical[1], 2).await;
    let threshold = app
        .put(
            &format!("/v1/admin/variants/{}/stock/threshold", physical[1]),
            Some(token),
            &json!({"low_stock_threshold": 5}),
        )
        .await;
    assert_eq!(threshold.status(), StatusCode::OK);
    let digital = app.product(&admin, "digital", &[49_000]).await;
    let keys = app
        .post(
            &format!("/v1/admin/variants/{}/digital-items", digital[0]),
            Some(token),
            &json!({"items": ["KEY-1", "KEY-2", "KEY-3"]}),
        )
        .await;
    assert!(keys.status().is_success(), "adding keys: {}", keys.status());

    let availability = |product: &Value| -> Vec<(String, String, i64)> {
        product["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let a = &v["availability"];
                (
                    v["id"].as_str().unwrap().to_owned(),
                    a["status"].as_str().unwrap().to_owned(),
                    a["available"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let product_of = |variant: &str| {
        let variant = variant.to_owned();
        let app = &app;
        async move {
            let page = public_list(app, "?limit=100").await;
            let listed = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["variants"].as_array().unwrap().iter().any(|v| v["id"] == variant.as_str()))
                .cloned()
                .expect("the product is listed");
            let page: Value = app
                .get(&format!("/v1/products/{}", listed["id"].as_str().unwrap()), None)
                .await
                .json()
                .await
                .unwrap();
            (listed, page)
        }
    };
    let (listed, shirt) = product_of(&physical[0]).await;
    assert_eq!(availability(&listed), availability(&shirt), "the list and the page agree");
    assert_eq!(
        availability(&shirt),
        [
            (physical[0].clone(), "in_stock".to_owned(), 10),
            (physical[1].clone(), "low_stock".to_owned(), 2),
            (physical[2].clone(), "out_of_stock".to_owned(), 0),
        ]
    );
    assert_eq!(
        availability(&product_of(&digital[0]).await.1),
        [(digital[0].clone(), "in_stock".to_owned(), 3)]
    );
    let staff: Value = app
        .get(&format!("/v1/admin/products/{}", shirt["id"].as_str().unwrap()), Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        staff["variants"][0].get("availability").is_none(),
        "admins read stock from the inventory routes"
    );

    // A buyer's unpaid order holds 3 units and a key: the list and the page show what is left
    // once their cached answers are over (each within the TTL).
    let buyer = app.register("buyer@example.com").await;
    let order = app.checkout(&buyer.access_token, &[(&physical[0], 3), (&digital[0], 1)]).await;
    assert_eq!(order.status(), StatusCode::CREATED);
    crate::helpers::eventually("the sale to show", || async {
        let (shirts, shirt) = product_of(&physical[0]).await;
        let (ebooks, ebook) = product_of(&digital[0]).await;
        let left = [&shirts, &shirt, &ebooks, &ebook].map(|product| availability(product)[0].2);
        (left == [7, 7, 2, 2]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_sort_pages_through_every_product_exactly_once() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shop = category(&app, &token, "Shop", None).await;
    let prices = [
        ("delta", 30_000),
        ("alpha", 10_000),
        ("echo", 20_000),
        ("charlie", 20_000),
        ("bravo", 20_000),
        ("golf", 5_000),
        ("foxtrot", 40_000),
    ];
    for (index, (name, price)) in prices.iter().enumerate() {
        create_product(
            &app,
            &token,
            &product_body(name, &shop, "active", &[(&format!("SKU-{index}"), *price)]),
        )
        .await;
    }
    create_product(&app, &token, &product_body("hidden", &shop, "draft", &[("SKU-HIDDEN", 1)])).await;

    for sort in ["newest", "price_asc", "price_desc", "name"] {
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let query = match &cursor {
                Some(cursor) => format!("?sort={sort}&limit=2&cursor={cursor}"),
                None => format!("?sort={sort}&limit=2"),
            };
            let page = public_list(&app, &query).await;
            seen.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let ids: Vec<&str> = seen.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), prices.len(), "{sort}: every active product once");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), prices.len(), "{sort}: no product twice");
        let price_of = |p: &Value| p["price_from"]["amount"].as_i64().unwrap();
        for pair in seen.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
            match sort {
                "newest" => assert!(a_id > b_id, "newest first"),
                "price_asc" => {
                    assert!(price_of(a) < price_of(b) || (price_of(a) == price_of(b) && a_id < b_id))
                }
                "price_desc" => {
                    assert!(price_of(a) > price_of(b) || (price_of(a) == price_of(b) && a_id > b_id))
                }
                _ => assert!(a["name"].as_str().unwrap() < b["name"].as_str().unwrap()),
            }
        }
        if sort == "name" {
            let names: Vec<&str> = seen.iter().map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]);
        }
    }

    let first = public_list(&app, "?sort=price_asc&limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let response = app.get(&format!("/v1/products?sort=name&cursor={cursor}"), None).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn categories_form_a_tree_that_refuses_cycles_and_unknown_parents() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let fashion = category(&app, &token, "Fashion", None).await;
    let shirts = category(&app, &token, "Shirts", Some(&fashion)).await;
    let batik = category(&app, &token, "Batik", Some(&shirts)).await;
    let kitchen = category(&app, &token, "Kitchen", None).await;

    let tree: Value = app.get("/v1/categories", None).await.json().await.unwrap();
    assert_eq!(tree["data"][0]["name"], "Fashion");
    assert_eq!(tree["data"][0]["children"][0]["name"], "Shirts");
    assert_eq!(tree["data"][0]["children"][0]["children"][0]["id"], batik.as_str());
    assert_eq!(tree["data"][1]["name"], "Kitchen");

    for parent in [&batik, &shirts, &fashion] {
        let response =
            patch(&app, &format!("/v1/admin/categories/{fashion}"), &token, &json!({"parent_id": parent}))
                .await;
        let error = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error["error"]["details"]["fields"][0]["field"], "parent_id");
    }
    let unknown = json!({"name": "Hats", "parent_id": "cat_0192f5a3c1e27d3a9b4c5d6e7f809112"});
    assert_error(
        app.post("/v1/admin/categories", Some(&token), &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let moved =
        patch(&app, &format!("/v1/admin/categories/{batik}"), &token, &json!({"parent_id": kitchen})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let top = patch(
        &app,
        &format!("/v1/admin/categories/{shirts}"),
        &token,
        &json!({"parent_id": null, "name": "Tops"}),
    )
    .await;
    let top: Value = top.json().await.unwrap();
    assert_eq!(top["parent_id"], Value::Null);
    assert_eq!(top["name"], "Tops");

    let tree: Value = app.get("/v1/categories", None).await.json().await.unwrap();
    let roots: Vec<&str> =
        tree["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(roots, ["Fashion", "Kitchen", "Tops"]);
    assert_eq!(tree["data"][1]["children"][0]["name"], "Batik");
    let flat: Value = app.get("/v1/admin/categories", Some(&token)).await.json().await.unwrap();
    assert_eq!(flat["data"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_category_with_products_or_subcategories_is_not_deleted() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let fashion = category(&app, &token, "Fashion", None).await;
    let shirts = category(&app, &token, "Shirts", Some(&fashion)).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS", 1000)])).await;

    let path = |id: &str| format!("/v1/admin/categories/{id}");
    assert_error(
        app.delete(&path(&fashion), Some(&token)).await,
        StatusCode::CONFLICT,
        "category_has_children",
    )
    .await;
    assert_error(
        app.delete(&path(&shirts), Some(&token)).await,
        StatusCode::CONFLICT,
        "category_has_products",
    )
    .await;

    let empty = category(&app, &token, "Empty", None).await;
    let moved = patch(
        &app,
        &format!("/v1/admin/products/{}", product["id"].as_str().unwrap()),
        &token,
        &json!({"category_id": empty}),
    )
    .await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(app.delete(&path(&shirts), Some(&token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path(&fashion), Some(&token)).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.delete(&path(&fashion), Some(&token)).await, StatusCode::NOT_FOUND, "not_found").await;
    let tree: Value = app.get("/v1/categories", None).await.json().await.unwrap();
    assert_eq!(tree["data"].as_array().unwrap().len(), 1, "the public tree shows the deletions at once");
}

#[tokio::test]
async fn an_uploaded_image_is_served_back_and_can_be_removed() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS", 1000)])).await;
    let id = product["id"].as_str().unwrap();

    let upload = app
        .request(Method::POST, &format!("/v1/admin/products/{id}/media"), Some(&token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    let media = created(upload).await;
    let media_id = media["id"].as_str().unwrap();
    assert!(media_id.starts_with("med_"));
    assert_eq!(media["content_type"], "image/png");
    assert_eq!(media["size"], TINY_PNG.len());
    let url = media["url"].as_str().unwrap();
    assert_eq!(url, format!("/media/{media_id}.png"));

    let served = app.get(url, None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), TINY_PNG.as_slice());

    let shown: Value = app.get(&format!("/v1/products/{id}"), None).await.json().await.unwrap();
    assert_eq!(shown["media"][0]["url"], url);

    let removed = app.delete(&format!("/v1/admin/products/{id}/media/{media_id}"), Some(&token)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(url, None).await, StatusCode::NOT_FOUND, "not_found").await;
    let shown: Value = app.get(&format!("/v1/products/{id}"), None).await.json().await.unwrap();
    assert_eq!(shown["media"], json!([]));
    let again = app.delete(&format!("/v1/admin/products/{id}/media/{media_id}"), Some(&token)).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;

    // Images may be far larger than the JSON body limit.
    let mut photo = TINY_PNG.to_vec();
    photo.resize(300 * 1024, 0);
    let upload = app
        .request(Method::POST, &format!("/v1/admin/products/{id}/media"), Some(&token))
        .header("content-type", "image/png")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    let large = created(upload).await;
    let served = app.get(large["url"].as_str().unwrap(), None).await;
    assert_eq!(served.bytes().await.unwrap().len(), photo.len());
    assert_error(app.get("/media/..%2Fpasar.db", None).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn uploads_that_are_not_images_or_are_too_large_are_refused() {
    let app = spawn_app_with(|config| config.media_max_bytes = 1024).await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS", 1000)])).await;
    let path = format!("/v1/admin/products/{}/media", product["id"].as_str().unwrap());
    let upload = |content_type: &'static str, body: Vec<u8>| {
        app.request(Method::POST, &path, Some(&token)).header("content-type", content_type).body(body).send()
    };

    let script = upload("image/png", b"<script>alert(1)</script>".to_vec()).await.unwrap();
    assert_error(script, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let mislabelled = upload("image/jpeg", TINY_PNG.to_vec()).await.unwrap();
    assert_error(mislabelled, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let mut large = TINY_PNG.to_vec();
    large.resize(2048, 0);
    let oversized = upload("image/png", large).await.unwrap();
    assert_error(oversized, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let anonymous = app.post_raw(&path, "image/png", TINY_PNG.to_vec()).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let unknown = "/v1/admin/products/prd_0192f5a3c1e27d3a9b4c5d6e7f809112/media";
    let response = app
        .request(Method::POST, unknown, Some(&token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let shown: Value = app
        .get(&format!("/v1/admin/products/{}", product["id"].as_str().unwrap()), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["media"], json!([]));
}

#[tokio::test]
async fn a_change_shows_in_public_reads_at_once() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS", 100_000)])).await;
    let id = product["id"].as_str().unwrap();
    let public = format!("/v1/products/{id}");

    // Read twice so the answers are cached.
    for _ in 0..2 {
        assert_eq!(names(&public_list(&app, "").await), ["Kaos"]);
        let shown: Value = app.get(&public, None).await.json().await.unwrap();
        assert_eq!(shown["name"], "Kaos");
    }
    let renamed =
        patch(&app, &format!("/v1/admin/products/{id}"), &token, &json!({"name": "Kaos Hitam"})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let shown: Value = app.get(&public, None).await.json().await.unwrap();
    assert_eq!(shown["name"], "Kaos Hitam");
    assert_eq!(names(&public_list(&app, "").await), ["Kaos Hitam"]);

    let variant = product["variants"][0]["id"].as_str().unwrap();
    let repriced =
        patch(&app, &format!("/v1/admin/variants/{variant}"), &token, &json!({"price": rupiah(90_000)}))
            .await;
    assert_eq!(repriced.status(), StatusCode::OK);
    let listing = public_list(&app, "").await;
    assert_eq!(listing["data"][0]["price_from"], rupiah(90_000));
    assert_eq!(listing["data"][0]["variants"][0]["price"], rupiah(90_000));

    let hidden =
        patch(&app, &format!("/v1/admin/products/{id}"), &token, &json!({"status": "archived"})).await;
    assert_eq!(hidden.status(), StatusCode::OK);
    assert_error(app.get(&public, None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(public_list(&app, "").await["data"], json!([]));

    let brands: Value = app.get("/v1/brands", None).await.json().await.unwrap();
    assert_eq!(brands["data"], json!([]));
    brand(&app, &token, "Dapur Ibu").await;
    let brands: Value = app.get("/v1/brands", None).await.json().await.unwrap();
    assert_eq!(brands["data"][0]["slug"], "dapur-ibu");
}

#[tokio::test]
async fn variants_are_added_and_changed_within_their_products_rules() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "active", &[("KAOS-M", 100_000)])).await;
    let other =
        create_product(&app, &token, &product_body("Kemeja", &shirts, "active", &[("KEMEJA-M", 200_000)]))
            .await;
    let path = format!("/v1/admin/products/{}/variants", product["id"].as_str().unwrap());

    let dollars =
        json!({"sku": "KAOS-L", "options": {"size": "L"}, "price": {"amount": 500, "currency": "USD"}});
    assert_error(
        app.post(&path, Some(&token), &dollars).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let same_options = json!({"sku": "KAOS-M2", "options": {"size": "KAOS-M"}, "price": rupiah(1)});
    assert_error(
        app.post(&path, Some(&token), &same_options).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let taken = json!({"sku": "KEMEJA-M", "options": {"size": "L"}, "price": rupiah(1)});
    assert_error(app.post(&path, Some(&token), &taken).await, StatusCode::CONFLICT, "sku_taken").await;

    let large = json!({"sku": "KAOS-L", "options": {"size": "L"}, "price": rupiah(80_000), "reseller_price": rupiah(70_000)});
    let variant = created(app.post(&path, Some(&token), &large).await).await;
    assert_eq!(variant["product_id"], product["id"]);
    let shown: Value = app
        .get(&format!("/v1/products/{}", product["id"].as_str().unwrap()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["variants"].as_array().unwrap().len(), 2);
    assert_eq!(shown["price_from"], rupiah(80_000));

    let variant_path = format!("/v1/admin/variants/{}", variant["id"].as_str().unwrap());
    let clash = patch(&app, &variant_path, &token, &json!({"sku": other["variants"][0]["sku"]})).await;
    assert_error(clash, StatusCode::CONFLICT, "sku_taken").await;
    let cleared =
        patch(&app, &variant_path, &token, &json!({"reseller_price": null, "weight_grams": 210})).await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["reseller_price"], Value::Null);
    assert_eq!(cleared["weight_grams"], 210);
    assert_eq!(cleared["sku"], "KAOS-L");
    let unknown = patch(
        &app,
        "/v1/admin/variants/var_0192f5a3c1e27d3a9b4c5d6e7f809112",
        &token,
        &json!({"weight_grams": 1}),
    )
    .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn variants_for_sale_give_resellers_the_reseller_price() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let mut body = product_body("Kaos", &shirts, "active", &[("KAOS-M", 150_000), ("KAOS-L", 160_000)]);
    body["variants"][0]["reseller_price"] = rupiah(120_000);
    let on_sale = create_product(&app, &token, &body).await;
    let draft =
        create_product(&app, &token, &product_body("Soon", &shirts, "draft", &[("SOON", 1000)])).await;
    let variant_id = |product: &Value, index: usize| -> VariantId {
        product["variants"][index]["id"].as_str().unwrap().parse().unwrap()
    };
    let (medium, large, unsellable) =
        (variant_id(&on_sale, 0), variant_id(&on_sale, 1), variant_id(&draft, 0));

    let mut found = app
        .state
        .catalog
        .variants_for_sale(&[medium, unsellable, VariantId::new(), large, medium])
        .await
        .unwrap();
    found.sort_by_key(|v| v.sku.clone());
    let skus: Vec<&str> = found.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["KAOS-L", "KAOS-M"], "unknown and unsellable variants are absent, duplicates once");
    let (large, medium) = (&found[0], &found[1]);
    assert_eq!(medium.product_name, "Kaos");
    assert_eq!(medium.options.get("size").map(String::as_str), Some("KAOS-M"));
    assert_eq!(medium.price_for(Role::Reseller).amount, 120_000);
    assert_eq!(medium.price_for(Role::Customer).amount, 150_000);
    assert_eq!(large.price_for(Role::Reseller).amount, 160_000, "no reseller price: the price");
    assert!(app.state.catalog.variants_for_sale(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_change_writes_an_event_with_the_admin_and_before_and_after() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let token = admin.access_token.clone();
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "draft", &[("KAOS", 1000)])).await;
    let id = product["id"].as_str().unwrap();
    patch(
        &app,
        &format!("/v1/admin/products/{id}"),
        &token,
        &json!({"name": "Kaos Hitam", "status": "active"}),
    )
    .await;
    // A change that changes nothing writes nothing.
    patch(&app, &format!("/v1/admin/products/{id}"), &token, &json!({"name": "Kaos Hitam"})).await;

    let rows =
        sqlx::query("SELECT event_type, actor, payload FROM outbox_events WHERE subject_id = $1 ORDER BY id")
            .bind(id)
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
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "product.created");
    assert_eq!(events[0].2["after"]["variants"][0]["sku"], "KAOS");
    let (kind, actor, payload) = &events[1];
    assert_eq!(kind, "product.updated");
    assert_eq!(actor, &admin.id);
    assert_eq!(payload["before"]["name"], "Kaos");
    assert_eq!(payload["before"]["status"], "draft");
    assert_eq!(payload["after"]["name"], "Kaos Hitam");
    assert_eq!(payload["after"]["status"], "active");

    let categories = sqlx::query("SELECT COUNT(*) FROM outbox_events WHERE event_type = 'category.created'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get::<i64, _>(0);
    assert_eq!(categories, 1);
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_makes_one_product() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let body = product_body("Kaos", &shirts, "active", &[("KAOS", 1000)]);
    let send = || {
        app.request(Method::POST, "/v1/admin/products", Some(&token))
            .header("idempotency-key", "kaos-1")
            .json(&body)
            .send()
    };
    let first = created(send().await.unwrap()).await;
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(product_count(&app, &token).await, 1);
}

#[tokio::test]
async fn the_demo_shop_loads_once_and_is_on_sale() {
    let app = spawn_app().await;
    let first = pasar::demo::load(&app.state).await.unwrap();
    assert_eq!(first.catalog.categories.len(), 3);
    assert_eq!(first.catalog.brands.len(), 2);
    assert_eq!(first.catalog.products.len(), 7);
    assert!(first.catalog.products.iter().all(|p| p.created));
    let statuses: Vec<(&str, &str)> = first.stores.iter().map(|s| (s.slug, s.status.as_str())).collect();
    assert_eq!(statuses, [("batik-sari", "approved"), ("dapur-tini", "approved"), ("kopi-rudi", "pending")]);
    let again = pasar::demo::load(&app.state).await.unwrap();
    assert!(again.accounts.iter().all(|a| !a.created));
    assert!(again.stores.iter().all(|s| !s.created));
    for store in ["batik-sari", "dapur-tini"] {
        let page: Value = app.get(&format!("/v1/stores/{store}"), None).await.json().await.unwrap();
        assert_eq!(page["product_count"], 1, "{store} has its product on sale");
    }
    assert!(again.catalog.categories.iter().chain(&again.catalog.brands).all(|e| !e.created));
    assert!(again.catalog.products.iter().all(|p| !p.created));

    let listing = public_list(&app, "?limit=100").await;
    let products = listing["data"].as_array().unwrap();
    assert_eq!(products.len(), 7, "loading twice made nothing twice");
    let digital: Vec<&Value> = products.iter().filter(|p| p["kind"] == "digital").collect();
    assert_eq!(digital.len(), 1);
    assert_eq!(digital[0]["variants"].as_array().unwrap().len(), 1);
    assert!(products.iter().filter(|p| p["kind"] == "physical").all(|p| {
        let count = p["variants"].as_array().unwrap().len();
        (2..=3).contains(&count) && p["price_from"]["currency"] == "IDR"
    }));
    let tree: Value = app.get("/v1/categories", None).await.json().await.unwrap();
    assert_eq!(tree["data"][0]["slug"], "fashion");
    assert_eq!(tree["data"][0]["children"][0]["slug"], "t-shirts");

    // Stocked once: every physical variant has its units, the digital one its keys.
    assert_eq!(first.stocked, 15);
    assert_eq!(again.stocked, 0);
    for product in &first.catalog.products {
        for variant in product.variants.iter().map(|v| &v.id) {
            let level = app.state.inventory.level(*variant).await.unwrap();
            let expected = match product.kind.as_str() {
                "digital" => pasar::demo::DEMO_KEYS as i64,
                _ => pasar::demo::DEMO_UNITS,
            };
            assert_eq!(level.available, expected, "{}", product.slug);
        }
    }
}

#[tokio::test]
async fn the_catalog_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/v1/admin/products",
        "/v1/admin/products/{id}",
        "/v1/admin/products/{id}/variants",
        "/v1/admin/products/{id}/media",
        "/v1/admin/products/{id}/media/{media_id}",
        "/v1/admin/variants/{id}",
        "/v1/admin/categories",
        "/v1/admin/categories/{id}",
        "/v1/admin/brands",
        "/v1/products",
        "/v1/products/{id_or_slug}",
        "/v1/categories",
        "/v1/brands",
        "/media/{key}",
    ] {
        assert!(paths.contains_key(route), "{route} is missing from /openapi.json");
    }
    assert!(doc["components"]["schemas"]["CategoryNode"].is_object());
}

#[tokio::test]
async fn images_are_served_outside_the_api_rate_limit() {
    use pasar::catalog::{Actor, CategoryInput, NewProduct};

    let app = spawn_app_with(|config| config.rate_limit_per_minute = 3).await;
    let catalog = &app.state.catalog;
    let input: CategoryInput = serde_json::from_value(json!({"name": "Shirts"})).unwrap();
    let shirts = catalog.create_category(Actor::System, input).await.unwrap();
    let body = product_body("Kaos", &shirts.id.to_string(), "active", &[("KAOS", 1000)]);
    let product = catalog
        .create_product(Actor::System, serde_json::from_value::<NewProduct>(body).unwrap())
        .await
        .unwrap();
    let media = catalog
        .add_media(Actor::System, product.id, Some("image/png"), TINY_PNG.to_vec().into())
        .await
        .unwrap();

    for _ in 0..6 {
        assert_eq!(app.get(&media.url, None).await.status(), StatusCode::OK);
    }
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.get("/v1/products", None).await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the API itself is still limited: {statuses:?}"
    );
}

#[tokio::test]
async fn concurrent_edits_of_different_fields_both_land() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let shirts = category(&app, &token, "Shirts", None).await;
    let product =
        create_product(&app, &token, &product_body("Kaos", &shirts, "draft", &[("KAOS", 1000)])).await;
    let path = format!("/v1/admin/products/{}", product["id"].as_str().unwrap());
    for round in 0..5 {
        let name = json!({"name": format!("Kaos {round}")});
        let description = json!({"description": format!("Round {round}")});
        let (a, b) =
            tokio::join!(patch(&app, &path, &token, &name), patch(&app, &path, &token, &description));
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let shown: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
        assert_eq!(shown["name"], format!("Kaos {round}"), "round {round}");
        assert_eq!(shown["description"], format!("Round {round}"), "round {round}");
    }
}

#[tokio::test]
async fn a_shop_that_hides_its_counts_shows_only_whether_a_variant_is_in_stock_low_or_out() {
    let app = spawn_app_with(|config| config.stock_show_counts = false).await;
    let admin = app.admin().await;
    let variants = app.product(&admin, "physical", &[10_000, 20_000, 30_000]).await;
    app.stock(&admin, &variants[0], 10).await;
    app.stock(&admin, &variants[1], 2).await;
    let threshold = app
        .put(
            &format!("/v1/admin/variants/{}/stock/threshold", variants[1]),
            Some(&admin.access_token),
            &json!({"low_stock_threshold": 5}),
        )
        .await;
    assert_eq!(threshold.status(), StatusCode::OK);
    let digital = app.product(&admin, "digital", &[49_000]).await;
    let keys = app
        .post(
            &format!("/v1/admin/variants/{}/digital-items", digital[0]),
            Some(&admin.access_token),
            &json!({"items": ["KEY-1"]}),
        )
        .await;
    assert!(keys.status().is_success());

    let page: Value = app.get("/v1/products?limit=100", None).await.json().await.unwrap();
    let mut shown: Vec<(String, Value)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["variants"].as_array().unwrap().iter())
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v["availability"].clone()))
        .collect();
    shown.sort_by_key(|(id, _)| [&variants[..], &digital[..]].concat().iter().position(|v| v == id));
    let statuses: Vec<&Value> = shown.iter().map(|(_, a)| a).collect();
    assert_eq!(
        statuses,
        [
            &json!({"status": "in_stock"}),
            &json!({"status": "low_stock"}),
            &json!({"status": "out_of_stock"}),
            &json!({"status": "in_stock"}),
        ],
        "no counts, only statuses"
    );
    // Admins still read the counts from the inventory.
    assert_eq!(app.stock_level(&admin, &variants[0]).await["available"], 10);
}
