//! Product search over HTTP: relevance, typos, prefixes, Japanese and Indonesian text, facets,
//! filters, archived products leaving the index, rebuilding it, and suggestions.

use std::time::Duration;

use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{Session, TestApp, assert_error, eventually, spawn_app};

/// A small shop's catalog built through the admin API.
struct Shop<'a> {
    app: &'a TestApp,
    admin: Session,
    skus: u32,
}

impl<'a> Shop<'a> {
    async fn new(app: &'a TestApp) -> Shop<'a> {
        Shop { app, admin: app.admin().await, skus: 0 }
    }

    fn token(&self) -> Option<&str> {
        Some(self.admin.access_token.as_str())
    }

    async fn category(&self, name: &str) -> String {
        let response = self.app.post("/v1/admin/categories", self.token(), &json!({"name": name})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating category {name}");
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn brand(&self, name: &str) -> String {
        let response = self.app.post("/v1/admin/brands", self.token(), &json!({"name": name})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating brand {name}");
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// An active physical product with one variant at `price` (IDR); returns it as created.
    async fn product(&mut self, name: &str, category: &str, extra: Value) -> Value {
        self.skus += 1;
        let mut body = json!({
            "name": name, "description": "", "kind": "physical", "status": "active",
            "category_id": category,
            "variants": [{"sku": format!("SKU-{}", self.skus), "options": {},
                          "price": {"amount": 10_000, "currency": "IDR"}}],
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = self.app.post("/v1/admin/products", self.token(), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating product {name}");
        response.json().await.unwrap()
    }

    async fn priced(&mut self, name: &str, category: &str, price: i64, extra: Value) -> Value {
        let mut extra = extra;
        extra["variants"] = json!([{"sku": format!("SKU-P{}", self.skus), "options": {},
                                    "price": {"amount": price, "currency": "IDR"}}]);
        self.product(name, category, extra).await
    }
}

async fn search(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/search?{query}"), None).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /v1/search?{query}");
    response.json().await.unwrap()
}

fn names(found: &Value) -> Vec<&str> {
    found["data"].as_array().unwrap().iter().map(|hit| hit["name"].as_str().unwrap()).collect()
}

fn facet(found: &Value, name: &str) -> Vec<(String, u64)> {
    found["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["label"].as_str().unwrap().to_owned(), v["count"].as_u64().unwrap()))
        .collect()
}

fn q(text: &str) -> String {
    format!("q={}", urlencode(text))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn an_exact_name_ranks_above_longer_and_partial_matches() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    shop.product("Beras Putih Premium Organik Pilihan Keluarga", &food, json!({})).await;
    shop.product("Beras Putih", &food, json!({})).await;
    shop.product("Kopiko Candy", &food, json!({})).await;
    shop.product("Kopi", &food, json!({})).await;
    shop.product("Gula Pasir", &food, json!({})).await;
    app.relayed().await;

    let found = search(&app, &q("beras putih")).await;
    assert_eq!(names(&found), ["Beras Putih", "Beras Putih Premium Organik Pilihan Keluarga"]);
    assert_eq!(found["total"], 2);
    assert_eq!(found["data"][0]["highlighted_name"], "<mark>Beras</mark> <mark>Putih</mark>");
    assert!(found["data"][0]["score"].as_f64().unwrap() > found["data"][1]["score"].as_f64().unwrap());

    // While typing, "kopi" also begins "Kopiko", but the word itself ranks first.
    let found = search(&app, &q("kopi")).await;
    assert_eq!(names(&found), ["Kopi", "Kopiko Candy"]);
}

#[tokio::test]
async fn a_typo_in_a_long_word_still_finds_but_short_words_must_be_spelled_right() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    shop.product("Kecap Manis Botol", &food, json!({})).await;
    shop.product("Cokelat Batang", &food, json!({})).await;
    shop.product("Kopi Tubruk", &food, json!({})).await;
    app.relayed().await;

    assert_eq!(names(&search(&app, &q("kecap mains ")).await), ["Kecap Manis Botol"], "a swap");
    assert_eq!(names(&search(&app, &q("coklat ")).await), ["Cokelat Batang"], "a missing letter");
    assert_eq!(names(&search(&app, &q("botoll ")).await), ["Kecap Manis Botol"], "an extra letter");
    assert!(names(&search(&app, &q("kopu ")).await).is_empty(), "four letters forgive no typo");
    assert!(names(&search(&app, &q("cklat ")).await).is_empty(), "two edits are too many");
}

#[tokio::test]
async fn the_word_being_typed_matches_as_a_prefix_until_it_is_finished() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    shop.product("Susu Kental Manis", &food, json!({})).await;
    shop.product("Susu UHT Cokelat", &food, json!({})).await;
    app.relayed().await;

    assert_eq!(names(&search(&app, &q("susu ken")).await), ["Susu Kental Manis"]);
    assert_eq!(search(&app, &q("su")).await["total"], 2);
    assert!(names(&search(&app, &q("susu ken ")).await).is_empty(), "a finished word is a whole word");
}

#[tokio::test]
async fn japanese_is_found_by_ngrams_and_indonesian_and_english_by_words() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let grocery = shop.category("Grocery").await;
    shop.product("北海道牛乳 1L", &grocery, json!({})).await;
    shop.product("宇治抹茶ラテ", &grocery, json!({"description": "香り高い抹茶と牛乳"})).await;
    shop.product("Minyak Goreng Sawit 2L", &grocery, json!({})).await;
    shop.product("Palm Cooking Oil 2L", &grocery, json!({})).await;
    app.relayed().await;

    let found = search(&app, &q("牛乳")).await;
    assert_eq!(names(&found), ["北海道牛乳 1L", "宇治抹茶ラテ"], "a name match outranks a description match");
    assert_eq!(found["data"][0]["highlighted_name"], "北海道<mark>牛乳</mark> 1L");
    assert_eq!(names(&search(&app, &q("抹茶ラテ")).await), ["宇治抹茶ラテ"]);
    assert_eq!(names(&search(&app, &q("北海道")).await), ["北海道牛乳 1L"]);
    assert_eq!(names(&search(&app, &q("茶")).await), ["宇治抹茶ラテ"], "one character is a unigram");
    assert!(names(&search(&app, &q("牛肉")).await).is_empty(), "both characters must be there, together");
    assert_eq!(names(&search(&app, &q("minyak goreng")).await), ["Minyak Goreng Sawit 2L"]);
    assert_eq!(names(&search(&app, &q("cooking oil")).await), ["Palm Cooking Oil 2L"]);
    assert_eq!(search(&app, &q("2l")).await["total"], 2);
}

#[tokio::test]
async fn facets_count_every_match_of_the_query_and_its_filters() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let drinks = shop.category("Minuman").await;
    let boxes = shop.category("Paket").await;
    let sosro = shop.brand("Sosro").await;
    let sariwangi = shop.brand("Sariwangi").await;
    let green = shop.priced("Teh Hijau", &drinks, 15_000, json!({"brand_id": sosro})).await;
    shop.priced("Teh Melati", &drinks, 8_000, json!({"brand_id": sariwangi})).await;
    shop.priced("Teh Celup Isi 100", &boxes, 120_000, json!({"brand_id": sosro})).await;
    shop.priced("Kopi Hitam", &drinks, 9_000, json!({"brand_id": sosro})).await;
    app.stock(&shop.admin, green["variants"][0]["id"].as_str().unwrap(), 5).await;
    app.relayed().await;

    let found = search(&app, &q("teh")).await;
    assert_eq!(found["total"], 3);
    assert_eq!(facet(&found, "category"), [("Minuman".to_owned(), 2), ("Paket".to_owned(), 1)]);
    assert_eq!(facet(&found, "brand"), [("Sosro".to_owned(), 2), ("Sariwangi".to_owned(), 1)]);
    assert_eq!(found["facets"]["brand"][0]["value"], sosro.as_str());
    let prices: Vec<(&str, u64)> = found["facets"]["price"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].as_str().unwrap(), v["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(prices, [("1000-9999", 1), ("10000-99999", 1), ("100000-999999", 1)]);
    assert_eq!(facet(&found, "in_stock"), [("In stock".to_owned(), 1), ("Out of stock".to_owned(), 2)]);

    // With a filter, the counts are of what the filter leaves.
    let found = search(&app, &format!("{}&brand=sosro", q("teh"))).await;
    assert_eq!(found["total"], 2);
    assert_eq!(facet(&found, "category"), [("Minuman".to_owned(), 1), ("Paket".to_owned(), 1)]);
    assert_eq!(facet(&found, "brand"), [("Sosro".to_owned(), 2)]);
}

#[tokio::test]
async fn filters_narrow_by_category_brand_store_price_and_stock_and_follow_changes() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let drinks = shop.category("Minuman").await;
    let tea = {
        let response = app
            .post("/v1/admin/categories", shop.token(), &json!({"name": "Teh", "parent_id": drinks}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    let food = shop.category("Makanan").await;
    let sosro = shop.brand("Sosro").await;
    let seller = app.user_with_role("seller@shop.test", Role::Seller).await;
    let green =
        shop.priced("Teh Hijau", &tea, 15_000, json!({"brand_id": sosro, "seller_id": seller.id})).await;
    shop.priced("Jus Jeruk", &drinks, 12_000, json!({})).await;
    shop.priced("Roti Tawar", &food, 18_000, json!({"brand_id": sosro})).await;
    app.relayed().await;

    let by = |filter: String| {
        let app = &app;
        async move { names(&search(app, &format!("{filter}&sort=price_asc")).await).join(", ") }
    };
    assert_eq!(by("category=minuman".into()).await, "Jus Jeruk, Teh Hijau", "a category and those below it");
    assert_eq!(by(format!("category={tea}")).await, "Teh Hijau");
    assert_eq!(by("brand=sosro".into()).await, "Teh Hijau, Roti Tawar");
    assert_eq!(by(format!("store={}", seller.id)).await, "Teh Hijau");
    assert_eq!(by("price_min=12000&price_max=15000".into()).await, "Jus Jeruk, Teh Hijau");
    assert_eq!(by("category=no-such-category".into()).await, "");
    assert_eq!(by("in_stock=true".into()).await, "");

    // Stock and price changes reach the index through the outbox.
    let variant = green["variants"][0]["id"].as_str().unwrap();
    app.stock(&shop.admin, variant, 3).await;
    let reprice = app
        .patch(
            &format!("/v1/admin/variants/{variant}"),
            shop.token(),
            &json!({"price": {"amount": 5_000, "currency": "IDR"}}),
        )
        .await;
    assert_eq!(reprice.status(), StatusCode::OK);
    app.relayed().await;
    assert_eq!(by("in_stock=true".into()).await, "Teh Hijau");
    assert_eq!(by("price_max=9999".into()).await, "Teh Hijau");
    let found = search(&app, "in_stock=true").await;
    assert_eq!(found["data"][0]["price_from"], json!({"amount": 5_000, "currency": "IDR"}));
    assert_eq!(found["data"][0]["in_stock"], true);
}

#[tokio::test]
async fn an_archived_product_is_gone_once_the_relay_round_carrying_its_event_ends() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    let product = shop.product("Tepung Terigu", &food, json!({})).await;
    app.relayed().await;
    assert_eq!(names(&search(&app, &q("tepung")).await), ["Tepung Terigu"]);

    let id = product["id"].as_str().unwrap();
    let archived =
        app.patch(&format!("/v1/admin/products/{id}"), shop.token(), &json!({"status": "archived"})).await;
    assert_eq!(archived.status(), StatusCode::OK);
    // The round that publishes the archive event has refreshed the index before it publishes.
    eventually("the archive event to be published", || async {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox_events
             WHERE subject_id = $1 AND event_type = 'product.updated' AND published_at IS NOT NULL",
        )
        .bind(id)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        (row.get::<i64, _>("n") == 1).then_some(())
    })
    .await;
    let found = search(&app, &q("tepung")).await;
    assert!(names(&found).is_empty(), "still found: {found}");
    assert_eq!(found["total"], 0);
}

#[tokio::test]
async fn an_empty_index_is_rebuilt_on_start_and_reindex_rebuilds_it_on_demand() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    shop.product("Garam Dapur", &food, json!({})).await;
    let draft = shop.product("Garam Himalaya", &food, json!({"status": "draft"})).await;
    app.relayed().await;
    assert_eq!(names(&search(&app, &q("garam")).await), ["Garam Dapur"]);

    // The test index lives in memory: a restart starts from an empty one.
    let app = app.restart_after(Duration::ZERO).await;
    let admin = app.admin().await;
    eventually("the index to be rebuilt on start", || async {
        (names(&search(&app, &q("garam")).await) == ["Garam Dapur"]).then_some(())
    })
    .await;

    let id = draft["id"].as_str().unwrap();
    let activated = app
        .patch(&format!("/v1/admin/products/{id}"), Some(&admin.access_token), &json!({"status": "active"}))
        .await;
    assert_eq!(activated.status(), StatusCode::OK);
    let response = app.post("/v1/admin/search/reindex", Some(&admin.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["indexed"], 2);
    assert_eq!(search(&app, &q("garam")).await["total"], 2);

    let buyer = app.register("buyer@shop.test").await;
    let refused = app.post("/v1/admin/search/reindex", Some(&buyer.access_token), &json!({})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn suggestions_complete_what_is_typed_with_product_names() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    shop.product("Susu Kental Manis", &food, json!({})).await;
    shop.product("Susu UHT Cokelat", &food, json!({})).await;
    shop.product("Sabun Mandi", &food, json!({})).await;
    app.relayed().await;

    let response = app.get(&format!("/v1/search/suggest?{}", q("susu k")), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["text"], "Susu Kental Manis");
    assert_eq!(body["data"][0]["highlighted"], "<mark>Susu</mark> <mark>Kental</mark> Manis");

    let body: Value = app.get(&format!("/v1/search/suggest?{}", q("s")), None).await.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let body: Value = app.get("/v1/search/suggest?q=", None).await.json().await.unwrap();
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_queries_are_refused() {
    let app = spawn_app().await;
    let mut shop = Shop::new(&app).await;
    let food = shop.category("Sembako").await;
    for i in 0..5 {
        shop.priced(&format!("Mie Instan {i}"), &food, 1_000 + i, json!({})).await;
    }
    app.relayed().await;

    let first = search(&app, &format!("{}&sort=price_asc&limit=3", q("mie"))).await;
    assert_eq!(names(&first), ["Mie Instan 0", "Mie Instan 1", "Mie Instan 2"]);
    assert_eq!(first["total"], 5);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = search(&app, &format!("{}&sort=price_asc&limit=3&cursor={cursor}", q("mie"))).await;
    assert_eq!(names(&second), ["Mie Instan 3", "Mie Instan 4"]);
    assert!(second.get("next_cursor").is_none());

    for bad in [
        "rating_min=6",
        "rating_min=0",
        "price_min=10&price_max=5",
        "price_min=1000000000000001",
        "q=%01",
        "cursor=",
        "limit=0",
        "sort=cheapest",
        "colour=red",
    ] {
        let response = app.get(&format!("/v1/search?{bad}"), None).await;
        let status = response.status();
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status}"
        );
        if bad.starts_with("rating_min") {
            let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert!(body.to_string().contains("rating_min"), "{body}");
        }
    }
}
