use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn an_adjustment_changes_stock_and_is_recorded_as_a_movement() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = &app.product(&admin, "physical", &[150_000]).await[0];
    app.stock(&admin, variant, 12).await;
    let level = app.stock(&admin, variant, -2).await;
    assert_eq!((level["on_hand"].as_i64(), level["available"].as_i64()), (Some(10), Some(10)));

    let report = app.stock_level(&admin, variant).await;
    assert_eq!(report["on_hand"], 10);
    assert_eq!(report["reserved"], 0);
    let movements = report["movements"].as_array().unwrap();
    assert_eq!(movements.len(), 2);
    assert_eq!(movements[0]["delta"], -2, "newest first");
    assert_eq!(movements[0]["on_hand_after"], 10);
    assert_eq!(
        movements.iter().map(|m| m["delta"].as_i64().unwrap()).sum::<i64>(),
        10,
        "on hand is the sum of movements"
    );
}

#[tokio::test]
async fn stock_cannot_go_below_zero_or_below_what_is_reserved() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = &app.product(&admin, "physical", &[10_000]).await[0];
    app.stock(&admin, variant, 3).await;
    let buyer = app.register("buyer@example.com").await;
    assert_eq!(app.checkout(&buyer.access_token, &[(variant, 2)]).await.status(), StatusCode::CREATED);

    let path = format!("/v1/admin/variants/{variant}/stock/adjust");
    let too_far = app.post(&path, Some(&admin.access_token), &json!({"delta": -2, "reason": "count"})).await;
    assert_error(too_far, StatusCode::CONFLICT, "stock_below_reserved").await;
    let level = app.stock_level(&admin, variant).await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(3), Some(2)));
}

#[tokio::test]
async fn bad_adjustments_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = &app.product(&admin, "physical", &[10_000]).await[0];
    let path = format!("/v1/admin/variants/{variant}/stock/adjust");
    let token = Some(admin.access_token.as_str());
    for body in [
        json!({"delta": 0, "reason": "x"}),
        json!({"delta": 5}),
        json!({"delta": 1.5, "reason": "x"}),
        json!({"delta": 5, "reason": ""}),
        json!({"delta": 5, "reason": "x", "on_hand": 99}),
    ] {
        let response = app.post(&path, token, &body).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let unknown = app
        .post(
            "/v1/admin/variants/var_0192f5a3c1e27d3a9b4c5d6e7f809112/stock/adjust",
            token,
            &json!({"delta": 1, "reason": "x"}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let customer = app.register("c@example.com").await;
    let forbidden = app.post(&path, Some(&customer.access_token), &json!({"delta": 1, "reason": "x"})).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.stock_level(&admin, variant).await["on_hand"], 0);
}

#[tokio::test]
async fn digital_items_are_stock_and_are_stored_sealed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = &app.product(&admin, "digital", &[50_000]).await[0];
    let path = format!("/v1/admin/variants/{variant}/digital-items");
    let added = app
        .post(
            &path,
            Some(&admin.access_token),
            &json!({"items": ["KEY-AAAA-0001", "KEY-AAAA-0002", "user: a\npass: b"]}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["added"], 3);
    assert_eq!(added["level"]["available"], 3);

    let stored: Vec<String> = sqlx::query_scalar("SELECT sealed FROM digital_items")
        .fetch_all(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|s| !s.contains("KEY-AAAA")), "items are encrypted at rest");

    let adjust = app
        .post(
            &format!("/v1/admin/variants/{variant}/stock/adjust"),
            Some(&admin.access_token),
            &json!({"delta": 5, "reason": "x"}),
        )
        .await;
    assert_error(adjust, StatusCode::CONFLICT, "digital_stock").await;
}

#[tokio::test]
async fn stock_low_fires_when_available_stock_crosses_the_threshold() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = &app.product(&admin, "physical", &[10_000]).await[0];
    app.stock(&admin, variant, 5).await;
    let threshold = app
        .put(
            &format!("/v1/admin/variants/{variant}/stock/threshold"),
            Some(&admin.access_token),
            &json!({"low_stock_threshold": 3}),
        )
        .await;
    assert_eq!(threshold.status(), StatusCode::OK);
    let buyer = app.register("b@example.com").await;
    assert_eq!(app.checkout(&buyer.access_token, &[(variant, 2)]).await.status(), StatusCode::CREATED);
    assert_eq!(app.checkout(&buyer.access_token, &[(variant, 1)]).await.status(), StatusCode::CREATED);

    let lows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'stock.low' AND subject_id = $1",
    )
    .bind(variant)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(lows, 1, "once, when available went from 3 to 2");
}
