//! A local Stripe, following the documented contract for the calls Pasar makes: form-encoded
//! bodies, `Authorization: Bearer sk_…` checked, an `Idempotency-Key` required on every POST
//! and honoured (the same key answers the first answer again; the same key with other
//! parameters is refused, as Stripe does), Checkout Sessions, PaymentIntents (konbini slips
//! with store codes), charges and refunds kept in memory, and `expand[]` on reads. Tests pay a
//! session or a slip on demand, after which it POSTs signed events (`Stripe-Signature`) to
//! Pasar's webhook; and make it misbehave (answer an error status) for the next calls.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SECRET_KEY: &str = "sk_test_pasar_fake_stripe_key";
pub const WEBHOOK_SECRET: &str = "whsec_pasar_fake_stripe_secret";

/// What the fake does to the next request instead of answering it. (A hang past Pasar's
/// 20-second timeout is tested in the provider's unit tests, with a short-timeout client.)
#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    /// Answered with this status; nothing is done.
    Status(u16),
    /// Done as asked, but answered with this status: the answer is lost on the way.
    AnswerLost(u16),
}

/// A request the fake received: method, path, and its Idempotency-Key.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
}

/// A form's fields, in order.
type Fields = Vec<(String, String)>;
/// What a POST with an idempotency key was first asked and answered: parameters, status, body.
type Answered = (Fields, u16, Value);

#[derive(Default)]
struct Books {
    sessions: HashMap<String, Value>,
    /// The metadata a session gives the PaymentIntent it creates when paid.
    session_intent_metadata: HashMap<String, Value>,
    intents: HashMap<String, Value>,
    charges: HashMap<String, Value>,
    balance_transactions: HashMap<String, Value>,
    refunds: Vec<Value>,
    /// Idempotency key → (the parameters, the status and body first answered).
    answered: HashMap<String, Answered>,
    seen: Vec<Seen>,
    troubles: VecDeque<Trouble>,
    /// Troubles for `POST /v1/refunds` only.
    refund_troubles: VecDeque<Trouble>,
    pasar_webhook: Option<String>,
    /// Every event sent or prepared: (id, type, raw body).
    events: Vec<(String, String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub url: String,
    books: Arc<Mutex<Books>>,
    http: reqwest::Client,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_test_{}", uuid::Uuid::now_v7().simple())
}

/// Stripe's signature: `t=…,v1=hex(HMAC-SHA256(secret, "{t}.{body}"))`, written here from the
/// documented scheme rather than borrowed from Pasar.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn error(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"type": "invalid_request_error", "message": message}}))
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `metadata[k]=v` fields (under `prefix`) as a JSON object.
fn metadata(form: &[(String, String)], prefix: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in form {
        if let Some(name) =
            key.strip_prefix(prefix).and_then(|k| k.strip_prefix('[')).and_then(|k| k.strip_suffix(']'))
        {
            map.insert(name.to_owned(), json!(value));
        }
    }
    Value::Object(map)
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeStripe {
            url,
            books: Arc::new(Mutex::new(Books::default())),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        };
        let app = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Where events go (Pasar's `/v1/webhooks/stripe`).
    pub fn deliver_to(&self, url: String) {
        self.books.lock().unwrap().pasar_webhook = Some(url);
    }

    /// The next `times` requests meet `trouble`.
    pub fn trouble(&self, trouble: Trouble, times: usize) {
        let mut books = self.books.lock().unwrap();
        books.troubles.extend(std::iter::repeat_n(trouble, times));
    }

    /// The next `times` refunds asked for meet `trouble` (other requests are answered).
    pub fn trouble_refunds(&self, trouble: Trouble, times: usize) {
        let mut books = self.books.lock().unwrap();
        books.refund_troubles.extend(std::iter::repeat_n(trouble, times));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.books.lock().unwrap().seen.clone()
    }

    pub fn sessions(&self) -> Vec<Value> {
        self.books.lock().unwrap().sessions.values().cloned().collect()
    }

    pub fn intents(&self) -> Vec<Value> {
        self.books.lock().unwrap().intents.values().cloned().collect()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.books.lock().unwrap().refunds.clone()
    }

    /// The raw body of the last event of `kind`.
    pub fn event(&self, kind: &str) -> Vec<u8> {
        let books = self.books.lock().unwrap();
        books
            .events
            .iter()
            .rev()
            .find(|(_, k, _)| k == kind)
            .map(|(_, _, body)| body.clone())
            .expect("such an event")
    }

    /// The session of Pasar's payment `payment_id`.
    pub fn session_of(&self, payment_id: &str) -> Option<Value> {
        let books = self.books.lock().unwrap();
        books.sessions.values().find(|s| s["client_reference_id"] == payment_id).cloned()
    }

    /// The PaymentIntent of Pasar's payment `payment_id` (a konbini slip's, or a paid session's).
    pub fn intent_of(&self, payment_id: &str) -> Option<Value> {
        let books = self.books.lock().unwrap();
        books.intents.values().find(|i| i["metadata"]["pasar_payment_id"] == payment_id).cloned()
    }

    /// The buyer pays `payment_id` (on the hosted page, or at the store), and Stripe sends the
    /// events; answers what Pasar answered each.
    pub async fn pay(&self, payment_id: &str) -> Vec<(u16, Value)> {
        let events = self.settle_payment(payment_id);
        let mut answers = Vec::new();
        for event in events {
            answers.push(self.deliver(&event).await);
        }
        answers
    }

    /// The buyer pays, but Stripe's events never reach Pasar.
    pub fn pay_silently(&self, payment_id: &str) {
        self.settle_payment(payment_id);
    }

    /// The merchant refunds `payment_id` in full in Stripe's Dashboard; Stripe sends
    /// `charge.refunded` with the charge.
    pub async fn refund_in_dashboard(&self, payment_id: &str) -> (u16, Value) {
        let intent = self.intent_of(payment_id).expect("an intent");
        let form = vec![("payment_intent".to_owned(), intent["id"].as_str().unwrap().to_owned())];
        let charge = {
            let mut books = self.books.lock().unwrap();
            let (status, _) = refund(&mut books, &form);
            assert_eq!(status, StatusCode::OK);
            books.charges[intent["latest_charge"].as_str().unwrap()].clone()
        };
        let event = self.record_event("charge.refunded", charge);
        self.deliver(&event).await
    }

    /// Sends an event of `kind` about `payment_id`'s PaymentIntent as it is now (a stale or
    /// reordered delivery when the intent has moved on).
    pub async fn send_intent_event(&self, payment_id: &str, kind: &str, status: &str) -> (u16, Value) {
        let mut intent = self.intent_of(payment_id).expect("an intent");
        intent["status"] = json!(status);
        let event = self.record_event(kind, intent);
        self.deliver(&event).await
    }

    /// Delivers a recorded event again, freshly signed, as Stripe does when it retries.
    pub async fn redeliver(&self, kind: &str) -> (u16, Value) {
        let body = self.event(kind);
        self.deliver(&body).await
    }

    /// Moves the books as a payment would; answers the events' bodies.
    fn settle_payment(&self, payment_id: &str) -> Vec<Vec<u8>> {
        let mut books = self.books.lock().unwrap();
        let session_id = books
            .sessions
            .values()
            .find(|s| s["client_reference_id"] == payment_id)
            .map(|s| s["id"].as_str().unwrap().to_owned());
        let (intent_id, session) = match session_id {
            Some(session_id) => {
                let session = books.sessions.get(&session_id).unwrap().clone();
                assert_eq!(session["status"], "open", "only an open session can be paid");
                let intent_id = new_id("pi");
                let metadata = books.session_intent_metadata.get(&session_id).cloned().unwrap_or(json!({}));
                let intent = json!({
                    "id": intent_id, "object": "payment_intent", "status": "requires_payment_method",
                    "amount": session["amount_total"], "currency": session["currency"],
                    "metadata": metadata, "next_action": null, "latest_charge": null,
                });
                books.intents.insert(intent_id.clone(), intent);
                let session = books.sessions.get_mut(&session_id).unwrap();
                session["status"] = json!("complete");
                session["payment_status"] = json!("paid");
                session["payment_intent"] = json!(intent_id);
                (intent_id, Some(session.clone()))
            }
            None => {
                let intent = books
                    .intents
                    .values()
                    .find(|i| i["metadata"]["pasar_payment_id"] == payment_id)
                    .expect("a session or an intent for the payment");
                assert_eq!(intent["status"], "requires_action", "only a waiting slip can be paid");
                (intent["id"].as_str().unwrap().to_owned(), None)
            }
        };
        let charge_id = new_id("ch");
        let intent = books.intents.get_mut(&intent_id).unwrap();
        intent["status"] = json!("succeeded");
        intent["next_action"] = Value::Null;
        intent["latest_charge"] = json!(charge_id);
        let intent = intent.clone();
        let balance_id = new_id("txn");
        let amount = intent["amount"].as_i64().unwrap();
        books.balance_transactions.insert(
            balance_id.clone(),
            json!({
                "id": balance_id, "object": "balance_transaction", "amount": amount,
                "fee": card_fee(amount), "net": amount - card_fee(amount), "currency": intent["currency"],
                "type": "charge", "source": charge_id,
            }),
        );
        let charge = json!({
            "id": charge_id, "object": "charge", "amount": intent["amount"], "amount_refunded": 0,
            "currency": intent["currency"], "payment_intent": intent_id, "refunded": false,
            "status": "succeeded", "metadata": intent["metadata"], "balance_transaction": balance_id,
        });
        books.charges.insert(charge_id, charge);
        drop(books);
        let mut events = Vec::new();
        if let Some(session) = session {
            events.push(self.record_event("checkout.session.completed", session));
        }
        events.push(self.record_event("payment_intent.succeeded", intent));
        events
    }

    fn record_event(&self, kind: &str, object: Value) -> Vec<u8> {
        let id = new_id("evt");
        let body = serde_json::to_vec(&json!({
            "id": id, "object": "event", "type": kind, "created": now(), "livemode": false,
            "data": {"object": object},
        }))
        .unwrap();
        self.books.lock().unwrap().events.push((id, kind.to_owned(), body.clone()));
        body
    }

    /// POSTs a signed event to Pasar; answers Pasar's status and body.
    async fn deliver(&self, body: &[u8]) -> (u16, Value) {
        let url = self.books.lock().unwrap().pasar_webhook.clone().expect("deliver_to was called");
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", sign(WEBHOOK_SECRET, now(), body))
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
    State(fake): State<FakeStripe>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let trouble = {
        let mut books = fake.books.lock().unwrap();
        books.seen.push(Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            idempotency_key: key.clone(),
        });
        if method == Method::POST && uri.path() == "/v1/refunds" && !books.refund_troubles.is_empty() {
            books.refund_troubles.pop_front()
        } else {
            books.troubles.pop_front()
        }
    };
    let trouble_answer = |status: u16| {
        let status = StatusCode::from_u16(status).unwrap();
        (status, Json(json!({"error": {"type": "api_error", "message": "trouble"}}))).into_response()
    };
    if let Some(Trouble::Status(status)) = trouble {
        return trouble_answer(status);
    }
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
    if !authorized {
        let (status, body) = error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
        return (status, Json(body)).into_response();
    }
    let (status, body) = if method == Method::POST {
        let Some(key) = key else {
            let (status, body) =
                error(StatusCode::BAD_REQUEST, "this fake wants an Idempotency-Key on every POST");
            return (status, Json(body)).into_response();
        };
        let earlier = fake.books.lock().unwrap().answered.get(&key).cloned();
        match earlier {
            Some((params, _, _)) if params != form => error(
                StatusCode::BAD_REQUEST,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ),
            Some((_, status, body)) => (StatusCode::from_u16(status).unwrap(), body),
            None => {
                let (status, body) = fake.route(&method, uri.path(), &form);
                // Stripe saves the first answer once the endpoint runs, refusals included; it
                // saves nothing for parameters that fail validation (400), which may be retried.
                if status != StatusCode::BAD_REQUEST {
                    fake.books.lock().unwrap().answered.insert(key, (form, status.as_u16(), body.clone()));
                }
                (status, body)
            }
        }
    } else {
        fake.route(&method, uri.path(), &form)
    };
    if let Some(Trouble::AnswerLost(status)) = trouble {
        return trouble_answer(status);
    }
    (status, Json(body)).into_response()
}

impl FakeStripe {
    fn route(&self, method: &Method, path: &str, form: &[(String, String)]) -> (StatusCode, Value) {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let expand: Vec<&str> =
            form.iter().filter(|(k, _)| k == "expand[]").map(|(_, v)| v.as_str()).collect();
        let mut books = self.books.lock().unwrap();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => self.create_session(&mut books, form),
            ("GET", ["v1", "checkout", "sessions", id]) => match books.sessions.get(*id) {
                Some(session) => (StatusCode::OK, expanded_session(&books, session.clone(), &expand)),
                None => error(StatusCode::NOT_FOUND, "No such checkout.session"),
            },
            ("POST", ["v1", "checkout", "sessions", id, "expire"]) => {
                let Some(session) = books.sessions.get_mut(*id) else {
                    return error(StatusCode::NOT_FOUND, "No such checkout.session");
                };
                if session["status"] != "open" {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Only Checkout Sessions with a status in [\"open\"] can be expired.",
                    );
                }
                session["status"] = json!("expired");
                (StatusCode::OK, session.clone())
            }
            ("POST", ["v1", "payment_intents"]) => self.create_intent(&mut books, form),
            ("GET", ["v1", "payment_intents", id]) => match books.intents.get(*id) {
                Some(intent) => (StatusCode::OK, expanded_intent(&books, intent.clone(), &expand, "")),
                None => error(StatusCode::NOT_FOUND, "No such payment_intent"),
            },
            ("POST", ["v1", "payment_intents", id, "cancel"]) => {
                let Some(intent) = books.intents.get_mut(*id) else {
                    return error(StatusCode::NOT_FOUND, "No such payment_intent");
                };
                if matches!(intent["status"].as_str(), Some("succeeded" | "canceled")) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "This PaymentIntent's status does not allow cancel.",
                    );
                }
                intent["status"] = json!("canceled");
                intent["next_action"] = Value::Null;
                (StatusCode::OK, intent.clone())
            }
            ("POST", ["v1", "refunds"]) => refund(&mut books, form),
            ("GET", ["v1", "refunds"]) => {
                let intent = field(form, "payment_intent");
                let data: Vec<Value> = books
                    .refunds
                    .iter()
                    .filter(|r| intent.is_none_or(|i| r["payment_intent"] == i))
                    .cloned()
                    .collect();
                (
                    StatusCode::OK,
                    json!({"object": "list", "data": data, "has_more": false, "url": "/v1/refunds"}),
                )
            }
            _ => error(StatusCode::NOT_FOUND, "Unrecognized request URL"),
        }
    }

    fn create_session(&self, books: &mut Books, form: &[(String, String)]) -> (StatusCode, Value) {
        if field(form, "mode") != Some("payment") {
            return error(StatusCode::BAD_REQUEST, "mode must be payment");
        }
        let currency = field(form, "line_items[0][price_data][currency]");
        let amount =
            field(form, "line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok());
        let quantity = field(form, "line_items[0][quantity]").and_then(|q| q.parse::<i64>().ok());
        let (Some(currency), Some(amount), Some(quantity)) = (currency, amount, quantity) else {
            return error(
                StatusCode::BAD_REQUEST,
                "line_items[0] needs price_data[currency], unit_amount and quantity",
            );
        };
        if amount <= 0 || field(form, "line_items[0][price_data][product_data][name]").is_none() {
            return error(StatusCode::BAD_REQUEST, "a positive unit_amount and a product name are required");
        }
        let (Some(_), Some(_)) = (field(form, "success_url"), field(form, "cancel_url")) else {
            return error(StatusCode::BAD_REQUEST, "success_url and cancel_url are required");
        };
        let expires_at = match field(form, "expires_at").map(str::parse::<i64>) {
            None => now() + 24 * 3600,
            Some(Ok(at)) if at >= now() + 30 * 60 && at <= now() + 24 * 3600 => at,
            Some(_) => {
                return error(StatusCode::BAD_REQUEST, "expires_at must be 30 minutes to 24 hours from now");
            }
        };
        let id = new_id("cs");
        let session = json!({
            "id": id, "object": "checkout.session", "mode": "payment", "status": "open",
            "payment_status": "unpaid", "payment_intent": null,
            "url": format!("{}/c/pay/{id}", self.url),
            "client_reference_id": field(form, "client_reference_id"),
            "customer_email": field(form, "customer_email"),
            "metadata": metadata(form, "metadata"),
            "amount_total": amount * quantity, "currency": currency, "expires_at": expires_at,
            "success_url": field(form, "success_url"), "cancel_url": field(form, "cancel_url"),
        });
        books.session_intent_metadata.insert(id.clone(), metadata(form, "payment_intent_data[metadata]"));
        books.sessions.insert(id, session.clone());
        (StatusCode::OK, session)
    }

    fn create_intent(&self, books: &mut Books, form: &[(String, String)]) -> (StatusCode, Value) {
        let amount = field(form, "amount").and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0);
        let Some(amount) = amount else {
            return error(StatusCode::BAD_REQUEST, "a positive amount is required");
        };
        if field(form, "payment_method_types[]") != Some("konbini")
            || field(form, "payment_method_data[type]") != Some("konbini")
        {
            return error(StatusCode::BAD_REQUEST, "this fake makes konbini intents only");
        }
        if field(form, "currency") != Some("jpy") {
            return error(StatusCode::BAD_REQUEST, "konbini supports jpy only");
        }
        if field(form, "payment_method_data[billing_details][email]").is_none()
            || field(form, "payment_method_data[billing_details][name]").is_none()
        {
            return error(StatusCode::BAD_REQUEST, "konbini needs billing_details name and email");
        }
        if field(form, "confirm") != Some("true") {
            return error(StatusCode::BAD_REQUEST, "this fake expects confirm=true");
        }
        let days = field(form, "payment_method_options[konbini][expires_after_days]");
        let at = field(form, "payment_method_options[konbini][expires_at]");
        let expires_at = match (days.map(str::parse::<i64>), at.map(str::parse::<i64>)) {
            (Some(Ok(days)), None) if (1..=60).contains(&days) => now() + days * 86_400,
            (None, Some(Ok(at))) if at > now() + 30 * 60 && at < now() + 60 * 86_400 => at,
            (None, None) => now() + 3 * 86_400,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "expires_after_days (1-60) or expires_at (30 minutes to 60 days out), not both",
                );
            }
        };
        let id = new_id("pi");
        let store = |code: &str| json!({"payment_code": code, "confirmation_number": "09012345678"});
        let intent = json!({
            "id": id, "object": "payment_intent", "status": "requires_action", "amount": amount,
            "currency": "jpy", "metadata": metadata(form, "metadata"), "latest_charge": null,
            "payment_method_types": ["konbini"],
            "billing_email": field(form, "payment_method_data[billing_details][email]"),
            "expires_after_days": days, "expires_at_asked": at,
            "next_action": {"type": "konbini_display_details", "konbini_display_details": {
                "expires_at": expires_at,
                "hosted_voucher_url": format!("{}/konbini/voucher/{id}", self.url),
                "stores": {"familymart": store("123456789012"), "lawson": store("LW-4521"),
                           "ministop": store("MS-7788"),
                           "seicomart": {"payment_code": "SC-0001", "confirmation_number": null}},
            }},
        });
        books.intents.insert(id, intent.clone());
        (StatusCode::OK, intent)
    }
}

/// Whether `path` is expanded: named, or the start of a longer path (expanding
/// `latest_charge.balance_transaction` expands `latest_charge` too, as at Stripe).
fn wants(expand: &[&str], path: &str) -> bool {
    expand.iter().any(|e| *e == path || e.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
}

/// What this fake Stripe keeps of a charge: 3.6%, rounded down, in the charge's currency
/// (Stripe's Japanese card rate; the account settles in the charge's currency here).
pub fn card_fee(amount: i64) -> i64 {
    amount * 36 / 1000
}

fn expanded_intent(books: &Books, mut intent: Value, expand: &[&str], prefix: &str) -> Value {
    let charge = intent["latest_charge"].as_str().and_then(|id| books.charges.get(id)).cloned();
    match charge {
        Some(mut charge) if wants(expand, &format!("{prefix}latest_charge")) => {
            let balance =
                charge["balance_transaction"].as_str().and_then(|id| books.balance_transactions.get(id));
            match balance {
                Some(balance) if wants(expand, &format!("{prefix}latest_charge.balance_transaction")) => {
                    charge["balance_transaction"] = balance.clone();
                }
                _ => {}
            }
            intent["latest_charge"] = charge;
        }
        _ => {}
    }
    intent
}

fn expanded_session(books: &Books, mut session: Value, expand: &[&str]) -> Value {
    let wanted = wants(expand, "payment_intent");
    let intent = session["payment_intent"].as_str().and_then(|id| books.intents.get(id)).cloned();
    match intent {
        Some(intent) if wanted => {
            session["payment_intent"] = expanded_intent(books, intent, expand, "payment_intent.");
        }
        _ => {}
    }
    session
}

fn refund(books: &mut Books, form: &[(String, String)]) -> (StatusCode, Value) {
    let Some(intent) = field(form, "payment_intent").and_then(|id| books.intents.get(id)).cloned() else {
        return error(StatusCode::BAD_REQUEST, "No such payment_intent");
    };
    if intent["status"] != "succeeded" {
        return error(StatusCode::BAD_REQUEST, "This PaymentIntent has no successful charge to refund.");
    }
    let charge_id = intent["latest_charge"].as_str().unwrap().to_owned();
    let charge = books.charges.get_mut(&charge_id).unwrap();
    let left = charge["amount"].as_i64().unwrap() - charge["amount_refunded"].as_i64().unwrap();
    let amount = match field(form, "amount").map(str::parse::<i64>) {
        None => left,
        Some(Ok(amount)) if amount > 0 && amount <= left => amount,
        Some(_) => {
            return error(StatusCode::BAD_REQUEST, "Refund amount is greater than what is left to refund");
        }
    };
    charge["amount_refunded"] = json!(charge["amount_refunded"].as_i64().unwrap() + amount);
    charge["refunded"] = json!(charge["amount_refunded"] == charge["amount"]);
    let refund = json!({
        "id": new_id("re"), "object": "refund", "status": "succeeded", "amount": amount,
        "currency": intent["currency"], "payment_intent": intent["id"], "charge": charge_id,
        "metadata": metadata(form, "metadata"),
    });
    books.refunds.push(refund.clone());
    (StatusCode::OK, refund)
}
