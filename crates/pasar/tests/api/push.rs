//! Web Push: a browser subscribes with what `PushManager.subscribe()` gave it and receives
//! messages only it can read, signed with the server's VAPID key; a push service's answers
//! decide what Pasar keeps.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::push::FakePushService;
use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

async fn app_with_push() -> TestApp {
    let key = pasar::push::VapidKey::generate();
    spawn_app_with(|config| {
        config.vapid_private_key = Some(key.private_key());
        config.vapid_subject = Some("mailto:ops@pasar.test".into());
        config.webhooks_allow_private = true;
    })
    .await
}

#[tokio::test]
async fn push_is_off_until_a_vapid_key_is_configured() {
    let app = spawn_app().await;
    let buyer = app.register("push-off@pasar.test").await;
    assert_error(app.get("/v1/push/public-key", None).await, StatusCode::NOT_FOUND, "push_not_configured")
        .await;
    let service = FakePushService::start().await;
    let (_, subscription) = service.new_browser();
    let response = app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &subscription).await;
    assert_error(response, StatusCode::NOT_FOUND, "push_not_configured").await;
}

#[tokio::test]
async fn a_subscribed_browser_receives_a_message_signed_by_the_server_and_sealed_for_it_alone() {
    let app = app_with_push().await;
    let service = FakePushService::start().await;
    let buyer = app.register("push-buyer@pasar.test").await;
    let public_key: Value = app.get("/v1/push/public-key", None).await.json().await.unwrap();
    let public_key = public_key["public_key"].as_str().unwrap().to_owned();

    let (phone, subscription) = service.new_browser();
    let response = app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &subscription).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["endpoint"], subscription["endpoint"]);
    assert!(
        saved.get("keys").is_none() && saved.get("auth").is_none(),
        "the browser's secret stays inside: {saved}"
    );

    // Another user's browser must not receive this user's messages.
    let other = app.register("push-other@pasar.test").await;
    let (_, elsewhere) = service.new_browser();
    let response = app.post("/v1/me/push-subscriptions", Some(&other.access_token), &elsewhere).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let sent: Value = app
        .post("/v1/me/push-subscriptions/test", Some(&buyer.access_token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent, json!({"delivered": 1, "removed": 0, "refused": 0}));
    assert!(service.refused().is_empty(), "the push service refused: {:?}", service.refused());
    let received = service.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].browser, phone);
    assert_eq!(received[0].vapid_key, public_key, "signed with the key browsers subscribed with");
    assert_eq!(received[0].message["title"], "Pasar");
    assert!(received[0].ttl.is_some(), "a push names how long the service may keep it");

    let listed: Value =
        app.get("/v1/me/push-subscriptions", Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0]["last_sent_at"].is_string());
}

#[tokio::test]
async fn a_browser_the_push_service_says_is_gone_is_unsubscribed() {
    let app = app_with_push().await;
    let service = FakePushService::start().await;
    let buyer = app.register("push-gone@pasar.test").await;
    let (laptop, first) = service.new_browser();
    let (_, second) = service.new_browser();
    for subscription in [&first, &second] {
        let response = app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), subscription).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    service.make_gone(laptop);

    let sent: Value = app
        .post("/v1/me/push-subscriptions/test", Some(&buyer.access_token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent, json!({"delivered": 1, "removed": 1, "refused": 0}));
    let listed: Value =
        app.get("/v1/me/push-subscriptions", Some(&buyer.access_token)).await.json().await.unwrap();
    let endpoints: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|s| &s["endpoint"]).collect();
    assert_eq!(endpoints, vec![&second["endpoint"]]);
}

#[tokio::test]
async fn a_push_service_that_cannot_take_the_message_is_an_error_worth_retrying() {
    let app = app_with_push().await;
    let service = FakePushService::start().await;
    let buyer = app.register("push-down@pasar.test").await;
    let (_, subscription) = service.new_browser();
    app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &subscription).await;
    service.fail_next(1);

    let response = app.post("/v1/me/push-subscriptions/test", Some(&buyer.access_token), &json!({})).await;
    assert_error(response, StatusCode::BAD_GATEWAY, "push_service_unavailable").await;
    let listed: Value =
        app.get("/v1/me/push-subscriptions", Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "a failing service is no reason to forget the browser"
    );

    let sent: Value = app
        .post("/v1/me/push-subscriptions/test", Some(&buyer.access_token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["delivered"], 1);
}

#[tokio::test]
async fn a_subscription_with_bad_keys_is_refused_and_someone_elses_cannot_be_ended() {
    let app = app_with_push().await;
    let service = FakePushService::start().await;
    let buyer = app.register("push-keys@pasar.test").await;
    let (_, mut subscription) = service.new_browser();
    let good = subscription.clone();
    subscription["keys"]["auth"] = json!("c2hvcnQ");
    let response = app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &subscription).await;
    let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "keys.auth");
    let listed: Value =
        app.get("/v1/me/push-subscriptions", Some(&buyer.access_token)).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was saved");

    let saved: Value =
        app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &good).await.json().await.unwrap();
    let stranger = app.register("push-stranger@pasar.test").await;
    let path = format!("/v1/me/push-subscriptions/{}", saved["id"].as_str().unwrap());
    assert_error(app.delete(&path, Some(&stranger.access_token)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_eq!(app.delete(&path, Some(&buyer.access_token)).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_endpoint_on_a_private_address_is_refused_when_the_ssrf_guard_is_on() {
    let key = pasar::push::VapidKey::generate();
    let app = spawn_app_with(|config| config.vapid_private_key = Some(key.private_key())).await;
    let service = FakePushService::start().await;
    let buyer = app.register("push-ssrf@pasar.test").await;
    let (_, subscription) = service.new_browser();
    let response = app.post("/v1/me/push-subscriptions", Some(&buyer.access_token), &subscription).await;
    let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "endpoint");
}
