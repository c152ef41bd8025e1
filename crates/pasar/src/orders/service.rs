//! Orders' use cases. Creation and transitions run inside the caller's transaction (checkout,
//! payment settlement) so an order moves together with its stock and payment.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{Mover, OrderStatus, OrderVoucher, ShippingAddress, TransitionRefused, check_transition};
use super::store;
use crate::catalog::ProductKind;
use crate::db::{Connection, Db};
use crate::events::{self, NewEvent};
use crate::ids::{OrderId, OrderLineId, ProductId, UserId, VariantId};
use crate::money::Money;
use crate::time::{Clock, Timestamp};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub buyer_id: UserId,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    /// Points redeemed plus every voucher's discount.
    pub discount: Money,
    pub shipping: Money,
    pub total: Money,
    /// The vouchers (and automatic promotions) applied, with what each took off.
    pub vouchers: Vec<OrderVoucher>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
    /// The shipping method's code, when the shop ships with methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Money arrived for this order after it could no longer be filled: refund it.
    pub refund_due: bool,
    pub timeline: Vec<TimelineEntry>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderLine {
    pub id: OrderLineId,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: String,
    pub kind: ProductKind,
    pub options: BTreeMap<String, String>,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
    /// What vouchers the platform funds took off this line.
    pub platform_discount: Money,
    /// What vouchers the line's store funds took off this line (out of the store's share).
    pub store_discount: Money,
    /// Delivered digital items (keys, accounts), shown only to the buyer and admins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    /// Who moved the order: a user id, `system` or `gateway:<name>`.
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewOrderLine {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: String,
    pub kind: ProductKind,
    pub options: BTreeMap<String, String>,
    pub unit_price: Money,
    pub quantity: i64,
    /// Voucher discounts on this line, by funder (zero without vouchers).
    pub platform_discount: Money,
    pub store_discount: Money,
}

#[derive(Clone, Debug)]
pub struct NewOrder {
    pub id: OrderId,
    pub buyer_id: UserId,
    pub lines: Vec<NewOrderLine>,
    pub shipping: Money,
    /// Points plus vouchers; the vouchers' part is also in `vouchers` and on the lines.
    pub discount: Money,
    pub vouchers: Vec<OrderVoucher>,
    pub shipping_address: Option<ShippingAddress>,
    pub shipping_method: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    #[error("the order changed meanwhile; reload and try again")]
    Moved,
    #[error("an order needs at least one line, all in one currency")]
    Empty,
    #[error(transparent)]
    Money(#[from] crate::money::MoneyError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Default)]
pub struct OrderFilter {
    pub buyer: Option<UserId>,
    pub status: Option<OrderStatus>,
    pub before: Option<OrderId>,
}

/// The event a transition into `to` announces (DESIGN section 7).
fn event_for(to: OrderStatus) -> &'static str {
    match to {
        OrderStatus::PendingPayment => "order.created",
        OrderStatus::Paid => "order.confirmed",
        OrderStatus::Processing => "order.processing",
        OrderStatus::Shipped => "order.shipped",
        OrderStatus::Delivered => "order.delivered",
        OrderStatus::Completed => "order.completed",
        OrderStatus::Cancelled => "order.cancelled",
        OrderStatus::Expired => "order.expired",
        OrderStatus::PartiallyRefunded => "order.partially_refunded",
        OrderStatus::Refunded => "order.refunded",
    }
}

#[derive(Clone)]
pub struct Orders {
    db: Db,
    clock: Clock,
}

impl Orders {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Writes a new order awaiting payment, priced from its lines, with its `order.created`
    /// event carrying `extra` (the checkout adds the payment).
    pub async fn create(
        &self,
        conn: &mut Connection,
        new: NewOrder,
        extra: serde_json::Value,
    ) -> Result<Order, OrdersError> {
        let mut created = self.create_many(conn, vec![(new, extra)]).await?;
        created.pop().ok_or(OrdersError::Empty)
    }

    /// [`Orders::create`] for many orders at once: each table and the outbox get one
    /// statement for the whole batch.
    pub async fn create_many(
        &self,
        conn: &mut Connection,
        new: Vec<(NewOrder, serde_json::Value)>,
    ) -> Result<Vec<Order>, OrdersError> {
        let now = self.clock.now();
        let mut orders = Vec::with_capacity(new.len());
        let mut created = Vec::with_capacity(new.len());
        for (new, extra) in new {
            let order = priced(new, now)?;
            created.push(created_event(&order, extra));
            orders.push(order);
        }
        store::insert_orders(&mut *conn, &orders).await?;
        let lines: Vec<(OrderId, &OrderLine)> =
            orders.iter().flat_map(|o| o.lines.iter().map(move |l| (o.id, l))).collect();
        store::insert_lines(&mut *conn, &lines).await?;
        let entries: Vec<(OrderId, &TimelineEntry)> =
            orders.iter().flat_map(|o| o.timeline.iter().map(move |e| (o.id, e))).collect();
        store::insert_timelines(&mut *conn, &entries).await?;
        events::record_many(&mut *conn, now, created).await?;
        Ok(orders)
    }

    /// Moves an order to `to` if the state machine lets `mover` do it from where the order is
    /// now; records the timeline entry and the event. Returns the status it left.
    pub async fn transition(
        &self,
        conn: &mut Connection,
        id: OrderId,
        to: OrderStatus,
        mover: Mover,
        actor: &str,
        note: Option<&str>,
    ) -> Result<OrderStatus, OrdersError> {
        let now = self.clock.now();
        let current = store::order(&mut *conn, id).await?.ok_or(OrdersError::NotFound)?;
        check_transition(current.status, to, mover)?;
        if !store::move_status(&mut *conn, id, current.status, to, now).await? {
            return Err(OrdersError::Moved);
        }
        let entry = TimelineEntry {
            from: Some(current.status),
            to,
            actor: actor.to_owned(),
            note: note.map(str::to_owned),
            at: now,
        };
        store::insert_timeline(&mut *conn, id, &entry).await?;
        events::record(&mut *conn, now, moved_event(&current, &entry)).await?;
        Ok(current.status)
    }

    /// [`Orders::transition`] for orders this transaction holds in hand (a batch just
    /// created): all move from the status they are in to `to`, each with its own actor, in one
    /// statement per table. The orders are updated to match. Fails whole with `Moved` if any
    /// of them was no longer where it was.
    pub async fn transition_many(
        &self,
        conn: &mut Connection,
        orders: &mut [(&mut Order, &str)],
        to: OrderStatus,
        mover: Mover,
        note: Option<&str>,
    ) -> Result<(), OrdersError> {
        let Some(from) = orders.first().map(|(o, _)| o.status) else { return Ok(()) };
        let now = self.clock.now();
        for (order, _) in orders.iter() {
            if order.status != from {
                return Err(OrdersError::Moved);
            }
            check_transition(order.status, to, mover)?;
        }
        let ids: Vec<OrderId> = orders.iter().map(|(o, _)| o.id).collect();
        if store::move_statuses(&mut *conn, &ids, from, to, now).await? != ids.len() as u64 {
            return Err(OrdersError::Moved);
        }
        let mut entries = Vec::with_capacity(orders.len());
        let mut moved = Vec::with_capacity(orders.len());
        for (order, actor) in orders.iter() {
            let entry = TimelineEntry {
                from: Some(from),
                to,
                actor: (*actor).to_owned(),
                note: note.map(str::to_owned),
                at: now,
            };
            moved.push(moved_event(order, &entry));
            entries.push((order.id, entry));
        }
        let rows: Vec<(OrderId, &TimelineEntry)> = entries.iter().map(|(id, e)| (*id, e)).collect();
        store::insert_timelines(&mut *conn, &rows).await?;
        events::record_many(&mut *conn, now, moved).await?;
        for ((order, _), (_, entry)) in orders.iter_mut().zip(entries) {
            order.status = to;
            order.updated_at = now;
            order.timeline.push(entry);
        }
        Ok(())
    }

    /// An admin moves an order along its fulfilment path (processing, shipped with a tracking
    /// number, delivered, completed).
    pub async fn advance(
        &self,
        id: OrderId,
        to: OrderStatus,
        actor: &str,
        tracking_number: Option<&str>,
        note: Option<&str>,
    ) -> Result<Order, OrdersError> {
        let mut tx = self.db.begin().await?;
        self.transition(&mut tx, id, to, Mover::Staff, actor, note).await?;
        if let Some(tracking) = tracking_number {
            store::set_tracking(&mut *tx, id, tracking).await?;
        }
        tx.commit().await?;
        self.order(id).await
    }

    /// Marks that money arrived for an order that could not be filled any more.
    pub async fn flag_refund_due(
        &self,
        conn: &mut Connection,
        id: OrderId,
        actor: &str,
    ) -> Result<(), OrdersError> {
        let now = self.clock.now();
        store::flag_refund_due(&mut *conn, id).await?;
        events::record(
            &mut *conn,
            now,
            NewEvent {
                event_type: "order.refund_due",
                version: 1,
                subject_id: id.to_string(),
                actor: actor.to_owned(),
                payload: serde_json::json!({ "order_id": id, "after": { "refund_due": true } }),
            },
        )
        .await?;
        Ok(())
    }

    /// An order with its lines and timeline, read inside a transaction.
    pub async fn order_in(&self, conn: &mut Connection, id: OrderId) -> Result<Order, OrdersError> {
        let mut order = store::order(&mut *conn, id).await?.ok_or(OrdersError::NotFound)?;
        order.lines = store::lines(&mut *conn, id, order.total.currency).await?;
        Ok(order)
    }

    /// An order with its lines and timeline.
    pub async fn order(&self, id: OrderId) -> Result<Order, OrdersError> {
        let mut order = store::order(self.db.reader(), id).await?.ok_or(OrdersError::NotFound)?;
        order.lines = store::lines(self.db.reader(), id, order.total.currency).await?;
        order.timeline = store::timeline(self.db.reader(), id).await?;
        Ok(order)
    }

    /// One page of orders, newest first, and whether more follow. Lines are included;
    /// timelines are left to the single-order read.
    /// Orders placed since `since`, and the total of those paid (paid, shipped, delivered,
    /// completed or partly refunded), for the shop's figures.
    pub async fn totals_since(&self, since: Timestamp) -> Result<(i64, i64), OrdersError> {
        Ok(store::totals_since(self.db.reader(), since).await?)
    }

    /// Whether `buyer` has an order that was paid (whatever happened to it since): a first
    /// order is one placed without.
    pub async fn has_paid_order(&self, buyer: UserId) -> Result<bool, OrdersError> {
        Ok(store::has_paid_order(self.db.reader(), buyer).await?)
    }

    pub async fn list(&self, filter: &OrderFilter, limit: usize) -> Result<(Vec<Order>, bool), OrdersError> {
        let mut orders = store::list(
            self.db.reader(),
            filter.buyer,
            filter.status,
            filter.before,
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        )
        .await?;
        let more = orders.len() > limit;
        orders.truncate(limit);
        for order in &mut orders {
            order.lines = store::lines(self.db.reader(), order.id, order.total.currency).await?;
        }
        Ok((orders, more))
    }
}

impl Order {
    pub fn is_digital_only(&self) -> bool {
        self.lines.iter().all(|line| line.kind == ProductKind::Digital)
    }

    pub fn has_physical_lines(&self) -> bool {
        self.lines.iter().any(|line| line.kind == ProductKind::Physical)
    }
}

/// A new order priced from its lines, awaiting payment, with its first timeline entry.
fn priced(new: NewOrder, now: Timestamp) -> Result<Order, OrdersError> {
    let mut lines = Vec::with_capacity(new.lines.len());
    for line in new.lines {
        lines.push(OrderLine {
            id: OrderLineId::new(),
            line_total: line.unit_price.times(line.quantity)?,
            variant_id: line.variant_id,
            product_id: line.product_id,
            product_name: line.product_name,
            sku: line.sku,
            kind: line.kind,
            options: line.options,
            unit_price: line.unit_price,
            quantity: line.quantity,
            platform_discount: line.platform_discount,
            store_discount: line.store_discount,
            items: Vec::new(),
        });
    }
    let subtotal = Money::sum(lines.iter().map(|l| l.line_total))?.ok_or(OrdersError::Empty)?;
    let total = subtotal.checked_sub(new.discount)?.checked_add(new.shipping)?;
    let entry = TimelineEntry {
        from: None,
        to: OrderStatus::PendingPayment,
        actor: new.buyer_id.to_string(),
        note: None,
        at: now,
    };
    Ok(Order {
        id: new.id,
        buyer_id: new.buyer_id,
        status: OrderStatus::PendingPayment,
        lines,
        subtotal,
        discount: new.discount,
        shipping: new.shipping,
        total,
        vouchers: new.vouchers,
        shipping_address: new.shipping_address,
        shipping_method: new.shipping_method,
        tracking_number: None,
        refund_due: false,
        timeline: vec![entry],
        created_at: now,
        updated_at: now,
    })
}

fn created_event(order: &Order, extra: serde_json::Value) -> NewEvent<serde_json::Value> {
    NewEvent {
        event_type: event_for(OrderStatus::PendingPayment),
        version: 1,
        subject_id: order.id.to_string(),
        actor: order.buyer_id.to_string(),
        payload: serde_json::json!({
            "order_id": order.id,
            "buyer_id": order.buyer_id,
            "total": order.total,
            "lines": order.lines.iter().map(|l| serde_json::json!({
                "variant_id": l.variant_id, "sku": l.sku, "quantity": l.quantity, "line_total": l.line_total,
            })).collect::<Vec<_>>(),
            "after": { "status": order.status },
            "extra": extra,
        }),
    }
}

/// The event of `order` (as it was before) taking the step in `entry`.
fn moved_event(order: &Order, entry: &TimelineEntry) -> NewEvent<serde_json::Value> {
    NewEvent {
        event_type: event_for(entry.to),
        version: 1,
        subject_id: order.id.to_string(),
        actor: entry.actor.clone(),
        payload: serde_json::json!({
            "order_id": order.id,
            "buyer_id": order.buyer_id,
            "total": order.total,
            "note": entry.note,
            "before": { "status": entry.from },
            "after": { "status": entry.to },
        }),
    }
}
