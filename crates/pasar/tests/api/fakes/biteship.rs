//! A local Biteship following its documented contract on 127.0.0.1:0: `Authorization: <api
//! key>` on every call, rates (`POST /v1/rates/couriers`), bookings (`POST /v1/orders`, with a
//! tracking id and a waybill), tracking (`GET /v1/trackings/{id}`, the whole history) and
//! cancelling (`DELETE /v1/orders/{id}`), all kept in memory. A test moves a parcel along and has
//! the fake send its `order.status` webhook with the secret header the dashboard was given (or
//! with a wrong one), or moves it quietly (a webhook lost on the way). It fails on demand: the
//! next answers of an endpoint can be an HTTP error or a hang past the client's timeout.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{FixedOffset, SecondsFormat, Utc};
use pasar::config::Config;
use serde_json::{Value, json};

pub const API_KEY: &str = "biteship_test.eyJhbGciOiJIUzI1NiJ9.fake";
pub const WEBHOOK_HEADER: &str = "X-Biteship-Secret";
pub const WEBHOOK_SECRET: &str = "kurir-rahasia-5f1c";

/// One way for the next answer of an endpoint to go wrong.
#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    Status(u16),
    /// No answer until well after the client's timeout (then a 504).
    Hang,
}

/// A booking as the fake keeps it.
#[derive(Clone, Debug)]
pub struct Booking {
    pub id: String,
    pub tracking_id: String,
    pub waybill_id: String,
    pub reference_id: String,
    pub courier_company: String,
    pub courier_type: String,
    pub status: String,
    /// (status, note, updated_at), oldest first.
    pub history: Vec<(String, String, String)>,
    pub request: Value,
}

#[derive(Default)]
struct Inner {
    bookings: HashMap<String, Booking>,
    troubles: HashMap<&'static str, VecDeque<Trouble>>,
    calls: HashMap<&'static str, usize>,
    next: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeBiteship {
    pub url: String,
    inner: Shared,
    http: reqwest::Client,
}

impl FakeBiteship {
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/rates/couriers", post(rates))
            .route("/v1/orders", post(create))
            .route("/v1/orders/{id}", delete(cancel))
            .route("/v1/trackings/{id}", get(track))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner, http: reqwest::Client::new() }
    }

    /// Points Pasar at this fake, with the shop's pickup address, a short timeout and polling
    /// every 10 minutes.
    pub fn configure(&self, config: &mut Config) {
        config.biteship_api_key = Some(API_KEY.into());
        config.biteship_url = self.url.clone();
        config.biteship_webhook_header = WEBHOOK_HEADER.into();
        config.biteship_webhook_secret = Some(WEBHOOK_SECRET.into());
        config.biteship_timeout_secs = 1;
        // Within an access token's 15 minutes, so a test can advance the clock past it.
        config.biteship_poll_secs = 600;
        config.shipping_origin_name = Some("Toko Ana".into());
        config.shipping_origin_phone = Some("+62 811 0000 1111".into());
        config.shipping_origin_address = Some("Jl. Sudirman 5, Jakarta".into());
        config.shipping_origin_postal_code = Some("10220".into());
    }

    /// The next answers of `endpoint` (`rates`, `create`, `track` or `cancel`) go wrong, in order.
    pub fn trouble(&self, endpoint: &'static str, troubles: impl IntoIterator<Item = Trouble>) {
        self.inner.lock().unwrap().troubles.entry(endpoint).or_default().extend(troubles);
    }

    pub fn calls(&self, endpoint: &'static str) -> usize {
        self.inner.lock().unwrap().calls.get(endpoint).copied().unwrap_or(0)
    }

    /// The booking made for Pasar's reference (its order id).
    pub fn booking_for(&self, reference: &str) -> Option<Booking> {
        self.inner.lock().unwrap().bookings.values().find(|b| b.reference_id == reference).cloned()
    }

    /// The courier moves the parcel of booking `id` on, and Biteship tells no one.
    pub fn move_quietly(&self, id: &str, status: &str, note: &str) -> Booking {
        let mut inner = self.inner.lock().unwrap();
        let booking = inner.bookings.get_mut(id).expect("a booking to move");
        booking.status = status.into();
        booking.history.push((status.into(), note.into(), now_wib()));
        booking.clone()
    }

    /// The courier moves the parcel on, and Biteship POSTs its `order.status` webhook with the
    /// configured secret; answers Pasar's reply.
    pub async fn move_on(&self, webhook_url: &str, id: &str, status: &str) -> reqwest::Response {
        let booking = self.move_quietly(id, status, status);
        self.post_webhook(webhook_url, &status_webhook(&booking), Some(WEBHOOK_SECRET)).await
    }

    /// POSTs a webhook the way Biteship does: JSON, with the secret header when given.
    pub async fn post_webhook(
        &self,
        webhook_url: &str,
        body: &Value,
        secret: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.post(webhook_url).json(body);
        if let Some(secret) = secret {
            request = request.header(WEBHOOK_HEADER, secret);
        }
        request.send().await.expect("Pasar answers the webhook")
    }
}

/// The documented `order.status` webhook body for a booking as it stands.
pub fn status_webhook(booking: &Booking) -> Value {
    json!({
        "event": "order.status",
        "courier_tracking_id": booking.tracking_id,
        "courier_waybill_id": booking.waybill_id,
        "courier_company": booking.courier_company,
        "courier_type": booking.courier_type,
        "courier_driver_name": null,
        "courier_driver_phone": null,
        "courier_link": format!("https://track.example/{}", booking.waybill_id),
        "order_id": booking.id,
        "order_price": 18000,
        "status": booking.status,
    })
}

/// Biteship's history times: Western Indonesian time with its offset (to the millisecond, so a
/// test's quick succession of events keeps its order).
fn now_wib() -> String {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Counts the call and answers the trouble queued for it, if any.
async fn troubled(inner: &Shared, endpoint: &'static str) -> Option<Response> {
    let trouble = {
        let mut inner = inner.lock().unwrap();
        *inner.calls.entry(endpoint).or_default() += 1;
        inner.troubles.get_mut(endpoint).and_then(VecDeque::pop_front)
    };
    match trouble? {
        Trouble::Status(code) => Some(refuse(StatusCode::from_u16(code).unwrap(), "something went wrong")),
        Trouble::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
    }
}

/// Biteship's error shape.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "error": message, "code": 40000001}))).into_response()
}

fn unauthorised(headers: &HeaderMap) -> Option<Response> {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok());
    (key != Some(API_KEY)).then(|| refuse(StatusCode::UNAUTHORIZED, "Authorization is invalid"))
}

fn missing(body: &Value, fields: &[&str]) -> Option<Response> {
    let absent: Vec<&str> =
        fields.iter().copied().filter(|f| body.get(*f).is_none_or(Value::is_null)).collect();
    (!absent.is_empty()).then(|| refuse(StatusCode::BAD_REQUEST, &format!("missing: {}", absent.join(", "))))
}

fn weight_of(body: &Value) -> i64 {
    body["items"].as_array().map_or(0, |items| {
        items.iter().map(|i| i["weight"].as_i64().unwrap_or(0) * i["quantity"].as_i64().unwrap_or(0)).sum()
    })
}

async fn rates(State(inner): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(trouble) = troubled(&inner, "rates").await {
        return trouble;
    }
    if let Some(refusal) = unauthorised(&headers)
        .or_else(|| missing(&body, &["origin_postal_code", "destination_postal_code", "couriers", "items"]))
    {
        return refusal;
    }
    if !body["origin_postal_code"].is_u64() || !body["destination_postal_code"].is_u64() {
        return refuse(StatusCode::BAD_REQUEST, "postal codes are numbers");
    }
    let kilos = (weight_of(&body) + 999) / 1000;
    Json(json!({
        "success": true, "object": "courier_pricing", "message": "Success to retrieve courier pricing",
        "pricing": [
            {"courier_name": "JNE", "courier_code": "jne", "courier_service_name": "Reguler",
             "courier_service_code": "reg", "duration": "1 - 2 days", "price": 9_000 * kilos.max(1)},
            {"courier_name": "SiCepat", "courier_code": "sicepat", "courier_service_name": "BEST",
             "courier_service_code": "best", "duration": "1 days", "price": 14_000 * kilos.max(1)},
        ],
    }))
    .into_response()
}

async fn create(State(inner): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(trouble) = troubled(&inner, "create").await {
        return trouble;
    }
    let required = [
        "origin_contact_name",
        "origin_contact_phone",
        "origin_address",
        "origin_postal_code",
        "destination_contact_name",
        "destination_contact_phone",
        "destination_address",
        "destination_postal_code",
        "courier_company",
        "courier_type",
        "delivery_type",
        "items",
    ];
    if let Some(refusal) = unauthorised(&headers).or_else(|| missing(&body, &required)) {
        return refusal;
    }
    if weight_of(&body) <= 0 {
        return refuse(StatusCode::BAD_REQUEST, "items need a weight");
    }
    let mut inner = inner.lock().unwrap();
    inner.next += 1;
    let n = inner.next;
    let booking = Booking {
        id: format!("5f2a{n:020}"),
        tracking_id: format!("6b1c{n:020}"),
        waybill_id: format!("WYB{n:010}"),
        reference_id: body["reference_id"].as_str().unwrap_or_default().to_owned(),
        courier_company: body["courier_company"].as_str().unwrap_or_default().to_owned(),
        courier_type: body["courier_type"].as_str().unwrap_or_default().to_owned(),
        status: "confirmed".into(),
        history: vec![("confirmed".into(), "Order has been confirmed".into(), now_wib())],
        request: body.clone(),
    };
    inner.bookings.insert(booking.id.clone(), booking.clone());
    Json(json!({
        "success": true, "message": "Order successfully created", "object": "order",
        "id": booking.id,
        "shipper": {"name": body["shipper_contact_name"]},
        "origin": {"contact_name": body["origin_contact_name"], "address": body["origin_address"]},
        "destination": {"contact_name": body["destination_contact_name"], "address": body["destination_address"]},
        "courier": {
            "tracking_id": booking.tracking_id, "waybill_id": booking.waybill_id,
            "company": booking.courier_company, "type": booking.courier_type,
            "link": format!("https://track.example/{}", booking.waybill_id),
            "insurance": {"amount": 0, "fee": 0},
        },
        "delivery": {"type": body["delivery_type"], "distance_unit": "kilometer"},
        "reference_id": booking.reference_id,
        "items": body["items"],
        "price": 18000,
        "status": booking.status,
    }))
    .into_response()
}

async fn track(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(trouble) = troubled(&inner, "track").await {
        return trouble;
    }
    if let Some(refusal) = unauthorised(&headers) {
        return refusal;
    }
    let inner = inner.lock().unwrap();
    let Some(booking) = inner.bookings.values().find(|b| b.tracking_id == id) else {
        return refuse(StatusCode::NOT_FOUND, "tracking not found");
    };
    let history: Vec<Value> = booking
        .history
        .iter()
        .map(|(status, note, at)| json!({"note": note, "service_type": booking.courier_type, "updated_at": at, "status": status}))
        .collect();
    Json(json!({
        "success": true, "messsage": "Successfully get tracking info", "object": "tracking",
        "id": booking.tracking_id, "waybill_id": booking.waybill_id,
        "courier": {"company": booking.courier_company, "driver_name": null, "driver_phone": null},
        "origin": {"contact_name": booking.request["origin_contact_name"], "address": booking.request["origin_address"]},
        "destination": {"contact_name": booking.request["destination_contact_name"], "address": booking.request["destination_address"]},
        "history": history,
        "link": format!("https://track.example/{}", booking.waybill_id),
        "order_id": booking.id,
        "status": booking.status,
    }))
    .into_response()
}

async fn cancel(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(trouble) = troubled(&inner, "cancel").await {
        return trouble;
    }
    if let Some(refusal) = unauthorised(&headers) {
        return refusal;
    }
    let mut inner = inner.lock().unwrap();
    let Some(booking) = inner.bookings.get_mut(&id) else {
        return refuse(StatusCode::NOT_FOUND, "order not found");
    };
    booking.status = "cancelled".into();
    booking.history.push(("cancelled".into(), "Order has been cancelled".into(), now_wib()));
    Json(json!({"success": true, "message": "Order successfully deleted", "object": "order", "id": id, "status": "cancelled"}))
        .into_response()
}
