//! Orders' types and the order state machine, a pure function tested on its own.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::addresses::{CountryCode, Phone};
use crate::identity::domain::Text;
use crate::ids::{DeliverySlotId, UserId, VoucherId};
use crate::money::Money;
use crate::promotions::Funder;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Processing,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Expired,
    /// Part of the payment was given back; the order goes on (or was already done).
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 10] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Processing,
        Self::Shipped,
        Self::Delivered,
        Self::Completed,
        Self::Cancelled,
        Self::Expired,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Processing => "processing",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No transition leaves these, except a late payment reviving an expired or cancelled order.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Expired | Self::Refunded)
    }
}

/// Who is moving an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mover {
    /// The buyer, acting on their own order.
    Buyer,
    /// An admin.
    Staff,
    /// Pasar itself on a payment outcome or a deadline.
    System,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {from} to {to}{}", if *by_whom { " by this caller" } else { "" })]
pub struct TransitionRefused {
    pub from: &'static str,
    pub to: &'static str,
    /// True when the move exists but this caller may not make it.
    pub by_whom: bool,
}

/// The order lifecycle: pending_payment → paid → processing → shipped → delivered →
/// completed, plus cancelled, expired and refunded. Returns who may make a move, or refuses.
pub fn check_transition(from: OrderStatus, to: OrderStatus, mover: Mover) -> Result<(), TransitionRefused> {
    use Mover::*;
    use OrderStatus::*;
    let allowed: &[Mover] = match (from, to) {
        (PendingPayment, Paid) => &[System],
        (PendingPayment, Expired) => &[System],
        (PendingPayment, Cancelled) => &[Buyer, Staff, System],
        // Money that lands after the deadline or a cancellation revives the order when stock
        // allows (otherwise the order is flagged for a refund and stays where it is).
        (Expired | Cancelled, Paid) => &[System],
        // Digital goods are delivered the moment payment is confirmed; physical goods ship first.
        (Paid, Delivered) => &[System],
        // Staff move a whole order; Pasar moves it after its stores' parts (fulfilments).
        (Paid, Processing) => &[Staff, System],
        (Processing, Shipped) => &[Staff, System],
        (Paid | Processing, Refunded) => &[Staff, System],
        // An admin's refund, whole or in part, of an order that was paid (returns come after
        // delivery too); each further part is a step of its own in the timeline.
        (
            Paid | Processing | Shipped | Delivered | Completed | PartiallyRefunded,
            PartiallyRefunded | Refunded,
        ) => &[Staff],
        (Shipped, Delivered) => &[Staff, System],
        (Delivered, Completed) => &[Staff, System],
        _ => &[],
    };
    if allowed.contains(&mover) {
        Ok(())
    } else {
        Err(TransitionRefused { from: from.as_str(), to: to.as_str(), by_whom: !allowed.is_empty() })
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A voucher an order got: what it took off, and who funds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderVoucher {
    pub voucher_id: VoucherId,
    pub code: String,
    pub funder: Funder,
    /// The store that funds it (its seller's user id), for a store's voucher.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<UserId>,
    pub amount: Money,
}

/// Where a physical order goes, as the buyer gives it at checkout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: Text<100>,
    pub phone: Phone,
    pub line1: Text<200>,
    pub line2: Option<Text<200>>,
    pub city: Text<100>,
    pub region: Option<Text<100>>,
    pub postal_code: Text<20>,
    pub country: CountryCode,
    /// Where the address is on the map, for delivery zones drawn as areas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<crate::shipping::Coordinates>,
}

/// The delivery slot an order is brought in (zones with delivery slots), booked at checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookedSlot {
    pub id: DeliverySlotId,
    pub start: Timestamp,
    pub end: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        (0usize..OrderStatus::ALL.len()).prop_map(|i| OrderStatus::ALL[i])
    }

    fn any_mover() -> impl Strategy<Value = Mover> {
        prop_oneof![Just(Mover::Buyer), Just(Mover::Staff), Just(Mover::System)]
    }

    /// The lifecycle's order, to check that moves only go forward.
    fn rank(status: OrderStatus) -> u8 {
        match status {
            OrderStatus::PendingPayment => 0,
            OrderStatus::Paid => 1,
            OrderStatus::Processing => 2,
            OrderStatus::Shipped => 3,
            OrderStatus::Delivered => 4,
            OrderStatus::Completed | OrderStatus::Cancelled => 5,
            OrderStatus::PartiallyRefunded => 6,
            OrderStatus::Refunded => 7,
            OrderStatus::Expired => 1,
        }
    }

    #[test]
    fn the_happy_path_is_allowed_to_the_right_movers() {
        use OrderStatus::*;
        assert!(check_transition(PendingPayment, Paid, Mover::System).is_ok());
        assert!(check_transition(PendingPayment, Paid, Mover::Staff).is_err(), "only a payment pays");
        assert!(check_transition(Paid, Processing, Mover::Staff).is_ok());
        assert!(check_transition(Processing, Shipped, Mover::Staff).is_ok());
        assert!(check_transition(Shipped, Delivered, Mover::Staff).is_ok());
        assert!(check_transition(Delivered, Completed, Mover::Staff).is_ok());
    }

    #[test]
    fn a_buyer_cancels_only_an_unpaid_order() {
        use OrderStatus::*;
        assert!(check_transition(PendingPayment, Cancelled, Mover::Buyer).is_ok());
        assert!(check_transition(Paid, Cancelled, Mover::Buyer).is_err());
        assert!(check_transition(Paid, Refunded, Mover::Buyer).is_err());
    }

    proptest! {
        #[test]
        fn orders_never_move_backwards(from in any_status(), to in any_status(), mover in any_mover()) {
            if check_transition(from, to, mover).is_ok() {
                let revived = matches!(from, OrderStatus::Expired | OrderStatus::Cancelled) && to == OrderStatus::Paid;
                let another_part = from == OrderStatus::PartiallyRefunded && to == from;
                prop_assert!(rank(to) > rank(from) || revived || another_part);
            }
        }

        #[test]
        fn terminal_orders_stay_terminal_except_a_late_payment_or_a_refund(from in any_status(), to in any_status(), mover in any_mover()) {
            if from.is_terminal() && check_transition(from, to, mover).is_ok() {
                let late_payment = matches!(from, OrderStatus::Expired | OrderStatus::Cancelled)
                    && (to, mover) == (OrderStatus::Paid, Mover::System);
                let refund_of_completed = from == OrderStatus::Completed
                    && matches!(to, OrderStatus::PartiallyRefunded | OrderStatus::Refunded)
                    && mover == Mover::Staff;
                prop_assert!(late_payment || refund_of_completed, "{from} -> {to} by {mover:?}");
            }
        }

        #[test]
        fn a_status_round_trips_through_its_name(status in any_status()) {
            prop_assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
    }
}
