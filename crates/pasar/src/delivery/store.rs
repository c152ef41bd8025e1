//! Delivery's tables: templates, rules, closed dates and capacity overrides per zone; the slots
//! made from them (one row per slot and day, with its held count); and each order's hold.

use jiff::civil::Date;
use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::domain::{CapacityOverride, Planned, Rules, SameDayCutoff, Template, TimeOfDay};
use crate::db::column::decode_error;
use crate::db::{Connection, bulk};
use crate::ids::{DeliverySlotId, DeliveryTemplateId, OrderId, ShippingZoneId};
use crate::time::Timestamp;

fn text<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

fn time_of_day(row: &AnyRow, column: &str) -> Result<TimeOfDay, sqlx::Error> {
    let minutes: i64 = row.try_get(column)?;
    u16::try_from(minutes)
        .ok()
        .and_then(|m| TimeOfDay::hm(m / 60, m % 60))
        .ok_or_else(|| decode_error(column, &minutes.to_string()))
}

fn template_of(row: &AnyRow) -> Result<Template, sqlx::Error> {
    let weekdays: String = row.try_get("weekdays")?;
    Ok(Template {
        id: text(row, "id")?,
        zone_id: text(row, "zone_id")?,
        weekdays: serde_json::from_str(&weekdays).map_err(|_| decode_error("weekdays", &weekdays))?,
        start: time_of_day(row, "start_minute")?,
        end: time_of_day(row, "end_minute")?,
        capacity: row.try_get("capacity")?,
    })
}

pub async fn templates<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
) -> Result<Vec<Template>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, zone_id, weekdays, start_minute, end_minute, capacity FROM delivery_templates
         WHERE zone_id = $1 ORDER BY start_minute, id",
    )
    .bind(zone.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(template_of).collect()
}

pub async fn insert_template<'c>(
    ex: impl Executor<'c, Database = Any>,
    template: &Template,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_templates (id, zone_id, weekdays, start_minute, end_minute, capacity, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(template.id.to_string())
    .bind(template.zone_id.to_string())
    .bind(serde_json::to_string(&template.weekdays).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(i64::from(template.start.minutes()))
    .bind(i64::from(template.end.minutes()))
    .bind(template.capacity)
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn delete_template<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    id: DeliveryTemplateId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM delivery_templates WHERE id = $1 AND zone_id = $2")
        .bind(id.to_string())
        .bind(zone.to_string())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn rules<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
) -> Result<Rules, sqlx::Error> {
    let row = sqlx::query(
        "SELECT lead_minutes, cutoff_order_by, cutoff_slots_from FROM delivery_rules WHERE zone_id = $1",
    )
    .bind(zone.to_string())
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else { return Ok(Rules::default()) };
    let order_by: Option<i64> = row.try_get("cutoff_order_by")?;
    Ok(Rules {
        lead_minutes: row.try_get("lead_minutes")?,
        same_day_cutoff: match order_by {
            Some(_) => Some(SameDayCutoff {
                order_by: time_of_day(&row, "cutoff_order_by")?,
                for_slots_from: time_of_day(&row, "cutoff_slots_from")?,
            }),
            None => None,
        },
    })
}

pub async fn set_rules<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    rules: &Rules,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_rules (zone_id, lead_minutes, cutoff_order_by, cutoff_slots_from, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (zone_id) DO UPDATE SET lead_minutes = excluded.lead_minutes,
           cutoff_order_by = excluded.cutoff_order_by, cutoff_slots_from = excluded.cutoff_slots_from,
           updated_at = excluded.updated_at",
    )
    .bind(zone.to_string())
    .bind(rules.lead_minutes)
    .bind(rules.same_day_cutoff.map(|c| i64::from(c.order_by.minutes())))
    .bind(rules.same_day_cutoff.map(|c| i64::from(c.for_slots_from.minutes())))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn closed_dates<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
) -> Result<Vec<Date>, sqlx::Error> {
    let rows = sqlx::query("SELECT date FROM delivery_closed_dates WHERE zone_id = $1 ORDER BY date")
        .bind(zone.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter().map(|row| text(row, "date")).collect()
}

pub async fn add_closed_date<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    date: Date,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO delivery_closed_dates (zone_id, date) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(zone.to_string())
        .bind(date.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn remove_closed_date<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    date: Date,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM delivery_closed_dates WHERE zone_id = $1 AND date = $2")
        .bind(zone.to_string())
        .bind(date.to_string())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A date-wide override is stored under the template id '' (a key column cannot be NULL).
const EVERY_SLOT: &str = "";

pub async fn overrides<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
) -> Result<Vec<CapacityOverride>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT date, template_id, capacity FROM delivery_capacity_overrides WHERE zone_id = $1
         ORDER BY date, template_id",
    )
    .bind(zone.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let template: String = row.try_get("template_id")?;
            Ok(CapacityOverride {
                date: text(row, "date")?,
                template_id: match template.as_str() {
                    EVERY_SLOT => None,
                    id => Some(id.parse().map_err(|_| decode_error("template_id", id))?),
                },
                capacity: row.try_get("capacity")?,
            })
        })
        .collect()
}

pub async fn set_override<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    capacity: &CapacityOverride,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_capacity_overrides (zone_id, date, template_id, capacity) VALUES ($1, $2, $3, $4)
         ON CONFLICT (zone_id, date, template_id) DO UPDATE SET capacity = excluded.capacity",
    )
    .bind(zone.to_string())
    .bind(capacity.date.to_string())
    .bind(capacity.template_id.map_or_else(|| EVERY_SLOT.to_owned(), |id| id.to_string()))
    .bind(capacity.capacity)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A slot's row: when, for how many, and how many are held.
#[derive(Clone, Copy, Debug)]
pub struct SlotRow {
    pub id: DeliverySlotId,
    pub zone_id: ShippingZoneId,
    pub template_id: DeliveryTemplateId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub capacity: i64,
    pub held: i64,
}

fn slot_of(row: &AnyRow) -> Result<SlotRow, sqlx::Error> {
    Ok(SlotRow {
        id: text(row, "id")?,
        zone_id: text(row, "zone_id")?,
        template_id: text(row, "template_id")?,
        start: Timestamp::from_millis(row.try_get("starts_at")?),
        end: Timestamp::from_millis(row.try_get("ends_at")?),
        capacity: row.try_get("capacity")?,
        held: row.try_get("held")?,
    })
}

const SLOT_COLUMNS: &str = "id, zone_id, template_id, starts_at, ends_at, capacity, held";

/// The zone's slot rows starting in [from, to).
pub async fn slots_between<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: ShippingZoneId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SlotRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SLOT_COLUMNS} FROM delivery_slots WHERE zone_id = $1 AND starts_at >= $2 AND starts_at < $3
         ORDER BY starts_at, id"
    ))
    .bind(zone.to_string())
    .bind(from.millis())
    .bind(to.millis())
    .fetch_all(ex)
    .await?;
    rows.iter().map(slot_of).collect()
}

pub async fn slot<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: DeliverySlotId,
) -> Result<Option<SlotRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {SLOT_COLUMNS} FROM delivery_slots WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(slot_of).transpose()
}

/// Writes the planned slots that have no row yet (another instance writing the same slot at
/// the same moment keeps its row).
pub async fn insert_slots(
    conn: &mut Connection,
    zone: ShippingZoneId,
    slots: &[Planned],
) -> Result<(), sqlx::Error> {
    let zone = zone.to_string();
    bulk::insert_rows(
        conn,
        "INSERT INTO delivery_slots (id, zone_id, template_id, starts_at, ends_at, capacity, held)",
        "ON CONFLICT (zone_id, template_id, starts_at) DO NOTHING",
        7,
        slots,
        |args, slot| {
            args.add(DeliverySlotId::new().to_string())?;
            args.add(zone.clone())?;
            args.add(slot.template_id.to_string())?;
            args.add(slot.start.millis())?;
            args.add(slot.end.millis())?;
            args.add(slot.capacity)?;
            args.add(0_i64)
        },
    )
    .await
    .map(|_| ())
}

pub async fn set_capacity<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: DeliverySlotId,
    capacity: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE delivery_slots SET capacity = $1 WHERE id = $2")
        .bind(capacity)
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Takes one place of the slot for the order, if one is left: the conditional update is what
/// keeps concurrent checkouts within the capacity (the row lock on PostgreSQL, the single
/// writer on SQLite).
pub async fn hold(
    conn: &mut Connection,
    slot: DeliverySlotId,
    order: OrderId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query("UPDATE delivery_slots SET held = held + 1 WHERE id = $1 AND held < capacity")
        .bind(slot.to_string())
        .execute(&mut *conn)
        .await?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO delivery_holds (order_id, slot_id, state, created_at, updated_at) VALUES ($1, $2, 'held', $3, $3)
         ON CONFLICT (order_id) DO UPDATE SET slot_id = excluded.slot_id, state = 'held', updated_at = excluded.updated_at",
    )
    .bind(order.to_string())
    .bind(slot.to_string())
    .bind(now.millis())
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// The order's place, held or consumed, goes back to its slot. False when it had none.
pub async fn release(conn: &mut Connection, order: OrderId, now: Timestamp) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE delivery_holds SET state = 'released', updated_at = $1
         WHERE order_id = $2 AND state IN ('held', 'consumed') RETURNING slot_id",
    )
    .bind(now.millis())
    .bind(order.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let slot: String = row.try_get("slot_id")?;
    sqlx::query("UPDATE delivery_slots SET held = held - 1 WHERE id = $1")
        .bind(slot)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// The order's held place is its for good (the order is paid).
pub async fn consume(conn: &mut Connection, order: OrderId, now: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE delivery_holds SET state = 'consumed', updated_at = $1 WHERE order_id = $2 AND state = 'held'")
        .bind(now.millis())
        .bind(order.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// The slot of an order whose place was released, to take it again.
pub async fn released_slot(
    conn: &mut Connection,
    order: OrderId,
) -> Result<Option<DeliverySlotId>, sqlx::Error> {
    let row = sqlx::query("SELECT slot_id FROM delivery_holds WHERE order_id = $1 AND state = 'released'")
        .bind(order.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(|row| text(row, "slot_id")).transpose()
}

/// Paid orders' places in slots starting in [from, to), optionally of one zone: (slot, order),
/// in slot order then in the order they were booked.
pub async fn consumed_between<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: Option<ShippingZoneId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(SlotRow, OrderId)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.id, s.zone_id, s.template_id, s.starts_at, s.ends_at, s.capacity, s.held, h.order_id
         FROM delivery_holds h JOIN delivery_slots s ON s.id = h.slot_id
         WHERE h.state = 'consumed' AND s.starts_at >= $1 AND s.starts_at < $2 AND ($3 = '' OR s.zone_id = $3)
         ORDER BY s.starts_at, s.id, h.created_at, h.order_id",
    )
    .bind(from.millis())
    .bind(to.millis())
    .bind(zone.map_or_else(String::new, |z| z.to_string()))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| Ok((slot_of(row)?, text(row, "order_id")?))).collect()
}
