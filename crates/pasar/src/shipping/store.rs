//! Shipping's tables: zones and methods, their rules kept as JSON.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{DeliveryDays, Method, Zone};
use crate::db::column::decode_error;
use crate::ids::{ShippingMethodId, ShippingZoneId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| decode_error(column, &text))
}

fn text<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

fn zone_of(row: &AnyRow) -> Result<Zone, sqlx::Error> {
    let area: Option<String> = row.try_get("area")?;
    Ok(Zone {
        id: text(row, "id")?,
        name: row.try_get("name")?,
        country: row.try_get("country")?,
        postal_prefixes: json(row, "postal_prefixes")?,
        postal_ranges: json(row, "postal_ranges")?,
        area: area.map(|a| serde_json::from_str(&a).map_err(|_| decode_error("area", &a))).transpose()?,
    })
}

fn method_of(row: &AnyRow) -> Result<Method, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    let currency = Currency::parse(&currency).map_err(|_| decode_error("currency", &currency))?;
    let days = |column: &str| -> Result<u32, sqlx::Error> {
        let days: i64 = row.try_get(column)?;
        u32::try_from(days).map_err(|_| decode_error(column, &days.to_string()))
    };
    Ok(Method {
        id: text(row, "id")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        currency,
        rate: json(row, "rate")?,
        free_above: row.try_get::<Option<i64>, _>("free_above")?.map(|amount| Money::new(amount, currency)),
        zone_ids: json(row, "zone_ids")?,
        delivery_days: DeliveryDays { min: days("min_days")?, max: days("max_days")? },
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

pub async fn zones<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Vec<Zone>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, country, postal_prefixes, postal_ranges, area FROM shipping_zones ORDER BY id",
    )
    .fetch_all(ex)
    .await?;
    rows.iter().map(zone_of).collect()
}

pub async fn insert_zone<'c>(
    ex: impl Executor<'c, Database = Any>,
    zone: &Zone,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipping_zones (id, name, country, postal_prefixes, postal_ranges, area, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(zone.id.to_string())
    .bind(&zone.name)
    .bind(&zone.country)
    .bind(to_json(&zone.postal_prefixes))
    .bind(to_json(&zone.postal_ranges))
    .bind(zone.area.as_ref().map(to_json))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn delete_zone<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ShippingZoneId,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM shipping_zones WHERE id = $1").bind(id.to_string()).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

const METHOD_COLUMNS: &str =
    "id, code, name, currency, rate, free_above, zone_ids, min_days, max_days, active";

pub async fn methods<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Vec<Method>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {METHOD_COLUMNS} FROM shipping_methods ORDER BY id"))
        .fetch_all(ex)
        .await?;
    rows.iter().map(method_of).collect()
}

pub async fn insert_method<'c>(
    ex: impl Executor<'c, Database = Any>,
    method: &Method,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipping_methods (id, code, name, currency, rate, free_above, zone_ids, min_days, max_days,
                                       active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(method.id.to_string())
    .bind(&method.code)
    .bind(&method.name)
    .bind(method.currency.code())
    .bind(to_json(&method.rate))
    .bind(method.free_above.map(|m| m.amount))
    .bind(to_json(&method.zone_ids))
    .bind(i64::from(method.delivery_days.min))
    .bind(i64::from(method.delivery_days.max))
    .bind(i64::from(method.active))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn delete_method<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ShippingMethodId,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM shipping_methods WHERE id = $1").bind(id.to_string()).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Shipping's own rules as JSON text (serialising these plain types cannot fail).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("shipping rules serialise")
}
