//! A deleted account reaches past identity: once `user.deleted` has gone through the relay, the
//! person's reviews no longer name them, their store is closed for good with its profile, logo
//! and documents erased, and what they wrote in chat is emptied; a redelivered event changes
//! nothing more.

use std::path::PathBuf;

use axum::body::Bytes;
use pasar::events::Subscriber;
use pasar::sellers::SellersError;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{PASSWORD, Session, TestApp, assert_error, eventually, spawn_app};
use crate::reviews::{delivered_buyer, paid_order, product, review, reviews_of};
use crate::sellers::{add_to_cart, category, decide, listed, own_product, searched, seller};

/// A 1×1 PNG, complete with its checksums.
const TINY_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "status of {url}");
    response.json().await.unwrap()
}

async fn page(app: &TestApp, who: &Session, path: &str) -> Value {
    json_of(app.get(path, Some(&who.access_token)).await, StatusCode::OK).await
}

async fn delete_account(app: &TestApp, who: &Session) -> reqwest::Response {
    app.request(Method::DELETE, "/v1/me", Some(&who.access_token))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

/// The `user.deleted` event of `user`, as the relay hands it to subscribers.
async fn deletion_event(app: &TestApp, user: &str) -> pasar::events::Event {
    let id: String =
        sqlx::query("SELECT id FROM outbox_events WHERE event_type = 'user.deleted' AND subject_id = $1")
            .bind(user)
            .fetch_one(app.state.db.reader())
            .await
            .unwrap()
            .get(0);
    pasar::events::find(app.state.db.reader(), id.parse().unwrap()).await.unwrap().unwrap().0
}

async fn events_named(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM outbox_events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get(0)
}

/// Every file in the media store under `folder` (its root when empty).
fn files_under(app: &TestApp, folder: &str) -> Vec<PathBuf> {
    fn walk(dir: PathBuf, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(app.state.config.media_dir().join(folder), &mut found);
    found
}

/// The media store's file for an object served at `url` (its key is the last segment).
fn media_file(app: &TestApp, url: &str) -> PathBuf {
    app.state.config.media_dir().join(url.rsplit('/').next().unwrap())
}

#[tokio::test]
async fn a_deleted_buyers_reviews_keep_rating_and_text_but_no_longer_name_them() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (product_id, variant) = product(&app, &admin, None).await;
    let (rina, rina_line) = delivered_buyer(&app, &admin, &variant, "rina@people.test").await;
    let (budi, budi_line) = delivered_buyer(&app, &admin, &variant, "budi@people.test").await;
    let rinas = json_of(review(&app, &rina, &rina_line, 2, "Terlalu pahit").await, StatusCode::CREATED).await;
    json_of(review(&app, &budi, &budi_line, 5, "Harum sekali").await, StatusCode::CREATED).await;
    let by_id = |listing: &Value, id: &Value| {
        listing["data"].as_array().unwrap().iter().find(|r| &r["id"] == id).cloned().unwrap()
    };
    let before = reviews_of(&app, &product_id, "").await;
    assert_eq!(by_id(&before, &rinas["id"])["author"], json!({"name": "Test Buyer"}));

    assert_eq!(delete_account(&app, &rina).await.status(), StatusCode::NO_CONTENT);
    let listing = eventually("the review's author erased", || async {
        let listing = reviews_of(&app, &product_id, "").await;
        (by_id(&listing, &rinas["id"])["author"]["name"] == "Deleted user").then_some(listing)
    })
    .await;
    let erased = by_id(&listing, &rinas["id"]);
    assert_eq!((&erased["rating"], &erased["text"]), (&json!(2), &json!("Terlalu pahit")));
    assert_eq!(listing["rating"], before["rating"], "the product's rating stands on both reviews still");
    let others = listing["data"].as_array().unwrap().iter().filter(|r| r["id"] != rinas["id"]);
    assert!(others.into_iter().all(|r| r["author"]["name"] == "Test Buyer"), "{listing}");

    // Deleting twice: the first deletion ended every session.
    assert_error(delete_account(&app, &rina).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let event = deletion_event(&app, &rina.id).await;
    app.state.reviews.deliver(&event).await.unwrap();
    assert_eq!(app.state.reviews.forget_author(rina.id.parse().unwrap()).await.unwrap(), 0);
    assert_eq!(reviews_of(&app, &product_id, "").await["data"], listing["data"]);
}

#[tokio::test]
async fn a_deleted_sellers_store_is_closed_for_good_and_its_profile_and_files_erased() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (eka, store) = seller(&app, &admin, "toko-eka").await;
    let upload = |method: Method, path: &'static str, content_type: &'static str, body: Vec<u8>| {
        app.request(method, path, Some(&eka.access_token))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let document =
        upload(Method::POST, "/v1/sellers/me/documents", "application/pdf", b"%PDF-1.4\nNIB".to_vec());
    let document = json_of(document.await.unwrap(), StatusCode::CREATED).await;
    let document_url = document["url"].as_str().unwrap().to_owned();
    let logo = json_of(
        upload(Method::PUT, "/v1/sellers/me/logo", "image/png", TINY_PNG.to_vec()).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(files_under(&app, &format!("sellers/{store}")).len(), 2, "the logo and the document");
    let shirts = category(&app, &admin).await;
    let product = own_product(&app, &eka, &shirts, "Kebaya Encim", 10).await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    let buyer = app.register("buyer@people.test").await;
    paid_order(&app, &buyer, &variant).await;
    eventually("the product in search", || async {
        searched(&app, "kebaya").await.contains(&"Kebaya Encim".to_owned()).then_some(())
    })
    .await;
    let payables =
        json_of(app.get("/v1/admin/payables", Some(&admin.access_token)).await, StatusCode::OK).await;
    assert!(payables["stores"].as_array().unwrap().iter().any(|s| s["seller_id"] == eka.id.as_str()));
    let product_events = events_named(&app, "product.updated").await;

    assert_eq!(delete_account(&app, &eka).await.status(), StatusCode::NO_CONTENT);
    let admin_path = format!("/v1/admin/sellers/{store}");
    let closed = eventually("the store closed", || async {
        let found: Value = app.get(&admin_path, Some(&admin.access_token)).await.json().await.unwrap();
        (found["status"] == "closed").then_some(found)
    })
    .await;
    assert_eq!(closed["store_name"], "Closed store");
    assert_eq!(closed["slug"], format!("closed-{store}"));
    assert_eq!(closed["description"], "");
    for erased in ["contact", "payout_account", "logo_url"] {
        assert_eq!(closed[erased], Value::Null, "{erased}: {closed}");
    }
    assert_eq!(closed["documents"], json!([]));
    let text = closed.to_string();
    assert!(
        !text.contains("toko-eka") && !text.contains("Budi Santoso") && !text.contains("Batik"),
        "{text}"
    );

    // Gone from the shop as a suspended store's products are.
    assert_error(app.get("/v1/stores/toko-eka", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let placeholder = format!("/v1/stores/closed-{store}");
    assert_error(app.get(&placeholder, None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert!(listed(&app, "store=toko-eka").await.is_empty());
    assert!(!listed(&app, "").await.contains(&"Kebaya Encim".to_owned()));
    let page = app.get(&format!("/v1/products/{product_id}"), None).await;
    assert_error(page, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(add_to_cart(&app, &buyer, &variant).await, StatusCode::CONFLICT, "store_suspended").await;
    eventually("the product gone from search", || async {
        (!searched(&app, "kebaya").await.contains(&"Kebaya Encim".to_owned())).then_some(())
    })
    .await;
    // Its logo and documents are gone, rows and files.
    let served = app.get(logo["logo_url"].as_str().unwrap(), None).await;
    assert_error(served, StatusCode::NOT_FOUND, "not_found").await;
    let read = app.get(&document_url, Some(&admin.access_token)).await;
    assert_error(read, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(files_under(&app, &format!("sellers/{store}")), Vec::<PathBuf>::new());
    // An upload that was on its way when the account went finds the store closed, and leaves
    // no file behind.
    let owner: pasar::ids::UserId = eka.id.parse().unwrap();
    let late_logo = app.state.sellers.set_logo(owner, Some("image/png"), Bytes::from_static(&TINY_PNG)).await;
    assert!(matches!(late_logo, Err(SellersError::Closed)), "{late_logo:?}");
    let late_document = app
        .state
        .sellers
        .add_document(owner, Some("application/pdf"), Bytes::from_static(b"%PDF-1.4\nNPWP"))
        .await;
    assert!(matches!(late_document, Err(SellersError::Closed)), "{late_document:?}");
    assert_eq!(files_under(&app, &format!("sellers/{store}")), Vec::<PathBuf>::new());
    // What it is owed stays for the books.
    let after = json_of(app.get("/v1/admin/payables", Some(&admin.access_token)).await, StatusCode::OK).await;
    assert_eq!(after, payables);

    // No admin decision brings it back.
    for (decision, body) in [
        ("approve", None),
        ("reinstate", None),
        ("suspend", Some(json!({"reason": "x"}))),
        ("reject", Some(json!({"reason": "x"}))),
    ] {
        let refused = decide(&app, &admin, &store, decision, body).await;
        let envelope = assert_error(refused, StatusCode::CONFLICT, "invalid_transition").await;
        assert_eq!(envelope["error"]["details"]["status"], "closed", "{decision}");
    }
    let commission = app.patch(&admin_path, Some(&admin.access_token), &json!({"commission_bps": 500})).await;
    assert_error(commission, StatusCode::CONFLICT, "store_closed").await;

    // A redelivered deletion changes nothing more.
    let product_events_after = events_named(&app, "product.updated").await;
    assert!(product_events_after > product_events, "the products were hidden with their events");
    let event = deletion_event(&app, &eka.id).await;
    app.state.sellers.deliver(&event).await.unwrap();
    let again = json_of(app.get(&admin_path, Some(&admin.access_token)).await, StatusCode::OK).await;
    assert_eq!(again, closed);
    assert_eq!(events_named(&app, "seller.closed").await, 1);
    assert_eq!(events_named(&app, "product.updated").await, product_events_after);

    // The slug is free for a new store.
    let newcomer = app.register("new@people.test").await;
    let mut application = json!({
        "store_name": "Toko Eka Baru", "slug": "toko-eka", "description": "Batik",
        "contact": {"email": "new@stores.test", "phone": "+62 812 3456 7890"},
        "payout_account": {"bank_code": "BCA", "account_number": "1234567890", "account_name": "Eka"},
    });
    let applied = app.post("/v1/sellers", Some(&newcomer.access_token), &application).await;
    assert_eq!(applied.status(), StatusCode::CREATED);
    application["slug"] = json!(format!("closed-{store}"));
    let another = app.register("another@people.test").await;
    let placeholder_taken = app.post("/v1/sellers", Some(&another.access_token), &application).await;
    assert_error(placeholder_taken, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn a_deleted_buyers_chat_messages_lose_their_text_and_images_for_the_other_side() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (owner, store) = seller(&app, &admin, "toko-chat").await;
    let buyer = app.register("chatty@people.test").await;
    let started = app
        .post(
            "/v1/chat/conversations",
            Some(&buyer.access_token),
            &json!({"store": store, "text": "Masih ada?"}),
        )
        .await;
    let conversation =
        json_of(started, StatusCode::CREATED).await["conversation"]["id"].as_str().unwrap().to_owned();
    let messages = format!("/v1/chat/conversations/{conversation}/messages");
    let answer = app.post(&messages, Some(&owner.access_token), &json!({"text": "Masih, kak"})).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let uploaded = app
        .request(Method::POST, "/v1/chat/images", Some(&buyer.access_token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    let image = json_of(uploaded, StatusCode::CREATED).await;
    let image_url = image["url"].as_str().unwrap().to_owned();
    let with_image = json!({"text": "Yang ini", "image": image["id"]});
    let sent = app.post(&messages, Some(&buyer.access_token), &with_image).await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    assert!(media_file(&app, &image_url).exists());
    let seen = |page: &Value| -> Vec<(String, String, bool)> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let who = m["side"].as_str().unwrap().to_owned();
                (who, m["text"].as_str().unwrap().to_owned(), m.get("image").is_some_and(|i| !i.is_null()))
            })
            .collect()
    };
    let before = page(&app, &owner, &messages).await;
    assert_eq!(
        seen(&before),
        [
            ("buyer".to_owned(), "Masih ada?".to_owned(), false),
            ("store".to_owned(), "Masih, kak".to_owned(), false),
            ("buyer".to_owned(), "Yang ini".to_owned(), true),
        ]
    );

    assert_eq!(delete_account(&app, &buyer).await.status(), StatusCode::NO_CONTENT);
    let after = eventually("the buyer's messages erased", || async {
        let now = page(&app, &owner, &messages).await;
        seen(&now).iter().all(|(side, text, _)| side != "buyer" || text.is_empty()).then_some(now)
    })
    .await;
    assert_eq!(
        seen(&after),
        [
            ("buyer".to_owned(), String::new(), false),
            ("store".to_owned(), "Masih, kak".to_owned(), false),
            ("buyer".to_owned(), String::new(), false),
        ]
    );
    assert_error(app.get(&image_url, Some(&owner.access_token)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert!(!media_file(&app, &image_url).exists(), "the image's file is deleted");

    let event = deletion_event(&app, &buyer.id).await;
    app.state.chat.deliver(&event).await.unwrap();
    assert_eq!(page(&app, &owner, &messages).await, after);
}
