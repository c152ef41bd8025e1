//! `/admin`: the shop's figures (from the analytics service, as `/v1/admin/analytics/…`
//! reads them) and two charts drawn here as SVG.

use axum::extract::State;
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::Serde;
use serde::Serialize;

use super::{Admin, page};
use crate::analytics::Period;
use crate::analytics::domain::Interval;
use crate::http::AppState;
use crate::locale::Locale;
use crate::time::Timestamp;
use crate::web::charts::{bar_chart, day_label};
use crate::web::templates::{PageError, PageResult};

/// Days in the GMV chart and the week's figures (today included).
const DAYS: i64 = 7;
/// Hours in the orders chart.
const HOURS: i64 = 24;
/// Rows in the top products and stores tables.
const TOP: usize = 5;

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn hour_label(at: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.millis())
        .map(|d| d.format("%H").to_string())
        .unwrap_or_default()
}

#[derive(Serialize)]
struct ChannelRow {
    provider: String,
    method: String,
    succeeded: i64,
    failed: i64,
    rate: String,
}

#[derive(Serialize)]
struct TopProduct {
    name: String,
    href: String,
    units: i64,
    revenue: String,
}

#[derive(Serialize)]
struct TopStore {
    name: String,
    orders: i64,
    revenue: String,
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, admin: Admin) -> PageResult {
    let locale: Locale = admin.visit.locale;
    let now = state.analytics.now();
    let day = Interval::Day.millis();
    let today = Interval::Day.start_of(now.millis());
    let week_from = Timestamp::from_millis(today - (DAYS - 1) * day);
    let week = Period::new(Some(week_from), Some(now), Some(Interval::Day), None, now)
        .map_err(PageError::internal)?;
    let hour = Interval::Hour.millis();
    let hours_from = Timestamp::from_millis(Interval::Hour.start_of(now.millis()) - (HOURS - 1) * hour);
    let hours = Period::new(Some(hours_from), Some(now), Some(Interval::Hour), None, now)
        .map_err(PageError::internal)?;

    let sales = state.analytics.sales(&week).await.map_err(PageError::internal)?;
    let orders = state.analytics.orders(&week).await.map_err(PageError::internal)?;
    let hourly = state.analytics.orders(&hours).await.map_err(PageError::internal)?;
    let payments = state.analytics.payments(&week).await.map_err(PageError::internal)?;
    let products = state.analytics.products(&week).await.map_err(PageError::internal)?;
    let low_stock = state.inventory.low_count().await.map_err(PageError::internal)?;

    let gmv_today = sales.series.last().map_or(sales.totals.gmv, |p| p.figures.gmv);
    let gmv_points: Vec<(String, i64, String)> = sales
        .series
        .iter()
        .map(|p| (day_label(p.start), p.figures.gmv.amount, locale.format_money(p.figures.gmv)))
        .collect();
    let order_points: Vec<(String, i64, String)> = hourly
        .series
        .iter()
        .map(|p| (hour_label(p.start), p.figures.orders_placed, p.figures.orders_placed.to_string()))
        .collect();
    let gmv_chart =
        bar_chart("gmv", crate::web::i18n::message(locale, "admin_gmv_per_day").into(), &gmv_points);
    let orders_chart =
        bar_chart("hourly", crate::web::i18n::message(locale, "admin_orders_per_hour").into(), &order_points);

    let channels: Vec<ChannelRow> = payments
        .channels
        .iter()
        .map(|c| ChannelRow {
            provider: c.provider.clone(),
            method: c.method.clone(),
            succeeded: c.figures.succeeded,
            failed: c.figures.failed + c.figures.expired + c.figures.cancelled,
            rate: percent(c.figures.success_rate),
        })
        .collect();
    let mut top_products = Vec::new();
    for p in products.top_products.iter().take(TOP) {
        let name = match state.catalog.product(p.product_id).await {
            Ok(product) => product.name,
            Err(_) => p.product_id.to_string(),
        };
        top_products.push(TopProduct {
            name,
            href: format!("/admin/products/{}", p.product_id),
            units: p.units,
            revenue: locale.format_money(p.revenue),
        });
    }
    let mut top_stores = Vec::new();
    for s in products.top_stores.iter().take(TOP) {
        let name = match state.identity.user(s.store_id).await {
            Ok(user) => user.name,
            Err(_) => s.store_id.to_string(),
        };
        top_stores.push(TopStore { name, orders: s.orders, revenue: locale.format_money(s.revenue) });
    }

    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/dashboard.html",
        "dashboard",
        context! {
            gmv_today => locale.format_money(gmv_today),
            gmv_week => locale.format_money(sales.totals.gmv),
            orders_paid => sales.totals.orders_paid,
            orders_placed => orders.totals.orders_placed,
            cart_to_order => percent(orders.totals.cart_to_order),
            order_to_paid => percent(orders.totals.order_to_paid),
            low_stock,
            gmv_chart => Serde(&gmv_chart),
            orders_chart => Serde(&orders_chart),
            channels => Serde(&channels),
            top_products => Serde(&top_products),
            top_stores => Serde(&top_stores),
        },
    ))
}
