//! `/openapi.json` tells the truth: every status the shared machinery answers is documented on
//! every operation it can happen on, each schema has its own name and its own limits, and the
//! document reads as valid OpenAPI 3.1 (issue 15; `.ci/openapi` checks the same against the
//! running server with Schemathesis).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The schema a `$ref` points at (or the schema itself when it is not a reference).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} does not resolve"))
        }
        None => schema,
    }
}

fn json_body<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let schema = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{method} {path} has no JSON body");
    resolve(doc, schema)
}

/// The schema of a property, with a nullable `oneOf` unwrapped and references followed.
fn property<'a>(doc: &'a Value, object: &'a Value, name: &str) -> &'a Value {
    let schema = &object["properties"][name];
    assert!(!schema.is_null(), "no property {name} in {object}");
    let schema = match schema.get("oneOf").and_then(Value::as_array) {
        Some(variants) => variants.iter().find(|v| v["type"] != "null").expect("a non-null variant"),
        None => schema,
    };
    resolve(doc, schema)
}

/// Every (path, method, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

fn documents_the_envelope(operation: &Value, status: &str) -> bool {
    operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/ErrorEnvelope"
}

#[tokio::test]
async fn the_wallet_adjustment_and_the_stock_adjustment_are_two_schemas() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let wallet = json_body(&doc, "post", "/v1/admin/users/{id}/wallet/adjust");
    assert!(wallet["properties"].get("amount").is_some(), "the wallet adjustment takes amount: {wallet}");
    assert!(wallet["properties"].get("delta").is_none(), "the wallet adjustment takes no delta: {wallet}");
    let stock = json_body(&doc, "post", "/v1/admin/variants/{id}/stock/adjust");
    assert!(stock["properties"].get("delta").is_some(), "the stock adjustment takes delta: {stock}");
    assert!(stock["properties"].get("amount").is_none(), "the stock adjustment takes no amount: {stock}");
}

#[tokio::test]
async fn every_text_field_documents_its_own_limit() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let product = json_body(&doc, "post", "/v1/admin/products");
    let person = json_body(&doc, "post", "/v1/auth/register");
    let address = json_body(&doc, "post", "/v1/me/addresses");
    assert_eq!(property(&doc, product, "name")["maxLength"], 200, "a product name");
    assert_eq!(property(&doc, person, "name")["maxLength"], 100, "a person's name");
    assert_eq!(property(&doc, address, "label")["maxLength"], 50, "an address label");
    assert_eq!(property(&doc, address, "postal_code")["maxLength"], 20, "a postal code");
    assert_eq!(property(&doc, person, "name")["minLength"], 1);
}

#[tokio::test]
async fn every_page_size_is_1_to_100_and_every_cursor_is_non_empty() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut paginated = 0;
    for (path, method, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            match (parameter["in"].as_str(), parameter["name"].as_str()) {
                (Some("query"), Some("limit")) => {
                    paginated += 1;
                    assert_eq!(schema["minimum"], 1, "{method} {path} limit");
                    assert_eq!(schema["maximum"], 100, "{method} {path} limit");
                }
                (Some("query"), Some("cursor")) => {
                    assert_eq!(schema["minLength"], 1, "{method} {path} cursor");
                }
                _ => {}
            }
        }
    }
    assert!(paginated >= 8, "only {paginated} paginated operations found");
}

#[tokio::test]
async fn an_empty_cursor_and_a_page_of_zero_are_refused_as_documented() {
    let app = spawn_app().await;
    for query in ["cursor=", "limit=0", "limit=101"] {
        let response = app.get(&format!("/v1/products?{query}"), None).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

#[tokio::test]
async fn no_type_is_a_list_so_none_renders_as_stringnull_and_no_parameter_is_null() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    // `names` is true for a schema's `properties`, whose keys are field names: a field may be
    // called `type` (GeoJSON's, a tagged enum's) without being a type keyword.
    fn walk(value: &Value, at: &str, names: bool) {
        match value {
            Value::Object(object) => {
                if let Some(ty) = object.get("type").filter(|_| !names) {
                    assert!(ty.is_string(), "{at} has type {ty}: a list renders joined, as `stringnull`");
                }
                for (key, child) in object {
                    walk(child, &format!("{at}/{key}"), key == "properties" && !names);
                }
            }
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), false))
            }
            _ => {}
        }
    }
    walk(&doc, "", false);
    for (path, method, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let text = parameter["schema"].to_string();
            assert!(
                !text.contains("\"null\""),
                "{method} {path} {}: a parameter is never null",
                parameter["name"]
            );
        }
    }
}

#[tokio::test]
async fn every_operation_documents_the_errors_the_shared_machinery_answers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (path, method, operation) in operations(&doc) {
        let at = format!("{method} {path}");
        let json_body = operation["requestBody"]["content"].get("application/json").is_some()
            && !path.starts_with("/v1/webhooks/");
        if json_body {
            for status in ["400", "413", "415", "422"] {
                assert!(documents_the_envelope(&operation, status), "{at} does not document {status}");
            }
        }
        let secured =
            operation["security"].as_array().into_iter().flatten().any(|r| r.get("bearer").is_some());
        if secured {
            assert!(documents_the_envelope(&operation, "401"), "{at} does not document 401");
            assert!(
                operation["responses"]["401"]["headers"].get("WWW-Authenticate").is_some(),
                "{at}: its 401 says WWW-Authenticate"
            );
        }
        if path.starts_with("/v1/admin/") {
            assert!(secured, "{at} takes a token");
            assert!(documents_the_envelope(&operation, "403"), "{at} does not document 403");
        }
        let path_parameters =
            operation["parameters"].as_array().into_iter().flatten().any(|p| p["in"] == "path");
        if path_parameters {
            assert!(operation["responses"]["404"]["content"].get("application/json").is_some(), "{at}: 404");
        }
        if path.starts_with("/v1/") {
            assert!(documents_the_envelope(&operation, "429"), "{at} does not document 429");
            assert!(
                operation["responses"]["429"]["headers"].get("Retry-After").is_some(),
                "{at}: Retry-After"
            );
        }
        assert!(operation["responses"].get("503").is_some(), "{at} does not document 503");
    }
}

#[tokio::test]
async fn every_reference_resolves_and_every_schema_name_is_one_type() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    fn walk<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    refs.push(reference);
                }
                object.values().for_each(|child| walk(child, refs));
            }
            Value::Array(items) => items.iter().for_each(|child| walk(child, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&doc, &mut refs);
    for reference in refs {
        assert!(doc.pointer(reference.trim_start_matches('#')).is_some(), "{reference} does not resolve");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.get("Adjustment").is_none(), "two bodies once shared the name Adjustment");
    assert!(schemas.contains_key("WalletAdjustment") && schemas.contains_key("StockAdjustment"));
}

#[tokio::test]
async fn the_image_upload_is_a_file_and_the_payment_methods_are_listed() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let upload = &doc["paths"]["/v1/admin/products/{id}/media"]["post"]["requestBody"]["content"];
    for media_type in ["image/png", "image/jpeg", "image/webp", "image/gif"] {
        let schema = resolve(&doc, &upload[media_type]["schema"]);
        assert_eq!(schema, &json!({"type": "string", "format": "binary"}), "{media_type}");
    }
    let checkout = json_body(&doc, "post", "/v1/checkout");
    assert_eq!(property(&doc, checkout, "payment_method")["enum"], json!(["sandbox", "wallet"]));
    let deposit = json_body(&doc, "post", "/v1/wallet/deposits");
    assert_eq!(property(&doc, deposit, "payment_method")["enum"], json!(["sandbox"]));
}

#[tokio::test]
async fn a_sandbox_page_for_an_id_that_does_not_parse_is_the_documented_json_404() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let not_found = &doc["paths"]["/sandbox/pay/{payment_id}"]["get"]["responses"]["404"]["content"];
    assert_eq!(not_found["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorEnvelope");
    assert!(not_found.get("text/html").is_some(), "an unknown payment's page is HTML");
    let response = app.get("/sandbox/pay/not-a-payment-id", None).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_json_array_is_not_an_object_body() {
    let app = spawn_app().await;
    let response =
        app.post("/v1/auth/register", None, &json!(["ana@example.com", "a-password", "Ana"])).await;
    let envelope = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(envelope["error"]["details"]["fields"][0]["field"], "");
}

/// Found by Schemathesis: an adjustment near i64::MAX overflowed the ledger's sums on SQLite (a
/// 500). It is bounded like deposits and withdrawals, and documented so.
#[tokio::test]
async fn a_wallet_adjustment_beyond_its_documented_bound_is_a_422_not_a_500() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let doc = document(&app).await;
    let adjustment = json_body(&doc, "post", "/v1/admin/users/{id}/wallet/adjust");
    let bounds = &property(&doc, adjustment, "amount")["properties"]["amount"]["oneOf"];
    assert_eq!(bounds[0]["maximum"], 1_000_000_000_000_i64, "{bounds}");
    let path = format!("/v1/admin/users/{}/wallet/adjust", ana.id);
    // Beyond what one adjustment may move, and beyond what money may be at all.
    for (amount, code) in [
        (1_000_000_000_001_i64, "invalid_wallet_request"),
        (i64::MAX, "validation_failed"),
        (i64::MIN, "validation_failed"),
    ] {
        let body = json!({"amount": {"amount": amount, "currency": "IDR"}, "reason": "fuzz"});
        let response = app.post(&path, Some(&admin.access_token), &body).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
}

/// Found by Schemathesis: a stock delta of i64::MIN overflowed `abs()` (a 500 in debug builds).
#[tokio::test]
async fn the_smallest_stock_delta_is_a_422_not_a_500() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variant = app.product(&admin, "physical", &[10_000]).await.remove(0);
    let body = json!({"delta": i64::MIN, "reason": "fuzz"});
    let response = app
        .post(&format!("/v1/admin/variants/{variant}/stock/adjust"), Some(&admin.access_token), &body)
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

/// Found by Schemathesis on PostgreSQL, whose text cannot hold NUL: search text with control
/// characters was a 500 there; it is refused as the document says.
#[tokio::test]
async fn search_text_with_a_nul_is_a_422_on_every_backend() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = Some(admin.access_token.as_str());
    for path in ["/v1/products?q=a%00b", "/v1/admin/users?q=a%00b", "/v1/admin/audit?actor=a%00b"] {
        let response = app.get(path, token).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}
