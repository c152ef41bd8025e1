//! A local KOMOJU, following the documented contract for the calls Pasar makes: JSON bodies
//! under `/api/v1`, HTTP Basic auth (the secret key as the username, no password) checked, an
//! `X-KOMOJU-IDEMPOTENCY` key honoured on POSTs (the same key answers the first answer again),
//! konbini payments kept in memory. Tests pay a slip (then it POSTs a signed `payment.captured`
//! to Pasar's webhook), send other events, and make it misbehave (answer an error status).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SECRET_KEY: &str = "sk_test_pasar_fake_komoju_key";
pub const WEBHOOK_SECRET: &str = "pasar_fake_komoju_webhook_token";

/// What the fake does to the next request instead of answering it.
#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    Status(u16),
}

/// A request the fake received: method, path, and its idempotency key.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct Books {
    payments: HashMap<String, Value>,
    /// Idempotency key → the status and body first answered.
    answered: HashMap<String, (u16, Value)>,
    seen: Vec<Seen>,
    troubles: VecDeque<Trouble>,
    pasar_webhook: Option<String>,
    /// Every event sent or prepared: (type, raw body).
    events: Vec<(String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct FakeKomoju {
    /// The API's base (`…/api/v1`), as `PASAR_KOMOJU_BASE_URL`.
    pub url: String,
    books: Arc<Mutex<Books>>,
    http: reqwest::Client,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

/// KOMOJU's signature: hex HMAC-SHA256 of the raw body with the webhook's secret token, written
/// here from the documented scheme rather than borrowed from Pasar.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"code": code, "message": message, "param": null}}))
}

impl FakeKomoju {
    pub async fn start() -> FakeKomoju {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
        let fake = FakeKomoju {
            url,
            books: Arc::new(Mutex::new(Books::default())),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        };
        let app = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Where events go (Pasar's `/v1/webhooks/komoju`).
    pub fn deliver_to(&self, url: String) {
        self.books.lock().unwrap().pasar_webhook = Some(url);
    }

    /// The next `times` requests meet `trouble`.
    pub fn trouble(&self, trouble: Trouble, times: usize) {
        let mut books = self.books.lock().unwrap();
        books.troubles.extend(std::iter::repeat_n(trouble, times));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.books.lock().unwrap().seen.clone()
    }

    pub fn payments(&self) -> Vec<Value> {
        self.books.lock().unwrap().payments.values().cloned().collect()
    }

    /// The KOMOJU payment of Pasar's payment `payment_id`.
    pub fn payment_of(&self, payment_id: &str) -> Option<Value> {
        let books = self.books.lock().unwrap();
        books.payments.values().find(|p| p["external_order_num"] == payment_id).cloned()
    }

    /// The raw body of the last event of `kind`.
    pub fn event(&self, kind: &str) -> Vec<u8> {
        let books = self.books.lock().unwrap();
        books
            .events
            .iter()
            .rev()
            .find(|(k, _)| k == kind)
            .map(|(_, body)| body.clone())
            .expect("such an event")
    }

    /// The buyer pays the slip at the store; KOMOJU sends `payment.captured`. Answers Pasar's
    /// status and body.
    pub async fn pay(&self, payment_id: &str) -> (u16, Value) {
        let body = self.pay_silently(payment_id);
        self.deliver(&body).await
    }

    /// The buyer pays, but KOMOJU's event never reaches Pasar; answers the event's body.
    pub fn pay_silently(&self, payment_id: &str) -> Vec<u8> {
        let payment = self.set_status(payment_id, "captured", &["authorized", "pending"]);
        self.record_event("payment.captured", payment)
    }

    /// Sends an event of `kind` about `payment_id` as KOMOJU now holds it, with `status` in the
    /// payment it carries (a stale or reordered delivery when the payment has moved on).
    pub async fn send_event(&self, payment_id: &str, kind: &str, status: &str) -> (u16, Value) {
        let mut payment = self.payment_of(payment_id).expect("a payment");
        payment["status"] = json!(status);
        let body = self.record_event(kind, payment);
        self.deliver(&body).await
    }

    /// Delivers the last event of `kind` again, as KOMOJU does when it retries.
    pub async fn redeliver(&self, kind: &str) -> (u16, Value) {
        let body = self.event(kind);
        self.deliver(&body).await
    }

    fn set_status(&self, payment_id: &str, status: &str, from: &[&str]) -> Value {
        let mut books = self.books.lock().unwrap();
        let payment = books
            .payments
            .values_mut()
            .find(|p| p["external_order_num"] == payment_id)
            .expect("a KOMOJU payment for the Pasar payment");
        assert!(
            from.contains(&payment["status"].as_str().unwrap()),
            "a {} payment cannot become {status}",
            payment["status"]
        );
        payment["status"] = json!(status);
        if status == "captured" {
            payment["captured_at"] = json!(chrono::Utc::now().to_rfc3339());
        }
        payment.clone()
    }

    fn record_event(&self, kind: &str, payment: Value) -> Vec<u8> {
        let body = serde_json::to_vec(&json!({
            "id": new_id("evt_"), "type": kind, "resource": "event", "data": payment,
            "created_at": chrono::Utc::now().to_rfc3339(), "reason": null,
        }))
        .unwrap();
        self.books.lock().unwrap().events.push((kind.to_owned(), body.clone()));
        body
    }

    /// POSTs a signed event to Pasar; answers Pasar's status and body.
    async fn deliver(&self, body: &[u8]) -> (u16, Value) {
        let url = self.books.lock().unwrap().pasar_webhook.clone().expect("deliver_to was called");
        let kind: Value = serde_json::from_slice(body).unwrap();
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "Komoju-Webhook")
            .header("x-komoju-id", kind["id"].as_str().unwrap())
            .header("x-komoju-event", kind["type"].as_str().unwrap())
            .header("x-komoju-signature", sign(WEBHOOK_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        (status, answer)
    }
}

async fn handle(
    State(fake): State<FakeKomoju>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers.get("x-komoju-idempotency").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let trouble = {
        let mut books = fake.books.lock().unwrap();
        books.seen.push(Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            idempotency_key: key.clone(),
        });
        books.troubles.pop_front()
    };
    if let Some(Trouble::Status(status)) = trouble {
        let (status, body) = error(StatusCode::from_u16(status).unwrap(), "internal_server_error", "trouble");
        return (status, Json(body)).into_response();
    }
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_KEY}:")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        let (status, body) = error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid secret key");
        return (status, Json(body)).into_response();
    }
    let (status, answer) = match (&method, key) {
        (&Method::POST, Some(key)) => {
            let earlier = fake.books.lock().unwrap().answered.get(&key).cloned();
            match earlier {
                Some((status, answer)) => (StatusCode::from_u16(status).unwrap(), answer),
                None => {
                    let (status, answer) = fake.route(&method, uri.path(), &body);
                    fake.books.lock().unwrap().answered.insert(key, (status.as_u16(), answer.clone()));
                    (status, answer)
                }
            }
        }
        _ => fake.route(&method, uri.path(), &body),
    };
    (status, Json(answer)).into_response()
}

impl FakeKomoju {
    fn route(&self, method: &Method, path: &str, body: &[u8]) -> (StatusCode, Value) {
        let Some(path) = path.strip_prefix("/api/v1/") else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such path");
        };
        let segments: Vec<&str> = path.split('/').collect();
        let mut books = self.books.lock().unwrap();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["payments"]) => {
                let Ok(request) = serde_json::from_slice::<Value>(body) else {
                    return error(StatusCode::BAD_REQUEST, "bad_request", "this fake takes JSON bodies");
                };
                self.create(&mut books, &request)
            }
            ("GET", ["payments", id]) => match books.payments.get(*id) {
                Some(payment) => (StatusCode::OK, payment.clone()),
                None => error(StatusCode::NOT_FOUND, "not_found", "no such payment"),
            },
            ("POST", ["payments", id, "cancel"]) => {
                let Some(payment) = books.payments.get_mut(*id) else {
                    return error(StatusCode::NOT_FOUND, "not_found", "no such payment");
                };
                if !matches!(payment["status"].as_str(), Some("authorized" | "pending")) {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_payment_type",
                        "this payment cannot be cancelled",
                    );
                }
                payment["status"] = json!("cancelled");
                (StatusCode::OK, payment.clone())
            }
            _ => error(StatusCode::NOT_FOUND, "not_found", "no such path"),
        }
    }

    fn create(&self, books: &mut Books, request: &Value) -> (StatusCode, Value) {
        let amount = request["amount"].as_i64().filter(|a| *a > 0);
        let Some(amount) = amount else {
            return error(StatusCode::BAD_REQUEST, "missing_parameter", "a positive amount is required");
        };
        if request["currency"] != "JPY" {
            return error(StatusCode::BAD_REQUEST, "invalid_currency", "konbini takes JPY only");
        }
        let details = &request["payment_details"];
        if details["type"] != "konbini" {
            return error(StatusCode::BAD_REQUEST, "bad_request", "this fake makes konbini payments only");
        }
        let (Some(store), Some(email)) = (details["store"].as_str(), details["email"].as_str()) else {
            return error(StatusCode::BAD_REQUEST, "missing_parameter", "konbini needs a store and an email");
        };
        let Some(order) = request["external_order_num"].as_str() else {
            return error(StatusCode::BAD_REQUEST, "missing_parameter", "external_order_num");
        };
        let id = new_id("");
        let deadline =
            (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%dT14:59:59Z").to_string();
        let payment = json!({
            "id": id, "resource": "payment", "status": "authorized", "amount": amount, "tax": 0,
            "total": amount, "currency": "JPY", "payment_method_fee": 0,
            "external_order_num": order, "payment_deadline": deadline, "captured_at": null,
            "payment_details": {
                "type": "konbini", "email": email, "store": store,
                "confirmation_code": "8901", "receipt": "LW-20181018-0042",
                "instructions_url": format!("{}/instructions/{id}", self.url),
            },
        });
        books.payments.insert(id, payment.clone());
        (StatusCode::OK, payment)
    }
}
