//! Payments: the gateway abstraction, the built-in sandbox gateway, payment and payout records
//! and verified, de-duplicated gateway webhooks.
//!
//! A webhook is a hint, never the truth: after its signature, timestamp, amount and currency
//! check out, Pasar asks the gateway for the payment's status and applies that. So duplicate,
//! reordered or stale deliveries all converge on the gateway's answer, and every gateway event
//! id is applied at most once.

pub mod breaker;
pub mod domain;
pub mod gateway;
mod methods;
mod payout_store;
pub mod payouts;
pub mod providers;
pub mod qr;
pub mod reconciliation;
pub mod refunds;
pub mod routes;
mod service;
pub mod settlement;
mod store;
pub mod webhook_log;

pub use domain::{FeeRule, MaskedDestination, Payment, PaymentPurpose, PaymentStatus, PayoutDestination};
pub use gateway::{
    CreatePayment, CreatePayout, CreatedPayment, CreatedPayout, Gateway, GatewayError, MethodOffer,
    NoticeAmount, Pay, PayoutNotice, Payouts, ProviderPayoutStatus, ProviderStatus, RefundStatus, Refunds,
    Status, WebhookNotice,
};
pub use payouts::{NewPayout, Payout, PayoutStatus};
pub use reconciliation::Reconciler;
pub use refunds::{NewRefund, Refund, RefundDestination, RefundState};
pub use service::{NewPayment, Payments, PaymentsError};
pub use settlement::{
    GatewayEvent, SettleError, SettleFuture, SettlePayment, SettlePayout, SettleRefund, Settlement,
    Settlements,
};
pub use webhook_log::{IncomingWebhook, WebhookLog, WebhookResult};

use crate::db::Migration;

/// The payment method that pays from the buyer's own wallet: no gateway, no fee, settled in
/// the checkout's transaction.
pub const WALLET: &str = "wallet";

/// Marks a schema whose `enum` is filled in when the server starts, from the providers it has
/// configured (see [`Payments::method_lists`]): the document lists what this server accepts.
pub const METHODS_EXTENSION: &str = "x-pasar-methods";

/// The OpenAPI schema of a deposit's payment method: what is on offer in the wallet's currency.
pub fn deposit_methods() -> utoipa::openapi::Object {
    filled_in("deposit")
}

/// The OpenAPI schema of a withdrawal's payout provider, or null (the first that pays out).
pub fn payout_providers_or_null() -> utoipa::openapi::Schema {
    utoipa::openapi::OneOfBuilder::new()
        .item(filled_in("payout"))
        .item(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null))
        .into()
}

/// The OpenAPI schema of a checkout's payment method: any method on offer, or the wallet.
pub fn checkout_methods() -> utoipa::openapi::Object {
    filled_in("checkout")
}

fn filled_in(list: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .extensions(Some(
            utoipa::openapi::extensions::ExtensionsBuilder::new().add(METHODS_EXTENSION, list).build(),
        ))
        .build()
}

pub static MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2026112290,
        name: "payments: payouts, payout webhook events, sandbox payouts",
        sql: "CREATE TABLE payouts (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL,
            payee_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            provider_ref TEXT,
            status TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            destination TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (amount > 0),
            CHECK (status IN ('pending', 'succeeded', 'failed'))
          );
          CREATE UNIQUE INDEX payouts_reference ON payouts (reference);
          CREATE INDEX payouts_pending ON payouts (created_at) WHERE status = 'pending';

          CREATE TABLE payout_webhook_events (
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,
            payout_id TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            PRIMARY KEY (provider, event_id)
          );

          CREATE TABLE sandbox_payouts (
            payout_id TEXT PRIMARY KEY,
            payout_ref TEXT NOT NULL,
            status TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            bank_code TEXT NOT NULL,
            account_number TEXT NOT NULL,
            account_name TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX sandbox_payouts_ref ON sandbox_payouts (payout_ref);",
        postgres: None,
    },
    Migration {
        version: 2026120104,
        name: "payments: the method a buyer chose, and what its provider answered",
        sql: "ALTER TABLE payments ADD COLUMN method TEXT;
          ALTER TABLE payments ADD COLUMN payment_number TEXT;
          ALTER TABLE payments ADD COLUMN instructions TEXT;
          UPDATE payments SET method = provider;",
        postgres: None,
    },
    Migration {
        version: 2026120107,
        name: "payments: what the provider keeps of a payment",
        sql: "ALTER TABLE payments ADD COLUMN provider_fee BIGINT;",
        postgres: None,
    },
    Migration {
        version: 2026120102,
        name: "payments: a payer's payments and a payee's payouts by time",
        sql: "CREATE INDEX payments_payer ON payments (payer_id, purpose, id);
          CREATE INDEX payouts_payee ON payouts (payee_id, id);",
        postgres: None,
    },
];
