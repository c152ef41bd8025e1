//! The seller dashboard's store profile, product images and variants, reviews and payouts,
//! driven as a browser would, each checked against what the JSON API answers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, audited, csrf_of, location};
use crate::helpers::{PASSWORD, Session, TestApp, session_of, spawn_app};
use crate::web_seller::store;

/// How long a store's share is held after delivery.
const HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

/// Sends a file the way a browser without JavaScript does: a multipart form with the CSRF
/// token in its `_csrf` field.
async fn upload(
    browser: &Browser<'_>,
    app: &TestApp,
    path: &str,
    csrf: &str,
    field: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(crate::catalog::TINY_PNG.to_vec())
        .file_name("pixel.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new().text("_csrf", csrf.to_owned()).part(field.to_owned(), part);
    browser
        .client
        .post(app.url(path))
        .header("cookie", browser.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn public_store(app: &TestApp, slug: &str) -> Value {
    let response = app.get(&format!("/v1/stores/{slug}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn product(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/products/{id}"), None).await.json().await.unwrap()
}

/// A buyer's order of one of `variant`, paid, shipped and delivered by the store: the buyer and
/// the order.
async fn delivered_order(app: &TestApp, seller: &Session, variant: &str) -> (Session, Value) {
    let buyer = app.register(&format!("buyer-{}@people.test", uuid::Uuid::now_v7().simple())).await;
    let placed = app.checkout(&buyer.access_token, &[(variant, 1)]).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    let id = placed["order"]["id"].as_str().unwrap().to_owned();
    app.wait_for_order(&buyer.access_token, &id, "paid").await;
    let path = format!("/v1/seller/orders/{id}/status");
    for step in [json!({"status": "shipped", "tracking_number": "JNE-7"}), json!({"status": "delivered"})] {
        let moved = app.post(&path, Some(&seller.access_token), &step).await;
        assert_eq!(moved.status(), StatusCode::OK, "{step}");
    }
    let order = app.get(&format!("/v1/orders/{id}"), Some(&buyer.access_token)).await.json().await.unwrap();
    (buyer, order)
}

#[tokio::test]
async fn a_seller_edits_the_store_profile_and_logo_and_shoppers_see_them_on_the_store_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shop = store(&app, &admin, "Batik Kawung").await;
    let mut seller = Browser::signed_in_as(&app, &shop.email).await;

    let page = seller.page("/seller/store").await;
    assert!(page.contains(&format!("Toko {}", shop.slug)), "the form holds the store's name");
    assert!(page.contains(&format!("href=\"/stores/{}\"", shop.slug)), "it links the public store page");
    let csrf = csrf_of(&page);
    let fields = |name: &'static str| {
        vec![
            ("store_name", name),
            ("description", "Batik tulis, dyed by hand in Solo"),
            ("contact_email", "halo@kawung.test"),
            ("contact_phone", "+62 811 222 333"),
        ]
    };

    let forged = seller.post("/seller/store", &fields("Forged")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a POST without the CSRF token is refused");
    let mut empty = fields("");
    empty.push(("_csrf", &csrf));
    let refused = seller.post("/seller/store", &empty).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "a store needs a name");
    assert_eq!(public_store(&app, &shop.slug).await["store_name"], format!("Toko {}", shop.slug));

    let mut renamed = fields("Kawung Solo");
    renamed.push(("_csrf", &csrf));
    let saved = seller.post("/seller/store", &renamed).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/seller/store?done=saved");
    assert!(seller.page("/seller/store?done=saved").await.contains("Store profile saved."));
    let public = public_store(&app, &shop.slug).await;
    assert_eq!(public["store_name"], "Kawung Solo", "{public}");
    assert_eq!(public["description"], "Batik tulis, dyed by hand in Solo");
    let mine: Value = app.get("/v1/sellers/me", Some(&shop.session.access_token)).await.json().await.unwrap();
    assert_eq!(mine["contact"]["email"], "halo@kawung.test", "{mine}");
    assert_eq!(mine["slug"], shop.slug.as_str(), "the slug stays");

    let forged = upload(&seller, &app, "/seller/store/logo", &"0".repeat(csrf.len()), "logo").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(public_store(&app, &shop.slug).await["logo_url"].is_null(), "no logo yet");
    let uploaded = upload(&seller, &app, "/seller/store/logo", &csrf, "logo").await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&uploaded), "/seller/store?done=logo");
    let logo = app.get(&format!("/v1/stores/{}/logo", shop.slug), None).await;
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(
        logo.bytes().await.unwrap().as_ref(),
        crate::catalog::TINY_PNG.as_slice(),
        "the uploaded bytes are served"
    );
    assert!(seller.page("/seller/store").await.contains(&format!("/v1/stores/{}/logo", shop.slug)));

    // The same change over the JSON API, by the store and by someone who has none.
    let patched = app
        .patch("/v1/sellers/me", Some(&shop.session.access_token), &json!({"description": "From the API"}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["store_name"].as_str(), patched["description"].as_str()),
        (Some("Kawung Solo"), Some("From the API"))
    );
    let buyer = app.register("not-a-store@people.test").await;
    let refused =
        app.patch("/v1/sellers/me", Some(&buyer.access_token), &json!({"description": "Mine"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let unknown =
        app.patch("/v1/sellers/me", Some(&shop.session.access_token), &json!({"slug": "other"})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY, "the slug is not changed here");

    audited(&app, &admin, &shop.session.id, &["seller.updated"]).await;
}

#[tokio::test]
async fn a_seller_adds_and_removes_product_images_and_adds_a_variant_from_the_product_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shop = store(&app, &admin, "Kopi Kintamani").await;
    let other = store(&app, &admin, "Teh Tubruk").await;
    let mut seller = Browser::signed_in_as(&app, &shop.email).await;
    let here = format!("/seller/products/{}", shop.product);
    let csrf = csrf_of(&seller.page(&here).await);

    let uploaded = upload(&seller, &app, &format!("{here}/images"), &csrf, "image").await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&uploaded), format!("{here}?done=image"));
    let media = product(&app, &shop.product).await["media"].clone();
    assert_eq!(media.as_array().unwrap().len(), 1, "the image is on the product: {media}");
    let page = seller.page(&format!("{here}?done=image")).await;
    assert!(page.contains("Image added.") && page.contains(media[0]["url"].as_str().unwrap()));

    // Another store cannot add to or take from this product.
    let mut intruder = Browser::signed_in_as(&app, &other.email).await;
    let their_csrf = intruder.csrf().await;
    let foreign = upload(&intruder, &app, &format!("{here}/images"), &their_csrf, "image").await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let media_id = media[0]["id"].as_str().unwrap();
    let taken = intruder.post(&format!("{here}/images/{media_id}/remove"), &[("_csrf", &their_csrf)]).await;
    assert_eq!(taken.status(), StatusCode::NOT_FOUND);
    assert_eq!(product(&app, &shop.product).await["media"].as_array().unwrap().len(), 1);

    let sku = format!("SLX-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let variant = [
        ("_csrf", csrf.as_str()),
        ("sku", &sku),
        ("options", "size=500g"),
        ("price", "95000"),
        ("weight_grams", "500"),
    ];
    let added = seller.post(&format!("{here}/variants"), &variant).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), format!("{here}?done=variant"));
    let variants = product(&app, &shop.product).await["variants"].clone();
    let new =
        variants.as_array().unwrap().iter().find(|v| v["sku"] == sku.as_str()).expect("the variant is added");
    assert_eq!(
        (new["options"]["size"].as_str(), new["price"]["amount"].as_i64()),
        (Some("500g"), Some(95_000))
    );
    let same_sku = [("_csrf", csrf.as_str()), ("sku", &sku), ("options", "size=1kg"), ("price", "150000")];
    let again = seller.post(&format!("{here}/variants"), &same_sku).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a SKU is used once");
    let bad_options = seller
        .post(
            &format!("{here}/variants"),
            &[("_csrf", csrf.as_str()), ("sku", "SLX-X1"), ("options", "size"), ("price", "1000")],
        )
        .await;
    assert_eq!(bad_options.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(product(&app, &shop.product).await["variants"].as_array().unwrap().len(), 2);

    let removed = seller.post(&format!("{here}/images/{media_id}/remove"), &[("_csrf", &csrf)]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(product(&app, &shop.product).await["media"].as_array().unwrap().is_empty(), "the image is gone");
}

#[tokio::test]
async fn a_seller_replies_once_to_a_buyers_review_and_another_store_cannot() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shop = store(&app, &admin, "Tenun Ikat").await;
    let other = store(&app, &admin, "Gerabah Kasongan").await;
    let (buyer, order) = delivered_order(&app, &shop.session, &shop.variant).await;
    let line = order["lines"][0]["id"].as_str().unwrap();
    let written = app
        .post(
            "/v1/reviews",
            Some(&buyer.access_token),
            &json!({"order_line_id": line, "rating": 4, "text": "Warna indah, sedikit kusut"}),
        )
        .await;
    assert_eq!(written.status(), StatusCode::CREATED);
    let review: Value = written.json().await.unwrap();
    let review_id = review["id"].as_str().unwrap();
    let listed: Value =
        app.get("/v1/seller/reviews", Some(&shop.session.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], review_id, "the store's reviews over the API: {listed}");
    let theirs: Value =
        app.get("/v1/seller/reviews", Some(&other.session.access_token)).await.json().await.unwrap();
    assert!(theirs["data"].as_array().unwrap().is_empty(), "another store's list holds none of it");

    let mut seller = Browser::signed_in_as(&app, &shop.email).await;
    let page = seller.page("/seller/reviews").await;
    assert!(
        page.contains("Warna indah, sedikit kusut") && page.contains("Tenun Ikat"),
        "the review is listed"
    );
    assert!(page.contains(&format!("/seller/reviews/{review_id}/reply")), "with a reply form");
    let csrf = csrf_of(&page);
    let reply = format!("/seller/reviews/{review_id}/reply");

    let mut intruder = Browser::signed_in_as(&app, &other.email).await;
    let their_csrf = intruder.csrf().await;
    let foreign = intruder.post(&reply, &[("_csrf", &their_csrf), ("text", "Not my product")]).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN, "another store cannot reply");
    let empty = seller.post(&reply, &[("_csrf", &csrf), ("text", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown = crate::reviews::reviews_of(&app, &shop.product, "").await;
    assert!(shown["data"][0]["reply"].is_null(), "no reply yet: {shown}");

    let answered =
        seller.post(&reply, &[("_csrf", &csrf), ("text", "Terima kasih, kami perbaiki kemasannya")]).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answered), "/seller/reviews?done=replied");
    let shown = crate::reviews::reviews_of(&app, &shop.product, "").await;
    assert_eq!(shown["data"][0]["reply"]["text"], "Terima kasih, kami perbaiki kemasannya", "{shown}");
    let second = seller.post(&reply, &[("_csrf", &csrf), ("text", "Once more")]).await;
    assert_eq!(second.status(), StatusCode::CONFLICT, "a review takes one reply, as the API says");
    assert!(second.text().await.unwrap().contains("answered already"));
    let shown = crate::reviews::reviews_of(&app, &shop.product, "").await;
    assert_eq!(shown["data"][0]["reply"]["text"], "Terima kasih, kami perbaiki kemasannya");
    let page = seller.page("/seller/reviews?done=replied").await;
    assert!(page.contains("Reply posted.") && !page.contains(&format!("action=\"{reply}\"")));

    audited(&app, &admin, &shop.session.id, &["review.replied"]).await;
}

#[tokio::test]
async fn the_payouts_page_shows_the_balance_and_pays_out_what_is_available() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shop = store(&app, &admin, "Anyaman Pandan").await;
    delivered_order(&app, &shop.session, &shop.variant).await;

    let mut seller = Browser::signed_in_as(&app, &shop.email).await;
    let page = seller.page("/seller/payouts").await;
    assert!(page.contains("Rp 72,000"), "held after delivery: the sale less 10% commission");
    assert!(!page.contains("action=\"/seller/payouts\""), "nothing to pay out yet");

    app.clock.advance(HOLD);
    assert_eq!(app.state.payables.release_due().await.unwrap(), 1);
    let session = session_of(app.login(&shop.email, PASSWORD).await.json().await.unwrap());
    let mut seller = Browser::signed_in_as(&app, &shop.email).await;
    let page = seller.page("/seller/payouts").await;
    assert!(page.contains("action=\"/seller/payouts\""), "the payout form shows once money is available");
    assert!(page.contains("••••7890"), "to the store's payout account");
    let csrf = csrf_of(&page);

    let too_much = seller.post("/seller/payouts", &[("_csrf", &csrf), ("amount", "72001")]).await;
    assert_eq!(too_much.status(), StatusCode::CONFLICT);
    let requested = seller.post("/seller/payouts", &[("_csrf", &csrf), ("amount", "")]).await;
    assert_eq!(requested.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&requested), "/seller/payouts?done=requested");
    let payouts: Value =
        app.get("/v1/seller/payouts", Some(&session.access_token)).await.json().await.unwrap();
    assert_eq!(payouts["data"].as_array().unwrap().len(), 1, "{payouts}");
    assert_eq!(payouts["data"][0]["amount"]["amount"], 72_000, "everything available");
    let balance: Value =
        app.get("/v1/seller/balance", Some(&session.access_token)).await.json().await.unwrap();
    assert_eq!(
        (balance["available"]["amount"].as_i64(), balance["in_transit"]["amount"].as_i64()),
        (Some(0), Some(72_000))
    );

    let nothing = seller.post("/seller/payouts", &[("_csrf", &csrf), ("amount", "")]).await;
    assert_eq!(nothing.status(), StatusCode::UNPROCESSABLE_ENTITY, "nothing is left to pay out");
    let page = seller.page("/seller/payouts?done=requested").await;
    assert!(page.contains("Payout requested") && page.contains("Processing"), "the payout is listed");
}

#[tokio::test]
async fn a_buyer_and_a_suspended_store_are_refused_the_new_seller_actions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shop = store(&app, &admin, "Wayang Kulit").await;
    let (_, order) = delivered_order(&app, &shop.session, &shop.variant).await;
    let line = order["lines"][0]["id"].as_str().unwrap().to_owned();
    let buyer_email = format!("plain-{}@people.test", uuid::Uuid::now_v7().simple());
    app.register(&buyer_email).await;

    let mut buyer = Browser::signed_in_as(&app, &buyer_email).await;
    let csrf = buyer.csrf().await;
    for path in ["/seller/store", "/seller/reviews", "/seller/payouts"] {
        let answer = buyer.get(path).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&answer), "/seller/apply", "{path}");
    }
    let posts = [
        ("/seller/store".to_owned(), vec![("store_name", "Mine")]),
        ("/seller/payouts".to_owned(), vec![("amount", "")]),
        (format!("/seller/reviews/{line}/reply"), vec![("text", "Hi")]),
        (format!("/seller/products/{}/variants", shop.product), vec![("sku", "X-1"), ("price", "1")]),
    ];
    for (path, mut form) in posts {
        form.push(("_csrf", &csrf));
        assert_eq!(buyer.post(&path, &form).await.status(), StatusCode::FORBIDDEN, "{path}");
    }

    let mut seller = Browser::signed_in_as(&app, &shop.email).await;
    let csrf = csrf_of(&seller.page("/seller/store").await);
    let suspended =
        crate::sellers::decide(&app, &admin, &shop.id, "suspend", Some(json!({"reason": "Audit"}))).await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert!(
        seller.page("/seller/store").await.contains("suspended"),
        "a suspended store still reads its profile"
    );
    let renamed = seller
        .post(
            "/seller/store",
            &[
                ("_csrf", &csrf),
                ("store_name", "Renamed"),
                ("description", "x"),
                ("contact_email", "a@b.test"),
                ("contact_phone", "+62 811 222 333"),
            ],
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::FORBIDDEN, "a suspended store changes nothing");
    let logo = upload(&seller, &app, "/seller/store/logo", &csrf, "logo").await;
    assert_eq!(logo.status(), StatusCode::FORBIDDEN);
    let mine: Value = app.get("/v1/sellers/me", Some(&shop.session.access_token)).await.json().await.unwrap();
    assert_eq!(mine["store_name"], format!("Toko {}", shop.slug));
    assert!(mine["logo_url"].is_null());
}
