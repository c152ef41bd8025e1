use std::collections::HashSet;

use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn admin_routes_refuse_anonymous_callers_with_401_and_non_staff_with_403() {
    let app = spawn_app().await;
    let target = app.register("target@example.com").await;
    let routes = [
        ("GET", "/v1/admin/users".to_owned()),
        ("GET", format!("/v1/admin/users/{}", target.id)),
        ("PUT", format!("/v1/admin/users/{}/role", target.id)),
    ];
    let customer = app.register("customer@example.com").await;
    let reseller = app.user_with_role("reseller@example.com", Role::Reseller).await;
    let seller = app.user_with_role("seller@example.com", Role::Seller).await;
    for (method, path) in &routes {
        let send = |token: Option<String>| {
            let request = app.request(method.parse().unwrap(), path, token.as_deref());
            let request = if *method == "PUT" { request.json(&json!({"role": "admin"})) } else { request };
            request.send()
        };
        assert_error(send(None).await.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
        for caller in [&customer, &reseller, &seller] {
            let response = send(Some(caller.access_token.clone())).await.unwrap();
            assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    let me: Value = app.get("/v1/me", Some(&target.access_token)).await.json().await.unwrap();
    assert_eq!(me["role"], "customer", "no refused call changed anything");
}

#[tokio::test]
async fn an_admin_pages_through_users_with_a_cursor_and_searches_them() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    for i in 0..5 {
        app.register(&format!("buyer{i}@example.com")).await;
    }
    let token = Some(admin.access_token.as_str());

    let mut seen = Vec::new();
    let mut path = "/v1/admin/users?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path, token).await.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|u| u["email"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/admin/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "every user once: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 6);
    assert_eq!(seen[0], "buyer4@example.com", "newest first");

    let found: Value = app.get("/v1/admin/users?q=BUYER3", token).await.json().await.unwrap();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["email"], "buyer3@example.com");
    let literal: Value = app.get("/v1/admin/users?q=%25", token).await.json().await.unwrap();
    assert_eq!(literal["data"], json!([]), "% is searched for, not a wildcard");
    let admins: Value = app.get("/v1/admin/users?role=admin", token).await.json().await.unwrap();
    assert_eq!(admins["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_paging_and_filters_are_422() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let token = Some(admin.access_token.as_str());
    for query in ["limit=0", "limit=101", "limit=ten", "cursor=bogus", "role=king", "sort=email"] {
        let response = app.get(&format!("/v1/admin/users?{query}"), token).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

#[tokio::test]
async fn an_admin_makes_a_customer_a_seller_and_it_takes_effect_at_once() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let ana = app.register("ana@example.com").await;
    let path = format!("/v1/admin/users/{}/role", ana.id);
    let response = app.put(&path, Some(&admin.access_token), &json!({"role": "seller"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["role"], "seller");
    let me: Value = app.get("/v1/me", Some(&ana.access_token)).await.json().await.unwrap();
    assert_eq!(me["role"], "seller", "the existing session sees the new role");
}

#[tokio::test]
async fn a_role_change_applies_at_once_to_a_session_checked_moments_ago() {
    let app = spawn_app().await;
    let root = app.user_with_role("root@example.com", Role::SuperAdmin).await;
    let ana = app.register("ana@example.com").await;
    let path = format!("/v1/admin/users/{}/role", ana.id);
    // Each request files the session with the role it saw; a role change must forget it.
    let refused = app.get("/v1/admin/users", Some(&ana.access_token)).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;

    let granted = app.put(&path, Some(&root.access_token), &json!({"role": "admin"})).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let listed = app.get("/v1/admin/users", Some(&ana.access_token)).await;
    assert_eq!(listed.status(), StatusCode::OK, "promoted at once");

    let removed = app.put(&path, Some(&root.access_token), &json!({"role": "customer"})).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let refused = app.get("/v1/admin/users", Some(&ana.access_token)).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn only_a_super_admin_grants_admin() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let root = app.user_with_role("root@example.com", Role::SuperAdmin).await;
    let ana = app.register("ana@example.com").await;
    let path = format!("/v1/admin/users/{}/role", ana.id);

    let refused = app.put(&path, Some(&admin.access_token), &json!({"role": "admin"})).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let demote_peer = app
        .put(
            &format!("/v1/admin/users/{}/role", root.id),
            Some(&admin.access_token),
            &json!({"role": "customer"}),
        )
        .await;
    assert_error(demote_peer, StatusCode::FORBIDDEN, "forbidden").await;

    let granted = app.put(&path, Some(&root.access_token), &json!({"role": "admin"})).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let listed = app.get("/v1/admin/users", Some(&ana.access_token)).await;
    assert_eq!(listed.status(), StatusCode::OK, "the new admin reaches admin routes");
}

#[tokio::test]
async fn nobody_changes_their_own_role() {
    let app = spawn_app().await;
    let root = app.user_with_role("root@example.com", Role::SuperAdmin).await;
    let response = app
        .put(
            &format!("/v1/admin/users/{}/role", root.id),
            Some(&root.access_token),
            &json!({"role": "customer"}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_role_change_for_an_unknown_user_or_role_is_refused() {
    let app = spawn_app().await;
    let root = app.user_with_role("root@example.com", Role::SuperAdmin).await;
    let ana = app.register("ana@example.com").await;
    let token = Some(root.access_token.as_str());
    let unknown = app
        .put("/v1/admin/users/usr_0192f5a3c1e27d3a9b4c5d6e7f809112/role", token, &json!({"role": "seller"}))
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let bad_role =
        app.put(&format!("/v1/admin/users/{}/role", ana.id), token, &json!({"role": "king"})).await;
    assert_error(bad_role, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}
