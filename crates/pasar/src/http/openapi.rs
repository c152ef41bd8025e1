//! Completes the OpenAPI document once every route is merged, so that what it promises is what
//! the server does (DESIGN section 8). Routes declare what is particular to them (their success
//! bodies, their own 409 codes); everything the shared machinery answers is added here, once,
//! from the shape of each operation:
//!
//! - a JSON request body (read by `ApiJson`): 400 malformed JSON, 413 over the body limit, 415
//!   not JSON, 422 validation;
//! - a bearer token in its security: 401 (with `WWW-Authenticate`); under `/v1/admin/`: 403;
//! - a path parameter (read by `ApiPath`, which answers 404 for an id that does not parse): 404;
//! - query parameters (read by `ApiQuery`, which refuses unknown ones): 422;
//! - an `Idempotency-Key` header: 400 for a malformed key, 409 while the first request runs, 422 for a reused key;
//! - behind the per-IP rate limit (everything but `/health`, `/ready`, `/metrics` and `/media`):
//!   429 with `Retry-After`;
//! - every operation: 503 with `Retry-After` (the request timeout, or a dependency down).
//!
//! A status an operation already documents is left as it is. An operation whose body is read as
//! raw bytes (a gateway's webhook) says so with the extension `x-raw-body: true`, which is read
//! and removed here: it gets 413 but none of the JSON statuses.
//!
//! It also states the pagination convention on every `limit` (1 to 100) and `cursor` (an opaque
//! base64url token) query parameter, drops `null` from parameter types (a query or header value
//! is absent or a string, never null), and spells nullable types as `oneOf` with `{"type":
//! "null"}` rather than a type array (valid OpenAPI 3.1 either way; viewers that join a type
//! array render it as `stringnull`).

use serde_json::{Map, Value, json};

use super::idempotency::HEADER as IDEMPOTENCY_HEADER;
use super::pagination::MAX_PAGE_SIZE;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const ERROR_ENVELOPE: &str = "#/components/schemas/ErrorEnvelope";
/// Paths outside the per-IP rate limit (see `http::router`).
const NOT_RATE_LIMITED: [&str; 4] = ["/health", "/ready", "/metrics", "/media/"];
pub const RAW_BODY_EXTENSION: &str = "x-raw-body";

/// The finished document, as served at `/openapi.json`.
/// Fills in the `enum` of every schema marked with [`crate::payments::METHODS_EXTENSION`] from
/// `lists` (the methods this server's providers offer), and drops the mark.
pub fn fill_in_methods(doc: &mut Value, lists: &[(&str, Vec<String>)]) {
    match doc {
        Value::Object(object) => {
            if let Some(Value::String(list)) = object.remove(crate::payments::METHODS_EXTENSION) {
                let names = lists.iter().find(|(name, _)| *name == list).map(|(_, names)| names.clone());
                // An empty list (no provider offers any) is no valid enum: the field stays a string.
                if let Some(names) = names.filter(|names| !names.is_empty()) {
                    object.insert("enum".into(), Value::from(names));
                }
            }
            object.values_mut().for_each(|value| fill_in_methods(value, lists));
        }
        Value::Array(items) => items.iter_mut().for_each(|value| fill_in_methods(value, lists)),
        _ => {}
    }
}

pub fn complete(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the OpenAPI document serialises");
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
                    standard_responses(path, operation);
                    response_headers(operation);
                    if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
                        parameters.iter_mut().for_each(tighten_parameter);
                    }
                }
            }
        }
    }
    nullable_as_one_of(&mut doc);
    // Money refuses unknown fields (its Rust type is read through a checked input type, which
    // the derive cannot see).
    if let Some(money) = doc.pointer_mut("/components/schemas/Money").and_then(Value::as_object_mut) {
        money.insert("additionalProperties".into(), Value::Bool(false));
    }
    // Tagged enums with `deny_unknown_fields` refuse unknown fields in each variant; the derive
    // does not say so on the variants' objects.
    for name in ["Rate"] {
        let variants =
            doc.pointer_mut(&format!("/components/schemas/{name}/oneOf")).and_then(Value::as_array_mut);
        for variant in variants.into_iter().flatten().filter_map(Value::as_object_mut) {
            variant.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    doc
}

fn standard_responses(path: &str, operation: &mut Map<String, Value>) {
    let raw_body = operation.remove(RAW_BODY_EXTENSION).is_some_and(|v| v == true);
    let json_body = !raw_body
        && operation
            .get("requestBody")
            .and_then(|body| body.get("content"))
            .and_then(Value::as_object)
            .is_some_and(|content| content.contains_key("application/json"));
    let has_body = operation.contains_key("requestBody");
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|req| req.get("bearer").is_some()));
    let parameters: Vec<(String, String)> = operation
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    Some((p.get("in")?.as_str()?.to_owned(), p.get("name")?.as_str()?.to_ascii_lowercase()))
                })
                .collect()
        })
        .unwrap_or_default();
    let has = |location: &str| parameters.iter().any(|(at, _)| at == location);
    let idempotent = parameters.iter().any(|(at, name)| at == "header" && name == IDEMPOTENCY_HEADER);

    let mut add: Vec<(&str, &str)> = Vec::new();
    if json_body {
        add.push(("400", "malformed_json: the body is not valid JSON"));
        add.push(("415", "unsupported_media_type: the body is not sent as application/json"));
        add.push(("422", "validation_failed: a field is missing, unknown, of the wrong type or refused; `details.fields` names each"));
    }
    if has_body {
        add.push(("413", "payload_too_large: the body is larger than this server accepts"));
    }
    if secured {
        add.push((
            "401",
            "unauthenticated: no bearer token, or one that is invalid or expired, or whose session ended",
        ));
        if path.starts_with("/v1/admin/") {
            add.push(("403", "forbidden: this route is for admins"));
        }
    }
    if has("path") {
        add.push(("404", "not_found: no such resource, or one the caller may not see"));
    }
    if has("query") {
        add.push((
            "422",
            "validation_failed: a query parameter is unknown or refused; `details.fields` names it",
        ));
    }
    if idempotent {
        add.push((
            "400",
            "invalid_idempotency_key: Idempotency-Key is not 1 to 255 visible ASCII characters",
        ));
        add.push(("409", "idempotency_request_in_progress: a request with this Idempotency-Key is still running; see Retry-After"));
        add.push(("422", "idempotency_key_reused: this Idempotency-Key was used with another request"));
    }
    if !NOT_RATE_LIMITED.iter().any(|prefix| path.starts_with(prefix)) {
        add.push(("429", "rate_limited: too many requests from this client; see Retry-After"));
    }
    add.push((
        "503",
        "unavailable or request_timeout: a dependency is down or the request took too long; see Retry-After",
    ));

    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    for (status, description) in add {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": ERROR_ENVELOPE}}},
            })
        });
    }
}

/// The pagination convention (`http::pagination`) on every paginated query, and no `null` in a
/// parameter's type.
fn tighten_parameter(parameter: &mut Value) {
    let location = parameter.get("in").and_then(Value::as_str).unwrap_or_default().to_owned();
    let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else { return };
    if let Some(Value::Array(types)) = schema.get("type") {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        let single = if types.len() == 1 { types[0].clone() } else { Value::Array(types) };
        schema.insert("type".into(), single);
    }
    if let Some(Value::Array(variants)) = schema.get("oneOf") {
        let variants: Vec<Value> =
            variants.iter().filter(|v| v.get("type").is_none_or(|t| t != "null")).cloned().collect();
        if variants.len() == 1 {
            schema.remove("oneOf");
            if let Value::Object(only) = &variants[0] {
                for (key, value) in only {
                    schema.insert(key.clone(), value.clone());
                }
            }
        } else {
            schema.insert("oneOf".into(), Value::Array(variants));
        }
    }
    if location == "header" && name.eq_ignore_ascii_case(IDEMPOTENCY_HEADER) {
        schema.insert("pattern".into(), json!("^[\\x21-\\x7e]{1,255}$"));
    }
    if location != "query" {
        return;
    }
    match name.as_str() {
        "limit" => {
            schema.insert("minimum".into(), json!(1));
            schema.insert("maximum".into(), json!(MAX_PAGE_SIZE));
            schema.insert("default".into(), json!(super::pagination::DEFAULT_PAGE_SIZE));
        }
        "cursor" => {
            schema.insert("minLength".into(), json!(1));
            schema.insert("pattern".into(), json!("^[A-Za-z0-9_-]+$"));
        }
        // Every query parameter refuses control characters (`ApiQuery`): say so where a text
        // parameter does not already say more.
        _ if schema.get("type").is_some_and(|t| t == "string")
            && !schema.contains_key("pattern")
            && !schema.contains_key("enum")
            && !schema.contains_key("format") =>
        {
            schema.insert("pattern".into(), json!(r"^[^\x00-\x1f\x7f-\x9f]*$"));
        }
        _ => {}
    }
}

/// `Retry-After` on every JSON 429 and 503; `WWW-Authenticate` on the 401 of an operation that
/// takes a bearer token (a refused login or refresh token is a 401 without it).
fn response_headers(operation: &mut Map<String, Value>) {
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|req| req.get("bearer").is_some()));
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    for (status, header, description) in [
        ("401", "WWW-Authenticate", "`Bearer`"),
        ("429", "Retry-After", "seconds to wait before retrying"),
        ("503", "Retry-After", "seconds to wait before retrying"),
    ] {
        if status == "401" && !secured {
            continue;
        }
        let Some(response) = responses.get_mut(status).and_then(Value::as_object_mut) else { continue };
        // Only on answers that are the JSON envelope alone: a hosted page's 503 has no header.
        let is_json = response
            .get("content")
            .and_then(Value::as_object)
            .is_some_and(|content| content.len() == 1 && content.contains_key("application/json"));
        if !is_json {
            continue;
        }
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        if let Some(headers) = headers.as_object_mut() {
            headers.entry(header).or_insert_with(
                || json!({"description": description, "required": true, "schema": {"type": "string"}}),
            );
        }
    }
}

/// Rewrites `{"type": [T, "null"], ...}` as `{"oneOf": [{"type": T, ...}, {"type": "null"}]}`
/// everywhere in the document (keeping annotations such as `description` outside).
fn nullable_as_one_of(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for child in object.values_mut() {
                nullable_as_one_of(child);
            }
            let Some(Value::Array(types)) = object.get("type") else { return };
            let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            let nullable = non_null.len() < types.len();
            let mut inner = Map::new();
            let mut outer = Map::new();
            for (key, value) in std::mem::take(object) {
                match key.as_str() {
                    "description" | "title" | "default" | "example" | "examples" | "deprecated"
                    | "readOnly" | "writeOnly" => {
                        outer.insert(key, value);
                    }
                    "type" => {}
                    _ => {
                        inner.insert(key, value);
                    }
                }
            }
            let variants: Vec<Value> = non_null
                .into_iter()
                .map(|ty| {
                    let mut variant = inner.clone();
                    variant.insert("type".into(), ty);
                    Value::Object(variant)
                })
                .chain(nullable.then(|| json!({"type": "null"})))
                .collect();
            outer.insert("oneOf".into(), Value::Array(variants));
            *object = outer;
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_one_of),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nullable_type_array_becomes_one_of() {
        let mut schema = json!({"type": ["string", "null"], "maxLength": 5, "description": "a name"});
        nullable_as_one_of(&mut schema);
        assert_eq!(
            schema,
            json!({"description": "a name", "oneOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]})
        );
    }

    #[test]
    fn a_parameter_is_never_null_and_pagination_is_bounded() {
        let mut limit =
            json!({"in": "query", "name": "limit", "schema": {"type": ["integer", "null"], "minimum": 0}});
        tighten_parameter(&mut limit);
        assert_eq!(limit["schema"]["type"], "integer");
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 100);
        let mut id =
            json!({"in": "path", "name": "id", "schema": {"oneOf": [{"type": "null"}, {"$ref": "#/x"}]}});
        tighten_parameter(&mut id);
        assert_eq!(id["schema"], json!({"$ref": "#/x"}));
    }

    #[test]
    fn statuses_follow_from_the_operation() {
        let mut op = json!({
            "requestBody": {"content": {"application/json": {}}},
            "security": [{"bearer": []}],
            "parameters": [{"in": "path", "name": "id"}],
            "responses": {"200": {"description": "ok"}, "409": {"description": "sku_taken"}},
        });
        standard_responses("/v1/admin/things/{id}", op.as_object_mut().unwrap());
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"]);
        assert_eq!(op["responses"]["409"]["description"], "sku_taken");

        let mut raw = json!({
            "x-raw-body": true,
            "requestBody": {"content": {"application/json": {}}},
            "responses": {"200": {"description": "ok"}},
        });
        standard_responses("/health", raw.as_object_mut().unwrap());
        let statuses: Vec<&String> = raw["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "413", "503"]);
        assert!(raw.get("x-raw-body").is_none());
    }

    /// utoipa names a component after its Rust type's last path segment (or `#[schema(as)]`),
    /// and merging the routes keeps one schema per name: two types with one name would show one
    /// of them on both routes (the wallet adjustment was once documented as the stock one). So
    /// every type deriving or implementing `ToSchema` must have a component name of its own.
    #[test]
    fn no_two_schema_types_share_a_component_name() {
        use std::collections::BTreeMap;
        use std::path::Path;

        fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, files);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        fn item_name(line: &str) -> Option<&str> {
            let rest = line.trim_start().trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ");
            let rest = rest.trim_start_matches("pub ");
            let rest = rest.strip_prefix("struct ").or_else(|| rest.strip_prefix("enum "))?;
            rest.split(|c: char| !c.is_alphanumeric() && c != '_').next()
        }

        let mut files = Vec::new();
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let short = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string();
            let (mut derives, mut renamed, mut attribute) = (false, None::<String>, String::new());
            for line in text.lines() {
                let trimmed = line.trim();
                if trimmed.starts_with("#[") || !attribute.is_empty() {
                    attribute.push_str(trimmed);
                    if attribute.ends_with(")]") || attribute.ends_with(']') && !attribute.contains('(') {
                        if attribute.starts_with("#[derive(") && attribute.contains("ToSchema") {
                            derives = true;
                        }
                        if let Some(rest) = attribute.strip_prefix("#[schema(as = ") {
                            renamed = rest.split([',', ')']).next().map(|n| n.trim().to_owned());
                        }
                        attribute.clear();
                    }
                    continue;
                }
                if trimmed.starts_with("//") || trimmed.is_empty() {
                    continue;
                }
                if let Some(name) = item_name(trimmed).filter(|_| derives) {
                    let component = renamed.clone().unwrap_or_else(|| name.to_owned());
                    owners.entry(component).or_default().push(format!("{short}: {name}"));
                } else if let Some(rest) = trimmed
                    .strip_prefix("impl ToSchema for ")
                    .or_else(|| trimmed.strip_prefix("impl utoipa::ToSchema for "))
                {
                    let name =
                        rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default();
                    if !name.is_empty() {
                        owners.entry(name.to_owned()).or_default().push(format!("{short}: {name}"));
                    }
                }
                derives = false;
                renamed = None;
            }
        }
        let shared: Vec<String> = owners
            .iter()
            .filter(|(_, types)| types.len() > 1)
            .map(|(name, types)| format!("{name}: {}", types.join(", ")))
            .collect();
        assert!(owners.len() > 50, "the scan found only {} schema types", owners.len());
        assert!(
            shared.is_empty(),
            "component names given to more than one type (add #[schema(as = …)]):\n{}",
            shared.join("\n")
        );
    }
}
