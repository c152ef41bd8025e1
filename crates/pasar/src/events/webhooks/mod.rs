//! Merchant webhooks: endpoints that receive Pasar's events, signed, with retries.
//!
//! The relay queues one delivery per event and matching enabled endpoint (in the transaction
//! that publishes the event); the sender POSTs it with a `Pasar-Signature` header (Stripe's
//! scheme, [`signature`]), retries with exponential backoff and jitter, and dead-letters it
//! after `webhook_max_attempts`. Admins list deliveries and replay them.
//!
//! Endpoint URLs are an SSRF risk (OWASP API7): they must be https and must not reach private,
//! loopback, link-local, multicast or metadata addresses, checked at registration and again on
//! every connection ([`guard`]).

pub mod domain;
pub mod guard;
pub mod routes;
mod sender;
mod service;
pub mod signature;
pub(crate) mod store;

pub use domain::{DeliveryStatus, EventTypes, WebhookUrl};
pub use service::{
    CreatedEndpoint, DeliveryFilter, EndpointChanges, NewEndpoint, WebhookDelivery, WebhookEndpoint,
    WebhookError, Webhooks,
};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112221,
    name: "webhooks: endpoints and deliveries",
    sql: "CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            event_types TEXT NOT NULL,
            description TEXT,
            secret TEXT NOT NULL,
            enabled BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );

          CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt_at BIGINT,
            claimed_until BIGINT,
            claim_token TEXT,
            last_status_code BIGINT,
            last_error TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            delivered_at BIGINT
          );
          CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
          CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);",
    postgres: None,
}];
