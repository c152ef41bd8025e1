//! Reconciliation: a job that asks the gateways about every payment, payout and refund still
//! pending past a grace period, and applies what a missed webhook (or a lost answer) would have
//! applied, through the same settlement pipeline as webhooks. It runs every `reconcile_interval_secs` (once across all
//! instances, by a lease in the database) and on demand with `pasar reconcile`.

use std::time::Duration;

use super::gateway::{GatewayError, ProviderPayoutStatus, ProviderStatus, RefundStatus};
use super::refunds::{Refund, RefundDestination};
use super::service::PaymentsError;
use super::settlement::{Settlement, Settlements};
use crate::db::lease::Leases;
use crate::events::{self, NewEvent};
use crate::time::Clock;

const JOB: &str = "reconciliation";

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Report {
    pub payments_checked: usize,
    pub payments_settled: usize,
    pub payouts_checked: usize,
    pub payouts_settled: usize,
    pub refunds_checked: usize,
    pub refunds_completed: usize,
    /// Pending refunds whose provider cannot be asked about them: a person checks these.
    pub refunds_unresolved: usize,
}

#[derive(Clone)]
pub struct Reconciler {
    leases: Leases,
    clock: Clock,
    settlements: Settlements,
    /// How old a pending payment or payout must be before the gateway is asked about it.
    grace: Duration,
}

impl Reconciler {
    pub fn new(leases: Leases, clock: Clock, settlements: Settlements, grace: Duration) -> Self {
        Self { leases, clock, settlements, grace }
    }

    /// Runs the job if no instance ran it within `interval`; answers what it did, or None when
    /// another instance holds the turn.
    pub async fn run_if_due(&self, interval: Duration) -> anyhow::Result<Option<Report>> {
        if !self.leases.take_turn(JOB, interval, self.clock.now()).await? {
            return Ok(None);
        }
        self.run_once().await.map(Some)
    }

    /// One pass now, asked for by a member of staff (`actor`): what it did is recorded as a
    /// `payments.reconciliation_run` event, so the audit log keeps who ran it and its report.
    /// It may overlap the scheduled pass; settling is idempotent, so an outcome is applied once.
    pub async fn run_by(&self, actor: &str) -> anyhow::Result<Report> {
        let report = self.run_once().await?;
        let payments = self.settlements.payments();
        let mut tx = payments.db.begin().await?;
        events::record(
            &mut tx,
            self.clock.now(),
            NewEvent {
                event_type: "payments.reconciliation_run",
                version: 1,
                subject_id: JOB.to_owned(),
                actor: actor.to_owned(),
                payload: serde_json::json!({ "after": report }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// One pass over everything pending past the grace period.
    pub async fn run_once(&self) -> anyhow::Result<Report> {
        let before = self.clock.now().minus(self.grace);
        let payments = self.settlements.payments();
        let mut report = Report::default();
        for payment in payments.pending_before(before, 500).await? {
            report.payments_checked += 1;
            let answer = match payments.status_at_gateway(&payment).await {
                Ok(answer) => answer,
                Err(err) => {
                    tracing::warn!(payment = %payment.id, error = %err, "reconciliation could not ask the gateway");
                    continue;
                }
            };
            if answer.status == ProviderStatus::Pending {
                continue;
            }
            if self.settlements.settle_payment(payment.id, answer, None).await? == Settlement::Applied {
                tracing::info!(payment = %payment.id, status = ?answer.status, "reconciliation applied a missed outcome");
                report.payments_settled += 1;
            }
        }
        for payout in payments.pending_payouts(before, 500).await? {
            report.payouts_checked += 1;
            let status = match payments.payout_status_at_gateway(&payout).await {
                Ok(status) => status,
                Err(err) => {
                    tracing::warn!(payout = %payout.id, error = %err, "reconciliation could not ask the gateway");
                    continue;
                }
            };
            if status == ProviderPayoutStatus::Pending {
                continue;
            }
            if self.settlements.settle_payout(payout.id, status, None).await? == Settlement::Applied {
                tracing::info!(payout = %payout.id, ?status, "reconciliation applied a missed payout outcome");
                report.payouts_settled += 1;
            }
        }
        for refund in payments.pending_refunds(before, 500).await? {
            report.refunds_checked += 1;
            match self.finish_refund(&refund).await {
                Ok(Some(Settlement::Applied)) => {
                    tracing::info!(refund = %refund.id, "reconciliation completed an interrupted refund");
                    report.refunds_completed += 1;
                }
                Ok(Some(Settlement::NoChange)) => {}
                Ok(None) => {
                    tracing::warn!(refund = %refund.id, payment = %refund.payment_id,
                        "a refund's answer was lost and its provider cannot be asked: check it by hand");
                    report.refunds_unresolved += 1;
                }
                Err(err) => {
                    tracing::warn!(refund = %refund.id, error = %err, "reconciliation could not finish a refund")
                }
            }
        }
        Ok(report)
    }

    /// A refund still pending long after it was asked for: the process that asked stopped
    /// before the answer was written. The provider is asked where it stands (and asked to refund
    /// when it never got the request), and the refund is completed or failed as the admin's
    /// request would have. None when the provider cannot say.
    async fn finish_refund(&self, refund: &Refund) -> Result<Option<Settlement>, PaymentsError> {
        let payments = self.settlements.payments();
        if refund.destination == RefundDestination::Wallet {
            return self.settlements.complete_refund(refund, RefundDestination::Wallet).await.map(Some);
        }
        let payment = payments.payment(refund.payment_id).await?;
        let status = match payments.refund_status_at_provider(&payment, refund).await {
            Ok(Some(status)) => Ok(status),
            Ok(None) => payments.refund_at_provider(&payment, refund).await,
            Err(PaymentsError::Gateway(GatewayError::Unsupported(_))) => return Ok(None),
            Err(err) => Err(err),
        };
        let destination = match status {
            Ok(RefundStatus::Succeeded | RefundStatus::Pending) => RefundDestination::Source,
            // The method cannot be refunded at its provider (a konbini slip): to the wallet.
            Err(PaymentsError::Gateway(GatewayError::Unsupported(_))) => RefundDestination::Wallet,
            Ok(RefundStatus::Failed) => return self.settlements.fail_refund(refund).await.map(Some),
            Err(err) => return Err(err),
        };
        self.settlements.complete_refund(refund, destination).await.map(Some)
    }
}

/// Runs the job whenever it is due, checking every minute.
pub async fn run(reconciler: Reconciler, interval: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60).min(interval));
    loop {
        tick.tick().await;
        match reconciler.run_if_due(interval).await {
            Ok(Some(report)) if report != Report::default() => tracing::info!(?report, "reconciliation"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "reconciliation failed; will retry"),
        }
    }
}
