//! How Pasar calls a payment provider: a timeout on every call, retries with backoff only
//! where a retry is safe (429, 502, 503, 504 and transport errors, honouring `Retry-After`, and
//! only for requests the provider de-duplicates: reads, or writes carrying an idempotency key),
//! answers read up to a cap, and nothing secret in any log or error (URLs are logged without
//! their query string, where some providers put keys).

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};

use crate::payments::gateway::GatewayError;

/// The largest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest wait a `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A provider's answer: its status and its body (capped).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as `T`, for a successful answer; a provider's refusal or a body that is not
    /// what it documents is an error naming the status only.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, GatewayError> {
        if !self.status.is_success() {
            return Err(self.refusal());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            GatewayError::Unavailable(format!("the provider's answer is not what it documents: {e}"))
        })
    }

    /// The error for an answer that is not a success: a 4xx is the provider refusing (its
    /// message, cut short, is kept), anything else is the provider failing.
    pub fn refusal(&self) -> GatewayError {
        let message: String = String::from_utf8_lossy(&self.body).chars().take(300).collect();
        if self.status.is_client_error() {
            GatewayError::Refused(format!("{}: {message}", self.status))
        } else {
            GatewayError::Unavailable(format!("the provider answered {}", self.status))
        }
    }
}

/// Whether a request may be sent again after an unclear failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// The provider de-duplicates it (a read, or a write with an idempotency key).
    Safe,
    /// Sending it twice could do it twice.
    Never,
}

#[derive(Clone)]
pub struct ProviderClient {
    provider: &'static str,
    http: reqwest::Client,
    attempts: u32,
    first_backoff: Duration,
}

impl ProviderClient {
    /// A client for `provider` with a per-call `timeout` and up to `attempts` tries of a
    /// request that may be retried.
    pub fn new(provider: &'static str, timeout: Duration, attempts: u32) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .expect("an HTTP client");
        Self { provider, http, attempts: attempts.max(1), first_backoff: Duration::from_millis(200) }
    }

    /// Shorter backoffs, for tests against a local fake.
    pub fn with_first_backoff(mut self, backoff: Duration) -> Self {
        self.first_backoff = backoff;
        self
    }

    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends the request built by `build` (called once per attempt), retrying as `retry`
    /// allows; answers the provider's last answer, or an error when none came.
    pub async fn send(
        &self,
        retry: Retry,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, GatewayError> {
        let attempts = if retry == Retry::Safe { self.attempts } else { 1 };
        let mut backoff = self.first_backoff;
        let mut last_error = None;
        for attempt in 1..=attempts {
            let request =
                build().build().map_err(|e| GatewayError::Unavailable(e.without_url().to_string()))?;
            let shown = shown_url(request.url());
            match self.http.execute(request).await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let body = read_capped(response).await?;
                    let answer = Answer { status, body };
                    if attempt == attempts || !retryable(status) {
                        return Ok(answer);
                    }
                    tracing::warn!(provider = self.provider, url = %shown, %status, attempt, "provider call will be retried");
                    tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_RETRY_AFTER)).await;
                }
                Err(err) => {
                    let err = err.without_url();
                    tracing::warn!(provider = self.provider, url = %shown, error = %err, attempt, "provider call failed");
                    last_error = Some(err.to_string());
                    if attempt == attempts {
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
            backoff = (backoff * 2).min(MAX_RETRY_AFTER);
        }
        Err(GatewayError::Unavailable(format!(
            "{} could not be reached: {}",
            self.provider,
            last_error.unwrap_or_default()
        )))
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A URL as it may be logged: without its query string, where keys travel for some providers.
fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, GatewayError> {
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| GatewayError::Unavailable(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(GatewayError::Unavailable("the provider's answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_url_carries_no_query_string() {
        let url = reqwest::Url::parse("https://app.example/api/detail?project=p&api_key=secret").unwrap();
        assert_eq!(shown_url(&url), "https://app.example/api/detail");
    }

    #[test]
    fn only_overload_and_gateway_failures_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [200, 400, 401, 404, 409, 422, 500] {
            assert!(!retryable(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }
}
