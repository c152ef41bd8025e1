//! The admin's payments, merchant webhooks, stock import, variants and key files: over the
//! JSON API and through the pages, driven as a browser would.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, signed_in_admin};
use crate::helpers::{PASSWORD, Session, TestApp, eventually, spawn_app, spawn_app_with};

/// The audit log's entries of `action` by `admin` that `wanted` picks, once there are `count`.
async fn audited(
    app: &TestApp,
    admin: &Session,
    action: &str,
    count: usize,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    eventually(&format!("{count} audit entries {action}"), || async {
        let page: Value = app
            .get(
                &format!("/v1/admin/audit?actor={}&action={action}&limit=100", admin.id),
                Some(&admin.access_token),
            )
            .await
            .json()
            .await
            .unwrap();
        let entries: Vec<Value> = page["data"].as_array()?.iter().filter(|e| wanted(e)).cloned().collect();
        (entries.len() == count).then_some(entries)
    })
    .await
}

/// Posts a multipart form with one file in field `file`, and the CSRF token, as a browser
/// without JavaScript sends an upload form.
async fn upload(
    browser: &Browser<'_>,
    app: &TestApp,
    path: &str,
    csrf: &str,
    name: &str,
    kind: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let part =
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str(kind).unwrap();
    let form = reqwest::multipart::Form::new().text("_csrf", csrf.to_owned()).part("file", part);
    browser
        .client
        .post(app.url(path))
        .header("cookie", browser.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A product of `kind` with a variant per SKU (10,000 IDR each): its id and the variants' ids.
async fn product_with_skus(
    app: &TestApp,
    admin: &Session,
    kind: &str,
    skus: &[&str],
) -> (String, Vec<String>) {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Kopi {suffix}")})).await;
    let category: Value = category.json().await.unwrap();
    let variants: Vec<Value> = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| {
            json!({"sku": sku, "options": {"size": format!("S{i}")}, "price": {"amount": 10_000, "currency": "IDR"}})
        })
        .collect();
    let body = json!({
        "name": format!("Kopi {suffix}"), "description": "Roasted in Bandung", "kind": kind, "status": "active",
        "category_id": category["id"], "variants": variants,
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let ids = created["variants"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned());
    (created["id"].as_str().unwrap().to_owned(), ids.collect())
}

async fn import_csv(app: &TestApp, token: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/admin/stock/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

// ---- payments -------------------------------------------------------------------------------

#[tokio::test]
async fn the_payments_page_lists_the_sandbox_and_the_webhooks_it_sent() {
    let app = spawn_app().await;
    let (_, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let page = browser.page("/admin/payments").await;
    assert!(page.contains("<td class=\"mono\">sandbox</td><td class=\"breaker-closed\">Up</td>"), "{page}");
    assert!(
        page.contains("href=\"/admin/payments\" aria-current=\"page\""),
        "the navigation marks the section"
    );
    assert!(page.contains("No webhooks yet."));

    // A webhook with a forged signature is refused and logged.
    let forged = app
        .client
        .post(app.url("/v1/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header("sandbox-signature", "t=1,v1=00")
        .body(r#"{"id":"sbxevt_forged","type":"payment.succeeded"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let page = browser.page("/admin/payments").await;
    assert!(page.contains("class=\"webhook-rejected\">Rejected</td>"), "{page}");
    assert!(page.contains("invalid_signature"));
    assert!(page.contains("sbxevt_forged"), "its body can be read");
    let applied_only = browser.page("/admin/payments?result=applied").await;
    assert!(!applied_only.contains("sbxevt_forged"), "the result filter narrows the log");
    let other_provider = browser.page("/admin/payments?provider=stripe").await;
    assert!(!other_provider.contains("sbxevt_forged"), "the provider filter narrows the log");
}

#[tokio::test]
async fn the_reconciliation_button_applies_a_missed_payment_reports_it_and_is_audited() {
    // The sandbox cannot reach this shop, so a paid order's webhook never comes.
    let app = spawn_app_with(|config| {
        config.public_url = Some("http://127.0.0.1:9".into());
        config.reconcile_grace_secs = 0;
    })
    .await;
    let (admin, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("missed@example.com").await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap();
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    let pending: Value =
        app.get(&format!("/v1/orders/{order}"), Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(pending["status"], "pending_payment", "no webhook came");

    let csrf = browser.csrf().await;
    let ran = browser.post("/admin/payments/reconciliation", &[("_csrf", &csrf)]).await;
    assert_eq!(ran.status(), StatusCode::OK);
    let page = ran.text().await.unwrap();
    assert!(page.contains("Reconciliation has run."), "{page}");
    assert!(page.contains("<dt>Payments checked</dt><dd>1</dd>"), "{page}");
    assert!(page.contains("<dt>Payments settled</dt><dd>1</dd>"), "{page}");
    app.wait_for_order(&buyer.access_token, order, "paid").await;

    // The JSON route runs the same pass: nothing is left to settle.
    let again = app.post("/v1/admin/payments/reconciliation", Some(&admin.access_token), &json!({})).await;
    assert_eq!(again.status(), StatusCode::OK);
    let report: Value = again.json().await.unwrap();
    assert_eq!(report["payments_settled"], 0, "{report}");
    assert_eq!(report["refunds_unresolved"], 0);
    // The button and the JSON route are both audited as the admin, each with its report.
    let runs = audited(&app, &admin, "payments.reconciliation_run", 2, |_| true).await;
    assert!(runs.iter().any(|e| e["after"]["payments_settled"] == 1), "{runs:?}");
    assert!(runs.iter().any(|e| e["after"]["payments_settled"] == 0), "{runs:?}");
    let forged = browser.post("/admin/payments/reconciliation", &[("_csrf", "0")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a forged form runs nothing");
}

// ---- merchant webhooks ----------------------------------------------------------------------

/// A merchant's server on 127.0.0.1: counts requests and answers with `status`.
#[derive(Clone, Default)]
struct Merchant {
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<Bytes>>>,
}

impl Merchant {
    async fn start(status: u16) -> (Self, String) {
        let merchant = Merchant::default();
        merchant.status.store(status, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let recorder = merchant.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |body: Bytes| {
                let recorder = recorder.clone();
                async move {
                    recorder.received.lock().unwrap().push(body);
                    axum::http::StatusCode::from_u16(recorder.status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (merchant, url)
    }
}

#[tokio::test]
async fn an_admin_adds_an_endpoint_sees_its_secret_once_and_replays_a_dead_delivery() {
    let app = spawn_app_with(|config| {
        config.webhooks_allow_private = true;
        config.webhook_max_attempts = 1;
    })
    .await;
    let (admin, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let (merchant, url) = Merchant::start(500).await;
    let csrf = browser.csrf().await;

    let refused =
        browser.post("/admin/webhooks", &[("_csrf", &csrf), ("url", "ftp://x"), ("events", "*")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("The URL is refused"));
    let created = browser
        .post(
            "/admin/webhooks",
            &[("_csrf", &csrf), ("url", &url), ("events", "order.created"), ("description", "ERP")],
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = created.text().await.unwrap();
    let at = page.find("id=\"secret-value\" class=\"mono\" readonly value=\"").expect("the secret is shown");
    let secret = page[at..].split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed: Value =
        app.get("/v1/admin/webhook-endpoints", Some(&admin.access_token)).await.json().await.unwrap();
    let endpoint = listed["data"][0].clone();
    assert_eq!(endpoint["url"], url.as_str());
    assert_eq!(endpoint["events"], json!(["order.created"]));
    assert_eq!(endpoint["description"], "ERP");
    assert!(endpoint.get("secret").is_none());
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let list = browser.page("/admin/webhooks").await;
    assert!(list.contains(&format!("href=\"/admin/webhooks/{endpoint_id}\"")));
    assert!(!list.contains(&secret), "the secret is shown once");

    // An order is placed: its order.created goes to the endpoint, which answers 500 (dead).
    let variant = app.product(&admin, "physical", &[15_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("hooked@example.com").await;
    assert_eq!(app.checkout(&buyer.access_token, &[(&variant, 1)]).await.status(), StatusCode::CREATED);
    let deliveries = format!("/v1/admin/webhook-endpoints/{endpoint_id}/deliveries");
    let dead = eventually("the delivery to be dead-lettered", || async {
        let page: Value = app.get(&deliveries, Some(&admin.access_token)).await.json().await.unwrap();
        page["data"].as_array()?.iter().find(|d| d["status"] == "dead").cloned()
    })
    .await;
    let delivery_id = dead["id"].as_str().unwrap();
    let page = browser.page(&format!("/admin/webhooks/{endpoint_id}")).await;
    assert!(page.contains("class=\"delivery-dead\">Dead-lettered</td>"), "{page}");
    assert!(page.contains("HTTP 500"));
    assert!(page.contains(&format!("action=\"/admin/webhook-deliveries/{delivery_id}/replay\"")));
    let delivered_only = browser.page(&format!("/admin/webhooks/{endpoint_id}?status=delivered")).await;
    assert!(!delivered_only.contains(delivery_id), "the status filter narrows the deliveries");

    merchant.status.store(200, Ordering::SeqCst);
    let replayed =
        browser.post(&format!("/admin/webhook-deliveries/{delivery_id}/replay"), &[("_csrf", &csrf)]).await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        replayed.headers()["location"].to_str().unwrap(),
        format!("/admin/webhooks/{endpoint_id}?done=replayed")
    );
    eventually("the replayed delivery to arrive", || async {
        let page: Value = app.get(&deliveries, Some(&admin.access_token)).await.json().await.unwrap();
        page["data"]
            .as_array()?
            .iter()
            .find(|d| d["id"] == delivery_id && d["status"] == "delivered")
            .cloned()
    })
    .await;
    assert_eq!(merchant.received.lock().unwrap().len(), 2, "sent once, then once more on replay");

    // Disabled (the box left unticked), then deleted.
    let saved = browser
        .post(
            &format!("/admin/webhooks/{endpoint_id}"),
            &[
                ("_csrf", &csrf),
                ("url", &url),
                ("events", "order.created, order.shipped"),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let changed: Value = app
        .get(&format!("/v1/admin/webhook-endpoints/{endpoint_id}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["events"], json!(["order.created", "order.shipped"]));
    assert_eq!(changed["description"], Value::Null);
    let deleted = browser.post(&format!("/admin/webhooks/{endpoint_id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(deleted.headers()["location"], "/admin/webhooks?done=deleted");
    let gone =
        app.get(&format!("/v1/admin/webhook-endpoints/{endpoint_id}"), Some(&admin.access_token)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

// ---- stock import ---------------------------------------------------------------------------

#[tokio::test]
async fn a_stock_import_with_a_bad_row_names_every_bad_line_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let (a, b, digital) = (format!("A-{tag}"), format!("B-{tag}"), format!("D-{tag}"));
    let (_, physical) = product_with_skus(&app, &admin, "physical", &[&a, &b]).await;
    product_with_skus(&app, &admin, "digital", &[&digital]).await;
    app.stock(&admin, &physical[0], 5).await;
    let buyer = app.register("holder@example.com").await;
    assert_eq!(app.checkout(&buyer.access_token, &[(&physical[0], 2)]).await.status(), StatusCode::CREATED);

    let csv = format!("sku,on_hand\n{a},1\n{b},abc\nNOPE-{tag},3\n{digital},4\n{b},2\n");
    let refused = import_csv(&app, &admin.access_token, &csv).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    let lines: Vec<(i64, &str)> = body["error"]["details"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["line"].as_i64().unwrap(), l["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, "below_reserved"),
            (3, "not_a_whole_number"),
            (4, "unknown_sku"),
            (5, "digital_variant"),
            (6, "duplicate_sku")
        ]
    );
    assert_eq!(body["error"]["details"]["lines"][0]["reserved"], 2);
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "lines[2].on_hand");
    let level = app.stock_level(&admin, &physical[0]).await;
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(5), Some(2)),
        "nothing changed"
    );
    assert_eq!(app.stock_level(&admin, &physical[1]).await["on_hand"], 0);

    let wrong_type = app
        .client
        .post(app.url("/v1/admin/stock/import"))
        .bearer_auth(&admin.access_token)
        .json(&json!({"sku": a}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let customer = app.user_with_role("clerk@example.com", Role::Customer).await;
    let forbidden = import_csv(&app, &customer.access_token, &format!("sku,on_hand\n{a},100\n")).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.stock_level(&admin, &physical[0]).await["on_hand"], 5);
}

#[tokio::test]
async fn a_stock_import_sets_each_level_as_an_audited_adjustment() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let (a, b, c) = (format!("A-{tag}"), format!("B-{tag}"), format!("C-{tag}"));
    let (_, ids) = product_with_skus(&app, &admin, "physical", &[&a, &b, &c]).await;
    app.stock(&admin, &ids[0], 5).await;
    app.stock(&admin, &ids[2], 4).await;

    let csv = format!("SKU,on_hand,reason\n{a},12,\"count, aisle 3\"\n\"{b}\",7,\n{c},4,recount\n");
    let imported = import_csv(&app, &admin.access_token, &csv).await;
    assert_eq!(imported.status(), StatusCode::OK);
    let body: Value = imported.json().await.unwrap();
    assert_eq!(body["changed"], 2, "C was already at 4: {body}");
    assert_eq!(body["data"][0]["before"], 5);
    assert_eq!(body["data"][0]["delta"], 7);
    assert_eq!(body["data"][1]["on_hand"], 7);
    let first = app.stock_level(&admin, &ids[0]).await;
    assert_eq!(first["on_hand"], 12);
    assert_eq!(first["movements"][0]["delta"], 7);
    assert_eq!(first["movements"][0]["reason"], "count, aisle 3");
    assert_eq!(first["movements"][0]["actor"], admin.id.as_str());
    let second = app.stock_level(&admin, &ids[1]).await;
    assert_eq!(
        (second["on_hand"].as_i64(), second["movements"][0]["reason"].as_str()),
        (Some(7), Some("stock import"))
    );
    assert_eq!(
        app.stock_level(&admin, &ids[2]).await["movements"].as_array().unwrap().len(),
        1,
        "no movement for C"
    );
    // A's receipt and its imported level, and B's imported level: stock adjustments by the admin.
    let moved = audited(&app, &admin, "stock.moved", 3, |e| {
        e["entity"] == ids[0].as_str() || e["entity"] == ids[1].as_str()
    })
    .await;
    assert!(moved.iter().any(|e| e["entity"] == ids[1].as_str() && e["after"]["on_hand"] == 7), "{moved:?}");
}

#[tokio::test]
async fn the_products_page_imports_a_csv_and_shows_each_level_or_each_bad_line() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let a = format!("A-{tag}");
    let (_, ids) = product_with_skus(&app, &admin, "physical", &[&a]).await;
    let page = browser.page("/admin/products").await;
    assert!(page.contains("action=\"/admin/stock/import\""));
    let csrf = browser.csrf().await;

    let bad = upload(
        &browser,
        &app,
        "/admin/stock/import",
        &csrf,
        "take.csv",
        "text/csv",
        format!("sku,on_hand\n{a},-4\n").as_bytes(),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(page.contains("The file has bad lines; nothing was changed."), "{page}");
    assert!(page.contains("<td>2</td>") && page.contains("Must not be below zero."), "{page}");
    assert_eq!(app.stock_level(&admin, &ids[0]).await["on_hand"], 0);

    let good = upload(
        &browser,
        &app,
        "/admin/stock/import",
        &csrf,
        "take.csv",
        "text/csv",
        format!("sku,on_hand\n{a},9\n").as_bytes(),
    )
    .await;
    assert_eq!(good.status(), StatusCode::OK);
    let page = good.text().await.unwrap();
    assert!(page.contains("Imported: 1 variants changed."), "{page}");
    assert!(page.contains("id=\"import-results\""));
    assert_eq!(app.stock_level(&admin, &ids[0]).await["on_hand"], 9);
    let forged = upload(
        &browser,
        &app,
        "/admin/stock/import",
        "0",
        "take.csv",
        "text/csv",
        format!("sku,on_hand\n{a},1\n").as_bytes(),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.stock_level(&admin, &ids[0]).await["on_hand"], 9);
}

// ---- variants and key files ------------------------------------------------------------------

#[tokio::test]
async fn a_variant_added_on_the_product_page_can_be_stocked_and_sold() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let (product, _) = product_with_skus(&app, &admin, "physical", &[&format!("A-{tag}")]).await;
    let page = browser.page(&format!("/admin/products/{product}")).await;
    assert!(page.contains(&format!("action=\"/admin/products/{product}/variants\"")));
    let csrf = browser.csrf().await;
    let sku = format!("BIG-{tag}");
    let path = format!("/admin/products/{product}/variants");
    let added = browser
        .post(&path, &[("_csrf", &csrf), ("sku", &sku), ("price", "45000"), ("options", "size=1kg")])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        added.headers()["location"].to_str().unwrap(),
        format!("/admin/products/{product}?done=variant")
    );
    let again = browser
        .post(&path, &[("_csrf", &csrf), ("sku", &sku), ("price", "45000"), ("options", "size=2kg")])
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("That SKU is taken."));

    let json: Value = app
        .get(&format!("/v1/admin/products/{product}"), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    let variants = json["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "one added, the duplicate SKU refused");
    let new = variants.iter().find(|v| v["sku"] == sku.as_str()).unwrap();
    assert_eq!(new["price"]["amount"], 45_000);
    assert_eq!(new["options"]["size"], "1kg");
    let variant = new["id"].as_str().unwrap();
    app.stock(&admin, variant, 3).await;
    let buyer = app.register("bigbag@example.com").await;
    let placed = app.checkout(&buyer.access_token, &[(variant, 2)]).await;
    assert_eq!(placed.status(), StatusCode::CREATED, "the new variant sells");
    assert_eq!(app.stock_level(&admin, variant).await["reserved"], 2);
}

#[tokio::test]
async fn a_key_file_uploaded_adds_one_item_and_the_same_file_again_is_reported() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::Admin).await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let (product, ids) = product_with_skus(&app, &admin, "digital", &[&format!("LIC-{tag}")]).await;
    let variant = &ids[0];
    let page = browser.page(&format!("/admin/products/{product}")).await;
    assert!(page.contains(&format!("action=\"/admin/variants/{variant}/key-file\"")));
    let csrf = browser.csrf().await;
    let path = format!("/admin/variants/{variant}/key-file");
    let licence = b"LICENCE-0001\nvalid for one seat\n";

    let first = upload(&browser, &app, &path, &csrf, "licence.txt", "text/plain", licence).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.text().await.unwrap().contains("1 keys added."));
    assert_eq!(app.stock_level(&admin, variant).await["available"], 1);
    let second = upload(&browser, &app, &path, &csrf, "licence-copy.txt", "text/plain", licence).await;
    assert_eq!(second.status(), StatusCode::OK);
    let page = second.text().await.unwrap();
    assert!(page.contains("0 keys added."), "{page}");
    assert!(page.contains("<li class=\"mono\">licence-copy.txt</li>"), "the duplicate is named: {page}");
    assert_eq!(app.stock_level(&admin, variant).await["available"], 1, "the same file is one item");

    // The JSON route sees the same file as the same item.
    let api = app
        .client
        .post(app.url(&format!("/v1/admin/variants/{variant}/digital-items/files?file_name=again.txt")))
        .bearer_auth(&admin.access_token)
        .header("content-type", "text/plain")
        .body(licence.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::CREATED);
    let added: Value = api.json().await.unwrap();
    assert_eq!((added["added"].as_i64(), added["duplicates"][0].as_str()), (Some(0), Some("again.txt")));
    let empty = upload(&browser, &app, &path, &csrf, "empty.txt", "text/plain", b"").await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().await.unwrap().contains("Choose a file."));
}

// ---- who may ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_buyer_gets_403_from_the_payment_and_webhook_pages_and_routes() {
    let app = spawn_app().await;
    let email = format!("buyer-{}@example.com", uuid::Uuid::now_v7().simple());
    let buyer = app.user_with_role(&email, Role::Customer).await;
    let mut browser = Browser::english(&app);
    browser.login(&email, PASSWORD).await;
    for path in ["/admin/payments", "/admin/webhooks"] {
        assert_eq!(browser.get(path).await.status(), StatusCode::FORBIDDEN, "GET {path}");
    }
    let csrf = browser.csrf().await;
    let ran = browser.post("/admin/payments/reconciliation", &[("_csrf", &csrf)]).await;
    assert_eq!(ran.status(), StatusCode::FORBIDDEN);
    let created = browser
        .post("/admin/webhooks", &[("_csrf", &csrf), ("url", "https://example.com/h"), ("events", "*")])
        .await;
    assert_eq!(created.status(), StatusCode::FORBIDDEN);
    let api = app.post("/v1/admin/payments/reconciliation", Some(&buyer.access_token), &json!({})).await;
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    let admin = app.admin().await;
    let listed: Value =
        app.get("/v1/admin/webhook-endpoints", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "the buyer's form created nothing");
}
