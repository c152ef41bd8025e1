//! `/account/notifications` (which categories of notifications arrive, as
//! `/v1/me/notification-preferences` sets them) and `/account/sessions` (the live logins, end
//! one, log out everywhere, as `/v1/me/sessions` does).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Member, notice, see_other};
use crate::http::AppState;
use crate::identity::IdentityError;
use crate::ids::SessionId;
use crate::notifications::Category;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::{SESSION_COOKIE, Visit};

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Serialize)]
struct CategoryView {
    name: &'static str,
    label: String,
    enabled: bool,
    transactional: bool,
}

#[tracing::instrument(skip_all)]
pub async fn notifications(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<Done>,
) -> PageResult {
    let preferences = state.notifications.preferences(principal.user).await.map_err(PageError::internal)?;
    let categories: Vec<CategoryView> = preferences
        .into_iter()
        .map(|p| CategoryView {
            name: p.category.as_str(),
            label: format!("me_category_{}", p.category.as_str()),
            enabled: p.enabled,
            transactional: p.category.is_transactional(),
        })
        .collect();
    Ok(render(
        &visit,
        StatusCode::OK,
        "me/notifications.html",
        context! {
            categories => Value::from(Serde(&categories)),
            notice => notice(query.done.as_deref()),
            back => "/account/notifications", section => "notifications",
        },
    ))
}

/// The form's checkboxes are named `category_{name}`; a category that may be turned off is
/// off when its box is not sent. Transactional ones are always on and not sent.
#[tracing::instrument(skip_all)]
pub async fn save_notifications(
    State(state): State<AppState>,
    Member(principal): Member,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult {
    let choices: Vec<(Category, bool)> = Category::ALL
        .into_iter()
        .filter(|category| !category.is_transactional())
        .map(|category| (category, form.contains_key(&format!("category_{}", category.as_str()))))
        .collect();
    state.notifications.set_preferences(principal.user, &choices).await.map_err(PageError::internal)?;
    Ok(see_other("/account/notifications?done=preferences_saved"))
}

#[derive(Serialize)]
struct SessionView {
    id: String,
    device: String,
    ip: String,
    last_seen: String,
    started: String,
    current: bool,
}

/// A user agent as a person recognises it: browser and system, else the text itself.
fn device_of(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|a| !a.trim().is_empty()) else { return "?".to_owned() };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} · {system}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => agent.chars().take(60).collect(),
    }
}

#[tracing::instrument(skip_all)]
pub async fn sessions(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Query(query): Query<Done>,
) -> PageResult {
    let locale = visit.locale;
    let sessions = state.identity.sessions(&principal).await.map_err(PageError::internal)?;
    let sessions: Vec<SessionView> = sessions
        .into_iter()
        .map(|s| SessionView {
            id: s.id.to_string(),
            device: device_of(s.user_agent.as_deref()),
            ip: s.ip.unwrap_or_default(),
            last_seen: locale.format_datetime(s.last_seen_at),
            started: locale.format_datetime(s.created_at),
            current: s.current,
        })
        .collect();
    Ok(render(
        &visit,
        StatusCode::OK,
        "me/sessions.html",
        context! {
            sessions => Value::from(Serde(&sessions)),
            notice => notice(query.done.as_deref()),
            back => "/account/sessions", section => "sessions",
        },
    ))
}

/// Ends one of the visitor's sessions; ending this one logs this browser out.
#[tracing::instrument(skip_all)]
pub async fn end_one(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Path(id): Path<String>,
) -> PageResult {
    let id: SessionId = id.parse().map_err(|_| PageError::not_found())?;
    match state.identity.end_session(&principal, id).await {
        Ok(()) if id == principal.session => {
            let mut response = see_other("/");
            response.headers_mut().append(header::SET_COOKIE, visit.removed_cookie(SESSION_COOKIE));
            Ok(response)
        }
        Ok(()) => Ok(see_other("/account/sessions?done=session_ended")),
        Err(IdentityError::SessionNotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

#[derive(Deserialize)]
pub struct EndAll {
    /// `others` keeps this browser signed in; anything else logs out here too.
    #[serde(default)]
    keep: String,
}

#[tracing::instrument(skip_all)]
pub async fn end_all(
    State(state): State<AppState>,
    visit: Visit,
    Member(principal): Member,
    Form(form): Form<EndAll>,
) -> PageResult {
    let keep_current = form.keep == "others";
    state.identity.end_sessions(&principal, keep_current).await.map_err(PageError::internal)?;
    if keep_current {
        return Ok(see_other("/account/sessions?done=sessions_ended"));
    }
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, visit.removed_cookie(SESSION_COOKIE));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_named_by_browser_and_system() {
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
        assert_eq!(device_of(Some(chrome)), "Chrome · Android");
        assert_eq!(device_of(Some("curl/8.5")), "curl/8.5");
        assert_eq!(device_of(None), "?");
    }
}
