//! `/admin/sellers`: store applications and stores, by status, with the admin's decisions
//! (approve, reject with a reason, suspend with a reason, reinstate) made through the sellers
//! service as `/v1/admin/sellers/{id}/…` makes them.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Admin, page, refusal, see_other};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::ids::SellerId;
use crate::sellers::{Decision, SellerStatus};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Stores on one page.
const PER_PAGE: usize = 25;

#[derive(Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    before: Option<String>,
    done: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    slug: String,
    owner: String,
    status: String,
    status_code: &'static str,
    reason: String,
    applied: String,
}

async fn list_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    query: ListQuery,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    // Pending applications first: what waits for a decision.
    let filter = match query.status.as_deref() {
        Some("") | Some("all") => None,
        Some(text) => SellerStatus::ALL.into_iter().find(|s| s.as_str() == text),
        None => Some(SellerStatus::Pending),
    };
    let before = query.before.as_deref().and_then(|b| b.parse::<SellerId>().ok());
    let (sellers, more) = state.sellers.list(filter, before, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| {
        let status = filter.map_or("all", SellerStatus::as_str);
        let last = sellers.last().map(|s| s.id.to_string()).unwrap_or_default();
        format!("/admin/sellers?status={status}&before={last}")
    });
    let mut rows = Vec::new();
    for seller in &sellers {
        let owner = state
            .identity
            .user(seller.user_id)
            .await
            .map_or_else(|_| seller.user_id.to_string(), |u| u.email);
        rows.push(Row {
            id: seller.id.to_string(),
            name: seller.store_name.clone(),
            slug: seller.slug.clone(),
            owner,
            status: i18n::message(locale, &format!("admin_seller_{}", seller.status.as_str())).to_owned(),
            status_code: seller.status.as_str(),
            reason: seller.reason.clone().unwrap_or_default(),
            applied: locale.format_datetime(seller.created_at),
        });
    }
    let statuses: Vec<(&str, String)> = SellerStatus::ALL
        .iter()
        .map(|s| (s.as_str(), i18n::message(locale, &format!("admin_seller_{}", s.as_str())).to_owned()))
        .collect();
    let notice = match query.done.as_deref() {
        Some("approve" | "reject" | "suspend" | "reinstate") => i18n::message(locale, "admin_done_decided"),
        _ => "",
    };
    Ok(page(
        admin,
        status,
        "admin/sellers.html",
        "sellers",
        context! {
            rows => Serde(&rows),
            statuses => Serde(&statuses),
            status => filter.map_or("all", SellerStatus::as_str),
            next,
            notice,
            ..extra
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<ListQuery>) -> PageResult {
    list_page(&state, &admin, StatusCode::OK, query, context! {}).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    /// `approve`, `reject`, `suspend` or `reinstate`.
    decision: String,
    /// Needed to reject or suspend.
    reason: Option<String>,
    /// The list to return to.
    back_status: Option<String>,
}

/// Like `POST /v1/admin/sellers/{id}/{approve,reject,suspend,reinstate}`.
#[tracing::instrument(skip_all)]
pub async fn decide(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    let id: SellerId = id.parse().map_err(|_| PageError::not_found())?;
    let back = form.back_status.clone().filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    let again = |key: &'static str| {
        let error = i18n::message(admin.visit.locale, key);
        (ListQuery { status: back.clone(), ..ListQuery::default() }, context! { error })
    };
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        "suspend" => Decision::Suspend,
        "reinstate" => Decision::Reinstate,
        _ => {
            let (query, extra) = again("error_admin_invalid");
            return list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, query, extra).await;
        }
    };
    let reason = match decision {
        Decision::Reject | Decision::Suspend => {
            match form.reason.as_deref().map(str::trim).map(Text::<500>::parse) {
                Some(Ok(reason)) if !reason.as_str().is_empty() => Some(reason.as_str().to_owned()),
                _ => {
                    let (query, extra) = again("error_admin_reason");
                    return list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, query, extra).await;
                }
            }
        }
        Decision::Approve | Decision::Reinstate => None,
    };
    match state.sellers.decide(&admin.principal, id, decision, reason).await {
        Ok(_) => {
            let status = back.unwrap_or_else(|| "pending".into());
            Ok(see_other(&format!("/admin/sellers?status={status}&done={}", form.decision)))
        }
        Err(err) => {
            let (status, key) = refusal(err)?;
            let (query, extra) = again(key);
            list_page(&state, &admin, status, query, extra).await
        }
    }
}
