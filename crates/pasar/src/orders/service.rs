//! Orders' use cases. Creation and transitions run inside the caller's transaction (checkout,
//! payment settlement) so an order moves together with its stock and payment.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{Mover, OrderStatus, ShippingAddress, TransitionRefused, check_transition};
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
    pub discount: Money,
    pub shipping: Money,
    pub total: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
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

pub struct NewOrderLine {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: String,
    pub kind: ProductKind,
    pub options: BTreeMap<String, String>,
    pub unit_price: Money,
    pub quantity: i64,
}

pub struct NewOrder {
    pub id: OrderId,
    pub buyer_id: UserId,
    pub lines: Vec<NewOrderLine>,
    pub shipping: Money,
    pub discount: Money,
    pub shipping_address: Option<ShippingAddress>,
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
        let now = self.clock.now();
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
        let order = Order {
            id: new.id,
            buyer_id: new.buyer_id,
            status: OrderStatus::PendingPayment,
            lines,
            subtotal,
            discount: new.discount,
            shipping: new.shipping,
            total,
            shipping_address: new.shipping_address,
            tracking_number: None,
            refund_due: false,
            timeline: vec![entry.clone()],
            created_at: now,
            updated_at: now,
        };
        store::insert_order(&mut *conn, &order).await?;
        for line in &order.lines {
            store::insert_line(&mut *conn, order.id, line).await?;
        }
        store::insert_timeline(&mut *conn, order.id, &entry).await?;
        events::record(
            &mut *conn,
            now,
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
            },
        )
        .await?;
        Ok(order)
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
        events::record(
            &mut *conn,
            now,
            NewEvent {
                event_type: event_for(to),
                version: 1,
                subject_id: id.to_string(),
                actor: actor.to_owned(),
                payload: serde_json::json!({
                    "order_id": id,
                    "buyer_id": current.buyer_id,
                    "total": current.total,
                    "note": note,
                    "before": { "status": current.status },
                    "after": { "status": to },
                }),
            },
        )
        .await?;
        Ok(current.status)
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
