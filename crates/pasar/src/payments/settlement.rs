//! From the wire to one effect, one way. Payments receives a gateway's word (a webhook, or its
//! answer when reconciliation asks), verifies it, asks the gateway for the truth, applies each
//! gateway event at most once, and hands the outcome to the handler that the module owning the
//! payment's purpose registered at start-up (checkout for orders, the wallet for deposits and
//! withdrawals), inside the same transaction as the de-duplication. Payments never knows
//! checkout or the wallet; they know payments.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::HeaderMap;

use super::domain::{Payment, PaymentPurpose};
use super::gateway::{PaymentReport, ProviderPayoutStatus, ProviderStatus};
use super::payouts::Payout;
use super::refunds::{Refund, RefundDestination, RefundState};
use super::service::{Payments, PaymentsError};
use super::{payout_store, store};
use crate::db::Connection;
use crate::ids::{PaymentId, PayoutId};

/// What settling an outcome did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Something moved (a payment, an order, a wallet, a payout).
    Applied,
    /// The event was applied before, or the outcome changes nothing.
    NoChange,
}

impl Settlement {
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Applied => "applied",
            Settlement::NoChange => "no_change",
        }
    }
}

/// A handler's failure: its own error, kept whole for the log.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SettleError(#[from] pub anyhow::Error);

pub type SettleFuture<'a> = Pin<Box<dyn Future<Output = Result<Settlement, SettleError>> + Send + 'a>>;

/// Applies a payment's outcome for one purpose, in the caller's transaction (which has
/// already recorded the gateway event, so a handler never sees one event twice).
pub trait SettlePayment: Send + Sync {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payment: &'a Payment,
        status: ProviderStatus,
    ) -> SettleFuture<'a>;
}

/// Completes a refund of a payment made for one purpose, in the caller's transaction: the
/// money is gone (to `destination`), so the purpose's books and state follow (an order's
/// ledger, status and stock). Answers `NoChange` when the refund was completed before.
pub trait SettleRefund: Send + Sync {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payment: &'a Payment,
        refund: &'a Refund,
        destination: RefundDestination,
    ) -> SettleFuture<'a>;
}

/// Applies a payout's outcome, in the caller's transaction.
pub trait SettlePayout: Send + Sync {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payout: &'a Payout,
        status: ProviderPayoutStatus,
    ) -> SettleFuture<'a>;
}

/// A gateway event's identity: applied at most once per provider.
#[derive(Clone, Copy, Debug)]
pub struct GatewayEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
}

/// The pipeline: payments plus the settle handlers registered at start-up.
#[derive(Clone)]
pub struct Settlements {
    payments: Payments,
    payment_handlers: HashMap<PaymentPurpose, Arc<dyn SettlePayment>>,
    refund_handlers: HashMap<PaymentPurpose, Arc<dyn SettleRefund>>,
    payout_handler: Option<Arc<dyn SettlePayout>>,
}

impl Settlements {
    pub fn new(payments: Payments) -> Self {
        Self {
            payments,
            payment_handlers: HashMap::new(),
            refund_handlers: HashMap::new(),
            payout_handler: None,
        }
    }

    /// Registers who applies the outcomes of payments made for `purpose`.
    pub fn on_payment(mut self, purpose: PaymentPurpose, handler: Arc<dyn SettlePayment>) -> Self {
        self.payment_handlers.insert(purpose, handler);
        self
    }

    /// Registers who completes refunds of payments made for `purpose`.
    pub fn on_refund(mut self, purpose: PaymentPurpose, handler: Arc<dyn SettleRefund>) -> Self {
        self.refund_handlers.insert(purpose, handler);
        self
    }

    /// Registers who applies payout outcomes (withdrawals).
    pub fn on_payout(mut self, handler: Arc<dyn SettlePayout>) -> Self {
        self.payout_handler = Some(handler);
        self
    }

    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// A payment webhook from `provider`: verified, confirmed with the gateway, applied once.
    pub async fn receive_payment_webhook(
        &self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Settlement, PaymentsError> {
        let (notice, payment, report) = self.payments.verify_webhook(provider, headers, body).await?;
        let event = GatewayEvent { provider, event_id: &notice.event_id };
        self.settle_payment(payment.id, report, Some(event)).await
    }

    /// A payout webhook from `provider`: verified, confirmed with the gateway, applied once.
    pub async fn receive_payout_webhook(
        &self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Settlement, PaymentsError> {
        let (notice, payout, status) = self.payments.verify_payout_webhook(provider, headers, body).await?;
        let event = GatewayEvent { provider, event_id: &notice.event_id };
        self.settle_payout(payout.id, status, Some(event)).await
    }

    /// Applies what the gateway vouches for, once per gateway event (an outcome learnt by
    /// asking, as reconciliation does, has no event and relies on the state machine alone).
    /// The fee the provider reports for a paid payment is recorded first, so the sale posts it.
    pub async fn settle_payment(
        &self,
        payment_id: PaymentId,
        report: PaymentReport,
        event: Option<GatewayEvent<'_>>,
    ) -> Result<Settlement, PaymentsError> {
        let status = report.status;
        // Nothing to apply yet: the event stays unrecorded, so its redelivery, once the gateway
        // confirms, is applied.
        if status == ProviderStatus::Pending {
            return Ok(Settlement::NoChange);
        }
        let mut tx = self.payments.db.begin().await?;
        if let Some(event) = event {
            let now = self.payments.clock.now();
            if !store::first_sighting(&mut *tx, event.provider, event.event_id, payment_id, now).await? {
                return Ok(Settlement::NoChange);
            }
        }
        let mut payment = self.payments.payment_in(&mut tx, payment_id).await?;
        if let Some(fee) = report.fee.filter(|_| status == ProviderStatus::Succeeded) {
            self.payments.record_provider_fee(&mut tx, &mut payment, fee).await?;
        }
        let handler = self
            .payment_handlers
            .get(&payment.purpose)
            .ok_or_else(|| PaymentsError::NoHandler(payment.purpose.as_str()))?;
        let settlement = handler.settle(&mut tx, &payment, status).await?;
        tx.commit().await?;
        Ok(settlement)
    }

    /// Completes a refund whose money went to `destination`, once: the refund's purpose
    /// follows in the same transaction.
    pub async fn complete_refund(
        &self,
        refund: &Refund,
        destination: RefundDestination,
    ) -> Result<Settlement, PaymentsError> {
        let mut tx = self.payments.db.begin().await?;
        let payment = self.payments.payment_in(&mut tx, refund.payment_id).await?;
        let handler = self
            .refund_handlers
            .get(&payment.purpose)
            .ok_or_else(|| PaymentsError::NoHandler(payment.purpose.as_str()))?;
        let settlement = handler.settle(&mut tx, &payment, refund, destination).await?;
        tx.commit().await?;
        Ok(settlement)
    }

    /// Ends a refund the provider refused: its amount is refundable again.
    pub async fn fail_refund(&self, refund: &Refund) -> Result<Settlement, PaymentsError> {
        let mut tx = self.payments.db.begin().await?;
        let done =
            self.payments.finish_refund(&mut tx, refund, RefundState::Failed, refund.destination).await?;
        tx.commit().await?;
        Ok(if done { Settlement::Applied } else { Settlement::NoChange })
    }

    /// [`Settlements::settle_payment`] for a payout.
    pub async fn settle_payout(
        &self,
        payout_id: PayoutId,
        status: ProviderPayoutStatus,
        event: Option<GatewayEvent<'_>>,
    ) -> Result<Settlement, PaymentsError> {
        if status == ProviderPayoutStatus::Pending {
            return Ok(Settlement::NoChange);
        }
        let mut tx = self.payments.db.begin().await?;
        if let Some(event) = event {
            let now = self.payments.clock.now();
            if !payout_store::first_sighting(&mut *tx, event.provider, event.event_id, payout_id, now).await?
            {
                return Ok(Settlement::NoChange);
            }
        }
        let payout = self.payments.payout_in(&mut tx, payout_id).await?;
        let handler = self.payout_handler.as_ref().ok_or(PaymentsError::NoHandler("payout"))?;
        let settlement = handler.settle(&mut tx, &payout, status).await?;
        tx.commit().await?;
        Ok(settlement)
    }
}
