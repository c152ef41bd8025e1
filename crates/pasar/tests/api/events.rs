use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use pasar::db::Db;
use pasar::events::webhooks::{
    DeliveryFilter, DeliveryStatus, EventTypes, NewEndpoint, WebhookUrl, Webhooks,
};
use pasar::events::{self, Delivery, Event, NewEvent, Relay, Subscriber};
use pasar::identity::Role;
use pasar::ids::EventId;
use pasar::time::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{
    PASSWORD, Session, TestApp, assert_error, eventually, session_of, spawn_app, spawn_app_with, stores,
};

// ---------------------------------------------------------------------------------------------
// The relay, driven round by round.

/// A subscriber that remembers what it got and fails while told to.
#[derive(Default)]
struct Recorder {
    failing: AtomicBool,
    seen: Mutex<Vec<EventId>>,
}

impl Subscriber for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            self.seen.lock().unwrap().push(event.id);
            anyhow::ensure!(!self.failing.load(Ordering::SeqCst), "the recorder is down");
            Ok(())
        })
    }
}

async fn record(db: &Db, at: Timestamp, event_type: &'static str, subject: &str) -> EventId {
    let mut tx = db.begin().await.unwrap();
    let payload = json!({"after": {"name": subject}});
    let event =
        NewEvent { event_type, version: 1, subject_id: subject.into(), actor: "system".into(), payload };
    let id = events::record(&mut tx, at, event).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn published(db: &Db, id: EventId) -> bool {
    events::find(db.reader(), id).await.unwrap().expect("the event exists").1
}

#[tokio::test]
async fn the_relay_hands_events_to_subscribers_in_id_order_and_retries_one_that_failed_after_a_backoff() {
    let stores = stores().await;
    let recorder = Arc::new(Recorder::default());
    let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10))
        .subscribe(recorder.clone());
    let first = record(&stores.db, stores.clock.now(), "user.registered", "usr_1").await;
    let second = record(&stores.db, stores.clock.now(), "user.registered", "usr_2").await;

    recorder.failing.store(true, Ordering::SeqCst);
    assert_eq!(relay.run_once().await.unwrap(), 2);
    assert_eq!(*recorder.seen.lock().unwrap(), vec![first, second]);
    assert!(
        !published(&stores.db, first).await && !published(&stores.db, second).await,
        "both stay unpublished"
    );
    assert_eq!(relay.run_once().await.unwrap(), 0, "not retried before the backoff ends");

    recorder.failing.store(false, Ordering::SeqCst);
    stores.clock.advance(Duration::from_secs(2));
    assert_eq!(relay.run_once().await.unwrap(), 2);
    assert!(published(&stores.db, first).await && published(&stores.db, second).await);
    assert_eq!(relay.run_once().await.unwrap(), 0, "published events are not handed out again");
    assert_eq!(recorder.seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn an_event_that_commits_after_a_later_one_was_relayed_is_still_relayed() {
    let stores = stores().await;
    let recorder = Arc::new(Recorder::default());
    let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10))
        .subscribe(recorder.clone());
    // The late event's id is taken first (its transaction began first) but it commits last.
    let late = EventId::new();
    let early = record(&stores.db, stores.clock.now(), "user.registered", "usr_early").await;
    assert_eq!(relay.run_once().await.unwrap(), 1);
    let mut tx = stores.db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO outbox_events (id, event_type, version, subject_id, actor, occurred_at, payload)
         VALUES ($1, 'user.registered', 1, 'usr_late', 'system', $2, '{}')",
    )
    .bind(late.to_string())
    .bind(stores.clock.now().millis())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(relay.run_once().await.unwrap(), 1);
    assert!(published(&stores.db, late).await);
    assert_eq!(*recorder.seen.lock().unwrap(), vec![early, late]);
}

#[tokio::test]
async fn relays_of_several_instances_sharing_a_database_never_hand_out_the_same_event_twice() {
    let stores = stores().await;
    let mut written = Vec::new();
    for i in 0..40 {
        written.push(record(&stores.db, stores.clock.now(), "user.registered", &format!("usr_{i}")).await);
    }
    let instances: Vec<_> = (0..3)
        .map(|_| {
            let recorder = Arc::new(Recorder::default());
            let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10))
                .subscribe(recorder.clone());
            (relay, recorder)
        })
        .collect();
    let rounds = instances.iter().map(|(relay, _)| {
        let relay = relay.clone();
        tokio::spawn(async move { while relay.run_once().await.unwrap() > 0 {} })
    });
    for round in rounds.collect::<Vec<_>>() {
        round.await.unwrap();
    }
    let mut handed: Vec<EventId> =
        instances.iter().flat_map(|(_, recorder)| recorder.seen.lock().unwrap().clone()).collect();
    handed.sort();
    assert_eq!(handed, written, "every event once, by one instance");
    for id in written {
        assert!(published(&stores.db, id).await);
    }
}

#[tokio::test]
async fn publishing_an_event_queues_one_delivery_per_enabled_endpoint_that_wants_it() {
    let stores = stores().await;
    let webhooks =
        Webhooks::new(stores.db.clone(), stores.clock.clone(), true, 8, Duration::from_millis(10)).unwrap();
    let endpoint = |events: &[&str]| NewEndpoint {
        url: WebhookUrl::parse("http://127.0.0.1:9/hooks").unwrap(),
        events: EventTypes::parse(events.iter().map(|e| (*e).to_owned()).collect()).unwrap(),
        description: None,
    };
    let exact = webhooks.create_endpoint(endpoint(&["user.registered"])).await.unwrap().endpoint.id;
    let everything = webhooks.create_endpoint(endpoint(&["*"])).await.unwrap().endpoint.id;
    let other = webhooks.create_endpoint(endpoint(&["order.created"])).await.unwrap().endpoint.id;
    let disabled = webhooks.create_endpoint(endpoint(&["*"])).await.unwrap().endpoint.id;
    let off = pasar::events::webhooks::EndpointChanges { enabled: Some(false), ..Default::default() };
    webhooks.update_endpoint(disabled, off).await.unwrap();

    let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10));
    let id = record(&stores.db, stores.clock.now(), "user.registered", "usr_1").await;
    assert_eq!(relay.run_once().await.unwrap(), 1);
    assert_eq!(relay.run_once().await.unwrap(), 0);

    for (endpoint, expected) in [(exact, 1), (everything, 1), (other, 0), (disabled, 0)] {
        let (deliveries, _) = webhooks.deliveries(endpoint, &DeliveryFilter::default(), 10).await.unwrap();
        assert_eq!(deliveries.len(), expected, "deliveries to {endpoint}");
        if let Some(delivery) = deliveries.first() {
            assert_eq!(
                (delivery.event_id, delivery.status, delivery.attempts),
                (id, DeliveryStatus::Pending, 0)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Merchant webhooks over HTTP, to a fake merchant server.

/// A merchant's server on 127.0.0.1: records every request and answers with `status`.
#[derive(Clone, Default)]
struct Merchant {
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Merchant {
    async fn start(status: u16) -> (Self, String) {
        let merchant = Merchant::default();
        merchant.answer(status);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/pasar/webhooks", listener.local_addr().unwrap());
        let recorder = merchant.clone();
        let app = axum::Router::new().route(
            "/pasar/webhooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let recorder = recorder.clone();
                async move {
                    recorder.received.lock().unwrap().push((headers, body));
                    StatusCode::from_u16(recorder.status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (merchant, url)
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The requests that carried an event about `subject`: headers, raw body, parsed body.
    fn requests_about(&self, subject: &str) -> Vec<(HeaderMap, Bytes, Value)> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .map(|(headers, body)| {
                (headers.clone(), body.clone(), serde_json::from_slice::<Value>(body).unwrap())
            })
            .filter(|(_, _, event)| event["subject_id"] == subject)
            .collect()
    }
}

async fn private_webhooks_app(max_attempts: u32) -> TestApp {
    spawn_app_with(|config| {
        config.webhooks_allow_private = true;
        config.webhook_max_attempts = max_attempts;
    })
    .await
}

/// Waits until the relay has published every event written so far, so that an endpoint
/// created next only gets the events that follow.
async fn all_relayed(app: &TestApp) {
    eventually("the relay to publish every event", || async {
        let row = sqlx::query("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
        (sqlx::Row::get::<i64, _>(&row, 0) == 0).then_some(())
    })
    .await;
}

async fn create_endpoint(app: &TestApp, admin: &Session, url: &str, events: Value) -> Value {
    let response = app
        .post(
            "/v1/admin/webhook-endpoints",
            Some(&admin.access_token),
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// The endpoint's delivery of `event_id`, once `ready` says it has reached the wanted state.
async fn delivery_when(
    app: &TestApp,
    admin: &Session,
    endpoint: &str,
    event_id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/v1/admin/webhook-endpoints/{endpoint}/deliveries?limit=100");
    eventually(&format!("the delivery of {event_id} to reach the expected state"), || async {
        let page: Value = app.get(&path, Some(&admin.access_token)).await.json().await.unwrap();
        let data = page["data"].as_array().unwrap_or_else(|| panic!("a page of deliveries: {page}"));
        data.iter().find(|d| d["event_id"] == event_id && ready(d)).cloned()
    })
    .await
}

async fn log_in_again(app: &TestApp, email: &str) -> Session {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    session_of(response.json().await.unwrap())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Checks `Pasar-Signature` the way a merchant would, with Stripe's scheme.
fn assert_signed(headers: &HeaderMap, body: &[u8], secret: &str) {
    let signature = header(headers, "pasar-signature");
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("Pasar-Signature has the form t=…,v1=…: {signature:?}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap()).expect("the signature verifies with the endpoint's secret");
}

#[tokio::test]
async fn a_webhook_endpoint_receives_user_registered_signed_with_its_secret() {
    let app = private_webhooks_app(8).await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    all_relayed(&app).await;
    let (merchant, url) = Merchant::start(200).await;
    let endpoint = create_endpoint(&app, &admin, &url, json!(["user.registered"])).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(endpoint["id"].as_str().unwrap().starts_with("whe_"));
    assert_eq!(endpoint["enabled"], true);

    let buyer = app.register("buyer@example.com").await;
    let (headers, body, event) = eventually("the merchant to receive user.registered", || async {
        merchant.requests_about(&buyer.id).into_iter().next()
    })
    .await;
    assert_eq!(event["type"], "user.registered");
    assert_eq!(event["version"], 1);
    assert_eq!(event["actor"], buyer.id.as_str());
    assert_eq!(event["data"]["after"]["email"], "buyer@example.com");
    assert!(event["occurred_at"].as_str().unwrap().ends_with('Z'));
    let event_id = event["id"].as_str().unwrap();
    assert!(event_id.starts_with("evt_"));
    assert_eq!(header(&headers, "pasar-event-id"), event_id);
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_signed(&headers, &body, secret);

    let endpoint_id = endpoint["id"].as_str().unwrap();
    let delivery = delivery_when(&app, &admin, endpoint_id, event_id, |d| d["status"] == "delivered").await;
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["last_status_code"], 200);
    assert_eq!(delivery["event_type"], "user.registered");
    assert_eq!(delivery["next_attempt_at"], Value::Null);
}

#[tokio::test]
async fn an_endpoint_answering_500_is_retried_with_backoff_then_dead_lettered_and_a_replay_delivers_it() {
    let app = private_webhooks_app(3).await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    all_relayed(&app).await;
    let (merchant, url) = Merchant::start(500).await;
    let endpoint = create_endpoint(&app, &admin, &url, json!(["*"])).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();

    // One event about the buyer (a registration would add a second one).
    let buyer = app.user_with_role("buyer@example.com", Role::Customer).await;
    let event = eventually("a first attempt", || async {
        merchant.requests_about(&buyer.id).first().map(|(_, _, event)| event.clone())
    })
    .await;
    let event_id = event["id"].as_str().unwrap();
    let failed = delivery_when(&app, &admin, endpoint_id, event_id, |d| d["attempts"] == 1).await;
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["last_status_code"], 500);
    assert!(failed["last_error"].as_str().unwrap().contains("500"), "{failed}");
    let next = chrono::DateTime::parse_from_rfc3339(failed["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = next.timestamp_millis() - app.clock.now().millis();
    assert!((3_000..=10_000).contains(&wait), "the first retry waits 5 to 10 s, not {wait} ms");
    assert_eq!(app.state.webhooks.send_due().await.unwrap(), 0, "nothing is due before the backoff ends");

    // An hour is past any retry delay (and past the admin's access token, so log in again).
    app.clock.advance(Duration::from_secs(3600));
    let admin = log_in_again(&app, "admin@example.com").await;
    delivery_when(&app, &admin, endpoint_id, event_id, |d| d["attempts"] == 2 && d["status"] == "pending")
        .await;
    app.clock.advance(Duration::from_secs(3600));
    let admin = log_in_again(&app, "admin@example.com").await;
    let dead = delivery_when(&app, &admin, endpoint_id, event_id, |d| d["status"] == "dead").await;
    assert_eq!(dead["attempts"], 3, "dead-lettered after webhook_max_attempts");
    assert_eq!(dead["next_attempt_at"], Value::Null);
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.state.webhooks.send_due().await.unwrap(), 0, "a dead delivery is not retried");
    let admin = log_in_again(&app, "admin@example.com").await;
    assert_eq!(merchant.requests_about(&buyer.id).len(), 3);
    let dead_only: Value = app
        .get(
            &format!("/v1/admin/webhook-endpoints/{endpoint_id}/deliveries?status=dead"),
            Some(&admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(dead_only["data"].as_array().unwrap().iter().all(|d| d["status"] == "dead"));
    assert!(dead_only["data"].as_array().unwrap().iter().any(|d| d["event_id"] == event_id));

    merchant.answer(204);
    let delivery_id = dead["id"].as_str().unwrap();
    let response = app
        .post(
            &format!("/v1/admin/webhook-deliveries/{delivery_id}/replay"),
            Some(&admin.access_token),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let replayed: Value = response.json().await.unwrap();
    assert_eq!((replayed["status"].as_str(), replayed["attempts"].as_i64()), (Some("pending"), Some(0)));
    let delivered = delivery_when(&app, &admin, endpoint_id, event_id, |d| d["status"] == "delivered").await;
    assert_eq!(delivered["last_status_code"], 204);
    let requests = merchant.requests_about(&buyer.id);
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|(headers, _, _)| header(headers, "pasar-event-id") == event_id),
        "the same event"
    );
}

#[tokio::test]
async fn replaying_an_event_sends_it_again_to_every_endpoint_that_wants_it() {
    let app = private_webhooks_app(8).await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    all_relayed(&app).await;
    let (merchant, url) = Merchant::start(200).await;
    let endpoint = create_endpoint(&app, &admin, &url, json!(["user.registered"])).await;
    let buyer = app.register("buyer@example.com").await;
    let event = eventually("the first delivery", || async {
        merchant.requests_about(&buyer.id).first().map(|(_, _, event)| event.clone())
    })
    .await;
    let event_id = event["id"].as_str().unwrap();
    let token = Some(admin.access_token.as_str());

    let response = app.post(&format!("/v1/admin/events/{event_id}/replay"), token, &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["data"].as_array().unwrap().len(), 1);
    assert_eq!(queued["data"][0]["endpoint_id"], endpoint["id"]);
    eventually("the replayed delivery", || async {
        (merchant.requests_about(&buyer.id).len() == 2).then_some(())
    })
    .await;

    let unknown = EventId::new();
    assert_error(
        app.post(&format!("/v1/admin/events/{unknown}/replay"), token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post("/v1/admin/events/bogus/replay", token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unknown = pasar::ids::WebhookDeliveryId::new();
    let response =
        app.post(&format!("/v1/admin/webhook-deliveries/{unknown}/replay"), token, &json!({})).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn non_https_and_private_urls_are_refused_with_422_and_nothing_is_created() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let token = Some(admin.access_token.as_str());
    for url in [
        "http://93.184.216.34/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "ftp://93.184.216.34/hooks",
        "not a url",
    ] {
        let response = app
            .post("/v1/admin/webhook-endpoints", token, &json!({"url": url, "events": ["order.created"]}))
            .await;
        let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["error"]["details"]["fields"][0]["field"], "url", "{url}: {body}");
    }
    for events in [json!([]), json!(["Order Created"]), json!("order.created")] {
        let response = app
            .post(
                "/v1/admin/webhook-endpoints",
                token,
                &json!({"url": "https://93.184.216.34/hooks", "events": events}),
            )
            .await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let listed: Value = app.get("/v1/admin/webhook-endpoints", token).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was created");

    // A public address is accepted; changing it to a private one is refused and changes nothing.
    let created = create_endpoint(&app, &admin, "https://93.184.216.34/hooks", json!(["*"])).await;
    let path = format!("/v1/admin/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let response =
        app.patch(&path, token, &json!({"url": "https://192.168.1.10/hooks", "enabled": false})).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let unchanged: Value = app.get(&path, token).await.json().await.unwrap();
    assert_eq!(
        (unchanged["url"].as_str(), unchanged["enabled"].as_bool()),
        (Some("https://93.184.216.34/hooks"), Some(true))
    );
}

#[tokio::test]
async fn an_admin_lists_changes_and_deletes_endpoints_and_never_sees_a_secret_again() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let token = Some(admin.access_token.as_str());
    let first = create_endpoint(&app, &admin, "https://93.184.216.34/one", json!(["order.created"])).await;
    let response = app
        .post(
            "/v1/admin/webhook-endpoints",
            token,
            &json!({"url": "https://93.184.216.34/two", "events": ["*"], "description": "ERP"}),
        )
        .await;
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["description"], "ERP");

    let page: Value = app.get("/v1/admin/webhook-endpoints?limit=1", token).await.json().await.unwrap();
    assert_eq!(page["data"][0]["id"], second["id"], "newest first");
    assert!(page["data"][0].get("secret").is_none(), "the list shows no secret");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/v1/admin/webhook-endpoints?limit=1&cursor={cursor}"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["id"], first["id"]);
    assert!(rest.get("next_cursor").is_none());

    let path = format!("/v1/admin/webhook-endpoints/{}", second["id"].as_str().unwrap());
    let fetched: Value = app.get(&path, token).await.json().await.unwrap();
    assert!(fetched.get("secret").is_none());
    let changed = app
        .patch(
            &path,
            token,
            &json!({"events": ["payment.completed", "order.created"], "enabled": false, "description": null}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["events"], json!(["payment.completed", "order.created"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(changed["url"], "https://93.184.216.34/two", "fields not sent are kept");
    let response = app.patch(&path, token, &json!({"secret": "mine"})).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    assert_eq!(app.delete(&path, token).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path, token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(app.get(&format!("{path}/deliveries"), token).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_error(app.delete(&path, token).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .get(
            &format!("/v1/admin/webhook-endpoints/{}/deliveries?status=lost", first["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn webhook_routes_refuse_anonymous_callers_with_401_and_customers_with_403() {
    let app = spawn_app().await;
    let customer = app.register("customer@example.com").await;
    let endpoint = pasar::ids::WebhookEndpointId::new();
    let delivery = pasar::ids::WebhookDeliveryId::new();
    let event = EventId::new();
    let routes = [
        ("POST", "/v1/admin/webhook-endpoints".to_owned()),
        ("GET", "/v1/admin/webhook-endpoints".to_owned()),
        ("GET", format!("/v1/admin/webhook-endpoints/{endpoint}")),
        ("PATCH", format!("/v1/admin/webhook-endpoints/{endpoint}")),
        ("DELETE", format!("/v1/admin/webhook-endpoints/{endpoint}")),
        ("GET", format!("/v1/admin/webhook-endpoints/{endpoint}/deliveries")),
        ("POST", format!("/v1/admin/webhook-deliveries/{delivery}/replay")),
        ("POST", format!("/v1/admin/events/{event}/replay")),
    ];
    let body = json!({"url": "https://93.184.216.34/hooks", "events": ["*"]});
    for (method, path) in &routes {
        let send = |token: Option<&str>| app.request(method.parse().unwrap(), path, token).json(&body).send();
        assert_error(send(None).await.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_error(send(Some(&customer.access_token)).await.unwrap(), StatusCode::FORBIDDEN, "forbidden")
            .await;
    }
}
