//! Notifications over the real channels' local stand-ins: an SMTP server in the test taking
//! the emails lettre sends, and a fake SendGrid that can fail on demand.

use std::time::Duration;

use pasar::events::{Event, Subscriber};
use pasar::ids::EventId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::sendgrid::{self, FakeSendGrid};
use crate::fakes::smtp::SmtpSink;
use crate::helpers::{Session, TestApp, assert_error, eventually, spawn_app_with};

async fn app_with_smtp() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(|c| c.smtp_url = Some(url)).await;
    (app, sink)
}

async fn app_with_sendgrid(sendgrid: &FakeSendGrid) -> TestApp {
    let url = sendgrid.url.clone();
    spawn_app_with(|c| {
        c.sendgrid_api_key = Some(sendgrid::API_KEY.into());
        c.sendgrid_url = url;
    })
    .await
}

/// A buyer with a paid order of one item at Rp 10.000; the order's id and the payment's fee.
async fn paid_order(app: &TestApp, email: &str) -> (Session, String, i64) {
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register(email).await;
    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await.status(),
        StatusCode::OK
    );
    app.wait_for_order(&buyer.access_token, &order_id, "paid").await;
    (buyer, order_id, placed["payment"]["fee"]["amount"].as_i64().unwrap())
}

/// Every delivery the admins see, with `query` (`status=dead&channel=email`).
async fn deliveries(app: &TestApp, admin: &Session, query: &str) -> Vec<Value> {
    let response =
        app.get(&format!("/v1/admin/notifications?limit=100&{query}"), Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

/// An admin, once the fake took the admin's own welcome email (so that the answers a test
/// scripts next are for the test's emails).
async fn admin_settled(app: &TestApp, sendgrid: &FakeSendGrid) -> Session {
    let admin = app.admin().await;
    eventually("the admin's welcome", || async { (!sendgrid.accepted().is_empty()).then_some(()) }).await;
    admin
}

/// Lets the relay and the sender run a few rounds (they poll every 25 ms).
async fn a_few_rounds() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn a_paid_orders_receipt_arrives_once_by_smtp_in_the_buyers_language_with_lines_fee_and_total() {
    let (app, sink) = app_with_smtp().await;
    let (_, order_id, fee) = paid_order(&app, "ana@example.com").await;
    assert!(fee > 0, "the sandbox charges a fee");

    let subject = format!("Bukti pembayaran pesanan {order_id}");
    let receipt =
        eventually("the receipt email", || async { sink.to("ana@example.com", &subject).into_iter().next() })
            .await;
    let text = receipt.text();
    assert!(text.contains("× 1: Rp 10.000"), "the line, in rupiah as Indonesians write it: {text}");
    assert!(text.contains("Total: Rp 10.000"), "{text}");
    assert!(text.contains(&format!("Biaya pembayaran: Rp {fee}")), "{text}");
    assert!(text.contains(&format!("Dibayar: Rp 10.{fee:03}")), "what was paid, fee included: {text}");
    let html = receipt.part("text/html").expect("an HTML part too");
    assert!(html.contains("lang=\"id\"") && html.contains("Total: Rp 10.000"), "{html}");
    assert_eq!(receipt.header("From").unwrap(), "Pasar <no-reply@pasar.local>");

    a_few_rounds().await;
    assert_eq!(sink.to("ana@example.com", &subject).len(), 1, "sent once");
    let placed = format!("Pesanan {order_id} dibuat");
    assert_eq!(sink.to("ana@example.com", &placed).len(), 1, "and the order placed email once");
}

#[tokio::test]
async fn an_event_the_relay_hands_over_again_is_not_sent_again() {
    let (app, sink) = app_with_smtp().await;
    let (buyer, order_id, _) = paid_order(&app, "ana@example.com").await;
    let subject = format!("Bukti pembayaran pesanan {order_id}");
    eventually("the receipt", || async { sink.to("ana@example.com", &subject).into_iter().next() }).await;
    let before = unread(&app, &buyer).await;

    // As if the relay had crashed before marking the event delivered.
    let mut tx = app.state.db.begin().await.unwrap();
    sqlx::query(
        "UPDATE outbox_events SET published_at = NULL, claimed_until = NULL WHERE event_type = 'order.confirmed'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    eventually("the event handed over again", || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'order.confirmed' AND published_at IS NULL",
        )
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        (left == 0).then_some(())
    })
    .await;
    a_few_rounds().await;

    assert_eq!(sink.to("ana@example.com", &subject).len(), 1);
    assert_eq!(unread(&app, &buyer).await, before, "nothing new in the inbox either");
}

#[tokio::test]
async fn a_transient_sendgrid_failure_is_retried_with_backoff_then_sent() {
    let sendgrid = FakeSendGrid::start().await;
    let app = app_with_sendgrid(&sendgrid).await;
    let admin = admin_settled(&app, &sendgrid).await;
    sendgrid.answer_next(&[503]);
    let ana = app.register("ana@example.com").await;

    let failed = eventually("a first attempt that failed", || async {
        deliveries(&app, &admin, "channel=email&status=pending")
            .await
            .into_iter()
            .find(|d| d["user_id"] == ana.id.as_str() && d["attempts"] == 1)
    })
    .await;
    assert!(failed["last_error"].as_str().unwrap().contains("503"), "{failed}");
    a_few_rounds().await;
    assert!(sendgrid.accepted_to("ana@example.com", "Selamat datang").is_empty(), "not before its backoff");

    app.clock.advance(Duration::from_secs(11));
    let sent = eventually("the retry", || async {
        sendgrid.accepted_to("ana@example.com", "Selamat datang").into_iter().next()
    })
    .await;
    assert_eq!(sent["personalizations"][0]["to"][0]["email"], "ana@example.com");
    assert_eq!(sent["content"][0]["type"], "text/plain");
    assert_eq!(sent["content"][1]["type"], "text/html");
    let welcome = eventually("the delivery marked sent", || async {
        let sent = deliveries(&app, &admin, "channel=email&status=sent").await;
        sent.into_iter().find(|d| d["user_id"] == ana.id.as_str() && d["template"] == "welcome")
    })
    .await;
    assert_eq!(welcome["attempts"], 2);
}

#[tokio::test]
async fn a_permanent_refusal_is_dead_lettered_with_its_reason_for_admins_who_can_resend_it() {
    let sendgrid = FakeSendGrid::start().await;
    let app = app_with_sendgrid(&sendgrid).await;
    let admin = admin_settled(&app, &sendgrid).await;
    sendgrid.answer_next(&[400]);
    let ana = app.register("ana@example.com").await;

    let dead = eventually("the dead letter", || async {
        deliveries(&app, &admin, "status=dead&channel=email").await.into_iter().next()
    })
    .await;
    assert_eq!(dead["template"], "welcome");
    assert_eq!(dead["user_id"], ana.id.as_str());
    assert_eq!(dead["attempts"], 1, "a 400 is not retried");
    assert!(dead["last_error"].as_str().unwrap().contains("400 Bad Request"), "{dead}");
    let id = dead["id"].as_str().unwrap();

    let refused =
        app.post(&format!("/v1/admin/notifications/{id}/resend"), Some(&ana.access_token), &json!({})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "for admins only");
    let resent = app
        .post(&format!("/v1/admin/notifications/{id}/resend"), Some(&admin.access_token), &json!({}))
        .await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    eventually("the resent email", || async {
        sendgrid.accepted_to("ana@example.com", "Selamat datang").into_iter().next()
    })
    .await;
    let after = eventually("the delivery sent", || async {
        let sent = deliveries(&app, &admin, "status=sent&channel=email").await;
        sent.into_iter().find(|d| d["id"] == id)
    })
    .await;
    assert!(after.get("last_error").is_none(), "{after}");

    // An in-app notification was never sent anywhere: nothing to send again.
    let in_app = deliveries(&app, &admin, "channel=in_app").await;
    let in_app = in_app[0]["id"].as_str().unwrap();
    let refused = app
        .post(&format!("/v1/admin/notifications/{in_app}/resend"), Some(&admin.access_token), &json!({}))
        .await;
    assert_error(refused, StatusCode::CONFLICT, "not_resendable").await;
}

#[tokio::test]
async fn a_providers_rate_limit_is_honoured_without_counting_an_attempt() {
    let sendgrid = FakeSendGrid::start().await;
    let app = app_with_sendgrid(&sendgrid).await;
    let admin = admin_settled(&app, &sendgrid).await;
    sendgrid.answer_next(&[429]);
    let ana = app.register("ana@example.com").await;

    let waiting = eventually("the rate-limited delivery", || async {
        deliveries(&app, &admin, "channel=email&status=pending").await.into_iter().find(|d| {
            d["user_id"] == ana.id.as_str()
                && d["last_error"].as_str().is_some_and(|e| e.contains("rate limited"))
        })
    })
    .await;
    assert_eq!(waiting["attempts"], 0);
    a_few_rounds().await;
    assert_eq!(sendgrid.calls(), 2, "the admin's welcome, then nothing more before Retry-After");

    app.clock.advance(Duration::from_secs(31));
    eventually("the send after Retry-After", || async {
        sendgrid.accepted_to("ana@example.com", "Selamat datang").into_iter().next()
    })
    .await;
}

async fn unread(app: &TestApp, user: &Session) -> i64 {
    let count: Value =
        app.get("/v1/notifications/unread-count", Some(&user.access_token)).await.json().await.unwrap();
    count["unread"].as_i64().unwrap()
}

#[tokio::test]
async fn marketing_can_be_turned_off_and_then_is_not_sent_but_transactional_mail_cannot() {
    let (app, sink) = app_with_smtp().await;
    let ana = app.register("ana@example.com").await;
    eventually("the welcome", || async { sink.to("ana@example.com", "Selamat datang").into_iter().next() })
        .await;
    let token = Some(ana.access_token.as_str());

    let refused = app
        .put(
            "/v1/me/notification-preferences",
            token,
            &json!({"categories": [{"category": "orders", "enabled": false}]}),
        )
        .await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let set = app
        .put(
            "/v1/me/notification-preferences",
            token,
            &json!({"categories": [{"category": "marketing", "enabled": false}]}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let set: Value = set.json().await.unwrap();
    let marketing =
        set["categories"].as_array().unwrap().iter().find(|c| c["category"] == "marketing").unwrap();
    assert_eq!(marketing["enabled"], false);

    // Another marketing message for Ana (a second welcome event, as a campaign would be).
    let event = Event {
        id: EventId::new(),
        event_type: "user.registered".into(),
        version: 1,
        subject_id: ana.id.clone(),
        actor: "system".into(),
        occurred_at: app.clock.now(),
        payload: json!({"user_id": ana.id}),
    };
    app.state.notifications.deliver(&event).await.unwrap();
    a_few_rounds().await;
    assert_eq!(sink.to("ana@example.com", "Selamat datang").len(), 1, "no second welcome");
    // Her welcome and the request to verify her address, and no second welcome.
    assert_eq!(unread(&app, &ana).await, 2, "nor in the app");
}

#[tokio::test]
async fn the_unsubscribe_link_of_a_marketing_email_works_without_logging_in() {
    let (app, sink) = app_with_smtp().await;
    let ana = app.register("ana@example.com").await;
    let welcome = eventually("the welcome", || async {
        sink.to("ana@example.com", "Selamat datang").into_iter().next()
    })
    .await;
    let text = welcome.text();
    let link = text
        .lines()
        .find_map(|line| line.strip_prefix("Berhenti berlangganan: "))
        .unwrap_or_else(|| panic!("an unsubscribe link in {text}"))
        .to_owned();
    let html = welcome.part("text/html").unwrap();
    assert!(html.replace("&#x2f;", "/").contains(&link), "and in the HTML footer (escaped as HTML)");
    let path = link.strip_prefix(&app.address).expect("a link to this server");

    let page = app.get(path, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("marketing"));
    let done = app.request(reqwest::Method::POST, path, None).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);

    let preferences: Value =
        app.get("/v1/me/notification-preferences", Some(&ana.access_token)).await.json().await.unwrap();
    let marketing =
        preferences["categories"].as_array().unwrap().iter().find(|c| c["category"] == "marketing").unwrap();
    assert_eq!(marketing["enabled"], false);
    let forged = path.replace("marketing", "reviews");
    let refused = app.request(reqwest::Method::POST, &forged, None).send().await.unwrap();
    assert_error(refused, StatusCode::BAD_REQUEST, "invalid_token").await;
}

#[tokio::test]
async fn the_inbox_lists_newest_first_counts_unread_and_marks_read() {
    let (app, _sink) = app_with_smtp().await;
    let (buyer, order_id, _) = paid_order(&app, "ana@example.com").await;
    let token = Some(buyer.access_token.as_str());
    // Welcome, verify your address, order placed, payment received.
    eventually("four notifications", || async { (unread(&app, &buyer).await == 4).then_some(()) }).await;

    let inbox: Value = app.get("/v1/notifications?limit=2", token).await.json().await.unwrap();
    assert_eq!(inbox["unread"], 4);
    let first = &inbox["data"][0];
    assert_eq!(first["template"], "payment_received");
    assert_eq!(first["title"], format!("Bukti pembayaran pesanan {order_id}"));
    assert_eq!(first["read"], false);
    let cursor = inbox["next_cursor"].as_str().expect("a second page");
    let rest: Value =
        app.get(&format!("/v1/notifications?cursor={cursor}"), token).await.json().await.unwrap();
    let older: Vec<&Value> = rest["data"].as_array().unwrap().iter().map(|n| &n["template"]).collect();
    assert_eq!(older, vec!["email_verification", "welcome"]);

    let id = first["id"].as_str().unwrap();
    let other = app.register("budi@example.com").await;
    let foreign =
        app.post(&format!("/v1/notifications/{id}/read"), Some(&other.access_token), &json!({})).await;
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found").await;
    let read = app.post(&format!("/v1/notifications/{id}/read"), token, &json!({})).await;
    assert_eq!(read.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread(&app, &buyer).await, 3);
    let all: Value = app.post("/v1/notifications/read-all", token, &json!({})).await.json().await.unwrap();
    assert_eq!(all["marked"], 3);
    assert_eq!(unread(&app, &buyer).await, 0);
}

#[tokio::test]
async fn deliveries_survive_a_restart_and_are_sent_once() {
    let sendgrid = FakeSendGrid::start().await;
    let app = app_with_sendgrid(&sendgrid).await;
    let admin = admin_settled(&app, &sendgrid).await;
    sendgrid.answer_next(&[503]);
    let ana = app.register("ana@example.com").await;
    eventually("a failed first attempt", || async {
        let pending = deliveries(&app, &admin, "channel=email&status=pending").await;
        pending.into_iter().find(|d| d["user_id"] == ana.id.as_str() && d["attempts"] == 1)
    })
    .await;

    let app = app.restart_after(Duration::from_secs(11)).await;
    eventually("the email after the restart", || async {
        sendgrid.accepted_to("ana@example.com", "Selamat datang").into_iter().next()
    })
    .await;
    a_few_rounds().await;
    assert_eq!(sendgrid.accepted_to("ana@example.com", "Selamat datang").len(), 1, "sent once");
    let sent = deliveries(&app, &admin, "channel=email&status=sent").await;
    let welcomes = sent.iter().filter(|d| d["user_id"] == ana.id.as_str() && d["template"] == "welcome");
    assert_eq!(welcomes.count(), 1);
}

/// The token an account email carries: in its link, and again as a code for apps.
fn token_in(mail: &crate::fakes::smtp::Mail) -> String {
    let text = mail.text();
    let link = text.lines().find(|l| l.contains("?token=")).expect("a link with the token");
    let token = link.split("?token=").nth(1).unwrap().trim().to_owned();
    assert_eq!(text.matches(token.as_str()).count(), 2, "the link and the code carry one token: {text}");
    token
}

#[tokio::test]
async fn a_new_account_is_verified_with_the_token_its_email_brings_and_only_once() {
    let (app, sink) = app_with_smtp().await;
    app.register("verify-me@example.com").await;
    let mail = eventually("the verification email", || async {
        sink.to("verify-me@example.com", "Konfirmasi alamat email Anda").into_iter().next()
    })
    .await;
    let token = token_in(&mail);

    let verified = app.post("/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert!(verified.status().is_success(), "verifying: {}", verified.status());
    let again = app.post("/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_error(again, StatusCode::GONE, "account_token_used").await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_the_emailed_token_in_the_users_language() {
    let (app, sink) = app_with_smtp().await;
    let buyer = app.register("forgetful@example.com").await;
    let response = app.patch("/v1/me", Some(&buyer.access_token), &json!({"language": "en"})).await;
    assert_eq!(response.status(), StatusCode::OK);

    let asked = app.post("/v1/auth/password/forgot", None, &json!({"email": "forgetful@example.com"})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mail = eventually("the reset email", || async {
        sink.to("forgetful@example.com", "Reset your password").into_iter().next()
    })
    .await;
    let token = token_in(&mail);
    let reset = app
        .post("/v1/auth/password/reset", None, &json!({"token": token, "password": "a brand new secret 9"}))
        .await;
    assert!(reset.status().is_success(), "resetting: {}", reset.status());
    assert_eq!(app.login("forgetful@example.com", "a brand new secret 9").await.status(), StatusCode::OK);
    let replay = app
        .post("/v1/auth/password/reset", None, &json!({"token": token, "password": "another secret 10"}))
        .await;
    assert_error(replay, StatusCode::GONE, "account_token_used").await;
}

#[tokio::test]
async fn a_receipt_also_reaches_the_buyers_phone_by_sms_and_their_browser_by_web_push() {
    let twilio = crate::fakes::twilio::FakeTwilio::start().await;
    let push_service = crate::fakes::push::FakePushService::start().await;
    let vapid = pasar::push::VapidKey::generate();
    let app = spawn_app_with(|c| {
        twilio.configure(c);
        c.vapid_private_key = Some(vapid.private_key());
        c.webhooks_allow_private = true;
    })
    .await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    app.stock(&admin, &variant, 5).await;
    let buyer = app.register("sari@example.com").await;
    let token = Some(buyer.access_token.as_str());
    let profile = app.patch("/v1/me", token, &json!({"phone": "+62 812-3456-7890"})).await;
    assert_eq!(profile.status(), StatusCode::OK);
    let (_, subscription) = push_service.new_browser();
    assert_eq!(
        app.post("/v1/me/push-subscriptions", token, &subscription).await.status(),
        StatusCode::CREATED
    );

    let placed: Value = app.checkout(&buyer.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();
    app.press(placed["payment"]["id"].as_str().unwrap(), "succeed").await;
    let subject = format!("Bukti pembayaran pesanan {order_id}");

    let sms = eventually("the receipt by SMS", || async {
        twilio.sent().into_iter().find(|s| s.body.starts_with(&subject))
    })
    .await;
    assert_eq!(sms.to, "+6281234567890");
    assert_eq!(sms.from, crate::fakes::twilio::FROM);
    let pushed = eventually("the receipt by Web Push", || async {
        push_service.received().into_iter().find(|r| r.message["title"] == subject.as_str())
    })
    .await;
    assert!(pushed.message["body"].as_str().is_some_and(|b| b.contains("Rp 10.000")), "{:?}", pushed.message);

    a_few_rounds().await;
    assert_eq!(twilio.sent().iter().filter(|s| s.body.starts_with(&subject)).count(), 1, "one SMS");
    let pushes =
        push_service.received().into_iter().filter(|r| r.message["title"] == subject.as_str()).count();
    assert_eq!(pushes, 1, "one push");
    assert!(push_service.refused().is_empty(), "{:?}", push_service.refused());
}
