//! `/admin/payments`: each payment provider's health (as `GET /v1/admin/payments/providers`),
//! the log of webhooks the providers sent (as `GET /v1/admin/webhooks/incoming`, with its
//! filters and pages), and a button that runs reconciliation now (as `POST
//! /v1/admin/payments/reconciliation`, audited as the same admin) and shows what it did.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Admin, page};
use crate::http::AppState;
use crate::ids::IncomingWebhookId;
use crate::payments::breaker::BreakerState;
use crate::payments::webhook_log::LogFilter;
use crate::payments::{IncomingWebhook, WebhookResult};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Webhooks on one page of the log.
const PER_PAGE: usize = 25;

const RESULTS: [WebhookResult; 4] =
    [WebhookResult::Applied, WebhookResult::NoChange, WebhookResult::Rejected, WebhookResult::Failed];

#[derive(Default, Deserialize)]
pub struct LogQuery {
    provider: Option<String>,
    result: Option<String>,
    /// The id the page starts below.
    before: Option<String>,
}

#[derive(Serialize)]
struct ProviderView {
    provider: String,
    state: &'static str,
    state_name: String,
    failures: u32,
    open_until: Option<String>,
}

#[derive(Serialize)]
struct WebhookView {
    at: String,
    provider: String,
    kind: String,
    result: &'static str,
    result_name: String,
    status_code: i64,
    error: String,
    duration_ms: i64,
    body: String,
}

#[derive(Serialize)]
struct ReportLine {
    name: String,
    value: usize,
}

fn result_name(locale: crate::locale::Locale, result: WebhookResult) -> String {
    i18n::message(locale, &format!("admin_pay_result_{}", result.as_str())).to_owned()
}

/// The page, with `extra` (a reconciliation's report) in its context.
async fn payments_page(state: &AppState, admin: &Admin, query: &LogQuery, extra: Value) -> PageResult {
    let locale = admin.visit.locale;
    let providers: Vec<ProviderView> = state
        .payments
        .provider_health()
        .into_iter()
        .map(|health| {
            let state = match health.state {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            };
            ProviderView {
                provider: health.provider,
                state,
                state_name: i18n::message(locale, &format!("admin_pay_breaker_{state}")).to_owned(),
                failures: health.failures,
                open_until: health.open_until.map(|at| locale.format_datetime(at)),
            }
        })
        .collect();
    let provider = query
        .provider
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().filter(|c| !c.is_control()).take(50).collect::<String>());
    let result = query.result.as_deref().and_then(WebhookResult::parse);
    let before = query.before.as_deref().and_then(|b| b.parse::<IncomingWebhookId>().ok());
    let filter = LogFilter { provider: provider.clone(), result };
    let (entries, more) =
        state.webhook_log.list(&filter, before, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(provider) = &provider {
            pairs.append_pair("provider", provider);
        }
        if let Some(result) = result {
            pairs.append_pair("result", result.as_str());
        }
        pairs.append_pair("before", &entries.last().map(|e| e.id.to_string()).unwrap_or_default());
        format!("/admin/payments?{}", pairs.finish())
    });
    let webhooks: Vec<WebhookView> = entries
        .into_iter()
        .map(|e: IncomingWebhook| WebhookView {
            at: locale.format_datetime(e.received_at),
            provider: e.provider,
            kind: e.kind,
            result: e.result.as_str(),
            result_name: result_name(locale, e.result),
            status_code: e.status_code,
            error: [e.error_code, e.reason].into_iter().flatten().collect::<Vec<_>>().join(": "),
            duration_ms: e.duration_ms,
            body: e.body,
        })
        .collect();
    let results: Vec<(&str, String)> =
        RESULTS.iter().map(|r| (r.as_str(), result_name(locale, *r))).collect();
    Ok(page(
        admin,
        StatusCode::OK,
        "admin/payments.html",
        "payments",
        context! {
            providers => Serde(&providers),
            webhooks => Serde(&webhooks),
            results => Serde(&results),
            provider => provider.unwrap_or_default(),
            result => result.map(WebhookResult::as_str),
            next,
            ..extra
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, admin: Admin, Query(query): Query<LogQuery>) -> PageResult {
    payments_page(&state, &admin, &query, context! {}).await
}

/// Like `POST /v1/admin/payments/reconciliation`: one pass now, as this admin; the page shows
/// what it did.
#[tracing::instrument(skip_all)]
pub async fn reconcile(State(state): State<AppState>, admin: Admin) -> PageResult {
    let report = state.reconciler.run_by(&admin.actor()).await.map_err(PageError::internal)?;
    let locale = admin.visit.locale;
    let line = |key: &str, value: usize| ReportLine { name: i18n::message(locale, key).to_owned(), value };
    let report = vec![
        line("admin_pay_payments_checked", report.payments_checked),
        line("admin_pay_payments_settled", report.payments_settled),
        line("admin_pay_payouts_checked", report.payouts_checked),
        line("admin_pay_payouts_settled", report.payouts_settled),
        line("admin_pay_refunds_checked", report.refunds_checked),
        line("admin_pay_refunds_completed", report.refunds_completed),
        line("admin_pay_refunds_unresolved", report.refunds_unresolved),
    ];
    let notice = i18n::message(locale, "admin_pay_reconciled");
    payments_page(&state, &admin, &LogQuery::default(), context! { notice, report => Serde(&report) }).await
}
