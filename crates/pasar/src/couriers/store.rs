//! Couriers' tables: shipments and their tracking events.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{Shipment, TrackingEvent};
use crate::db::Connection;
use crate::db::column::parse_text;
use crate::ids::{FulfilmentId, OrderId, ShipmentId};
use crate::time::Timestamp;

const COLUMNS: &str = "id, order_id, fulfilment_id, provider, provider_ref, tracking_ref, courier, service, \
                       tracking_number, tracking_url, label_url, status, created_at, updated_at";

fn shipment_of(row: &AnyRow) -> Result<Shipment, sqlx::Error> {
    Ok(Shipment {
        id: parse_text(row, "id")?,
        order_id: parse_text(row, "order_id")?,
        fulfilment_id: parse_text(row, "fulfilment_id")?,
        provider: row.try_get("provider")?,
        provider_ref: row.try_get("provider_ref")?,
        tracking_ref: row.try_get("tracking_ref")?,
        courier: row.try_get("courier")?,
        service: row.try_get("service")?,
        tracking_number: row.try_get("tracking_number")?,
        tracking_url: row.try_get("tracking_url")?,
        label_url: row.try_get("label_url")?,
        status: row.try_get("status")?,
        events: Vec::new(),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

fn event_of(row: &AnyRow) -> Result<TrackingEvent, sqlx::Error> {
    Ok(TrackingEvent {
        status: row.try_get("status")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        occurred_at: Timestamp::from_millis(row.try_get("occurred_at")?),
    })
}

pub async fn insert_shipment(conn: &mut Connection, shipment: &Shipment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipments (id, order_id, fulfilment_id, provider, provider_ref, tracking_ref, courier,
                                service, tracking_number, tracking_url, label_url, status, settled, polled_at,
                                created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, $13)",
    )
    .bind(shipment.id.to_string())
    .bind(shipment.order_id.to_string())
    .bind(shipment.fulfilment_id.to_string())
    .bind(shipment.provider.as_deref())
    .bind(shipment.provider_ref.as_deref())
    .bind(shipment.tracking_ref.as_deref())
    .bind(shipment.courier.as_deref())
    .bind(shipment.service.as_deref())
    .bind(shipment.tracking_number.as_str())
    .bind(shipment.tracking_url.as_deref())
    .bind(shipment.label_url.as_deref())
    .bind(shipment.status.as_str())
    .bind(shipment.created_at.millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds `event` unless the shipment already went through its status (the unique key is the
/// last word when a webhook and a poll race); answers whether it was added.
pub async fn insert_event(
    conn: &mut Connection,
    shipment: ShipmentId,
    event: &TrackingEvent,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO shipment_events (id, shipment_id, status, description, location, occurred_at, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (shipment_id, status) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(shipment.to_string())
    .bind(event.status.as_str())
    .bind(event.description.as_str())
    .bind(event.location.as_deref())
    .bind(event.occurred_at.millis())
    .bind(now.millis())
    .execute(&mut *conn)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Sets a shipment's latest status (and waybill, when the courier issued a new one).
pub async fn update_status(
    conn: &mut Connection,
    id: ShipmentId,
    status: &str,
    settled: bool,
    waybill: Option<&str>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shipments SET status = $1, settled = $2, tracking_number = COALESCE($3, tracking_number),
                              updated_at = $4
         WHERE id = $5",
    )
    .bind(status)
    .bind(i64::from(settled))
    .bind(waybill)
    .bind(now.millis())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_polled<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ShipmentId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shipments SET polled_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(id.to_string())
        .execute(ex)
        .await?;
    Ok(())
}

/// The shipment, locked for the rest of the transaction where the database locks rows (so a
/// webhook and a poll of it apply one after the other).
pub async fn shipment_for_update(
    conn: &mut Connection,
    id: ShipmentId,
) -> Result<Option<Shipment>, sqlx::Error> {
    // A no-op write takes the row lock on PostgreSQL; SQLite's single writer serialises anyway.
    sqlx::query("UPDATE shipments SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM shipments WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut shipment = shipment_of(&row)?;
    shipment.events = events(&mut *conn, id).await?;
    Ok(Some(shipment))
}

pub async fn by_provider_ref<'c>(
    ex: impl Executor<'c, Database = Any>,
    provider: &str,
    provider_ref: &str,
) -> Result<Option<ShipmentId>, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM shipments WHERE provider = $1 AND provider_ref = $2")
        .bind(provider)
        .bind(provider_ref)
        .fetch_optional(ex)
        .await?;
    row.map(|r| parse_text(&r, "id")).transpose()
}

/// Booked shipments still moving whose courier was last asked before `before`, oldest first.
pub async fn due_for_polling<'c>(
    ex: impl Executor<'c, Database = Any>,
    provider: &str,
    before: Timestamp,
    limit: i64,
) -> Result<Vec<ShipmentId>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id FROM shipments WHERE provider = $1 AND settled = 0 AND polled_at <= $2
         ORDER BY polled_at, id LIMIT $3",
    )
    .bind(provider)
    .bind(before.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| parse_text(r, "id")).collect()
}

async fn events<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ShipmentId,
) -> Result<Vec<TrackingEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status, description, location, occurred_at FROM shipment_events
         WHERE shipment_id = $1 ORDER BY occurred_at, id",
    )
    .bind(id.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(event_of).collect()
}

/// Every shipment of an order, oldest first, with its events.
pub async fn for_order(conn: &mut Connection, order: OrderId) -> Result<Vec<Shipment>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM shipments WHERE order_id = $1 ORDER BY id"))
        .bind(order.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut shipments = rows.iter().map(shipment_of).collect::<Result<Vec<_>, _>>()?;
    for shipment in &mut shipments {
        shipment.events = events(&mut *conn, shipment.id).await?;
    }
    Ok(shipments)
}

pub async fn has_shipment<'c>(
    ex: impl Executor<'c, Database = Any>,
    part: FulfilmentId,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM shipments WHERE fulfilment_id = $1 LIMIT 1")
        .bind(part.to_string())
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

/// One shipment, without its events.
pub async fn shipment<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ShipmentId,
) -> Result<Option<Shipment>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM shipments WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(shipment_of).transpose()
}
