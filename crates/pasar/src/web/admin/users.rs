//! `/admin/users`: the list (search by email or name, filter by role), a user's page, and
//! what the admin JSON routes do to a user: change the role, deactivate or reactivate, adjust
//! the wallet with a reason. The identity and wallet services apply the same rules (only a
//! super admin acts on staff, nobody on themselves) and record the same events.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::orders::parse_amount;
use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::identity::{IdentityError, Role, User, UserFilter};
use crate::ids::UserId;
use crate::money::Money;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Users on one page of the list.
const PER_PAGE: usize = 25;

fn role_name(role: Role) -> String {
    format!("admin_role_{}", role.as_str())
}

#[derive(Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    role: Option<String>,
    before: Option<String>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    email: String,
    href: String,
    role: String,
    active: bool,
    joined: String,
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<ListQuery>) -> PageResult {
    let locale = admin.visit.locale;
    let q: String = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let role = query.role.as_deref().and_then(Role::parse);
    let before = query.before.as_deref().and_then(|b| b.parse::<UserId>().ok());
    let filter = UserFilter { search: (!q.is_empty()).then(|| q.clone()), role, before };
    let (users, more) = state.identity.list_users(&filter, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            pairs.append_pair("q", &q);
        }
        if let Some(role) = role {
            pairs.append_pair("role", role.as_str());
        }
        pairs.append_pair("before", &users.last().map(|u| u.id.to_string()).unwrap_or_default());
        format!("/admin/users?{}", pairs.finish())
    });
    let rows: Vec<Row> = users
        .iter()
        .map(|u| Row {
            name: u.name.clone(),
            email: u.email.clone(),
            href: format!("/admin/users/{}", u.id),
            role: i18n::message(locale, &role_name(u.role)).to_owned(),
            active: u.is_active,
            joined: locale.format_datetime(u.created_at),
        })
        .collect();
    let roles: Vec<(&str, String)> =
        Role::ALL.iter().map(|r| (r.as_str(), i18n::message(locale, &role_name(*r)).to_owned())).collect();
    Ok(page(
        &admin,
        StatusCode::OK,
        "admin/users.html",
        "users",
        context! { rows => Serde(&rows), roles => Serde(&roles), q, role => role.map(Role::as_str), next },
    ))
}

async fn load(state: &AppState, id: &str) -> Result<User, PageError> {
    let id: UserId = id.parse().map_err(|_| PageError::not_found())?;
    match state.identity.user(id).await {
        Ok(user) => Ok(user),
        Err(IdentityError::UserNotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

async fn user_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    user: User,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let wallet = state.wallet.summary(user.id).await.map_err(PageError::internal)?;
    let roles: Vec<(&str, String)> =
        Role::ALL.iter().map(|r| (r.as_str(), i18n::message(locale, &role_name(*r)).to_owned())).collect();
    let orders_href = format!(
        "/admin/orders?q={}",
        form_urlencoded::byte_serialize(user.email.as_bytes()).collect::<String>()
    );
    Ok(page(
        admin,
        status,
        "admin/user.html",
        "users",
        context! {
            id => user.id.to_string(),
            name => user.name,
            email => user.email,
            role_code => user.role.as_str(),
            role => i18n::message(locale, &role_name(user.role)),
            active => user.is_active,
            joined => locale.format_datetime(user.created_at),
            itself => user.id == admin.principal.user,
            balance => locale.format_money(wallet.balance),
            pending => locale.format_money(wallet.pending),
            points => wallet.points,
            currency => wallet.balance.currency.code(),
            roles => Serde(&roles),
            // Sent back with the adjustment: a form submitted twice adjusts once.
            adjustment_key => uuid::Uuid::now_v7().simple().to_string(),
            orders_href,
            ..extra
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> PageResult {
    let user = load(&state, &id).await?;
    let notice = query.notice(
        admin.visit.locale,
        &[
            ("role", "admin_done_role"),
            ("deactivated", "admin_done_deactivated"),
            ("reactivated", "admin_done_reactivated"),
            ("wallet", "admin_done_wallet"),
        ],
    );
    user_page(&state, &admin, StatusCode::OK, user, context! { notice }).await
}

fn done(id: UserId, what: &str) -> Response {
    see_other(&format!("/admin/users/{id}?done={what}"))
}

async fn again(state: &AppState, admin: &Admin, id: UserId, status: StatusCode, key: &str) -> PageResult {
    let user = load(state, &id.to_string()).await?;
    let error = i18n::message(admin.visit.locale, key);
    user_page(state, admin, status, user, context! { error }).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

/// Like `PUT /v1/admin/users/{id}/role`.
#[tracing::instrument(skip_all)]
pub async fn change_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let user = load(&state, &id).await?;
    let Some(role) = Role::parse(&form.role) else {
        return again(&state, &admin, user.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_invalid").await;
    };
    match state.identity.change_role(&admin.principal, user.id, role).await {
        Ok(_) => Ok(done(user.id, "role")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(&state, &admin, user.id, status, key).await
        }
    }
}

async fn set_active(state: &AppState, admin: &Admin, id: &str, active: bool) -> PageResult {
    let user = load(state, id).await?;
    match state.identity.set_active(&admin.principal, user.id, active).await {
        Ok(_) => Ok(done(user.id, if active { "reactivated" } else { "deactivated" })),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(state, admin, user.id, status, key).await
        }
    }
}

/// Like `POST /v1/admin/users/{id}/deactivate`: the account's sessions end, login is refused.
#[tracing::instrument(skip_all)]
pub async fn deactivate(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    set_active(&state, &admin, &id, false).await
}

/// Like `POST /v1/admin/users/{id}/reactivate`.
#[tracing::instrument(skip_all)]
pub async fn reactivate(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    set_active(&state, &admin, &id, true).await
}

#[derive(Deserialize)]
pub struct WalletForm {
    /// Signed, in major units: `50000` credits, `-50000` debits.
    amount: String,
    reason: String,
    /// The form's own key, so a form sent twice adjusts once (like `Idempotency-Key`).
    key: String,
}

/// Like `POST /v1/admin/users/{id}/wallet/adjust` with an idempotency key.
#[tracing::instrument(skip_all)]
pub async fn adjust_wallet(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<WalletForm>,
) -> PageResult {
    let user = load(&state, &id).await?;
    let text = form.amount.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let template = Money { amount: 1, currency: state.wallet.currency() };
    let Some(amount) = parse_amount(digits, template) else {
        return again(&state, &admin, user.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_amount").await;
    };
    let amount = if negative { Money { amount: -amount.amount, ..amount } } else { amount };
    let reason = match Text::<200>::parse(form.reason.trim()) {
        Ok(reason) if !reason.as_str().is_empty() => reason,
        _ => {
            return again(&state, &admin, user.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_reason")
                .await;
        }
    };
    let key: String = form.key.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    let id = if key.is_empty() {
        uuid::Uuid::now_v7().simple().to_string()
    } else {
        format!("{}:web-{key}", admin.principal.user)
    };
    let actor = admin.actor();
    match state.wallet.adjust(&id, user.id, amount, reason.as_str(), &actor).await {
        Ok(_) => Ok(done(user.id, "wallet")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(&state, &admin, user.id, status, key).await
        }
    }
}
