//! The ledger's admin route: every account's balances and the totals per unit.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{AccountKind, Balance, LedgerError, UnitTotals, totals_per_unit};
use crate::http::auth::Staff;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::{ApiResult, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(balances))
}

impl From<LedgerError> for ApiError {
    fn from(err: LedgerError) -> Self {
        match err {
            LedgerError::InsufficientFunds { ref account } => {
                let account = account.clone();
                ApiError::conflict("insufficient_funds", err.to_string())
                    .with_details(serde_json::json!({ "account": account }))
            }
            LedgerError::ExistsWithDifferentFields { .. } => {
                ApiError::conflict("transfer_exists", err.to_string())
            }
            LedgerError::PendingNotFound { .. } => ApiError::conflict("pending_not_found", err.to_string()),
            LedgerError::PendingAlreadyResolved { .. } => {
                ApiError::conflict("pending_already_resolved", err.to_string())
            }
            LedgerError::InvalidAmount => ApiError::field("amount", err.to_string()),
            LedgerError::UnitMismatch | LedgerError::SameAccount => {
                ApiError::field("account", err.to_string())
            }
            LedgerError::Internal(what) => ApiError::internal(anyhow::anyhow!(what)),
            LedgerError::Database(e) => e.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct AccountBalance {
    /// The account's unique code, ending with its unit (`wallet:usr_…:IDR`).
    code: String,
    /// An ISO currency code, or `PTS` for loyalty points.
    unit: String,
    kind: AccountKind,
    #[serde(flatten)]
    balance: Balance,
}

#[derive(Serialize, ToSchema)]
struct LedgerBalances {
    /// Every account, by code.
    accounts: Vec<AccountBalance>,
    /// Per unit: posted balances sum to zero and pending debits equal pending credits.
    totals: Vec<UnitTotals>,
}

/// Every ledger account's posted, pending and available balance, and the totals per unit.
#[utoipa::path(
    get, path = "/v1/admin/ledger/balances", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = LedgerBalances), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope))
)]
async fn balances(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<LedgerBalances>> {
    let balances = state.ledger.balances().await?;
    let totals = totals_per_unit(&balances);
    let accounts = balances
        .into_iter()
        .map(|(account, balance)| AccountBalance {
            code: account.code,
            unit: account.unit,
            kind: account.kind,
            balance,
        })
        .collect();
    Ok(Json(LedgerBalances { accounts, totals }))
}
