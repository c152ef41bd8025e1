use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, session_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn registering_returns_201_with_the_user_and_a_token_pair() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/auth/register",
            None,
            &json!({"email": "Ana@Example.com", "password": PASSWORD, "name": "Ana"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert!(body["user"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(body["user"]["email"], "ana@example.com");
    assert_eq!(body["user"]["role"], "customer");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
    assert!(body["user"].get("password_hash").is_none());

    let me: Value = app.get("/v1/me", body["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(me["email"], "ana@example.com");
}

#[tokio::test]
async fn registering_an_email_twice_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.register("ana@example.com").await;
    let again = app
        .post(
            "/v1/auth/register",
            None,
            &json!({"email": "ANA@example.com", "password": PASSWORD, "name": "Ana"}),
        )
        .await;
    assert_error(again, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = spawn_app().await;
    let body = json!({"email": "race@example.com", "password": PASSWORD, "name": "R"});
    let statuses = statuses_of((0..8).map(|_| app.post("/v1/auth/register", None, &body))).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
}

/// Sends the requests at once and collects their statuses.
pub async fn statuses_of(
    requests: impl Iterator<Item = impl std::future::Future<Output = reqwest::Response>>,
) -> Vec<StatusCode> {
    futures::future::join_all(requests).await.iter().map(reqwest::Response::status).collect()
}

#[tokio::test]
async fn logging_in_with_the_right_password_opens_a_new_session() {
    let app = spawn_app().await;
    let first = app.register("ana@example.com").await;
    let response = app.login("ANA@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = session_of(response.json().await.unwrap());
    assert_eq!(second.id, first.id);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(app.get("/v1/me", Some(&second.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    app.register("ana@example.com").await;
    let wrong_password = assert_error(
        app.login("ana@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong_password, unknown);
}

#[tokio::test]
async fn me_without_a_token_is_401_and_says_how_to_authenticate() {
    let app = spawn_app().await;
    let response = app.get("/v1/me", None).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    let mut tampered = session.access_token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_error(app.get("/v1/me", Some(&tampered)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_error(app.get("/v1/me", Some("not-a-jwt")).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
}

#[tokio::test]
async fn an_access_token_expires_after_15_minutes_and_a_refresh_renews_it() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_error(
        app.get("/v1/me", Some(&session.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let renewed = app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed = session_of(renewed.json().await.unwrap());
    assert_eq!(app.get("/v1/me", Some(&renewed.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn refreshing_rotates_the_refresh_token() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    let response = app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rotated = session_of(response.json().await.unwrap());
    assert_ne!(rotated.refresh_token, session.refresh_token);
    assert_eq!(rotated.id, session.id);

    let again = app.post("/v1/auth/refresh", None, &json!({"refresh_token": rotated.refresh_token})).await;
    assert_eq!(again.status(), StatusCode::OK, "the rotated token works once");
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    let rotated = session_of(
        app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token}))
            .await
            .json()
            .await
            .unwrap(),
    );

    let reuse = app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_error(reuse, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;

    // The thief's replay killed the legitimate holder's tokens too: the family is revoked.
    let after = app.post("/v1/auth/refresh", None, &json!({"refresh_token": rotated.refresh_token})).await;
    assert_error(after, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_error(
        app.get("/v1/me", Some(&rotated.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Other sessions of the same user are untouched.
    assert_eq!(app.login("ana@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_refreshes_with_one_token_at_most_one_succeeds() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    let body = json!({"refresh_token": session.refresh_token});
    let statuses = statuses_of((0..6).map(|_| app.post("/v1/auth/refresh", None, &body))).await;
    let successes = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(successes <= 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[tokio::test]
async fn a_refresh_token_dies_after_7_days() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    let response = app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn an_unknown_refresh_token_is_401() {
    let app = spawn_app().await;
    let response = app.post("/v1/auth/refresh", None, &json!({"refresh_token": "made-up"})).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logging_out_ends_the_session_for_access_and_refresh_tokens() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    let other = session_of(app.login("ana@example.com", PASSWORD).await.json().await.unwrap());

    let response = app
        .request(reqwest::Method::POST, "/v1/auth/logout", Some(&session.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_error(
        app.get("/v1/me", Some(&session.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let refresh = app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_eq!(
        app.get("/v1/me", Some(&other.access_token)).await.status(),
        StatusCode::OK,
        "other sessions live on"
    );
}

#[tokio::test]
async fn a_session_checked_moments_ago_still_dies_at_once_on_logout_and_on_refresh_reuse() {
    let app = spawn_app().await;
    let session = app.register("ana@example.com").await;
    // The first request files the live session in memory; the logout must forget it.
    assert_eq!(app.get("/v1/me", Some(&session.access_token)).await.status(), StatusCode::OK);
    let logout = app.request(reqwest::Method::POST, "/v1/auth/logout", Some(&session.access_token));
    assert_eq!(logout.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get("/v1/me", Some(&session.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let other = session_of(app.login("ana@example.com", PASSWORD).await.json().await.unwrap());
    assert_eq!(app.get("/v1/me", Some(&other.access_token)).await.status(), StatusCode::OK);
    let body = json!({"refresh_token": other.refresh_token});
    assert_eq!(app.post("/v1/auth/refresh", None, &body).await.status(), StatusCode::OK);
    let reuse = app.post("/v1/auth/refresh", None, &body).await;
    assert_error(reuse, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    assert_error(
        app.get("/v1/me", Some(&other.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_account_with_retry_after() {
    let app = spawn_app_with(|config| config.login_attempts_per_account = 3).await;
    app.register("ana@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.login("ana@example.com", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app.login("ana@example.com", PASSWORD).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Another account from the same address is not affected by this account's limit.
    app.register("bob@example.com").await;
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_attempts_are_limited_per_ip() {
    let app = spawn_app_with(|config| config.login_attempts_per_ip = 2).await;
    for email in ["a@example.com", "b@example.com"] {
        assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(app.login("c@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        .await;
}
