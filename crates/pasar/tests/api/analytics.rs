//! Analytics over the orders a test makes: the figures equal the sums over those orders, a
//! store's figures are only its own, and the CSV export says what the JSON says.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, eventually, session_of, shipping_address, spawn_app};

/// An approved store with one physical product at `price`, 10 in stock: (seller, owner's user
/// id, variant).
async fn store(app: &TestApp, admin: &Session, price: i64) -> (Session, String, String) {
    let slug = format!("toko-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
    let (seller, _) = crate::sellers::seller(app, admin, &slug).await;
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app
        .post("/v1/admin/categories", Some(&admin.access_token), &json!({"name": format!("Batik {suffix}")}))
        .await;
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "category_id": category["id"],
        "name": format!("Batik {suffix}"), "description": "Hand-made", "kind": "physical", "status": "active",
        "seller_id": seller.id,
        "variants": [{"sku": format!("BTK-{}", &suffix[20..]), "options": {}, "price": {"amount": price, "currency": "IDR"}}],
    });
    let created = app.post("/v1/admin/products", Some(&admin.access_token), &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    let id = seller.id.clone();
    (seller, id, variant)
}

/// Places an order and, when `pay`, pays it; returns (order, payment) as the API shows them.
async fn order(app: &TestApp, buyer: &Session, items: &[(&str, i64)], pay: bool) -> (Value, Value) {
    let placed = app.checkout(&buyer.access_token, items).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    let id = placed["order"]["id"].as_str().unwrap();
    if !pay {
        return (placed["order"].clone(), placed["payment"].clone());
    }
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    (app.wait_for_order(&buyer.access_token, id, "paid").await, placed["payment"].clone())
}

fn amount(money: &Value) -> i64 {
    money["amount"].as_i64().unwrap()
}

/// What each store sold in `order`: its lines' totals.
fn store_part(order: &Value, store: &str) -> i64 {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["seller_id"] == store)
        .map(|l| amount(&l["line_total"]))
        .sum()
}

/// The period around now, by the day.
fn period(app: &TestApp) -> String {
    let now = app.clock.now();
    let day = std::time::Duration::from_secs(24 * 3600);
    format!("from={}&to={}&interval=day", now.minus(day).to_rfc3339(), now.plus(day).to_rfc3339())
}

async fn report(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

struct Shop {
    app: TestApp,
    admin: Session,
    sellers: [(Session, String); 2],
    /// The paid orders and their payments.
    paid: Vec<(Value, Value)>,
    refunded: i64,
}

/// Two stores; Ana pays for 2 of the first store's and 1 of the second's, Budi for 1 of the
/// second's, Citra places an order and never pays; the admin gives Ana 25 000 back.
async fn shop() -> Shop {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (first, first_id, first_variant) = store(&app, &admin, 40_000).await;
    let (second, second_id, second_variant) = store(&app, &admin, 65_000).await;
    let ana = app.register("ana@example.com").await;
    let budi = app.register("budi@example.com").await;
    let citra = app.register("citra@example.com").await;
    let anas = order(&app, &ana, &[(&first_variant, 2), (&second_variant, 1)], true).await;
    let budis = order(&app, &budi, &[(&second_variant, 1)], true).await;
    order(&app, &citra, &[(&first_variant, 1)], false).await;
    let refunded = 25_000;
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/orders/{}/refunds", anas.0["id"].as_str().unwrap()),
            Some(&admin.access_token),
        )
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({"amount": {"amount": refunded, "currency": "IDR"}, "reason": "a torn sleeve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Shop { app, admin, sellers: [(first, first_id), (second, second_id)], paid: vec![anas, budis], refunded }
}

#[tokio::test]
async fn the_shops_figures_are_the_sums_over_its_orders_payments_and_refunds() {
    let Shop { app, admin, sellers, paid, refunded } = shop().await;
    let token = admin.access_token.as_str();
    let period = period(&app);
    let sales = eventually("every order, payment and refund counted", || async {
        let sales = report(&app, token, &format!("/v1/admin/analytics/sales?{period}")).await;
        (amount(&sales["totals"]["refunds"]) == refunded).then_some(sales)
    })
    .await;
    let gmv: i64 = paid.iter().map(|(order, _)| amount(&order["total"])).sum();
    let fees: i64 = paid.iter().map(|(_, payment)| amount(&payment["fee"])).sum();
    let totals = &sales["totals"];
    assert_eq!(amount(&totals["gmv"]), gmv);
    assert_eq!(amount(&totals["net_revenue"]), gmv - refunded);
    assert_eq!(amount(&totals["fees"]), fees);
    assert_eq!(totals["orders_paid"], 2);
    assert_eq!(amount(&totals["average_order_value"]), gmv / 2);
    // The series adds up to the totals.
    let series_gmv: i64 = sales["series"].as_array().unwrap().iter().map(|p| amount(&p["gmv"])).sum();
    assert_eq!(series_gmv, gmv);

    let orders = report(&app, token, &format!("/v1/admin/analytics/orders?{period}")).await;
    assert_eq!(
        (&orders["totals"]["orders_placed"], &orders["totals"]["orders_paid"]),
        (&json!(3), &json!(2))
    );
    assert!((orders["totals"]["order_to_paid"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);

    let customers = report(&app, token, &format!("/v1/admin/analytics/customers?{period}")).await;
    assert_eq!(customers["totals"]["active_customers"], 2);
    assert!(customers["totals"]["new_users"].as_i64().unwrap() >= 3, "{customers}");

    let payments = report(&app, token, &format!("/v1/admin/analytics/payments?{period}")).await;
    assert_eq!(payments["totals"]["succeeded"], 2);
    assert_eq!(payments["totals"]["success_rate"], 1.0);
    assert_eq!(payments["channels"][0]["provider"], "sandbox");

    let products = report(&app, token, &format!("/v1/admin/analytics/products?{period}")).await;
    let units: i64 =
        products["top_products"].as_array().unwrap().iter().map(|p| p["units"].as_i64().unwrap()).sum();
    assert_eq!(units, 4);
    let store_revenue: i64 =
        products["top_stores"].as_array().unwrap().iter().map(|s| amount(&s["revenue"])).sum();
    let lines: i64 = paid
        .iter()
        .map(|(order, _)| store_part(order, &sellers[0].1) + store_part(order, &sellers[1].1))
        .sum();
    assert_eq!(store_revenue, lines);

    // The business counters on /metrics agree.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("pasar_orders{status=\"paid\"} 2"), "{metrics}");
    assert!(metrics.contains("pasar_payments{outcome=\"succeeded\",provider=\"sandbox\"} 2"), "{metrics}");
    assert!(metrics.contains("pasar_refunds 1"), "{metrics}");
}

#[tokio::test]
async fn a_store_sees_only_its_own_figures_and_the_admin_sees_the_same_of_it() {
    let Shop { app, admin, sellers, paid, refunded } = shop().await;
    let period = period(&app);
    eventually("the refund counted", || async {
        let sales = report(&app, &admin.access_token, &format!("/v1/admin/analytics/sales?{period}")).await;
        (amount(&sales["totals"]["refunds"]) == refunded).then_some(())
    })
    .await;
    let mut refunds = 0;
    for (seller, id) in &sellers {
        let own = report(&app, &seller.access_token, &format!("/v1/seller/analytics/sales?{period}")).await;
        let sold: i64 = paid.iter().map(|(order, _)| store_part(order, id)).sum();
        assert_eq!(amount(&own["totals"]["gmv"]), sold);
        refunds += amount(&own["totals"]["refunds"]);
        let by_admin =
            report(&app, &admin.access_token, &format!("/v1/admin/analytics/sales?{period}&store={id}"))
                .await;
        assert_eq!(by_admin["totals"], own["totals"]);
    }
    // Ana's order was all the stores' lines: her refund is shared out between them exactly.
    assert_eq!(refunds, refunded);

    // The second store sold to Ana and Budi, the first to Ana only (Citra never paid).
    let [(first, _), (second, _)] = &sellers;
    for (seller, buyers, placed) in [(first, 1, 2), (second, 2, 2)] {
        let customers =
            report(&app, &seller.access_token, &format!("/v1/seller/analytics/customers?{period}")).await;
        assert_eq!(customers["totals"]["active_customers"], buyers);
        let orders =
            report(&app, &seller.access_token, &format!("/v1/seller/analytics/orders?{period}")).await;
        assert_eq!(orders["totals"]["orders_placed"], placed);
    }

    // Sellers and customers do not read the shop's figures.
    let ana = app.login("ana@example.com", crate::helpers::PASSWORD).await.json::<Value>().await.unwrap();
    let ana = ana["access_token"].as_str().unwrap().to_owned();
    for token in [first.access_token.as_str(), ana.as_str()] {
        assert_eq!(app.get("/v1/admin/analytics/sales", Some(token)).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get("/v1/seller/analytics/sales", Some(&ana)).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_csv_export_has_a_row_per_bucket_with_the_json_figures() {
    let Shop { app, admin, refunded, .. } = shop().await;
    let token = admin.access_token.as_str();
    let period = period(&app);
    let sales = eventually("the refund counted", || async {
        let sales = report(&app, token, &format!("/v1/admin/analytics/sales?{period}")).await;
        (amount(&sales["totals"]["refunds"]) == refunded).then_some(sales)
    })
    .await;
    let response = app.get(&format!("/v1/admin/analytics/sales?{period}&format=csv"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("start,gmv,refunds,net_revenue,fees,orders_paid,average_order_value"));
    let rows: Vec<Vec<String>> = rows.map(|r| r.split(',').map(str::to_owned).collect()).collect();
    let series = sales["series"].as_array().unwrap();
    assert_eq!(rows.len(), series.len());
    for (row, point) in rows.iter().zip(series) {
        let expected = [
            point["start"].as_str().unwrap().to_owned(),
            amount(&point["gmv"]).to_string(),
            amount(&point["refunds"]).to_string(),
            amount(&point["net_revenue"]).to_string(),
            amount(&point["fees"]).to_string(),
            point["orders_paid"].to_string(),
            amount(&point["average_order_value"]).to_string(),
        ];
        assert_eq!(row, &expected);
    }

    let products = report(&app, token, &format!("/v1/admin/analytics/products?{period}")).await;
    let csv = app
        .get(&format!("/v1/admin/analytics/products?{period}&format=csv"), Some(token))
        .await
        .text()
        .await
        .unwrap();
    let expected: Vec<String> = products["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{},{},{}", p["product_id"].as_str().unwrap(), p["units"], amount(&p["revenue"])))
        .collect();
    assert_eq!(csv.lines().skip(1).map(str::to_owned).collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn a_period_that_ends_before_it_starts_or_is_too_long_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    let backwards =
        app.get("/v1/admin/analytics/sales?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", token).await;
    assert_eq!(backwards.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let too_long = app
        .get(
            "/v1/admin/analytics/orders?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour",
            token,
        )
        .await;
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Puts one unit of `variant` in a cart: a guest's (with its token) or a signed-in buyer's.
async fn put_in_cart(app: &TestApp, cart: &str, token: Option<&str>, guest: Option<&str>, variant: &str) {
    let mut request = app.request(reqwest::Method::POST, &format!("/v1/carts/{cart}/items"), token);
    if let Some(guest) = guest {
        request = request.header("x-cart-token", guest);
    }
    let added = request.json(&json!({"variant_id": variant, "quantity": 1})).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::OK);
}

async fn check_out_cart(app: &TestApp, token: &str, cart: &str) {
    let body = json!({"cart_id": cart, "payment_method": "sandbox", "shipping_address": shipping_address()});
    assert_eq!(app.post("/v1/checkout", Some(token), &body).await.status(), StatusCode::CREATED);
}

/// A guest's new cart with one unit of `variant`: (cart, token).
async fn guest_cart(app: &TestApp, variant: &str) -> (String, String) {
    let cart: Value = app.post("/v1/carts", None, &json!({})).await.json().await.unwrap();
    let (id, token) = (cart["id"].as_str().unwrap().to_owned(), cart["token"].as_str().unwrap().to_owned());
    put_in_cart(app, &id, None, Some(&token), variant).await;
    (id, token)
}

async fn log_in_with_cart(app: &TestApp, email: &str, cart: &(String, String)) -> Session {
    let login = app
        .post(
            "/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD, "cart": {"id": cart.0, "token": cart.1}}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    session_of(login.json().await.unwrap())
}

#[tokio::test]
async fn conversion_counts_each_cart_once_from_its_first_item_to_its_checkout() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 20).await;

    // Ana fills her cart and checks it out (1 started, 1 checked out), then fills it again,
    // empties it by hand and fills it once more: the same second cart, left there.
    let ana = app.register("ana@example.com").await;
    let hers: Value = app.post("/v1/carts", Some(&ana.access_token), &json!({})).await.json().await.unwrap();
    let hers = hers["id"].as_str().unwrap();
    put_in_cart(&app, hers, Some(&ana.access_token), None, &variant).await;
    check_out_cart(&app, &ana.access_token, hers).await;
    put_in_cart(&app, hers, Some(&ana.access_token), None, &variant).await;
    let removed = app.delete(&format!("/v1/carts/{hers}/items/{variant}"), Some(&ana.access_token)).await;
    assert_eq!(removed.status(), StatusCode::OK);
    put_in_cart(&app, hers, Some(&ana.access_token), None, &variant).await;

    // A guest's cart merged into Budi's empty one at login goes on as his, and is checked out.
    app.register("budi@example.com").await;
    let budi = log_in_with_cart(&app, "budi@example.com", &guest_cart(&app, &variant).await).await;
    let his: Value = app.post("/v1/carts", Some(&budi.access_token), &json!({})).await.json().await.unwrap();
    check_out_cart(&app, &budi.access_token, his["id"].as_str().unwrap()).await;

    // A guest's cart merged into Ana's going one ends there; an order without a cart counts in
    // orders only.
    log_in_with_cart(&app, "ana@example.com", &guest_cart(&app, &variant).await).await;
    let citra = app.register("citra@example.com").await;
    assert_eq!(app.checkout(&citra.access_token, &[(&variant, 1)]).await.status(), StatusCode::CREATED);

    app.clock.advance(std::time::Duration::from_secs(120));
    let leases = pasar::db::lease::Leases::new(app.state.db.clone());
    let counted = app.state.analytics.count_carts(&leases, std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(counted, 4, "Ana's two carts and the two guests'");

    let path = format!("/v1/admin/analytics/orders?{}", period(&app));
    let totals = eventually("the three orders counted", || async {
        let totals = report(&app, &admin.access_token, &path).await["totals"].clone();
        (totals["orders_placed"] == 3).then_some(totals)
    })
    .await;
    assert_eq!(totals["carts"], 4);
    assert_eq!(totals["carts_checked_out"], 2);
    assert_eq!(totals["cart_to_order"], 0.5, "two of the four carts were checked out");

    let again = app.state.analytics.count_carts(&leases, std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(again, 0, "counted once");
}
