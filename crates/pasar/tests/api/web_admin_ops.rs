//! The admin's vouchers and shipping pages, and the refund form sent twice, driven as a
//! browser would; what they do is checked through the JSON API.

use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, audited, location, signed_in_admin};
use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// The page's text with `/` read back as itself.
async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap().replace("&#x2f;", "/")
}

async fn vouchers(app: &TestApp, admin: &Session) -> Vec<Value> {
    let page: Value = app.get("/v1/admin/vouchers", Some(&admin.access_token)).await.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_voucher_made_on_the_page_validates_until_it_is_paused_and_bad_input_makes_none() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let variant = app.product(&admin, "physical", &[80_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register(&format!("hemat-{}@example.com", uuid::Uuid::now_v7().simple())).await;
    let validate = || async {
        let body = json!({"code": "hemat10", "items": [{"variant_id": variant, "quantity": 1}]});
        app.post("/v1/vouchers/validate", Some(&buyer.access_token), &body).await
    };

    let form = browser.page("/admin/vouchers/new").await;
    assert!(form.contains("action=\"/admin/vouchers\"") && form.contains("name=\"per_buyer_limit\""));
    let csrf = browser.csrf().await;
    let too_much = browser
        .post(
            "/admin/vouchers",
            &[
                ("_csrf", &csrf),
                ("code", "hemat10"),
                ("kind", "percent"),
                ("value", "150"),
                ("stackable", "on"),
            ],
        )
        .await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY, "150% is refused");
    let page = text(too_much).await;
    assert!(page.contains("a whole number from 1 to 100"), "the form says why: {page}");
    assert!(page.contains("value=\"hemat10\"") && page.contains("value=\"150\""), "and keeps what was typed");
    assert!(vouchers(&app, &admin).await.is_empty(), "nothing was created");

    let created = browser
        .post(
            "/admin/vouchers",
            &[
                ("_csrf", &csrf),
                ("code", "hemat10"),
                ("kind", "percent"),
                ("value", "10"),
                ("max_discount", "50000"),
                ("usage_limit", "100"),
                ("ends_at", "2099-12-31T23:59"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let to = location(&created);
    assert!(to.starts_with("/admin/vouchers/") && to.ends_with("?done=created"), "{to}");
    let made = vouchers(&app, &admin).await;
    assert_eq!(made.len(), 1);
    assert_eq!(
        (
            &made[0]["code"],
            &made[0]["percent_off"],
            &made[0]["usage_limit"],
            &made[0]["max_discount"]["amount"]
        ),
        (&json!("HEMAT10"), &json!(10), &json!(100), &json!(50_000))
    );
    let id = made[0]["id"].as_str().unwrap().to_owned();
    let quoted = validate().await;
    assert_eq!(quoted.status(), StatusCode::OK);
    assert_eq!(quoted.json::<Value>().await.unwrap()["discount"]["amount"], 8_000, "10% of 80,000");

    let list = browser.page("/admin/vouchers").await;
    assert!(list.contains("HEMAT10") && list.contains("0 / 100"), "listed with its uses: {list}");
    let taken = browser
        .post(
            "/admin/vouchers",
            &[("_csrf", &csrf), ("code", "HEMAT10"), ("kind", "amount"), ("value", "5000")],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT, "a code is the shop's once");

    let paused = browser.post(&format!("/admin/vouchers/{id}/pause"), &[("_csrf", &csrf)]).await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    let refused = validate().await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["details"]["reason"], "paused");
    let detail = browser.page(&format!("/admin/vouchers/{id}?done=paused")).await;
    assert!(detail.contains("The voucher was paused.") && detail.contains("Resume the voucher"), "{detail}");

    let resumed = browser.post(&format!("/admin/vouchers/{id}/resume"), &[("_csrf", &csrf)]).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert_eq!(validate().await.status(), StatusCode::OK, "usable again");
    audited(&app, &admin, &admin.id, &["voucher.created", "voucher.paused", "voucher.resumed"]).await;
}

#[tokio::test]
async fn a_shipping_zone_and_method_made_on_the_page_are_quoted_until_deleted() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let quote = || async {
        let path = format!("/v1/shipping/quote?items={variant}:1&country=ID&postal_code=10110");
        let body: Value = app.get(&path, None).await.json().await.unwrap();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (q["method"].as_str().unwrap_or_default().to_owned(), q["price"]["amount"].as_i64().unwrap())
            })
            .collect::<Vec<_>>()
    };
    let csrf = browser.csrf().await;

    let bad_zone = browser
        .post("/admin/shipping/zones", &[("_csrf", &csrf), ("name", "Jakarta"), ("country", "Indonesia")])
        .await;
    assert_eq!(bad_zone.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(bad_zone).await.contains("two-letter code"));
    let zone = browser
        .post(
            "/admin/shipping/zones",
            &[("_csrf", &csrf), ("name", "Jakarta"), ("country", "id"), ("postal_prefixes", "1")],
        )
        .await;
    assert_eq!(zone.status(), StatusCode::SEE_OTHER);
    let zones: Value =
        app.get("/v1/admin/shipping/zones", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(
        (&zones["data"][0]["country"], &zones["data"][0]["postal_prefixes"]),
        (&json!("ID"), &json!(["1"]))
    );
    let zone_id = zones["data"][0]["id"].as_str().unwrap().to_owned();

    let method = [
        ("_csrf", csrf.as_str()),
        ("code", "kilat"),
        ("name", "Kilat"),
        ("rate", "flat"),
        ("price", "15000"),
        ("zone", zone_id.as_str()),
        ("min_days", "1"),
        ("max_days", "2"),
    ];
    let mut bad = method;
    bad[1] = ("code", "Kilat Express");
    let refused = browser.post("/admin/shipping/methods", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains("value=\"Kilat Express\""), "the form keeps what was typed");
    assert!(quote().await.is_empty(), "nothing was created");

    let created = browser.post("/admin/shipping/methods", &method).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(quote().await, [("kilat".to_owned(), 15_000)]);
    let page = browser.page("/admin/shipping?done=method_created").await;
    assert!(page.contains("The shipping method was created.") && page.contains(">kilat<"), "{page}");

    let in_use = browser.post(&format!("/admin/shipping/zones/{zone_id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(in_use.status(), StatusCode::CONFLICT, "a zone a method serves stays");
    let methods: Value =
        app.get("/v1/admin/shipping/methods", Some(&admin.access_token)).await.json().await.unwrap();
    let method_id = methods["data"][0]["id"].as_str().unwrap().to_owned();
    let deleted =
        browser.post(&format!("/admin/shipping/methods/{method_id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert!(quote().await.is_empty(), "a deleted method is not offered");
    let gone = browser.post(&format!("/admin/shipping/zones/{zone_id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    let zones: Value =
        app.get("/v1/admin/shipping/zones", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(zones["data"], json!([]));
}

#[tokio::test]
async fn the_refund_form_sent_twice_refunds_once() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let variant = app.product(&admin, "physical", &[50_000]).await.remove(0);
    app.stock(&admin, &variant, 10).await;
    let buyer = app.register(&format!("twice-{}@example.com", uuid::Uuid::now_v7().simple())).await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 2)]).await.json().await.unwrap();
    let order = placed["order"]["id"].as_str().unwrap().to_owned();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&buyer.access_token, &order, "paid").await;

    let csrf = browser.csrf().await;
    let page = browser.page(&format!("/admin/orders/{order}")).await;
    let key = page
        .split("name=\"idempotency_key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the refund form carries a key")
        .to_owned();
    let form = [
        ("_csrf", csrf.as_str()),
        ("idempotency_key", &key),
        ("amount", "30000"),
        ("reason", "one was broken"),
    ];
    let first = browser.post(&format!("/admin/orders/{order}/refunds"), &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = browser.post(&format!("/admin/orders/{order}/refunds"), &form).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "the second sending is answered as the first");
    assert_eq!(location(&again), location(&first));
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    let mut changed = form;
    changed[2] = ("amount", "40000");
    let reused = browser.post(&format!("/admin/orders/{order}/refunds"), &changed).await;
    assert_eq!(
        reused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the same form with other values is refused"
    );
    assert!(text(reused).await.contains("already sent with other values"));

    let seen: Value =
        app.get(&format!("/v1/admin/orders/{order}"), Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(seen["refunds"].as_array().unwrap().len(), 1, "one refund: {seen}");
    assert_eq!(seen["refunds"][0]["amount"]["amount"], 30_000);
    assert_eq!(seen["status"], "partially_refunded");
    let actions = audited(&app, &admin, &admin.id, &["order.partially_refunded"]).await;
    assert_eq!(actions.iter().filter(|a| *a == "order.partially_refunded").count(), 1);

    let fresh = browser.page(&format!("/admin/orders/{order}")).await;
    assert!(!fresh.contains(&key), "each drawing of the form has a key of its own");
}

#[tokio::test]
async fn a_buyer_gets_403_on_the_vouchers_and_shipping_pages_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let email = format!("nosy-{}@example.com", uuid::Uuid::now_v7().simple());
    app.user_with_role(&email, Role::Customer).await;
    let mut browser = Browser::new(&app);
    browser.login(&email, PASSWORD).await;
    for path in ["/admin/vouchers", "/admin/vouchers/new", "/admin/shipping", "/admin/delivery"] {
        assert_eq!(browser.get(path).await.status(), StatusCode::FORBIDDEN, "GET {path}");
    }
    let csrf = browser.csrf().await;
    let voucher = browser
        .post("/admin/vouchers", &[("_csrf", &csrf), ("code", "FREE"), ("kind", "percent"), ("value", "100")])
        .await;
    assert_eq!(voucher.status(), StatusCode::FORBIDDEN);
    let zone =
        browser.post("/admin/shipping/zones", &[("_csrf", &csrf), ("name", "X"), ("country", "ID")]).await;
    assert_eq!(zone.status(), StatusCode::FORBIDDEN);
    assert!(vouchers(&app, &admin).await.is_empty());
    let zones: Value =
        app.get("/v1/admin/shipping/zones", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(zones["data"], json!([]));
}

#[tokio::test]
async fn delivery_slots_set_up_on_the_page_change_what_buyers_are_offered() {
    let app = spawn_app().await;
    let (admin, mut browser) = signed_in_admin(&app, Role::SuperAdmin).await;
    let token = Some(admin.access_token.as_str());
    let zone = app
        .post(
            "/v1/admin/shipping/zones",
            token,
            &json!({"name": "Jakarta", "country": "ID", "postal_prefixes": ["1"]}),
        )
        .await;
    assert_eq!(zone.status(), StatusCode::CREATED);
    let zone = zone.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let buyer = app.register(&format!("slot-{}@example.com", uuid::Uuid::now_v7().simple())).await;
    let address = app
        .post(
            "/v1/me/addresses",
            Some(&buyer.access_token),
            &json!({"recipient_name": "Budi", "phone": "+62 812 3456 7890", "line1": "Jl. Sudirman 1",
                    "city": "Jakarta", "postal_code": "10110", "country": "ID"}),
        )
        .await;
    assert_eq!(address.status(), StatusCode::CREATED);
    let address = address.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let offered = || async {
        let path = format!("/v1/delivery/slots?address_id={address}&days=3");
        let body: Value = app.get(&path, Some(&buyer.access_token)).await.json().await.unwrap();
        body["data"].as_array().unwrap().clone()
    };
    assert!(offered().await.is_empty(), "no slots before any are set up");
    let csrf = browser.csrf().await;
    let templates = format!("/admin/delivery/zones/{zone}/templates");
    let every_day = ["1", "2", "3", "4", "5", "6", "7"].map(|d| ("weekday", d));
    let mut form = vec![("_csrf", csrf.as_str()), ("start", "12:00"), ("end", "09:00"), ("capacity", "5")];
    form.extend(every_day);
    let backwards = browser.post(&templates, &form).await;
    assert_eq!(backwards.status(), StatusCode::UNPROCESSABLE_ENTITY, "a slot ends after it starts");
    assert!(offered().await.is_empty(), "nothing was added");

    form[1] = ("start", "09:00");
    form[2] = ("end", "12:00");
    let added = browser.post(&templates, &form).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let slots = offered().await;
    assert!(slots.len() >= 2, "a slot a day: {slots:?}");
    assert!(
        slots.iter().all(|s| s["local_start"].as_str().unwrap().contains("T09:00") && s["capacity"] == 5)
    );
    let date = slots.last().unwrap()["date"].as_str().unwrap().to_owned();

    let closed = browser
        .post(&format!("/admin/delivery/zones/{zone}/closed-dates"), &[("_csrf", &csrf), ("date", &date)])
        .await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    assert!(offered().await.iter().all(|s| s["date"] != date.as_str()), "a closed date offers nothing");
    let page = browser.page(&format!("/admin/delivery?zone={zone}&done=closed")).await;
    assert!(page.contains("The date was closed.") && page.contains(&date), "{page}");
    let reopened = browser
        .post(&format!("/admin/delivery/zones/{zone}/closed-dates/{date}/delete"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(reopened.status(), StatusCode::SEE_OTHER);
    assert!(offered().await.iter().any(|s| s["date"] == date.as_str()), "open again");

    let capacity = browser
        .post(
            &format!("/admin/delivery/zones/{zone}/capacity"),
            &[("_csrf", &csrf), ("date", &date), ("capacity", "2")],
        )
        .await;
    assert_eq!(capacity.status(), StatusCode::SEE_OTHER);
    let slots = offered().await;
    let that_day = slots.iter().find(|s| s["date"] == date.as_str()).unwrap();
    assert_eq!(that_day["capacity"], 2, "the date's capacity: {that_day}");

    let manifest = browser.page(&format!("/admin/delivery?zone={zone}&date={date}")).await;
    assert!(manifest.contains("No paid orders to deliver on this date."));
    let setup: Value =
        app.get(&format!("/v1/admin/delivery/zones/{zone}"), token).await.json().await.unwrap();
    let template = setup["templates"][0]["id"].as_str().unwrap().to_owned();
    let removed = browser.post(&format!("{templates}/{template}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(offered().await.is_empty(), "a removed weekly slot is offered no more");
}
