//! `Idempotency-Key` with Stripe's semantics, as a layer any POST route can wear.
//!
//! The first request with a key runs; its response (status and body, errors included once the
//! handler has run) is stored and replayed for every retry with the same key. The same key with
//! a different request is refused with 422; a retry while the first is still running gets 409.
//! Keys are scoped to the caller's session (or anonymous) and expire after 24 hours.
//!
//! The caller is authenticated, and the route's role checked, before anything is replayed: a
//! stored answer (which may hold a secret shown once) never reaches a session that has ended
//! or a user who lost the role the route needs.
//!
//! Responses that mean the request never got to run (malformed or invalid input, 401, 429) are
//! not stored, so the client can fix the request and retry with the same key.
//!
//! A web page's form cannot send a header: it carries its key in a hidden field, and its
//! handler runs the action through [`once`], with the same keys, scopes and stored answers.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::AppState;
use super::auth::{MaybeCaller, Staff};
use super::error::ApiError;
use crate::db::{Db, Migration};
use crate::identity::Principal;
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112203,
        name: "http: idempotency keys",
        sql: "CREATE TABLE idempotency_keys (
            scope TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            locked_at BIGINT,
            status_code BIGINT,
            content_type TEXT,
            response_body TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (scope, idempotency_key)
          );
          CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);",
        postgres: None,
    },
    // A page's form is answered with a redirect (303 and where to): the replay must send the
    // browser to the same place.
    Migration {
        version: 2026121500,
        name: "http: idempotency keys keep a redirect's location",
        sql: "ALTER TABLE idempotency_keys ADD COLUMN location TEXT",
        postgres: None,
    },
];

pub const KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

enum Claim {
    /// This request is the first with the key and runs.
    First,
    Replay {
        status: u16,
        content_type: Option<String>,
        location: Option<String>,
        body: String,
    },
    InProgress,
    DifferentRequest,
}

fn stored(status: StatusCode) -> bool {
    !matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
            | StatusCode::TOO_MANY_REQUESTS
    )
}

/// `key` when it is 1 to 255 visible ASCII characters.
fn valid_key(key: &str) -> Result<&str, ApiError> {
    Some(key).filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())).ok_or_else(
        || {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        },
    )
}

/// Where a signed-in caller's keys live: their session.
fn session_scope(principal: &Principal) -> String {
    format!("session:{}", principal.session)
}

/// Who may call the routes a layer guards: the same guard their handlers apply, run before a
/// stored answer is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callers {
    /// Anyone; a token that is present must be valid.
    Anyone,
    SignedIn,
    /// `admin` or `super_admin`.
    Staff,
}

impl Callers {
    /// Authenticates and authorises the caller as the route's handler will, and returns the
    /// scope its keys live in. The principal is left in the request for the handler's
    /// extractor, so the session is checked once.
    async fn admit(self, parts: &mut Parts, state: &AppState) -> Result<String, Response> {
        let caller = match self {
            Callers::Anyone => MaybeCaller::from_request_parts(parts, state).await?.0,
            Callers::SignedIn => Some(Principal::from_request_parts(parts, state).await?),
            Callers::Staff => Some(Staff::from_request_parts(parts, state).await?.0),
        };
        Ok(match caller {
            Some(principal) => {
                let scope = session_scope(&principal);
                parts.extensions.insert(principal);
                scope
            }
            None => "anonymous".to_owned(),
        })
    }
}

/// The middleware that makes a router's POST routes idempotent, worn as
/// `from_fn_with_state((state, Callers::…), idempotent)` with the callers its routes admit.
pub async fn idempotent(
    State((state, callers)): State<(AppState, Callers)>,
    request: Request,
    next: Next,
) -> Response {
    match run_idempotently(state, callers, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run_idempotently(
    state: AppState,
    callers: Callers,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = valid_key(key.to_str().unwrap_or_default())?.to_owned();
    let (mut parts, body) = request.into_parts();
    let scope = match callers.admit(&mut parts, &state).await {
        Ok(scope) => scope,
        Err(refused) => return Ok(refused),
    };
    let body = to_bytes(body, state.config.body_limit_bytes).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    })?;
    let fingerprint =
        fingerprint(parts.method.as_str(), parts.uri.path_and_query().map_or("", |p| p.as_str()), &body);
    once_in(&state, &scope, &key, &fingerprint, next.run(Request::from_parts(parts, Body::from(body)))).await
}

/// What tells one request from another under the same key.
fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method);
    hasher.update([0]);
    hasher.update(path);
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// A page form's action, once per key: `run` answers the first submission of the form that
/// carried `key` (POST to `path` with `fields`, what tells this submission from another);
/// a repeat gets the first answer back (a redirect to the same place, a refusal's page), as
/// the header does for the JSON API, in the same scope: the visit's session.
pub async fn once(
    state: &AppState,
    principal: &Principal,
    key: &str,
    path: &str,
    fields: &[&str],
    run: impl Future<Output = Response>,
) -> Result<Response, ApiError> {
    let key = valid_key(key)?;
    let fingerprint = fingerprint("POST", path, fields.join("\0").as_bytes());
    once_in(state, &session_scope(principal), key, &fingerprint, run).await
}

/// `run` if this is the first request with `key` in `scope`; else the stored answer, or why
/// there is none yet.
async fn once_in(
    state: &AppState,
    scope: &str,
    key: &str,
    fingerprint: &str,
    run: impl Future<Output = Response>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    // A claim older than the longest a request may run belongs to a request that died.
    let stale_after = Duration::from_secs(state.config.request_timeout_secs + 5);
    match claim(&state.db, scope, key, fingerprint, now, stale_after).await? {
        Claim::DifferentRequest => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )),
        Claim::InProgress => Err(ApiError::conflict(
            "idempotency_request_in_progress",
            "a request with this Idempotency-Key is still running",
        )
        .with_retry_after(1)),
        Claim::Replay { status, content_type, location, body } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let headers = response.headers_mut();
            if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                headers.insert(header::LOCATION, value);
            }
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            Ok(response)
        }
        Claim::First => {
            let response = run.await;
            if !stored(response.status()) {
                release(&state.db, scope, key).await?;
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.map_err(ApiError::internal)?;
            let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let answer = Answer {
                status: parts.status.as_u16(),
                content_type: header(header::CONTENT_TYPE),
                location: header(header::LOCATION),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            };
            save(&state.db, scope, key, &answer).await?;
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
    }
}

async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: Timestamp,
    stale_after: Duration,
) -> Result<Claim, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND expires_at <= $3",
    )
    .bind(scope)
    .bind(key)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, locked_at, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $4, $5)
         ON CONFLICT (scope, idempotency_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(now.millis())
    .bind(now.plus(KEY_TTL).millis())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(Claim::First);
    }
    let row = sqlx::query(
        "SELECT fingerprint, locked_at, status_code, content_type, location, response_body
         FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let claim = if row.try_get::<String, _>("fingerprint")? != fingerprint {
        Claim::DifferentRequest
    } else if let Some(status) = row.try_get::<Option<i64>, _>("status_code")? {
        Claim::Replay {
            status: u16::try_from(status).unwrap_or(200),
            content_type: row.try_get("content_type")?,
            location: row.try_get("location")?,
            body: row.try_get::<Option<String>, _>("response_body")?.unwrap_or_default(),
        }
    } else {
        let locked_at: Option<i64> = row.try_get("locked_at")?;
        let taken_over = sqlx::query(
            "UPDATE idempotency_keys SET locked_at = $1
             WHERE scope = $2 AND idempotency_key = $3 AND status_code IS NULL
               AND (locked_at IS NULL OR locked_at <= $4)",
        )
        .bind(now.millis())
        .bind(scope)
        .bind(key)
        .bind(now.minus(stale_after).millis())
        .execute(&mut *tx)
        .await?;
        if taken_over.rows_affected() == 1 {
            tracing::warn!(scope, key, ?locked_at, "taking over an abandoned idempotent request");
            Claim::First
        } else {
            Claim::InProgress
        }
    };
    tx.commit().await?;
    Ok(claim)
}

/// A first request's answer, as it is replayed.
struct Answer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    body: String,
}

async fn save(db: &Db, scope: &str, key: &str, answer: &Answer) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE idempotency_keys
         SET status_code = $1, content_type = $2, location = $3, response_body = $4, locked_at = NULL
         WHERE scope = $5 AND idempotency_key = $6",
    )
    .bind(i64::from(answer.status))
    .bind(&answer.content_type)
    .bind(&answer.location)
    .bind(&answer.body)
    .bind(scope)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn release(db: &Db, scope: &str, key: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND status_code IS NULL",
    )
    .bind(scope)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Deletes expired keys; run periodically.
pub async fn purge_expired(db: &Db, now: Timestamp) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
