//! Delivery slots' use cases: a zone's setup for admins, the slots offered to a buyer, the
//! checkout's hold (held with the stock, consumed on payment, released with it), and the day's
//! manifest for the drivers.

use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{self, CapacityOverride, Closed, Planned, Rules, ShopTime, Template, TimeOfDay};
use super::store::{self, SlotRow};
use crate::db::{Connection, Db};
use crate::ids::{DeliverySlotId, DeliveryTemplateId, OrderId, ShippingZoneId};
use crate::orders::{BookedSlot, Order, Orders, OrdersError};
use crate::shipping::{Destination, Shipping, ShippingError};
use crate::time::{Clock, Timestamp};

/// The most days ahead slots are offered (and materialised).
pub const MAX_DAYS: u32 = 14;
/// How many free slots a refusal for a full one suggests.
const SUGGESTED: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Invalid(String),
    #[error("delivery_slot_id is required for this address: GET /v1/delivery/slots lists the slots")]
    SlotRequired,
    #[error("the delivery slot cannot be chosen any more: {0}")]
    SlotClosed(String),
    #[error("the delivery slot is full")]
    SlotFull { slot_id: DeliverySlotId, next_slots: Vec<Slot> },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Shipping(#[from] ShippingError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A delivery slot as buyers and drivers see it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Slot {
    pub id: DeliverySlotId,
    pub zone_id: ShippingZoneId,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The start in the shop's time zone, with its offset.
    pub local_start: String,
    pub local_end: String,
    /// The local date the slot is on.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    pub capacity: i64,
    /// Places left: capacity less the orders holding or having one.
    pub remaining: i64,
    /// Whether it can be chosen now (a place is left).
    pub available: bool,
}

/// A zone's delivery setup.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ZoneSetup {
    pub zone_id: ShippingZoneId,
    /// The shop's time zone, which every local time here is in.
    pub time_zone: String,
    pub rules: Rules,
    pub templates: Vec<Template>,
    #[schema(value_type = Vec<String>)]
    pub closed_dates: Vec<Date>,
    pub capacity_overrides: Vec<CapacityOverride>,
}

/// A template as an admin gives it.
#[derive(Clone, Debug)]
pub struct NewTemplate {
    pub weekdays: Vec<u8>,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub capacity: i64,
}

#[derive(Clone)]
pub struct Delivery {
    db: Db,
    clock: Clock,
    shipping: Shipping,
    orders: Orders,
    time: ShopTime,
}

impl Delivery {
    pub fn new(db: Db, clock: Clock, shipping: Shipping, orders: Orders, time: ShopTime) -> Self {
        Self { db, clock, shipping, orders, time }
    }

    pub fn time(&self) -> &ShopTime {
        &self.time
    }

    async fn known_zone(&self, zone: ShippingZoneId) -> Result<(), DeliveryError> {
        if self.shipping.zones().await?.iter().any(|z| z.id == zone) {
            Ok(())
        } else {
            Err(DeliveryError::NotFound)
        }
    }

    // ---- setup ------------------------------------------------------------------------------

    pub async fn setup(&self, zone: ShippingZoneId) -> Result<ZoneSetup, DeliveryError> {
        self.known_zone(zone).await?;
        let mut conn = self.db.reader().acquire().await?;
        Ok(ZoneSetup {
            zone_id: zone,
            time_zone: self.time.name().to_owned(),
            rules: store::rules(&mut *conn, zone).await?,
            templates: store::templates(&mut *conn, zone).await?,
            closed_dates: store::closed_dates(&mut *conn, zone).await?,
            capacity_overrides: store::overrides(&mut *conn, zone).await?,
        })
    }

    pub async fn create_template(
        &self,
        zone: ShippingZoneId,
        new: NewTemplate,
    ) -> Result<Template, DeliveryError> {
        self.known_zone(zone).await?;
        domain::check_template(&new.weekdays, new.start, new.end, new.capacity)
            .map_err(DeliveryError::Invalid)?;
        let mut weekdays = new.weekdays;
        weekdays.sort_unstable();
        weekdays.dedup();
        let template = Template {
            id: DeliveryTemplateId::new(),
            zone_id: zone,
            weekdays,
            start: new.start,
            end: new.end,
            capacity: new.capacity,
        };
        let mut tx = self.db.begin().await?;
        store::insert_template(&mut *tx, &template, self.clock.now()).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// Its slots are offered no more; orders that booked one keep it.
    pub async fn delete_template(
        &self,
        zone: ShippingZoneId,
        id: DeliveryTemplateId,
    ) -> Result<(), DeliveryError> {
        let mut tx = self.db.begin().await?;
        if !store::delete_template(&mut *tx, zone, id).await? {
            return Err(DeliveryError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_rules(&self, zone: ShippingZoneId, rules: Rules) -> Result<Rules, DeliveryError> {
        self.known_zone(zone).await?;
        if !(0..=7 * 24 * 60).contains(&rules.lead_minutes) {
            return Err(DeliveryError::Invalid("lead_minutes is 0 to 10080 (a week)".into()));
        }
        let mut tx = self.db.begin().await?;
        store::set_rules(&mut *tx, zone, &rules, self.clock.now()).await?;
        tx.commit().await?;
        Ok(rules)
    }

    /// No slots are offered on `date`; orders that booked one keep it.
    pub async fn close_date(&self, zone: ShippingZoneId, date: Date) -> Result<(), DeliveryError> {
        self.known_zone(zone).await?;
        let mut tx = self.db.begin().await?;
        store::add_closed_date(&mut *tx, zone, date).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn reopen_date(&self, zone: ShippingZoneId, date: Date) -> Result<(), DeliveryError> {
        let mut tx = self.db.begin().await?;
        if !store::remove_closed_date(&mut *tx, zone, date).await? {
            return Err(DeliveryError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a date's capacity (for one template's slot, or all of the date's); slots already
    /// made for that date take it at once.
    pub async fn set_capacity(
        &self,
        zone: ShippingZoneId,
        capacity: CapacityOverride,
    ) -> Result<CapacityOverride, DeliveryError> {
        self.known_zone(zone).await?;
        if !(0..=10_000).contains(&capacity.capacity) {
            return Err(DeliveryError::Invalid("capacity is 0 to 10000 orders".into()));
        }
        let mut tx = self.db.begin().await?;
        let templates = store::templates(&mut *tx, zone).await?;
        if let Some(id) = capacity.template_id
            && !templates.iter().any(|t| t.id == id)
        {
            return Err(DeliveryError::Invalid(format!("zone {zone} has no template {id}")));
        }
        store::set_override(&mut *tx, zone, &capacity).await?;
        let closed = store::closed_dates(&mut *tx, zone).await?;
        let overrides = store::overrides(&mut *tx, zone).await?;
        let planned = domain::plan(&templates, &self.time, capacity.date, 1, &closed, &overrides);
        self.sync(&mut tx, zone, &planned).await?;
        tx.commit().await?;
        Ok(capacity)
    }

    // ---- buyers -----------------------------------------------------------------------------

    /// The zone's slots a buyer can choose now, on `days` local days from today.
    pub async fn offered(&self, zone: ShippingZoneId, days: u32) -> Result<Vec<Slot>, DeliveryError> {
        let now = self.clock.now();
        let mut conn = self.db.reader().acquire().await?;
        let rules = store::rules(&mut *conn, zone).await?;
        let templates = store::templates(&mut *conn, zone).await?;
        if templates.is_empty() {
            return Ok(Vec::new());
        }
        let closed = store::closed_dates(&mut *conn, zone).await?;
        let overrides = store::overrides(&mut *conn, zone).await?;
        let planned: Vec<Planned> = domain::plan(
            &templates,
            &self.time,
            self.time.date(now),
            days.min(MAX_DAYS),
            &closed,
            &overrides,
        )
        .into_iter()
        .filter(|p| domain::check_open(&rules, &self.time, p.start, now).is_ok())
        .collect();
        let (Some(first), Some(last)) = (planned.first(), planned.iter().map(|p| p.start).max()) else {
            return Ok(Vec::new());
        };
        let to = Timestamp::from_millis(last.millis() + 1);
        let mut rows = store::slots_between(&mut *conn, zone, first.start, to).await?;
        drop(conn);
        if planned.iter().any(|p| !matches!(row_for(&rows, p), Some(r) if r.capacity == p.capacity)) {
            let mut tx = self.db.begin().await?;
            self.sync(&mut tx, zone, &planned).await?;
            rows = store::slots_between(&mut *tx, zone, first.start, to).await?;
            tx.commit().await?;
        }
        Ok(planned.iter().filter_map(|p| row_for(&rows, p)).map(|row| self.view(row)).collect())
    }

    /// Makes the rows of `planned` slots that have none and brings their capacity in line.
    async fn sync(
        &self,
        conn: &mut Connection,
        zone: ShippingZoneId,
        planned: &[Planned],
    ) -> Result<(), DeliveryError> {
        let (Some(from), Some(last)) = (planned.first(), planned.iter().map(|p| p.start).max()) else {
            return Ok(());
        };
        let to = Timestamp::from_millis(last.millis() + 1);
        let rows = store::slots_between(&mut *conn, zone, from.start, to).await?;
        let missing: Vec<Planned> = planned.iter().filter(|p| row_for(&rows, p).is_none()).copied().collect();
        store::insert_slots(conn, zone, &missing).await?;
        for p in planned {
            if let Some(row) = row_for(&rows, p)
                && row.capacity != p.capacity
            {
                store::set_capacity(&mut *conn, row.id, p.capacity).await?;
            }
        }
        Ok(())
    }

    fn view(&self, row: &SlotRow) -> Slot {
        let remaining = (row.capacity - row.held).max(0);
        Slot {
            id: row.id,
            zone_id: row.zone_id,
            start: row.start,
            end: row.end,
            local_start: self.time.local_rfc3339(row.start),
            local_end: self.time.local_rfc3339(row.end),
            date: self.time.date(row.start),
            capacity: row.capacity,
            remaining,
            available: remaining > 0,
        }
    }

    /// The zone of `to`, when it has delivery slots.
    pub async fn slot_zone(&self, to: &Destination) -> Result<Option<ShippingZoneId>, DeliveryError> {
        let Some(zone) = self.shipping.zone_of(to).await? else { return Ok(None) };
        let has_slots = !store::templates(self.db.reader(), zone).await?.is_empty();
        Ok(has_slots.then_some(zone))
    }

    /// The slot a checkout asks for, checked: physical orders to zones with slots must name
    /// one that can still be chosen; other orders must name none.
    pub async fn for_checkout(
        &self,
        to: Option<&Destination>,
        chosen: Option<DeliverySlotId>,
    ) -> Result<Option<BookedSlot>, DeliveryError> {
        let zone = match to {
            Some(to) => self.slot_zone(to).await?,
            None => None,
        };
        match (zone, chosen, to) {
            (None, None, _) => Ok(None),
            (None, Some(_), None) => {
                Err(DeliveryError::Invalid("delivery_slot_id is for orders with physical items".into()))
            }
            (None, Some(_), Some(_)) => {
                Err(DeliveryError::Invalid("this address is not in a zone with delivery slots".into()))
            }
            (Some(_), None, _) => Err(DeliveryError::SlotRequired),
            (Some(zone), Some(id), _) => self.choosable(zone, id).await.map(Some),
        }
    }

    /// Slot `id` of `zone`, if it is still offered: its template and date stand, and neither
    /// its lead time nor its cut-off has passed.
    async fn choosable(&self, zone: ShippingZoneId, id: DeliverySlotId) -> Result<BookedSlot, DeliveryError> {
        let mut conn = self.db.reader().acquire().await?;
        let Some(row) = store::slot(&mut *conn, id).await?.filter(|r| r.zone_id == zone) else {
            return Err(DeliveryError::Invalid(format!(
                "{id} is not a delivery slot of this address's zone"
            )));
        };
        let templates = store::templates(&mut *conn, zone).await?;
        let closed = store::closed_dates(&mut *conn, zone).await?;
        let rules = store::rules(&mut *conn, zone).await?;
        let date = self.time.date(row.start);
        let planned = domain::plan(&templates, &self.time, date, 1, &closed, &[]);
        if !planned.iter().any(|p| p.template_id == row.template_id && p.start == row.start) {
            return Err(DeliveryError::SlotClosed("the shop does not deliver in it any more".into()));
        }
        domain::check_open(&rules, &self.time, row.start, self.clock.now())
            .map_err(|closed: Closed| DeliveryError::SlotClosed(closed.to_string()))?;
        Ok(BookedSlot { id: row.id, start: row.start, end: row.end })
    }

    /// Holds a place of `slot` for the order, in the checkout's transaction.
    pub async fn hold(
        &self,
        conn: &mut Connection,
        slot: &BookedSlot,
        order: OrderId,
    ) -> Result<(), DeliveryError> {
        if store::hold(conn, slot.id, order, self.clock.now()).await? {
            Ok(())
        } else {
            Err(DeliveryError::SlotFull { slot_id: slot.id, next_slots: Vec::new() })
        }
    }

    /// The refusal for a full slot, with the next free slots of its zone to suggest.
    pub async fn full(&self, slot_id: DeliverySlotId) -> DeliveryError {
        let suggested = async {
            let Some(row) = store::slot(self.db.reader(), slot_id).await? else { return Ok(Vec::new()) };
            let offered = self.offered(row.zone_id, MAX_DAYS).await?;
            Ok::<_, DeliveryError>(offered.into_iter().filter(|s| s.available).take(SUGGESTED).collect())
        };
        match suggested.await {
            Ok(next_slots) => DeliveryError::SlotFull { slot_id, next_slots },
            Err(err) => err,
        }
    }

    /// The order is paid: its place is its own.
    pub async fn consume(&self, conn: &mut Connection, order: OrderId) -> Result<(), DeliveryError> {
        Ok(store::consume(conn, order, self.clock.now()).await?)
    }

    /// The order ended (unpaid, cancelled or refunded): its place goes back to the slot.
    pub async fn release(&self, conn: &mut Connection, order: OrderId) -> Result<(), DeliveryError> {
        store::release(conn, order, self.clock.now()).await?;
        Ok(())
    }

    /// Takes the order's released place again (money arrived after it ended); false when the
    /// slot filled up meanwhile. An order without a slot needs none.
    pub async fn hold_again(&self, conn: &mut Connection, order: OrderId) -> Result<bool, DeliveryError> {
        match store::released_slot(conn, order).await? {
            Some(slot) => Ok(store::hold(conn, slot, order, self.clock.now()).await?),
            None => Ok(true),
        }
    }

    // ---- drivers ----------------------------------------------------------------------------

    /// The paid orders to deliver on local `date` (of one zone, or every zone), per slot.
    pub async fn manifest(
        &self,
        date: Date,
        zone: Option<ShippingZoneId>,
    ) -> Result<Vec<(Slot, Vec<Order>)>, DeliveryError> {
        let midnight = TimeOfDay::hm(0, 0).expect("midnight");
        let (Some(from), Some(to)) =
            (self.time.instant(date, midnight), self.time.instant(date, TimeOfDay::MIDNIGHT_END))
        else {
            return Err(DeliveryError::Invalid("the date is out of range".into()));
        };
        let booked = store::consumed_between(self.db.reader(), zone, from, to).await?;
        let mut manifest: Vec<(Slot, Vec<Order>)> = Vec::new();
        for (row, order_id) in booked {
            let order = self.orders.order(order_id).await?;
            match manifest.last_mut() {
                Some((slot, orders)) if slot.id == row.id => orders.push(order),
                _ => manifest.push((self.view(&row), vec![order])),
            }
        }
        Ok(manifest)
    }
}

fn row_for<'a>(rows: &'a [SlotRow], planned: &Planned) -> Option<&'a SlotRow> {
    rows.iter().find(|r| r.template_id == planned.template_id && r.start == planned.start)
}
