//! The audit store's HTTP route: `GET /v1/admin/audit`, for staff.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{AuditEntry, AuditError, AuditFilter};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::ApiQuery;
use crate::http::pagination::{Page, PageQuery};
use crate::http::{ApiResult, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_entries))
}

impl From<AuditError> for ApiError {
    fn from(err: AuditError) -> Self {
        match err {
            AuditError::Database(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditSearch {
    /// Only entries about this id (such as a `usr_…`).
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    entity: Option<String>,
    /// Only entries caused by this actor (a user id, `system`, `gateway:<provider>`).
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    actor: Option<String>,
    /// Only entries of this event type, such as `user.role_changed`.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    action: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AuditPage {
    data: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Audit entries, newest first, with filters and cursor pagination.
#[utoipa::path(
    get, path = "/v1/admin/audit", tag = "audit", security(("bearer" = [])),
    params(AuditSearch),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    )
)]
async fn list_entries(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(query): ApiQuery<AuditSearch>,
) -> ApiResult<Json<AuditPage>> {
    let filter_value = |name: &str, value: Option<String>| -> Result<Option<String>, ApiError> {
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return Err(ApiError::field(name, "must be at most 200 characters"));
        }
        // PostgreSQL text cannot hold NUL: refused here rather than failing in the database.
        if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(ApiError::field(name, "must not contain control characters"));
        }
        Ok(value)
    };
    let page = PageQuery { limit: query.limit, cursor: query.cursor };
    let filter = AuditFilter {
        entity: filter_value("entity", query.entity)?,
        actor: filter_value("actor", query.actor)?,
        action: filter_value("action", query.action)?,
        before: page.position()?,
    };
    let (entries, more) = state.audit.search(&filter, page.limit()?).await?;
    let Page { data, next_cursor } = Page::new(entries, more, |e: &AuditEntry| e.seq.to_string());
    Ok(Json(AuditPage { data, next_cursor }))
}
