//! The web storefront over HTTP, as a browser without JavaScript would use it: pages, security
//! headers, cookie sessions, CSRF tokens and the cart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, product_named, set_cookies};
use crate::helpers::{PASSWORD, TestApp, eventually, spawn_app, spawn_app_with};

/// The guest cart a browser holds, read through the API with its token.
async fn guest_cart_quantity(app: &TestApp, browser: &Browser<'_>, variant: &str) -> i64 {
    let (id, token) = browser.cookies["pasar_cart"].split_once('.').unwrap();
    let response = app
        .request(reqwest::Method::GET, &format!("/v1/carts/{id}"), None)
        .header("x-cart-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cart: Value = response.json().await.unwrap();
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["variant_id"] == variant)
        .map_or(0, |i| i["quantity"].as_i64().unwrap())
}

#[tokio::test]
async fn the_home_product_search_and_cart_pages_show_the_shop() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (slug, _) = product_named(&app, &admin, "Kopi Gayo Arabika", 85_000).await;
    let mut browser = Browser::new(&app);

    let home = browser.page("/").await;
    assert!(home.contains("Kopi Gayo Arabika"), "the newest products are on the home page");
    assert!(home.contains(&format!("href=\"/products/{slug}\"")));
    assert!(home.contains("href=\"/search?category=kopi-"), "categories link to their search page");

    let product = browser.page(&format!("/products/{slug}")).await;
    assert!(product.contains("Kopi Gayo Arabika") && product.contains("size: 250g"));
    assert!(product.contains("Rp 85.000"), "prices in Indonesian by default");
    assert!(product.contains("Roasted in Bandung"));
    let english = app
        .request(reqwest::Method::GET, &format!("/products/{slug}"), None)
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    let english = english.text().await.unwrap();
    assert!(english.contains("Rp 85,000") && english.contains("Add to cart"), "English when asked");
    let missing = browser.get("/products/no-such-product").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(
        missing.text().await.unwrap().contains("Halaman tidak ditemukan"),
        "a page, in the visitor's language"
    );

    let found = eventually("the product in the search index", || async {
        let page = Browser::new(&app).page("/search?q=gayo").await;
        page.contains("<mark>Gayo</mark>").then_some(page)
    })
    .await;
    assert!(found.contains("1 produk"), "the total is shown");
    assert!(found.contains("Kategori"), "with the category facet");

    let cart = browser.page("/cart").await;
    assert!(cart.contains("Keranjang Anda kosong"), "an empty cart says so");
}

#[tokio::test]
async fn every_page_carries_a_strict_content_security_policy_and_the_other_security_headers() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    for path in ["/", "/search?q=x", "/cart", "/login", "/register", "/products/none"] {
        let response = browser.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        assert!(!headers.contains_key("strict-transport-security"), "{path}: no HSTS over http");
    }
    let home = browser.page("/").await;
    assert!(!home.contains("<script>") && !home.contains("style="), "nothing inline");
    for asset in ["/static/htmx-2.0.11.min.js", "/static/pasar."] {
        let at = home.find(asset).expect("the page links its assets");
        let url = home[at..].split('"').next().unwrap().to_owned();
        let response = browser.get(&url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("immutable"), "{url}");
    }
    assert_eq!(browser.get("/static/pasar.0000.css").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn over_https_pages_send_hsts_and_cookies_are_secure() {
    let app = spawn_app_with(|config| config.public_url = Some("https://shop.example".into())).await;
    let mut browser = Browser::new(&app);
    let response = browser.get("/").await;
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    let visitor = set_cookies(response.headers()).into_iter().find(|c| c.name == "pasar_visitor").unwrap();
    assert!(visitor.attributes.contains("Secure"), "{}", visitor.attributes);
}

#[tokio::test]
async fn a_product_named_like_a_script_is_shown_as_text() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (slug, _) = product_named(&app, &admin, "<script>alert(1)</script>", 10_000).await;
    let mut browser = Browser::new(&app);
    for path in ["/".to_owned(), format!("/products/{slug}")] {
        let page = browser.page(&path).await;
        assert!(!page.contains("<script>alert(1)"), "{path} runs the name");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path} shows it escaped");
    }
}

#[tokio::test]
async fn logging_in_sets_an_http_only_same_site_cookie_and_a_wrong_password_sets_none() {
    let app = spawn_app().await;
    app.register("web-buyer@shop.test").await;
    let mut browser = Browser::new(&app);

    let refused = browser.login("web-buyer@shop.test", "not the password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(refused.headers()).iter().all(|c| c.name != "pasar_session"));
    assert!(refused.text().await.unwrap().contains("Email atau kata sandi salah"));

    let response = browser.login("web-buyer@shop.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookies(response.headers()).into_iter().find(|c| c.name == "pasar_session").unwrap();
    assert!(session.attributes.contains("HttpOnly"), "{}", session.attributes);
    assert!(session.attributes.contains("SameSite=Lax"), "{}", session.attributes);
    assert!(!session.attributes.contains("Secure"), "not Secure over http");
    assert!(session.value.len() >= 40, "a long random secret");
    assert!(Browser::signed_in(&browser.page("/").await));

    let relogin = browser.login("web-buyer@shop.test", PASSWORD).await;
    let rotated = set_cookies(relogin.headers()).into_iter().find(|c| c.name == "pasar_session").unwrap();
    assert_ne!(rotated.value, session.value, "a new session at every login");
    let mut old = Browser::new(&app);
    old.cookies.insert("pasar_session".into(), session.value);
    assert!(!Browser::signed_in(&old.page("/").await), "the session it replaced has ended");
}

#[tokio::test]
async fn logging_out_ends_the_session_so_the_old_cookie_no_longer_signs_in() {
    let app = spawn_app().await;
    app.register("leaving@shop.test").await;
    let mut browser = Browser::new(&app);
    browser.login("leaving@shop.test", PASSWORD).await;
    let secret = browser.cookies["pasar_session"].clone();
    let csrf = browser.csrf().await;

    let response = browser.post("/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("pasar_session"), "the cookie is removed");

    let mut replay = Browser::new(&app);
    replay.cookies.insert("pasar_session".into(), secret);
    let response = replay.get("/").await;
    let cleared = set_cookies(response.headers()).into_iter().any(|c| c.name == "pasar_session");
    assert!(!Browser::signed_in(&response.text().await.unwrap()), "the old cookie signs in no one");
    assert!(cleared, "and the browser is told to drop it");
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Teh Tarik", 12_000).await;
    let mut browser = Browser::new(&app);
    let csrf = browser.csrf().await;
    let added =
        browser.post("/cart/items", &[("_csrf", &csrf), ("variant_id", &variant), ("quantity", "2")]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(guest_cart_quantity(&app, &browser, &variant).await, 2);

    let without = browser.post("/cart/items", &[("variant_id", &variant), ("quantity", "5")]).await;
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let wrong =
        browser.post("/cart/items", &[("_csrf", "0".repeat(64).as_str()), ("variant_id", &variant)]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let remove = format!("/cart/items/{variant}/remove");
    let wrong_header = browser
        .client
        .post(app.url(&remove))
        .header("cookie", browser.cookie_header())
        .header("x-csrf-token", "f".repeat(64))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_header.status(), StatusCode::FORBIDDEN);
    let someone_elses = Browser::new(&app).csrf().await;
    let foreign = browser.post(&remove, &[("_csrf", &someone_elses)]).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN, "another visitor's token is not this one's");
    assert_eq!(guest_cart_quantity(&app, &browser, &variant).await, 2, "nothing changed");

    // htmx sends the token in its header and gets the cart's part of the page back.
    let change = browser
        .client
        .post(app.url(&format!("/cart/items/{variant}")))
        .header("cookie", browser.cookie_header())
        .header("x-csrf-token", &csrf)
        .header("hx-request", "true")
        .form(&[("quantity", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::OK);
    let part = change.text().await.unwrap();
    assert!(part.starts_with("<section id=\"cart\"") && !part.contains("<html"), "{part}");
    assert_eq!(guest_cart_quantity(&app, &browser, &variant).await, 3);
}

#[tokio::test]
async fn a_guest_cart_is_merged_into_the_buyers_cart_at_login() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Sambal Matah", 25_000).await;
    let buyer = app.register("merging@shop.test").await;
    let mut browser = Browser::new(&app);
    let csrf = browser.csrf().await;
    browser.post("/cart/items", &[("_csrf", &csrf), ("variant_id", &variant), ("quantity", "4")]).await;
    assert!(browser.cookies.contains_key("pasar_cart"), "a guest cart, held in a cookie");

    let response = browser.login("merging@shop.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("pasar_cart"), "the guest cart's cookie is dropped");
    let cart = browser.page("/cart").await;
    assert!(cart.contains("Sambal Matah") && cart.contains("value=\"4\""), "{cart}");

    let own = app.post("/v1/carts", Some(&buyer.access_token), &json!({})).await;
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["items"][0]["variant_id"], variant.as_str());
    assert_eq!(own["items"][0]["quantity"], 4);
}

#[tokio::test]
async fn deactivating_a_user_ends_their_web_session() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let buyer = app.register("deactivated@shop.test").await;
    let mut browser = Browser::new(&app);
    browser.login("deactivated@shop.test", PASSWORD).await;
    assert!(Browser::signed_in(&browser.page("/").await));
    let sessions = app.get("/v1/me/sessions", Some(&buyer.access_token)).await;
    let sessions: Value = sessions.json().await.unwrap();
    assert_eq!(sessions["data"].as_array().unwrap().len(), 2, "the web session is listed with the API's");

    let path = format!("/v1/admin/users/{}/deactivate", buyer.id);
    assert_eq!(app.post(&path, Some(&admin.access_token), &json!({})).await.status(), StatusCode::OK);
    assert!(!Browser::signed_in(&browser.page("/").await), "signed out at once");
    let again = browser.login("deactivated@shop.test", PASSWORD).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn web_logins_count_against_the_same_limit_as_the_apis() {
    let app = spawn_app_with(|config| config.login_attempts_per_account = 2).await;
    app.register("limited@shop.test").await;
    assert_eq!(app.login("limited@shop.test", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    let mut browser = Browser::new(&app);
    let wrong = browser.login("limited@shop.test", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let refused = browser.login("limited@shop.test", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "even with the right password");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(set_cookies(refused.headers()).iter().all(|c| c.name != "pasar_session"));
    assert_eq!(app.login("limited@shop.test", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn registering_from_the_web_signs_in_and_the_language_can_be_chosen() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let csrf = browser.csrf().await;
    let form =
        [("_csrf", csrf.as_str()), ("name", "Sari"), ("email", "sari@shop.test"), ("password", "short")];
    let refused = browser.post("/register", &form).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text().await.unwrap().contains("value=\"sari@shop.test\""),
        "the form keeps what was typed"
    );

    let form =
        [("_csrf", csrf.as_str()), ("name", "Sari"), ("email", "sari@shop.test"), ("password", PASSWORD)];
    let registered = browser.post("/register", &form).await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    assert!(Browser::signed_in(&browser.page("/").await));
    assert_eq!(app.login("sari@shop.test", PASSWORD).await.status(), StatusCode::OK, "a real account");
    let again = Browser::new(&app).post("/register", &form).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "another browser's token is refused");

    let csrf = browser.csrf().await;
    let chosen = browser.post("/language", &[("_csrf", &csrf), ("lang", "ja"), ("back", "/cart")]).await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(chosen.headers()["location"], "/cart");
    let cart = browser.page("/cart").await;
    assert!(cart.contains("<html lang=\"ja\">") && cart.contains("カートは空です"), "{cart}");
}
