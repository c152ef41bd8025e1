//! Extractors that turn every kind of bad input into the error envelope: malformed JSON is 400,
//! a body of the wrong shape (unknown field, wrong type, missing field, a value its type
//! refuses) is 422 naming the field, an oversized body is 413, a path id that does not parse is
//! 404 (it names nothing), a bad query string is 422.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::{ApiError, FieldError};

/// A JSON request body, parsed strictly.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON document into `T`, classifying failures as [`ApiJson`] describes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, over the whole body, so a malformed document is a 400 even when its
    // beginning already fails the target type.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|err| {
        ApiError::bad_request("malformed_json", format!("the request body is not valid JSON: {err}"))
    })?;
    // serde reads a struct from an array of its fields in order too; a request body is an
    // object, so an array is refused as a wrong type (the OpenAPI document says "object").
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::validation(vec![FieldError {
            field: String::new(),
            message: "invalid type: sequence, expected a JSON object".into(),
        }]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => ApiError::validation(vec![field_error(&path, &inner)]),
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
                "malformed_json",
                format!("the request body is not valid JSON: {inner}"),
            ),
        }
    })?;
    Ok(value)
}

/// serde reports a missing field at the parent path ("."), naming the field only in its
/// message; pull the name out so the client gets it as `field`.
fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let text = err.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    let field = match (path, missing) {
        (".", Some(name)) => name.to_string(),
        (".", None) => String::new(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_string(),
    };
    FieldError { field, message }
}

/// A request body read as bytes (a gateway's webhook, checked over its raw form): one over the
/// body limit is 413 in the envelope, like a JSON body's.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
        })
    }
}

/// A path parameter; one that does not parse names no resource, so it is a 404.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| ApiError::not_found())
    }
}

/// Query-string parameters, parsed strictly.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_control_characters(&parts.uri)?;
        Query::<T>::from_request_parts(parts, state).await.map(|Query(value)| ApiQuery(value)).map_err(
            |rejection| {
                let text = rejection.body_text();
                let message =
                    text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_string();
                ApiError::validation(vec![FieldError { field: "query".into(), message }])
            },
        )
    }
}

/// A control character (a NUL, a newline) in a decoded query parameter is refused as a body's
/// would be: it would otherwise cut a search pattern short or end up in logs and stored text.
fn refuse_control_characters(uri: &axum::http::Uri) -> Result<(), ApiError> {
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
        return Ok(());
    };
    let fields: Vec<FieldError> = pairs
        .iter()
        .filter(|(name, value)| name.chars().chain(value.chars()).any(char::is_control))
        .map(|(name, _)| FieldError {
            field: name.chars().filter(|c| !c.is_control()).collect(),
            message: "control characters are not allowed".into(),
        })
        .collect();
    if fields.is_empty() { Ok(()) } else { Err(ApiError::validation(fields)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: u32,
    }

    fn fields(err: ApiError) -> (StatusCode, String) {
        let status = err.status();
        (status, format!("{err}"))
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let err = parse_json::<Sample>(br#"{"name": "a", "#).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "malformed_json");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let err = parse_json::<Sample>(br#"{"name": "a", "count": 1, "role": "admin"}"#).unwrap_err();
        let (status, text) = fields(err);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text.contains("role: unknown field"), "{text}");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let err = parse_json::<Sample>(br#"{"name": "a", "count": "many"}"#).unwrap_err();
        let (status, text) = fields(err);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text.contains("count: invalid type"), "{text}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse_json::<Sample>(br#"{"count": 2}"#).unwrap_err();
        assert!(format!("{err}").contains("name: missing field"));
    }

    #[test]
    fn a_control_character_in_a_query_parameter_is_named() {
        let uri: axum::http::Uri = "/v1/products?q=tee%00shirt&limit=5".parse().unwrap();
        let err = refuse_control_characters(&uri).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(format!("{err}").contains("q: control characters"), "{err}");
        let fine: axum::http::Uri = "/v1/products?q=t%C3%A9e+shirt".parse().unwrap();
        assert!(refuse_control_characters(&fine).is_ok());
    }

    #[test]
    fn trailing_data_is_malformed() {
        let err = parse_json::<Sample>(br#"{"name": "a", "count": 1} {}"#).unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }
}
