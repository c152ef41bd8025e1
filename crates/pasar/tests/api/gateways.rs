//! The payment pipeline as a gateway sees it: every webhook logged, accepted or rejected.

use pasar::payments::providers::sandbox::signature_header;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{SANDBOX_SECRET, TestApp, assert_error, eventually, spawn_app};

async fn incoming(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/v1/admin/webhooks/incoming{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_gateway_webhook_is_logged_with_what_became_of_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[40_000]).await.remove(0);
    app.stock(&admin, &variant, 2).await;
    let ana = app.register("ana@example.com").await;
    let placed: Value = app.checkout(&ana.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    app.wait_for_order(&ana.access_token, placed["order"]["id"].as_str().unwrap(), "paid").await;

    let forged = app
        .client
        .post(app.url("/v1/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header("sandbox-signature", "t=1,v1=00")
        .header("authorization", "Bearer not-for-the-log")
        .body(r#"{"id":"evt_forged"}"#)
        .send()
        .await
        .unwrap();
    assert_error(forged, StatusCode::BAD_REQUEST, "invalid_signature").await;

    let log = eventually("both webhooks in the log", || async {
        let log = incoming(&app, &admin.access_token, "?provider=sandbox").await;
        (log["data"].as_array().unwrap().len() == 2).then_some(log)
    })
    .await;
    let rejected = &log["data"][0];
    assert_eq!(
        (rejected["result"].as_str(), rejected["error_code"].as_str()),
        (Some("rejected"), Some("invalid_signature"))
    );
    assert_eq!(rejected["status_code"], 400);
    assert_eq!(rejected["body"], r#"{"id":"evt_forged"}"#);
    assert_eq!(rejected["headers"]["sandbox-signature"], "t=1,v1=00");
    assert!(rejected["headers"].get("authorization").is_none(), "no credentials kept: {rejected}");
    let applied = &log["data"][1];
    assert_eq!((applied["result"].as_str(), applied["kind"].as_str()), (Some("applied"), Some("payment")));
    assert!(applied["body"].as_str().unwrap().contains(placed["payment"]["id"].as_str().unwrap()));

    let only_rejected = incoming(&app, &admin.access_token, "?result=rejected").await;
    assert_eq!(only_rejected["data"].as_array().unwrap().len(), 1);
    let buyer = app.get("/v1/admin/webhooks/incoming", Some(&ana.access_token)).await;
    assert_error(buyer, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_replayed_webhook_is_logged_as_changing_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let deposit: Value = app
        .post(
            "/v1/wallet/deposits",
            Some(&ana.access_token),
            &json!({"amount": {"amount": 10_000, "currency": "IDR"}, "payment_method": "sandbox"}),
        )
        .await
        .json()
        .await
        .unwrap();
    app.press(deposit["id"].as_str().unwrap(), "succeed").await;
    let first = eventually("the deposit's webhook in the log", || async {
        let log = incoming(&app, &admin.access_token, "").await;
        log["data"].as_array().unwrap().first().cloned()
    })
    .await;
    let body = first["body"].as_str().unwrap().as_bytes().to_vec();
    let signature = signature_header(SANDBOX_SECRET.as_bytes(), app.clock.now().unix_seconds(), &body);
    let again = app
        .client
        .post(app.url("/v1/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header("sandbox-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["result"], "no_change");
    let log = incoming(&app, &admin.access_token, "").await;
    assert_eq!(log["data"][0]["result"], "no_change");
    assert_eq!(log["data"][1]["result"], "applied");
}

#[tokio::test]
async fn entries_past_thirty_days_are_pruned() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.post_raw("/v1/webhooks/sandbox", "application/json", "{}").await;
    assert_eq!(incoming(&app, &admin.access_token, "").await["data"].as_array().unwrap().len(), 1);
    let month_later = app.clock.now().plus(std::time::Duration::from_secs(31 * 24 * 3600));
    assert_eq!(
        app.state
            .webhook_log
            .prune_before(month_later.minus(pasar::payments::webhook_log::RETENTION))
            .await
            .unwrap(),
        1
    );
    assert_eq!(incoming(&app, &admin.access_token, "").await["data"], json!([]));
}

/// How many `event_type` events (`payment.provider_down` or `_up`) name `provider`.
pub async fn outage_events(app: &TestApp, provider: &str, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE event_type = $1 AND subject_id = $2")
        .bind(event_type)
        .bind(provider)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
}

/// What every provider's breaker does, driven by `checkout` (one buyer's checkout with one of
/// the provider's methods) after the caller made its next five creates fail: five failures open
/// it, so the sixth buyer is refused at once (503 `payment_provider_unavailable` with
/// `Retry-After`, the provider not asked, nothing held) and one `payment.provider_down` is
/// recorded; after the cool-off a checkout that goes through closes it (`payment.provider_up`).
/// `asked` counts the creates the provider received.
pub async fn five_failures_open_the_breaker_and_an_answer_after_the_cool_off_closes_it<C, F>(
    app: &TestApp,
    provider: &str,
    checkout: C,
    asked: impl Fn() -> usize,
) where
    C: Fn() -> F,
    F: std::future::Future<Output = reqwest::Response>,
{
    let outages = |event_type: &'static str| outage_events(app, provider, event_type);
    for _ in 0..5 {
        assert_eq!(checkout().await.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let tried = asked();
    let refused = checkout().await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "payment_provider_unavailable").await;
    assert_eq!(asked(), tried, "refused without asking {provider}");
    assert_eq!(outages("payment.provider_down").await, 1);

    app.clock.advance(std::time::Duration::from_secs(31));
    assert_eq!(checkout().await.status(), StatusCode::CREATED, "{provider} answers again");
    assert_eq!(outages("payment.provider_down").await, 1, "one event per outage");
    assert_eq!(outages("payment.provider_up").await, 1);
    crate::checkout::assert_invariants(app).await;
}
