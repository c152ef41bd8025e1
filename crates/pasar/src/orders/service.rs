//! Orders' use cases. Creation and transitions run inside the caller's transaction (checkout,
//! payment settlement) so an order moves together with its stock and payment.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{Mover, OrderStatus, OrderVoucher, ShippingAddress, TransitionRefused, check_transition};
use super::fulfilment::{
    FulfilmentRefused, FulfilmentStatus, check_fulfilment_move, follows_order, order_steps,
};
use super::store;
use crate::catalog::ProductKind;
use crate::db::{Connection, Db};
use crate::events::{self, NewEvent};
use crate::ids::{FulfilmentId, OrderId, OrderLineId, ProductId, UserId, VariantId};
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
    /// When it is delivered, in zones with delivery slots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_slot: Option<super::BookedSlot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Money arrived for this order after it could no longer be filled: refund it.
    pub refund_due: bool,
    pub timeline: Vec<TimelineEntry>,
    /// Each store's part of the order (one for an order from the shop alone).
    pub fulfilments: Vec<Fulfilment>,
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
    /// The seller whose store sells it; absent when the shop itself does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<UserId>,
    /// The store's part of the order this line ships in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment_id: Option<FulfilmentId>,
    /// What vouchers the platform funds took off this line.
    pub platform_discount: Money,
    /// What vouchers the line's store funds took off this line (out of the store's share).
    pub store_discount: Money,
    /// Delivered digital items (keys, accounts), shown only to the buyer and admins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Delivered digital files, shown only to the buyer and admins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OrderFile>,
}

/// A file delivered on an order line (an account file, a licence).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderFile {
    pub file_name: String,
    pub content_type: String,
    /// The file's bytes, in base64.
    pub content_base64: String,
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

/// One store's part of an order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Fulfilment {
    pub id: FulfilmentId,
    /// The seller whose store packs and ships it; absent when the shop itself does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<UserId>,
    pub status: FulfilmentStatus,
    /// The order lines it carries.
    pub line_ids: Vec<OrderLineId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    pub timeline: Vec<FulfilmentEntry>,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FulfilmentEntry {
    pub from: Option<FulfilmentStatus>,
    pub to: FulfilmentStatus,
    /// Who moved it: a user id, `system` or `gateway:<name>`.
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
    /// The seller whose store sells it; none when the shop itself does.
    pub seller_id: Option<UserId>,
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
    pub delivery_slot: Option<super::BookedSlot>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    #[error(transparent)]
    FulfilmentRefused(#[from] FulfilmentRefused),
    #[error("a shipped part needs its tracking number")]
    TrackingRequired,
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
        let fulfilments: Vec<(OrderId, &Fulfilment)> =
            orders.iter().flat_map(|o| o.fulfilments.iter().map(move |f| (o.id, f))).collect();
        store::insert_fulfilments(&mut *conn, &fulfilments, now).await?;
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
        let parts = store::fulfilments(&mut *conn, id).await?;
        self.move_parts_with_order(conn, &parts, to, actor, note).await?;
        Ok(current.status)
    }

    /// Moves the parts of an order that was moved as a whole and are behind it.
    async fn move_parts_with_order(
        &self,
        conn: &mut Connection,
        parts: &[Fulfilment],
        to: OrderStatus,
        actor: &str,
        note: Option<&str>,
    ) -> Result<(), OrdersError> {
        let Some((behind, part_to)) = follows_order(to) else { return Ok(()) };
        let moves: Vec<(FulfilmentId, FulfilmentStatus)> =
            parts.iter().filter(|p| behind.contains(&p.status)).map(|p| (p.id, p.status)).collect();
        if !moves.is_empty() {
            store::move_fulfilments(conn, &moves, part_to, actor, note, self.clock.now()).await?;
        }
        Ok(())
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
        if let Some((behind, part_to)) = follows_order(to) {
            for (order, actor) in orders.iter_mut() {
                let moves: Vec<(FulfilmentId, FulfilmentStatus)> = order
                    .fulfilments
                    .iter()
                    .filter(|p| behind.contains(&p.status))
                    .map(|p| (p.id, p.status))
                    .collect();
                if moves.is_empty() {
                    continue;
                }
                store::move_fulfilments(conn, &moves, part_to, actor, note, now).await?;
                for part in order.fulfilments.iter_mut().filter(|p| behind.contains(&p.status)) {
                    part.status = part_to;
                    part.updated_at = now;
                    if part_to == FulfilmentStatus::Delivered {
                        part.delivered_at = Some(now);
                    }
                }
            }
        }
        for ((order, _), (_, entry)) in orders.iter_mut().zip(entries) {
            order.status = to;
            order.updated_at = now;
            order.timeline.push(entry);
        }
        Ok(())
    }

    /// A store (or staff for it) moves its part of an order: packed, shipped with a tracking
    /// number, delivered, or cancelled before shipping. The order follows its parts (processing,
    /// shipped, delivered once every part still going is). Returns the order as it is now.
    /// The caller checks who may act on this part; a cancellation's refund is the caller's.
    pub async fn move_fulfilment(
        &self,
        conn: &mut Connection,
        id: FulfilmentId,
        to: FulfilmentStatus,
        actor: &str,
        tracking: Option<(&str, Option<&str>)>,
        note: Option<&str>,
    ) -> Result<Order, OrdersError> {
        let (order_id, part) = store::fulfilment(&mut *conn, id).await?.ok_or(OrdersError::NotFound)?;
        check_fulfilment_move(part.status, to)?;
        match tracking {
            Some((number, carrier)) => {
                store::set_fulfilment_tracking(&mut *conn, id, number, carrier).await?
            }
            None if to == FulfilmentStatus::Shipped && part.tracking_number.is_none() => {
                return Err(OrdersError::TrackingRequired);
            }
            None => {}
        }
        if store::move_fulfilments(conn, &[(id, part.status)], to, actor, note, self.clock.now()).await? != 1
        {
            return Err(OrdersError::Moved);
        }
        let order = self.order_in(conn, order_id).await?;
        let parts: Vec<FulfilmentStatus> = order.fulfilments.iter().map(|p| p.status).collect();
        for step in order_steps(order.status, &parts) {
            let current = store::order(&mut *conn, order_id).await?.ok_or(OrdersError::NotFound)?;
            check_transition(current.status, step, Mover::System)?;
            let now = self.clock.now();
            if !store::move_status(&mut *conn, order_id, current.status, step, now).await? {
                return Err(OrdersError::Moved);
            }
            let entry = TimelineEntry {
                from: Some(current.status),
                to: step,
                actor: actor.to_owned(),
                note: Some(format!("every store's part is {}", step.as_str())),
                at: now,
            };
            store::insert_timeline(&mut *conn, order_id, &entry).await?;
            events::record(&mut *conn, now, moved_event(&current, &entry)).await?;
        }
        self.order_in(conn, order_id).await
    }

    /// When each of the given parts was delivered; parts not delivered are left out.
    pub async fn delivered_at(
        &self,
        ids: &[FulfilmentId],
    ) -> Result<Vec<(FulfilmentId, Timestamp)>, OrdersError> {
        Ok(store::delivered_at(self.db.reader(), ids).await?)
    }

    /// One part of an order, with the order it belongs to.
    pub async fn fulfilment(&self, id: FulfilmentId) -> Result<(Order, Fulfilment), OrdersError> {
        let (order_id, _) = store::fulfilment(self.db.reader(), id).await?.ok_or(OrdersError::NotFound)?;
        let order = self.order(order_id).await?;
        let part = order.fulfilments.iter().find(|p| p.id == id).cloned().ok_or(OrdersError::NotFound)?;
        Ok((order, part))
    }

    /// A page of the orders in which `seller` has a paid part, newest first, and whether more
    /// follow.
    pub async fn list_for_seller(
        &self,
        seller: UserId,
        status: Option<FulfilmentStatus>,
        before: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), OrdersError> {
        let mut ids = store::seller_order_ids(
            self.db.reader(),
            seller,
            status,
            before,
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        )
        .await?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            orders.push(self.order(id).await?);
        }
        Ok((orders, more))
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
        order.fulfilments = with_lines(store::fulfilments(&mut *conn, id).await?, &order.lines);
        Ok(order)
    }

    /// The order a line belongs to, with its lines, read inside a transaction.
    pub async fn order_of_line_in(
        &self,
        conn: &mut Connection,
        line: OrderLineId,
    ) -> Result<Order, OrdersError> {
        let id = store::order_of_line(&mut *conn, line).await?.ok_or(OrdersError::NotFound)?;
        self.order_in(conn, id).await
    }

    /// An order with its lines and timeline.
    pub async fn order(&self, id: OrderId) -> Result<Order, OrdersError> {
        let mut order = store::order(self.db.reader(), id).await?.ok_or(OrdersError::NotFound)?;
        order.lines = store::lines(self.db.reader(), id, order.total.currency).await?;
        order.timeline = store::timeline(self.db.reader(), id).await?;
        order.fulfilments = with_lines(store::fulfilments(self.db.reader(), id).await?, &order.lines);
        for (part, entry) in store::fulfilment_timeline(self.db.reader(), id).await? {
            if let Some(fulfilment) = order.fulfilments.iter_mut().find(|f| f.id == part) {
                fulfilment.timeline.push(entry);
            }
        }
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
            order.fulfilments =
                with_lines(store::fulfilments(self.db.reader(), order.id).await?, &order.lines);
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

    /// The lines of one part.
    pub fn lines_of<'a>(&'a self, part: &'a Fulfilment) -> impl Iterator<Item = &'a OrderLine> {
        self.lines.iter().filter(|l| part.line_ids.contains(&l.id))
    }

    /// What the buyer paid for each part (in the order of `fulfilments`): its lines, less their
    /// vouchers, less the part's proportion of the points redeemed on the whole order. Shipping
    /// is the platform's and is in none of them.
    pub fn paid_per_part(&self) -> Vec<i64> {
        let net: Vec<i64> = self
            .fulfilments
            .iter()
            .map(|part| {
                self.lines_of(part)
                    .map(|l| l.line_total.amount - l.platform_discount.amount - l.store_discount.amount)
                    .sum()
            })
            .collect();
        let vouchers: i64 =
            self.lines.iter().map(|l| l.platform_discount.amount + l.store_discount.amount).sum();
        let points = crate::money::allocate(self.discount.amount - vouchers, &net);
        net.iter().zip(points).map(|(net, points)| net - points).collect()
    }
}

/// A new order priced from its lines, awaiting payment, with its first timeline entry.
fn priced(new: NewOrder, now: Timestamp) -> Result<Order, OrdersError> {
    let mut lines = Vec::with_capacity(new.lines.len());
    let mut fulfilments: Vec<Fulfilment> = Vec::new();
    for line in new.lines {
        let part = match fulfilments.iter_mut().find(|f| f.seller_id == line.seller_id) {
            Some(part) => part,
            None => {
                fulfilments.push(Fulfilment {
                    id: FulfilmentId::new(),
                    seller_id: line.seller_id,
                    status: FulfilmentStatus::AwaitingPayment,
                    line_ids: Vec::new(),
                    tracking_number: None,
                    carrier: None,
                    delivered_at: None,
                    timeline: Vec::new(),
                    updated_at: now,
                });
                fulfilments.last_mut().ok_or(OrdersError::Empty)?
            }
        };
        let line_id = OrderLineId::new();
        part.line_ids.push(line_id);
        let fulfilment_id = part.id;
        lines.push(OrderLine {
            id: line_id,
            seller_id: line.seller_id,
            fulfilment_id: Some(fulfilment_id),
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
            files: Vec::new(),
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
        delivery_slot: new.delivery_slot,
        tracking_number: None,
        refund_due: false,
        timeline: vec![entry],
        fulfilments,
        created_at: now,
        updated_at: now,
    })
}

/// Each part with the ids of the lines it carries.
fn with_lines(mut parts: Vec<Fulfilment>, lines: &[OrderLine]) -> Vec<Fulfilment> {
    for part in &mut parts {
        part.line_ids = lines.iter().filter(|l| l.fulfilment_id == Some(part.id)).map(|l| l.id).collect();
    }
    parts
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
