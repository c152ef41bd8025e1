//! The gateway abstraction: one implementation per payment provider (`providers/<name>/`), each
//! translating between Pasar and the provider's wire format, split by flow (pay, status,
//! refunds, payouts). Payments bring money in; payouts send it out to a bank account.

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;

use super::domain::Payment;
use super::domain::PayoutDestination;
use crate::ids::{PaymentId, PayoutId, RefundId};
use crate::money::{Currency, Money, MoneyError};
use crate::time::Timestamp;

pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// What Pasar asks a gateway to collect.
#[derive(Clone, Debug)]
pub struct CreatePayment {
    /// Also the idempotency key at the gateway: asking twice for one payment creates one charge.
    pub payment_id: PaymentId,
    /// How the buyer pays at this gateway, such as `qris` or `konbini`.
    pub method: String,
    /// The payer's email, for gateways that need one (konbini slips, hosted pages).
    pub payer_email: Option<String>,
    /// What is owed, before the fee (providers that add their own fee are asked for this).
    pub amount: Money,
    /// What the buyer pays, fee included (providers that take Pasar's fee are asked for this).
    pub total: Money,
    pub description: String,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, Default)]
pub struct CreatedPayment {
    pub provider_ref: String,
    /// A hosted page where the buyer pays.
    pub checkout_url: Option<String>,
    /// What the buyer pays with: the raw QRIS string, or a virtual account number.
    pub payment_number: Option<String>,
    /// The gateway's own deadline, when it has one (never later than Pasar's).
    pub expires_at: Option<Timestamp>,
    /// Method-specific instructions for the buyer (a konbini slip's store codes).
    pub instructions: Option<serde_json::Value>,
    /// What the provider keeps of the payment, when it says so at creation (Pakasir's `fee`).
    pub provider_fee: Option<Money>,
}

/// A way to pay that a gateway offers, and in which currencies.
#[derive(Clone, Copy, Debug)]
pub struct MethodOffer {
    /// The name buyers choose, such as `qris`, `bni_va`, `card`, `konbini`.
    pub method: &'static str,
    pub currencies: &'static [Currency],
}

/// A payment's status according to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
    Refunded,
}

/// What a gateway says of a payment when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentReport {
    pub status: ProviderStatus,
    /// What the provider kept of a paid payment, when it says so (CHIP's `fee_amount`,
    /// Stripe's balance transaction), in the payment's currency.
    pub fee: Option<Money>,
}

impl PaymentReport {
    pub fn status(status: ProviderStatus) -> Self {
        Self { status, fee: None }
    }
}

/// A verified webhook: who it is about and what the gateway says happened.
#[derive(Clone, Debug)]
pub struct WebhookNotice {
    /// Unique per event at this provider: an event is applied at most once.
    pub event_id: String,
    pub payment_id: PaymentId,
    /// The amount the event reports, to be checked against the payment.
    pub amount: Money,
    /// Which of the payment's amounts the event reports.
    pub covers: NoticeAmount,
}

/// Providers report either what the buyer paid (fee included) or the amount asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeAmount {
    /// The payment's total, fee included (the sandbox, Stripe, CHIP).
    Total,
    /// The amount before the provider's fee (Pakasir's `amount`).
    BeforeFee,
}

/// What Pasar asks a gateway to send out.
#[derive(Clone, Debug)]
pub struct CreatePayout {
    /// Also the idempotency key at the gateway: asking twice for one payout sends money once.
    pub payout_id: PayoutId,
    pub amount: Money,
    pub destination: PayoutDestination,
    pub description: String,
    /// The payee's email, for gateways that need one (CHIP's and Revio's payouts).
    pub payee_email: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CreatedPayout {
    pub provider_ref: String,
}

/// A payout's status according to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderPayoutStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A verified payout webhook: which payout it is about and the amount it reports.
#[derive(Clone, Debug)]
pub struct PayoutNotice {
    pub event_id: String,
    pub payout_id: PayoutId,
    /// To be checked against the payout.
    pub amount: Money,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway is unreachable or failed: {0}")]
    Unavailable(String),
    #[error("the gateway refused: {0}")]
    Refused(String),
    #[error("webhook signature missing, malformed, stale or wrong")]
    BadSignature,
    #[error("webhook body is not what the gateway sends: {0}")]
    BadWebhook(String),
    #[error("the provider does not offer {0}")]
    Unsupported(&'static str),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// A payment provider: its name and fee, and the flows it has. Each flow is a trait of its own
/// (hyperswitch's shape), so a provider implements only what it offers: one that cannot pay out
/// answers `None` for [`Gateway::payouts`] and Pasar says so instead of calling it.
pub trait Gateway: Send + Sync {
    /// The name in URLs and records, such as `sandbox`.
    fn name(&self) -> &'static str;

    /// The ways to pay it offers.
    fn offers(&self) -> &[MethodOffer];

    /// The fee this gateway charges for `method` on `amount`, shown to the buyer before paying.
    fn fee(&self, method: &str, amount: Money) -> Result<Money, GatewayError>;

    /// Taking payments: every provider has this.
    fn pay(&self) -> &dyn Pay;

    /// Asking about a payment, so a webhook (a hint) is confirmed and a missed one found.
    fn status(&self) -> &dyn Status;

    fn refunds(&self) -> Option<&dyn Refunds> {
        None
    }

    fn payouts(&self) -> Option<&dyn Payouts> {
        None
    }
}

/// The pay flow: create a payment, stop an unpaid one, read its webhooks.
pub trait Pay: Send + Sync {
    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment>;

    /// Stops an unpaid payment from being paid; answers the status it ended in (a payment
    /// that was paid meanwhile stays paid).
    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus>;

    /// Whether Pasar cancels an unpaid payment here when its deadline passes, so the buyer
    /// cannot pay an order that has already released its stock.
    fn cancel_on_expiry(&self) -> bool {
        true
    }

    /// Checks a webhook's signature over the raw body (where the provider signs) and parses it.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookNotice, GatewayError>;
}

/// The status flow: what the provider says of a payment now.
pub trait Status: Send + Sync {
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport>;
}

/// Where a refund stands at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    Succeeded,
    /// Accepted, not sent yet.
    Pending,
    Failed,
}

/// The refund flow: send (part of) a payment back. `refund_id` is Pasar's, unique per refund,
/// and the idempotency key at the provider.
pub trait Refunds: Send + Sync {
    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        refund_id: RefundId,
        amount: Money,
    ) -> GatewayFuture<'a, RefundStatus>;

    /// Where the refund `refund_id` stands here; None when it never arrived (so asking again
    /// cannot refund twice). A provider that cannot look refunds up answers `Unsupported`, and
    /// a refund whose answer was lost there is left to a person.
    fn refund_status<'a>(
        &'a self,
        _payment: &'a Payment,
        _refund_id: RefundId,
    ) -> GatewayFuture<'a, Option<RefundStatus>> {
        Box::pin(async { Err(GatewayError::Unsupported("looking up a refund")) })
    }
}

/// The payout flow: send money to a bank account, ask about it, read its webhooks.
pub trait Payouts: Send + Sync {
    fn create_payout<'a>(&'a self, request: &'a CreatePayout) -> GatewayFuture<'a, CreatedPayout>;

    fn payout_status<'a>(&'a self, payout_id: PayoutId) -> GatewayFuture<'a, ProviderPayoutStatus>;

    /// A page where the payout can be followed, for providers that have one.
    fn payout_page(&self, _payout_id: PayoutId) -> Option<String> {
        None
    }

    /// Checks a payout webhook's signature over the raw body and parses it.
    fn verify_payout_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<PayoutNotice, GatewayError>;
}
