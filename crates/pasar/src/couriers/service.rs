//! Couriers' use cases: booking a courier for a part of an order, recording a parcel shipped by
//! hand, and keeping each shipment's timeline from the courier's webhooks and from polling.
//! A courier's "delivered" delivers the part through the orders module, which moves the order
//! (and emits `order.delivered`) once it was the last part on its way.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use super::courier::{
    Courier, CourierError, CourierUpdate, Parcel, Party, Rate, RateRequest, ShipmentRequest,
};
use super::domain::{HANDED_OVER, Shipment, TrackingEvent, is_delivered, is_settled, news};
use super::store;
use crate::catalog::{Catalog, CatalogError, ProductKind};
use crate::db::{Connection, Db};
use crate::ids::{FulfilmentId, OrderId, ShipmentId};
use crate::money::Money;
use crate::orders::fulfilment::check_fulfilment_move;
use crate::orders::{Fulfilment, FulfilmentStatus, Order, Orders, OrdersError};
use crate::time::Clock;

/// Shipments asked about per polling round.
const POLL_BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum CouriersError {
    #[error("no courier service is configured")]
    NotConfigured,
    #[error("the order has no shipping address to send it to")]
    NoAddress,
    #[error("no address to pick the parcel up from: send `origin` or configure the shop's")]
    NoOrigin,
    #[error("the weight of {0} is unknown: send `weight_grams`")]
    WeightUnknown(String),
    #[error("this part has nothing to ship")]
    NothingToShip,
    #[error(transparent)]
    Courier(#[from] CourierError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a store or an admin asks of the courier for a part.
#[derive(Clone, Debug)]
pub struct Booking {
    pub courier: String,
    pub service: String,
    /// Where the courier picks it up; the shop's configured address when absent.
    pub origin: Option<Party>,
    /// The whole parcel's weight, when the products' weights are not known or not right.
    pub weight_grams: Option<u32>,
}

#[derive(Clone)]
pub struct Couriers {
    db: Db,
    clock: Clock,
    orders: Orders,
    catalog: Catalog,
    courier: Option<Arc<dyn Courier>>,
    origin: Option<Party>,
    poll_every: Duration,
}

impl Couriers {
    pub fn new(
        db: Db,
        clock: Clock,
        orders: Orders,
        catalog: Catalog,
        courier: Option<Arc<dyn Courier>>,
        origin: Option<Party>,
        poll_every: Duration,
    ) -> Self {
        Self { db, clock, orders, catalog, courier, origin, poll_every }
    }

    /// The configured courier service named `name`.
    fn courier_named(&self, name: &str) -> Result<&Arc<dyn Courier>, CouriersError> {
        self.courier.as_ref().filter(|c| c.name() == name).ok_or(CouriersError::NotConfigured)
    }

    fn courier(&self) -> Result<&Arc<dyn Courier>, CouriersError> {
        self.courier.as_ref().ok_or(CouriersError::NotConfigured)
    }

    /// The goods of `part` as parcels the courier weighs: physical lines only.
    async fn parcels(
        &self,
        order: &Order,
        part: &Fulfilment,
        weight_grams: Option<u32>,
    ) -> Result<Vec<Parcel>, CouriersError> {
        let lines: Vec<_> = order.lines_of(part).filter(|l| l.kind == ProductKind::Physical).collect();
        if lines.is_empty() {
            return Err(CouriersError::NothingToShip);
        }
        if let Some(weight_grams) = weight_grams {
            let value = Money::sum(lines.iter().map(|l| l.line_total)).map_err(OrdersError::from)?;
            return Ok(vec![Parcel {
                name: format!("Order {}", order.id),
                value: value.unwrap_or(Money::zero(order.total.currency)),
                quantity: 1,
                weight_grams,
            }]);
        }
        let ids: Vec<_> = lines.iter().map(|l| l.variant_id).collect();
        let variants = self.catalog.variants_for_sale(&ids).await?;
        lines
            .iter()
            .map(|line| {
                let weight = variants.iter().find(|v| v.id == line.variant_id).and_then(|v| v.weight_grams);
                Ok(Parcel {
                    name: line.product_name.clone(),
                    value: line.unit_price,
                    quantity: line.quantity,
                    weight_grams: weight.ok_or_else(|| CouriersError::WeightUnknown(line.sku.clone()))?,
                })
            })
            .collect()
    }

    fn destination(order: &Order) -> Result<Party, CouriersError> {
        let address = order.shipping_address.as_ref().ok_or(CouriersError::NoAddress)?;
        let street = [
            Some(address.line1.as_str()),
            address.line2.as_ref().map(|l| l.as_str()),
            Some(address.city.as_str()),
            address.region.as_ref().map(|r| r.as_str()),
        ];
        Ok(Party {
            name: address.name.as_str().to_owned(),
            phone: String::from(address.phone.clone()),
            address: street.into_iter().flatten().collect::<Vec<_>>().join(", "),
            postal_code: address.postal_code.as_str().to_owned(),
        })
    }

    /// What the configured courier service would charge for sending `part`.
    #[tracing::instrument(skip_all, fields(part = %part))]
    pub async fn rates(
        &self,
        part: FulfilmentId,
        origin: Option<&str>,
        weight_grams: Option<u32>,
    ) -> Result<Vec<Rate>, CouriersError> {
        let courier = self.courier()?;
        let (order, part) = self.orders.fulfilment(part).await?;
        let origin_postal_code = origin
            .map(str::to_owned)
            .or_else(|| self.origin.as_ref().map(|o| o.postal_code.clone()))
            .ok_or(CouriersError::NoOrigin)?;
        let request = RateRequest {
            origin_postal_code,
            destination_postal_code: Self::destination(&order)?.postal_code,
            items: self.parcels(&order, &part, weight_grams).await?,
        };
        Ok(courier.rates(&request).await?)
    }

    /// Books the courier for a paid part and marks it shipped with the courier's waybill. The
    /// courier failing changes nothing; a booking Pasar then cannot record is called off.
    #[tracing::instrument(skip_all, fields(part = %part))]
    pub async fn book(
        &self,
        provider: &str,
        part: FulfilmentId,
        booking: Booking,
        actor: &str,
    ) -> Result<Shipment, CouriersError> {
        let courier = self.courier_named(provider)?;
        let (order, part) = self.orders.fulfilment(part).await?;
        check_fulfilment_move(part.status, FulfilmentStatus::Shipped).map_err(OrdersError::from)?;
        let request = ShipmentRequest {
            reference: order.id.to_string(),
            courier: booking.courier.clone(),
            service: booking.service.clone(),
            origin: booking.origin.or_else(|| self.origin.clone()).ok_or(CouriersError::NoOrigin)?,
            destination: Self::destination(&order)?,
            items: self.parcels(&order, &part, booking.weight_grams).await?,
        };
        let booked = courier.create_shipment(&request).await?;
        let now = self.clock.now();
        let shipment = Shipment {
            id: ShipmentId::new(),
            order_id: order.id,
            fulfilment_id: part.id,
            provider: Some(courier.name().to_owned()),
            courier: Some(booking.courier),
            service: Some(booking.service),
            tracking_number: booked.waybill.clone(),
            tracking_url: booked.tracking_url.clone(),
            label_url: booked.label_url.clone(),
            status: booked.status.clone(),
            events: vec![TrackingEvent {
                status: booked.status.clone(),
                description: format!("Booked with {} for pickup.", courier.name()),
                location: None,
                occurred_at: now,
            }],
            created_at: now,
            updated_at: now,
            provider_ref: Some(booked.provider_ref.clone()),
            tracking_ref: booked.tracking_ref.clone(),
        };
        if let Err(err) = self.record_booking(&shipment, actor).await {
            if let Err(cancel) = courier.cancel(&booked.provider_ref).await {
                tracing::error!(error = %cancel, provider_ref = %booked.provider_ref,
                    "a courier booking Pasar could not record could not be called off either; cancel it by hand");
            }
            return Err(err);
        }
        Ok(shipment)
    }

    async fn record_booking(&self, shipment: &Shipment, actor: &str) -> Result<(), CouriersError> {
        let mut tx = self.db.begin().await?;
        store::insert_shipment(&mut tx, shipment).await?;
        store::insert_event(&mut tx, shipment.id, &shipment.events[0], shipment.created_at).await?;
        let note = format!("booked with {}", shipment.provider.as_deref().unwrap_or_default());
        self.orders
            .move_fulfilment(
                &mut tx,
                shipment.fulfilment_id,
                FulfilmentStatus::Shipped,
                actor,
                Some((shipment.tracking_number.as_str(), shipment.courier.as_deref())),
                Some(&note),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a part shipped by hand with `tracking_number`, in the caller's transaction (the
    /// one that moves the part to shipped).
    pub async fn record_by_hand(
        &self,
        conn: &mut Connection,
        order: OrderId,
        part: FulfilmentId,
        tracking_number: &str,
        carrier: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let event = TrackingEvent {
            status: HANDED_OVER.to_owned(),
            description: match carrier {
                Some(carrier) => format!("Handed to {carrier}."),
                None => "Handed to the carrier.".to_owned(),
            },
            location: None,
            occurred_at: now,
        };
        let shipment = Shipment {
            id: ShipmentId::new(),
            order_id: order,
            fulfilment_id: part,
            provider: None,
            courier: carrier.map(str::to_owned),
            service: None,
            tracking_number: tracking_number.to_owned(),
            tracking_url: None,
            label_url: None,
            status: HANDED_OVER.to_owned(),
            events: Vec::new(),
            created_at: now,
            updated_at: now,
            provider_ref: None,
            tracking_ref: None,
        };
        store::insert_shipment(conn, &shipment).await?;
        store::insert_event(conn, shipment.id, &event, now).await?;
        Ok(())
    }

    /// Records, for each part of `order` that is shipped with no shipment yet, a shipment by
    /// hand under the order's tracking number (an admin shipping a whole order at once).
    pub async fn record_order_by_hand(
        &self,
        order: &Order,
        tracking_number: &str,
    ) -> Result<(), CouriersError> {
        let mut tx = self.db.begin().await?;
        for part in order.fulfilments.iter().filter(|p| p.status == FulfilmentStatus::Shipped) {
            if !store::has_shipment(&mut *tx, part.id).await? {
                self.record_by_hand(&mut tx, order.id, part.id, tracking_number, part.carrier.as_deref())
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads a webhook of courier service `provider` and applies it; answers whether it
    /// added anything.
    #[tracing::instrument(skip_all, fields(provider))]
    pub async fn receive_webhook(
        &self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<bool, CouriersError> {
        let courier = self.courier_named(provider)?;
        match courier.verify_webhook(headers, body, self.clock.now())? {
            CourierUpdate::Ignored => Ok(false),
            CourierUpdate::Status { provider_ref, waybill, event } => {
                let Some(id) = store::by_provider_ref(self.db.reader(), provider, &provider_ref).await?
                else {
                    // Bookings made elsewhere (the courier's own dashboard) share the account.
                    tracing::info!(provider_ref, "a courier webhook about a booking Pasar did not make");
                    return Ok(false);
                };
                Ok(self.apply(id, waybill.as_deref(), vec![event], false).await? > 0)
            }
        }
    }

    /// Asks the courier about every booked shipment still moving that it was not asked about
    /// for the polling interval (webhooks get lost); answers how many events that added.
    #[tracing::instrument(skip_all)]
    pub async fn poll(&self) -> Result<usize, CouriersError> {
        let Some(courier) = &self.courier else { return Ok(0) };
        let due = store::due_for_polling(
            self.db.reader(),
            courier.name(),
            self.clock.now().minus(self.poll_every),
            POLL_BATCH,
        )
        .await?;
        let mut added = 0;
        for id in due {
            let Some(shipment) = store::shipment(self.db.reader(), id).await? else { continue };
            let Some(provider_ref) = shipment.provider_ref.as_deref() else { continue };
            match courier.track(provider_ref, shipment.tracking_ref.as_deref()).await {
                Ok(tracked) => {
                    added += self.apply(id, tracked.waybill.as_deref(), tracked.history, true).await?
                }
                Err(err) => {
                    tracing::warn!(error = %err, shipment = %id, "tracking a shipment failed; will retry")
                }
            }
        }
        Ok(added)
    }

    /// Adds the events that are news to shipment `id`'s timeline, and delivers its part when
    /// the courier says it arrived. One transaction, with the shipment's row locked, so a
    /// webhook and a poll racing apply one after the other.
    async fn apply(
        &self,
        id: ShipmentId,
        waybill: Option<&str>,
        events: Vec<TrackingEvent>,
        polled: bool,
    ) -> Result<usize, CouriersError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let Some(shipment) = store::shipment_for_update(&mut tx, id).await? else { return Ok(0) };
        let mut added = Vec::new();
        for event in news(&shipment.events, events) {
            if store::insert_event(&mut tx, id, &event, now).await? {
                added.push(event);
            }
        }
        if polled {
            store::mark_polled(&mut *tx, id, now).await?;
        }
        let new_waybill = waybill.filter(|w| *w != shipment.tracking_number);
        if added.is_empty() && new_waybill.is_none() {
            tx.commit().await?;
            return Ok(0);
        }
        let latest = shipment
            .events
            .iter()
            .chain(&added)
            .max_by_key(|e| e.occurred_at)
            .map_or(shipment.status.as_str(), |e| e.status.as_str());
        store::update_status(&mut tx, id, latest, is_settled(latest), new_waybill, now).await?;
        if added.iter().any(|e| is_delivered(&e.status)) {
            let order = self.orders.order_in(&mut tx, shipment.order_id).await?;
            let part = order.fulfilments.iter().find(|p| p.id == shipment.fulfilment_id);
            // Delivered by hand already, or cancelled: the timeline is all there is to update.
            if part.is_some_and(|p| p.status == FulfilmentStatus::Shipped) {
                let actor = format!("courier:{}", shipment.provider.as_deref().unwrap_or("manual"));
                self.orders
                    .move_fulfilment(
                        &mut tx,
                        shipment.fulfilment_id,
                        FulfilmentStatus::Delivered,
                        &actor,
                        None,
                        Some("the courier delivered it"),
                    )
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(added.len())
    }

    /// Every shipment of `order`, oldest first, with its timeline.
    pub async fn for_order(&self, order: OrderId) -> Result<Vec<Shipment>, CouriersError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::for_order(&mut conn, order).await?)
    }
}
