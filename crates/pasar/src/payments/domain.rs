//! Payments' types and pure rules: the payment state machine and fee rules.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::PaymentId;
use crate::money::{Money, MoneyError};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Expired,
    /// The buyer or an admin called it off before paying.
    Cancelled,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] =
        [Self::Pending, Self::Succeeded, Self::Failed, Self::Expired, Self::Cancelled, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a payment may move from `self` to `to`. Payments only move forward; the one
    /// way out of `expired`, `failed` or `cancelled` is money that arrived anyway (the gateway
    /// says the payment succeeded), which must be recorded, never dropped.
    pub fn can_become(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Succeeded | Failed | Expired | Cancelled)
                | (Expired | Failed | Cancelled, Succeeded)
                | (Succeeded, Refunded)
        )
    }
}

/// What a payment pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentPurpose {
    Order,
    /// Money added to the payer's wallet.
    Deposit,
}

impl PaymentPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Deposit => "deposit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Order, Self::Deposit].into_iter().find(|p| p.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub purpose: PaymentPurpose,
    /// The order (or other record) being paid.
    pub reference: String,
    pub provider: String,
    pub status: PaymentStatus,
    /// What is owed, before the gateway's fee.
    pub amount: Money,
    /// The gateway's fee, shown to the buyer before paying.
    pub fee: Money,
    /// What the buyer pays: amount plus fee.
    pub total: Money,
    /// Where the buyer pays (a hosted page), once the gateway has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub payer_id: String,
    #[serde(skip)]
    pub provider_ref: Option<String>,
}

/// A gateway's fee: a share in basis points, rounded up, plus a fixed amount in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeRule {
    pub basis_points: i64,
    pub fixed_minor: i64,
}

impl FeeRule {
    /// Pakasir QRIS: 0.7% + Rp 310, rounded up (seed 000).
    pub const PAKASIR_QRIS: FeeRule = FeeRule { basis_points: 70, fixed_minor: 310 };

    pub fn fee_for(self, amount: Money) -> Result<Money, MoneyError> {
        amount.share_rounded_up(self.basis_points)?.checked_add(Money::new(self.fixed_minor, amount.currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    #[test]
    fn the_pakasir_fee_is_seven_tenths_of_a_percent_plus_310_rounded_up() {
        let fee = FeeRule::PAKASIR_QRIS.fee_for(Money::new(150_000, Currency::IDR)).unwrap();
        assert_eq!(fee.amount, 1_050 + 310);
        let odd = FeeRule::PAKASIR_QRIS.fee_for(Money::new(10_001, Currency::IDR)).unwrap();
        assert_eq!(odd.amount, 71 + 310);
    }

    fn any_status() -> impl Strategy<Value = PaymentStatus> {
        (0usize..6).prop_map(|i| PaymentStatus::ALL[i])
    }

    proptest! {
        #[test]
        fn no_sequence_of_updates_takes_a_payment_back_to_pending(updates in proptest::collection::vec(any_status(), 0..20)) {
            let mut status = PaymentStatus::Pending;
            let mut left_pending = false;
            for update in updates {
                if status.can_become(update) {
                    status = update;
                    left_pending = true;
                }
                if left_pending {
                    prop_assert_ne!(status, PaymentStatus::Pending);
                }
            }
        }

        #[test]
        fn a_refunded_payment_never_moves_and_a_failed_one_only_to_succeeded(to in any_status()) {
            prop_assert!(!PaymentStatus::Refunded.can_become(to));
            prop_assert_eq!(PaymentStatus::Failed.can_become(to), to == PaymentStatus::Succeeded);
        }
    }
}
