//! Web Push's use cases: subscribing a browser, listing and ending subscriptions, and sending a
//! message to every browser of a user.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};

use super::domain::{NewSubscription, PushMessage, Subscription, VapidKey};
use super::store;
use crate::db::Db;
use crate::events::webhooks::guard::{PublicOnlyResolver, UrlGuard, UrlRefused};
use crate::ids::{PushSubscriptionId, UserId};
use crate::time::Clock;

/// How long a push service keeps a message for a browser that is offline.
const MESSAGE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("web push is not configured on this server")]
    NotConfigured,
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("the endpoint {0}")]
    EndpointRefused(UrlRefused),
    #[error("no such subscription")]
    NotFound,
    /// The push service asked to slow down; try again after this long.
    #[error("the push service is rate limiting; retry in {0:?}")]
    RateLimited(Duration),
    /// The push service could not take the message now (5xx, timeout); worth retrying.
    #[error("the push service did not take the message: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a send did: browsers that took the message, and subscriptions the push service said
/// are gone (removed here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PushSent {
    pub delivered: u32,
    pub removed: u32,
    /// Browsers whose push service refused this message for good (too large, bad request).
    pub refused: u32,
}

#[derive(Clone)]
pub struct Push {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    vapid: Option<(VapidKey, String)>,
    guard: UrlGuard,
    client: reqwest::Client,
}

impl Push {
    /// `vapid`: the server's key and the contact (`mailto:` or `https:`) push services may use;
    /// none leaves Web Push off. `allow_private` admits push services on http and private
    /// addresses (the tests' fake), as it does for webhooks.
    pub fn new(
        db: Db,
        clock: Clock,
        vapid: Option<(VapidKey, String)>,
        allow_private: bool,
    ) -> anyhow::Result<Self> {
        let mut client =
            reqwest::Client::builder().timeout(SEND_TIMEOUT).redirect(reqwest::redirect::Policy::none());
        if !allow_private {
            client = client.no_proxy().dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                clock,
                vapid,
                guard: UrlGuard::new(allow_private),
                client: client.build()?,
            }),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.inner.vapid.is_some()
    }

    /// The key browsers pass to `PushManager.subscribe()` as `applicationServerKey`.
    pub fn public_key(&self) -> Result<String, PushError> {
        self.vapid().map(|(key, _)| key.public_key())
    }

    fn vapid(&self) -> Result<&(VapidKey, String), PushError> {
        self.inner.vapid.as_ref().ok_or(PushError::NotConfigured)
    }

    pub async fn subscribe(
        &self,
        user: UserId,
        endpoint: &str,
        keys: &super::SubscriptionKeys,
        user_agent: Option<String>,
    ) -> Result<Subscription, PushError> {
        self.vapid()?;
        let checked = NewSubscription::parse(endpoint, keys)
            .map_err(|(field, message)| PushError::Invalid { field, message })?;
        self.inner.guard.check(&checked.endpoint).await.map_err(PushError::EndpointRefused)?;
        let subscription = Subscription {
            id: PushSubscriptionId::new(),
            user_id: user,
            endpoint: checked.endpoint.to_string(),
            user_agent: user_agent.map(|agent| agent.chars().take(300).collect()),
            created_at: self.inner.clock.now(),
            last_sent_at: None,
            p256dh: keys.p256dh.trim_end_matches('=').to_owned(),
            auth: keys.auth.trim_end_matches('=').to_owned(),
        };
        let mut tx = self.inner.db.begin().await?;
        let saved = store::upsert(&mut *tx, &subscription).await?;
        tx.commit().await?;
        Ok(saved)
    }

    pub async fn subscriptions(&self, user: UserId) -> Result<Vec<Subscription>, PushError> {
        Ok(store::of_user(self.inner.db.reader(), user).await?)
    }

    pub async fn unsubscribe(&self, user: UserId, id: PushSubscriptionId) -> Result<(), PushError> {
        let mut tx = self.inner.db.begin().await?;
        store::find(&mut *tx, user, id).await?.ok_or(PushError::NotFound)?;
        store::delete(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends `message` to every browser `user` subscribed. A browser whose push service says
    /// it is gone (404, 410) is unsubscribed. When no browser took the message and one failed
    /// in a way worth retrying, the error says so and the caller retries the whole send; once
    /// any browser took it, the send counts as done (a retry would show it twice there).
    pub async fn send(&self, user: UserId, message: &PushMessage) -> Result<PushSent, PushError> {
        let (key, subject) = self.vapid()?;
        let payload = message.payload();
        let mut sent = PushSent::default();
        let mut retry: Option<PushError> = None;
        for subscription in self.subscriptions(user).await? {
            let Some(keys) = subscription.keys() else {
                self.forget(subscription.id).await?;
                sent.removed += 1;
                continue;
            };
            let outcome = self.send_one(key, subject, &keys, payload.clone()).await;
            match outcome {
                Ok(()) => {
                    let mut tx = self.inner.db.begin().await?;
                    store::mark_sent(&mut *tx, subscription.id, self.inner.clock.now()).await?;
                    tx.commit().await?;
                    sent.delivered += 1;
                }
                Err(Outcome::Gone) => {
                    self.forget(subscription.id).await?;
                    sent.removed += 1;
                }
                Err(Outcome::Refused(status)) => {
                    tracing::warn!(subscription = %subscription.id, %status, "a push service refused a message");
                    sent.refused += 1;
                }
                Err(Outcome::Retry(err)) => retry = Some(err),
            }
        }
        match retry {
            Some(err) if sent.delivered == 0 => Err(err),
            _ => Ok(sent),
        }
    }

    async fn forget(&self, id: PushSubscriptionId) -> Result<(), PushError> {
        let mut tx = self.inner.db.begin().await?;
        store::delete(&mut *tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn send_one(
        &self,
        key: &VapidKey,
        subject: &str,
        to: &NewSubscription,
        payload: Vec<u8>,
    ) -> Result<(), Outcome> {
        let endpoint = to.endpoint.as_str().parse().map_err(|_| Outcome::Refused(StatusCode::BAD_REQUEST))?;
        let mut request = web_push_native::WebPushBuilder::new(endpoint, to.p256dh, to.auth)
            .with_valid_duration(MESSAGE_TTL)
            .build(payload)
            .map_err(|err| Outcome::Retry(PushError::Unreachable(err.to_string())))?;
        let authorization = key.authorization(&to.endpoint, subject, self.inner.clock.now());
        let authorization = HeaderValue::from_str(&authorization)
            .map_err(|err| Outcome::Retry(PushError::Unreachable(err.to_string())))?;
        request.headers_mut().insert(AUTHORIZATION, authorization);
        let request = reqwest::Request::try_from(request)
            .map_err(|err| Outcome::Retry(PushError::Unreachable(err.to_string())))?;
        let response = self
            .inner
            .client
            .execute(request)
            .await
            .map_err(|err| Outcome::Retry(PushError::Unreachable(err.without_url().to_string())))?;
        classify(response)
    }
}

enum Outcome {
    Gone,
    Refused(StatusCode),
    Retry(PushError),
}

fn classify(response: reqwest::Response) -> Result<(), Outcome> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => Err(Outcome::Gone),
        StatusCode::TOO_MANY_REQUESTS => {
            let after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(60);
            Err(Outcome::Retry(PushError::RateLimited(Duration::from_secs(after))))
        }
        s if s.is_server_error() => Err(Outcome::Retry(PushError::Unreachable(format!("status {s}")))),
        s => Err(Outcome::Refused(s)),
    }
}
