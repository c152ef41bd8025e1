//! `/admin/delivery`: a shipping zone's delivery slots (rules, weekly slot templates, closed
//! dates, a date's capacity) and the day's manifest, through the same service calls as the
//! `/v1/admin/delivery/…` routes.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::civil::Date;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Admin, page, refusal, see_other};
use crate::delivery::domain::{CapacityOverride, SameDayCutoff};
use crate::delivery::service::NewTemplate;
use crate::delivery::{DeliveryError, Rules, TimeOfDay};
use crate::http::AppState;
use crate::ids::{DeliveryTemplateId, ShippingZoneId};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

#[derive(Default, Deserialize)]
pub struct DeliveryQuery {
    zone: Option<String>,
    date: Option<String>,
    done: Option<String>,
}

#[derive(Serialize)]
struct TemplateRow {
    id: String,
    weekdays: String,
    start: String,
    end: String,
    capacity: i64,
    delete: String,
}

#[derive(Serialize)]
struct ManifestRow {
    slot: String,
    order: String,
    href: String,
    status: String,
    recipient: String,
    address: String,
    items: String,
}

/// The page for `zone` (when one is chosen) and the manifest of `date`, with `values` (a
/// notice, an error) filled in.
async fn delivery_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    zone: Option<ShippingZoneId>,
    date: Date,
    values: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let zones = state.shipping.zones().await.map_err(PageError::internal)?;
    let choices: Vec<(String, String)> = zones.iter().map(|z| (z.id.to_string(), z.name.clone())).collect();
    let setup = match zone {
        Some(zone) => match state.delivery.setup(zone).await {
            Ok(setup) => Some(setup),
            Err(DeliveryError::NotFound) => return Err(PageError::not_found()),
            Err(err) => return Err(PageError::internal(err)),
        },
        None => None,
    };
    let day_names: Vec<String> =
        (1..=7).map(|d| i18n::message(locale, &format!("admin_delivery_weekday_{d}")).to_owned()).collect();
    let templates: Vec<TemplateRow> = setup
        .iter()
        .flat_map(|s| s.templates.iter())
        .map(|t| TemplateRow {
            id: t.id.to_string(),
            weekdays: t
                .weekdays
                .iter()
                .filter_map(|d| day_names.get(usize::from(*d).wrapping_sub(1)).cloned())
                .collect::<Vec<_>>()
                .join(", "),
            start: t.start.to_string(),
            end: t.end.to_string(),
            capacity: t.capacity,
            delete: format!("/admin/delivery/zones/{}/templates/{}/delete", t.zone_id, t.id),
        })
        .collect();
    let closed: Vec<(String, String)> = setup
        .iter()
        .flat_map(|s| s.closed_dates.iter())
        .map(|d| {
            (
                d.to_string(),
                format!(
                    "/admin/delivery/zones/{}/closed-dates/{d}/delete",
                    zone.map(|z| z.to_string()).unwrap_or_default()
                ),
            )
        })
        .collect();
    let overrides: Vec<(String, String, i64)> = setup
        .iter()
        .flat_map(|s| s.capacity_overrides.iter())
        .map(|o| {
            let which = o.template_id.map(|t| t.to_string()).unwrap_or_default();
            (o.date.to_string(), which, o.capacity)
        })
        .collect();
    let rules = setup.as_ref().map(|s| s.rules).unwrap_or_default();
    let manifest = state.delivery.manifest(date, zone).await.map_err(PageError::internal)?;
    let mut rows = Vec::new();
    for (slot, orders) in manifest {
        for order in orders {
            let address = order.shipping_address.as_ref();
            rows.push(ManifestRow {
                slot: format!("{}–{}", local_time(&slot.local_start), local_time(&slot.local_end)),
                order: order.id.to_string(),
                href: format!("/admin/orders/{}", order.id),
                status: i18n::message(locale, &format!("admin_status_{}", order.status.as_str())).to_owned(),
                recipient: address.map(|a| a.name.as_str().to_owned()).unwrap_or_default(),
                address: address
                    .map(|a| format!("{}, {} {}", a.line1.as_str(), a.city.as_str(), a.postal_code.as_str()))
                    .unwrap_or_default(),
                items: order
                    .lines
                    .iter()
                    .map(|l| format!("{} ×{}", l.product_name, l.quantity))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }
    let zone_id = zone.map(|z| z.to_string());
    Ok(page(
        admin,
        status,
        "admin/delivery.html",
        "delivery",
        context! {
            zones => Serde(&choices),
            zone => zone_id,
            date => date.to_string(),
            time_zone => state.delivery.time().name(),
            lead_minutes => rules.lead_minutes,
            order_by => rules.same_day_cutoff.map(|c| c.order_by.to_string()),
            for_slots_from => rules.same_day_cutoff.map(|c| c.for_slots_from.to_string()),
            templates => Serde(&templates),
            closed => Serde(&closed),
            overrides => Serde(&overrides),
            weekdays => Serde(&day_names),
            manifest => Serde(&rows),
            ..values
        },
    ))
}

/// `HH:MM` of a local RFC 3339 time.
fn local_time(rfc3339: &str) -> &str {
    rfc3339.get(11..16).unwrap_or(rfc3339)
}

/// Today in the shop's time zone.
fn today(state: &AppState) -> Date {
    state.delivery.time().date(state.clock.now())
}

fn zone_of(text: &str) -> Result<ShippingZoneId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

/// Like `GET /v1/admin/delivery/zones/{zone_id}` and `GET /v1/admin/delivery/manifest`.
#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Query(query): Query<DeliveryQuery>,
) -> PageResult {
    let zone = match query.zone.as_deref().filter(|z| !z.is_empty()) {
        Some(zone) => Some(zone_of(zone)?),
        None => None,
    };
    let (status, date, error) = match query.date.as_deref().filter(|d| !d.is_empty()) {
        None => (StatusCode::OK, today(&state), ""),
        Some(text) => match text.parse::<Date>() {
            Ok(date) => (StatusCode::OK, date, ""),
            Err(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                today(&state),
                i18n::message(admin.visit.locale, "error_admin_delivery_date"),
            ),
        },
    };
    let done = super::DoneQuery { done: query.done };
    let notice = done.notice(
        admin.visit.locale,
        &[
            ("rules", "admin_done_delivery_rules"),
            ("template_added", "admin_done_delivery_template_added"),
            ("template_removed", "admin_done_delivery_template_removed"),
            ("closed", "admin_done_delivery_closed"),
            ("reopened", "admin_done_delivery_reopened"),
            ("capacity", "admin_done_delivery_capacity"),
        ],
    );
    delivery_page(&state, &admin, status, zone, date, context! { notice, error }).await
}

/// After an action: back to the zone's page, which says it was done.
fn done(zone: ShippingZoneId, what: &str) -> PageResult {
    Ok(see_other(&format!("/admin/delivery?zone={zone}&done={what}")))
}

/// The zone's page again with why the form was refused (`key`, or the service's refusal).
async fn again(
    state: &AppState,
    admin: &Admin,
    zone: ShippingZoneId,
    refused: Result<&'static str, DeliveryError>,
) -> PageResult {
    let (status, key) = match refused {
        Ok(key) => (StatusCode::UNPROCESSABLE_ENTITY, key),
        Err(DeliveryError::NotFound) => return Err(PageError::not_found()),
        Err(err) => refusal(err)?,
    };
    let error = i18n::message(admin.visit.locale, key);
    delivery_page(state, admin, status, Some(zone), today(state), context! { error }).await
}

#[derive(Deserialize)]
pub struct RulesForm {
    lead_minutes: String,
    #[serde(default)]
    order_by: String,
    #[serde(default)]
    for_slots_from: String,
}

/// Like `PUT /v1/admin/delivery/zones/{zone_id}/rules`.
#[tracing::instrument(skip_all)]
pub async fn set_rules(
    State(state): State<AppState>,
    admin: Admin,
    Path(zone): Path<String>,
    Form(form): Form<RulesForm>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let Ok(lead_minutes) = form.lead_minutes.trim().parse::<i64>() else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_lead")).await;
    };
    let same_day_cutoff = match (form.order_by.trim(), form.for_slots_from.trim()) {
        ("", "") => None,
        (order_by, from) => match (TimeOfDay::parse(order_by), TimeOfDay::parse(from)) {
            (Some(order_by), Some(for_slots_from)) => Some(SameDayCutoff { order_by, for_slots_from }),
            _ => return again(&state, &admin, zone, Ok("error_admin_delivery_time")).await,
        },
    };
    match state.delivery.set_rules(zone, Rules { lead_minutes, same_day_cutoff }).await {
        Ok(_) => done(zone, "rules"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}

/// Like `POST /v1/admin/delivery/zones/{zone_id}/templates`: `weekday` repeats, one per day.
#[tracing::instrument(skip_all)]
pub async fn add_template(
    State(state): State<AppState>,
    admin: Admin,
    Path(zone): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let field = |name: &str| pairs.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.trim());
    let weekdays: Option<Vec<u8>> =
        pairs.iter().filter(|(n, _)| n == "weekday").map(|(_, v)| v.parse().ok()).collect();
    let (Some(weekdays), Some(start), Some(end)) =
        (weekdays, TimeOfDay::parse(field("start")), TimeOfDay::parse(field("end")))
    else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_time")).await;
    };
    let Ok(capacity) = field("capacity").parse::<i64>() else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_capacity")).await;
    };
    match state.delivery.create_template(zone, NewTemplate { weekdays, start, end, capacity }).await {
        Ok(_) => done(zone, "template_added"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}

/// Like `DELETE /v1/admin/delivery/zones/{zone_id}/templates/{template_id}`.
#[tracing::instrument(skip_all)]
pub async fn remove_template(
    State(state): State<AppState>,
    admin: Admin,
    Path((zone, id)): Path<(String, String)>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let id: DeliveryTemplateId = id.parse().map_err(|_| PageError::not_found())?;
    match state.delivery.delete_template(zone, id).await {
        Ok(()) => done(zone, "template_removed"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}

#[derive(Deserialize)]
pub struct DateForm {
    date: String,
}

/// Like `POST /v1/admin/delivery/zones/{zone_id}/closed-dates`.
#[tracing::instrument(skip_all)]
pub async fn close_date(
    State(state): State<AppState>,
    admin: Admin,
    Path(zone): Path<String>,
    Form(form): Form<DateForm>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let Ok(date) = form.date.trim().parse::<Date>() else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_date")).await;
    };
    match state.delivery.close_date(zone, date).await {
        Ok(()) => done(zone, "closed"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}

/// Like `DELETE /v1/admin/delivery/zones/{zone_id}/closed-dates/{date}`.
#[tracing::instrument(skip_all)]
pub async fn reopen_date(
    State(state): State<AppState>,
    admin: Admin,
    Path((zone, date)): Path<(String, String)>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let date: Date = date.parse().map_err(|_| PageError::not_found())?;
    match state.delivery.reopen_date(zone, date).await {
        Ok(()) => done(zone, "reopened"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}

#[derive(Deserialize)]
pub struct CapacityForm {
    date: String,
    capacity: String,
    /// Empty for every slot of the date.
    #[serde(default)]
    template_id: String,
}

/// Like `PUT /v1/admin/delivery/zones/{zone_id}/capacity/{date}`.
#[tracing::instrument(skip_all)]
pub async fn set_capacity(
    State(state): State<AppState>,
    admin: Admin,
    Path(zone): Path<String>,
    Form(form): Form<CapacityForm>,
) -> PageResult {
    let zone = zone_of(&zone)?;
    let Ok(date) = form.date.trim().parse::<Date>() else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_date")).await;
    };
    let Ok(capacity) = form.capacity.trim().parse::<i64>() else {
        return again(&state, &admin, zone, Ok("error_admin_delivery_capacity")).await;
    };
    let template_id = match form.template_id.trim() {
        "" => None,
        id => match id.parse::<DeliveryTemplateId>() {
            Ok(id) => Some(id),
            Err(_) => return again(&state, &admin, zone, Ok("error_admin_invalid")).await,
        },
    };
    match state.delivery.set_capacity(zone, CapacityOverride { date, template_id, capacity }).await {
        Ok(_) => done(zone, "capacity"),
        Err(err) => again(&state, &admin, zone, Err(err)).await,
    }
}
