//! The buyer's account pages, password reset and store pages, driven as a browser would; what
//! each form changes is read back through the JSON API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, csrf_of, location};
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

#[tokio::test]
async fn web_account_the_wallet_page_shows_the_balance_starts_a_deposit_and_a_withdrawal() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (session, mut browser) = signed_in(&app, "dompet@shop.test").await;
    crate::wallet::fund(&app, &admin, &session, 250_000).await;
    let page = browser.page("/account/wallet").await;
    assert!(page.contains("Rp 250.000"), "the page shows the API's balance");
    assert!(page.contains("value=\"sandbox\""), "the deposit form offers the sandbox with its fee");
    let csrf = csrf_of(&page);

    let started = browser
        .post(
            "/account/wallet/deposits",
            &[("_csrf", &csrf), ("amount", "100000"), ("payment_method", "sandbox")],
        )
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let to = location(&started).to_owned();
    let deposits = api(&app, &session, "/v1/wallet/deposits").await;
    let deposit = &deposits["data"][0];
    assert_eq!(to, format!("/pay/{}", deposit["id"].as_str().unwrap()), "the buyer is sent to pay it");
    assert_eq!(deposit["amount"]["amount"], 100_000);
    let refused = browser
        .post("/account/wallet/deposits", &[("_csrf", &csrf), ("amount", "0"), ("payment_method", "sandbox")])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api(&app, &session, "/v1/wallet/deposits").await["data"].as_array().unwrap().len(), 1);

    let too_much = browser
        .post(
            "/account/wallet/withdrawals",
            &[
                ("_csrf", &csrf),
                ("amount", "999999"),
                ("bank_code", "BCA"),
                ("account_number", "1234567890"),
                ("account_name", "Dewi"),
            ],
        )
        .await;
    assert_eq!(too_much.status(), StatusCode::CONFLICT, "more than the balance is refused");
    let withdrawn = browser
        .post(
            "/account/wallet/withdrawals",
            &[
                ("_csrf", &csrf),
                ("amount", "40000"),
                ("bank_code", "BCA"),
                ("account_number", "1234567890"),
                ("account_name", "Dewi"),
            ],
        )
        .await;
    assert_eq!(withdrawn.status(), StatusCode::SEE_OTHER);
    let summary = api(&app, &session, "/v1/wallet").await;
    assert_eq!(
        (summary["balance"]["amount"].as_i64(), summary["pending"]["amount"].as_i64()),
        (Some(210_000), Some(40_000))
    );
    let page = browser.page("/account/wallet").await;
    assert!(page.contains("BCA ••••7890"), "the withdrawal is listed with its masked account");
    assert!(page.contains("Rp 210.000"));
}

#[tokio::test]
async fn web_account_the_points_page_shows_the_points() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "poin@shop.test").await;
    let page = browser.page("/account/points").await;
    let points = api(&app, &session, "/v1/wallet").await["points"].as_i64().unwrap();
    assert!(page.contains(&format!("<strong>{points}</strong>")), "the page shows the API's points");
}

#[tokio::test]
async fn web_account_notification_preferences_are_saved_through_the_api() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "notif@shop.test").await;
    let page = browser.page("/account/notifications").await;
    assert!(page.contains("name=\"category_marketing\""));
    let csrf = csrf_of(&page);
    // Marketing stays on, reviews and messages are turned off.
    let saved =
        browser.post("/account/notifications", &[("_csrf", &csrf), ("category_marketing", "on")]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let preferences = api(&app, &session, "/v1/me/notification-preferences").await;
    let enabled = |name: &str| {
        preferences["categories"].as_array().unwrap().iter().find(|c| c["category"] == name).unwrap()["enabled"].clone()
    };
    assert_eq!(enabled("marketing"), true);
    assert_eq!(enabled("reviews"), false);
    assert_eq!(enabled("messages"), false);
    assert_eq!(enabled("orders"), true, "a transactional category stays on");
}

#[tokio::test]
async fn web_account_sessions_are_listed_and_ended_but_not_another_users() {
    let app = spawn_app().await;
    let (session, mut browser) = signed_in(&app, "sesi@shop.test").await;
    let other_api = app.login("sesi@shop.test", PASSWORD).await;
    assert_eq!(other_api.status(), StatusCode::OK);
    let listed = api(&app, &session, "/v1/me/sessions").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "two API logins and the browser");
    let page = browser.page("/account/sessions").await;
    for s in listed["data"].as_array().unwrap() {
        assert!(page.contains(s["id"].as_str().unwrap()), "every session is listed");
    }
    assert_eq!(page.matches("me-current").count(), 1, "this one is marked");
    let csrf = csrf_of(&page);

    let (stranger, _) = signed_in(&app, "stranger@shop.test").await;
    let theirs = api(&app, &stranger, "/v1/me/sessions").await["data"][0]["id"].as_str().unwrap().to_owned();
    let refused = browser.post(&format!("/account/sessions/{theirs}/end"), &[("_csrf", &csrf)]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/v1/me", Some(&stranger.access_token)).await.status(),
        StatusCode::OK,
        "theirs lives on"
    );

    let api_session = session_id_of(&app, &session).await;
    let ended = browser.post(&format!("/account/sessions/{api_session}/end"), &[("_csrf", &csrf)]).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/v1/me", Some(&session.access_token)).await.status(), StatusCode::UNAUTHORIZED);

    let without = browser.post("/account/sessions/end-all", &[("keep", "others")]).await;
    assert_eq!(without.status(), StatusCode::FORBIDDEN, "no CSRF token, nothing ended");
    let again = app.login("sesi@shop.test", PASSWORD).await.json::<Value>().await.unwrap();
    let token = again["access_token"].as_str().unwrap().to_owned();
    let others = browser.post("/account/sessions/end-all", &[("_csrf", &csrf), ("keep", "others")]).await;
    assert_eq!(others.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), StatusCode::UNAUTHORIZED, "the others end");
    assert!(Browser::signed_in(&browser.page("/account/sessions").await), "this browser stays");
    let everywhere = browser.post("/account/sessions/end-all", &[("_csrf", &csrf)]).await;
    assert_eq!(everywhere.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/account").await.status(), StatusCode::SEE_OTHER, "logged out here too");
}

/// The id of the session an API login made: the one of the caller's sessions the API marks
/// current.
async fn session_id_of(app: &TestApp, session: &Session) -> String {
    let listed = api(app, session, "/v1/me/sessions").await;
    let current = listed["data"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    current["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn web_account_a_password_reset_token_works_once_and_the_answer_never_tells_who_exists() {
    let app = spawn_app().await;
    let ana = app.register("lupa@shop.test").await;
    let mut browser = Browser::new(&app);
    let login = browser.page("/login").await;
    assert!(login.contains("href=\"/password/forgot\""), "the login page links to the reset");
    let csrf = browser.csrf().await;
    let known = browser.post("/password/forgot", &[("_csrf", &csrf), ("email", "lupa@shop.test")]).await;
    let unknown = browser.post("/password/forgot", &[("_csrf", &csrf), ("email", "nobody@shop.test")]).await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(location(&known), location(&unknown), "the same answer either way");

    app.relayed().await;
    let issued = app
        .state
        .identity
        .issue_account_token(ana.id.parse().unwrap(), pasar::identity::AccountTokenPurpose::PasswordReset)
        .await
        .unwrap();
    let form = browser.page(&format!("/password/reset?token={}", issued.token)).await;
    assert!(form.contains("name=\"password\""));
    let differ = browser
        .post(
            "/password/reset",
            &[
                ("_csrf", &csrf),
                ("token", &issued.token),
                ("password", "brand new one"),
                ("again", "brand new two"),
            ],
        )
        .await;
    assert_eq!(differ.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reset = browser
        .post(
            "/password/reset",
            &[
                ("_csrf", &csrf),
                ("token", &issued.token),
                ("password", "brand new one"),
                ("again", "brand new one"),
            ],
        )
        .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.login("lupa@shop.test", "brand new one").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/v1/me", Some(&ana.access_token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    let twice = browser
        .post(
            "/password/reset",
            &[
                ("_csrf", &csrf),
                ("token", &issued.token),
                ("password", "third secret"),
                ("again", "third secret"),
            ],
        )
        .await;
    assert_eq!(twice.status(), StatusCode::GONE, "a token works once");
    assert_eq!(app.login("lupa@shop.test", "third secret").await.status(), StatusCode::UNAUTHORIZED);
    let forged = browser
        .post(
            "/password/reset",
            &[
                ("_csrf", &csrf),
                ("token", "made-up"),
                ("password", "third secret"),
                ("again", "third secret"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn web_account_a_store_page_lists_only_its_products_and_a_suspended_store_is_gone() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (eka, store) = crate::sellers::seller(&app, &admin, "toko-eka").await;
    let category = crate::sellers::category(&app, &admin).await;
    crate::sellers::own_product(&app, &eka, &category, "Kebaya Encim", 5).await;
    let (dian, _) = crate::sellers::seller(&app, &admin, "toko-dian").await;
    crate::sellers::own_product(&app, &dian, &category, "Songket Palembang", 5).await;
    let mut browser = Browser::new(&app);
    let page = browser.page("/stores/toko-eka").await;
    let shown = api_store(&app, "toko-eka").await;
    assert!(page.contains(shown["store_name"].as_str().unwrap()), "the page shows the store's name");
    assert!(page.contains("Kebaya Encim"));
    assert!(!page.contains("Songket Palembang"), "only this store's products");
    let product = browser.page("/products/kebaya-encim").await;
    assert!(product.contains("href=\"/stores/toko-eka\""), "the product page links to its store");
    assert_eq!(browser.get("/stores/no-such-store").await.status(), StatusCode::NOT_FOUND);

    let suspended =
        crate::sellers::decide(&app, &admin, &store, "suspend", Some(json!({"reason": "counterfeit"}))).await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert_eq!(browser.get("/stores/toko-eka").await.status(), StatusCode::NOT_FOUND);
}

async fn api_store(app: &TestApp, slug: &str) -> Value {
    let response = app.get(&format!("/v1/stores/{slug}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}
