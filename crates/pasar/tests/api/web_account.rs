//! The buyer's account pages, password reset and store pages, driven as a browser would; what
//! each form changes is read back through the JSON API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, csrf_of};
use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// A buyer registered through the API and signed in with a browser.
async fn signed_in<'a>(app: &'a TestApp, email: &str) -> (Session, Browser<'a>) {
    let session = app.register(email).await;
    let mut browser = Browser::new(app);
    let response = browser.login(email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "logged in");
    (session, browser)
}

async fn api(app: &TestApp, session: &Session, path: &str) -> Value {
    let response = app.get(path, Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

fn an_address(recipient: &str) -> Value {
    json!({
        "label": "Rumah", "recipient_name": recipient, "phone": "+62 812 3456 7890",
        "line1": "Jl. Braga 1", "city": "Bandung", "postal_code": "40111", "country": "ID",
    })
}

#[tokio::test]
async fn web_account_a_guest_is_sent_to_log_in_and_come_back() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    for path in ["/account", "/account/addresses", "/account/wallet", "/account/sessions"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let next = form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
        assert_eq!(location(&response), format!("/login?next={next}"));
    }
}

#[tokio::test]
async fn web_account_the_account_page_shows_the_user_and_changes_name_and_password() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "akun@shop.test").await;
    let page = browser.page("/account").await;
    for shown in [
        "Test Buyer",
        "akun@shop.test",
        "/account/orders",
        "/account/addresses",
        "/account/wallet",
        "/account/points",
        "/account/notifications",
        "/account/sessions",
    ] {
        assert!(page.contains(shown), "the account page shows {shown}");
    }
    let csrf = csrf_of(&page);

    let renamed = browser.post("/account/name", &[("_csrf", &csrf), ("name", "Sari Dewi")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(&app, &session, "/v1/me").await["name"], "Sari Dewi");
    let empty = browser.post("/account/name", &[("_csrf", &csrf), ("name", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY, "an empty name is refused with the form");

    let wrong = browser
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current", "not my password"),
                ("new", "a new secret 1"),
                ("again", "a new secret 1"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let differ = browser
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a new secret 1"),
                ("again", "a new secret 2"),
            ],
        )
        .await;
    assert_eq!(differ.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.login("akun@shop.test", PASSWORD).await.status(), StatusCode::OK, "unchanged so far");
    let changed = browser
        .post(
            "/account/password",
            &[
                ("_csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a new secret 1"),
                ("again", "a new secret 1"),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.login("akun@shop.test", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("akun@shop.test", "a new secret 1").await.status(), StatusCode::OK);
    assert!(Browser::signed_in(&browser.page("/account").await), "this browser stays signed in");
}

#[tokio::test]
async fn web_account_addresses_are_added_edited_made_default_and_removed() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "alamat@shop.test").await;
    let first = app.post("/v1/me/addresses", Some(&session.access_token), &an_address("Budi")).await;
    let first: Value = first.json().await.unwrap();
    let first = first["id"].as_str().unwrap().to_owned();
    let page = browser.page("/account/addresses").await;
    assert!(page.contains("Budi") && page.contains("Jl. Braga 1"), "the page lists the API's address");
    let csrf = csrf_of(&page);

    let added = browser
        .post(
            "/account/addresses",
            &[
                ("_csrf", &csrf),
                ("recipient_name", "Citra"),
                ("phone", "0812 0000 1111"),
                ("line1", "Jl. Asia Afrika 8"),
                ("city", "Bandung"),
                ("postal_code", "40112"),
                ("country", "id"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let listed = api(&app, &session, "/v1/me/addresses").await;
    let second =
        listed["data"].as_array().unwrap().iter().find(|a| a["recipient_name"] == "Citra").expect("added");
    assert_eq!(second["country"], "ID");
    let second = second["id"].as_str().unwrap().to_owned();

    let bad = browser
        .post("/account/addresses", &[("_csrf", &csrf), ("recipient_name", "X"), ("phone", "12")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "an invalid address is the form again");
    assert_eq!(api(&app, &session, "/v1/me/addresses").await["data"].as_array().unwrap().len(), 2);

    let edit_form = browser.page(&format!("/account/addresses/{second}")).await;
    assert!(edit_form.contains("Jl. Asia Afrika 8"), "the edit form holds the address");
    let edited = browser
        .post(
            &format!("/account/addresses/{second}"),
            &[
                ("_csrf", &csrf),
                ("recipient_name", "Citra"),
                ("phone", "0812 0000 1111"),
                ("line1", "Jl. Asia Afrika 8"),
                ("city", "Jakarta"),
                ("postal_code", "10110"),
                ("country", "ID"),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let address = api(&app, &session, &format!("/v1/me/addresses/{second}")).await;
    assert_eq!(address["city"], "Jakarta");

    let made = browser.post(&format!("/account/addresses/{second}/default"), &[("_csrf", &csrf)]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(&app, &session, &format!("/v1/me/addresses/{second}")).await["is_default"], true);
    assert_eq!(api(&app, &session, &format!("/v1/me/addresses/{first}")).await["is_default"], false);

    let removed = browser.post(&format!("/account/addresses/{first}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let left = api(&app, &session, "/v1/me/addresses").await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    assert_eq!(left["data"][0]["id"], second);
}

#[tokio::test]
async fn web_account_another_users_address_cannot_be_seen_or_touched() {
    let app = spawn_app().await;
    let owner = app.register("owner@shop.test").await;
    let address = app.post("/v1/me/addresses", Some(&owner.access_token), &an_address("Owner")).await;
    let address: Value = address.json().await.unwrap();
    let id = address["id"].as_str().unwrap();
    let (_, mut other) = signed_in(&app, "other@shop.test").await;
    let csrf = other.csrf().await;
    assert_eq!(other.get(&format!("/account/addresses/{id}")).await.status(), StatusCode::NOT_FOUND);
    for action in ["delete", "default"] {
        let response = other.post(&format!("/account/addresses/{id}/{action}"), &[("_csrf", &csrf)]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let replaced = other
        .post(
            &format!("/account/addresses/{id}"),
            &[
                ("_csrf", &csrf),
                ("recipient_name", "Thief"),
                ("phone", "0812 0000 1111"),
                ("line1", "Elsewhere"),
                ("city", "Nowhere"),
                ("postal_code", "1"),
                ("country", "ID"),
            ],
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::NOT_FOUND);
    let kept = api(&app, &owner, &format!("/v1/me/addresses/{id}")).await;
    assert_eq!(kept["recipient_name"], "Owner");
    assert_eq!(api(&app, &owner, "/v1/me/addresses").await["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn web_account_a_post_without_csrf_changes_nothing() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "nocsrf@shop.test").await;
    let address = app.post("/v1/me/addresses", Some(&session.access_token), &an_address("Kept")).await;
    let address: Value = address.json().await.unwrap();
    let id = address["id"].as_str().unwrap();
    let renamed = browser.post("/account/name", &[("name", "Changed")]).await;
    assert_eq!(renamed.status(), StatusCode::FORBIDDEN);
    let removed = browser.post(&format!("/account/addresses/{id}/delete"), &[("_csrf", "forged")]).await;
    assert_eq!(removed.status(), StatusCode::FORBIDDEN);
    assert_eq!(api(&app, &session, "/v1/me").await["name"], "Test Buyer");
    assert_eq!(api(&app, &session, "/v1/me/addresses").await["data"].as_array().unwrap().len(), 1);
}
