//! Inventory's types and pure rules.

use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{ReservationId, StockMovementId, VariantId};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockLevel {
    pub variant_id: VariantId,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// `stock.low` fires when available stock drops below this.
    pub low_stock_threshold: i64,
    pub is_digital: bool,
}

impl StockLevel {
    pub fn new(variant_id: VariantId, on_hand: i64, reserved: i64, threshold: i64, is_digital: bool) -> Self {
        Self {
            variant_id,
            on_hand,
            reserved,
            available: on_hand - reserved,
            low_stock_threshold: threshold,
            is_digital,
        }
    }
}

/// Why stock on hand changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// An admin counted, received or wrote off stock.
    Adjustment,
    /// Digital items were added.
    DigitalItemsAdded,
    /// A paid order took the stock.
    Sale,
    /// A cancelled paid order put physical stock back.
    Restock,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adjustment => "adjustment",
            Self::DigitalItemsAdded => "digital_items_added",
            Self::Sale => "sale",
            Self::Restock => "restock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Adjustment, Self::DigitalItemsAdded, Self::Sale, Self::Restock]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StockMovement {
    pub id: StockMovementId,
    pub delta: i64,
    pub kind: MovementKind,
    pub reason: String,
    /// The order or other record the movement belongs to.
    pub reference: Option<String>,
    pub actor: String,
    pub on_hand_after: i64,
    pub created_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    Committed,
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Held, Self::Committed, Self::Released].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reservation {
    pub id: ReservationId,
    pub holder: String,
    pub variant_id: VariantId,
    pub quantity: i64,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
}

/// Whether a change of available stock from `before` to `after` crosses below the threshold,
/// so `stock.low` fires once per crossing rather than on every sale below it.
pub fn crosses_low_threshold(before: i64, after: i64, threshold: i64) -> bool {
    threshold > 0 && before >= threshold && after < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn low_stock_fires_on_the_crossing_only() {
        assert!(crosses_low_threshold(5, 4, 5));
        assert!(!crosses_low_threshold(4, 3, 5), "already below");
        assert!(!crosses_low_threshold(10, 5, 5), "not below yet");
        assert!(!crosses_low_threshold(1, 0, 0), "no threshold set");
    }

    proptest! {
        #[test]
        fn a_sequence_of_changes_fires_once_per_downward_crossing(changes in proptest::collection::vec(-5i64..5, 1..50), threshold in 1i64..20) {
            let mut level = 30i64;
            let mut fired = 0;
            let mut crossings = 0;
            for change in changes {
                let next = (level + change).max(0);
                if crosses_low_threshold(level, next, threshold) { fired += 1; }
                if level >= threshold && next < threshold { crossings += 1; }
                level = next;
            }
            prop_assert_eq!(fired, crossings);
        }
    }
}
