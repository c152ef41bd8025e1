//! Orders' tables. Only this module reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::domain::OrderStatus;
use super::fulfilment::FulfilmentStatus;
use super::service::{Fulfilment, FulfilmentEntry, Order, OrderLine, TimelineEntry};
use crate::catalog::ProductKind;
use crate::db::column::{decode_error, parse_optional, parse_text};
use crate::db::{Connection, bulk};
use crate::ids::{FulfilmentId, OrderId, OrderLineId, UserId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

fn status_of(row: &AnyRow, column: &str) -> Result<OrderStatus, sqlx::Error> {
    let text: String = row.try_get(column)?;
    OrderStatus::parse(&text).ok_or_else(|| decode_error(column, &text))
}

fn currency_of(row: &AnyRow) -> Result<Currency, sqlx::Error> {
    let text: String = row.try_get("currency")?;
    Currency::parse(&text).map_err(|_| decode_error("currency", &text))
}

pub const ORDER_COLUMNS: &str = "id, buyer_id, status, currency, subtotal, discount, shipping, total, \
                                 shipping_address, shipping_method, tracking_number, refund_due, created_at, \
                                 updated_at, vouchers, delivery_slot";

/// An order row without its lines and timeline.
pub fn order_of(row: &AnyRow) -> Result<Order, sqlx::Error> {
    let currency = currency_of(row)?;
    let money =
        |column: &str| -> Result<Money, sqlx::Error> { Ok(Money::new(row.try_get(column)?, currency)) };
    let address: Option<String> = row.try_get("shipping_address")?;
    let vouchers: Option<String> = row.try_get("vouchers")?;
    let delivery_slot: Option<String> = row.try_get("delivery_slot")?;
    Ok(Order {
        vouchers: match vouchers {
            Some(text) => serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            None => Vec::new(),
        },
        id: parse_text(row, "id")?,
        buyer_id: parse_text(row, "buyer_id")?,
        status: status_of(row, "status")?,
        subtotal: money("subtotal")?,
        discount: money("discount")?,
        shipping: money("shipping")?,
        total: money("total")?,
        shipping_address: address
            .map(|text| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()?,
        shipping_method: row.try_get("shipping_method")?,
        delivery_slot: delivery_slot
            .map(|text| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()?,
        tracking_number: row.try_get("tracking_number")?,
        refund_due: row.try_get::<i64, _>("refund_due")? != 0,
        lines: Vec::new(),
        timeline: Vec::new(),
        fulfilments: Vec::new(),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

pub async fn insert_orders(conn: &mut Connection, orders: &[Order]) -> Result<(), sqlx::Error> {
    let rows = orders
        .iter()
        .map(|order| {
            let address = order
                .shipping_address
                .as_ref()
                .map(|a| serde_json::to_string(a).map_err(|e| sqlx::Error::Encode(Box::new(e))))
                .transpose()?;
            // Most orders have none: NULL rather than a list to parse on every read.
            let vouchers = if order.vouchers.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&order.vouchers).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
            };
            let slot = order
                .delivery_slot
                .map(|s| serde_json::to_string(&s).map_err(|e| sqlx::Error::Encode(Box::new(e))))
                .transpose()?;
            Ok((order, address, vouchers, slot))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    bulk::insert_rows(
        conn,
        "INSERT INTO orders (id, buyer_id, status, currency, subtotal, discount, shipping, total,
                             shipping_address, shipping_method, tracking_number, refund_due, created_at,
                             updated_at, vouchers, delivery_slot)",
        "",
        16,
        &rows,
        |args, (order, address, vouchers, slot)| {
            args.add(order.id.to_string())?;
            args.add(order.buyer_id.to_string())?;
            args.add(order.status.as_str())?;
            args.add(order.total.currency.code())?;
            args.add(order.subtotal.amount)?;
            args.add(order.discount.amount)?;
            args.add(order.shipping.amount)?;
            args.add(order.total.amount)?;
            args.add(address.as_deref())?;
            args.add(order.shipping_method.as_deref())?;
            args.add(order.tracking_number.as_deref())?;
            args.add(i64::from(order.refund_due))?;
            args.add(order.created_at.millis())?;
            args.add(order.updated_at.millis())?;
            args.add(vouchers.as_deref())?;
            args.add(slot.as_deref())
        },
    )
    .await
    .map(|_| ())
}

pub async fn insert_lines(conn: &mut Connection, lines: &[(OrderId, &OrderLine)]) -> Result<(), sqlx::Error> {
    let rows = lines
        .iter()
        .map(|(order, line)| {
            let options =
                serde_json::to_string(&line.options).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            Ok((*order, *line, options))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    bulk::insert_rows(
        conn,
        "INSERT INTO order_lines (id, order_id, variant_id, product_id, product_name, sku, kind, options,
                                  unit_price, quantity, line_total, seller_id, fulfilment_id, platform_discount,
                                  store_discount)",
        "",
        15,
        &rows,
        |args, (order, line, options)| {
            args.add(line.id.to_string())?;
            args.add(order.to_string())?;
            args.add(line.variant_id.to_string())?;
            args.add(line.product_id.to_string())?;
            args.add(line.product_name.as_str())?;
            args.add(line.sku.as_str())?;
            args.add(line.kind.as_str())?;
            args.add(options.as_str())?;
            args.add(line.unit_price.amount)?;
            args.add(line.quantity)?;
            args.add(line.line_total.amount)?;
            args.add(line.seller_id.map(|s| s.to_string()))?;
            args.add(line.fulfilment_id.map(|f| f.to_string()))?;
            args.add(line.platform_discount.amount)?;
            args.add(line.store_discount.amount)
        },
    )
    .await
    .map(|_| ())
}

pub async fn lines<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
    currency: Currency,
) -> Result<Vec<OrderLine>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, variant_id, product_id, product_name, sku, kind, options, unit_price, quantity, line_total,
                seller_id, fulfilment_id, platform_discount, store_discount
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(order.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let options: String = row.try_get("options")?;
            Ok(OrderLine {
                id: parse_text(row, "id")?,
                variant_id: parse_text(row, "variant_id")?,
                product_id: parse_text(row, "product_id")?,
                product_name: row.try_get("product_name")?,
                sku: row.try_get("sku")?,
                kind: ProductKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
                options: serde_json::from_str(&options).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                unit_price: Money::new(row.try_get("unit_price")?, currency),
                quantity: row.try_get("quantity")?,
                line_total: Money::new(row.try_get("line_total")?, currency),
                seller_id: parse_optional(row, "seller_id")?,
                fulfilment_id: parse_optional(row, "fulfilment_id")?,
                platform_discount: Money::new(row.try_get("platform_discount")?, currency),
                store_discount: Money::new(row.try_get("store_discount")?, currency),
                items: Vec::new(),
                files: Vec::new(),
            })
        })
        .collect()
}

pub async fn timeline<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, actor, note, at FROM order_timeline WHERE order_id = $1 ORDER BY id",
    )
    .bind(order.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let from: Option<String> = row.try_get("from_status")?;
            Ok(TimelineEntry {
                from: from
                    .map(|f| OrderStatus::parse(&f).ok_or_else(|| decode_error("from_status", &f)))
                    .transpose()?,
                to: status_of(row, "to_status")?,
                actor: row.try_get("actor")?,
                note: row.try_get("note")?,
                at: Timestamp::from_millis(row.try_get("at")?),
            })
        })
        .collect()
}

pub async fn insert_timeline<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
    entry: &TimelineEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_timeline (id, order_id, from_status, to_status, actor, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order.to_string())
    .bind(entry.from.map(OrderStatus::as_str))
    .bind(entry.to.as_str())
    .bind(&entry.actor)
    .bind(entry.note.as_deref())
    .bind(entry.at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn insert_timelines(
    conn: &mut Connection,
    entries: &[(OrderId, &TimelineEntry)],
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO order_timeline (id, order_id, from_status, to_status, actor, note, at)",
        "",
        7,
        entries,
        |args, (order, entry)| {
            args.add(uuid::Uuid::now_v7().to_string())?;
            args.add(order.to_string())?;
            args.add(entry.from.map(OrderStatus::as_str))?;
            args.add(entry.to.as_str())?;
            args.add(entry.actor.as_str())?;
            args.add(entry.note.as_deref())?;
            args.add(entry.at.millis())
        },
    )
    .await
    .map(|_| ())
}

pub async fn order<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: OrderId,
) -> Result<Option<Order>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(order_of).transpose()
}

/// The order a line belongs to.
pub async fn order_of_line<'c>(
    ex: impl Executor<'c, Database = Any>,
    line: OrderLineId,
) -> Result<Option<OrderId>, sqlx::Error> {
    let row = sqlx::query("SELECT order_id FROM order_lines WHERE id = $1")
        .bind(line.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| parse_text(&row, "order_id")).transpose()
}

/// Moves an order from `from` to `to` only if it is still in `from`.
pub async fn move_status<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.as_str())
        .bind(now.millis())
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves every order of `ids` still in `from` to `to`; returns how many moved.
pub async fn move_statuses(
    conn: &mut Connection,
    ids: &[OrderId],
    from: OrderStatus,
    to: OrderStatus,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    bulk::move_statuses(conn, "orders", &ids, from.as_str(), to.as_str(), now.millis()).await
}

pub async fn set_tracking<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: OrderId,
    tracking: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET tracking_number = $1 WHERE id = $2")
        .bind(tracking)
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn flag_refund_due<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: OrderId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET refund_due = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn list<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: Option<UserId>,
    status: Option<OrderStatus>,
    before: Option<OrderId>,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE ($1 IS NULL OR buyer_id = $1) AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(buyer.map(|b| b.to_string()))
    .bind(status.map(OrderStatus::as_str))
    .bind(before.map(|b| b.to_string()))
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(order_of).collect()
}

/// Orders placed since `since`, and the total of the paid ones.
pub async fn totals_since<'c>(
    ex: impl Executor<'c, Database = Any>,
    since: Timestamp,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
            "SELECT COUNT(*) AS placed,
                    CAST(COALESCE(SUM(CASE WHEN status IN ('paid', 'processing', 'shipped', 'delivered', 'completed',
                                                      'partially_refunded') THEN total ELSE 0 END), 0) AS BIGINT) AS revenue
             FROM orders WHERE created_at >= $1",
        )
        .bind(since.millis())
        .fetch_one(ex)
        .await?;
    Ok((row.try_get("placed")?, row.try_get("revenue")?))
}

// ---- fulfilments ------------------------------------------------------------------------------

fn fulfilment_status_of(row: &AnyRow, column: &str) -> Result<FulfilmentStatus, sqlx::Error> {
    let text: String = row.try_get(column)?;
    FulfilmentStatus::parse(&text).ok_or_else(|| decode_error(column, &text))
}

const FULFILMENT_COLUMNS: &str =
    "id, order_id, seller_id, status, tracking_number, carrier, created_at, updated_at, delivered_at";

fn fulfilment_of(row: &AnyRow) -> Result<(OrderId, Fulfilment), sqlx::Error> {
    let delivered_at: Option<i64> = row.try_get("delivered_at")?;
    Ok((
        parse_text(row, "order_id")?,
        Fulfilment {
            id: parse_text(row, "id")?,
            seller_id: parse_optional(row, "seller_id")?,
            status: fulfilment_status_of(row, "status")?,
            tracking_number: row.try_get("tracking_number")?,
            carrier: row.try_get("carrier")?,
            line_ids: Vec::new(),
            delivered_at: delivered_at.map(Timestamp::from_millis),
            timeline: Vec::new(),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        },
    ))
}

pub async fn insert_fulfilments(
    conn: &mut Connection,
    fulfilments: &[(OrderId, &Fulfilment)],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO order_fulfilments (id, order_id, seller_id, status, created_at, updated_at)",
        "",
        6,
        fulfilments,
        |args, (order, fulfilment)| {
            args.add(fulfilment.id.to_string())?;
            args.add(order.to_string())?;
            args.add(fulfilment.seller_id.map(|s| s.to_string()))?;
            args.add(fulfilment.status.as_str())?;
            args.add(now.millis())?;
            args.add(now.millis())
        },
    )
    .await
    .map(|_| ())
}

/// The fulfilments of an order, without their lines and timelines.
pub async fn fulfilments<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
) -> Result<Vec<Fulfilment>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {FULFILMENT_COLUMNS} FROM order_fulfilments WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| fulfilment_of(row).map(|(_, f)| f)).collect()
}

/// One fulfilment and the order it belongs to.
pub async fn fulfilment<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: FulfilmentId,
) -> Result<Option<(OrderId, Fulfilment)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {FULFILMENT_COLUMNS} FROM order_fulfilments WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(fulfilment_of).transpose()
}

pub async fn fulfilment_timeline<'c>(
    ex: impl Executor<'c, Database = Any>,
    order: OrderId,
) -> Result<Vec<(FulfilmentId, FulfilmentEntry)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.fulfilment_id, t.from_status, t.to_status, t.actor, t.note, t.at
         FROM fulfilment_timeline t JOIN order_fulfilments f ON f.id = t.fulfilment_id
         WHERE f.order_id = $1 ORDER BY t.id",
    )
    .bind(order.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let from: Option<String> = row.try_get("from_status")?;
            Ok((
                parse_text(row, "fulfilment_id")?,
                FulfilmentEntry {
                    from: from
                        .map(|f| FulfilmentStatus::parse(&f).ok_or_else(|| decode_error("from_status", &f)))
                        .transpose()?,
                    to: fulfilment_status_of(row, "to_status")?,
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    at: Timestamp::from_millis(row.try_get("at")?),
                },
            ))
        })
        .collect()
}

/// Moves the fulfilments given (each still in the status given for it) to `to`, stamping the
/// delivery time when `to` is delivered, and writes their timeline entries. Returns how many
/// moved: fewer than asked means another move got there first.
pub async fn move_fulfilments(
    conn: &mut Connection,
    moves: &[(FulfilmentId, FulfilmentStatus)],
    to: FulfilmentStatus,
    actor: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let mut moved = 0;
    for from in FulfilmentStatus::ALL {
        let ids: Vec<String> =
            moves.iter().filter(|(_, f)| *f == from).map(|(id, _)| id.to_string()).collect();
        moved +=
            bulk::move_statuses(conn, "order_fulfilments", &ids, from.as_str(), to.as_str(), now.millis())
                .await?;
    }
    if to == FulfilmentStatus::Delivered {
        for (id, _) in moves {
            sqlx::query(
                "UPDATE order_fulfilments SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
            )
            .bind(now.millis())
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    let entries: Vec<(FulfilmentId, Option<FulfilmentStatus>)> =
        moves.iter().map(|(id, from)| (*id, Some(*from))).collect();
    bulk::insert_rows(
        conn,
        "INSERT INTO fulfilment_timeline (id, fulfilment_id, from_status, to_status, actor, note, at)",
        "",
        7,
        &entries,
        |args, (id, from)| {
            args.add(uuid::Uuid::now_v7().to_string())?;
            args.add(id.to_string())?;
            args.add(from.map(FulfilmentStatus::as_str))?;
            args.add(to.as_str())?;
            args.add(actor)?;
            args.add(note)?;
            args.add(now.millis())
        },
    )
    .await?;
    Ok(moved)
}

pub async fn set_fulfilment_tracking<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: FulfilmentId,
    tracking: &str,
    carrier: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_fulfilments SET tracking_number = $1, carrier = COALESCE($2, carrier) WHERE id = $3",
    )
    .bind(tracking)
    .bind(carrier)
    .bind(id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// When each of the fulfilments given was delivered (those not delivered are left out).
pub async fn delivered_at<'c>(
    ex: impl Executor<'c, Database = Any>,
    ids: &[FulfilmentId],
) -> Result<Vec<(FulfilmentId, Timestamp)>, sqlx::Error> {
    let mut delivered = Vec::new();
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    if ids.is_empty() {
        return Ok(delivered);
    }
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT id, delivered_at FROM order_fulfilments WHERE delivered_at IS NOT NULL AND id IN ({list})"
    );
    let mut query = sqlx::query(&sql);
    for id in &ids {
        query = query.bind(id);
    }
    for row in query.fetch_all(ex).await? {
        delivered.push((parse_text(&row, "id")?, Timestamp::from_millis(row.try_get("delivered_at")?)));
    }
    Ok(delivered)
}

/// The orders in which `seller` has a fulfilment, newest first.
pub async fn seller_order_ids<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: UserId,
    status: Option<FulfilmentStatus>,
    before: Option<OrderId>,
    limit: i64,
) -> Result<Vec<OrderId>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT order_id FROM order_fulfilments
         WHERE seller_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR order_id < $3)
           AND status <> 'awaiting_payment'
         ORDER BY order_id DESC LIMIT $4",
    )
    .bind(seller.to_string())
    .bind(status.map(FulfilmentStatus::as_str))
    .bind(before.map(|b| b.to_string()))
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| parse_text(row, "order_id")).collect()
}

/// Whether the buyer has an order that was paid, whatever became of it since.
pub async fn has_paid_order<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: UserId,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS paid FROM orders
         WHERE buyer_id = $1 AND status IN ('paid', 'processing', 'shipped', 'delivered', 'completed',
                                            'partially_refunded', 'refunded')",
    )
    .bind(buyer.to_string())
    .fetch_one(ex)
    .await?;
    Ok(row.try_get::<i64, _>("paid")? > 0)
}
