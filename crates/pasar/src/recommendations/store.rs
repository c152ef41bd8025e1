//! Recommendations' tables: the paid orders counted (each once, and taken back once when wholly
//! refunded), orders per product and per pair of products, what each buyer bought, and units
//! sold per category, product and day.

use std::collections::BTreeSet;

use sqlx::{Any, Executor, Row};

use super::domain::Together;
use crate::db::Connection;
use crate::db::column::parse_text;
use crate::ids::{CategoryId, OrderId, ProductId, UserId};
use crate::time::Timestamp;

/// Marks `order` counted; false when it was counted already (the outbox hands events at least
/// once).
pub async fn claim_order(conn: &mut Connection, order: OrderId, at: Timestamp) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO recommendation_orders (order_id, counted_at) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order.to_string())
    .bind(at.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a counted `order` taken back (wholly refunded); false when it was not counted or was
/// taken back already.
pub async fn unclaim_order(
    conn: &mut Connection,
    order: OrderId,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE recommendation_orders SET refunded_at = $1 WHERE order_id = $2 AND refunded_at IS NULL",
    )
    .bind(at.millis())
    .bind(order.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds `delta` (1 for an order paid, -1 for one taken back) to the orders holding `product`.
pub async fn count_product(conn: &mut Connection, product: ProductId, delta: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recommendation_products (product_id, orders) VALUES ($1, $2)
         ON CONFLICT (product_id) DO UPDATE SET orders = recommendation_products.orders + $2",
    )
    .bind(product.to_string())
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `delta` to the pair both ways, so that a product's companions are one indexed read.
pub async fn count_pair(
    conn: &mut Connection,
    a: ProductId,
    b: ProductId,
    delta: i64,
) -> Result<(), sqlx::Error> {
    for (x, y) in [(a, b), (b, a)] {
        sqlx::query(
            "INSERT INTO recommendation_pairs (product_id, other_id, orders) VALUES ($1, $2, $3)
             ON CONFLICT (product_id, other_id) DO UPDATE SET orders = recommendation_pairs.orders + $3",
        )
        .bind(x.to_string())
        .bind(y.to_string())
        .bind(delta)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn record_purchase(
    conn: &mut Connection,
    buyer: UserId,
    product: ProductId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recommendation_purchases (buyer_id, product_id) VALUES ($1, $2)
         ON CONFLICT (buyer_id, product_id) DO NOTHING",
    )
    .bind(buyer.to_string())
    .bind(product.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `units` (negative for an order taken back) to `product`'s sales on `day`.
pub async fn add_sales(
    conn: &mut Connection,
    category: CategoryId,
    product: ProductId,
    day: i64,
    units: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recommendation_sales (category_id, product_id, day, units) VALUES ($1, $2, $3, $4)
         ON CONFLICT (category_id, product_id, day) DO UPDATE SET units = recommendation_sales.units + $4",
    )
    .bind(category.to_string())
    .bind(product.to_string())
    .bind(day)
    .bind(units)
    .execute(conn)
    .await?;
    Ok(())
}

/// The paid orders holding `product`.
pub async fn orders_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT orders FROM recommendation_products WHERE product_id = $1")
        .bind(product.to_string())
        .fetch_optional(ex)
        .await?;
    row.map_or(Ok(0), |row| row.try_get("orders"))
}

/// Every product bought with `product`, with its counts.
pub async fn together<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
) -> Result<Vec<Together>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.other_id, p.orders AS both_orders, c.orders AS other_orders
         FROM recommendation_pairs p JOIN recommendation_products c ON c.product_id = p.other_id
         WHERE p.product_id = $1 AND p.orders > 0",
    )
    .bind(product.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Together {
                other: parse_text(row, "other_id")?,
                both: row.try_get("both_orders")?,
                other_orders: row.try_get("other_orders")?,
            })
        })
        .collect()
}

/// Units of each product of `category` sold from day `since` on.
pub async fn sales_since<'c>(
    ex: impl Executor<'c, Database = Any>,
    category: CategoryId,
    since: i64,
) -> Result<Vec<(ProductId, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT product_id, CAST(SUM(units) AS BIGINT) AS units FROM recommendation_sales
         WHERE category_id = $1 AND day >= $2 GROUP BY product_id HAVING SUM(units) > 0",
    )
    .bind(category.to_string())
    .bind(since)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| Ok((parse_text(row, "product_id")?, row.try_get::<i64, _>("units")?))).collect()
}

/// The categories of what `buyer` bought, from the sales counted.
pub async fn categories_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: UserId,
) -> Result<BTreeSet<CategoryId>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT s.category_id FROM recommendation_sales s
         JOIN recommendation_purchases b ON b.product_id = s.product_id WHERE b.buyer_id = $1",
    )
    .bind(buyer.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| parse_text(row, "category_id")).collect()
}

pub async fn bought_by<'c>(
    ex: impl Executor<'c, Database = Any>,
    buyer: UserId,
) -> Result<BTreeSet<ProductId>, sqlx::Error> {
    let rows = sqlx::query("SELECT product_id FROM recommendation_purchases WHERE buyer_id = $1")
        .bind(buyer.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter().map(|row| parse_text(row, "product_id")).collect()
}

/// Whether the one-off job `name` ran to its end.
pub async fn job_done<'c>(ex: impl Executor<'c, Database = Any>, name: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM recommendation_jobs WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await?
        .is_some())
}

pub async fn mark_job_done(db: &crate::db::Db, name: &str, at: Timestamp) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO recommendation_jobs (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(at.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
