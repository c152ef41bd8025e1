//! Identity's tables. Only this module reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::Role;
use super::service::{SessionOrigin, User};
use crate::db::column::{decode_error, parse_text};
use crate::ids::{SessionId, UserId};
use crate::locale::Locale;
use crate::time::Timestamp;

fn role_of(row: &AnyRow, column: &str) -> Result<Role, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Role::parse(&text).ok_or_else(|| decode_error(column, &text))
}

pub(super) const USER_COLUMNS: &str =
    "id, email, name, role, created_at, email_verified_at, phone, language, time_zone, is_active";

pub(super) fn user_of(row: &AnyRow) -> Result<User, sqlx::Error> {
    let verified_at = row.try_get::<Option<i64>, _>("email_verified_at")?.map(Timestamp::from_millis);
    let language = match row.try_get::<Option<String>, _>("language")? {
        Some(tag) => tag.parse::<Locale>().map_err(|_| decode_error("language", &tag))?,
        None => Locale::default(),
    };
    Ok(User {
        id: parse_text(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role_of(row, "role")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        email_verified: verified_at.is_some(),
        email_verified_at: verified_at,
        phone: row.try_get("phone")?,
        language,
        time_zone: row.try_get("time_zone")?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
    })
}

pub async fn insert_user<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: &User,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(user.id.to_string())
    .bind(&user.email)
    .bind(&user.name)
    .bind(password_hash)
    .bind(user.role.as_str())
    .bind(user.created_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn user_with_hash_by_email<'c>(
    ex: impl Executor<'c, Database = Any>,
    email: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(ex)
        .await?;
    row.map(|row| Ok((user_of(&row)?, row.try_get("password_hash")?))).transpose()
}

pub async fn user_by_id<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: UserId,
) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(user_of).transpose()
}

/// Users newest first, optionally matching `search` in email or name and having `role`,
/// starting after the cursor `before` (an id: ids sort by creation time).
pub async fn list_users<'c>(
    ex: impl Executor<'c, Database = Any>,
    search: Option<&str>,
    role: Option<Role>,
    before: Option<UserId>,
    limit: usize,
) -> Result<Vec<User>, sqlx::Error> {
    let pattern = search.map(|s| {
        let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE ($1 IS NULL OR email LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\')
           AND ($2 IS NULL OR role = $2)
           AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC
         LIMIT $4"
    ))
    .bind(pattern)
    .bind(role.map(Role::as_str))
    .bind(before.map(|id| id.to_string()))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(ex)
    .await?;
    rows.iter().map(user_of).collect()
}

pub async fn set_role<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: UserId,
    role: Role,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now.millis())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn insert_session<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: SessionId,
    user: UserId,
    now: Timestamp,
    origin: &SessionOrigin,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, user_agent, ip)
         VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(now.millis())
    .bind(origin.user_agent.as_deref())
    .bind(origin.ip.as_deref())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Records that a session was just used to refresh its tokens.
pub async fn touch_session<'c>(
    ex: impl Executor<'c, Database = Any>,
    session: SessionId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(session.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Revokes every live session of `user` but `except`; returns how many ended.
pub async fn revoke_sessions_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
    except: Option<SessionId>,
    now: Timestamp,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE user_id = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
    )
    .bind(now.millis())
    .bind(reason)
    .bind(user.to_string())
    .bind(except.map(|id| id.to_string()))
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

pub async fn insert_refresh_token<'c>(
    ex: impl Executor<'c, Database = Any>,
    token_hash: &str,
    session: SessionId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(session.to_string())
    .bind(now.millis())
    .bind(expires_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub struct RefreshTokenRecord {
    pub session: SessionId,
    pub user: UserId,
    pub expires_at: Timestamp,
    pub used: bool,
    pub session_revoked: bool,
}

pub async fn refresh_token<'c>(
    ex: impl Executor<'c, Database = Any>,
    token_hash: &str,
) -> Result<Option<RefreshTokenRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.session_id, s.user_id, t.expires_at, t.used_at, s.revoked_at
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(ex)
    .await?;
    row.map(|row| {
        Ok(RefreshTokenRecord {
            session: parse_text(&row, "session_id")?,
            user: parse_text(&row, "user_id")?,
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
            used: row.try_get::<Option<i64>, _>("used_at")?.is_some(),
            session_revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    })
    .transpose()
}

/// Marks a refresh token used. False when it already was: a concurrent refresh won the race,
/// and the caller treats this one as reuse.
pub async fn use_refresh_token<'c>(
    ex: impl Executor<'c, Database = Any>,
    token_hash: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now.millis())
            .bind(token_hash)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a live session; false when there was none by that id.
pub async fn revoke_session<'c>(
    ex: impl Executor<'c, Database = Any>,
    session: SessionId,
    now: Timestamp,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(reason)
    .bind(session.to_string())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The current role of the user of a live session, or None when the session was revoked or
/// the account deactivated.
pub async fn live_session_role<'c>(
    ex: impl Executor<'c, Database = Any>,
    session: SessionId,
    user: UserId,
) -> Result<Option<Role>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.role FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.is_active = 1",
    )
    .bind(session.to_string())
    .bind(user.to_string())
    .fetch_optional(ex)
    .await?;
    row.map(|row| role_of(&row, "role")).transpose()
}

pub async fn insert_web_secret<'c>(
    ex: impl Executor<'c, Database = Any>,
    secret_hash: &str,
    session: SessionId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO web_session_secrets (secret_hash, session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(secret_hash)
    .bind(session.to_string())
    .bind(now.millis())
    .bind(expires_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// The session, user and current role a web cookie's secret stands for, when the secret has
/// not expired, the session is live and the account active.
pub async fn live_web_session<'c>(
    ex: impl Executor<'c, Database = Any>,
    secret_hash: &str,
    now: Timestamp,
) -> Result<Option<(SessionId, UserId, Role)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id, s.user_id, u.role
         FROM web_session_secrets w
         JOIN sessions s ON s.id = w.session_id
         JOIN users u ON u.id = s.user_id
         WHERE w.secret_hash = $1 AND w.expires_at > $2 AND s.revoked_at IS NULL AND u.is_active = 1",
    )
    .bind(secret_hash)
    .bind(now.millis())
    .fetch_optional(ex)
    .await?;
    row.map(|row| Ok((parse_text(&row, "id")?, parse_text(&row, "user_id")?, role_of(&row, "role")?)))
        .transpose()
}
