//! A local CHIP (or Revio: the same gateway API) following the stored contract: bearer auth,
//! purchases and payouts kept in memory on 127.0.0.1:0, `GET /public_key/`, and webhooks
//! signed with `X-Signature` (base64 RSA PKCS#1 v1.5 over SHA-256 of the raw body) with a test
//! key generated once per test process. A test can pay a purchase (the signed `purchase.paid`
//! goes to its `success_callback`), succeed or fail a payout, and make the next answers 500 or
//! 503.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use pasar::config::Config;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SECRET_KEY: &str = "chip-test-secret-key-7d1a";
pub const BRAND_ID: &str = "9a1f3c4e-0000-4000-8000-00000000b4a4";

/// 1024-bit keys: generating 2048-bit ones takes seconds in a debug build (tests only).
fn key(slot: &'static OnceLock<RsaPrivateKey>) -> &'static RsaPrivateKey {
    slot.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("a test key"))
}

/// The key the fake signs with.
pub fn signing_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    key(&KEY)
}

/// Another key: what a forger signs with.
pub fn forger_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    key(&KEY)
}

pub fn public_pem(key: &RsaPrivateKey) -> String {
    key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()
}

/// `X-Signature` for `body` signed by `key`.
pub fn sign(key: &RsaPrivateKey, body: &[u8]) -> String {
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(body);
    base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
}

#[derive(Default)]
struct Books {
    purchases: HashMap<String, Value>,
    payouts: HashMap<String, Value>,
    refunds: Vec<Value>,
    executions: Vec<Value>,
    troubles: VecDeque<u16>,
    /// (method, path) of every request.
    seen: Vec<(String, String)>,
    payout_webhook: Option<String>,
    next: u64,
}

type Shared = Arc<Mutex<Books>>;

pub struct FakeChip {
    pub url: String,
    books: Shared,
    http: reqwest::Client,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What this fake gateway keeps of a paid purchase: 1.5%, rounded down (the real schedules
/// are not published; only the field is).
pub fn paid_fee(total: i64) -> i64 {
    total * 15 / 1000
}

impl FakeChip {
    pub async fn start() -> Self {
        let books: Shared = Arc::default();
        let app = Router::new()
            .route("/public_key/", get(public_key))
            .route("/purchases/", post(create_purchase))
            .route("/purchases/{id}/", get(purchase))
            .route("/purchases/{id}/cancel/", post(cancel))
            .route("/purchases/{id}/refund/", post(refund))
            .route("/payouts/", post(create_payout))
            .route("/payouts/{id}/", get(payout))
            .route("/payouts/{id}/execute/", post(execute))
            .with_state(books.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, books, http: reqwest::Client::new() }
    }

    /// Points Pasar's `chip` at this fake; its public key is fetched from the fake.
    pub fn configure_chip(&self, config: &mut Config) {
        config.chip_secret_key = Some(SECRET_KEY.into());
        config.chip_brand_id = Some(BRAND_ID.into());
        config.chip_base_url = self.url.clone();
    }

    /// Points Pasar's `revio` at this fake, with the public key configured.
    pub fn configure_revio(&self, config: &mut Config) {
        config.revio_secret_key = Some(SECRET_KEY.into());
        config.revio_brand_id = Some(BRAND_ID.into());
        config.revio_base_url = self.url.clone();
        config.revio_public_key = Some(public_pem(signing_key()));
    }

    /// Where payout webhooks go (a payout carries no callback of its own).
    pub fn deliver_payouts_to(&self, url: String) {
        self.books.lock().unwrap().payout_webhook = Some(url);
    }

    /// The next requests answer these statuses, in order.
    pub fn trouble(&self, statuses: impl IntoIterator<Item = u16>) {
        self.books.lock().unwrap().troubles.extend(statuses);
    }

    pub fn seen(&self) -> Vec<(String, String)> {
        self.books.lock().unwrap().seen.clone()
    }

    /// The purchase whose reference is `payment_id`.
    pub fn purchase_of(&self, payment_id: &str) -> Option<Value> {
        self.books.lock().unwrap().purchases.values().find(|p| p["reference"] == payment_id).cloned()
    }

    pub fn purchases(&self) -> usize {
        self.books.lock().unwrap().purchases.len()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.books.lock().unwrap().refunds.clone()
    }

    pub fn payout_of(&self, payout_id: &str) -> Option<Value> {
        self.books.lock().unwrap().payouts.values().find(|p| p["reference"] == payout_id).cloned()
    }

    pub fn executions(&self) -> Vec<Value> {
        self.books.lock().unwrap().executions.clone()
    }

    fn set_purchase_status(&self, payment_id: &str, status: &str, event_type: &str) -> Value {
        let mut books = self.books.lock().unwrap();
        let purchase =
            books.purchases.values_mut().find(|p| p["reference"] == payment_id).expect("a purchase");
        purchase["status"] = json!(status);
        purchase["updated_on"] = json!(now());
        if status == "paid" {
            let total = purchase["purchase"]["total"].as_i64().unwrap();
            let fee = paid_fee(total);
            purchase["payment"] = json!({
                "is_outgoing": false, "payment_type": "purchase", "amount": total,
                "currency": purchase["purchase"]["currency"], "net_amount": total - fee,
                "fee_amount": fee, "pending_amount": 0, "paid_on": now(),
            });
        }
        let mut body = purchase.clone();
        body["event_type"] = json!(event_type);
        body
    }

    /// The buyer pays and the gateway does not tell Pasar.
    pub fn pay_silently(&self, payment_id: &str) -> Value {
        self.set_purchase_status(payment_id, "paid", "purchase.paid")
    }

    /// The buyer pays; the signed `purchase.paid` goes to the purchase's `success_callback`.
    /// Answers the event's body and Pasar's reply.
    pub async fn pay(&self, payment_id: &str) -> (Vec<u8>, StatusCode, Value) {
        let event = self.pay_silently(payment_id);
        let body = serde_json::to_vec(&event).unwrap();
        let url = event["success_callback"].as_str().unwrap().to_owned();
        let (status, answer) = self.post_signed(&url, signing_key(), &body).await;
        (body, status, answer)
    }

    /// POSTs `body` to `url` signed by `key`.
    pub async fn post_signed(&self, url: &str, key: &RsaPrivateKey, body: &[u8]) -> (StatusCode, Value) {
        self.post_webhook(url, Some(sign(key, body)), body.to_vec()).await
    }

    pub async fn post_webhook(
        &self,
        url: &str,
        signature: Option<String>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.post(url).header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        let response = request.body(body).send().await.expect("Pasar answers the webhook");
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The payout ends as `status` (`success` or `failed`); its signed webhook goes to Pasar.
    pub async fn settle_payout(&self, payout_id: &str, status: &str) -> (StatusCode, Value) {
        let (event, url) = {
            let mut books = self.books.lock().unwrap();
            let url = books.payout_webhook.clone().expect("where payout webhooks go");
            let payout = books.payouts.values_mut().find(|p| p["reference"] == payout_id).expect("a payout");
            payout["status"] = json!(status);
            payout["updated_on"] = json!(now());
            let mut event = payout.clone();
            event["event_type"] = json!(format!("payout.{status}"));
            (event, url)
        };
        self.post_signed(&url, signing_key(), &serde_json::to_vec(&event).unwrap()).await
    }
}

/// Records the call; answers a queued trouble or a missing bearer.
fn gate(books: &Shared, method: &str, path: String, headers: &HeaderMap) -> Option<Response> {
    let mut books = books.lock().unwrap();
    books.seen.push((method.to_owned(), path));
    if let Some(status) = books.troubles.pop_front() {
        let status = StatusCode::from_u16(status).unwrap();
        return Some((status, Json(json!({"__all__": [{"message": "try later"}]}))).into_response());
    }
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
    (!authorized)
        .then(|| (StatusCode::UNAUTHORIZED, Json(json!({"detail": "Invalid token."}))).into_response())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"__all__": [{"message": message}]}))).into_response()
}

async fn public_key(State(books): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refusal) = gate(&books, "GET", "/public_key/".into(), &headers) {
        return refusal;
    }
    Json(json!(public_pem(signing_key()))).into_response()
}

async fn create_purchase(
    State(books): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = gate(&books, "POST", "/purchases/".into(), &headers) {
        return refusal;
    }
    if body["brand_id"] != BRAND_ID || !body["client"]["email"].is_string() {
        return refuse(StatusCode::BAD_REQUEST, "brand_id and client.email are required");
    }
    let products = body["purchase"]["products"].as_array().cloned().unwrap_or_default();
    let total: i64 = products.iter().map(|p| p["price"].as_i64().unwrap_or(0)).sum();
    let mut books = books.lock().unwrap();
    books.next += 1;
    let id = format!("{:08x}-chip-4000-8000-{:012x}", books.next, books.next);
    let purchase = json!({
        "id": id, "type": "purchase", "status": "created", "brand_id": BRAND_ID,
        "created_on": now(), "updated_on": now(), "due": body["due"],
        "client": body["client"], "reference": body["reference"],
        "purchase": {"currency": body["purchase"]["currency"], "products": products, "total": total,
                     "due_strict": body["purchase"]["due_strict"]},
        "success_callback": body["success_callback"], "success_redirect": body["success_redirect"],
        "failure_redirect": body["failure_redirect"],
        "checkout_url": format!("https://gate.test/p/{id}/"),
        "payment": null, "is_test": true,
    });
    books.purchases.insert(id, purchase.clone());
    (StatusCode::CREATED, Json(purchase)).into_response()
}

async fn purchase(State(books): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = gate(&books, "GET", format!("/purchases/{id}/"), &headers) {
        return refusal;
    }
    match books.lock().unwrap().purchases.get(&id) {
        Some(purchase) => Json(purchase.clone()).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "Not found."),
    }
}

async fn cancel(State(books): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = gate(&books, "POST", format!("/purchases/{id}/cancel/"), &headers) {
        return refusal;
    }
    let mut books = books.lock().unwrap();
    match books.purchases.get_mut(&id) {
        Some(p) if matches!(p["status"].as_str(), Some("created" | "viewed" | "overdue")) => {
            p["status"] = json!("cancelled");
            Json(p.clone()).into_response()
        }
        Some(_) => refuse(StatusCode::BAD_REQUEST, "Purchase cannot be cancelled"),
        None => refuse(StatusCode::NOT_FOUND, "Not found."),
    }
}

async fn refund(
    State(books): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = gate(&books, "POST", format!("/purchases/{id}/refund/"), &headers) {
        return refusal;
    }
    let mut books = books.lock().unwrap();
    let refunded: i64 = books
        .refunds
        .iter()
        .filter(|r| r["purchase"] == id.as_str())
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    let Some(p) = books.purchases.get_mut(&id) else {
        return refuse(StatusCode::NOT_FOUND, "Not found.");
    };
    let total = p["purchase"]["total"].as_i64().unwrap();
    let amount = body["amount"].as_i64().unwrap_or(total - refunded);
    if p["status"] != "paid" || amount <= 0 || refunded + amount > total {
        return refuse(StatusCode::BAD_REQUEST, "Purchase cannot be refunded");
    }
    if refunded + amount == total {
        p["status"] = json!("refunded");
    }
    let refund = json!({"id": format!("refund-{}", books.refunds.len() + 1), "type": "payment",
                        "payment_type": "refund", "purchase": id, "amount": amount, "status": "success"});
    books.refunds.push(refund.clone());
    Json(refund).into_response()
}

async fn create_payout(State(books): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(refusal) = gate(&books, "POST", "/payouts/".into(), &headers) {
        return refusal;
    }
    if body["brand_id"] != BRAND_ID || !body["client"]["email"].is_string() || !body["reference"].is_string()
    {
        return refuse(StatusCode::BAD_REQUEST, "brand_id, client.email and reference are required");
    }
    let mut books = books.lock().unwrap();
    books.next += 1;
    let id = format!("{:08x}-pout-4000-8000-{:012x}", books.next, books.next);
    let payout = json!({
        "id": id, "type": "payout", "status": "initialized", "reference": body["reference"],
        "client": body["client"], "created_on": now(), "updated_on": now(),
        "payment": {"is_outgoing": true, "payment_type": "payout", "amount": body["payment"]["amount"],
                    "currency": body["payment"]["currency"], "description": body["payment"]["description"]},
        "execution_url": format!("https://gate.test/po/{id}/"),
    });
    books.payouts.insert(id, payout.clone());
    (StatusCode::CREATED, Json(payout)).into_response()
}

async fn payout(State(books): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = gate(&books, "GET", format!("/payouts/{id}/"), &headers) {
        return refusal;
    }
    match books.lock().unwrap().payouts.get(&id) {
        Some(payout) => Json(payout.clone()).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "Not found."),
    }
}

async fn execute(
    State(books): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = gate(&books, "POST", format!("/payouts/{id}/execute/"), &headers) {
        return refusal;
    }
    let mut books = books.lock().unwrap();
    let Some(payout) = books.payouts.get_mut(&id) else {
        return refuse(StatusCode::NOT_FOUND, "Not found.");
    };
    if payout["status"] != "initialized" {
        return refuse(StatusCode::BAD_REQUEST, "Payout already executed");
    }
    payout["status"] = json!("pending");
    let answer = payout.clone();
    books.executions.push(json!({"payout": id, "destination": body}));
    Json(answer).into_response()
}
