//! A small typed client of the Telegram Bot API on the reqwest already in the tree: the
//! methods the storefront uses, JSON or multipart, with Telegram's flood control honoured for
//! the whole bot (a 429's `parameters.retry_after` holds every request back, not only the one
//! that met it) and retries with backoff on 5xx and transport errors.
//!
//! Sending is paced within Telegram's limits, for this instance: one budget of 28 messages a
//! second for the whole bot (Telegram allows about 30), shared by replies, deliveries and
//! broadcasts, of which broadcasts take at most 20 so a buyer talking to the bot meanwhile is
//! still answered; and about one message a second per chat (a burst of 3, as Telegram allows
//! short bursts). Several instances each keep their own budget.
//!
//! Why not teloxide (0.17, features `rustls`, `webhooks-axum`, `throttle`, `macros`): measured
//! on the project's 2-core machine, a crate using it compiled 144 crates in 3 min 22 s (dev
//! profile, sharing the machine with another build), 33 of them not otherwise in Pasar's tree
//! (teloxide-core, dptree, serde_with, derive_more, darling, aquamarine, stacker…), and its
//! newest dependencies wanted a newer rustc than the toolchain here. The storefront uses eight
//! methods; this client needs nothing beyond the reqwest already built (its `multipart` feature
//! added no crate to the lock file).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::domain::{Message, Update};

/// Attempts per request (the first and the retries).
const ATTEMPTS: u32 = 4;
/// The longest `retry_after` waited for inside one call; a longer one is handed to the
/// caller (the delivery queue then tries again at that time).
const LONGEST_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Telegram asked the bot to wait this many seconds (flood control).
    #[error("Telegram asks to retry after {0} s")]
    RetryAfter(u64),
    /// Telegram refused the request (400 bad request, 403 blocked by the user, …).
    #[error("Telegram refused {method}: {code} {description}")]
    Refused { method: &'static str, code: i64, description: String },
    /// Telegram could not be reached or kept failing (5xx, timeouts).
    #[error("Telegram is unavailable: {0}")]
    Unavailable(String),
}

impl BotError {
    /// The user blocked the bot or deleted their account: sending again will not help.
    pub fn is_blocked(&self) -> bool {
        matches!(self, BotError::Refused { code: 403, .. })
    }
}

/// Messages a second for the whole bot (Telegram's limit is about 30).
const BOT_PER_SECOND: u32 = 28;
/// Of those, what broadcasts may take.
const BROADCAST_PER_SECOND: u32 = 20;
/// Messages one chat may get in a burst; then one a second.
const CHAT_BURST: u32 = 3;

type ChatLimiter = RateLimiter<i64, DefaultKeyedStateStore<i64>, DefaultClock>;

/// How a method counts against the sending budgets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// Not a message: answers to button presses, polling, files, the webhook.
    Free,
    /// An edit of a message already there: the bot's budget, not the chat's.
    Edit,
    /// A new message in a chat: the bot's budget and the chat's.
    Message,
}

fn budget_of(method: &str) -> Budget {
    match method {
        "sendMessage" | "sendPhoto" | "sendDocument" => Budget::Message,
        "editMessageText" | "editMessageCaption" => Budget::Edit,
        _ => Budget::Free,
    }
}

/// Messages evenly spaced, `per_second` at most in any second (a burst of one).
fn paced(per_second: u32) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs(1) / per_second;
    RateLimiter::direct(Quota::with_period(period).expect("a non-zero period"))
}

/// The sending budgets of one instance.
struct Budgets {
    bot: DefaultDirectRateLimiter,
    broadcasts: DefaultDirectRateLimiter,
    chats: ChatLimiter,
}

/// A file to upload.
#[derive(Clone)]
pub struct Upload {
    pub field: &'static str,
    pub file_name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone)]
pub struct BotApi {
    http: reqwest::Client,
    /// `{api_url}/bot{token}`; never logged (it holds the token).
    base: Arc<str>,
    /// `{api_url}/file/bot{token}`, where files sent to the bot are downloaded.
    files: Arc<str>,
    /// Until when Telegram told this bot to wait.
    blocked_until: Arc<Mutex<Option<Instant>>>,
    budgets: Arc<Budgets>,
}

impl BotApi {
    pub fn new(api_url: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build()?;
        Ok(Self {
            http,
            base: format!("{}/bot{token}", api_url.trim_end_matches('/')).into(),
            files: format!("{}/file/bot{token}", api_url.trim_end_matches('/')).into(),
            blocked_until: Arc::default(),
            budgets: Arc::new(Budgets {
                bot: paced(BOT_PER_SECOND),
                broadcasts: paced(BROADCAST_PER_SECOND),
                chats: RateLimiter::keyed(
                    Quota::per_second(NonZeroU32::MIN)
                        .allow_burst(NonZeroU32::new(CHAT_BURST).expect("a non-zero burst")),
                ),
            }),
        })
    }

    /// Waits for a broadcast's turn (then the message waits for the bot's and the chat's).
    pub async fn broadcast_turn(&self) {
        self.budgets.broadcasts.until_ready().await;
    }

    /// Forgets the chats that have not been sent to lately (periodic upkeep).
    pub fn forget_quiet_chats(&self) {
        self.budgets.chats.retain_recent();
    }

    /// Waits until `method` may go out within the budgets.
    async fn spend(&self, method: &str, params: &Value) {
        let budget = budget_of(method);
        if budget == Budget::Message {
            if let Some(chat) = params["chat_id"].as_i64() {
                self.budgets.chats.until_key_ready(&chat).await;
            }
        }
        if budget != Budget::Free {
            self.budgets.bot.until_ready().await;
        }
    }

    /// Waits while the bot is held back by a 429.
    async fn wait_turn(&self) {
        let until = *self.blocked_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    async fn hold_back(&self, secs: u64) {
        let until = Instant::now() + Duration::from_secs(secs);
        let mut blocked = self.blocked_until.lock().await;
        if blocked.is_none_or(|current| current < until) {
            *blocked = Some(until);
        }
    }

    /// Calls `method` with a JSON body (and files, as multipart), retrying as the module says.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Value,
        upload: Option<&Upload>,
        timeout: Duration,
    ) -> Result<T, BotError> {
        let url = format!("{}/{method}", self.base);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            self.wait_turn().await;
            self.spend(method, &params).await;
            let request = self.http.post(&url).timeout(timeout);
            let request = match upload {
                None => request.json(&params),
                Some(upload) => request.multipart(multipart(&params, upload)),
            };
            let response = match request.send().await {
                Ok(response) => response,
                Err(err) => {
                    last = err.without_url().to_string();
                    backoff(attempt).await;
                    continue;
                }
            };
            let status = response.status();
            let body: Value = match response.json().await {
                Ok(body) => body,
                Err(err) => {
                    last = format!("{status}: unreadable answer ({})", err.without_url());
                    if status.is_server_error() || status.is_success() {
                        backoff(attempt).await;
                        continue;
                    }
                    return Err(BotError::Refused {
                        method,
                        code: i64::from(status.as_u16()),
                        description: last,
                    });
                }
            };
            if body["ok"] == true {
                return serde_json::from_value(body["result"].clone())
                    .map_err(|e| BotError::Unavailable(format!("{method}: unexpected result: {e}")));
            }
            let code = body["error_code"].as_i64().unwrap_or(i64::from(status.as_u16()));
            let description = body["description"].as_str().unwrap_or_default().to_owned();
            if code == 429 {
                let secs = body["parameters"]["retry_after"].as_u64().unwrap_or(1).max(1);
                self.hold_back(secs).await;
                tracing::warn!(method, retry_after = secs, "Telegram flood control: holding the bot back");
                if Duration::from_secs(secs) > LONGEST_WAIT || attempt + 1 == ATTEMPTS {
                    return Err(BotError::RetryAfter(secs));
                }
                continue;
            }
            if code >= 500 {
                last = format!("{code} {description}");
                backoff(attempt).await;
                continue;
            }
            return Err(BotError::Refused { method, code, description });
        }
        Err(BotError::Unavailable(format!("{method}: {last}")))
    }

    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        markup: Option<Value>,
    ) -> Result<Message, BotError> {
        let mut params = json!({"chat_id": chat_id, "text": clip(text, 4096)});
        if let Some(markup) = markup {
            params["reply_markup"] = markup;
        }
        self.call("sendMessage", params, None, Duration::from_secs(15)).await
    }

    /// Sends a picture (`file_name` and `mime` say what kind) with a caption and buttons.
    pub async fn send_photo(
        &self,
        chat_id: i64,
        (file_name, mime, bytes): (&str, &str, Vec<u8>),
        caption: &str,
        markup: Option<Value>,
    ) -> Result<Message, BotError> {
        let mut params = json!({"chat_id": chat_id, "caption": clip(caption, 1024)});
        if let Some(markup) = markup {
            params["reply_markup"] = markup;
        }
        let upload = Upload { field: "photo", file_name: file_name.into(), mime: mime.into(), bytes };
        self.call("sendPhoto", params, Some(&upload), Duration::from_secs(30)).await
    }

    /// Sends a file as a document (`mime` as its type; an unusable one is sent as bytes).
    pub async fn send_document(
        &self,
        chat_id: i64,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> Result<Message, BotError> {
        let params = json!({"chat_id": chat_id, "caption": clip(caption, 1024)});
        let upload = Upload { field: "document", file_name: file_name.into(), mime: mime.into(), bytes };
        self.call("sendDocument", params, Some(&upload), Duration::from_secs(30)).await
    }

    /// Edits a message's text; an edit that changes nothing is not an error.
    pub async fn edit_message_text(
        &self,
        chat_id: i64,
        message_id: i64,
        text: &str,
        markup: Option<Value>,
    ) -> Result<(), BotError> {
        let mut params = json!({"chat_id": chat_id, "message_id": message_id, "text": clip(text, 4096)});
        if let Some(markup) = markup {
            params["reply_markup"] = markup;
        }
        unmodified_is_fine(self.call::<Value>("editMessageText", params, None, Duration::from_secs(15)).await)
    }

    /// Edits a photo's caption; an edit that changes nothing is not an error.
    pub async fn edit_message_caption(
        &self,
        chat_id: i64,
        message_id: i64,
        caption: &str,
        markup: Option<Value>,
    ) -> Result<(), BotError> {
        let mut params =
            json!({"chat_id": chat_id, "message_id": message_id, "caption": clip(caption, 1024)});
        if let Some(markup) = markup {
            params["reply_markup"] = markup;
        }
        unmodified_is_fine(
            self.call::<Value>("editMessageCaption", params, None, Duration::from_secs(15)).await,
        )
    }

    pub async fn answer_callback_query(
        &self,
        callback_query_id: &str,
        text: Option<&str>,
        show_alert: bool,
    ) -> Result<(), BotError> {
        let mut params = json!({"callback_query_id": callback_query_id, "show_alert": show_alert});
        if let Some(text) = text {
            params["text"] = clip(text, 200).into();
        }
        self.call::<Value>("answerCallbackQuery", params, None, Duration::from_secs(10)).await.map(|_| ())
    }

    /// Long-polls for updates after `offset`, waiting up to `timeout_secs` for one.
    pub async fn get_updates(&self, offset: i64, timeout_secs: u64) -> Result<Vec<Update>, BotError> {
        let params = json!({"offset": offset, "timeout": timeout_secs,
                            "allowed_updates": ["message", "callback_query"]});
        self.call("getUpdates", params, None, Duration::from_secs(timeout_secs + 10)).await
    }

    /// Registers `url` as the bot's webhook, with the secret Telegram will send back.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), BotError> {
        let params = json!({"url": url, "secret_token": secret,
                            "allowed_updates": ["message", "callback_query"]});
        self.call::<Value>("setWebhook", params, None, Duration::from_secs(15)).await.map(|_| ())
    }

    /// Downloads a file sent to the bot (`getFile`, then the file itself), refusing one larger
    /// than `most` bytes.
    pub async fn download(&self, file_id: &str, most: usize) -> Result<Vec<u8>, BotError> {
        let file: Value =
            self.call("getFile", json!({"file_id": file_id}), None, Duration::from_secs(15)).await?;
        let Some(path) = file["file_path"].as_str() else {
            return Err(BotError::Refused {
                method: "getFile",
                code: 400,
                description: "no file_path".into(),
            });
        };
        self.wait_turn().await;
        let response = self
            .http
            .get(format!("{}/{path}", self.files))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| BotError::Unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(BotError::Unavailable(format!("downloading a file: {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| BotError::Unavailable(e.without_url().to_string()))?;
        if bytes.len() > most {
            return Err(BotError::Refused {
                method: "getFile",
                code: 413,
                description: "file too large".into(),
            });
        }
        Ok(bytes.to_vec())
    }

    /// Removes the webhook (polling needs it gone: `getUpdates` refuses while one is set).
    pub async fn delete_webhook(&self) -> Result<(), BotError> {
        self.call::<Value>("deleteWebhook", json!({}), None, Duration::from_secs(15)).await.map(|_| ())
    }
}

fn unmodified_is_fine(result: Result<Value, BotError>) -> Result<(), BotError> {
    match result {
        Ok(_) => Ok(()),
        Err(BotError::Refused { code: 400, description, .. }) if description.contains("not modified") => {
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// 0.25 s, 0.5 s, 1 s, …
async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
}

fn multipart(params: &Value, upload: &Upload) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    if let Some(fields) = params.as_object() {
        for (name, value) in fields {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            form = form.text(name.clone(), text);
        }
    }
    let part = || reqwest::multipart::Part::bytes(upload.bytes.clone()).file_name(upload.file_name.clone());
    let part = part().mime_str(&upload.mime).unwrap_or_else(|_| part());
    form.part(upload.field, part)
}

/// At most `chars` characters (Telegram counts text in characters, after entities).
fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("ééé", 2), "éé");
        assert_eq!(clip("abc", 10), "abc");
    }
}
