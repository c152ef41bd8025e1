//! A local SendGrid v3 Mail Send endpoint (`POST /v3/mail/send`, Bearer key, 202 when
//! queued). Tests script its next answers (a 503, a 400, a 429 with Retry-After) and read the
//! mails it accepted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const API_KEY: &str = "SG.test-key";

#[derive(Default)]
struct Inner {
    next: VecDeque<u16>,
    accepted: Vec<Value>,
    calls: usize,
}

#[derive(Clone)]
pub struct FakeSendGrid {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSendGrid {
    pub async fn start() -> Self {
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new().route("/v3/mail/send", post(send)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// The next answers, in order, before it accepts again.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().next.extend(statuses);
    }

    pub fn accepted(&self) -> Vec<Value> {
        self.inner.lock().unwrap().accepted.clone()
    }

    /// The accepted mails to `address` whose subject starts with `subject`.
    pub fn accepted_to(&self, address: &str, subject: &str) -> Vec<Value> {
        self.accepted()
            .into_iter()
            .filter(|m| {
                m["personalizations"][0]["to"][0]["email"] == address
                    && m["subject"].as_str().unwrap_or("").starts_with(subject)
            })
            .collect()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().calls
    }
}

async fn send(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.calls += 1;
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {API_KEY}")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"errors": [{"message": "bad key"}]}))).into_response();
    }
    if body["personalizations"][0]["to"][0]["email"].as_str().is_none()
        || body["content"].as_array().is_none()
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"message": "malformed"}]})))
            .into_response();
    }
    match inner.next.pop_front() {
        Some(429) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], "slow down").into_response(),
        Some(status) => {
            let status = StatusCode::from_u16(status).unwrap();
            (status, Json(json!({"errors": [{"message": format!("scripted {status}")}]}))).into_response()
        }
        None => {
            inner.accepted.push(body);
            StatusCode::ACCEPTED.into_response()
        }
    }
}
