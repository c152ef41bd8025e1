//! Wallet: minimal settlement of payouts; the wallet module replaces this at merge.
//!
//! Settling a payout records the gateway's event id and moves the payout in one transaction,
//! so a repeated event or a concurrent duplicate applies once. The ledger effects of a
//! withdrawal (a failed payout hands its reserved funds back) belong to the full wallet.

use crate::db::Db;
use crate::events;
use crate::http::error::ApiError;
use crate::ids::PayoutId;
use crate::payments::{Payments, PaymentsError, PayoutStatus, ProviderPayoutStatus};

/// What settling a payout's outcome did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    Applied,
    /// The gateway event was applied before, or the outcome changes nothing.
    NoChange,
}

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Payments(#[from] PaymentsError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<WalletError> for ApiError {
    fn from(err: WalletError) -> Self {
        match err {
            WalletError::Payments(e) => e.into(),
            WalletError::Database(e) => e.into(),
        }
    }
}

/// Users' balances; here only the settlement of their withdrawals' payouts.
#[derive(Clone)]
pub struct Wallet {
    db: Db,
    payments: Payments,
}

impl Wallet {
    pub fn new(db: Db, payments: Payments) -> Self {
        Self { db, payments }
    }

    /// Applies the gateway's status to a payout, once per gateway event (`event` is the
    /// provider and event id; `None` when reconciliation asked the gateway itself).
    pub async fn settle_withdrawal(
        &self,
        payout: PayoutId,
        status: ProviderPayoutStatus,
        event: Option<(&str, &str)>,
    ) -> Result<Settlement, WalletError> {
        let mut tx = self.db.begin().await?;
        if let Some((provider, event_id)) = event {
            if !self.payments.first_payout_sighting(&mut tx, provider, event_id, payout).await? {
                return Ok(Settlement::NoChange);
            }
        }
        let current = self.payments.payout_in(&mut tx, payout).await?;
        let actor = match event {
            Some((provider, _)) => format!("gateway:{provider}"),
            None => events::SYSTEM.to_owned(),
        };
        let moved = match status {
            ProviderPayoutStatus::Succeeded => {
                self.payments.transition_payout(&mut tx, &current, PayoutStatus::Succeeded, &actor).await?
            }
            ProviderPayoutStatus::Failed => {
                self.payments.transition_payout(&mut tx, &current, PayoutStatus::Failed, &actor).await?
            }
            ProviderPayoutStatus::Pending => false,
        };
        tx.commit().await?;
        Ok(if moved { Settlement::Applied } else { Settlement::NoChange })
    }
}
