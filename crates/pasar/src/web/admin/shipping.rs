//! `/admin/shipping`: the shipping zones and methods, created and deleted through the same
//! service calls as the `/v1/admin/shipping/…` routes.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use super::orders::parse_amount;
use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::http::AppState;
use crate::identity::addresses::CountryCode;
use crate::identity::domain::Text;
use crate::ids::{ShippingMethodId, ShippingZoneId};
use crate::money::{Currency, Money};
use crate::shipping::domain::{PostalRange, ValueTier, WeightTier, method_code_ok};
use crate::shipping::{DeliveryDays, NewMethod, NewZone, Rate, ShippingError};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

#[derive(Serialize)]
struct ZoneRow {
    name: String,
    country: String,
    rules: String,
    delete: String,
}

#[derive(Serialize)]
struct MethodRow {
    code: String,
    name: String,
    rate: String,
    free_above: String,
    zones: String,
    days: String,
    delete: String,
}

/// The new zone form as sent.
#[derive(Default, Serialize)]
struct ZoneForm {
    name: String,
    country: String,
    /// Prefixes separated by commas or spaces.
    postal_prefixes: String,
    /// One `from..to` range a line.
    postal_ranges: String,
    /// One `lng, lat` position a line: the area's ring.
    area: String,
}

/// The new method form as sent.
#[derive(Default, Serialize)]
struct MethodForm {
    code: String,
    name: String,
    /// `flat`, `by_weight` or `by_value`.
    rate: String,
    /// A flat rate's price.
    price: String,
    /// One `grams: price` (by weight) or `from: price` (by value) tier a line.
    tiers: String,
    free_above: String,
    zones: Vec<String>,
    min_days: String,
    max_days: String,
}

/// The page, with `values` (a notice, an error, what a form was sent with) filled in.
async fn shipping_page(state: &AppState, admin: &Admin, status: StatusCode, values: Value) -> PageResult {
    let locale = admin.visit.locale;
    let zones = state.shipping.zones().await.map_err(PageError::internal)?;
    let methods = state.shipping.methods().await.map_err(PageError::internal)?;
    let zone_rows: Vec<ZoneRow> = zones
        .iter()
        .map(|z| {
            let mut rules: Vec<String> = z.postal_prefixes.iter().map(|p| format!("{p}…")).collect();
            rules.extend(z.postal_ranges.iter().map(|r| format!("{}–{}", r.from, r.to)));
            if z.area.is_some() {
                rules.push(i18n::message(locale, "admin_shipping_area").to_owned());
            }
            ZoneRow {
                name: z.name.clone(),
                country: z.country.clone(),
                rules: rules.join(", "),
                delete: format!("/admin/shipping/zones/{}/delete", z.id),
            }
        })
        .collect();
    let money = |m: Money| locale.format_money(m);
    let method_rows: Vec<MethodRow> = methods
        .iter()
        .filter(|m| m.active)
        .map(|m| MethodRow {
            code: m.code.clone(),
            name: m.name.clone(),
            rate: match &m.rate {
                Rate::Flat { price } => money(*price),
                Rate::ByWeight { tiers } => tiers
                    .iter()
                    .map(|t| format!("≤{} g: {}", t.up_to_grams, money(t.price)))
                    .collect::<Vec<_>>()
                    .join("; "),
                Rate::ByValue { tiers } => tiers
                    .iter()
                    .map(|t| format!("≥{}: {}", money(t.from), money(t.price)))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
            free_above: m.free_above.map(money).unwrap_or_default(),
            zones: m
                .zone_ids
                .iter()
                .map(|id| {
                    zones.iter().find(|z| z.id == *id).map_or_else(|| id.to_string(), |z| z.name.clone())
                })
                .collect::<Vec<_>>()
                .join(", "),
            days: format!("{}–{}", m.delivery_days.min, m.delivery_days.max),
            delete: format!("/admin/shipping/methods/{}/delete", m.id),
        })
        .collect();
    let zone_choices: Vec<(String, String)> =
        zones.iter().map(|z| (z.id.to_string(), z.name.clone())).collect();
    Ok(page(
        admin,
        status,
        "admin/shipping.html",
        "shipping",
        context! {
            zones => Serde(&zone_rows),
            methods => Serde(&method_rows),
            zone_choices => Serde(&zone_choices),
            currency => state.config.currency.as_str(),
            ..values
        },
    ))
}

fn blank() -> Value {
    context! { zone => Serde(&ZoneForm::default()), method => Serde(&MethodForm::default()) }
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, admin: Admin, Query(query): Query<DoneQuery>) -> PageResult {
    let notice = query.notice(
        admin.visit.locale,
        &[
            ("zone_created", "admin_done_zone_created"),
            ("zone_deleted", "admin_done_zone_deleted"),
            ("method_created", "admin_done_method_created"),
            ("method_deleted", "admin_done_method_deleted"),
        ],
    );
    shipping_page(&state, &admin, StatusCode::OK, context! { notice, ..blank() }).await
}

/// Words separated by commas or white space.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty())
}

/// Non-empty lines, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

impl ZoneForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = ZoneForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "name" => form.name = value,
                "country" => form.country = value,
                "postal_prefixes" => form.postal_prefixes = value,
                "postal_ranges" => form.postal_ranges = value,
                "area" => form.area = value,
                _ => {}
            }
        }
        form
    }

    /// The zone the form describes, checked as the JSON body is (its rules then by the
    /// service), or the message key of the field it cannot read.
    fn zone(&self) -> Result<NewZone, &'static str> {
        let name = Text::<100>::parse(self.name.trim())
            .ok()
            .filter(|n| !n.as_str().is_empty())
            .ok_or("error_admin_zone_name")?;
        let country = CountryCode::try_from(self.country.trim().to_uppercase())
            .map_err(|_| "error_admin_zone_country")?;
        let postal_ranges = lines(&self.postal_ranges)
            .map(|line| {
                let (from, to) = line.split_once("..").ok_or("error_admin_zone_ranges")?;
                Ok(PostalRange { from: from.trim().to_owned(), to: to.trim().to_owned() })
            })
            .collect::<Result<Vec<_>, &'static str>>()?;
        let area = lines(&self.area)
            .map(|line| {
                let (lng, lat) = line.split_once(',').ok_or("error_admin_zone_area")?;
                let lng: f64 = lng.trim().parse().map_err(|_| "error_admin_zone_area")?;
                let lat: f64 = lat.trim().parse().map_err(|_| "error_admin_zone_area")?;
                Ok([lng, lat])
            })
            .collect::<Result<Vec<_>, &'static str>>()?;
        Ok(NewZone {
            name: name.into(),
            country: country.into(),
            postal_prefixes: words(&self.postal_prefixes).map(str::to_owned).collect(),
            postal_ranges,
            area: (!area.is_empty()).then_some(area),
        })
    }
}

/// The shop's currency, which the forms' amounts are in.
fn shop_currency(state: &AppState) -> Result<Currency, PageError> {
    Currency::parse(&state.config.currency).map_err(PageError::internal)
}

/// Like `POST /v1/admin/shipping/zones`.
#[tracing::instrument(skip_all)]
pub async fn create_zone(
    State(state): State<AppState>,
    admin: Admin,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = ZoneForm::from_pairs(pairs);
    let again = |key: &'static str| {
        let error = i18n::message(admin.visit.locale, key);
        context! { error, zone => Serde(&form), method => Serde(&MethodForm::default()) }
    };
    let new = match form.zone() {
        Ok(new) => new,
        Err(key) => return shipping_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again(key)).await,
    };
    match state.shipping.create_zone(new).await {
        Ok(_) => Ok(see_other("/admin/shipping?done=zone_created")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            shipping_page(&state, &admin, status, again(key)).await
        }
    }
}

impl MethodForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = MethodForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "code" => form.code = value,
                "name" => form.name = value,
                "rate" => form.rate = value,
                "price" => form.price = value,
                "tiers" => form.tiers = value,
                "free_above" => form.free_above = value,
                "zone" => form.zones.push(value),
                "min_days" => form.min_days = value,
                "max_days" => form.max_days = value,
                _ => {}
            }
        }
        form
    }

    /// The method the form describes, in `currency`, or the message key of the field it
    /// cannot read; the rest the service checks, as it does the JSON body.
    fn method(&self, currency: Currency) -> Result<NewMethod, &'static str> {
        let price = |text: &str| amount_of(text, currency);
        let code = self.code.trim();
        if !method_code_ok(code) {
            return Err("error_admin_method_code");
        }
        let name = Text::<100>::parse(self.name.trim())
            .ok()
            .filter(|n| !n.as_str().is_empty())
            .ok_or("error_admin_method_name")?;
        let tiers = || {
            lines(&self.tiers)
                .map(|line| {
                    let (at, cost) = line.split_once(':').ok_or("error_admin_method_tiers")?;
                    Ok((at.trim(), price(cost).ok_or("error_admin_method_tiers")?))
                })
                .collect::<Result<Vec<_>, &'static str>>()
        };
        let rate = match self.rate.as_str() {
            "flat" => Rate::Flat { price: price(&self.price).ok_or("error_admin_method_price")? },
            "by_weight" => Rate::ByWeight {
                tiers: tiers()?
                    .into_iter()
                    .map(|(grams, price)| {
                        Ok(WeightTier {
                            up_to_grams: grams.parse().map_err(|_| "error_admin_method_tiers")?,
                            price,
                        })
                    })
                    .collect::<Result<_, &'static str>>()?,
            },
            "by_value" => Rate::ByValue {
                tiers: tiers()?
                    .into_iter()
                    .map(|(from, cost)| {
                        Ok(ValueTier { from: price(from).ok_or("error_admin_method_tiers")?, price: cost })
                    })
                    .collect::<Result<_, &'static str>>()?,
            },
            _ => return Err("error_admin_invalid"),
        };
        let free_above = match self.free_above.trim() {
            "" => None,
            text => Some(price(text).ok_or("error_admin_method_free_above")?),
        };
        let days = |text: &str| text.trim().parse::<u32>().map_err(|_| "error_admin_method_days");
        let zone_ids = self
            .zones
            .iter()
            .map(|z| z.parse::<ShippingZoneId>().map_err(|_| "error_admin_invalid"))
            .collect::<Result<_, _>>()?;
        Ok(NewMethod {
            code: code.to_owned(),
            name: name.into(),
            currency,
            rate,
            free_above,
            zone_ids,
            delivery_days: DeliveryDays { min: days(&self.min_days)?, max: days(&self.max_days)? },
        })
    }
}

/// An amount of `currency` typed in major units; zero too (free shipping, a tier from
/// nothing), which `parse_amount` does not read.
fn amount_of(text: &str, currency: Currency) -> Option<Money> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| matches!(c, '0' | '.' | ',')) {
        return Some(Money { amount: 0, currency });
    }
    parse_amount(text, Money { amount: 1, currency })
}

/// Like `POST /v1/admin/shipping/methods`, in the shop's currency.
#[tracing::instrument(skip_all)]
pub async fn create_method(
    State(state): State<AppState>,
    admin: Admin,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = MethodForm::from_pairs(pairs);
    let again = |key: &'static str| {
        let error = i18n::message(admin.visit.locale, key);
        context! { error, zone => Serde(&ZoneForm::default()), method => Serde(&form) }
    };
    let new = match form.method(shop_currency(&state)?) {
        Ok(new) => new,
        Err(key) => return shipping_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again(key)).await,
    };
    match state.shipping.create_method(new).await {
        Ok(_) => Ok(see_other("/admin/shipping?done=method_created")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            shipping_page(&state, &admin, status, again(key)).await
        }
    }
}

/// After a refused delete: the page with why.
async fn refused(state: &AppState, admin: &Admin, err: ShippingError) -> PageResult {
    if matches!(err, ShippingError::NotFound) {
        return Err(PageError::not_found());
    }
    let (status, key) = refusal(err)?;
    let error = i18n::message(admin.visit.locale, key);
    shipping_page(state, admin, status, context! { error, ..blank() }).await
}

/// Like `DELETE /v1/admin/shipping/zones/{id}`: only a zone no method serves.
#[tracing::instrument(skip_all)]
pub async fn delete_zone(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    let id: ShippingZoneId = id.parse().map_err(|_| PageError::not_found())?;
    match state.shipping.delete_zone(id).await {
        Ok(()) => Ok(see_other("/admin/shipping?done=zone_deleted")),
        Err(err) => refused(&state, &admin, err).await,
    }
}

/// Like `DELETE /v1/admin/shipping/methods/{id}`.
#[tracing::instrument(skip_all)]
pub async fn delete_method(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> PageResult {
    let id: ShippingMethodId = id.parse().map_err(|_| PageError::not_found())?;
    match state.shipping.delete_method(id).await {
        Ok(()) => Ok(see_other("/admin/shipping?done=method_deleted")),
        Err(err) => refused(&state, &admin, err).await,
    }
}
