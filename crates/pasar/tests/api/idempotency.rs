use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

fn address(city: &str) -> Value {
    json!({"recipient_name": "Ana", "phone": "0812345678", "line1": "Jl. Merdeka 1", "city": city,
           "postal_code": "10110", "country": "ID"})
}

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.request(Method::POST, "/v1/me/addresses", Some(token))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn address_count(app: &TestApp, token: &str) -> usize {
    let list: Value = app.get("/v1/me/addresses", Some(token)).await.json().await.unwrap();
    list["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_response() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let first = post_with_key(&app, &ana.access_token, "key-1", &address("Jakarta")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let retry = post_with_key(&app, &ana.access_token, "key-1", &address("Jakarta")).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(address_count(&app, &ana.access_token).await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    post_with_key(&app, &ana.access_token, "key-1", &address("Jakarta")).await;
    let other = post_with_key(&app, &ana.access_token, "key-1", &address("Bandung")).await;
    assert_error(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    assert_eq!(address_count(&app, &ana.access_token).await, 1);
}

#[tokio::test]
async fn keys_belong_to_their_user() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let bob = app.register("bob@example.com").await;
    let anas: Value =
        post_with_key(&app, &ana.access_token, "shared", &address("Jakarta")).await.json().await.unwrap();
    let bobs = post_with_key(&app, &bob.access_token, "shared", &address("Jakarta")).await;
    assert_eq!(bobs.status(), StatusCode::CREATED);
    assert!(bobs.headers().get("idempotent-replayed").is_none());
    let bobs: Value = bobs.json().await.unwrap();
    assert_ne!(anas["id"], bobs["id"]);
}

#[tokio::test]
async fn a_request_refused_as_invalid_is_not_remembered() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let mut broken = address("Jakarta");
    broken["country"] = json!("Indonesia");
    let refused = post_with_key(&app, &ana.access_token, "key-1", &broken).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = post_with_key(&app, &ana.access_token, "key-1", &address("Jakarta")).await;
    assert_eq!(fixed.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_create_one_address() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let body = address("Jakarta");
    let responses =
        futures::future::join_all((0..8).map(|_| post_with_key(&app, &ana.access_token, "race", &body)))
            .await;
    let mut ids = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => ids.push(response.json::<Value>().await.unwrap()["id"].clone()),
            StatusCode::CONFLICT => {
                assert!(response.headers().contains_key("retry-after"));
                assert_error(response, StatusCode::CONFLICT, "idempotency_request_in_progress").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "every success is the same address: {ids:?}");
    assert_eq!(address_count(&app, &ana.access_token).await, 1);
}

#[tokio::test]
async fn a_key_expires_after_24_hours() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    post_with_key(&app, &ana.access_token, "key-1", &address("Jakarta")).await;
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    // The access token expired too; log in again.
    let fresh: Value = app.login("ana@example.com", crate::helpers::PASSWORD).await.json().await.unwrap();
    let token = fresh["access_token"].as_str().unwrap();
    let again = post_with_key(&app, token, "key-1", &address("Jakarta")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("idempotent-replayed").is_none());
    assert_eq!(address_count(&app, token).await, 2);
}

#[tokio::test]
async fn an_unusable_key_is_a_400() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let too_long = "k".repeat(256);
    let response = post_with_key(&app, &ana.access_token, &too_long, &address("Jakarta")).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    assert_eq!(address_count(&app, &ana.access_token).await, 0);
}
