//! `/seller/payouts`: what the marketplace owes the store (as `GET /v1/seller/balance`), its
//! payouts newest first (as `GET /v1/seller/payouts`), and a payout of what is available to the
//! store's payout account (as `POST /v1/seller/payouts` without a destination: the amount
//! typed, or everything available when left empty).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::products::minor_units;
use super::{Need, Store, invalid, page, refusal, see_other, store_for};
use crate::http::AppState;
use crate::ids::PayoutId;
use crate::money::Money;
use crate::payments::MaskedDestination;
use crate::web::admin::DoneQuery;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};
use crate::web::visit::Visit;

/// Payouts on one page of the list.
const PER_PAGE: usize = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Serialize)]
struct PayoutRow {
    date: String,
    amount: String,
    status: String,
    provider: String,
    to: String,
}

/// A bank account as the page names it: the bank and the number's last four digits.
fn account(masked: &MaskedDestination) -> String {
    format!("{} ••••{}", masked.bank_code.as_str(), masked.account_number_last4)
}

async fn payouts_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    cursor: Option<&str>,
    status: StatusCode,
    error: Option<String>,
    notice: &str,
) -> PageResult {
    let locale = visit.locale;
    let money = |m| locale.format_money(m);
    let balance =
        state.payables.balance(store.user, state.wallet.currency()).await.map_err(PageError::internal)?;
    let before = cursor.and_then(|c| c.parse::<PayoutId>().ok());
    let (payouts, more) =
        state.payables.payouts(store.user, before, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| payouts.last().map(|p| format!("/seller/payouts?cursor={}", p.id))).flatten();
    let rows: Vec<PayoutRow> = payouts
        .into_iter()
        .map(|payout| PayoutRow {
            date: locale.format_datetime(payout.created_at),
            amount: money(payout.amount),
            status: i18n::message(locale, &format!("seller_payout_{}", payout.status.as_str())).to_owned(),
            provider: payout.provider,
            to: account(&payout.destination.masked()),
        })
        .collect();
    let owed = context! {
        available => money(balance.available),
        held => money(balance.held),
        in_transit => money(balance.in_transit),
        paid_out => money(balance.paid_out),
    };
    Ok(page(
        visit,
        store,
        status,
        "payouts",
        "seller/payouts.html",
        context! {
            owed,
            can_pay_out => balance.available.amount > 0,
            account => store.seller.payout_account.as_ref().map(account),
            currency => state.wallet.currency().code(),
            rows => Value::from(Serde(&rows)),
            next,
            error,
            notice,
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Query(query): Query<ListQuery>,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/payouts", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let notice = done.notice(visit.locale, &[("requested", "seller_done_payout")]);
    payouts_page(&state, &visit, &store, query.cursor.as_deref(), StatusCode::OK, None, notice).await
}

#[derive(Deserialize)]
pub struct PayoutForm {
    /// Empty: everything available.
    #[serde(default)]
    amount: String,
}

/// Pays out to the store's payout account, as `POST /v1/seller/payouts` without a destination,
/// through the first provider that pays out (as the API picks it when none is named).
#[tracing::instrument(skip_all)]
pub async fn request(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<PayoutForm>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/payouts", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let refused = |(status, message): (StatusCode, String)| {
        payouts_page(&state, &visit, &store, None, status, Some(message), "")
    };
    let currency = state.wallet.currency();
    let amount = match form.amount.trim() {
        "" => None,
        typed => match minor_units(typed, currency) {
            Some(amount) => Some(Money::new(amount, currency)),
            None => return refused(invalid(&visit, "error_seller_payout_amount")).await,
        },
    };
    let method = match crate::wallet::routes::payout_method(&state, None) {
        Ok(method) => method,
        Err(err) => return refused(refusal(&visit, err)?).await,
    };
    match state.payables.pay_out(store.user, amount, currency, None, &method).await {
        Ok(_) => Ok(see_other("/seller/payouts?done=requested")),
        Err(err) => refused(refusal(&visit, err)?).await,
    }
}
