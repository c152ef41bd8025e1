//! `/seller`: the store's sales over the last 30 days (the seller analytics), what the
//! marketplace owes it, and its payouts.

use axum::extract::State;
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::{Need, page, store_for};
use crate::analytics::Period;
use crate::catalog::Actor;
use crate::http::AppState;
use crate::web::charts::{bar_chart, day_label};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};
use crate::web::visit::Visit;

/// Payouts the dashboard lists.
const PAYOUTS: usize = 10;

#[derive(Serialize)]
struct PayoutRow {
    date: String,
    amount: String,
    status: String,
    provider: String,
}

#[derive(Serialize)]
struct TopProduct {
    name: String,
    href: String,
    units: i64,
    revenue: String,
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit) -> PageResult {
    let store = match store_for(&state, &visit, "/seller", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let locale = visit.locale;
    let money = |m| locale.format_money(m);
    let balance =
        state.payables.balance(store.user, state.wallet.currency()).await.map_err(PageError::internal)?;
    let period = Period::new(None, None, None, Some(store.user), state.analytics.now())
        .map_err(PageError::internal)?;
    let sales = state.analytics.sales(&period).await.map_err(PageError::internal)?;
    let products = state.analytics.products(&period).await.map_err(PageError::internal)?;
    let (payouts, _) =
        state.payables.payouts(store.user, None, PAYOUTS).await.map_err(PageError::internal)?;

    let points: Vec<(String, i64, String)> = sales
        .series
        .iter()
        .map(|point| (day_label(point.start), point.figures.gmv.amount, money(point.figures.gmv)))
        .collect();
    let chart = bar_chart("seller-gmv", i18n::message(locale, "seller_gmv_per_day").into(), &points);

    let mut top = Vec::new();
    for figures in products.top_products {
        let name = match state.catalog.product_as(Actor::Seller(store.user), figures.product_id).await {
            Ok(product) => product.name,
            Err(_) => figures.product_id.to_string(),
        };
        top.push(TopProduct {
            name,
            href: format!("/seller/products/{}", figures.product_id),
            units: figures.units,
            revenue: money(figures.revenue),
        });
    }
    let payouts: Vec<PayoutRow> = payouts
        .into_iter()
        .map(|payout| PayoutRow {
            date: locale.format_datetime(payout.created_at),
            amount: money(payout.amount),
            status: i18n::message(locale, &format!("seller_payout_{}", payout.status.as_str())).to_owned(),
            provider: payout.provider,
        })
        .collect();
    let totals = &sales.totals;
    let figures = context! {
        gmv => money(totals.gmv),
        refunds => money(totals.refunds),
        net_revenue => money(totals.net_revenue),
        fees => money(totals.fees),
        orders_paid => totals.orders_paid,
        average_order_value => money(totals.average_order_value),
    };
    let owed = context! {
        sales => money(balance.sales),
        commission => money(balance.commission),
        held => money(balance.held),
        available => money(balance.available),
        in_transit => money(balance.in_transit),
        paid_out => money(balance.paid_out),
    };
    Ok(page(
        &visit,
        &store,
        StatusCode::OK,
        "home",
        "seller/dashboard.html",
        context! {
            figures,
            owed,
            from => locale.format_datetime(sales.from),
            to => locale.format_datetime(sales.to),
            chart => Value::from(Serde(&chart)),
            top => Value::from(Serde(&top)),
            payouts => Value::from(Serde(&payouts)),
        },
    ))
}
