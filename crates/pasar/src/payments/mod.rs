//! Payments: the gateway abstraction, the built-in sandbox gateway, payment records and
//! verified, de-duplicated gateway webhooks.
//!
//! A webhook is a hint, never the truth: after its signature, timestamp, amount and currency
//! check out, Pasar asks the gateway for the payment's status and applies that. So duplicate,
//! reordered or stale deliveries all converge on the gateway's answer, and every gateway event
//! id is applied at most once.

pub mod domain;
pub mod gateway;
pub mod routes;
pub mod sandbox;
mod service;
mod store;

pub use domain::{FeeRule, Payment, PaymentPurpose, PaymentStatus};
pub use gateway::{CreatePayment, CreatedPayment, Gateway, GatewayError, ProviderStatus, WebhookNotice};
pub use service::{NewPayment, Payments, PaymentsError};

use crate::db::Migration;

/// The payment method that pays from the buyer's own wallet: no gateway, no fee, settled in
/// the checkout's transaction.
pub const WALLET: &str = "wallet";

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112240,
    name: "payments: payments, gateway webhook events, sandbox charges",
    sql: "CREATE TABLE payments (
            id TEXT PRIMARY KEY,
            purpose TEXT NOT NULL,
            reference TEXT NOT NULL,
            payer_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            provider_ref TEXT,
            status TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            fee BIGINT NOT NULL,
            total BIGINT NOT NULL,
            checkout_url TEXT,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (amount >= 0),
            CHECK (fee >= 0),
            CHECK (total = amount + fee)
          );
          CREATE INDEX payments_reference ON payments (reference);
          CREATE INDEX payments_due ON payments (expires_at) WHERE status = 'pending';

          CREATE TABLE payment_webhook_events (
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,
            payment_id TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            PRIMARY KEY (provider, event_id)
          );

          CREATE TABLE sandbox_charges (
            payment_id TEXT PRIMARY KEY,
            charge_ref TEXT NOT NULL,
            status TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            description TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX sandbox_charges_ref ON sandbox_charges (charge_ref);",
    postgres: None,
}];
