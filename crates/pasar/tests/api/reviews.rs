//! Reviews and ratings over HTTP: only the buyer of a delivered line reviews it, once; the
//! product's rating and histogram stay exact through creates, edits and hides (on the product
//! page and in search); the 30-day edit window; the seller's one reply; audited moderation;
//! images.

use std::time::Duration;

use pasar::identity::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, assert_error, eventually, session_of, spawn_app};

/// A 1×1 PNG, complete with its checksums.
const TINY_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

async fn json_of(response: Response, status: StatusCode) -> Value {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "status of {url}");
    response.json().await.unwrap()
}

/// An active physical product sold by `seller` (the shop itself when None), with stock;
/// returns its id and its variant's.
pub async fn product(app: &TestApp, admin: &Session, seller: Option<&str>) -> (String, String) {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Kopi {suffix}")})).await;
    let category = json_of(category, StatusCode::CREATED).await;
    let body = json!({
        "name": format!("Kopi Toraja {}", &suffix[24..]), "description": "Biji kopi", "kind": "physical",
        "status": "active", "category_id": category["id"], "seller_id": seller,
        "variants": [{"sku": format!("KOPI-{}", &suffix[20..]), "options": {},
                      "price": {"amount": 50_000, "currency": "IDR"}}],
    });
    let created = json_of(app.post("/v1/admin/products", token, &body).await, StatusCode::CREATED).await;
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 50).await;
    (created["id"].as_str().unwrap().to_owned(), variant)
}

/// `buyer` buys one of `variant` and pays; returns the order (paid, not yet shipped).
pub async fn paid_order(app: &TestApp, buyer: &Session, variant: &str) -> Value {
    let placed = json_of(app.checkout(&buyer.access_token, &[(variant, 1)]).await, StatusCode::CREATED).await;
    let order_id = placed["order"]["id"].as_str().unwrap();
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    app.wait_for_order(&buyer.access_token, order_id, "paid").await
}

/// The admin moves a paid physical order through processing and shipping to delivered.
async fn deliver(app: &TestApp, admin: &Session, order: &Value) {
    let path = format!("/v1/admin/orders/{}/status", order["id"].as_str().unwrap());
    let token = Some(admin.access_token.as_str());
    for step in [
        json!({"status": "processing"}),
        json!({"status": "shipped", "tracking_number": "JNE1"}),
        json!({"status": "delivered"}),
    ] {
        assert_eq!(app.post(&path, token, &step).await.status(), StatusCode::OK, "{step}");
    }
}

/// A new buyer who bought `variant` and received it; returns the buyer and the line's id.
pub async fn delivered_buyer(
    app: &TestApp,
    admin: &Session,
    variant: &str,
    email: &str,
) -> (Session, String) {
    let buyer = app.register(email).await;
    let order = paid_order(app, &buyer, variant).await;
    deliver(app, admin, &order).await;
    let line = order["lines"][0]["id"].as_str().unwrap().to_owned();
    (buyer, line)
}

pub async fn review(app: &TestApp, buyer: &Session, line: &str, rating: i64, text: &str) -> Response {
    app.post(
        "/v1/reviews",
        Some(&buyer.access_token),
        &json!({"order_line_id": line, "rating": rating, "text": text}),
    )
    .await
}

pub async fn reviews_of(app: &TestApp, product: &str, query: &str) -> Value {
    json_of(app.get(&format!("/v1/products/{product}/reviews?{query}"), None).await, StatusCode::OK).await
}

async fn product_rating(app: &TestApp, product: &str) -> Value {
    json_of(app.get(&format!("/v1/products/{product}"), None).await, StatusCode::OK).await["rating"].clone()
}

/// The product's id among the search hits for `rating_min`, waiting for the index to say
/// `listed`.
async fn listed_with_rating_min(app: &TestApp, product: &str, stars: u64, listed: bool) -> Value {
    eventually(&format!("{product} listed={listed} for rating_min={stars}"), || async {
        let page: Value =
            app.get(&format!("/v1/search?rating_min={stars}"), None).await.json().await.unwrap();
        let found = page["data"].as_array().unwrap().iter().any(|hit| hit["id"] == product);
        (found == listed).then_some(page)
    })
    .await
}

#[tokio::test]
async fn a_buyer_reviews_a_delivered_line_once_and_the_product_shows_its_rating() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let (buyer, line) = delivered_buyer(&app, &admin, &variant, "ana@example.com").await;

    let created =
        json_of(review(&app, &buyer, &line, 4, "  Harum dan segar.\nMantap!  ").await, StatusCode::CREATED)
            .await;
    assert!(created["id"].as_str().unwrap().starts_with("rev_"));
    assert_eq!(created["product_id"], product_id.as_str());
    assert_eq!(created["order_line_id"], line.as_str());
    assert_eq!(created["rating"], 4);
    assert_eq!(created["text"], "Harum dan segar.\nMantap!");
    assert_eq!(created["author"], json!({"name": "Test Buyer"}));
    assert_eq!(created["hidden"], false);
    assert_eq!(created["reply"], Value::Null);

    let again = review(&app, &buyer, &line, 5, "once more").await;
    assert_error(again, StatusCode::CONFLICT, "already_reviewed").await;

    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 4.0, "count": 1}));
    let listing = reviews_of(&app, &product_id, "").await;
    assert_eq!(listing["rating"], json!({"average": 4.0, "count": 1}));
    assert_eq!(listing["histogram"], json!({"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}));
    assert_eq!(listing["data"].as_array().unwrap().len(), 1);
    let text = listing.to_string();
    assert!(!text.contains("ana@example.com") && !text.contains(&buyer.id), "no email or user id: {text}");

    // The event is in the outbox, and so reaches the audit log.
    let token = admin.access_token.clone();
    let entries = eventually("the review.created audit entry", || async {
        let page: Value = app
            .get(
                &format!("/v1/admin/audit?action=review.created&entity={}", created["id"].as_str().unwrap()),
                Some(&token),
            )
            .await
            .json()
            .await
            .unwrap();
        page["data"].as_array().filter(|d| !d.is_empty()).cloned()
    })
    .await;
    assert_eq!(entries[0]["actor"], buyer.id.as_str());
}

#[tokio::test]
async fn only_the_buyer_of_a_delivered_line_may_review_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, variant) = product(&app, &admin, None).await;
    let (_, delivered_line) = delivered_buyer(&app, &admin, &variant, "ana@example.com").await;

    let stranger = app.register("budi@example.com").await;
    let not_theirs = review(&app, &stranger, &delivered_line, 5, "").await;
    assert_error(not_theirs, StatusCode::FORBIDDEN, "not_a_verified_buyer").await;

    let waiting = app.register("citra@example.com").await;
    let order = paid_order(&app, &waiting, &variant).await;
    let undelivered = order["lines"][0]["id"].as_str().unwrap();
    assert_error(
        review(&app, &waiting, undelivered, 5, "").await,
        StatusCode::FORBIDDEN,
        "not_a_verified_buyer",
    )
    .await;

    let unknown = review(&app, &waiting, "oln_0192f5a3c1e27d3a9b4c5d6e7f809112", 5, "").await;
    assert_error(unknown, StatusCode::FORBIDDEN, "not_a_verified_buyer").await;

    for bad in [0, 6] {
        assert_error(
            review(&app, &waiting, undelivered, bad, "").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let anonymous =
        app.post("/v1/reviews", None, &json!({"order_line_id": delivered_line, "rating": 5})).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Once delivered, the same buyer may.
    deliver(&app, &admin, &order).await;
    assert_eq!(review(&app, &waiting, undelivered, 5, "").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_rating_and_histogram_stay_exact_through_creates_an_edit_a_hide_and_an_unhide() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let mut reviews = Vec::new();
    for (i, stars) in [5, 4, 1].into_iter().enumerate() {
        let (buyer, line) = delivered_buyer(&app, &admin, &variant, &format!("buyer{i}@example.com")).await;
        let created = json_of(review(&app, &buyer, &line, stars, "").await, StatusCode::CREATED).await;
        reviews.push((buyer, created["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 3.33, "count": 3}));
    let listing = reviews_of(&app, &product_id, "").await;
    assert_eq!(listing["histogram"], json!({"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}));
    listed_with_rating_min(&app, &product_id, 3, true).await;
    listed_with_rating_min(&app, &product_id, 4, false).await;

    // The one-star review becomes three stars: (5 + 4 + 3) / 3 = 4.
    let (author, one_star) = &reviews[2];
    let edited = app
        .patch(&format!("/v1/reviews/{one_star}"), Some(&author.access_token), &json!({"rating": 3}))
        .await;
    assert_eq!(json_of(edited, StatusCode::OK).await["rating"], 3);
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 4.0, "count": 3}));
    assert_eq!(
        reviews_of(&app, &product_id, "").await["histogram"],
        json!({"1": 0, "2": 0, "3": 1, "4": 1, "5": 1})
    );
    let page = listed_with_rating_min(&app, &product_id, 4, true).await;
    let hit =
        page["data"].as_array().unwrap().iter().find(|h| h["id"] == product_id.as_str()).unwrap().clone();
    assert_eq!(hit["rating"], json!({"average": 4.0, "count": 3}));
    assert!(
        page["facets"]["rating"].as_array().unwrap().iter().any(|f| f["value"] == "4" && f["count"] == 1)
    );

    // Hiding the five-star review leaves (4 + 3) / 2 = 3.5, and it leaves the listing.
    let five_star = &reviews[0].1;
    let hide = |id: &str, what: &str| format!("/v1/admin/reviews/{id}/{what}");
    let token = Some(admin.access_token.as_str());
    let hidden = app.post(&hide(five_star, "hide"), token, &json!({"reason": "off-topic advertising"})).await;
    assert_eq!(json_of(hidden, StatusCode::OK).await["hidden"], true);
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 3.5, "count": 2}));
    let listing = reviews_of(&app, &product_id, "").await;
    assert_eq!(listing["histogram"], json!({"1": 0, "2": 0, "3": 1, "4": 1, "5": 0}));
    assert!(listing["data"].as_array().unwrap().iter().all(|r| r["id"] != five_star.as_str()));
    listed_with_rating_min(&app, &product_id, 4, false).await;

    let again = app.post(&hide(five_star, "hide"), token, &json!({"reason": "twice"})).await;
    assert_error(again, StatusCode::CONFLICT, "already_hidden").await;
    let by_buyer =
        app.post(&hide(five_star, "hide"), Some(&reviews[1].0.access_token), &json!({"reason": "x"})).await;
    assert_error(by_buyer, StatusCode::FORBIDDEN, "forbidden").await;

    let shown = app.post(&hide(five_star, "unhide"), token, &json!({"reason": "appeal upheld"})).await;
    assert_eq!(json_of(shown, StatusCode::OK).await["hidden"], false);
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 4.0, "count": 3}));
    listed_with_rating_min(&app, &product_id, 4, true).await;
    let not_hidden = app.post(&hide(five_star, "unhide"), token, &json!({"reason": "again"})).await;
    assert_error(not_hidden, StatusCode::CONFLICT, "not_hidden").await;

    // Both decisions are in the audit log, by the admin, with the reason.
    let audited = eventually("the moderation audit entries", || async {
        let page: Value =
            app.get(&format!("/v1/admin/audit?entity={five_star}"), token).await.json().await.unwrap();
        let actions: Vec<Value> = page["data"].as_array().unwrap().clone();
        (actions
            .iter()
            .filter(|e| e["action"] == "review.hidden" || e["action"] == "review.unhidden")
            .count()
            == 2)
            .then_some(actions)
    })
    .await;
    let hidden_entry = audited.iter().find(|e| e["action"] == "review.hidden").unwrap();
    assert_eq!(hidden_entry["actor"], admin.id.as_str());
    assert_eq!(hidden_entry["before"]["hidden"], false);
    assert_eq!(hidden_entry["after"]["hidden"], true);
    assert_eq!(hidden_entry["after"]["hidden_reason"], "off-topic advertising");

    // Sorted by stars, one review a page: 5, 4, 3, and the cursor walks them.
    let mut stars = Vec::new();
    let mut query = "sort=highest&limit=1".to_owned();
    loop {
        let page = reviews_of(&app, &product_id, &query).await;
        stars.extend(page["data"].as_array().unwrap().iter().map(|r| r["rating"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("sort=highest&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(stars, [5, 4, 3]);
    let lowest = reviews_of(&app, &product_id, "sort=lowest").await;
    let lowest: Vec<i64> =
        lowest["data"].as_array().unwrap().iter().map(|r| r["rating"].as_i64().unwrap()).collect();
    assert_eq!(lowest, [3, 4, 5]);
}

#[tokio::test]
async fn reviews_written_at_the_same_moment_all_count_in_the_rating() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let mut buyers = Vec::new();
    for i in 0..6 {
        buyers.push(delivered_buyer(&app, &admin, &variant, &format!("racer{i}@example.com")).await);
    }
    let stars = [5, 4, 4, 3, 2, 1];
    let racing = buyers.iter().zip(stars).map(|((buyer, line), stars)| review(&app, buyer, line, stars, ""));
    for response in futures::future::join_all(racing).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    // 19 stars over 6 reviews: 3.1666… shown as 3.17, none lost to a race.
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 3.17, "count": 6}));
    let listing = reviews_of(&app, &product_id, "").await;
    assert_eq!(listing["histogram"], json!({"1": 1, "2": 1, "3": 1, "4": 2, "5": 1}));
}

#[tokio::test]
async fn a_review_is_edited_by_its_author_only_and_only_for_thirty_days() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let (buyer, line) = delivered_buyer(&app, &admin, &variant, "ana@example.com").await;
    let created = json_of(review(&app, &buyer, &line, 2, "Pahit").await, StatusCode::CREATED).await;
    let path = format!("/v1/reviews/{}", created["id"].as_str().unwrap());

    let stranger = app.register("budi@example.com").await;
    let foreign = app.patch(&path, Some(&stranger.access_token), &json!({"rating": 1})).await;
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found").await;

    app.clock.advance(Duration::from_secs(29 * 24 * 3600));
    let buyer = session_of(app.login("ana@example.com", PASSWORD).await.json().await.unwrap());
    let edited =
        app.patch(&path, Some(&buyer.access_token), &json!({"text": "Pahit tapi enak", "rating": 3})).await;
    let edited = json_of(edited, StatusCode::OK).await;
    assert_eq!((edited["rating"].as_i64(), edited["text"].as_str()), (Some(3), Some("Pahit tapi enak")));
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 3.0, "count": 1}));

    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let buyer = session_of(app.login("ana@example.com", PASSWORD).await.json().await.unwrap());
    let late = app.patch(&path, Some(&buyer.access_token), &json!({"rating": 5})).await;
    assert_error(late, StatusCode::CONFLICT, "edit_window_closed").await;
    assert_eq!(product_rating(&app, &product_id).await, json!({"average": 3.0, "count": 1}));
}

#[tokio::test]
async fn the_seller_replies_once_and_no_one_else_may() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let seller = app.user_with_role("toko-kopi@example.com", Role::Seller).await;
    let rival = app.user_with_role("toko-teh@example.com", Role::Seller).await;
    let (_, variant) = product(&app, &admin, Some(&seller.id)).await;
    let (buyer, line) = delivered_buyer(&app, &admin, &variant, "ana@example.com").await;
    let created = json_of(review(&app, &buyer, &line, 3, "Biasa saja").await, StatusCode::CREATED).await;
    let path = format!("/v1/reviews/{}/reply", created["id"].as_str().unwrap());
    let body = json!({"text": "Terima kasih, kami perbaiki."});

    // Another store, the buyer and even an admin are refused: a seller's product is the
    // seller's to answer for.
    for (who, session) in [("rival", &rival), ("buyer", &buyer), ("admin", &admin)] {
        let refused = app.post(&path, Some(&session.access_token), &body).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{who}");
        assert_error(refused, StatusCode::FORBIDDEN, "not_the_seller").await;
    }
    let replied = json_of(app.post(&path, Some(&seller.access_token), &body).await, StatusCode::OK).await;
    assert_eq!(replied["reply"]["text"], "Terima kasih, kami perbaiki.");
    let twice = app.post(&path, Some(&seller.access_token), &json!({"text": "Lagi"})).await;
    assert_error(twice, StatusCode::CONFLICT, "already_replied").await;

    // The shop's own product: admins answer.
    let (_, own_variant) = product(&app, &admin, None).await;
    let (buyer, line) = delivered_buyer(&app, &admin, &own_variant, "budi@example.com").await;
    let created = json_of(review(&app, &buyer, &line, 5, "").await, StatusCode::CREATED).await;
    let path = format!("/v1/reviews/{}/reply", created["id"].as_str().unwrap());
    assert_error(
        app.post(&path, Some(&seller.access_token), &body).await,
        StatusCode::FORBIDDEN,
        "not_the_seller",
    )
    .await;
    assert_eq!(app.post(&path, Some(&admin.access_token), &body).await.status(), StatusCode::OK);

    // The store's rating counts the seller's products' reviews only.
    let rating = app.state.reviews.store_rating(seller.id.parse().unwrap()).await.unwrap();
    assert_eq!((rating.average, rating.count), (3.0, 1));
}

async fn upload(app: &TestApp, session: &Session, content_type: &str, bytes: Vec<u8>) -> Response {
    app.request(Method::POST, "/v1/reviews/images", Some(&session.access_token))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn a_review_shows_up_to_five_images_its_author_uploaded() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let (buyer, line) = delivered_buyer(&app, &admin, &variant, "ana@example.com").await;

    let mut images = Vec::new();
    for _ in 0..6 {
        let image =
            json_of(upload(&app, &buyer, "image/png", TINY_PNG.to_vec()).await, StatusCode::CREATED).await;
        assert!(image["url"].as_str().unwrap().starts_with("/media/reviews/med_"));
        images.push(image);
    }
    let not_an_image = upload(&app, &buyer, "image/png", b"<svg/>".to_vec()).await;
    assert_error(not_an_image, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let ids: Vec<&Value> = images.iter().map(|i| &i["id"]).collect();
    let body = |ids: &[&Value]| json!({"order_line_id": line, "rating": 5, "images": ids});
    let six = app.post("/v1/reviews", Some(&buyer.access_token), &body(&ids)).await;
    assert_error(six, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Someone else's upload cannot be put on this review.
    let stranger = app.register("budi@example.com").await;
    let theirs =
        json_of(upload(&app, &stranger, "image/png", TINY_PNG.to_vec()).await, StatusCode::CREATED).await;
    let foreign = app.post("/v1/reviews", Some(&buyer.access_token), &body(&[ids[0], &theirs["id"]])).await;
    assert_error(foreign, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let created = json_of(
        app.post("/v1/reviews", Some(&buyer.access_token), &body(&ids[..5])).await,
        StatusCode::CREATED,
    )
    .await;
    let shown: Vec<&Value> = created["images"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert_eq!(shown, ids[..5], "the images in the order given");
    let served = app.get(created["images"][0]["url"].as_str().unwrap(), None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), TINY_PNG);

    // A second, photo-less review: `with_photos` puts the one with images first.
    let (other, other_line) = delivered_buyer(&app, &admin, &variant, "citra@example.com").await;
    assert_eq!(review(&app, &other, &other_line, 4, "").await.status(), StatusCode::CREATED);
    let newest = reviews_of(&app, &product_id, "").await;
    assert_eq!(newest["data"][0]["images"], json!([]));
    let with_photos = reviews_of(&app, &product_id, "sort=with_photos").await;
    assert_eq!(with_photos["data"][0]["id"], created["id"]);
    assert_eq!(with_photos["data"][0]["images"].as_array().unwrap().len(), 5);
}
