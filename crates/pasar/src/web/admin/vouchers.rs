//! `/admin/vouchers`: every voucher (the platform's and the stores'), a new platform voucher,
//! pausing and resuming one, and its uses: what the `/v1/admin/vouchers` routes do, through
//! the same service calls with the same actor.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::orders::parse_amount;
use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::http::AppState;
use crate::ids::VoucherId;
use crate::locale::Locale;
use crate::money::{Currency, Money};
use crate::promotions::domain::AppliesTo;
use crate::promotions::{NewVoucher, PromotionsError, Scope, Voucher};
use crate::time::Timestamp;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Vouchers on one page of the list.
const PER_PAGE: usize = 25;

#[derive(Serialize)]
struct Row {
    code: String,
    href: String,
    kind: String,
    value: String,
    status: String,
    paused: bool,
    uses: String,
    validity: String,
    funder: String,
    pause: String,
    resume: String,
}

/// How a voucher stands now: paused, not yet started, ended, or running.
fn status_key(voucher: &Voucher, now: Timestamp) -> &'static str {
    if voucher.paused {
        "admin_voucher_paused"
    } else if voucher.ends_at.is_some_and(|end| end <= now) {
        "admin_voucher_ended"
    } else if voucher.starts_at.is_some_and(|start| start > now) {
        "admin_voucher_scheduled"
    } else {
        "admin_voucher_running"
    }
}

/// `10%` or the amount off, as the admin reads it.
fn value_of(locale: Locale, voucher: &Voucher) -> String {
    match (voucher.percent_off, voucher.amount_off) {
        (Some(percent), _) => format!("{percent}%"),
        (None, Some(amount)) => locale.format_money(amount),
        (None, None) => String::new(),
    }
}

fn validity_of(locale: Locale, voucher: &Voucher) -> String {
    let from = voucher.starts_at.map(|at| locale.format_datetime(at)).unwrap_or_default();
    let until = voucher.ends_at.map(|at| locale.format_datetime(at)).unwrap_or_default();
    match (from.is_empty(), until.is_empty()) {
        (true, true) => i18n::message(locale, "admin_voucher_always").to_owned(),
        _ => format!("{from} – {until}"),
    }
}

fn row(locale: Locale, voucher: &Voucher, now: Timestamp) -> Row {
    let word = |key: &str| i18n::message(locale, key).to_owned();
    let limit = voucher.usage_limit.map_or_else(|| "∞".to_owned(), |l| l.to_string());
    Row {
        code: voucher.code.clone(),
        href: format!("/admin/vouchers/{}", voucher.id),
        kind: word(if voucher.percent_off.is_some() {
            "admin_voucher_percent"
        } else {
            "admin_voucher_amount"
        }),
        value: value_of(locale, voucher),
        status: word(status_key(voucher, now)),
        paused: voucher.paused,
        uses: format!("{} / {limit}", voucher.used + voucher.held),
        validity: validity_of(locale, voucher),
        funder: word(if voucher.store_id.is_some() {
            "admin_voucher_store"
        } else {
            "admin_voucher_platform"
        }),
        pause: format!("/admin/vouchers/{}/pause", voucher.id),
        resume: format!("/admin/vouchers/{}/resume", voucher.id),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<String>,
}

/// Like `GET /v1/admin/vouchers`.
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<ListQuery>) -> PageResult {
    let locale = admin.visit.locale;
    let before = query.before.as_deref().and_then(|b| b.parse::<VoucherId>().ok());
    let (vouchers, more) = match state.promotions.list(Scope::Platform, before, PER_PAGE).await {
        Ok(found) => found,
        Err(err) => return Err(PageError::internal(err)),
    };
    let now = state.clock.now();
    let next = more.then(|| {
        let last = vouchers.last().map(|v| v.id.to_string()).unwrap_or_default();
        format!("/admin/vouchers?before={last}")
    });
    let rows: Vec<Row> = vouchers.iter().map(|v| row(locale, v, now)).collect();
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/vouchers.html",
        "vouchers",
        context! { rows => Serde(&rows), next },
    ))
}

/// The new voucher form, with `values` (what was typed, an error) filled in.
async fn new_form(state: &AppState, admin: &Admin, status: StatusCode, values: Value) -> PageResult {
    let categories = state.catalog.categories().await.map_err(PageError::internal)?;
    let categories: Vec<(String, String)> =
        categories.into_iter().map(|c| (c.id.to_string(), c.name)).collect();
    Ok(page(
        admin,
        status,
        "admin/voucher_new.html",
        "vouchers",
        context! { categories => Serde(&categories), currency => state.config.currency.as_str(), ..values },
    ))
}

pub async fn new_page(State(state): State<AppState>, admin: Admin) -> PageResult {
    new_form(&state, &admin, StatusCode::OK, context! { form => Serde(&VoucherForm::default()) }).await
}

/// The new voucher form as sent: every field of `POST /v1/admin/vouchers`.
#[derive(Default, Serialize)]
struct VoucherForm {
    code: String,
    /// `percent` or `amount`.
    kind: String,
    /// A whole percent, or an amount in the shop's currency.
    value: String,
    max_discount: String,
    min_spend: String,
    /// `datetime-local`, read as UTC.
    starts_at: String,
    ends_at: String,
    usage_limit: String,
    per_buyer_limit: String,
    first_order_only: bool,
    stackable: bool,
    automatic: bool,
    categories: Vec<String>,
    /// Product ids, separated by spaces or commas.
    products: String,
    /// Stores' (sellers' user) ids, separated by spaces or commas.
    stores: String,
}

impl VoucherForm {
    /// The form from its fields (`category` may repeat, one per ticked category).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = VoucherForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "code" => form.code = value,
                "kind" => form.kind = value,
                "value" => form.value = value,
                "max_discount" => form.max_discount = value,
                "min_spend" => form.min_spend = value,
                "starts_at" => form.starts_at = value,
                "ends_at" => form.ends_at = value,
                "usage_limit" => form.usage_limit = value,
                "per_buyer_limit" => form.per_buyer_limit = value,
                "first_order_only" => form.first_order_only = true,
                "stackable" => form.stackable = true,
                "automatic" => form.automatic = true,
                "category" => form.categories.push(value),
                "products" => form.products = value,
                "stores" => form.stores = value,
                _ => {}
            }
        }
        form
    }

    /// The voucher the form describes, or the message key of the first field it cannot read.
    /// What it can read is checked by the service, as the JSON body is.
    fn voucher(&self, shop: Money) -> Result<NewVoucher, &'static str> {
        let money = |text: &str, key: &'static str| -> Result<Option<Money>, &'static str> {
            let text = text.trim();
            if text.is_empty() { Ok(None) } else { parse_amount(text, shop).map(Some).ok_or(key) }
        };
        let count = |text: &str, key: &'static str| -> Result<Option<i64>, &'static str> {
            let text = text.trim();
            if text.is_empty() { Ok(None) } else { text.parse().map(Some).map_err(|_| key) }
        };
        let (percent_off, amount_off) = match self.kind.as_str() {
            "percent" => {
                (Some(self.value.trim().parse().map_err(|_| "error_admin_voucher_percent_off")?), None)
            }
            "amount" => {
                (None, Some(parse_amount(self.value.trim(), shop).ok_or("error_admin_voucher_amount_off")?))
            }
            _ => return Err("error_admin_invalid"),
        };
        Ok(NewVoucher {
            code: self.code.trim().to_owned(),
            percent_off,
            amount_off,
            max_discount: money(&self.max_discount, "error_admin_voucher_max_discount")?,
            min_spend: money(&self.min_spend, "error_admin_voucher_min_spend")?,
            starts_at: moment(&self.starts_at).map_err(|()| "error_admin_voucher_starts_at")?,
            ends_at: moment(&self.ends_at).map_err(|()| "error_admin_voucher_ends_at")?,
            usage_limit: count(&self.usage_limit, "error_admin_voucher_usage_limit")?,
            per_buyer_limit: count(&self.per_buyer_limit, "error_admin_voucher_per_buyer_limit")?,
            first_order_only: self.first_order_only,
            applies_to: AppliesTo {
                categories: self
                    .categories
                    .iter()
                    .map(|c| c.parse().map_err(|_| "error_admin_invalid"))
                    .collect::<Result<_, _>>()?,
                products: ids(&self.products, "error_admin_voucher_products")?,
                stores: ids(&self.stores, "error_admin_voucher_stores")?,
            },
            stackable: self.stackable,
            automatic: self.automatic,
        })
    }
}

/// Ids separated by commas or white space, or `key` when one is not an id.
fn ids<T: std::str::FromStr>(text: &str, key: &'static str) -> Result<Vec<T>, &'static str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().map_err(|_| key))
        .collect()
}

/// A `datetime-local` value (`2026-12-24T09:00`, seconds optional) read as UTC; empty is none.
fn moment(text: &str) -> Result<Option<Timestamp>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let at = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| ())?;
    Ok(Some(Timestamp::from_millis(at.and_utc().timestamp_millis())))
}

/// The message key for a field the service refused.
fn field_key(field: &str) -> &'static str {
    match field {
        "code" => "error_admin_voucher_code",
        "percent_off" => "error_admin_voucher_percent_off",
        "amount_off" => "error_admin_voucher_amount_off",
        "max_discount" => "error_admin_voucher_max_discount",
        "min_spend" => "error_admin_voucher_min_spend",
        "ends_at" => "error_admin_voucher_ends_at",
        "usage_limit" => "error_admin_voucher_usage_limit",
        "per_buyer_limit" => "error_admin_voucher_per_buyer_limit",
        _ => "error_admin_invalid",
    }
}

/// Like `POST /v1/admin/vouchers`: a platform-funded voucher.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let locale = admin.visit.locale;
    let form = VoucherForm::from_pairs(pairs);
    let again = |key: &'static str| context! { error => i18n::message(locale, key), form => Serde(&form) };
    let currency = Currency::parse(&state.config.currency).map_err(PageError::internal)?;
    let new = match form.voucher(Money { amount: 1, currency }) {
        Ok(new) => new,
        Err(key) => return new_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again(key)).await,
    };
    match state.promotions.create(Scope::Platform, admin.principal.user, new).await {
        Ok(voucher) => Ok(see_other(&format!("/admin/vouchers/{}?done=created", voucher.id))),
        Err(PromotionsError::Invalid { field, .. }) => {
            new_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again(field_key(field))).await
        }
        Err(err) => {
            let (status, key) = refusal(err)?;
            new_form(&state, &admin, status, again(key)).await
        }
    }
}

#[derive(Serialize)]
struct BuyerRow {
    buyer: String,
    held: i64,
    used: i64,
    released: i64,
    discount: String,
}

/// Like `GET /v1/admin/vouchers/{id}` and `…/usage`: the voucher and its uses.
#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> PageResult {
    let locale = admin.visit.locale;
    let id: VoucherId = id.parse().map_err(|_| PageError::not_found())?;
    let found = async {
        Ok::<_, PromotionsError>((
            state.promotions.voucher(Scope::Platform, id).await?,
            state.promotions.usage(Scope::Platform, id).await?,
        ))
    };
    let (voucher, usage) = match found.await {
        Ok(found) => found,
        Err(PromotionsError::NotFound) => return Err(PageError::not_found()),
        Err(err) => return Err(PageError::internal(err)),
    };
    let given =
        |money: Option<Money>| money.map(|m| locale.format_money(m)).unwrap_or_else(|| "–".to_owned());
    let mut buyers = Vec::new();
    for b in &usage.buyers {
        let buyer =
            state.identity.user(b.buyer_id).await.map_or_else(|_| b.buyer_id.to_string(), |u| u.email);
        buyers.push(BuyerRow {
            buyer,
            held: b.counts.held,
            used: b.counts.used,
            released: b.counts.released,
            discount: given(b.counts.discount_given),
        });
    }
    let notice = query.notice(
        locale,
        &[
            ("created", "admin_done_voucher_created"),
            ("paused", "admin_done_voucher_paused"),
            ("resumed", "admin_done_voucher_resumed"),
        ],
    );
    let money = |m: Option<Money>| m.map(|m| locale.format_money(m)).unwrap_or_default();
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/voucher.html",
        "vouchers",
        context! {
            voucher => Serde(&row(locale, &voucher, state.clock.now())),
            max_discount => money(voucher.max_discount),
            min_spend => money(voucher.min_spend),
            per_buyer_limit => voucher.per_buyer_limit,
            first_order_only => voucher.first_order_only,
            stackable => voucher.stackable,
            automatic => voucher.automatic,
            everything => voucher.applies_to.is_everything(),
            held => usage.counts.held,
            used => usage.counts.used,
            released => usage.counts.released,
            discount => given(usage.counts.discount_given),
            buyers => Serde(&buyers),
            notice,
        },
    ))
}

/// Like `POST /v1/admin/vouchers/{id}/pause` and `…/resume`.
async fn set_paused(state: &AppState, admin: &Admin, id: &str, paused: bool) -> PageResult {
    let id: VoucherId = id.parse().map_err(|_| PageError::not_found())?;
    match state.promotions.set_paused(Scope::Platform, id, paused, admin.principal.user).await {
        Ok(_) => {
            Ok(see_other(&format!("/admin/vouchers/{id}?done={}", if paused { "paused" } else { "resumed" })))
        }
        Err(PromotionsError::NotFound) => Err(PageError::not_found()),
        Err(err) => {
            let (status, key) = refusal(err)?;
            Err(PageError { status, key })
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn pause(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    set_paused(&state, &admin, &id, true).await
}

#[tracing::instrument(skip_all)]
pub async fn resume(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    set_paused(&state, &admin, &id, false).await
}
