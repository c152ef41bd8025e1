//! The owner's view of their sessions: which logins are live, ending one, logging out
//! everywhere.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::service::{Identity, IdentityError, Principal};
use super::store;
use crate::db::column::parse_text;
use crate::ids::SessionId;
use crate::time::Timestamp;

/// Most sessions listed; older live ones are still ended by "log out everywhere".
const MAX_LISTED: i64 = 100;

/// One live login of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: SessionId,
    pub created_at: Timestamp,
    /// When the session last logged in or refreshed its tokens.
    pub last_seen_at: Timestamp,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session making this request.
    pub current: bool,
}

impl Identity {
    /// The caller's live sessions (not revoked, with a refresh token or web cookie still usable), most
    /// recently used first.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionInfo>, IdentityError> {
        let rows = sqlx::query(
            "SELECT s.id, s.created_at, COALESCE(s.last_seen_at, s.created_at) AS last_seen_at,
                    s.user_agent, s.ip
             FROM sessions s
             WHERE s.user_id = $1 AND s.revoked_at IS NULL
               AND (EXISTS (SELECT 1 FROM refresh_tokens t
                            WHERE t.session_id = s.id AND t.used_at IS NULL AND t.expires_at > $2)
                    OR EXISTS (SELECT 1 FROM web_session_secrets w
                               WHERE w.session_id = s.id AND w.expires_at > $2))
             ORDER BY last_seen_at DESC, s.id DESC
             LIMIT $3",
        )
        .bind(principal.user.to_string())
        .bind(self.clock().now().millis())
        .bind(MAX_LISTED)
        .fetch_all(self.db().reader())
        .await?;
        rows.iter()
            .map(|row| {
                let id: SessionId = parse_text(row, "id")?;
                Ok(SessionInfo {
                    id,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
                    user_agent: row.try_get("user_agent")?,
                    ip: row.try_get("ip")?,
                    current: id == principal.session,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(IdentityError::from)
    }

    /// Ends one of the caller's sessions (the current one too, like logging out).
    pub async fn end_session(&self, principal: &Principal, session: SessionId) -> Result<(), IdentityError> {
        let mut tx = self.db().begin().await?;
        let owned = sqlx::query("SELECT 1 AS found FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(session.to_string())
            .bind(principal.user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !owned || !store::revoke_session(&mut *tx, session, self.clock().now(), "ended_by_owner").await? {
            return Err(IdentityError::SessionNotFound);
        }
        tx.commit().await?;
        self.forget_session(session);
        Ok(())
    }

    /// Logs the caller out everywhere, or everywhere else when `keep_current`; returns how many
    /// sessions ended.
    pub async fn end_sessions(
        &self,
        principal: &Principal,
        keep_current: bool,
    ) -> Result<u64, IdentityError> {
        let except = keep_current.then_some(principal.session);
        let mut tx = self.db().begin().await?;
        let ended = store::revoke_sessions_of(
            &mut *tx,
            principal.user,
            except,
            self.clock().now(),
            "logged_out_everywhere",
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions_of(principal.user);
        Ok(ended)
    }
}
