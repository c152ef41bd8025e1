use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn a_guest_cart_is_reached_with_its_token_and_merges_into_the_buyers_cart_at_login() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variants = app.product(&admin, "physical", &[10_000, 20_000]).await;

    let guest: Value = app.post("/v1/carts", None, &json!({})).await.json().await.unwrap();
    let (cart_id, token) = (guest["id"].as_str().unwrap(), guest["token"].as_str().unwrap());
    let path = format!("/v1/carts/{cart_id}/items");
    let add = app
        .request(Method::POST, &path, None)
        .header("x-cart-token", token)
        .json(&json!({"variant_id": variants[0], "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(add.status(), StatusCode::OK);
    let without_token = app.get(&format!("/v1/carts/{cart_id}"), None).await;
    assert_error(without_token, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_token = app
        .request(Method::GET, &format!("/v1/carts/{cart_id}"), None)
        .header("x-cart-token", "not-the-token")
        .send()
        .await
        .unwrap();
    assert_error(wrong_token, StatusCode::NOT_FOUND, "not_found").await;

    let ana = app.register("ana@example.com").await;
    let mine: Value = app.post("/v1/carts", Some(&ana.access_token), &json!({})).await.json().await.unwrap();
    let my_id = mine["id"].as_str().unwrap();
    app.post(
        &format!("/v1/carts/{my_id}/items"),
        Some(&ana.access_token),
        &json!({"variant_id": variants[0], "quantity": 1}),
    )
    .await;
    app.post(
        &format!("/v1/carts/{my_id}/items"),
        Some(&ana.access_token),
        &json!({"variant_id": variants[1], "quantity": 1}),
    )
    .await;

    let login = app
        .post("/v1/auth/login", None, &json!({"email": "ana@example.com", "password": PASSWORD, "cart": {"id": cart_id, "token": token}}))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let merged: Value =
        app.get(&format!("/v1/carts/{my_id}"), Some(&ana.access_token)).await.json().await.unwrap();
    let quantity_of = |variant: &str| {
        merged["items"].as_array().unwrap().iter().find(|i| i["variant_id"] == variant).unwrap()["quantity"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(quantity_of(&variants[0]), 3);
    assert_eq!(quantity_of(&variants[1]), 1);
    assert_eq!(merged["subtotal"]["amount"], 3 * 10_000 + 20_000, "priced from the catalog now");
    let gone = app
        .request(Method::GET, &format!("/v1/carts/{cart_id}"), None)
        .header("x-cart-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "the guest cart was merged away");
}

#[tokio::test]
async fn another_buyers_cart_is_a_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    let ana = app.register("ana@example.com").await;
    let bob = app.register("bob@example.com").await;
    let cart: Value = app.post("/v1/carts", Some(&ana.access_token), &json!({})).await.json().await.unwrap();
    let id = cart["id"].as_str().unwrap();
    assert_error(
        app.get(&format!("/v1/carts/{id}"), Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let sneak = app
        .post(
            &format!("/v1/carts/{id}/items"),
            Some(&bob.access_token),
            &json!({"variant_id": variant, "quantity": 1}),
        )
        .await;
    assert_error(sneak, StatusCode::NOT_FOUND, "not_found").await;
    let checkout = app
        .post("/v1/checkout", Some(&bob.access_token), &json!({"cart_id": id, "payment_method": "sandbox"}))
        .await;
    assert_error(checkout, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn cart_quantities_are_bounded_and_unknown_items_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    let ana = app.register("ana@example.com").await;
    let token = Some(ana.access_token.as_str());
    let cart: Value = app.post("/v1/carts", token, &json!({})).await.json().await.unwrap();
    let items = format!("/v1/carts/{}/items", cart["id"].as_str().unwrap());
    for quantity in [0, -1, 101] {
        let response = app.post(&items, token, &json!({"variant_id": variant, "quantity": quantity})).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let unknown = app
        .post(&items, token, &json!({"variant_id": "var_0192f5a3c1e27d3a9b4c5d6e7f809112", "quantity": 1}))
        .await;
    assert_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "not_for_sale").await;
    app.post(&items, token, &json!({"variant_id": variant, "quantity": 60})).await;
    let over = app.post(&items, token, &json!({"variant_id": variant, "quantity": 41})).await;
    assert_error(over, StatusCode::CONFLICT, "cart_limit").await;
    let changed = app
        .request(Method::PATCH, &format!("{items}/{variant}"), token)
        .json(&json!({"quantity": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.json::<Value>().await.unwrap()["items"][0]["quantity"], 5);
    let removed = app.delete(&format!("{items}/{variant}"), token).await;
    assert_eq!(removed.json::<Value>().await.unwrap()["items"], json!([]));
}
