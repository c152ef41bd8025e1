//! `/account/wallet` and `/account/points`: the balance and its history (paged), a deposit
//! started as `POST /v1/wallet/deposits` does (then paid at `/pay/{id}`), and a withdrawal to a
//! bank account as `POST /v1/wallet/withdrawals` does, with the withdrawals' statuses. Each
//! form carries a key made when the page is drawn, kept as the API keeps an `Idempotency-Key`:
//! a form sent twice starts one deposit or one withdrawal.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Member, notice, see_other};
use crate::http::AppState;
use crate::http::idempotency;
use crate::identity::Principal;
use crate::identity::domain::Text;
use crate::locale::Locale;
use crate::money::{Currency, Money};
use crate::payments::domain::{AccountNumber, BankCode};
use crate::payments::{PaymentsError, PayoutDestination};
use crate::wallet::{EntryState, WalletEntry, WalletError};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::Visit;

/// History lines on one page.
const PER_PAGE: usize = 20;
/// Withdrawals listed.
const WITHDRAWALS_LISTED: usize = 10;
/// The amount the deposit form starts with (major units), so its fees show at once.
const SUGGESTED_DEPOSIT: i64 = 100_000;

/// An amount typed in the currency's major units (`50000`, `12.50`; `.` or `,` before the
/// cents, spaces and the other separator ignored) as money; none when it is not one.
fn parse_amount(text: &str, currency: Currency) -> Option<Money> {
    let digits = currency.minor_digits();
    let cleaned: String = text.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let (whole, fraction) = if digits == 0 {
        (cleaned.replace(['.', ','], ""), String::new())
    } else {
        match cleaned.rfind(['.', ',']) {
            Some(at) if cleaned.len() - at - 1 <= digits as usize => {
                (cleaned[..at].replace(['.', ','], ""), cleaned[at + 1..].to_owned())
            }
            _ => (cleaned.replace(['.', ','], ""), String::new()),
        }
    };
    if whole.is_empty() || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let scale = 10_i64.pow(digits);
    let fraction = format!("{fraction:0<width$}", width = digits as usize);
    let minor = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction.parse().unwrap_or(0))?;
    (minor >= 1).then(|| Money::new(minor, currency))
}

/// An amount as the forms show it: major units, no grouping.
fn plain_amount(money: Money) -> String {
    let digits = money.currency.minor_digits();
    if digits == 0 {
        return money.amount.to_string();
    }
    let scale = 10_i64.pow(digits);
    format!("{}.{:0width$}", money.amount / scale, money.amount % scale, width = digits as usize)
}

#[derive(Serialize)]
struct Line {
    when: String,
    what: String,
    state: &'static str,
    amount: String,
    incoming: bool,
    reference: Option<String>,
}

fn kind_label(locale: Locale, kind: &str) -> String {
    let key = match kind {
        "deposit" => "me_kind_deposit",
        "order_payment" => "me_kind_order_payment",
        "withdrawal" => "me_kind_withdrawal",
        "refund" => "me_kind_refund",
        "adjustment" => "me_kind_adjustment",
        "points_earned" => "me_kind_points_earned",
        "points_redeemed" => "me_kind_points_redeemed",
        other => return other.replace('_', " "),
    };
    i18n::message(locale, key).to_owned()
}

fn line_of(locale: Locale, entry: WalletEntry) -> Line {
    let state = match entry.state {
        EntryState::Pending => "me_state_pending",
        EntryState::Completed => "me_state_completed",
        EntryState::Returned => "me_state_returned",
    };
    let (amount, incoming) = match (entry.amount, entry.points) {
        (Some(money), _) => (locale.format_money(money), money.amount > 0),
        (None, Some(points)) => (format!("{points:+}"), points > 0),
        (None, None) => (String::new(), false),
    };
    Line {
        when: locale.format_datetime(entry.created_at),
        what: kind_label(locale, &entry.kind),
        state,
        amount,
        incoming,
        reference: entry.reference,
    }
}

#[derive(Deserialize)]
pub struct WalletQuery {
    /// The last line of the previous page.
    before: Option<String>,
    /// The deposit amount whose fees the form shows.
    amount: Option<String>,
    done: Option<String>,
}

/// One page of history: its lines and the link to the next.
async fn history(
    state: &AppState,
    visit: &Visit,
    principal: &Principal,
    points: bool,
    before: Option<&str>,
    path: &str,
) -> Result<(Vec<Line>, Option<String>), PageError> {
    let before = before.filter(|b| !b.is_empty() && b.len() <= 100);
    let (entries, more) =
        state.wallet.history(principal.user, points, before, PER_PAGE).await.map_err(wallet_failed)?;
    let next = more.then(|| entries.last().map(|e| e.id.clone())).flatten().map(|last| {
        let last = form_urlencoded::byte_serialize(last.as_bytes()).collect::<String>();
        format!("{path}?before={last}")
    });
    Ok((entries.into_iter().map(|e| line_of(visit.locale, e)).collect(), next))
}

fn wallet_failed(err: WalletError) -> PageError {
    match err {
        // A cursor that names no line of this history.
        WalletError::Invalid(_) | WalletError::NotFound => PageError::not_found(),
        err => PageError::internal(err),
    }
}

#[derive(Serialize)]
struct Method {
    method: String,
    fee: String,
    total: String,
    chosen: bool,
}

#[derive(Serialize)]
struct Withdrawal {
    when: String,
    amount: String,
    status: String,
    bank: String,
}

/// What the wallet page shows besides an error: the forms keep what was typed.
#[derive(Clone, Default, Serialize)]
struct Typed {
    deposit_amount: Option<String>,
    method: Option<String>,
    withdraw_amount: Option<String>,
    bank_code: Option<String>,
    account_number: Option<String>,
    account_name: Option<String>,
}

async fn wallet_page(
    state: &AppState,
    visit: &Visit,
    principal: &Principal,
    status: StatusCode,
    query: &WalletQuery,
    failed: Option<(&str, &str)>,
    typed: Typed,
) -> PageResult {
    let locale = visit.locale;
    let currency = state.wallet.currency();
    let summary = state.wallet.summary(principal.user).await.map_err(PageError::internal)?;
    let (lines, next_href) =
        history(state, visit, principal, false, query.before.as_deref(), "/account/wallet").await?;
    let asked = typed.deposit_amount.as_deref().or(query.amount.as_deref());
    let amount = asked
        .and_then(|text| parse_amount(text, currency))
        .unwrap_or(Money::new(SUGGESTED_DEPOSIT * 10_i64.pow(currency.minor_digits()), currency));
    let chosen = typed.method.clone();
    let methods: Vec<Method> = state
        .payments
        .methods_on_offer(amount)
        .map_err(PageError::internal)?
        .into_iter()
        .filter(|(method, _, _)| method != crate::wallet::METHOD)
        .map(|(method, _, fee)| Method {
            total: amount.checked_add(fee).map(|t| locale.format_money(t)).unwrap_or_default(),
            fee: locale.format_money(fee),
            chosen: chosen.as_deref() == Some(method.as_str()),
            method,
        })
        .collect();
    let (withdrawals, _) = state
        .wallet
        .withdrawals(principal.user, None, WITHDRAWALS_LISTED)
        .await
        .map_err(PageError::internal)?;
    let withdrawals: Vec<Withdrawal> = withdrawals
        .into_iter()
        .map(|payout| {
            let masked = payout.destination.masked();
            Withdrawal {
                when: locale.format_datetime(payout.created_at),
                amount: locale.format_money(payout.amount),
                status: format!("me_payout_{}", payout.status.as_str()),
                bank: format!("{} ••••{}", masked.bank_code.as_str(), masked.account_number_last4),
            }
        })
        .collect();
    let can_withdraw = !state.payments.payout_providers().is_empty();
    let (form, key) = failed.unzip();
    Ok(render(
        visit,
        status,
        "me/wallet.html",
        context! {
            balance => locale.format_money(summary.balance),
            pending => (summary.pending.amount != 0).then(|| locale.format_money(summary.pending)),
            currency => currency.code(),
            lines => Value::from(Serde(&lines)),
            next_href,
            paged => query.before.is_some(),
            methods => Value::from(Serde(&methods)),
            deposit_amount => plain_amount(amount),
            withdrawals => Value::from(Serde(&withdrawals)),
            typed => Value::from(Serde(&typed)),
            can_withdraw,
            deposit_key => fresh_key(),
            withdraw_key => fresh_key(),
            failed => form,
            error => key.map(|key| i18n::message(locale, key)),
            notice => notice(query.done.as_deref()),
            back => "/account/wallet", section => "wallet",
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<WalletQuery>,
) -> PageResult {
    wallet_page(&state, &visit, &principal, StatusCode::OK, &query, None, Typed::default()).await
}

/// Where a form sends the browser, or the refusal (status and message key) the page shows.
type Outcome = Result<String, (StatusCode, &'static str)>;

/// A form's own key, new each time the page is drawn.
fn fresh_key() -> String {
    format!("web-{}", uuid::Uuid::now_v7().simple())
}

/// Runs a wallet form's action once per key the page drew it with (the JSON routes'
/// `Idempotency-Key`, kept in the same place): a resubmission gets the first answer back.
/// `form` is the form (`deposit`, `withdraw`) posted to `path`; `fields` tell this submission
/// from another with the same key.
#[allow(clippy::too_many_arguments)]
async fn once(
    state: &AppState,
    visit: &Visit,
    principal: &Principal,
    (form, path): (&'static str, &str),
    key: &str,
    fields: &[&str],
    typed: Typed,
    action: impl Future<Output = Result<Outcome, PageError>>,
) -> PageResult {
    let answer = |outcome: Outcome, typed: Typed| async move {
        match outcome {
            Ok(location) => Ok(see_other(&location)),
            Err((status, message)) => {
                wallet_page(state, visit, principal, status, &no_query(), Some((form, message)), typed).await
            }
        }
    };
    if key.is_empty() {
        return answer(action.await?, typed).await;
    }
    let run = {
        let typed = typed.clone();
        async move {
            match action.await {
                Ok(outcome) => answer(outcome, typed).await.unwrap_or_else(IntoResponse::into_response),
                Err(err) => err.into_response(),
            }
        }
    };
    match idempotency::once(state, principal, key, path, fields, run).await {
        Ok(response) => Ok(response),
        Err(err) => {
            let refused = match err.code() {
                "idempotency_request_in_progress" => (StatusCode::CONFLICT, "error_me_form_in_progress"),
                "idempotency_key_reused" | "invalid_idempotency_key" => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "error_me_form_reused")
                }
                _ => return Err(PageError::internal(err)),
            };
            answer(Err(refused), typed).await
        }
    }
}

fn no_query() -> WalletQuery {
    WalletQuery { before: None, amount: None, done: None }
}

#[derive(Deserialize)]
pub struct DepositForm {
    amount: String,
    #[serde(default)]
    payment_method: String,
    /// The form's own key (see [`fresh_key`]).
    #[serde(default)]
    key: String,
}

#[tracing::instrument(skip_all)]
pub async fn deposit(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<DepositForm>,
) -> PageResult {
    let typed = Typed {
        deposit_amount: Some(form.amount.clone()),
        method: Some(form.payment_method.clone()),
        ..Typed::default()
    };
    let fields = [form.amount.as_str(), form.payment_method.as_str()];
    let action = start_deposit(&state, &principal, &form);
    let form_at = ("deposit", "/account/wallet/deposits");
    once(&state, &visit, &principal, form_at, &form.key, &fields, typed, action).await
}

/// Starts the deposit as `POST /v1/wallet/deposits` does: where to pay it, or why not.
async fn start_deposit(
    state: &AppState,
    principal: &Principal,
    form: &DepositForm,
) -> Result<Outcome, PageError> {
    let Some(amount) = parse_amount(&form.amount, state.wallet.currency()) else {
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_amount")));
    };
    Ok(match state.wallet.deposit(principal.user, amount, &form.payment_method).await {
        Ok(payment) => Ok(format!("/pay/{}", payment.id)),
        Err(WalletError::Invalid(_) | WalletError::Payments(PaymentsError::UnknownMethod(_))) => {
            Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_deposit"))
        }
        Err(WalletError::GatewayUnavailable | WalletError::Payments(PaymentsError::ProviderDown { .. })) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, "error_me_gateway_down"))
        }
        Err(err) => return Err(PageError::internal(err)),
    })
}

#[derive(Deserialize)]
pub struct WithdrawalForm {
    amount: String,
    bank_code: String,
    account_number: String,
    account_name: String,
    /// The form's own key (see [`fresh_key`]).
    #[serde(default)]
    key: String,
}

#[tracing::instrument(skip_all)]
pub async fn withdraw(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<WithdrawalForm>,
) -> PageResult {
    let typed = Typed {
        withdraw_amount: Some(form.amount.clone()),
        bank_code: Some(form.bank_code.clone()),
        account_number: Some(form.account_number.clone()),
        account_name: Some(form.account_name.clone()),
        ..Typed::default()
    };
    let fields = [
        form.amount.as_str(),
        form.bank_code.as_str(),
        form.account_number.as_str(),
        form.account_name.as_str(),
    ];
    let action = start_withdrawal(&state, &principal, &form);
    let form_at = ("withdraw", "/account/wallet/withdrawals");
    once(&state, &visit, &principal, form_at, &form.key, &fields, typed, action).await
}

/// Starts the withdrawal as `POST /v1/wallet/withdrawals` does: where the browser goes next, or
/// why not.
async fn start_withdrawal(
    state: &AppState,
    principal: &Principal,
    form: &WithdrawalForm,
) -> Result<Outcome, PageError> {
    let Some(amount) = parse_amount(&form.amount, state.wallet.currency()) else {
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_amount")));
    };
    let destination = (|| {
        Some(PayoutDestination {
            bank_code: BankCode::parse(&form.bank_code).ok()?,
            account_number: AccountNumber::parse(&form.account_number).ok()?,
            account_name: Text::parse(&form.account_name).ok()?,
        })
    })();
    let Some(destination) = destination else {
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_bank_account")));
    };
    // The provider the API chooses when none is asked for: the first that pays out.
    let Some(method) = state.payments.payout_providers().into_iter().next() else {
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_no_payouts")));
    };
    Ok(match state.wallet.withdraw(principal.user, amount, destination, &method).await {
        Ok(_) => Ok("/account/wallet?done=withdrawal_started".to_owned()),
        Err(WalletError::InsufficientBalance) => Err((StatusCode::CONFLICT, "error_me_insufficient_balance")),
        Err(WalletError::Invalid(_) | WalletError::Payments(PaymentsError::InvalidPayout(_))) => {
            Err((StatusCode::UNPROCESSABLE_ENTITY, "error_me_amount"))
        }
        Err(WalletError::GatewayUnavailable | WalletError::Payments(PaymentsError::ProviderDown { .. })) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, "error_me_gateway_down"))
        }
        Err(err) => return Err(PageError::internal(err)),
    })
}

#[derive(Deserialize)]
pub struct PointsQuery {
    before: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn points(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<PointsQuery>,
) -> PageResult {
    let summary = state.wallet.summary(principal.user).await.map_err(PageError::internal)?;
    let (lines, next_href) =
        history(&state, &visit, &principal, true, query.before.as_deref(), "/account/points").await?;
    Ok(render(
        &visit,
        StatusCode::OK,
        "me/points.html",
        context! {
            points => summary.points,
            points_pending => summary.points_pending,
            lines => Value::from(Serde(&lines)),
            next_href,
            paged => query.before.is_some(),
            back => "/account/points", section => "points",
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_typed_in_major_units() {
        assert_eq!(parse_amount("50000", Currency::IDR), Some(Money::new(50_000, Currency::IDR)));
        assert_eq!(parse_amount("50.000", Currency::IDR), Some(Money::new(50_000, Currency::IDR)));
        assert_eq!(parse_amount("12.50", Currency::USD), Some(Money::new(1250, Currency::USD)));
        assert_eq!(parse_amount("12,5", Currency::USD), Some(Money::new(1250, Currency::USD)));
        assert_eq!(parse_amount("1,250", Currency::USD), Some(Money::new(125_000, Currency::USD)));
        assert_eq!(parse_amount("0", Currency::IDR), None);
        assert_eq!(parse_amount("-5", Currency::IDR), None);
        assert_eq!(parse_amount("lima", Currency::IDR), None);
        assert_eq!(plain_amount(Money::new(1250, Currency::USD)), "12.50");
    }
}
