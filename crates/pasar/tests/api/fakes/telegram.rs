//! A local Telegram Bot API on 127.0.0.1:0: `/bot{token}/{method}` answering like Telegram
//! (`{"ok":true,"result":…}`, messages with increasing ids), recording every call with its
//! parameters (JSON or multipart, with the uploaded file's bytes), and misbehaving on demand:
//! the next answers of a method can be a 429 with `retry_after` or a 5xx. `getUpdates` hands
//! out the updates a test queued.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pasar::config::Config;
use serde_json::{Value, json};

pub const TOKEN: &str = "123456:TEST-token";
pub const SECRET: &str = "telegram-webhook-secret-0123456789abcdef";

/// One way for the next answer of a method to go wrong.
#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    RetryAfter(u64),
    Status(u16),
}

/// A call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub params: Value,
    /// The uploaded file of a multipart call.
    pub file: Option<Vec<u8>>,
    /// The uploaded file's name.
    pub file_name: Option<String>,
    pub at: Instant,
    /// The HTTP status the fake answered.
    pub status: u16,
    /// The id of the message a send made.
    pub message_id: Option<i64>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    troubles: HashMap<String, VecDeque<Trouble>>,
    next_message_id: i64,
    updates: VecDeque<Value>,
    wrong_token_calls: usize,
    files: HashMap<String, Vec<u8>>,
    blocked: std::collections::HashSet<i64>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeTelegram {
    pub url: String,
    inner: Shared,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/documents/{name}", axum::routing::get(file))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Points Pasar's bot at this fake, receiving updates by webhook.
    pub fn configure(&self, config: &mut Config) {
        config.telegram_bot_token = Some(TOKEN.into());
        config.telegram_api_url = self.url.clone();
        config.telegram_webhook_secret = Some(SECRET.into());
        config.telegram_mode = Some(pasar::config::TelegramMode::Webhook);
    }

    pub fn trouble(&self, method: &str, troubles: impl IntoIterator<Item = Trouble>) {
        self.inner.lock().unwrap().troubles.entry(method.to_owned()).or_default().extend(troubles);
    }

    /// An update for `getUpdates` to hand out.
    pub fn queue_update(&self, update: Value) {
        self.inner.lock().unwrap().updates.push_back(update);
    }

    /// A file users sent to the bot, for `getFile` and the download.
    pub fn add_file(&self, file_id: &str, bytes: &[u8]) {
        self.inner.lock().unwrap().files.insert(file_id.to_owned(), bytes.to_vec());
    }

    /// This user blocked the bot: sending to them is a 403.
    pub fn block(&self, chat_id: i64) {
        self.inner.lock().unwrap().blocked.insert(chat_id);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
    }

    /// The texts of the messages sent and edited (text and captions), in order.
    pub fn texts(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| c.params["text"].as_str().or(c.params["caption"].as_str()).map(str::to_owned))
            .collect()
    }

    pub fn wrong_token_calls(&self) -> usize {
        self.inner.lock().unwrap().wrong_token_calls
    }

    /// Waits (at most 10 s) for a call of `method` whose text or caption contains `needle`.
    pub async fn wait_for(&self, method: &str, needle: &str) -> Call {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.calls_of(method).into_iter().find(|c| {
                c.params["text"].as_str().or(c.params["caption"].as_str()).is_some_and(|t| t.contains(needle))
            });
            if let Some(call) = found {
                return call;
            }
            assert!(
                Instant::now() < deadline,
                "no {method} containing {needle:?}; calls: {:#?}",
                self.texts()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn method(
    State(inner): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        inner.lock().unwrap().wrong_token_calls += 1;
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let content_type =
        headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (params, file, file_name) = if content_type.starts_with("multipart/form-data") {
        parse_multipart(&content_type, &body)
    } else {
        (serde_json::from_slice(&body).unwrap_or(Value::Null), None, None)
    };
    if method == "getUpdates" {
        let update = inner.lock().unwrap().updates.pop_front();
        let updates: Vec<Value> = match update {
            Some(update) => vec![update],
            None => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Vec::new()
            }
        };
        return ok(json!(updates));
    }
    let mut inner = inner.lock().unwrap();
    inner.calls.push(Call {
        method: method.clone(),
        params: params.clone(),
        file,
        file_name,
        at: Instant::now(),
        status: 200,
        message_id: None,
    });
    let chat = params["chat_id"].as_i64();
    if method == "sendMessage" && chat.is_some_and(|c| inner.blocked.contains(&c)) {
        inner.calls.last_mut().unwrap().status = 403;
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})),
        )
            .into_response();
    }
    if let Some(trouble) = inner.troubles.get_mut(&method).and_then(VecDeque::pop_front) {
        inner.calls.last_mut().unwrap().status = match trouble {
            Trouble::RetryAfter(_) => 429,
            Trouble::Status(code) => code,
        };
        return match trouble {
            Trouble::RetryAfter(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"ok": false, "error_code": 429,
                    "description": format!("Too Many Requests: retry after {secs}"),
                    "parameters": {"retry_after": secs}})),
            )
                .into_response(),
            Trouble::Status(code) => (
                StatusCode::from_u16(code).unwrap(),
                axum::Json(json!({"ok": false, "error_code": code, "description": "Internal Server Error"})),
            )
                .into_response(),
        };
    }
    match method.as_str() {
        "sendMessage" | "sendPhoto" | "sendDocument" => {
            inner.next_message_id += 1;
            inner.calls.last_mut().unwrap().message_id = Some(inner.next_message_id);
            let mut message = json!({
                "message_id": inner.next_message_id,
                "chat": {"id": params["chat_id"].as_i64().or_else(|| params["chat_id"].as_str().and_then(|c| c.parse().ok())), "type": "private"},
                "date": 1_700_000_000,
            });
            if let Some(text) = params["text"].as_str() {
                message["text"] = text.into();
            }
            if let Some(caption) = params["caption"].as_str() {
                message["caption"] = caption.into();
            }
            ok(message)
        }
        "getFile" => {
            let id = params["file_id"].as_str().unwrap_or_default().to_owned();
            ok(json!({"file_id": id, "file_path": format!("documents/{id}.txt")}))
        }
        _ => ok(json!(true)),
    }
}

async fn file(State(inner): State<Shared>, Path((bot, name)): Path<(String, String)>) -> Response {
    let id = name.trim_end_matches(".txt");
    match inner.lock().unwrap().files.get(id) {
        Some(bytes) if bot == format!("bot{TOKEN}") => bytes.clone().into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// The text fields of a multipart body as a JSON object (numbers parsed), and the file part
/// with its name.
fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, Option<Vec<u8>>, Option<String>) {
    let boundary = content_type.split("boundary=").nth(1).unwrap_or_default().trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut fields = serde_json::Map::new();
    let mut file = None;
    let mut file_name = None;
    for part in split(body, delimiter.as_bytes()) {
        let Some(head_end) = find(part, b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..head_end]).to_string();
        let mut content = &part[head_end + 4..];
        if content.ends_with(b"\r\n") {
            content = &content[..content.len() - 2];
        }
        let Some(name) = head.split("name=\"").nth(1).and_then(|rest| rest.split('"').next()) else {
            continue;
        };
        if let Some(name) = head.split("filename=\"").nth(1).and_then(|rest| rest.split('"').next()) {
            file = Some(content.to_vec());
            file_name = Some(name.to_owned());
        } else {
            let text = String::from_utf8_lossy(content).to_string();
            let value = text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text));
            fields.insert(name.to_owned(), value);
        }
    }
    (Value::Object(fields), file, file_name)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    parts.into_iter().skip(1).map(|p| p.strip_prefix(b"\r\n").unwrap_or(p)).collect()
}
