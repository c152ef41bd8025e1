//! `/admin/audit`: the audit log (filtered by actor, entity and action, as `/v1/admin/audit`
//! filters it), with a button that walks the whole chain as `pasar audit verify` does; and
//! `/admin/ledger`: every ledger account's balance, as `/v1/admin/ledger/balances` lists them.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::{Admin, page};
use crate::audit::AuditFilter;
use crate::http::AppState;
use crate::locale::Locale;
use crate::money::{Currency, Money};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Entries on one page of the log.
const PER_PAGE: usize = 50;

#[derive(Default, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    /// The `seq` the page starts below.
    before: Option<String>,
    /// Present: walk the chain and show the result.
    verify: Option<String>,
}

#[derive(Serialize)]
struct EntryView {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    entity: String,
    actor_href: String,
    action_href: String,
    entity_href: String,
    before: String,
    after: String,
}

/// A filter's value as the JSON route takes it: trimmed, at most 200 characters, no control
/// characters (which the database could not hold); None when empty.
fn filter_value(value: Option<&str>) -> Option<String> {
    let value: String = value?.trim().chars().filter(|c| !c.is_control()).take(200).collect();
    (!value.is_empty()).then_some(value)
}

/// The log filtered by one value.
fn filtered(name: &str, value: &str) -> String {
    format!(
        "/admin/audit?{}",
        form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish()
    )
}

fn compact(value: Option<&serde_json::Value>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[tracing::instrument(skip_all)]
pub async fn log(State(state): State<AppState>, admin: Admin, Query(query): Query<AuditQuery>) -> PageResult {
    let locale = admin.visit.locale;
    let filter = AuditFilter {
        actor: filter_value(query.actor.as_deref()),
        entity: filter_value(query.entity.as_deref()),
        action: filter_value(query.action.as_deref()),
        before: query.before.as_deref().and_then(|b| b.parse().ok()),
    };
    let (entries, more) = state.audit.search(&filter, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (name, value) in
            [("actor", &filter.actor), ("entity", &filter.entity), ("action", &filter.action)]
        {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        pairs.append_pair("before", &entries.last().map(|e| e.seq.to_string()).unwrap_or_default());
        format!("/admin/audit?{}", pairs.finish())
    });
    let rows: Vec<EntryView> = entries
        .iter()
        .map(|e| EntryView {
            seq: e.seq,
            at: locale.format_datetime(e.occurred_at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity: e.entity.clone(),
            actor_href: filtered("actor", &e.actor),
            action_href: filtered("action", &e.action),
            entity_href: filtered("entity", &e.entity),
            before: compact(e.before.as_ref()),
            after: compact(e.after.as_ref()),
        })
        .collect();
    let (verified, chain) = match query.verify {
        None => ("", String::new()),
        Some(_) => match state.audit.verify().await.map_err(PageError::internal)? {
            Ok(count) => {
                ("intact", i18n::message(locale, "admin_chain_intact").replace("{n}", &count.to_string()))
            }
            Err(broken) => {
                tracing::warn!(%broken, "the audit chain is broken");
                ("broken", format!("{} {broken}", i18n::message(locale, "admin_chain_broken")))
            }
        },
    };
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/audit.html",
        "audit",
        context! {
            rows => Serde(&rows),
            actor => filter.actor,
            entity => filter.entity,
            action => filter.action,
            next,
            verified,
            chain,
        },
    ))
}

#[derive(Serialize)]
struct AccountView {
    code: String,
    kind: String,
    posted: String,
    pending_debits: String,
    pending_credits: String,
    available: String,
}

#[derive(Serialize)]
struct TotalView {
    unit: String,
    posted: String,
    balanced: bool,
}

/// An amount of a ledger unit: money when the unit is a currency, else the bare number
/// (points).
fn amount_of(locale: Locale, unit: &str, amount: i64) -> String {
    match Currency::parse(unit) {
        Ok(currency) => locale.format_money(Money { amount, currency }),
        Err(_) => amount.to_string(),
    }
}

#[tracing::instrument(skip_all)]
pub async fn ledger(State(state): State<AppState>, admin: Admin) -> PageResult {
    let locale = admin.visit.locale;
    let balances = state.ledger.balances().await.map_err(PageError::internal)?;
    let mut totals: Vec<TotalView> = Vec::new();
    let mut sums: std::collections::BTreeMap<String, (i64, i64, i64)> = std::collections::BTreeMap::new();
    let accounts: Vec<AccountView> = balances
        .iter()
        .map(|(account, balance)| {
            let sum = sums.entry(account.unit.clone()).or_default();
            sum.0 += balance.posted;
            sum.1 += balance.pending_debits;
            sum.2 += balance.pending_credits;
            AccountView {
                code: account.code.clone(),
                kind: serde_json::to_value(account.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                posted: amount_of(locale, &account.unit, balance.posted),
                pending_debits: amount_of(locale, &account.unit, balance.pending_debits),
                pending_credits: amount_of(locale, &account.unit, balance.pending_credits),
                available: amount_of(locale, &account.unit, balance.available),
            }
        })
        .collect();
    for (unit, (posted, debits, credits)) in sums {
        totals.push(TotalView {
            posted: amount_of(locale, &unit, posted),
            balanced: posted == 0 && debits == credits,
            unit,
        });
    }
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/ledger.html",
        "ledger",
        context! { accounts => Serde(&accounts), totals => Serde(&totals) },
    ))
}
