//! Looking after one's account: email verification, password reset, profile, password and
//! email changes, sessions, deactivation by an admin, deletion by the owner, token lifetimes.

use std::time::Duration;

use pasar::identity::{AccountTokenPurpose, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{PASSWORD, Session, TestApp, assert_error, session_of, spawn_app, spawn_app_with};

/// A token as the notifications module gets it to put in an email.
/// A fresh token, as the email would carry it. Notifications issue one for each request (and
/// one at registration), which replaces any unused one: the test's comes after theirs.
async fn token_for(app: &TestApp, user: &str, purpose: AccountTokenPurpose) -> (String, String) {
    app.relayed().await;
    let issued = app
        .state
        .identity
        .issue_account_token(user.parse().unwrap(), purpose)
        .await
        .expect("issuing an account token");
    (issued.token, issued.email)
}

async fn me(app: &TestApp, session: &Session) -> Value {
    let response = app.get("/v1/me", Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The types and payloads of the outbox events about `user`, oldest first.
async fn events_of(app: &TestApp, user: &str) -> Vec<(String, Value)> {
    let rows = sqlx::query("SELECT event_type, payload FROM outbox_events WHERE subject_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(app.state.db.reader())
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let payload: String = row.get("payload");
            (row.get("event_type"), serde_json::from_str(&payload).unwrap())
        })
        .collect()
}

async fn refresh(app: &TestApp, session: &Session) -> reqwest::Response {
    app.post("/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await
}

async fn logged_in(app: &TestApp, email: &str, password: &str) -> Session {
    let response = app.login(email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "logging in as {email}");
    session_of(response.json().await.unwrap())
}

#[tokio::test]
async fn registering_asks_for_verification_and_the_emailed_token_verifies_the_address_once() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    assert_eq!(me(&app, &ana).await["email_verified"], false);
    let events = events_of(&app, &ana.id).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["user.registered", "user.email_verification_requested"]);
    assert_eq!(events[1].1, json!({"user_id": ana.id}), "an event carries the id only, never a token");

    let (token, email) = token_for(&app, &ana.id, AccountTokenPurpose::EmailVerification).await;
    assert_eq!(email, "ana@example.com");
    let verified = app.post("/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(me(&app, &ana).await["email_verified"], true);

    let again = app.post("/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_error(again, StatusCode::GONE, "account_token_used").await;
    let unknown = app.post("/v1/auth/verify-email", None, &json!({"token": "not-a-token"})).await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "invalid_account_token").await;
    let resend = app.post("/v1/me/email/verification", Some(&ana.access_token), &json!({})).await;
    assert_error(resend, StatusCode::CONFLICT, "email_already_verified").await;
}

#[tokio::test]
async fn a_verification_token_expires_after_a_day_and_a_resend_gives_a_fresh_one() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let (token, _) = token_for(&app, &ana.id, AccountTokenPurpose::EmailVerification).await;
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let late = app.post("/v1/auth/verify-email", None, &json!({"token": token})).await;
    assert_error(late, StatusCode::GONE, "account_token_expired").await;

    let resend = app.post("/v1/me/email/verification", None, &json!({})).await;
    assert_error(resend, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let refreshed = session_of(refresh(&app, &ana).await.json().await.unwrap());
    let resend = app.post("/v1/me/email/verification", Some(&refreshed.access_token), &json!({})).await;
    assert_eq!(resend.status(), StatusCode::ACCEPTED);
    assert_eq!(events_of(&app, &ana.id).await.last().unwrap().0, "user.email_verification_requested");
    let (fresh, _) = token_for(&app, &ana.id, AccountTokenPurpose::EmailVerification).await;
    let verified = app.post("/v1/auth/verify-email", None, &json!({"token": fresh})).await;
    assert_eq!(verified.status(), StatusCode::OK);
}

#[tokio::test]
async fn forgot_password_answers_202_for_unknown_emails_and_changes_nothing() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let before: i64 = sqlx::query("SELECT COUNT(*) FROM outbox_events")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get(0);
    let unknown = app.post("/v1/auth/password/forgot", None, &json!({"email": "nobody@example.com"})).await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let unknown_body: Value = unknown.json().await.unwrap();
    let after: i64 = sqlx::query("SELECT COUNT(*) FROM outbox_events")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(before, after, "nothing was recorded for an unknown address");

    let known = app.post("/v1/auth/password/forgot", None, &json!({"email": "ana@example.com"})).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(known.json::<Value>().await.unwrap(), unknown_body, "the answers cannot be told apart");
    assert_eq!(
        events_of(&app, &ana.id).await.last().unwrap(),
        &("user.password_reset_requested".to_owned(), json!({"user_id": ana.id}))
    );
    assert_eq!(app.login("ana@example.com", PASSWORD).await.status(), StatusCode::OK, "the password stands");
}

#[tokio::test]
async fn forgot_password_is_rate_limited_like_login() {
    let app = spawn_app_with(|config| config.login_attempts_per_account = 2).await;
    let body = json!({"email": "ana@example.com"});
    let ask = || app.post("/v1/auth/password/forgot", None, &body);
    assert_eq!(ask().await.status(), StatusCode::ACCEPTED);
    assert_eq!(ask().await.status(), StatusCode::ACCEPTED);
    assert_error(ask().await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_works_once() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let phone = logged_in(&app, "ana@example.com", PASSWORD).await;
    let (token, email) = token_for(&app, &ana.id, AccountTokenPurpose::PasswordReset).await;
    assert_eq!(email, "ana@example.com");

    let reset = json!({"token": token, "password": "a brand new secret"});
    assert_eq!(app.post("/v1/auth/password/reset", None, &reset).await.status(), StatusCode::NO_CONTENT);
    for session in [&ana, &phone] {
        assert_error(
            app.get("/v1/me", Some(&session.access_token)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        assert_error(refresh(&app, session).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    assert_error(
        app.login("ana@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    logged_in(&app, "ana@example.com", "a brand new secret").await;

    let again = json!({"token": token, "password": "yet another secret"});
    assert_error(
        app.post("/v1/auth/password/reset", None, &again).await,
        StatusCode::GONE,
        "account_token_used",
    )
    .await;
    logged_in(&app, "ana@example.com", "a brand new secret").await;
}

#[tokio::test]
async fn a_password_reset_token_expires_after_30_minutes_and_only_the_newest_works() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let (first, _) = token_for(&app, &ana.id, AccountTokenPurpose::PasswordReset).await;
    let (second, _) = token_for(&app, &ana.id, AccountTokenPurpose::PasswordReset).await;
    let with = |token: &str| json!({"token": token, "password": "a brand new secret"});
    assert_error(
        app.post("/v1/auth/password/reset", None, &with(&first)).await,
        StatusCode::BAD_REQUEST,
        "invalid_account_token",
    )
    .await;
    app.clock.advance(Duration::from_secs(30 * 60));
    assert_error(
        app.post("/v1/auth/password/reset", None, &with(&second)).await,
        StatusCode::GONE,
        "account_token_expired",
    )
    .await;
    logged_in(&app, "ana@example.com", PASSWORD).await;

    // A verification token is no reset token.
    let (verification, _) = token_for(&app, &ana.id, AccountTokenPurpose::EmailVerification).await;
    assert_error(
        app.post("/v1/auth/password/reset", None, &with(&verification)).await,
        StatusCode::BAD_REQUEST,
        "invalid_account_token",
    )
    .await;
}

#[tokio::test]
async fn the_profile_is_changed_with_patch_and_bad_values_are_422() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());
    let changed = app
        .patch(
            "/v1/me",
            token,
            &json!({"name": "Ana Putri", "phone": "+62 812 3456 7890", "language": "ja", "time_zone": "asia/tokyo"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (&changed["name"], &changed["phone"], &changed["language"], &changed["time_zone"]),
        (&json!("Ana Putri"), &json!("+62 812 3456 7890"), &json!("ja"), &json!("Asia/Tokyo"))
    );

    for bad in [
        json!({"language": "fr"}),
        json!({"time_zone": "Mars/Olympus"}),
        json!({"time_zone": "+07:00"}),
        json!({"phone": "call me"}),
        json!({"name": "  "}),
        json!({"email": "other@example.com"}),
    ] {
        let response = app.patch("/v1/me", token, &bad).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let unchanged = me(&app, &ana).await;
    assert_eq!((&unchanged["language"], &unchanged["time_zone"]), (&json!("ja"), &json!("Asia/Tokyo")));
    assert_eq!(unchanged["email"], "ana@example.com");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let laptop = logged_in(&app, "ana@example.com", PASSWORD).await;
    let token = Some(ana.access_token.as_str());

    let wrong = json!({"current": "not my password", "new": "a brand new secret"});
    assert_error(app.post("/v1/me/password", token, &wrong).await, StatusCode::FORBIDDEN, "wrong_password")
        .await;
    assert_eq!(app.get("/v1/me", Some(&laptop.access_token)).await.status(), StatusCode::OK);

    let right = json!({"current": PASSWORD, "new": "a brand new secret"});
    assert_eq!(app.post("/v1/me/password", token, &right).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", token).await.status(), StatusCode::OK, "this session goes on");
    assert_eq!(refresh(&app, &ana).await.status(), StatusCode::OK);
    assert_error(
        app.get("/v1/me", Some(&laptop.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(refresh(&app, &laptop).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    logged_in(&app, "ana@example.com", "a brand new secret").await;
}

#[tokio::test]
async fn a_new_email_applies_only_once_its_token_is_used() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    app.register("taken@example.com").await;
    let token = Some(ana.access_token.as_str());

    let wrong = json!({"email": "ana.new@example.com", "password": "not my password"});
    assert_error(app.post("/v1/me/email", token, &wrong).await, StatusCode::FORBIDDEN, "wrong_password")
        .await;
    let taken = json!({"email": "taken@example.com", "password": PASSWORD});
    assert_error(app.post("/v1/me/email", token, &taken).await, StatusCode::CONFLICT, "email_taken").await;

    let asked =
        app.post("/v1/me/email", token, &json!({"email": "Ana.New@example.com", "password": PASSWORD})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    assert_eq!(events_of(&app, &ana.id).await.last().unwrap().0, "user.email_change_requested");
    assert_eq!(me(&app, &ana).await["email"], "ana@example.com", "not before the new address is verified");
    logged_in(&app, "ana@example.com", PASSWORD).await;

    let (change, sent_to) = token_for(&app, &ana.id, AccountTokenPurpose::EmailChange).await;
    assert_eq!(sent_to, "ana.new@example.com", "the token goes to the new address");
    let verified = app.post("/v1/auth/verify-email", None, &json!({"token": change})).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let now = me(&app, &ana).await;
    assert_eq!((&now["email"], &now["email_verified"]), (&json!("ana.new@example.com"), &json!(true)));
    logged_in(&app, "ana.new@example.com", PASSWORD).await;
    assert_error(
        app.login("ana@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let again = app.post("/v1/auth/verify-email", None, &json!({"token": change})).await;
    assert_error(again, StatusCode::GONE, "account_token_used").await;
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_by_one_or_everywhere() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let phone = app
        .request(reqwest::Method::POST, "/v1/auth/login", None)
        .header("user-agent", "PasarPhone/1.0")
        .json(&json!({"email": "ana@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let phone = session_of(phone.json().await.unwrap());
    let tablet = logged_in(&app, "ana@example.com", PASSWORD).await;
    let bob = app.register("bob@example.com").await;

    let listed: Value = app.get("/v1/me/sessions", Some(&ana.access_token)).await.json().await.unwrap();
    let sessions = listed["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{listed}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session =
        sessions.iter().find(|s| s["user_agent"] == "PasarPhone/1.0").expect("the phone's session");
    assert_eq!(phone_session["current"], false);
    assert!(phone_session["ip"].as_str().is_some());

    let phone_id = phone_session["id"].as_str().unwrap();
    let by_bob = app.delete(&format!("/v1/me/sessions/{phone_id}"), Some(&bob.access_token)).await;
    assert_error(by_bob, StatusCode::NOT_FOUND, "not_found").await;
    let ended = app.delete(&format!("/v1/me/sessions/{phone_id}"), Some(&ana.access_token)).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get("/v1/me", Some(&phone.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.get("/v1/me", Some(&tablet.access_token)).await.status(), StatusCode::OK);

    let everywhere_else = app.delete("/v1/me/sessions?keep_current=true", Some(&ana.access_token)).await;
    assert_eq!(everywhere_else.json::<Value>().await.unwrap()["ended"], 1);
    assert_error(
        app.get("/v1/me", Some(&tablet.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.get("/v1/me", Some(&ana.access_token)).await.status(), StatusCode::OK);

    let everywhere = app.delete("/v1/me/sessions", Some(&ana.access_token)).await;
    assert_eq!(everywhere.json::<Value>().await.unwrap()["ended"], 1);
    assert_error(
        app.get("/v1/me", Some(&ana.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(refresh(&app, &ana).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_eq!(
        app.get("/v1/me", Some(&bob.access_token)).await.status(),
        StatusCode::OK,
        "others stay logged in"
    );
}

#[tokio::test]
async fn deactivation_ends_sessions_at_once_and_refuses_login_until_reactivated() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let ana = app.register("ana@example.com").await;
    // Checked once, so the live session is remembered in memory.
    assert_eq!(app.get("/v1/me", Some(&ana.access_token)).await.status(), StatusCode::OK);

    let path = |action: &str| format!("/v1/admin/users/{}/{action}", ana.id);
    let by_ana = app.post(&path("deactivate"), Some(&ana.access_token), &json!({})).await;
    assert_error(by_ana, StatusCode::FORBIDDEN, "forbidden").await;
    let deactivated = app.post(&path("deactivate"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_eq!(deactivated.json::<Value>().await.unwrap()["is_active"], false);

    assert_error(
        app.get("/v1/me", Some(&ana.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(refresh(&app, &ana).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_error(app.login("ana@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_inactive")
        .await;
    assert_error(
        app.login("ana@example.com", "not my password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let events = events_of(&app, &ana.id).await;
    assert_eq!(events.last().unwrap(), &("user.deactivated".to_owned(), json!({"user_id": ana.id})));

    let reactivated = app.post(&path("reactivate"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(reactivated.status(), StatusCode::OK);
    assert_eq!(events_of(&app, &ana.id).await.last().unwrap().0, "user.reactivated");
    logged_in(&app, "ana@example.com", PASSWORD).await;
}

#[tokio::test]
async fn an_admin_cannot_deactivate_another_admin_or_themselves() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let other = app.user_with_role("other-admin@example.com", Role::Admin).await;
    for target in [&other.id, &admin.id] {
        let response = app
            .post(&format!("/v1/admin/users/{target}/deactivate"), Some(&admin.access_token), &json!({}))
            .await;
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_eq!(app.get("/v1/me", Some(&other.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_account_erases_personal_data_and_keeps_the_order_for_the_books() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[25_000]).await.remove(0);
    app.stock(&admin, &variant, 1).await;
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());
    app.patch("/v1/me", token, &json!({"phone": "+62 812 3456 7890"})).await;
    let home = json!({"recipient_name": "Ana", "phone": "+62 812 3456 7890", "line1": "Jl. Merdeka 1",
                      "city": "Jakarta", "postal_code": "10110", "country": "ID"});
    let address = app.post("/v1/me/addresses", token, &home).await;
    assert_eq!(address.status(), StatusCode::CREATED);
    let placed: Value = app.checkout(&ana.access_token, &[(&variant, 1)]).await.json().await.unwrap();
    let order_id = placed["order"]["id"].as_str().unwrap().to_owned();

    let wrong =
        app.request(reqwest::Method::DELETE, "/v1/me", token).json(&json!({"password": "not my password"}));
    assert_error(wrong.send().await.unwrap(), StatusCode::FORBIDDEN, "wrong_password").await;
    let deleted = app.request(reqwest::Method::DELETE, "/v1/me", token).json(&json!({"password": PASSWORD}));
    assert_eq!(deleted.send().await.unwrap().status(), StatusCode::NO_CONTENT);

    assert_error(app.get("/v1/me", token).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_error(
        app.login("ana@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let user: Value = app
        .get(&format!("/v1/admin/users/{}", ana.id), Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(user["email"], "ana@example.com");
    assert!(user["email"].as_str().unwrap().ends_with("@deleted.invalid"));
    assert_eq!(
        (&user["name"], &user["phone"], &user["is_active"]),
        (&json!("Deleted user"), &Value::Null, &json!(false))
    );
    let addresses: i64 = sqlx::query("SELECT COUNT(*) FROM addresses WHERE user_id = $1")
        .bind(&ana.id)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(addresses, 0);

    let order = app.get(&format!("/v1/admin/orders/{order_id}"), Some(&admin.access_token)).await;
    assert_eq!(order.status(), StatusCode::OK, "the order is still readable by admins");
    assert_eq!(
        events_of(&app, &ana.id).await.last().unwrap(),
        &("user.deleted".to_owned(), json!({"user_id": ana.id}))
    );
    let reactivate = app
        .post(&format!("/v1/admin/users/{}/reactivate", ana.id), Some(&admin.access_token), &json!({}))
        .await;
    assert_error(reactivate, StatusCode::CONFLICT, "account_deleted").await;
    // The address is free for a new account.
    app.register("ana@example.com").await;
}

#[tokio::test]
async fn token_lifetimes_follow_the_configuration() {
    let app = spawn_app_with(|config| {
        config.access_token_ttl = 3600;
        config.refresh_token_ttl = 24 * 3600;
    })
    .await;
    let ana = app.register("ana@example.com").await;
    let pair: Value = app.login("ana@example.com", PASSWORD).await.json().await.unwrap();
    assert_eq!(pair["expires_in"], 3600);
    app.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        app.get("/v1/me", Some(&ana.access_token)).await.status(),
        StatusCode::OK,
        "alive past 15 minutes"
    );
    app.clock.advance(Duration::from_secs(24 * 3600 - 30 * 60));
    assert_error(refresh(&app, &ana).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_deactivated_account_is_refused_by_the_telegram_bot_too() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let identity = &app.state.identity;
    let (user, _) = identity.open_telegram_account(7_100, "Budi").await.unwrap();
    assert!(!identity.telegram_banned(7_100).await.unwrap());

    let path = |action: &str| format!("/v1/admin/users/{}/{action}", user.id);
    let deactivated = app.post(&path("deactivate"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert!(identity.telegram_banned(7_100).await.unwrap(), "the bot holds no session: it asks each time");
    let reactivated = app.post(&path("reactivate"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(reactivated.status(), StatusCode::OK);
    assert!(!identity.telegram_banned(7_100).await.unwrap());
}
