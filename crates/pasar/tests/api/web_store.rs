//! The storefront's finishing touches, driven as a browser and the API would: featured products
//! on the home page, images on recommendation cards, the sandbox's Expire button, the pay step
//! for each kind of payment, and wallet forms sent twice.

use pasar::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, csrf_of, location, product_named};
use crate::fakes::komoju::{self, FakeKomoju};
use crate::fakes::pakasir::FakePakasir;
use crate::fakes::stripe::{self, FakeStripe};
use crate::helpers::{PASSWORD, Session, TestApp, eventually, shipping_address, spawn_app, spawn_app_with};

/// A buyer registered through the API and signed in with a browser.
async fn signed_in<'a>(app: &'a TestApp, name: &str) -> (Session, Browser<'a>) {
    let email = format!("{name}-{}@store.test", uuid::Uuid::now_v7().simple());
    let session = app.register(&email).await;
    let mut browser = Browser::new(app);
    assert_eq!(browser.login(&email, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    (session, browser)
}

/// The value of the hidden field `name` in a page's form.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("the page has a {name} field"));
    page[at + marker.len()..].split('"').next().unwrap().to_owned()
}

/// The product `slug` names, as the admin reads it.
async fn product_by_slug(app: &TestApp, slug: &str) -> Value {
    app.get(&format!("/v1/products/{slug}"), None).await.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

async fn api(app: &TestApp, session: &Session, path: &str) -> Value {
    let response = app.get(path, Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn checkout_with(app: &TestApp, buyer: &Session, variant: &str, method: &str) -> Value {
    let placed = app
        .post(
            "/v1/checkout",
            Some(&buyer.access_token),
            &json!({"items": [{"variant_id": variant, "quantity": 1}], "payment_method": method,
                    "shipping_address": shipping_address()}),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED, "checking out with {method}");
    placed.json().await.unwrap()
}

// ---- featured products ----------------------------------------------------------------------

#[tokio::test]
async fn web_store_an_admin_features_a_product_the_filter_lists_it_and_the_home_page_shows_it_first() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (plain_slug, _) = product_named(&app, &admin, "Kopi Tubruk Biasa", 30_000).await;
    let (star_slug, _) = product_named(&app, &admin, "Kopi Luwak Pilihan", 90_000).await;
    let star = product_by_slug(&app, &star_slug).await;
    assert_eq!(star["featured"], false, "a new product is not featured");
    let home = Browser::new(&app).page("/").await;
    assert!(!home.contains("Produk unggulan"), "no featured section while none is featured");

    let path = format!("/v1/admin/products/{}", star["id"].as_str().unwrap());
    let buyer = app.register("pembeli@store.test").await;
    let refused = app.patch(&path, Some(&buyer.access_token), &json!({"featured": true})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a customer cannot feature a product");
    let featured = app.patch(&path, Some(&admin.access_token), &json!({"featured": true})).await;
    assert_eq!(featured.status(), StatusCode::OK);
    assert_eq!(featured.json::<Value>().await.unwrap()["featured"], true);

    let only: Value = app.get("/v1/products?featured=true", None).await.json().await.unwrap();
    assert_eq!(names(&only), vec!["Kopi Luwak Pilihan"]);
    assert_eq!(only["data"][0]["featured"], true);
    let others: Value = app.get("/v1/products?featured=false", None).await.json().await.unwrap();
    assert_eq!(names(&others), vec!["Kopi Tubruk Biasa"]);
    assert_eq!(product_by_slug(&app, &plain_slug).await["featured"], false);

    // The home page opens with the featured product, above the newest ones.
    let home = Browser::new(&app).page("/").await;
    let section = home.find("Produk unggulan").expect("a featured section");
    let newest = home.find("Produk terbaru").unwrap();
    let first_star = home.find("Kopi Luwak Pilihan").unwrap();
    assert!(section < first_star && first_star < newest, "the featured product comes first");
    assert_eq!(home.matches("Kopi Luwak Pilihan").count(), 2, "featured, and among the newest");

    // The change is audited as any product update is, with the flag before and after.
    let entry = eventually("the audit entry of the update", || async {
        let page: Value = app
            .get(&format!("/v1/admin/audit?actor={}&limit=100", admin.id), Some(&admin.access_token))
            .await
            .json()
            .await
            .unwrap();
        page["data"]
            .as_array()?
            .iter()
            .find(|e| e["action"] == "product.updated" && e["entity"] == star["id"])
            .cloned()
    })
    .await;
    let (before, after) = (entry["before"].to_string(), entry["after"].to_string());
    assert!(before.contains("\\\"featured\\\":false") || before.contains("\"featured\":false"), "{before}");
    assert!(after.contains("\\\"featured\\\":true") || after.contains("\"featured\":true"), "{after}");
}

#[tokio::test]
async fn web_store_the_admin_product_form_features_and_unfeatures_a_product_and_sellers_cannot() {
    let app = spawn_app().await;
    let admin_session = app.admin().await;
    let (slug, _) = product_named(&app, &admin_session, "Teh Melati", 15_000).await;
    let product = product_by_slug(&app, &slug).await;
    let id = product["id"].as_str().unwrap();

    let email = format!("staff-{}@store.test", uuid::Uuid::now_v7().simple());
    app.user_with_role(&email, pasar::identity::Role::Admin).await;
    let mut admin = Browser::new(&app);
    assert_eq!(admin.login(&email, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let page = admin.page(&format!("/admin/products/{id}")).await;
    assert!(page.contains("name=\"featured\" value=\"on\">"), "the edit form has the checkbox, unticked");
    let csrf = csrf_of(&page);
    let mut form = vec![
        ("_csrf", csrf.as_str()),
        ("name", "Teh Melati"),
        ("description", "Roasted in Bandung"),
        ("status", "active"),
        ("featured", "on"),
    ];
    let saved = admin.post(&format!("/admin/products/{id}"), &form).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(product_by_slug(&app, &slug).await["featured"], true);
    let page = admin.page(&format!("/admin/products/{id}")).await;
    assert!(page.contains("name=\"featured\" value=\"on\" checked"), "the form shows it ticked");

    // Unticked, the box is not sent at all: the product is no longer featured.
    form.pop();
    let saved = admin.post(&format!("/admin/products/{id}"), &form).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(product_by_slug(&app, &slug).await["featured"], false);
    let listed: Value = app.get("/v1/products?featured=true", None).await.json().await.unwrap();
    assert!(names(&listed).is_empty());

    // A seller's own product: the seller routes refuse the flag and change nothing.
    let (seller, _) = crate::sellers::seller(&app, &admin_session, "toko-unggul").await;
    let category = crate::sellers::category(&app, &admin_session).await;
    let own = crate::sellers::own_product(&app, &seller, &category, "Batik Tulis", 1).await;
    let own_path = format!("/v1/seller/products/{}", own["id"].as_str().unwrap());
    let refused = app.patch(&own_path, Some(&seller.access_token), &json!({"featured": true})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api(&app, &seller, &own_path).await["featured"], false);
}

#[tokio::test]
async fn web_store_the_demo_shop_features_three_products_and_a_second_load_keeps_the_admins_choice() {
    let app = spawn_app().await;
    pasar::demo::load(&app.state).await.unwrap();
    let featured_slugs = || async {
        let page: Value = app.get("/v1/products?featured=true", None).await.json().await.unwrap();
        let mut slugs: Vec<String> =
            page["data"].as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap().to_owned()).collect();
        slugs.sort();
        slugs
    };
    assert_eq!(
        featured_slugs().await,
        ["e-book-resep-nusantara", "kaos-batik-parang", "selendang-batik-sogan"]
    );
    let home = Browser::new(&app).page("/").await;
    let section = home.find("Produk unggulan").expect("the demo's home page has a featured section");
    assert!(section < home.find("Produk terbaru").unwrap());

    let admin = app.admin().await;
    let shirt = product_by_slug(&app, "kaos-batik-parang").await;
    let path = format!("/v1/admin/products/{}", shirt["id"].as_str().unwrap());
    let unfeatured = app.patch(&path, Some(&admin.access_token), &json!({"featured": false})).await;
    assert_eq!(unfeatured.status(), StatusCode::OK);
    pasar::demo::load(&app.state).await.unwrap();
    assert_eq!(featured_slugs().await, ["e-book-resep-nusantara", "selendang-batik-sogan"]);
}

// ---- recommendation cards -------------------------------------------------------------------

#[tokio::test]
async fn web_store_recommendation_cards_show_the_products_first_image() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (kopi_slug, kopi) = product_named(&app, &admin, "Kopi Gayo", 60_000).await;
    let (gula_slug, gula) = product_named(&app, &admin, "Gula Aren", 20_000).await;
    let gula_id = product_by_slug(&app, &gula_slug).await["id"].as_str().unwrap().to_owned();
    let upload = app
        .request(Method::POST, &format!("/v1/admin/products/{gula_id}/media"), Some(&admin.access_token))
        .header("content-type", "image/png")
        .body(crate::catalog::TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::CREATED);
    let image = upload.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_owned();

    // One buyer pays for both; another buys the coffee alone.
    let (first, _) = signed_in(&app, "pertama").await;
    let placed: Value =
        app.checkout(&first.access_token, &[(&kopi, 1), (&gula, 1)]).await.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&first.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;
    let (second, mut browser) = signed_in(&app, "kedua").await;
    let placed: Value = app.checkout(&second.access_token, &[(&kopi, 1)]).await.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&second.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;

    let card = format!("<img src=\"{image}\"");
    let product_page = eventually("the orders counted for bought-together", || async {
        let page = Browser::new(&app).page(&format!("/products/{kopi_slug}")).await;
        page.contains("Gula Aren").then_some(page)
    })
    .await;
    assert!(product_page.replace("&#x2f;", "/").contains(&card), "the bought-together card has its image");
    let suggested = eventually("the sugar suggested to the second buyer", || async {
        let suggested = api(&app, &second, "/v1/me/recommendations").await;
        suggested["data"].as_array()?.iter().find(|p| p["name"] == "Gula Aren").cloned()
    })
    .await;
    assert_eq!(suggested["image"], image.as_str(), "the API names the image too");
    let home = browser.page("/").await.replace("&#x2f;", "/");
    assert!(home.contains("Rekomendasi untuk Anda"), "the home page recommends something to the buyer");
    assert_eq!(home.matches(&card).count(), 2, "recommended for the buyer, and among the newest");
}

// ---- the sandbox's Expire button ------------------------------------------------------------

#[tokio::test]
async fn web_store_the_sandbox_expire_button_expires_the_order_and_releases_its_stock() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[50_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let buyer = app.register("lupa@store.test").await;
    let placed = checkout_with(&app, &buyer, &variant, "sandbox").await;
    let payment_id = placed["payment"]["id"].as_str().unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    assert_eq!(app.stock_level(&admin, &variant).await["reserved"], 1);

    let pressed = app.press(payment_id, "expire").await;
    assert_eq!(pressed.status(), StatusCode::OK);
    let order = api(&app, &buyer, &format!("/v1/orders/{order_id}")).await;
    assert_eq!(order["status"], "expired", "the order ends as at its deadline");
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["reserved"].as_i64(), level["available"].as_i64()), (Some(0), Some(2)));
    let page = app.get(&format!("/sandbox/pay/{payment_id}"), None).await.text().await.unwrap();
    assert!(page.contains("<strong>expired</strong>") && !page.contains("/succeed"), "no longer payable");

    // Pressed again, or Pay after it: nothing moves.
    assert_eq!(app.press(payment_id, "expire").await.status(), StatusCode::CONFLICT);
    assert_eq!(app.press(payment_id, "succeed").await.status(), StatusCode::CONFLICT);
    let order = api(&app, &buyer, &format!("/v1/orders/{order_id}")).await;
    assert_eq!(order["status"], "expired");
    let level = app.stock_level(&admin, &variant).await;
    assert_eq!((level["reserved"].as_i64(), level["available"].as_i64()), (Some(0), Some(2)));
}

#[tokio::test]
async fn web_store_the_pay_steps_expire_button_expires_the_buyers_own_payment_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Rendang Kaleng", 45_000).await;
    let (buyer, mut browser) = signed_in(&app, "rina").await;
    let placed = checkout_with(&app, &buyer, &variant, "sandbox").await;
    let payment_id = placed["payment"]["id"].as_str().unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap();
    let pay_path = format!("/pay/{payment_id}");
    let page = browser.page(&pay_path).await;
    assert!(page.replace("&#x2f;", "/").contains(&format!("action=\"{pay_path}/sandbox/expire\"")));

    // Another buyer's press is a 404 and changes nothing.
    let (_, mut other) = signed_in(&app, "budi").await;
    let other_page = other.page("/").await;
    let refused =
        other.post(&format!("{pay_path}/sandbox/expire"), &[("_csrf", &csrf_of(&other_page))]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(api(&app, &buyer, &format!("/v1/orders/{order_id}")).await["status"], "pending_payment");

    let pressed = browser.post(&format!("{pay_path}/sandbox/expire"), &[("_csrf", &csrf_of(&page))]).await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&pressed), pay_path);
    assert_eq!(api(&app, &buyer, &format!("/v1/orders/{order_id}")).await["status"], "expired");
    let after = browser.page(&pay_path).await.replace("&#x2f;", "/");
    assert!(!after.contains("sandbox/succeed"), "no buttons left");
}

#[tokio::test]
async fn web_store_the_expire_button_ends_a_wallet_deposit_without_crediting_it() {
    let app = spawn_app().await;
    let buyer = app.register("deposit@store.test").await;
    let started = app
        .post(
            "/v1/wallet/deposits",
            Some(&buyer.access_token),
            &json!({"amount": {"amount": 100_000, "currency": "IDR"}, "payment_method": "sandbox"}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let deposit: Value = started.json().await.unwrap();
    let id = deposit["id"].as_str().unwrap();
    assert_eq!(app.press(id, "expire").await.status(), StatusCode::OK);
    let deposits = api(&app, &buyer, "/v1/wallet/deposits").await;
    assert_eq!(deposits["data"][0]["status"], "expired");
    assert_eq!(api(&app, &buyer, "/v1/wallet").await["balance"]["amount"], 0);
}

// ---- the pay step for each kind of payment --------------------------------------------------

#[tokio::test]
async fn web_store_a_qris_payment_is_shown_as_an_inline_svg_code_with_its_deadline() {
    let fake = FakePakasir::start().await;
    let app = spawn_app_with(|config| fake.configure(config)).await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Kerupuk Udang", 25_000).await;
    let (buyer, mut browser) = signed_in(&app, "qris").await;
    let placed = checkout_with(&app, &buyer, &variant, "qris").await;
    let payment = &placed["payment"];
    let page = browser.page(&format!("/pay/{}", payment["id"].as_str().unwrap())).await;
    assert!(page.contains("<svg") && page.contains("class=\"qr\""), "the code is drawn inline");
    assert!(!page.contains("<img"), "not a picture fetched from elsewhere");
    let expires = payment["expires_at"].as_str().unwrap();
    assert!(page.contains(&format!("data-expires=\"{expires}\"")), "the countdown's deadline: {expires}");
    assert!(page.contains("class=\"countdown\""));
    assert!(!page.contains("sandbox"), "no sandbox buttons on a real gateway's payment");
}

#[tokio::test]
async fn web_store_a_virtual_account_payment_shows_its_number() {
    let fake = FakePakasir::start().await;
    let app = spawn_app_with(|config| fake.configure(config)).await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Sambal Bajak", 35_000).await;
    let (buyer, mut browser) = signed_in(&app, "va").await;
    let placed = checkout_with(&app, &buyer, &variant, "bni_va").await;
    let number = placed["payment"]["payment_number"].as_str().unwrap().to_owned();
    let page = browser.page(&format!("/pay/{}", placed["payment"]["id"].as_str().unwrap())).await;
    assert!(page.contains(&format!("id=\"pay-number\">{number}</strong>")), "the VA number {number}");
    assert!(!page.contains("class=\"qr\""), "no QR code for a transfer");
}

fn with_komoju(config: &mut Config, fake: &FakeKomoju) {
    config.komoju_secret_key = Some(komoju::SECRET_KEY.into());
    config.komoju_webhook_secret = Some(komoju::WEBHOOK_SECRET.into());
    config.komoju_base_url = fake.url.clone();
    config.currency = "JPY".into();
}

#[tokio::test]
async fn web_store_a_konbini_payment_shows_its_slip() {
    let fake = FakeKomoju::start().await;
    let app = spawn_app_with(|config| with_komoju(config, &fake)).await;
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    let category: Value =
        app.post("/v1/admin/categories", token, &json!({"name": "Senbei"})).await.json().await.unwrap();
    let created: Value = app
        .post(
            "/v1/admin/products",
            token,
            &json!({"name": "Senbei", "kind": "physical", "status": "active", "category_id": category["id"],
                    "variants": [{"sku": "SNB-1", "price": {"amount": 1_200, "currency": "JPY"}}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(&admin, &variant, 3).await;
    let (buyer, mut browser) = signed_in(&app, "hanako").await;
    let placed = checkout_with(&app, &buyer, &variant, "konbini").await;
    let page = browser.page(&format!("/pay/{}", placed["payment"]["id"].as_str().unwrap())).await;
    assert!(page.contains("class=\"slip\""), "a konbini slip");
    assert!(page.contains("lawson"), "its store");
    assert!(page.contains(">LW-20181018-0042</strong>"), "its receipt number");
    assert!(page.contains(">8901</strong>"), "its confirmation code");
}

#[tokio::test]
async fn web_store_a_hosted_page_payment_sends_the_browser_to_the_providers_page() {
    let fake = FakeStripe::start().await;
    let app = spawn_app_with(|config| {
        config.stripe_secret_key = Some(stripe::SECRET_KEY.into());
        config.stripe_webhook_secret = Some(stripe::WEBHOOK_SECRET.into());
        config.stripe_base_url = fake.url.clone();
    })
    .await;
    let admin = app.admin().await;
    let (_, variant) = product_named(&app, &admin, "Kain Songket", 400_000).await;
    let (buyer, mut browser) = signed_in(&app, "kartu").await;
    let placed = checkout_with(&app, &buyer, &variant, "card").await;
    let url = placed["payment"]["checkout_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&fake.url), "{url}");
    let answer = browser.get(&format!("/pay/{}", placed["payment"]["id"].as_str().unwrap())).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"].to_str().unwrap(), url);
}

// ---- wallet forms sent twice ----------------------------------------------------------------

#[tokio::test]
async fn web_store_a_deposit_form_sent_twice_starts_one_deposit() {
    let app = spawn_app().await;
    let (buyer, mut browser) = signed_in(&app, "dobel").await;
    let page = browser.page("/account/wallet").await;
    let form = [
        ("_csrf", csrf_of(&page)),
        ("amount", "100000".to_owned()),
        ("payment_method", "sandbox".to_owned()),
        ("key", field(&page, "key")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let first = browser.post("/account/wallet/deposits", &form).await;
    let second = browser.post("/account/wallet/deposits", &form).await;
    assert_eq!((first.status(), second.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(location(&first), location(&second), "both go to the one deposit's pay step");
    let deposits = api(&app, &buyer, "/v1/wallet/deposits").await;
    assert_eq!(deposits["data"].as_array().unwrap().len(), 1, "one deposit: {deposits}");

    // The same key with another amount is refused, and a freshly drawn form starts another.
    let mut changed = form.clone();
    changed[1] = ("amount", "5000");
    let reused = browser.post("/account/wallet/deposits", &changed).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api(&app, &buyer, "/v1/wallet/deposits").await["data"].as_array().unwrap().len(), 1);
    let page = browser.page("/account/wallet").await;
    let fresh = field(&page, "key");
    assert_ne!(fresh, form[3].1, "each drawing of the page has its own key");
    let mut again = form.clone();
    again[3] = ("key", fresh.as_str());
    assert_eq!(browser.post("/account/wallet/deposits", &again).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(&app, &buyer, "/v1/wallet/deposits").await["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn web_store_a_withdrawal_form_sent_twice_withdraws_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (buyer, mut browser) = signed_in(&app, "tarik").await;
    crate::wallet::fund(&app, &admin, &buyer, 100_000).await;
    let page = browser.page("/account/wallet").await;
    let marker = "name=\"key\" value=\"";
    let key = page[page.rfind(marker).unwrap() + marker.len()..].split('"').next().unwrap().to_owned();
    assert_ne!(key, field(&page, "key"), "the withdrawal form has a key of its own");
    let csrf = csrf_of(&page);
    let form = [
        ("_csrf", csrf.as_str()),
        ("amount", "40000"),
        ("bank_code", "BCA"),
        ("account_number", "1234567890"),
        ("account_name", "Tari"),
        ("key", key.as_str()),
    ];
    let first = browser.post("/account/wallet/withdrawals", &form).await;
    let second = browser.post("/account/wallet/withdrawals", &form).await;
    assert_eq!((first.status(), second.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(location(&second), "/account/wallet?done=withdrawal_started");
    let withdrawals = api(&app, &buyer, "/v1/wallet/withdrawals").await;
    assert_eq!(withdrawals["data"].as_array().unwrap().len(), 1, "one withdrawal: {withdrawals}");
    let summary = api(&app, &buyer, "/v1/wallet").await;
    assert_eq!(
        (summary["balance"]["amount"].as_i64(), summary["pending"]["amount"].as_i64()),
        (Some(60_000), Some(40_000)),
        "held once"
    );

    // A refused withdrawal is answered as the API answers it (sent again, the same refusal);
    // the page it shows draws the form again with a key of its own, and the fixed form goes
    // through.
    let page = browser.page("/account/wallet").await;
    let key = page[page.rfind(marker).unwrap() + marker.len()..].split('"').next().unwrap().to_owned();
    let mut too_much = form;
    too_much[1] = ("amount", "999999");
    too_much[5] = ("key", key.as_str());
    let refused = browser.post("/account/wallet/withdrawals", &too_much).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(browser.post("/account/wallet/withdrawals", &too_much).await.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    let redrawn = page[page.rfind(marker).unwrap() + marker.len()..].split('"').next().unwrap().to_owned();
    assert_ne!(redrawn, key, "the refusal's page draws the form anew");
    let mut fixed = too_much;
    fixed[1] = ("amount", "10000");
    fixed[5] = ("key", redrawn.as_str());
    assert_eq!(browser.post("/account/wallet/withdrawals", &fixed).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(&app, &buyer, "/v1/wallet/withdrawals").await["data"].as_array().unwrap().len(), 2);
}
