//! Shipments and their tracking events, and the rules on them: which courier statuses mean the
//! parcel arrived or stopped moving, and which events are news. No I/O.

use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{FulfilmentId, OrderId, ShipmentId};
use crate::time::Timestamp;

/// The status a shipment booked by hand starts in (the store handed it to a carrier itself).
pub const HANDED_OVER: &str = "shipped";

/// A parcel on its way: one part of an order, handed to a courier, with what the courier has
/// said about it since.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Shipment {
    pub id: ShipmentId,
    pub order_id: OrderId,
    /// The part of the order it carries.
    pub fulfilment_id: FulfilmentId,
    /// `biteship` when Pasar booked the courier; absent when the store shipped it by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The courier company (`jne`, `sicepat`), or the carrier named by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub courier: Option<String>,
    /// The courier's service (`reg`, `yes`), when Pasar booked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The waybill number the courier tracks it by.
    pub tracking_number: String,
    /// Where the courier shows its own tracking page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    /// The shipping label to print, when the courier gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_url: Option<String>,
    /// The courier's latest status (Biteship's vocabulary: `confirmed`, `picked`,
    /// `dropping_off`, `delivered`…; `shipped` for a parcel shipped by hand).
    pub status: String,
    /// Oldest first.
    pub events: Vec<TrackingEvent>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The courier's ids of it (its order and its tracking), kept for its calls and webhooks.
    #[serde(skip)]
    pub provider_ref: Option<String>,
    #[serde(skip)]
    pub tracking_ref: Option<String>,
}

/// One thing the courier said about a parcel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrackingEvent {
    pub status: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub occurred_at: Timestamp,
}

/// Whether the courier says the parcel reached its receiver.
pub fn is_delivered(status: &str) -> bool {
    status == "delivered"
}

/// Whether a parcel in `status` will move no more, so there is nothing left to poll for.
pub fn is_settled(status: &str) -> bool {
    matches!(status, "delivered" | "cancelled" | "rejected" | "returned" | "disposed" | "courier_not_found")
}

/// The events of `incoming` that are news for a shipment that already has `known`, oldest
/// first. An event is known when the shipment already went through its status: couriers and
/// webhooks repeat a status (each retry, each poll of the whole history), and a parcel does not
/// pass the same step twice in Biteship's flow. Repeats within `incoming` count once.
pub fn news(known: &[TrackingEvent], incoming: Vec<TrackingEvent>) -> Vec<TrackingEvent> {
    let mut incoming = incoming;
    incoming.sort_by_key(|e| e.occurred_at);
    let mut seen: Vec<String> = known.iter().map(|e| e.status.clone()).collect();
    let mut fresh = Vec::new();
    for event in incoming {
        if !seen.contains(&event.status) {
            seen.push(event.status.clone());
            fresh.push(event);
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: &str, at: i64) -> TrackingEvent {
        TrackingEvent {
            status: status.into(),
            description: format!("{status} at {at}"),
            location: None,
            occurred_at: Timestamp::from_millis(at),
        }
    }

    #[test]
    fn a_status_already_in_the_timeline_is_no_news() {
        let known = vec![event("confirmed", 1), event("picked", 2)];
        let fresh = news(&known, vec![event("picked", 5), event("dropping_off", 3), event("confirmed", 9)]);
        assert_eq!(fresh, vec![event("dropping_off", 3)]);
    }

    #[test]
    fn the_whole_history_polled_twice_adds_its_events_once_in_order() {
        let history = vec![event("delivered", 30), event("confirmed", 10), event("picked", 20)];
        let first = news(&[], history.clone());
        assert_eq!(first, vec![event("confirmed", 10), event("picked", 20), event("delivered", 30)]);
        assert!(news(&first, history).is_empty());
        assert_eq!(news(&[], vec![event("picked", 1), event("picked", 2)]).len(), 1);
    }

    #[test]
    fn only_a_parcel_that_arrived_or_stopped_moving_is_left_unpolled() {
        assert!(is_delivered("delivered"));
        assert!(!is_delivered("dropping_off"));
        for status in ["delivered", "cancelled", "returned"] {
            assert!(is_settled(status), "{status}");
        }
        for status in ["confirmed", "picked", "on_hold", HANDED_OVER] {
            assert!(!is_settled(status), "{status}");
        }
    }
}
