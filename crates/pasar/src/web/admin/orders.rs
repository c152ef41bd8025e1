//! `/admin/orders`: the list (by status, by buyer's email, an order's id), an order's detail
//! (lines, payments, refunds, stores' parts, timeline), and what the admin JSON routes do to
//! an order: advance it (with tracking when shipped), cancel it, refund all or part of it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::checkout::{RefundRequest, Restock};
use crate::http::AppState;
use crate::http::idempotency;
use crate::identity::UserFilter;
use crate::identity::domain::Text;
use crate::ids::{OrderId, UserId};
use crate::locale::Locale;
use crate::money::Money;
use crate::orders::{Mover, Order, OrderFilter, OrderStatus};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Orders on one page of the list.
const PER_PAGE: usize = 25;

/// A status as the admin reads it.
fn status_name(locale: Locale, status: OrderStatus) -> String {
    i18n::message(locale, &format!("admin_status_{}", status.as_str())).to_owned()
}

/// A serialized enum (payment and refund states) as its wire name.
fn wire_name(value: impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[derive(Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    /// An order's id (opens it) or a buyer's email.
    q: Option<String>,
    before: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    href: String,
    status: String,
    total: String,
    created: String,
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<ListQuery>) -> PageResult {
    let locale = admin.visit.locale;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if let Ok(id) = q.parse::<OrderId>() {
        return Ok(see_other(&format!("/admin/orders/{id}")));
    }
    let status = query.status.as_deref().and_then(|s| OrderStatus::ALL.into_iter().find(|x| x.as_str() == s));
    let mut buyer: Option<UserId> = None;
    let mut nobody = false;
    if !q.is_empty() {
        let filter = UserFilter { search: Some(q.to_owned()), ..UserFilter::default() };
        let (users, _) = state.identity.list_users(&filter, 50).await.map_err(PageError::internal)?;
        match users.iter().find(|u| u.email.eq_ignore_ascii_case(q)) {
            Some(user) => buyer = Some(user.id),
            None => nobody = true,
        }
    }
    let before = query.before.as_deref().and_then(|b| b.parse::<OrderId>().ok());
    let (orders, more) = if nobody {
        (Vec::new(), false)
    } else {
        let filter = OrderFilter { buyer, status, before };
        state.orders.list(&filter, PER_PAGE).await.map_err(PageError::internal)?
    };
    let next = more.then(|| {
        let last = orders.last().map(|o| o.id.to_string()).unwrap_or_default();
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(status) = status {
            pairs.append_pair("status", status.as_str());
        }
        if !q.is_empty() {
            pairs.append_pair("q", q);
        }
        pairs.append_pair("before", &last);
        format!("/admin/orders?{}", pairs.finish())
    });
    let rows: Vec<Row> = orders
        .iter()
        .map(|o| Row {
            id: o.id.to_string(),
            href: format!("/admin/orders/{}", o.id),
            status: status_name(locale, o.status),
            total: locale.format_money(o.total),
            created: locale.format_datetime(o.created_at),
        })
        .collect();
    let statuses: Vec<(String, String)> =
        OrderStatus::ALL.iter().map(|s| (s.as_str().to_owned(), status_name(locale, *s))).collect();
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/orders.html",
        "orders",
        context! {
            rows => Serde(&rows),
            statuses => Serde(&statuses),
            status => status.map(OrderStatus::as_str),
            q,
            next,
        },
    ))
}

#[derive(Serialize)]
struct LineView {
    name: String,
    sku: String,
    options: String,
    quantity: i64,
    unit_price: String,
    total: String,
}

#[derive(Serialize)]
struct PaymentView {
    provider: String,
    method: String,
    status: String,
    amount: String,
    fee: String,
}

#[derive(Serialize)]
struct RefundView {
    amount: String,
    reason: String,
    status: String,
    at: String,
}

#[derive(Serialize)]
struct PartView {
    store: String,
    status: String,
    tracking: String,
    lines: usize,
}

#[derive(Serialize)]
struct StepView {
    to: String,
    actor: String,
    note: String,
    at: String,
}

/// Where staff may move an order from its status (`orders::check_transition`'s rules for the
/// JSON route's four statuses).
fn next_steps(status: OrderStatus) -> &'static [OrderStatus] {
    use OrderStatus::*;
    match status {
        Paid => &[Processing],
        Processing => &[Shipped],
        Shipped => &[Delivered],
        Delivered => &[Completed],
        _ => &[],
    }
}

/// The order's page, with `extra` (a notice, an error, the form's values) in its context.
async fn order_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    order: Order,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let payments = state.payments.for_reference(&order.id.to_string()).await.map_err(PageError::internal)?;
    let mut refunds = Vec::new();
    for payment in &payments {
        refunds.extend(state.payments.refunds(payment.id).await.map_err(PageError::internal)?);
    }
    let lines: Vec<LineView> = order
        .lines
        .iter()
        .map(|l| LineView {
            name: l.product_name.clone(),
            sku: l.sku.clone(),
            options: l.options.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
            quantity: l.quantity,
            unit_price: locale.format_money(l.unit_price),
            total: locale.format_money(l.line_total),
        })
        .collect();
    let payments: Vec<PaymentView> = payments
        .iter()
        .map(|p| PaymentView {
            provider: p.provider.clone(),
            method: p.method.clone(),
            status: wire_name(p.status),
            amount: locale.format_money(p.amount),
            fee: locale.format_money(p.fee),
        })
        .collect();
    let refunds: Vec<RefundView> = refunds
        .iter()
        .map(|r| RefundView {
            amount: locale.format_money(r.amount),
            reason: r.reason.clone(),
            status: wire_name(r.status),
            at: locale.format_datetime(r.created_at),
        })
        .collect();
    let mut parts = Vec::new();
    for part in &order.fulfilments {
        let store = match part.seller_id {
            Some(seller) => state.identity.user(seller).await.map_or_else(|_| seller.to_string(), |u| u.name),
            None => i18n::message(locale, "admin_the_shop").to_owned(),
        };
        parts.push(PartView {
            store,
            status: wire_name(part.status),
            tracking: part.tracking_number.clone().unwrap_or_default(),
            lines: part.line_ids.len(),
        });
    }
    let timeline: Vec<StepView> = order
        .timeline
        .iter()
        .map(|s| StepView {
            to: status_name(locale, s.to),
            actor: s.actor.clone(),
            note: s.note.clone().unwrap_or_default(),
            at: locale.format_datetime(s.at),
        })
        .collect();
    let steps: Vec<(String, String)> =
        next_steps(order.status).iter().map(|s| (s.as_str().to_owned(), status_name(locale, *s))).collect();
    let cancellable =
        matches!(order.status, OrderStatus::PendingPayment | OrderStatus::Paid | OrderStatus::Processing);
    let refundable = matches!(
        order.status,
        OrderStatus::Paid
            | OrderStatus::Processing
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Completed
            | OrderStatus::PartiallyRefunded
    );
    let buyer = state.identity.user(order.buyer_id).await.map(|u| u.email).unwrap_or_default();
    Ok(page(
        admin,
        status,
        "admin/order.html",
        "orders",
        context! {
            id => order.id.to_string(),
            buyer,
            status => status_name(locale, order.status),
            status_code => order.status.as_str(),
            created => locale.format_datetime(order.created_at),
            subtotal => locale.format_money(order.subtotal),
            discount => locale.format_money(order.discount),
            shipping => locale.format_money(order.shipping),
            total => locale.format_money(order.total),
            currency => order.total.currency.code(),
            tracking => order.tracking_number.clone(),
            lines => Serde(&lines),
            payments => Serde(&payments),
            refunds => Serde(&refunds),
            parts => Serde(&parts),
            timeline => Serde(&timeline),
            steps => Serde(&steps),
            cancellable,
            refundable,
            // A fresh key each time the form is drawn: sending this form twice refunds once.
            refund_key => uuid::Uuid::now_v7().to_string(),
            ..extra
        },
    ))
}

async fn load(state: &AppState, id: &str) -> Result<Order, PageError> {
    let id: OrderId = id.parse().map_err(|_| PageError::not_found())?;
    match state.orders.order(id).await {
        Ok(order) => Ok(order),
        Err(crate::orders::OrdersError::NotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> PageResult {
    let order = load(&state, &id).await?;
    let notice = query.notice(
        admin.visit.locale,
        &[
            ("advanced", "admin_done_advanced"),
            ("cancelled", "admin_done_cancelled"),
            ("refunded", "admin_done_refunded"),
        ],
    );
    order_page(&state, &admin, StatusCode::OK, order, context! { notice }).await
}

/// After an action: back to the order's page, which says it was done.
fn done(id: OrderId, what: &str) -> Response {
    see_other(&format!("/admin/orders/{id}?done={what}"))
}

/// The order's page again with the refusal's message, as the JSON API would have refused.
async fn refused(
    state: &AppState,
    admin: &Admin,
    id: OrderId,
    err: impl Into<crate::http::error::ApiError>,
) -> PageResult {
    let (status, key) = refusal(err)?;
    let order = state.orders.order(id).await.map_err(PageError::internal)?;
    let error = i18n::message(admin.visit.locale, key);
    order_page(state, admin, status, order, context! { error }).await
}

#[derive(Deserialize)]
pub struct AdvanceForm {
    status: String,
    tracking_number: Option<String>,
    note: Option<String>,
}

/// Like `POST /v1/admin/orders/{id}/status`.
#[tracing::instrument(skip_all)]
pub async fn advance(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<AdvanceForm>,
) -> PageResult {
    use OrderStatus::*;
    let order = load(&state, &id).await?;
    let invalid = |key: &'static str| (StatusCode::UNPROCESSABLE_ENTITY, key);
    let to = OrderStatus::ALL.into_iter().find(|s| s.as_str() == form.status);
    let tracking = form.tracking_number.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let note = form.note.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let checked = match to {
        Some(to) if matches!(to, Processing | Shipped | Delivered | Completed) => {
            if to == Shipped && tracking.is_none() {
                Err(invalid("error_admin_tracking_required"))
            } else if tracking.is_some_and(|t| Text::<100>::parse(t).is_err())
                || note.is_some_and(|n| Text::<500>::parse(n).is_err())
            {
                Err(invalid("error_admin_too_long"))
            } else {
                Ok(to)
            }
        }
        _ => Err(invalid("error_admin_invalid")),
    };
    let to = match checked {
        Ok(to) => to,
        Err((status, key)) => {
            let error = i18n::message(admin.visit.locale, key);
            return order_page(&state, &admin, status, order, context! { error }).await;
        }
    };
    let actor = admin.actor();
    match state.orders.advance(order.id, to, &actor, tracking, note).await {
        Ok(moved) => {
            if let (Shipped, Some(number)) = (to, tracking) {
                state.couriers.record_order_by_hand(&moved, number).await.map_err(PageError::internal)?;
            }
            Ok(done(order.id, "advanced"))
        }
        Err(err) => refused(&state, &admin, order.id, err).await,
    }
}

/// Like `POST /v1/admin/orders/{id}/cancel`: an unpaid order is called off, a paid one (not
/// yet shipped) refunded.
#[tracing::instrument(skip_all)]
pub async fn cancel(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    let order = load(&state, &id).await?;
    let actor = admin.actor();
    let result = match order.status {
        OrderStatus::PendingPayment => state.checkout.cancel_unpaid(order.id, Mover::Staff, &actor).await,
        OrderStatus::Paid | OrderStatus::Processing => state.checkout.refund_paid(order.id, &actor).await,
        _ => {
            let error = i18n::message(admin.visit.locale, "error_admin_invalid_transition");
            return order_page(&state, &admin, StatusCode::CONFLICT, order, context! { error }).await;
        }
    };
    match result {
        Ok(_) => Ok(done(order.id, "cancelled")),
        Err(err) => refused(&state, &admin, order.id, err).await,
    }
}

#[derive(Deserialize)]
pub struct RefundForm {
    /// Empty gives back all that is left; else an amount in the order's currency, in major
    /// units (`15000`, `12.50`).
    amount: Option<String>,
    reason: String,
    /// `on`: put the physical goods back in stock.
    restock: Option<String>,
    /// The key the page drew the form with (the JSON route's `Idempotency-Key`).
    idempotency_key: Option<String>,
}

/// `text` as an amount of `currency` in minor units: digits, with a decimal part of at most
/// the currency's minor digits (after `.` or `,`); grouping marks are refused rather than
/// guessed at, except in a currency without minor units where `.` and `,` can only group.
pub(super) fn parse_amount(text: &str, template: Money) -> Option<Money> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = template.currency.minor_digits();
    let (whole, fraction) = if digits == 0 {
        (text.replace(['.', ','], ""), String::new())
    } else {
        match text.rsplit_once(['.', ',']) {
            Some((whole, fraction)) => (whole.to_owned(), fraction.to_owned()),
            None => (text.clone(), String::new()),
        }
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !all_digits(&whole) || !all_digits(&fraction) || fraction.len() > digits as usize {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = digits as usize).parse().ok()?
    };
    let amount = whole.checked_mul(10_i64.pow(digits))?.checked_add(fraction)?;
    (amount > 0).then_some(Money { amount, currency: template.currency })
}

/// Like `POST /v1/admin/orders/{id}/refunds`.
#[tracing::instrument(skip_all)]
pub async fn refund(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<RefundForm>,
) -> PageResult {
    let order = load(&state, &id).await?;
    let again = |key: &'static str| {
        let error = i18n::message(admin.visit.locale, key);
        context! { error, refund_amount => form.amount.clone(), refund_reason => form.reason.clone() }
    };
    let amount = match form.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => match parse_amount(text, order.total) {
            Some(amount) => Some(amount),
            None => {
                let extra = again("error_admin_amount");
                return order_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, order, extra).await;
            }
        },
    };
    let reason = match Text::<200>::parse(form.reason.trim()) {
        Ok(reason) if !reason.as_str().is_empty() => reason,
        _ => {
            let extra = again("error_admin_reason");
            return order_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, order, extra).await;
        }
    };
    let restock = if form.restock.is_some() { Restock::Everything } else { Restock::Lines(Vec::new()) };
    let request = RefundRequest { amount, reason: reason.as_str().to_owned(), restock, part: None };
    let refunded = async {
        match state.checkout.refund(order.id, request, &admin.actor()).await {
            Ok(_) => Ok(done(order.id, "refunded")),
            Err(err) => {
                let (status, key) = refusal(err)?;
                let order = state.orders.order(order.id).await.map_err(PageError::internal)?;
                order_page(&state, &admin, status, order, again(key)).await
            }
        }
    };
    let Some(key) = form.idempotency_key.as_deref() else {
        return refunded.await;
    };
    let path = format!("/admin/orders/{}/refunds", order.id);
    let fields = [
        form.amount.as_deref().unwrap_or_default(),
        form.reason.as_str(),
        form.restock.as_deref().unwrap_or_default(),
    ];
    let once = idempotency::once(&state, &admin.principal, key, &path, &fields, async {
        refunded.await.unwrap_or_else(IntoResponse::into_response)
    });
    match once.await {
        Ok(answer) => Ok(answer),
        Err(err) => {
            let (status, key) = refusal(err)?;
            let order = state.orders.order(order.id).await.map_err(PageError::internal)?;
            order_page(&state, &admin, status, order, again(key)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn amounts_are_read_in_the_currency_s_major_units() {
        let idr = Money { amount: 1, currency: Currency::parse("IDR").unwrap() };
        let usd = Money { amount: 1, currency: Currency::parse("USD").unwrap() };
        assert_eq!(parse_amount("15000", idr).map(|m| m.amount), Some(15_000));
        assert_eq!(parse_amount("15.000", idr).map(|m| m.amount), Some(15_000));
        assert_eq!(parse_amount("12.5", usd).map(|m| m.amount), Some(1_250));
        assert_eq!(parse_amount("12,05", usd).map(|m| m.amount), Some(1_205));
        assert_eq!(parse_amount("12.345", usd), None);
        assert_eq!(parse_amount("-5", idr), None);
        assert_eq!(parse_amount("0", idr), None);
        assert_eq!(parse_amount("abc", idr), None);
    }

    #[test]
    fn every_status_has_a_name_in_each_language() {
        for status in OrderStatus::ALL {
            for locale in Locale::ALL {
                assert!(i18n::has(locale, &format!("admin_status_{}", status.as_str())), "{status:?}");
            }
        }
    }
}
