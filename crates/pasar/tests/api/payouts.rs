//! Payouts: recorded pending, handed to the gateway, settled once by a signed webhook and only
//! as the gateway says; nothing written for a bad webhook.

use pasar::ids::{PayoutId, UserId};
use pasar::money::{Currency, Money};
use pasar::payments::providers::sandbox::signature_header;
use pasar::payments::{NewPayout, PaymentsError, Payout, PayoutDestination, PayoutStatus};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{SANDBOX_SECRET, TestApp, eventually, spawn_app, spawn_app_with};

const AMOUNT: i64 = 250_000;

/// A shop whose sandbox cannot reach it: the tests deliver the payout webhooks themselves.
async fn unreachable_gateway_shop() -> TestApp {
    spawn_app_with(|config| config.public_url = Some("http://127.0.0.1:9".into())).await
}

fn destination() -> PayoutDestination {
    serde_json::from_value(
        json!({"bank_code": "bca", "account_number": "1234-5678-90", "account_name": "Ana Suryani"}),
    )
    .unwrap()
}

fn new_payout(amount: i64) -> NewPayout {
    NewPayout {
        reference: format!("wdr_{}", uuid::Uuid::now_v7().simple()),
        payee_id: UserId::new().to_string(),
        provider: "sandbox".into(),
        amount: Money::new(amount, Currency::IDR),
        destination: destination(),
    }
}

/// Writes a payout in a transaction of its own, as a withdrawal would in its own.
async fn create(app: &TestApp, new: NewPayout) -> Result<Payout, PaymentsError> {
    let mut tx = app.state.db.begin().await.unwrap();
    let created = app.state.payments.create_payout(&mut tx, new).await;
    if created.is_ok() {
        tx.commit().await.unwrap();
    }
    created
}

/// A payout the sandbox has been asked to send: a withdrawal from a funded wallet, whose hold
/// the settlement posts or voids.
async fn requested_payout(app: &TestApp) -> Payout {
    let payee = UserId::new();
    let amount = Money::new(AMOUNT, Currency::IDR);
    app.state
        .wallet
        .adjust(&format!("fund:{payee}"), payee, amount, "funds to withdraw", "system")
        .await
        .unwrap();
    app.state.wallet.withdraw(payee, amount, destination(), "sandbox").await.unwrap()
}

async fn press(app: &TestApp, payout: &Payout, button: &str) -> Response {
    app.request(Method::POST, &format!("/sandbox/payouts/{}/{button}", payout.id), None).send().await.unwrap()
}

fn event(id: &str, kind: &str, payout_id: PayoutId, amount: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": kind, "created": chrono::Utc::now().timestamp(),
        "data": {"payout_id": payout_id, "payout_ref": "sbxpo_test", "status": kind.trim_start_matches("payout."),
                 "amount": {"amount": amount, "currency": "IDR"}}
    }))
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<String>) -> Response {
    let mut request =
        app.client.post(app.url("/v1/webhooks/sandbox/payouts")).header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("sandbox-signature", signature);
    }
    request.body(body.to_vec()).send().await.unwrap()
}

fn signed(app: &TestApp, body: &[u8]) -> Option<String> {
    Some(signature_header(SANDBOX_SECRET.as_bytes(), app.clock.now().unix_seconds(), body))
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql).bind(bind).fetch_one(app.state.db.reader()).await.unwrap()
}

async fn events_of(app: &TestApp, event_type: &str, payout: &Payout) -> i64 {
    count(
        app,
        &format!("SELECT COUNT(*) FROM outbox_events WHERE event_type = '{event_type}' AND subject_id = $1"),
        &payout.id.to_string(),
    )
    .await
}

async fn status_of(app: &TestApp, payout: &Payout) -> PayoutStatus {
    app.state.payments.payout(payout.id).await.unwrap().status
}

/// Waits (bounded) for the payout to reach `status`.
async fn wait_for(app: &TestApp, payout: &Payout, status: PayoutStatus) {
    eventually(&format!("payout {} to become {status:?}", payout.id), || async {
        (status_of(app, payout).await == status).then_some(())
    })
    .await
}

#[tokio::test]
async fn a_payout_is_written_pending_then_handed_to_the_gateway_once() {
    let app = spawn_app().await;
    let payout = create(&app, new_payout(AMOUNT)).await.unwrap();
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert!(payout.provider_ref.is_none());
    let stored = app.state.payments.payout(payout.id).await.unwrap();
    assert_eq!(stored.destination, destination(), "the whole destination is kept for the gateway");
    assert_eq!(stored.amount, Money::new(AMOUNT, Currency::IDR));

    let later = app.clock.now();
    let unrequested = app.state.payments.unrequested_payouts(later, 10).await.unwrap();
    assert_eq!(unrequested.iter().map(|p| p.id).collect::<Vec<_>>(), vec![payout.id]);
    assert!(app.state.payments.pending_payouts(later, 10).await.unwrap().is_empty());

    let requested = app.state.payments.request_payout(&payout, None).await.unwrap();
    let again = app.state.payments.request_payout(&payout, None).await.unwrap();
    assert!(requested.provider_ref.as_deref().unwrap().starts_with("sbxpo_"));
    assert_eq!(requested.provider_ref, again.provider_ref, "asking twice makes one gateway payout");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM sandbox_payouts WHERE payout_id = $1", &payout.id.to_string())
            .await,
        1
    );
    assert!(app.state.payments.unrequested_payouts(later, 10).await.unwrap().is_empty());
    let pending = app.state.payments.pending_payouts(app.clock.now(), 10).await.unwrap();
    assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![payout.id]);

    let shown = serde_json::to_value(&requested).unwrap();
    assert_eq!(
        shown["destination"],
        json!({"bank_code": "BCA", "account_number_last4": "7890", "account_name": "Ana Suryani"})
    );
    assert!(!shown.to_string().contains("1234567890"), "answers never hold the whole number: {shown}");
}

#[tokio::test]
async fn a_payout_of_nothing_a_second_payout_of_one_withdrawal_or_an_unknown_gateway_is_refused() {
    let app = spawn_app().await;
    assert!(matches!(create(&app, new_payout(0)).await, Err(PaymentsError::InvalidPayout(_))));
    assert!(matches!(create(&app, new_payout(-5)).await, Err(PaymentsError::InvalidPayout(_))));
    let unknown = NewPayout { provider: "nowhere".into(), ..new_payout(AMOUNT) };
    assert!(matches!(create(&app, unknown).await, Err(PaymentsError::UnknownMethod(_))));

    let first = create(&app, new_payout(AMOUNT)).await.unwrap();
    let twice = NewPayout { reference: first.reference.clone(), ..new_payout(AMOUNT) };
    assert!(matches!(create(&app, twice).await, Err(PaymentsError::PayoutExists)));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM payouts WHERE id <> $1", &first.id.to_string()).await, 0);
}

#[tokio::test]
async fn the_sandbox_payout_page_shows_the_amount_and_only_the_last_four_digits() {
    let app = spawn_app().await;
    let payout = requested_payout(&app).await;
    let response = app.get(&format!("/sandbox/payouts/{}", payout.id), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("account ending 7890"), "{page}");
    assert!(page.contains("Ana Suryani") && page.contains("BCA"), "{page}");
    assert!(page.contains("IDR 250000"), "the amount is shown: {page}");
    assert!(!page.contains("1234567890") && !page.contains("123456"), "{page}");
    assert!(page.contains("Succeed") && page.contains("Fail"), "{page}");

    let nobody = app.get(&format!("/sandbox/payouts/{}", PayoutId::new()), None).await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        press(&app, &create(&app, new_payout(AMOUNT)).await.unwrap(), "succeed").await.status(),
        StatusCode::CONFLICT,
        "a payout the gateway was never asked for cannot be sent"
    );
}

#[tokio::test]
async fn pressing_succeed_sends_a_signed_webhook_over_http_and_the_payout_succeeds_once() {
    let app = spawn_app().await;
    let payout = requested_payout(&app).await;
    assert_eq!(press(&app, &payout, "succeed").await.status(), StatusCode::OK);
    wait_for(&app, &payout, PayoutStatus::Succeeded).await;
    assert_eq!(events_of(&app, "payout.succeeded", &payout).await, 1);
    let payload: String = sqlx::query_scalar("SELECT payload FROM outbox_events WHERE subject_id = $1")
        .bind(payout.id.to_string())
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["before"]["status"], "pending");
    assert_eq!(payload["after"]["status"], "succeeded");
    assert_eq!(payload["destination"]["account_number_last4"], "7890");
    assert!(!payload.to_string().contains("1234567890"));
    let sightings = count(
        &app,
        "SELECT COUNT(*) FROM payout_webhook_events WHERE payout_id = $1",
        &payout.id.to_string(),
    )
    .await;
    assert_eq!(sightings, 1, "the sandbox's webhook arrived and was recorded once");

    assert_eq!(press(&app, &payout, "fail").await.status(), StatusCode::CONFLICT, "a sent payout stays sent");
    let page = app.get(&format!("/sandbox/payouts/{}", payout.id), None).await.text().await.unwrap();
    assert!(page.contains("succeeded") && !page.contains("<button>"), "{page}");
}

#[tokio::test]
async fn pressing_fail_fails_the_payout() {
    let app = spawn_app().await;
    let payout = requested_payout(&app).await;
    assert_eq!(press(&app, &payout, "fail").await.status(), StatusCode::OK);
    wait_for(&app, &payout, PayoutStatus::Failed).await;
    assert_eq!(events_of(&app, "payout.failed", &payout).await, 1);
    assert_eq!(events_of(&app, "payout.succeeded", &payout).await, 0);
}

#[tokio::test]
async fn the_same_payout_webhook_twenty_times_in_a_row_has_one_effect() {
    let app = unreachable_gateway_shop().await;
    let payout = requested_payout(&app).await;
    assert_eq!(press(&app, &payout, "succeed").await.status(), StatusCode::OK);
    let body = event("sbxevt_repeat", "payout.succeeded", payout.id, AMOUNT);
    for i in 0..20 {
        let response = deliver(&app, &body, signed(&app, &body)).await;
        assert_eq!(response.status(), StatusCode::OK, "delivery {i}");
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["result"], if i == 0 { "applied" } else { "no_change" });
    }
    assert_eq!(status_of(&app, &payout).await, PayoutStatus::Succeeded);
    assert_eq!(events_of(&app, "payout.succeeded", &payout).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_payout_webhook_twenty_times_at_once_has_one_effect() {
    let app = unreachable_gateway_shop().await;
    let payout = requested_payout(&app).await;
    press(&app, &payout, "fail").await;
    let body = event("sbxevt_burst", "payout.failed", payout.id, AMOUNT);
    let responses =
        futures::future::join_all((0..20).map(|_| deliver(&app, &body, signed(&app, &body)))).await;
    let mut applied = 0;
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        if response.json::<Value>().await.unwrap()["result"] == "applied" {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(status_of(&app, &payout).await, PayoutStatus::Failed);
    assert_eq!(events_of(&app, "payout.failed", &payout).await, 1);
    let sightings = count(
        &app,
        "SELECT COUNT(*) FROM payout_webhook_events WHERE payout_id = $1",
        &payout.id.to_string(),
    )
    .await;
    assert_eq!(sightings, 1);
}

#[tokio::test]
async fn forged_altered_stale_unsigned_or_mismatched_payout_webhooks_are_refused_and_write_nothing() {
    let app = unreachable_gateway_shop().await;
    let payout = requested_payout(&app).await;
    press(&app, &payout, "succeed").await;
    let body = event("sbxevt_forged", "payout.succeeded", payout.id, AMOUNT);
    let now = app.clock.now().unix_seconds();

    let mut altered = body.clone();
    let last = altered.len() - 2;
    altered[last] ^= 1;
    let cases: Vec<(Vec<u8>, Option<String>)> = vec![
        (body.clone(), None),
        (body.clone(), Some(signature_header(b"not the secret at all, not at all", now, &body))),
        (altered.clone(), Some(signature_header(SANDBOX_SECRET.as_bytes(), now, &body))),
        (body.clone(), Some(signature_header(SANDBOX_SECRET.as_bytes(), now - 301, &body))),
        (body.clone(), Some(format!("t={now}"))),
        (body.clone(), Some("garbage".into())),
    ];
    for (payload, signature) in cases {
        let response = deliver(&app, &payload, signature).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_signature");
    }
    let wrong_amount = event("sbxevt_amount", "payout.succeeded", payout.id, AMOUNT + 1);
    let response = deliver(&app, &wrong_amount, signed(&app, &wrong_amount)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "amount_mismatch");

    let nobody = event("sbxevt_nobody", "payout.succeeded", PayoutId::new(), AMOUNT);
    let response = deliver(&app, &nobody, signed(&app, &nobody)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "unknown_payout");

    let mut payment_shaped: Value = serde_json::from_slice(&body).unwrap();
    payment_shaped["data"]["payment_id"] = payment_shaped["data"]["payout_id"].take();
    let payment_shaped = serde_json::to_vec(&payment_shaped).unwrap();
    let response = deliver(&app, &payment_shaped, signed(&app, &payment_shaped)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_webhook");

    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM payout_webhook_events WHERE provider = $1", "sandbox").await,
        0
    );
    assert_eq!(status_of(&app, &payout).await, PayoutStatus::Pending);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM outbox_events WHERE subject_id = $1", &payout.id.to_string()).await,
        0
    );
}

#[tokio::test]
async fn a_payout_that_succeeded_is_not_failed_by_a_later_event() {
    let app = unreachable_gateway_shop().await;
    let payout = requested_payout(&app).await;
    press(&app, &payout, "succeed").await;
    let succeeded = event("sbxevt_first", "payout.succeeded", payout.id, AMOUNT);
    let response = deliver(&app, &succeeded, signed(&app, &succeeded)).await;
    assert_eq!(response.json::<Value>().await.unwrap()["result"], "applied");

    let failed = event("sbxevt_later", "payout.failed", payout.id, AMOUNT);
    let response = deliver(&app, &failed, signed(&app, &failed)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["result"], "no_change");
    assert_eq!(status_of(&app, &payout).await, PayoutStatus::Succeeded);
    assert_eq!(events_of(&app, "payout.failed", &payout).await, 0);
}

#[tokio::test]
async fn the_gateway_s_status_wins_over_what_an_event_claims() {
    let app = unreachable_gateway_shop().await;
    let untouched = requested_payout(&app).await;
    let claim = event("sbxevt_claim", "payout.succeeded", untouched.id, AMOUNT);
    let response = deliver(&app, &claim, signed(&app, &claim)).await;
    assert_eq!(response.json::<Value>().await.unwrap()["result"], "no_change", "the gateway says pending");
    assert_eq!(status_of(&app, &untouched).await, PayoutStatus::Pending);

    let refused = requested_payout(&app).await;
    press(&app, &refused, "fail").await;
    let lie = event("sbxevt_lie", "payout.succeeded", refused.id, AMOUNT);
    let response = deliver(&app, &lie, signed(&app, &lie)).await;
    assert_eq!(response.json::<Value>().await.unwrap()["result"], "applied");
    assert_eq!(status_of(&app, &refused).await, PayoutStatus::Failed, "applied as the gateway reports it");
}

#[tokio::test]
async fn the_payout_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/v1/webhooks/{provider}/payouts",
        "/sandbox/payouts/{payout_id}",
        "/sandbox/payouts/{payout_id}/succeed",
        "/sandbox/payouts/{payout_id}/fail",
    ] {
        assert!(paths.contains_key(route), "{route} is missing from /openapi.json");
    }
}
