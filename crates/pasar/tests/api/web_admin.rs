//! The admin dashboard, driven as a browser would.

use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::Value;

use crate::browser::{Browser, audited, signed_in_admin};
use crate::helpers::{PASSWORD, Session, TestApp, spawn_app, spawn_app_with};

/// A paid order of two units at 50,000 each, bought by a new buyer through the sandbox.
async fn paid_order(app: &TestApp, admin: &Session) -> (String, String, Session) {
    let variant = app.product(admin, "physical", &[50_000]).await.remove(0);
    app.stock(admin, &variant, 10).await;
    let buyer = app.register(&format!("buyer-{}@example.com", uuid::Uuid::now_v7().simple())).await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 2)]).await.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap().to_owned();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, &order, "paid").await;
    (order, variant, buyer)
}

async fn admin_order(app: &TestApp, admin: &Session, order: &str) -> Value {
    app.get(&format!("/v1/admin/orders/{order}"), Some(&admin.access_token)).await.json().await.unwrap()
}

#[tokio::test]
async fn a_guest_is_sent_to_log_in_and_a_buyer_or_seller_is_refused() {
    let app = spawn_app().await;
    let mut guest = Browser::new(&app);
    let response = guest.get("/admin/orders?status=paid").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login?next=%2Fadmin%2Forders%3Fstatus%3Dpaid");

    for role in [Role::Customer, Role::Seller] {
        let email = format!("{}-{}@example.com", role.as_str(), uuid::Uuid::now_v7().simple());
        app.user_with_role(&email, role).await;
        let mut browser = Browser::english(&app);
        browser.login(&email, PASSWORD).await;
        for path in ["/admin", "/admin/orders", "/admin/products", "/admin/products/new"] {
            let response = browser.get(path).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role:?} GET {path}");
            let page = response.text().await.unwrap();
            assert!(page.contains("for the shop&#x27;s admins"), "{page}");
        }
    }
}

#[tokio::test]
async fn the_dashboard_shows_a_paid_order_s_gmv_and_draws_its_charts() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    paid_order(&app, &admin).await;
    app.relayed().await;
    let page = browser.page("/admin").await;
    assert!(page.contains("Rp 100.000") || page.contains("Rp 100,000"), "GMV of the paid order: {page}");
    assert!(page.contains("<svg"), "charts are SVG drawn on the server");
    assert!(page.contains("class=\"chart-bar\""));
    assert!(page.contains("aria-current=\"page\""), "the navigation marks where the admin is");
    assert!(page.contains(">sandbox<"), "payment success is listed by provider");
}

#[tokio::test]
async fn an_admin_advances_and_refunds_an_order_from_the_pages_and_it_is_audited() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let (order, _, _) = paid_order(&app, &admin).await;

    let list = browser.page("/admin/orders?status=paid").await;
    assert!(list.contains(&format!("href=\"/admin/orders/{order}\"")), "the paid order is listed");
    let other = browser.page("/admin/orders?status=shipped").await;
    assert!(!other.contains(&order), "the status filter narrows the list");
    let found = browser.get(&format!("/admin/orders?q={order}")).await;
    assert_eq!(found.headers()["location"].to_str().unwrap(), format!("/admin/orders/{order}"));

    let csrf = browser.csrf().await;
    let detail = browser.page(&format!("/admin/orders/{order}")).await;
    assert!(detail.contains("value=\"processing\""), "a paid order may go to processing");
    let processing = browser
        .post(&format!("/admin/orders/{order}/status"), &[("_csrf", &csrf), ("status", "processing")])
        .await;
    assert_eq!(processing.status(), StatusCode::SEE_OTHER);
    let skipped = browser
        .post(&format!("/admin/orders/{order}/status"), &[("_csrf", &csrf), ("status", "completed")])
        .await;
    assert_eq!(skipped.status(), StatusCode::CONFLICT, "a step cannot be skipped");
    assert!(skipped.text().await.unwrap().contains("cannot be moved that way"));
    let missing = browser
        .post(&format!("/admin/orders/{order}/status"), &[("_csrf", &csrf), ("status", "shipped")])
        .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY, "shipping needs a tracking number");
    assert_eq!(admin_order(&app, &admin, &order).await["status"], "processing");

    let shipped = browser
        .post(
            &format!("/admin/orders/{order}/status"),
            &[("_csrf", &csrf), ("status", "shipped"), ("tracking_number", "JNE123456"), ("note", "")],
        )
        .await;
    assert_eq!(shipped.status(), StatusCode::SEE_OTHER);
    let seen = admin_order(&app, &admin, &order).await;
    assert_eq!(
        (seen["status"].as_str(), seen["tracking_number"].as_str()),
        (Some("shipped"), Some("JNE123456"))
    );

    let partial = browser
        .post(
            &format!("/admin/orders/{order}/refunds"),
            &[("_csrf", &csrf), ("amount", "30000"), ("reason", "one arrived broken")],
        )
        .await;
    assert_eq!(partial.status(), StatusCode::SEE_OTHER);
    let seen = admin_order(&app, &admin, &order).await;
    assert_eq!(seen["status"], "partially_refunded");
    assert_eq!(seen["refunds"][0]["amount"]["amount"], 30_000);

    let too_much = browser
        .post(
            &format!("/admin/orders/{order}/refunds"),
            &[("_csrf", &csrf), ("amount", "999999"), ("reason", "x")],
        )
        .await;
    assert_eq!(too_much.status(), StatusCode::CONFLICT);
    let page = too_much.text().await.unwrap();
    assert!(page.contains("more than is left of the payment"), "the form says why: {page}");
    assert!(page.contains("value=\"999999\""), "and keeps what was typed");

    let rest = browser
        .post(
            &format!("/admin/orders/{order}/refunds"),
            &[("_csrf", &csrf), ("amount", ""), ("reason", "returned")],
        )
        .await;
    assert_eq!(rest.status(), StatusCode::SEE_OTHER);
    let seen = admin_order(&app, &admin, &order).await;
    assert_eq!(seen["status"], "refunded");
    assert_eq!(seen["refunds"].as_array().unwrap().len(), 2);

    let detail = browser.page(&format!("/admin/orders/{order}")).await;
    assert!(
        detail.contains("one arrived broken") && detail.contains("JNE123456"),
        "the detail shows refunds and tracking"
    );
    audited(
        &app,
        &admin,
        &admin.id,
        &["order.processing", "order.shipped", "order.partially_refunded", "order.refunded"],
    )
    .await;

    let log = browser.page(&format!("/admin/audit?actor={}", admin.id)).await;
    assert!(log.contains("order.shipped") && log.contains("order.refunded"), "the audit viewer lists them");
    let by_action = browser.page("/admin/audit?action=order.shipped").await;
    assert!(!by_action.contains(">order.refunded<"), "the action filter narrows the log");
    let verified = browser.page("/admin/audit?verify=1").await;
    assert!(verified.contains("The audit chain is intact"), "{verified}");
    let ledger = browser.page("/admin/ledger").await;
    assert!(ledger.contains("balanced") && !ledger.contains("NOT balanced"), "the ledger's totals balance");
}

#[tokio::test]
async fn an_admin_cancels_an_unpaid_order_from_its_page() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let variant = app.product(&admin, "physical", &[20_000]).await.remove(0);
    app.stock(&admin, &variant, 3).await;
    let buyer = app.register("late-payer@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap().to_owned();

    let csrf = browser.csrf().await;
    let cancelled = browser.post(&format!("/admin/orders/{order}/cancel"), &[("_csrf", &csrf)]).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin_order(&app, &admin, &order).await["status"], "cancelled");
    audited(&app, &admin, &admin.id, &["order.cancelled"]).await;
}

#[tokio::test]
async fn an_admin_creates_a_product_with_an_image_and_keys_and_duplicates_are_reported() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    app.product(&admin, "physical", &[1_000]).await; // makes a category to choose
    let categories: Value =
        app.get("/v1/admin/categories", Some(&admin.access_token)).await.json().await.unwrap();
    let category = categories.as_array().map_or_else(
        || categories["data"][0]["id"].as_str().unwrap().to_owned(),
        |list| list[0]["id"].as_str().unwrap().to_owned(),
    );

    let form = browser.page("/admin/products/new").await;
    assert!(form.contains(&category), "the form offers the categories");
    let csrf = browser.csrf().await;
    let fields = |sku: &'static str, price: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("name", "Steam Wallet 100k".to_owned()),
            ("description", "A gift code".to_owned()),
            ("kind", "digital".to_owned()),
            ("status", "active".to_owned()),
            ("category_id", category.clone()),
            ("sku", sku.to_owned()),
            ("price", price.to_owned()),
            ("options", "value=100k".to_owned()),
        ]
    };
    let as_refs =
        |f: &Vec<(&'static str, String)>| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let bad = as_refs(&fields("STEAM-100", "-5"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = browser.post("/admin/products", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "a negative price is refused");
    assert!(refused.text().await.unwrap().contains("Steam Wallet 100k"), "the form keeps what was typed");

    let good = as_refs(&fields("STEAM-100", "105000"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let created = browser.post("/admin/products", &good).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let product_id = location.trim_start_matches("/admin/products/").split('?').next().unwrap().to_owned();
    let product: Value = app
        .get(&format!("/v1/admin/products/{product_id}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(product["name"], "Steam Wallet 100k");
    assert_eq!(product["variants"][0]["price"]["amount"], 105_000);
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();

    // The image goes as a plain multipart form, its CSRF token in the form's `_csrf` field (as a
    // browser without JavaScript sends it); a wrong token is refused and adds nothing.
    let upload = |token: String| {
        let part = reqwest::multipart::Part::bytes(crate::catalog::TINY_PNG.to_vec())
            .file_name("pixel.png")
            .mime_str("image/png")
            .unwrap();
        let form = reqwest::multipart::Form::new().text("_csrf", token).part("image", part);
        browser
            .client
            .post(app.url(&format!("/admin/products/{product_id}/images")))
            .header("cookie", browser.cookie_header())
            .multipart(form)
            .send()
    };
    let forged = upload("0".repeat(csrf.len())).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let uploaded = upload(csrf.clone()).await.unwrap();
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let product: Value = app
        .get(&format!("/v1/admin/products/{product_id}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(product["media"].as_array().unwrap().len(), 1, "the image was added");

    let keys = browser
        .post(
            &format!("/admin/variants/{variant}/keys"),
            &[("_csrf", &csrf), ("keys", "AAAA-1111\nBBBB-2222\n\n")],
        )
        .await;
    assert_eq!(keys.status(), StatusCode::OK);
    let again = browser
        .post(
            &format!("/admin/variants/{variant}/keys"),
            &[("_csrf", &csrf), ("keys", "BBBB-2222\nCCCC-3333")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let page = again.text().await.unwrap();
    assert!(page.contains("BBBB-2222"), "the duplicate is reported");
    assert!(page.contains("1 keys added"));
    assert_eq!(app.stock_level(&admin, &variant).await["available"], 3, "three distinct keys are in stock");

    let page = browser.page(&format!("/admin/products/{product_id}")).await;
    assert!(page.contains(product["media"][0]["url"].as_str().unwrap()), "the page shows the image");
    audited(&app, &admin, &admin.id, &["product.created", "product.media_added", "stock.moved"]).await;
}

#[tokio::test]
async fn an_admin_edits_archives_and_restocks_a_physical_product() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    let products: Value =
        app.get("/v1/admin/products", Some(&admin.access_token)).await.json().await.unwrap();
    let product = products["data"][0]["id"].as_str().unwrap().to_owned();
    let csrf = browser.csrf().await;

    let adjusted = browser
        .post(
            &format!("/admin/variants/{variant}/stock"),
            &[("_csrf", &csrf), ("delta", "7"), ("reason", "delivery from roaster")],
        )
        .await;
    assert_eq!(adjusted.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 7);
    let no_reason = browser
        .post(
            &format!("/admin/variants/{variant}/stock"),
            &[("_csrf", &csrf), ("delta", "1"), ("reason", " ")],
        )
        .await;
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 7);

    let priced =
        browser.post(&format!("/admin/variants/{variant}"), &[("_csrf", &csrf), ("price", "45000")]).await;
    assert_eq!(priced.status(), StatusCode::SEE_OTHER);
    let page = browser.page(&format!("/admin/products/{product}")).await;
    assert!(page.contains("delivery from roaster"), "the movements are listed");

    let archived = browser.post(&format!("/admin/products/{product}/archive"), &[("_csrf", &csrf)]).await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    let seen: Value = app
        .get(&format!("/v1/admin/products/{product}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (seen["status"].as_str(), seen["variants"][0]["price"]["amount"].as_i64()),
        (Some("archived"), Some(45_000))
    );
    audited(&app, &admin, &admin.id, &["product.updated", "stock.moved"]).await;
}

#[tokio::test]
async fn an_admin_changes_a_role_adjusts_a_wallet_once_and_deactivates_a_user() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let ana = app.register("ana-web@example.com").await;

    let list = browser.page("/admin/users?q=ana-web").await;
    assert!(list.contains(&format!("href=\"/admin/users/{}\"", ana.id)), "the search finds her");
    let page = browser.page(&format!("/admin/users/{}", ana.id)).await;
    let key = page.split("name=\"key\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let csrf = browser.csrf().await;

    let role = browser
        .post(&format!("/admin/users/{}/role", ana.id), &[("_csrf", &csrf), ("role", "reseller")])
        .await;
    assert_eq!(role.status(), StatusCode::SEE_OTHER);
    let user: Value = app
        .get(&format!("/v1/admin/users/{}", ana.id), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["role"], "reseller");

    let adjust =
        [("_csrf", csrf.as_str()), ("amount", "50000"), ("reason", "goodwill"), ("key", key.as_str())];
    assert_eq!(
        browser.post(&format!("/admin/users/{}/wallet", ana.id), &adjust).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        browser.post(&format!("/admin/users/{}/wallet", ana.id), &adjust).await.status(),
        StatusCode::SEE_OTHER
    );
    let wallet: Value = app.get("/v1/wallet", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(wallet["balance"]["amount"], 50_000, "the form sent twice adjusts once");
    let below = browser
        .post(
            &format!("/admin/users/{}/wallet", ana.id),
            &[("_csrf", &csrf), ("amount", "-60000"), ("reason", "oops"), ("key", "other")],
        )
        .await;
    assert_eq!(below.status(), StatusCode::CONFLICT);
    assert!(below.text().await.unwrap().contains("does not cover"));

    let off = browser.post(&format!("/admin/users/{}/deactivate", ana.id), &[("_csrf", &csrf)]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/v1/wallet", Some(&ana.access_token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "her sessions ended"
    );
    let own = browser.post(&format!("/admin/users/{}/deactivate", admin.id), &[("_csrf", &csrf)]).await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN, "nobody deactivates themselves");
    audited(&app, &admin, &admin.id, &["user.role_changed", "ledger.transfer_posted", "user.deactivated"])
        .await;
}

#[tokio::test]
async fn an_admin_approves_then_suspends_a_store_and_rejects_another() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let mut stores = Vec::new();
    for slug in ["batik-solo", "kopi-aceh"] {
        let owner = app.register(&format!("{slug}@people.test")).await;
        let body = serde_json::json!({
            "store_name": format!("Toko {slug}"), "slug": slug, "description": "Handmade",
            "contact": {"email": format!("{slug}@stores.test"), "phone": "+62 812 3456 7890"},
            "payout_account": {"bank_code": "BCA", "account_number": "1234-5678-90", "account_name": "Budi Santoso"},
        });
        let applied = app.post("/v1/sellers", Some(&owner.access_token), &body).await;
        assert_eq!(applied.status(), StatusCode::CREATED);
        stores.push(applied.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let pending = browser.page("/admin/sellers").await;
    assert!(pending.contains("Toko batik-solo") && pending.contains("Toko kopi-aceh"), "applications wait");
    let csrf = browser.csrf().await;
    let decide = |id: &str| format!("/admin/sellers/{id}/decision");
    let status = |id: String| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            let seller: Value =
                app.get(&format!("/v1/admin/sellers/{id}"), Some(&token)).await.json().await.unwrap();
            seller["status"].as_str().unwrap().to_owned()
        }
    };

    let approved = browser
        .post(&decide(&stores[0]), &[("_csrf", &csrf), ("decision", "approve"), ("back_status", "pending")])
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(stores[0].clone()).await, "approved");
    let no_reason =
        browser.post(&decide(&stores[1]), &[("_csrf", &csrf), ("decision", "reject"), ("reason", "")]).await;
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs its reason");
    assert_eq!(status(stores[1].clone()).await, "pending");
    let rejected = browser
        .post(&decide(&stores[1]), &[("_csrf", &csrf), ("decision", "reject"), ("reason", "no documents")])
        .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(stores[1].clone()).await, "rejected");
    let suspended = browser
        .post(
            &decide(&stores[0]),
            &[("_csrf", &csrf), ("decision", "suspend"), ("reason", "counterfeit batik")],
        )
        .await;
    assert_eq!(suspended.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(stores[0].clone()).await, "suspended");
    let page = browser.page("/admin/sellers?status=suspended").await;
    assert!(page.contains("counterfeit batik"), "the reason is shown");
    audited(&app, &admin, &admin.id, &["seller.approved", "seller.rejected", "seller.suspended"]).await;
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let (order, variant, _) = paid_order(&app, &admin).await;
    let refused = browser.post(&format!("/admin/orders/{order}/refunds"), &[("reason", "sneaky")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let wrong = browser.post(&format!("/admin/orders/{order}/cancel"), &[("_csrf", "0123")]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let stock =
        browser.post(&format!("/admin/variants/{variant}/stock"), &[("delta", "5"), ("reason", "x")]).await;
    assert_eq!(stock.status(), StatusCode::FORBIDDEN);
    let seen = admin_order(&app, &admin, &order).await;
    assert_eq!(seen["status"], "paid");
    assert!(seen["refunds"].as_array().unwrap().is_empty());
    assert_eq!(app.stock_level(&admin, &variant).await["on_hand"], 8);
    let ana = app.register("ana-csrf@example.com").await;
    let role = browser.post(&format!("/admin/users/{}/role", ana.id), &[("role", "admin")]).await;
    assert_eq!(role.status(), StatusCode::FORBIDDEN);
    let user: Value = app
        .get(&format!("/v1/admin/users/{}", ana.id), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["role"], "customer");
}

#[tokio::test]
async fn the_admin_allowlist_lets_listed_addresses_in_and_refuses_the_rest() {
    let open = spawn_app_with(|config| config.admin_allow_ips = "10.0.0.0/8, 127.0.0.1".into()).await;
    let (admin, mut browser) = signed_in_admin(&open, Role::SuperAdmin).await;
    assert_eq!(browser.get("/admin").await.status(), StatusCode::OK);
    assert_eq!(open.get("/v1/admin/orders", Some(&admin.access_token)).await.status(), StatusCode::OK);

    let closed = spawn_app_with(|config| config.admin_allow_ips = "10.0.0.0/8".into()).await;
    let (admin, mut browser) = signed_in_admin(&closed, Role::SuperAdmin).await;
    let page = browser.get("/admin").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(!page.text().await.unwrap().contains("GMV"), "nothing of the dashboard is shown");
    let mut guest = Browser::new(&closed);
    assert_eq!(
        guest.get("/admin").await.status(),
        StatusCode::FORBIDDEN,
        "a guest is not even sent to log in"
    );
    let api = closed.get("/v1/admin/orders", Some(&admin.access_token)).await;
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(closed.get("/v1/products", None).await.status(), StatusCode::OK, "the shop stays open");
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    // Behind a trusted proxy, the forwarded address is the client's.
    let proxied = spawn_app_with(|config| {
        config.admin_allow_ips = "10.0.0.0/8".into();
        config.trust_forwarded_for = true;
    })
    .await;
    let (admin, _) = signed_in_admin(&proxied, Role::SuperAdmin).await;
    let from = |ip: &'static str| {
        proxied
            .request(reqwest::Method::GET, "/v1/admin/orders", Some(&admin.access_token))
            .header("x-forwarded-for", ip)
    };
    assert_eq!(from("10.1.2.3").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(from("192.0.2.9").send().await.unwrap().status(), StatusCode::FORBIDDEN);
}
