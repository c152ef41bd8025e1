//! A local Pakasir following its documented contract: create, detail and cancel on
//! 127.0.0.1:0, transactions kept in memory, the fee of the documented example (0.7% + Rp 310
//! rounded up for QRIS: 99000 → fee 1003, total 100003), and the unsigned completion webhook
//! POSTed to Pasar when a test "pays". It misbehaves on demand: the next answers of an endpoint
//! can be an HTTP error, a hang past the client's timeout or garbage, and a transaction can be
//! announced paid while `transactiondetail` still says `pending`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use pasar::config::Config;
use serde::Deserialize;
use serde_json::{Value, json};

pub const PROJECT: &str = "toko-ana";
pub const API_KEY: &str = "pakasir-test-key-0c4f1e";
/// What the fake charges for a virtual account (Pasar shows its own configured flat fee).
pub const VA_FEE: i64 = 4_000;

/// One way for the next answer of an endpoint to go wrong.
#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    Status(u16),
    /// No answer until well after the client's timeout (then a 504).
    Hang,
    /// 200 with a body that is not JSON.
    Garbage,
}

/// A transaction as the fake keeps it.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub order_id: String,
    pub method: String,
    pub amount: i64,
    pub fee: i64,
    pub total: i64,
    pub payment_number: String,
    pub expired_at: String,
    pub status: String,
    pub completed_at: Option<String>,
}

#[derive(Default)]
struct Inner {
    transactions: HashMap<String, Transaction>,
    troubles: HashMap<&'static str, VecDeque<Trouble>>,
    calls: HashMap<&'static str, usize>,
    expiry: Option<Duration>,
    next_va: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakePakasir {
    pub url: String,
    inner: Shared,
    http: reqwest::Client,
}

impl FakePakasir {
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/api/transactioncreate/{method}", post(create))
            .route("/api/transactiondetail", get(detail))
            .route("/api/transactioncancel", post(cancel))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner, http: reqwest::Client::new() }
    }

    /// Points Pasar at this fake, with a short timeout so a hang is noticed quickly.
    pub fn configure(&self, config: &mut Config) {
        config.pakasir_project = Some(PROJECT.into());
        config.pakasir_api_key = Some(API_KEY.into());
        config.pakasir_base_url = self.url.clone();
        config.pakasir_timeout_secs = 1;
    }

    /// New transactions expire this long after they are created (else in an hour).
    pub fn expire_after(&self, expiry: Duration) {
        self.inner.lock().unwrap().expiry = Some(expiry);
    }

    /// The next answers of `endpoint` (`create`, `detail` or `cancel`) go wrong, in order.
    pub fn trouble(&self, endpoint: &'static str, troubles: impl IntoIterator<Item = Trouble>) {
        self.inner.lock().unwrap().troubles.entry(endpoint).or_default().extend(troubles);
    }

    /// How many times `endpoint` was called.
    pub fn calls(&self, endpoint: &'static str) -> usize {
        self.inner.lock().unwrap().calls.get(endpoint).copied().unwrap_or(0)
    }

    pub fn transaction(&self, order_id: &str) -> Option<Transaction> {
        self.inner.lock().unwrap().transactions.get(order_id).cloned()
    }

    /// The buyer pays, and Pakasir does not tell Pasar (a webhook lost on the way).
    pub fn complete_quietly(&self, order_id: &str) -> Transaction {
        let mut inner = self.inner.lock().unwrap();
        let transaction = inner.transactions.get_mut(order_id).expect("a transaction to pay");
        assert_eq!(transaction.status, "pending", "only a pending transaction can be paid");
        transaction.status = "completed".into();
        transaction.completed_at = Some(now_rfc3339());
        transaction.clone()
    }

    /// The buyer pays, and Pakasir POSTs its webhook to `webhook_url`; answers Pasar's reply.
    pub async fn pay(&self, webhook_url: &str, order_id: &str) -> reqwest::Response {
        let paid = self.complete_quietly(order_id);
        self.post_webhook(webhook_url, &webhook_body(&paid)).await
    }

    /// A completion webhook for a transaction Pakasir itself still reports as `pending`
    /// (a premature or forged hint).
    pub async fn hint_paid(&self, webhook_url: &str, order_id: &str) -> reqwest::Response {
        let mut hinted = self.transaction(order_id).expect("a transaction");
        hinted.status = "completed".into();
        hinted.completed_at = Some(now_rfc3339());
        self.post_webhook(webhook_url, &webhook_body(&hinted)).await
    }

    /// POSTs a webhook body the way Pakasir does: JSON, no signature.
    pub async fn post_webhook(&self, webhook_url: &str, body: &Value) -> reqwest::Response {
        self.http.post(webhook_url).json(body).send().await.expect("Pasar answers the webhook")
    }
}

/// The documented webhook body for a transaction.
pub fn webhook_body(transaction: &Transaction) -> Value {
    json!({
        "amount": transaction.amount,
        "order_id": transaction.order_id,
        "project": PROJECT,
        "status": transaction.status,
        "payment_method": transaction.method,
        "completed_at": transaction.completed_at,
    })
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Counts the call and answers the trouble queued for it, if any.
async fn troubled(inner: &Shared, endpoint: &'static str) -> Option<Response> {
    let trouble = {
        let mut inner = inner.lock().unwrap();
        *inner.calls.entry(endpoint).or_default() += 1;
        inner.troubles.get_mut(endpoint).and_then(VecDeque::pop_front)
    };
    match trouble? {
        Trouble::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            Some((status, Json(json!({"error": "something went wrong"}))).into_response())
        }
        Trouble::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
        Trouble::Garbage => Some((StatusCode::OK, "<html><body>maintenance</body></html>").into_response()),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

#[derive(Deserialize)]
struct Credentials {
    project: String,
    order_id: String,
    amount: i64,
    api_key: String,
}

impl Credentials {
    /// Pakasir's refusal of a request without the right credentials or fields, if any.
    fn refusal(&self) -> Option<Response> {
        if self.project != PROJECT || self.api_key != API_KEY {
            return Some(refuse(StatusCode::UNAUTHORIZED, "invalid project or api_key"));
        }
        if self.order_id.is_empty() || self.amount <= 0 {
            return Some(refuse(StatusCode::BAD_REQUEST, "order_id and a positive amount are required"));
        }
        None
    }
}

async fn create(
    State(inner): State<Shared>,
    Path(method): Path<String>,
    Json(request): Json<Credentials>,
) -> Response {
    if let Some(trouble) = troubled(&inner, "create").await {
        return trouble;
    }
    if let Some(refusal) = request.refusal() {
        return refusal;
    }
    let mut inner = inner.lock().unwrap();
    let fee = match method.as_str() {
        "qris" => (request.amount * 7 + 999) / 1000 + 310,
        m if m.ends_with("_va") => VA_FEE,
        _ => return refuse(StatusCode::BAD_REQUEST, "unknown payment method"),
    };
    inner.next_va += 1;
    let payment_number = if method == "qris" {
        format!(
            "00020101021226610016ID.CO.PAKASIR.WWW0118936009180000000000215{}5204549953033605405{}5802ID5907Pakasir6007Jakarta6304ABCD",
            request.order_id,
            request.amount + fee
        )
    } else {
        format!("98800{:011}", inner.next_va)
    };
    let expiry = inner.expiry.unwrap_or(Duration::from_secs(3600));
    let expired_at = (Utc::now() + expiry).to_rfc3339_opts(SecondsFormat::Nanos, true);
    let transaction = inner
        .transactions
        .entry(request.order_id.clone())
        .or_insert_with(|| Transaction {
            order_id: request.order_id.clone(),
            method: method.clone(),
            amount: request.amount,
            fee,
            total: request.amount + fee,
            payment_number,
            expired_at,
            status: "pending".into(),
            completed_at: None,
        })
        .clone();
    Json(json!({"payment": {
        "project": PROJECT,
        "order_id": transaction.order_id,
        "amount": transaction.amount,
        "fee": transaction.fee,
        "total_payment": transaction.total,
        "payment_method": transaction.method,
        "payment_number": transaction.payment_number,
        "expired_at": transaction.expired_at,
    }}))
    .into_response()
}

async fn detail(State(inner): State<Shared>, Query(query): Query<Credentials>) -> Response {
    if let Some(trouble) = troubled(&inner, "detail").await {
        return trouble;
    }
    if let Some(refusal) = query.refusal() {
        return refusal;
    }
    let inner = inner.lock().unwrap();
    // Pakasir finds a transaction by order id and amount (before fee).
    match inner.transactions.get(&query.order_id).filter(|t| t.amount == query.amount) {
        Some(t) => Json(json!({"transaction": {
            "amount": t.amount,
            "order_id": t.order_id,
            "project": PROJECT,
            "status": t.status,
            "payment_method": t.method,
            "completed_at": t.completed_at,
        }}))
        .into_response(),
        None => refuse(StatusCode::NOT_FOUND, "transaction not found"),
    }
}

async fn cancel(State(inner): State<Shared>, Json(request): Json<Credentials>) -> Response {
    if let Some(trouble) = troubled(&inner, "cancel").await {
        return trouble;
    }
    if let Some(refusal) = request.refusal() {
        return refusal;
    }
    let mut inner = inner.lock().unwrap();
    match inner.transactions.get_mut(&request.order_id).filter(|t| t.amount == request.amount) {
        Some(t) if t.status == "pending" => {
            t.status = "cancelled".into();
            Json(json!({"success": true})).into_response()
        }
        Some(_) => refuse(StatusCode::BAD_REQUEST, "transaction is not pending"),
        None => refuse(StatusCode::NOT_FOUND, "transaction not found"),
    }
}
