use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

fn home() -> Value {
    json!({
        "label": "Home", "recipient_name": "Ana", "phone": "+62 812 3456 7890",
        "line1": "Jl. Merdeka 1", "city": "Jakarta", "postal_code": "10110", "country": "id"
    })
}

#[tokio::test]
async fn a_user_saves_reads_changes_and_deletes_an_address() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());

    let created = app.post("/v1/me/addresses", token, &home()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("adr_"));
    assert_eq!(created["country"], "ID");
    assert_eq!(created["is_default"], true, "the first address is the default");

    let path = format!("/v1/me/addresses/{id}");
    let fetched: Value = app.get(&path, token).await.json().await.unwrap();
    assert_eq!(fetched, created);

    let mut changed = home();
    changed["city"] = json!("Bandung");
    let replaced = app.put(&path, token, &changed).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["city"], "Bandung");
    assert_eq!(replaced["is_default"], true, "still the default");

    let list: Value = app.get("/v1/me/addresses", token).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete(&path, token).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path, token).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn making_an_address_the_default_unsets_the_previous_one() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());
    let first: Value = app.post("/v1/me/addresses", token, &home()).await.json().await.unwrap();
    let mut office = home();
    office["label"] = json!("Office");
    office["is_default"] = json!(true);
    let second: Value = app.post("/v1/me/addresses", token, &office).await.json().await.unwrap();
    assert_eq!(second["is_default"], true);

    let list: Value = app.get("/v1/me/addresses", token).await.json().await.unwrap();
    let defaults: Vec<&Value> =
        list["data"].as_array().unwrap().iter().filter(|a| a["is_default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], second["id"]);
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test]
async fn another_users_address_is_a_404_for_every_method_and_stays_unchanged() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let bob = app.register("bob@example.com").await;
    let address: Value =
        app.post("/v1/me/addresses", Some(&ana.access_token), &home()).await.json().await.unwrap();
    let path = format!("/v1/me/addresses/{}", address["id"].as_str().unwrap());
    let bob_token = Some(bob.access_token.as_str());

    assert_error(app.get(&path, bob_token).await, StatusCode::NOT_FOUND, "not_found").await;
    let mut takeover = home();
    takeover["recipient_name"] = json!("Bob");
    assert_error(app.put(&path, bob_token, &takeover).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(app.delete(&path, bob_token).await, StatusCode::NOT_FOUND, "not_found").await;
    let bobs: Value = app.get("/v1/me/addresses", bob_token).await.json().await.unwrap();
    assert_eq!(bobs["data"], json!([]));

    let still: Value = app.get(&path, Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(still, address);
}

#[tokio::test]
async fn an_address_id_that_does_not_parse_is_a_404() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    for id in ["nope", "usr_0192f5a3c1e27d3a9b4c5d6e7f809112", "adr_zz"] {
        let response = app.get(&format!("/v1/me/addresses/{id}"), Some(&ana.access_token)).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn an_invalid_address_is_422_and_saves_nothing() {
    let app = spawn_app().await;
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());
    for (field, value) in [
        ("country", json!("IDN")),
        ("phone", json!("call me")),
        ("line1", json!("")),
        ("city", json!("x".repeat(101))),
        ("user_id", json!("usr_0192f5a3c1e27d3a9b4c5d6e7f809112")),
    ] {
        let mut body = home();
        body[field] = value;
        let envelope = assert_error(
            app.post("/v1/me/addresses", token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(envelope["error"]["details"]["fields"][0]["field"], field);
    }
    let list: Value = app.get("/v1/me/addresses", token).await.json().await.unwrap();
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn addresses_need_a_session() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/me/addresses", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_error(
        app.post("/v1/me/addresses", None, &home()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}
