//! `/orders/{id}`: one of the buyer's orders (lines, totals, payment, status timeline, parts
//! with carrier and tracking, the delivery slot, and the digital keys of a paid order, shown
//! only to its buyer); `/account/orders`: the buyer's orders, newest first, paged.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::super::i18n;
use super::super::templates::{PageError, PageResult, render};
use super::super::visit::Visit;
use super::to_login;
use crate::http::AppState;
use crate::ids::OrderId;
use crate::inventory::ItemContent;
use crate::locale::Locale;
use crate::orders::{Order, OrderFilter, OrderStatus, OrdersError};
use crate::payments::PaymentStatus;

/// Orders per page of `/account/orders`.
const PER_PAGE: usize = 20;

fn order_status_text(locale: Locale, status: OrderStatus) -> String {
    i18n::message(locale, &format!("buy_order_{}", status.as_str())).to_owned()
}

#[derive(Serialize)]
struct Line {
    name: String,
    sku: String,
    options: String,
    href: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
    keys: Vec<String>,
    files: Vec<String>,
}

#[derive(Serialize)]
struct Step {
    status: String,
    at: String,
    at_iso: String,
    note: Option<String>,
}

#[derive(Serialize)]
struct Part {
    number: usize,
    status: String,
    carrier: Option<String>,
    tracking: Option<String>,
    tracking_url: Option<String>,
    items: Vec<String>,
}

#[derive(Serialize)]
struct PaymentRow {
    href: Option<String>,
    method: String,
    status: String,
    fee: String,
    total: String,
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit, Path(raw): Path<String>) -> PageResult {
    let Some(buyer) = visit.principal else {
        let id: String = raw.chars().filter(char::is_ascii_alphanumeric).chain("_".chars()).collect();
        let id = id.trim_end_matches('_');
        return Ok(to_login(&format!("/orders/{id}")));
    };
    let id: OrderId = raw.parse().map_err(|_| PageError::not_found())?;
    let order = state.orders.order(id).await.map_err(|err| match err {
        OrdersError::NotFound => PageError::not_found(),
        err => PageError::internal(err),
    })?;
    if order.buyer_id != buyer.user {
        return Err(PageError::not_found());
    }
    let locale = visit.locale;
    let money = |m| locale.format_money(m);

    // The digital items delivered to this order: only its buyer reaches this far.
    let delivered =
        state.inventory.delivered_items(&order.id.to_string()).await.map_err(PageError::internal)?;
    let lines: Vec<Line> = order
        .lines
        .iter()
        .map(|line| {
            let mine = delivered.iter().filter(|item| item.order_line_id == line.id);
            let (mut keys, mut files) = (Vec::new(), Vec::new());
            for item in mine {
                match &item.content {
                    ItemContent::Text(text) => keys.push(text.clone()),
                    ItemContent::File(file) => files.push(file.file_name.clone()),
                }
            }
            Line {
                name: line.product_name.clone(),
                sku: line.sku.clone(),
                options: line.options.values().cloned().collect::<Vec<_>>().join(" · "),
                href: format!("/products/{}", line.product_id),
                quantity: line.quantity,
                unit_price: money(line.unit_price),
                line_total: money(line.line_total),
                keys,
                files,
            }
        })
        .collect();

    let payments = state.payments.for_reference(&order.id.to_string()).await.map_err(PageError::internal)?;
    let payment_rows: Vec<PaymentRow> = payments
        .iter()
        .map(|p| PaymentRow {
            href: (p.status == PaymentStatus::Pending).then(|| format!("/pay/{}", p.id)),
            method: {
                let key = format!("buy_method_{}", p.method);
                let label = i18n::message(locale, &key);
                if label == key { p.method.clone() } else { label.to_owned() }
            },
            status: i18n::message(locale, &format!("buy_payment_{}", p.status.as_str())).to_owned(),
            fee: money(p.fee),
            total: money(p.total),
        })
        .collect();

    let timeline: Vec<Step> = order
        .timeline
        .iter()
        .map(|entry| Step {
            status: order_status_text(locale, entry.to),
            at: locale.format_datetime(entry.at),
            at_iso: entry.at.to_rfc3339(),
            note: entry.note.clone(),
        })
        .collect();

    let shipments = state.couriers.for_order(order.id).await.map_err(PageError::internal)?;
    let parts: Vec<Part> = order
        .fulfilments
        .iter()
        .enumerate()
        .map(|(index, part)| {
            let shipment = shipments.iter().find(|s| s.fulfilment_id == part.id);
            Part {
                number: index + 1,
                status: i18n::message(locale, &format!("buy_part_{}", part.status.as_str())).to_owned(),
                carrier: part.carrier.clone().or_else(|| shipment.and_then(|s| s.courier.clone())),
                tracking: part
                    .tracking_number
                    .clone()
                    .or_else(|| shipment.map(|s| s.tracking_number.clone())),
                tracking_url: shipment
                    .and_then(|s| s.tracking_url.clone())
                    .filter(|u| u.starts_with("https://")),
                items: order.lines_of(part).map(|l| format!("{} × {}", l.product_name, l.quantity)).collect(),
            }
        })
        .collect();

    let address = order.shipping_address.as_ref().map(|a| {
        [
            Some(a.name.as_str().to_owned()),
            Some(String::from(a.phone.clone())),
            Some(a.line1.as_str().to_owned()),
            a.line2.as_ref().map(|l| l.as_str().to_owned()),
            Some(a.city.as_str().to_owned()),
            a.region.as_ref().map(|r| r.as_str().to_owned()),
            Some(format!("{} {}", a.postal_code.as_str(), String::from(a.country.clone()))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
    });
    let slot = order
        .delivery_slot
        .map(|s| format!("{} – {}", locale.format_datetime(s.start), locale.format_datetime(s.end)));
    let page = context! {
        back => format!("/orders/{}", order.id),
        id => order.id.to_string(),
        status => order.status.as_str(),
        status_text => order_status_text(locale, order.status),
        created => locale.format_datetime(order.created_at),
        lines => Value::from(Serde(&lines)),
        subtotal => money(order.subtotal),
        discount => (order.discount.amount > 0).then(|| money(order.discount)),
        shipping => (order.shipping_address.is_some()).then(|| money(order.shipping)),
        total => money(order.total),
        vouchers => order.vouchers.iter().map(|v| v.code.clone()).collect::<Vec<_>>(),
        payments => Value::from(Serde(&payment_rows)),
        timeline => Value::from(Serde(&timeline)),
        parts => Value::from(Serde(&parts)),
        address,
        shipping_method => order.shipping_method.clone(),
        slot,
    };
    Ok(render(&visit, StatusCode::OK, "buy/order.html", page))
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    created: String,
    status: String,
    items: String,
    total: String,
}

fn summary(locale: Locale, order: &Order) -> Row {
    let first = order.lines.first().map(|l| l.product_name.clone()).unwrap_or_default();
    let items = match order.lines.len() {
        0 | 1 => first,
        n => format!("{first} +{}", n - 1),
    };
    Row {
        id: order.id.to_string(),
        created: locale.format_datetime(order.created_at),
        status: order_status_text(locale, order.status),
        items,
        total: locale.format_money(order.total),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, visit: Visit, Query(query): Query<ListQuery>) -> PageResult {
    let Some(buyer) = visit.principal else { return Ok(to_login("/account/orders")) };
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => Some(cursor.parse::<OrderId>().map_err(|_| PageError::not_found())?),
        None => None,
    };
    let filter = OrderFilter { buyer: Some(buyer.user), status: None, before };
    let (orders, more) = state.orders.list(&filter, PER_PAGE).await.map_err(PageError::internal)?;
    let rows: Vec<Row> = orders.iter().map(|o| summary(visit.locale, o)).collect();
    let next = if more { orders.last().map(|o| format!("/account/orders?cursor={}", o.id)) } else { None };
    let page = context! {
        back => "/account/orders",
        orders => Value::from(Serde(&rows)),
        next,
        first_page => before.is_none(),
    };
    Ok(render(&visit, StatusCode::OK, "buy/orders.html", page))
}
