//! Webhooks' use cases: manage endpoints, list and replay deliveries, and run the sender.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{DeliveryStatus, EventTypes, WebhookUrl};
use super::guard::{PublicOnlyResolver, UrlGuard, UrlRefused};
use super::{signature, store};
use crate::db::Db;
use crate::events::{self, Event};
use crate::ids::{EventId, WebhookDeliveryId, WebhookEndpointId};
use crate::time::{Clock, Timestamp};

/// A merchant's endpoint. The signing secret is shown only once, when the endpoint is created.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    /// Event types delivered to this endpoint; `["*"]` means all.
    pub events: EventTypes,
    pub description: Option<String>,
    /// A disabled endpoint receives nothing; its queued deliveries wait until it is enabled.
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new endpoint with its signing secret (never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// Verify `Pasar-Signature` with this: HMAC-SHA256 over `"<t>.<raw body>"`.
    pub secret: String,
}

/// One event's journey to one endpoint.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made since the delivery was queued (or last replayed).
    pub attempts: u32,
    /// HTTP status of the last answer, if there was one.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub events: EventTypes,
    pub description: Option<String>,
}

/// A partial change; `None` leaves a field as it is, `description: Some(None)` clears it.
#[derive(Default)]
pub struct EndpointChanges {
    pub url: Option<WebhookUrl>,
    pub events: Option<EventTypes>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
}

#[derive(Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub before: Option<WebhookDeliveryId>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the URL is refused: {0}")]
    UrlRefused(#[from] UrlRefused),
    #[error("no such webhook endpoint")]
    EndpointNotFound,
    #[error("no such webhook delivery")]
    DeliveryNotFound,
    #[error("no such event")]
    EventNotFound,
    #[error("the event has not been relayed yet; its deliveries are still to come")]
    EventNotPublished,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Webhooks {
    pub(super) db: Db,
    pub(super) clock: Clock,
    pub(super) guard: UrlGuard,
    pub(super) client: reqwest::Client,
    pub(super) max_attempts: u32,
    pub(super) poll: Duration,
}

/// Longest an endpoint may take to answer.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl Webhooks {
    /// Deliveries waiting to be sent or retried: the webhook queue's length, for `/metrics`.
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(self.db.reader())
            .await
    }

    pub fn new(
        db: Db,
        clock: Clock,
        allow_private: bool,
        max_attempts: u32,
        poll: Duration,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(max_attempts >= 1, "PASAR_WEBHOOK_MAX_ATTEMPTS must be at least 1");
        let guard = UrlGuard::new(allow_private);
        let mut client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Pasar-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            // A proxy would resolve names itself, past the guard; webhooks go out directly.
            client = client.no_proxy().dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            db,
            clock,
            guard,
            client: client.build()?,
            max_attempts,
            poll: poll.max(Duration::from_millis(10)),
        })
    }

    pub async fn create_endpoint(&self, new: NewEndpoint) -> Result<CreatedEndpoint, WebhookError> {
        self.guard.check(new.url.url()).await?;
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            url: new.url.as_str().to_owned(),
            events: new.events,
            description: new.description,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let secret = signature::new_secret();
        let mut tx = self.db.begin().await?;
        store::insert_endpoint(&mut *tx, &endpoint, &secret).await?;
        tx.commit().await?;
        Ok(CreatedEndpoint { endpoint, secret })
    }

    pub async fn endpoint(&self, id: WebhookEndpointId) -> Result<WebhookEndpoint, WebhookError> {
        store::endpoint(self.db.reader(), id).await?.ok_or(WebhookError::EndpointNotFound)
    }

    /// One page of endpoints, newest first, and whether more follow.
    pub async fn list_endpoints(
        &self,
        before: Option<WebhookEndpointId>,
        limit: usize,
    ) -> Result<(Vec<WebhookEndpoint>, bool), WebhookError> {
        let mut endpoints = store::list_endpoints(self.db.reader(), before, limit + 1).await?;
        let more = endpoints.len() > limit;
        endpoints.truncate(limit);
        Ok((endpoints, more))
    }

    pub async fn update_endpoint(
        &self,
        id: WebhookEndpointId,
        changes: EndpointChanges,
    ) -> Result<WebhookEndpoint, WebhookError> {
        if let Some(url) = &changes.url {
            self.guard.check(url.url()).await?;
        }
        let mut tx = self.db.begin().await?;
        let mut endpoint = store::endpoint(&mut *tx, id).await?.ok_or(WebhookError::EndpointNotFound)?;
        if let Some(url) = changes.url {
            endpoint.url = url.as_str().to_owned();
        }
        if let Some(events) = changes.events {
            endpoint.events = events;
        }
        if let Some(enabled) = changes.enabled {
            endpoint.enabled = enabled;
        }
        if let Some(description) = changes.description {
            endpoint.description = description;
        }
        endpoint.updated_at = self.clock.now();
        store::update_endpoint(&mut *tx, &endpoint).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint and its delivery history; nothing more is sent to it.
    pub async fn delete_endpoint(&self, id: WebhookEndpointId) -> Result<(), WebhookError> {
        let mut tx = self.db.begin().await?;
        // Lock the endpoint first: on PostgreSQL a delivery fanned out between deleting the
        // history and the endpoint broke the foreign key (a 500, found by Schemathesis); with
        // the row locked, a fan-out waits and then finds the endpoint gone.
        sqlx::query(&format!(
            "SELECT id FROM webhook_endpoints WHERE id = $1{}",
            self.db.dialect().row_lock()
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if !store::delete_endpoint(&mut tx, id).await? {
            return Err(WebhookError::EndpointNotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// One page of an endpoint's deliveries, newest first, and whether more follow.
    pub async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        filter: &DeliveryFilter,
        limit: usize,
    ) -> Result<(Vec<WebhookDelivery>, bool), WebhookError> {
        self.endpoint(endpoint).await?;
        let mut deliveries =
            store::list_deliveries(self.db.reader(), endpoint, filter.status, filter.before, limit + 1)
                .await?;
        let more = deliveries.len() > limit;
        deliveries.truncate(limit);
        Ok((deliveries, more))
    }

    /// Queues a delivery again, whatever its status (dead-lettered ones included), with a
    /// fresh set of attempts.
    pub async fn replay_delivery(&self, id: WebhookDeliveryId) -> Result<WebhookDelivery, WebhookError> {
        let mut tx = self.db.begin().await?;
        if !store::requeue_delivery(&mut *tx, id, self.clock.now()).await? {
            return Err(WebhookError::DeliveryNotFound);
        }
        let delivery = store::delivery(&mut *tx, id).await?.ok_or(WebhookError::DeliveryNotFound)?;
        tx.commit().await?;
        tracing::info!(delivery = %id, "webhook delivery replayed");
        Ok(delivery)
    }

    /// Queues new deliveries of a published event to every enabled endpoint that wants it now.
    pub async fn replay_event(&self, id: EventId) -> Result<Vec<WebhookDelivery>, WebhookError> {
        let mut tx = self.db.begin().await?;
        let (event, published) = events::find(&mut *tx, id).await?.ok_or(WebhookError::EventNotFound)?;
        if !published {
            return Err(WebhookError::EventNotPublished);
        }
        let now = self.clock.now();
        let mut queued = Vec::new();
        for endpoint in store::enabled_endpoints(&mut *tx).await? {
            if endpoint.wants(&event.event_type) {
                queued.push(store::insert_delivery(&mut *tx, endpoint.id, &event, now).await?);
            }
        }
        let mut deliveries = Vec::with_capacity(queued.len());
        for delivery in queued {
            deliveries
                .push(store::delivery(&mut *tx, delivery).await?.ok_or(WebhookError::DeliveryNotFound)?);
        }
        tx.commit().await?;
        tracing::info!(event = %id, deliveries = deliveries.len(), "event replayed to webhooks");
        Ok(deliveries)
    }

    /// The event as it will be sent; `None` if it is no longer in the outbox.
    pub(super) async fn event(&self, id: EventId) -> Result<Option<Event>, sqlx::Error> {
        Ok(events::find(self.db.reader(), id).await?.map(|(event, _)| event))
    }
}
