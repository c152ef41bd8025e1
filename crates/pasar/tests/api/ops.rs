use reqwest::StatusCode;
use serde_json::Value;

use reqwest::Method;

use crate::helpers::{logged_for, spawn_app};

#[tokio::test]
async fn health_and_ready_answer_when_the_database_is_up() {
    let app = spawn_app().await;
    let health: Value = app.get("/health", None).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn ready_is_503_with_retry_after_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let response = app.get("/ready", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    app.get("/v1/me", None).await;
    app.get("/health", None).await;
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"pasar_http_requests_total{method="GET",route="/v1/me",status="401"} 1"#),
        "{text}"
    );
    assert!(text.contains("pasar_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("pasar_db_pool_connections"), "{text}");
}

#[tokio::test]
async fn the_root_is_a_page_that_points_at_the_docs_and_the_catalog() {
    let app = spawn_app().await;
    let response = app.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    for link in ["href=\"/docs\"", "href=\"/openapi.json\"", "href=\"/v1/products\""] {
        assert!(page.contains(link), "the page links {link}");
    }
    for linked in ["/docs/", "/openapi.json", "/v1/products"] {
        assert_eq!(app.get(linked, None).await.status(), StatusCode::OK, "{linked} answers");
    }
}

#[tokio::test]
async fn each_request_is_logged_once_with_its_route_status_and_request_id_and_health_checks_are_not() {
    let app = spawn_app().await;
    let (product, health) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let response = app
        .request(Method::GET, "/v1/products/no-such-product", None)
        .header("x-request-id", &product)
        .send()
        .await;
    assert_eq!(response.unwrap().status(), StatusCode::NOT_FOUND);
    let response = app.request(Method::GET, "/health", None).header("x-request-id", &health).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);

    let Some(lines) = logged_for(&product) else {
        eprintln!("TEST_LOG sends the logs to stderr: not checked");
        return;
    };
    let answered: Vec<&Value> = lines.iter().filter(|line| line["fields"]["message"] == "answered").collect();
    assert_eq!(answered.len(), 1, "one line per request: {lines:?}");
    let line = answered[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["route"], "/v1/products/{id_or_slug}", "the route, not the path");
    assert_eq!(line["fields"]["status"], 404);
    assert!(line["fields"]["latency_ms"].as_f64().is_some(), "{line}");
    assert_eq!(logged_for(&health).unwrap(), [] as [Value; 0], "health checks are not logged at info");
}

#[tokio::test]
async fn a_refused_webhook_is_logged_as_a_warning_with_the_reason() {
    let app = spawn_app().await;
    let request_id = uuid::Uuid::now_v7().to_string();
    let response = app
        .request(Method::POST, "/v1/webhooks/sandbox", None)
        .header("x-request-id", &request_id)
        .header("sandbox-signature", "t=1,v1=00")
        .header("content-type", "application/json")
        .body(r#"{"id": "evt_1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let Some(lines) = logged_for(&request_id) else {
        eprintln!("TEST_LOG sends the logs to stderr: not checked");
        return;
    };
    let warning = lines
        .iter()
        .find(|line| line["fields"]["message"] == "webhook rejected")
        .unwrap_or_else(|| panic!("no warning in {lines:?}"));
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["fields"]["code"], "invalid_signature");
    assert!(warning["fields"]["reason"].as_str().unwrap().contains("signature"), "{warning}");
}
