//! The store's orders to pack and ship: its paid parts, one part's lines and address, and
//! moving it (packed, shipped with tracking, delivered) or calling it off, as
//! `/v1/seller/orders/*` does.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::{Need, Store, invalid, page, refusal, see_other, store_for};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::ids::{OrderId, UserId};
use crate::money::Money;
use crate::orders::{Fulfilment, FulfilmentStatus, Order, OrderLine};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};
use crate::web::visit::Visit;

/// Orders on one page of the list.
const PER_PAGE: usize = 20;

/// `seller`'s part of `order` and its lines; None when the store has no part in it, or the
/// order is not paid yet (as the JSON route: another store's order is not found).
fn part_of(order: &Order, seller: UserId) -> Option<(Fulfilment, Vec<OrderLine>)> {
    let part = order.fulfilments.iter().find(|f| f.seller_id == Some(seller))?.clone();
    if part.status == FulfilmentStatus::AwaitingPayment {
        return None;
    }
    let lines = order.lines.iter().filter(|l| part.line_ids.contains(&l.id)).cloned().collect();
    Some((part, lines))
}

fn part_total(lines: &[OrderLine], fallback: Money) -> Money {
    let amount = lines.iter().map(|l| l.line_total.amount).sum();
    Money { amount, ..lines.first().map_or(fallback, |l| l.line_total) }
}

fn status_label(visit: &Visit, status: FulfilmentStatus) -> String {
    i18n::message(visit.locale, &format!("seller_part_{}", status.as_str())).to_owned()
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Row {
    href: String,
    id: String,
    date: String,
    status: String,
    items: i64,
    total: String,
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, visit: Visit, Query(query): Query<ListQuery>) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/orders", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let status = query.status.as_deref().filter(|s| !s.is_empty()).and_then(FulfilmentStatus::parse);
    let before = query.cursor.as_deref().and_then(|c| c.parse::<OrderId>().ok());
    let (orders, more) = state
        .orders
        .list_for_seller(store.user, status, before, PER_PAGE)
        .await
        .map_err(PageError::internal)?;
    let rows: Vec<Row> = orders
        .iter()
        .filter_map(|order| {
            let (part, lines) = part_of(order, store.user)?;
            Some(Row {
                href: format!("/seller/orders/{}", order.id),
                id: order.id.to_string(),
                date: visit.locale.format_datetime(order.created_at),
                status: status_label(&visit, part.status),
                items: lines.iter().map(|l| l.quantity).sum(),
                total: visit.locale.format_money(part_total(&lines, order.total)),
            })
        })
        .collect();
    let next = (more && !orders.is_empty()).then(|| {
        let last = orders.last().map(|o| o.id.to_string()).unwrap_or_default();
        match status {
            Some(status) => format!("/seller/orders?status={}&cursor={last}", status.as_str()),
            None => format!("/seller/orders?cursor={last}"),
        }
    });
    let filters: Vec<Value> = [
        FulfilmentStatus::Paid,
        FulfilmentStatus::Packed,
        FulfilmentStatus::Shipped,
        FulfilmentStatus::Delivered,
        FulfilmentStatus::Cancelled,
    ]
    .into_iter()
    .map(|s| {
        context! {
            href => format!("/seller/orders?status={}", s.as_str()),
            label => status_label(&visit, s),
            current => status == Some(s),
        }
    })
    .collect();
    Ok(page(
        &visit,
        &store,
        StatusCode::OK,
        "orders",
        "seller/orders.html",
        context! { rows => Value::from(Serde(&rows)), next, filters, all_current => status.is_none() },
    ))
}

#[derive(Serialize)]
struct LineView {
    name: String,
    sku: String,
    options: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

#[derive(Serialize)]
struct EntryView {
    at: String,
    status: String,
    note: Option<String>,
}

#[derive(Serialize)]
struct ShipmentView {
    courier: Option<String>,
    tracking_number: String,
    tracking_url: Option<String>,
}

/// The order's page for this store, with `error` over its forms when an action was refused.
async fn order_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    id: OrderId,
    status: StatusCode,
    error: Option<String>,
) -> PageResult {
    let order = state.orders.order(id).await.map_err(|err| match refusal(visit, err) {
        Ok(_) => PageError::not_found(),
        Err(err) => err,
    })?;
    let Some((part, lines)) = part_of(&order, store.user) else { return Err(PageError::not_found()) };
    let shipments = state.couriers.for_order(id).await.map_err(PageError::internal)?;
    let locale = visit.locale;
    let total = locale.format_money(part_total(&lines, order.total));
    let lines: Vec<LineView> = lines
        .into_iter()
        .map(|line| LineView {
            options: line.options.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
            name: line.product_name,
            sku: line.sku,
            quantity: line.quantity,
            unit_price: locale.format_money(line.unit_price),
            line_total: locale.format_money(line.line_total),
        })
        .collect();
    let timeline: Vec<EntryView> = part
        .timeline
        .iter()
        .map(|entry| EntryView {
            at: locale.format_datetime(entry.at),
            status: status_label(visit, entry.to),
            note: entry.note.clone(),
        })
        .collect();
    let shipments: Vec<ShipmentView> = shipments
        .into_iter()
        .filter(|s| s.fulfilment_id == part.id)
        .map(|s| ShipmentView {
            courier: s.courier,
            tracking_number: s.tracking_number,
            tracking_url: s.tracking_url,
        })
        .collect();
    let step = part.status;
    Ok(page(
        visit,
        store,
        status,
        "orders",
        "seller/order.html",
        context! {
            id => order.id.to_string(),
            date => locale.format_datetime(order.created_at),
            part_status => status_label(visit, step),
            lines => Value::from(Serde(&lines)),
            total,
            address => order.shipping_address.as_ref().map(|a| Value::from(Serde(a))),
            shipping_method => order.shipping_method,
            tracking_number => part.tracking_number,
            carrier => part.carrier,
            timeline => Value::from(Serde(&timeline)),
            shipments => Value::from(Serde(&shipments)),
            can_pack => step == FulfilmentStatus::Paid,
            can_ship => matches!(step, FulfilmentStatus::Paid | FulfilmentStatus::Packed),
            can_deliver => step == FulfilmentStatus::Shipped,
            can_cancel => matches!(step, FulfilmentStatus::Paid | FulfilmentStatus::Packed),
            error,
        },
    ))
}

fn order_id(raw: &str) -> Result<OrderId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> PageResult {
    let store = match store_for(&state, &visit, &format!("/seller/orders/{id}"), Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    order_page(&state, &visit, &store, order_id(&id)?, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct AdvanceForm {
    status: String,
    tracking_number: Option<String>,
    carrier: Option<String>,
    note: Option<String>,
}

/// A form's optional text: None when left empty, else checked as the API checks it.
fn optional_text<const N: usize>(raw: Option<&str>) -> Result<Option<Text<N>>, String> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Text::<N>::parse(text).map(Some),
        None => Ok(None),
    }
}

/// Packs, ships (with its tracking number) or delivers the store's part, as
/// `POST /v1/seller/orders/{id}/status` does: the part moves, and a hand-shipped parcel is
/// recorded with the courier's name, in one transaction.
#[tracing::instrument(skip_all)]
pub async fn advance(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<AdvanceForm>,
) -> PageResult {
    let here = format!("/seller/orders/{id}");
    let store = match store_for(&state, &visit, &here, Need::Fulfil).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let id = order_id(&id)?;
    let order = state.orders.order(id).await.map_err(|_| PageError::not_found())?;
    let Some((part, _)) = part_of(&order, store.user) else { return Err(PageError::not_found()) };
    let refused = |(status, message): (StatusCode, String)| {
        order_page(&state, &visit, &store, id, status, Some(message))
    };
    let to = match FulfilmentStatus::parse(&form.status) {
        Some(to @ (FulfilmentStatus::Packed | FulfilmentStatus::Shipped | FulfilmentStatus::Delivered)) => to,
        _ => return refused(invalid(&visit, "error_seller_invalid")).await,
    };
    let (Ok(tracking), Ok(carrier), Ok(note)) = (
        optional_text::<100>(form.tracking_number.as_deref()),
        optional_text::<50>(form.carrier.as_deref()),
        optional_text::<500>(form.note.as_deref()),
    ) else {
        return refused(invalid(&visit, "error_seller_invalid")).await;
    };
    if to == FulfilmentStatus::Shipped && tracking.is_none() && part.tracking_number.is_none() {
        return refused(invalid(&visit, "error_seller_tracking_required")).await;
    }
    match moved(&state, &store, id, part.id, to, tracking.as_ref(), carrier.as_ref(), note.as_ref()).await {
        Ok(()) => Ok(see_other(&here)),
        Err(Moved::Refused(err)) => refused(refusal(&visit, err)?).await,
        Err(Moved::Failed(err)) => Err(PageError::internal(err)),
    }
}

enum Moved {
    Refused(crate::orders::OrdersError),
    Failed(sqlx::Error),
}

#[allow(clippy::too_many_arguments)]
async fn moved(
    state: &AppState,
    store: &Store,
    order: OrderId,
    part: crate::ids::FulfilmentId,
    to: FulfilmentStatus,
    tracking: Option<&Text<100>>,
    carrier: Option<&Text<50>>,
    note: Option<&Text<500>>,
) -> Result<(), Moved> {
    let tracking = tracking.map(|number| (number.as_str(), carrier.map(Text::as_str)));
    let mut tx = state.db.begin().await.map_err(Moved::Failed)?;
    let moved = state
        .orders
        .move_fulfilment(&mut tx, part, to, &store.actor(), tracking, note.map(Text::as_str))
        .await
        .map_err(Moved::Refused)?;
    if let (FulfilmentStatus::Shipped, Some((number, carrier))) = (to, tracking) {
        state
            .couriers
            .record_by_hand(&mut tx, moved.id, part, number, carrier)
            .await
            .map_err(Moved::Failed)?;
    }
    debug_assert_eq!(moved.id, order);
    tx.commit().await.map_err(Moved::Failed)
}

#[derive(Deserialize)]
pub struct CancelForm {
    reason: String,
}

/// Calls off the store's part before it ships, as `POST /v1/seller/orders/{id}/cancel`: the
/// buyer is refunded for it and its goods go back in stock.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> PageResult {
    let here = format!("/seller/orders/{id}");
    let store = match store_for(&state, &visit, &here, Need::Fulfil).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let id = order_id(&id)?;
    let order = state.orders.order(id).await.map_err(|_| PageError::not_found())?;
    let Some((part, _)) = part_of(&order, store.user) else { return Err(PageError::not_found()) };
    let Ok(reason) = Text::<200>::parse(&form.reason) else {
        let refused = invalid(&visit, "error_seller_reason_required");
        return order_page(&state, &visit, &store, id, refused.0, Some(refused.1)).await;
    };
    match state.checkout.cancel_part(id, part.id, reason.as_str(), &store.actor()).await {
        Ok(_) => Ok(see_other(&here)),
        Err(err) => {
            let (status, message) = refusal(&visit, err)?;
            order_page(&state, &visit, &store, id, status, Some(message)).await
        }
    }
}
