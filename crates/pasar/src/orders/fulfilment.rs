//! A fulfilment is one store's part of an order: the lines that store packs and ships, with
//! their own status, tracking and timeline. An order from one shop has one; a marketplace
//! order has one per store. Pure rules only: who may move a fulfilment where, what an order's
//! own move does to its fulfilments, and what the fulfilments' progress makes of the order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::OrderStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    AwaitingPayment,
    /// Paid: the store has it to pack.
    Paid,
    Packed,
    Shipped,
    Delivered,
    /// Not sent: the order ended unpaid, or the store cancelled its part before shipping
    /// (refunded).
    Cancelled,
}

impl FulfilmentStatus {
    pub const ALL: [FulfilmentStatus; 6] =
        [Self::AwaitingPayment, Self::Paid, Self::Packed, Self::Shipped, Self::Delivered, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Packed => "packed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for FulfilmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a fulfilment cannot go from {from} to {to}")]
pub struct FulfilmentRefused {
    pub from: FulfilmentStatus,
    pub to: FulfilmentStatus,
}

/// The moves a store (or staff on its behalf) makes on its part: pack, ship, deliver, or
/// cancel before it ships.
pub fn check_fulfilment_move(from: FulfilmentStatus, to: FulfilmentStatus) -> Result<(), FulfilmentRefused> {
    use FulfilmentStatus::*;
    match (from, to) {
        (Paid, Packed) | (Paid | Packed, Shipped) | (Shipped, Delivered) | (Paid | Packed, Cancelled) => {
            Ok(())
        }
        _ => Err(FulfilmentRefused { from, to }),
    }
}

/// What an order's own move does to its fulfilments: the statuses it moves from, and where to.
/// An order moved as a whole (paid, an admin shipping it, it expiring) moves every part that
/// is behind it; parts already further along stay where they are.
pub fn follows_order(to: OrderStatus) -> Option<(&'static [FulfilmentStatus], FulfilmentStatus)> {
    use FulfilmentStatus as F;
    match to {
        OrderStatus::Paid => Some((&[F::AwaitingPayment, F::Cancelled], F::Paid)),
        OrderStatus::Processing => Some((&[F::Paid], F::Packed)),
        OrderStatus::Shipped => Some((&[F::Paid, F::Packed], F::Shipped)),
        OrderStatus::Delivered => Some((&[F::Paid, F::Packed, F::Shipped], F::Delivered)),
        OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded => {
            Some((&[F::AwaitingPayment, F::Paid, F::Packed], F::Cancelled))
        }
        OrderStatus::PendingPayment | OrderStatus::Completed | OrderStatus::PartiallyRefunded => None,
    }
}

/// The steps an order takes after its parts moved: it is processing once any part is packed
/// or sent, shipped once every part still going is on its way, delivered once every part still
/// going has arrived. Never backwards; nothing when every part was cancelled (the refund of
/// the last one decides the order).
pub fn order_steps(current: OrderStatus, parts: &[FulfilmentStatus]) -> Vec<OrderStatus> {
    use FulfilmentStatus as F;
    const PATH: [OrderStatus; 4] =
        [OrderStatus::Paid, OrderStatus::Processing, OrderStatus::Shipped, OrderStatus::Delivered];
    let Some(from) = PATH.iter().position(|s| *s == current) else { return Vec::new() };
    let going: Vec<F> = parts.iter().copied().filter(|p| *p != F::Cancelled).collect();
    if going.is_empty() {
        return Vec::new();
    }
    let target = if going.iter().all(|p| *p == F::Delivered) {
        3
    } else if going.iter().all(|p| matches!(p, F::Shipped | F::Delivered)) {
        2
    } else if going.iter().any(|p| matches!(p, F::Packed | F::Shipped | F::Delivered)) {
        1
    } else {
        0
    };
    PATH[from + 1..=target.max(from)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::FulfilmentStatus as F;
    use super::*;
    use crate::orders::domain::{Mover, check_transition};

    #[test]
    fn a_store_packs_ships_and_delivers_its_part_or_cancels_it_before_it_ships() {
        assert!(check_fulfilment_move(F::Paid, F::Packed).is_ok());
        assert!(check_fulfilment_move(F::Paid, F::Shipped).is_ok());
        assert!(check_fulfilment_move(F::Packed, F::Shipped).is_ok());
        assert!(check_fulfilment_move(F::Shipped, F::Delivered).is_ok());
        assert!(check_fulfilment_move(F::Packed, F::Cancelled).is_ok());
        assert!(check_fulfilment_move(F::Shipped, F::Cancelled).is_err());
        assert!(check_fulfilment_move(F::AwaitingPayment, F::Packed).is_err());
        assert!(check_fulfilment_move(F::Delivered, F::Shipped).is_err());
        assert!(check_fulfilment_move(F::Cancelled, F::Paid).is_err());
    }

    #[test]
    fn an_order_follows_its_slowest_part_still_going() {
        use OrderStatus::*;
        assert_eq!(order_steps(Paid, &[F::Packed, F::Paid]), vec![Processing]);
        assert_eq!(order_steps(Processing, &[F::Shipped, F::Packed]), Vec::<OrderStatus>::new());
        assert_eq!(order_steps(Paid, &[F::Shipped, F::Shipped]), vec![Processing, Shipped]);
        assert_eq!(order_steps(Shipped, &[F::Delivered, F::Shipped]), Vec::<OrderStatus>::new());
        assert_eq!(order_steps(Shipped, &[F::Delivered, F::Delivered]), vec![Delivered]);
        assert_eq!(order_steps(Processing, &[F::Delivered, F::Cancelled]), vec![Shipped, Delivered]);
        assert_eq!(order_steps(Paid, &[F::Cancelled, F::Cancelled]), Vec::<OrderStatus>::new());
        assert_eq!(order_steps(Delivered, &[F::Shipped]), Vec::<OrderStatus>::new());
        assert_eq!(order_steps(Refunded, &[F::Delivered]), Vec::<OrderStatus>::new());
    }

    #[test]
    fn every_step_an_order_takes_after_its_parts_is_one_the_order_machine_allows_pasar() {
        use proptest::prelude::*;
        let status = prop::sample::select(F::ALL.to_vec());
        proptest!(|(parts in prop::collection::vec(status, 1..5), start in 0usize..4)| {
            let current = [OrderStatus::Paid, OrderStatus::Processing, OrderStatus::Shipped, OrderStatus::Delivered][start];
            let mut at = current;
            for step in order_steps(current, &parts) {
                prop_assert!(check_transition(at, step, Mover::System).is_ok(), "{at} -> {step}");
                at = step;
            }
        });
    }
}
