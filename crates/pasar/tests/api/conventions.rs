//! Bad input of every kind gets its documented status and envelope, never a 500, and changes
//! nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with};

/// After a refused registration, the email is still free: nothing was written.
async fn assert_nothing_registered(app: &TestApp, email: &str) {
    let response = app
        .post("/v1/auth/register", None, &json!({"email": email, "password": PASSWORD, "name": "Ana"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{email} was still free");
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    for body in
        [r#"{"email": "ana@example.com", "#, "not json", r#"{"email": "ana@example.com"} trailing"#, ""]
    {
        let response = app.post_raw("/v1/auth/register", "application/json", body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    assert_nothing_registered(&app, "ana@example.com").await;
}

#[tokio::test]
async fn an_unknown_field_is_a_422_naming_it_and_cannot_set_a_role() {
    let app = spawn_app().await;
    let body =
        json!({"email": "ana@example.com", "password": PASSWORD, "name": "Ana", "role": "super_admin"});
    let envelope = assert_error(
        app.post("/v1/auth/register", None, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(envelope["error"]["details"]["fields"][0]["field"], "role");
    assert_nothing_registered(&app, "ana@example.com").await;
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"email": 42, "password": PASSWORD, "name": "Ana"}), "email"),
        (json!({"email": "ana@example.com", "password": PASSWORD, "name": ["Ana"]}), "name"),
        (json!({"email": "ana@example.com", "password": null, "name": "Ana"}), "password"),
        (json!({"email": "ana@example.com", "name": "Ana"}), "password"),
        (json!(["ana@example.com"]), ""),
    ];
    for (body, field) in cases {
        let envelope = assert_error(
            app.post("/v1/auth/register", None, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(envelope["error"]["details"]["fields"][0]["field"], field, "{envelope}");
    }
    assert_nothing_registered(&app, "ana@example.com").await;
}

#[tokio::test]
async fn invalid_emails_are_422() {
    let app = spawn_app().await;
    for email in ["", "ana", "ana@", "@example.com", "ana@example", "ana example@x.com", "ana@@example.com"] {
        let body = json!({"email": email, "password": PASSWORD, "name": "Ana"});
        let envelope = assert_error(
            app.post("/v1/auth/register", None, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(envelope["error"]["details"]["fields"][0]["field"], "email");
    }
}

#[tokio::test]
async fn overlong_and_empty_strings_are_422() {
    let app = spawn_app().await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        (json!({"email": long_email, "password": PASSWORD, "name": "Ana"}), "email"),
        (json!({"email": "ana@example.com", "password": "x".repeat(129), "name": "Ana"}), "password"),
        (json!({"email": "ana@example.com", "password": "short", "name": "Ana"}), "password"),
        (json!({"email": "ana@example.com", "password": PASSWORD, "name": "A".repeat(101)}), "name"),
        (json!({"email": "ana@example.com", "password": PASSWORD, "name": "   "}), "name"),
    ];
    for (body, field) in cases {
        let envelope = assert_error(
            app.post("/v1/auth/register", None, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(envelope["error"]["details"]["fields"][0]["field"], field, "{envelope}");
    }
    assert_nothing_registered(&app, "ana@example.com").await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app_with(|config| config.body_limit_bytes = 1024).await;
    let body =
        json!({"email": "ana@example.com", "password": PASSWORD, "name": "x".repeat(4096)}).to_string();
    let response = app.post_raw("/v1/auth/register", "application/json", body).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_nothing_registered(&app, "ana@example.com").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    let response = app.post_raw("/v1/auth/register", "text/plain", "email=ana@example.com").await;
    assert_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = app.delete("/v1/auth/login", None).await;
    assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = spawn_app().await;
    let generated = app.get("/health", None).await;
    assert!(!generated.headers()["x-request-id"].to_str().unwrap().is_empty());
    let given = app
        .request(reqwest::Method::GET, "/v1/me", None)
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn requests_past_the_per_ip_limit_get_429_with_retry_after() {
    let app = spawn_app_with(|config| config.rate_limit_per_minute = 5).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = app.get("/v1/me", None).await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry_after));
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        }
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    // Health checks are not counted against the client.
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let app = spawn_app_with(|config| config.cors_origins = "https://shop.example".into()).await;
    let preflight = |origin: &'static str| {
        app.request(reqwest::Method::OPTIONS, "/v1/auth/login", None)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://shop.example");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_with_its_schemas() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/me/addresses",
        "/v1/me/addresses/{id}",
        "/v1/admin/users",
        "/v1/admin/users/{id}",
        "/v1/admin/users/{id}/role",
        "/v1/admin/webhook-endpoints",
        "/v1/admin/webhook-endpoints/{id}",
        "/v1/admin/webhook-endpoints/{id}/deliveries",
        "/v1/admin/webhook-deliveries/{id}/replay",
        "/v1/admin/events/{id}/replay",
        "/v1/admin/audit",
        "/health",
        "/ready",
        "/metrics",
        "/v1/checkout",
        "/v1/orders/{id}",
        "/v1/carts/{id}/items",
        "/v1/webhooks/{provider}",
        "/v1/admin/variants/{id}/stock/adjust",
        "/v1/admin/variants/{id}/digital-items",
        "/v1/admin/orders/{id}/status",
        "/sandbox/pay/{payment_id}",
    ] {
        assert!(paths.contains_key(route), "{route} is missing from /openapi.json");
    }
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (status, response) in responses {
                // 204 and the WebSocket handshake's 101 carry no body.
                if status != "204" && status != "101" {
                    assert!(response.get("content").is_some(), "{method} {path} {status} has no schema");
                }
            }
            // These POSTs are commands on the resource in their path and take no body.
            let bodiless = path == "/v1/auth/logout"
                || path == "/v1/carts"
                || path.ends_with("/cancel")
                || path.starts_with("/sandbox/")
                || path.ends_with("/replay")
                || path == "/v1/me/telegram-link"
                || path == "/v1/me/email/verification"
                || path.ends_with("/deactivate")
                || path.ends_with("/reactivate")
                || path.ends_with("/reindex")
                || path == "/v1/admin/payments/reconciliation"
                || path.ends_with("/approve")
                || path.ends_with("/reinstate")
                || path.ends_with("/pause")
                || path.ends_with("/resume")
                || path.ends_with("/resend")
                || path.ends_with("/read")
                || path == "/v1/notifications/read-all"
                || path == "/v1/notifications/unsubscribe"
                || path == "/v1/me/push-subscriptions/test";
            if method == "put" || (method == "post" && !bodiless) {
                assert!(operation.get("requestBody").is_some(), "{method} {path} has no request body schema");
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_is_served_without_network_access() {
    let app = spawn_app().await;
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().to_lowercase().contains("swagger"));
    let script = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(script.status(), StatusCode::OK, "the UI's script is bundled, not fetched from a CDN");
}
