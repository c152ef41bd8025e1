use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

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
