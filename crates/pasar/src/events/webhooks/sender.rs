//! The sender: a background task that POSTs due deliveries to their endpoints, signed, and
//! records each attempt. A 2xx is delivered; any other answer, a timeout or a network error
//! schedules a retry with backoff until the endpoint has had `webhook_max_attempts`, then the
//! delivery is dead-lettered. Deliveries are leased like outbox events, so instances sharing a
//! database never send the same one at once.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::domain::{DeliveryStatus, WebhookUrl, after_failure, retry_delay};
use super::service::{SEND_TIMEOUT, Webhooks};
use super::signature;
use super::store::{self, ClaimedDelivery, Outcome};
use crate::events::Event;
use crate::events::relay::truncate;

/// Deliveries sent concurrently per round.
const BATCH: i64 = 8;
/// How long a claim keeps other instances off a delivery: well past the send timeout.
const LEASE: Duration = Duration::from_secs(6 * SEND_TIMEOUT.as_secs());

/// Why an attempt failed: the HTTP status if the endpoint answered, and a description.
struct Failure {
    status_code: Option<u16>,
    error: String,
}

impl Webhooks {
    /// Runs until `stop` turns true (or its sender is dropped), finishing the sends in flight.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let pause = match self.send_due().await {
                Ok(sent) if sent >= BATCH as usize => continue,
                Ok(_) => self.poll,
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "webhook sender round failed; will retry");
                    self.poll.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round: claims the due deliveries, sends them concurrently and records the results.
    /// Returns how many were claimed.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let token = uuid::Uuid::now_v7().simple().to_string();
        let mut tx = self.db.begin().await?;
        let claimed =
            store::claim_due(&mut *tx, self.db.dialect(), now, now.plus(LEASE), &token, BATCH).await?;
        tx.commit().await?;
        let count = claimed.len();
        let mut sends = JoinSet::new();
        for claim in claimed {
            let (webhooks, token) = (self.clone(), token.clone());
            sends.spawn(async move { webhooks.attempt(claim, &token).await });
        }
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = format!("{err:#}"), "recording a webhook attempt failed");
                }
                Err(err) => tracing::error!(error = %err, "a webhook attempt panicked"),
            }
        }
        Ok(count)
    }

    async fn attempt(&self, claim: ClaimedDelivery, token: &str) -> anyhow::Result<()> {
        let attempts = claim.attempts.saturating_add(1);
        let target = store::endpoint_target(self.db.reader(), claim.endpoint_id).await?;
        let event = self.event(claim.event_id).await?;
        let result = match (target, event) {
            (Some((url, secret)), Some(event)) => self.post(&url, &secret, &event).await,
            _ => {
                Err(Failure { status_code: None, error: "the endpoint or the event no longer exists".into() })
            }
        };
        let now = self.clock.now();
        let outcome = match &result {
            Ok(code) => Outcome {
                status: DeliveryStatus::Delivered,
                status_code: Some(*code),
                error: None,
                next_attempt_at: None,
            },
            Err(failure) => {
                let status = after_failure(attempts, self.max_attempts);
                let next = (status == DeliveryStatus::Pending)
                    .then(|| now.plus(retry_delay(attempts, rand::random::<f64>())));
                Outcome {
                    status,
                    status_code: failure.status_code,
                    error: Some(truncate(&failure.error, 500).to_owned()),
                    next_attempt_at: next,
                }
            }
        };
        let mut tx = self.db.begin().await?;
        let recorded = store::record_attempt(&mut *tx, claim.id, token, &outcome, now).await?;
        tx.commit().await?;
        match (&result, recorded) {
            (_, false) => tracing::warn!(delivery = %claim.id, "lost the claim on a webhook delivery"),
            (Ok(_), true) => tracing::debug!(delivery = %claim.id, attempts, "webhook delivered"),
            (Err(failure), true) if outcome.status == DeliveryStatus::Dead => tracing::warn!(
                delivery = %claim.id, endpoint = %claim.endpoint_id, attempts, error = failure.error,
                "webhook delivery dead-lettered after its last attempt"
            ),
            (Err(failure), true) => tracing::info!(
                delivery = %claim.id, endpoint = %claim.endpoint_id, attempts, error = failure.error,
                "webhook attempt failed; will retry"
            ),
        }
        Ok(())
    }

    /// POSTs the event to `url`, signed with `secret`; the HTTP status when it is a 2xx.
    async fn post(&self, url: &str, secret: &str, event: &Event) -> Result<u16, Failure> {
        let refused = |error: String| Failure { status_code: None, error };
        let url = WebhookUrl::parse(url).map_err(refused)?;
        self.guard.check_form(url.url()).map_err(|e| refused(format!("the URL is refused: {e}")))?;
        let body = event.to_json().to_string().into_bytes();
        let signed = signature::header(secret, self.clock.now().unix_seconds(), &body);
        let sent = self
            .client
            .post(url.url().clone())
            .header(CONTENT_TYPE, "application/json")
            .header(signature::HEADER, signed)
            .header(signature::EVENT_ID_HEADER, event.id.to_string())
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err(Failure {
                status_code: Some(response.status().as_u16()),
                error: format!("the endpoint answered {}", response.status()),
            }),
            Err(err) => Err(refused(describe(&err))),
        }
    }
}

/// A reqwest error with its causes ("error sending request: … : connection refused"), since
/// the top-level message alone rarely says what went wrong.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() { format!("timed out: {err}") } else { err.to_string() };
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
