//! Identity's use cases: register, log in, rotate refresh tokens, log out, authenticate a
//! request, and manage users' roles.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::credentials::{self, TokenKeys};
use super::domain::{
    DeactivationRefused, Email, Password, PersonName, Role, RoleChangeRefused, check_role_change,
};
use super::live_sessions::LiveSessions;
use super::store;
use crate::db::{self, Db};
use crate::events::{self, NewEvent};
use crate::ids::{SessionId, UserId};
use crate::locale::Locale;
use crate::time::{Clock, Timestamp};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// Whether the owner proved they read mail at `email`.
    pub email_verified: bool,
    pub email_verified_at: Option<Timestamp>,
    pub phone: Option<String>,
    /// The language of the user's emails and messages.
    pub language: Locale,
    /// An IANA time zone name, when the user chose one.
    pub time_zone: Option<String>,
    /// False once an admin deactivated the account or its owner deleted it: no login.
    pub is_active: bool,
}

/// Who is making a request: established from a valid access token of a live session, with the
/// role as it is now (a role change or a logout takes effect on the next request).
#[derive(Clone, Copy, Debug)]
pub struct Principal {
    pub user: UserId,
    pub session: SessionId,
    pub role: Role,
}

/// Where a login came from, kept with its session so the owner can recognise it in
/// `GET /v1/me/sessions`.
#[derive(Clone, Debug, Default)]
pub struct SessionOrigin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl SessionOrigin {
    /// Longest user agent kept; browsers send a few hundred characters at most.
    const MAX_USER_AGENT: usize = 256;

    pub fn new(user_agent: Option<&str>, ip: Option<std::net::IpAddr>) -> Self {
        let user_agent = user_agent
            .map(|agent| {
                agent.chars().filter(|c| !c.is_control()).take(Self::MAX_USER_AGENT).collect::<String>()
            })
            .filter(|agent| !agent.trim().is_empty());
        Self { user_agent, ip: ip.map(|ip| ip.to_string()) }
    }
}

/// The answer to register, login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; every session token of this login is now revoked")]
    RefreshTokenReused,
    #[error("missing or invalid access token")]
    Unauthenticated,
    #[error(transparent)]
    RoleChange(#[from] RoleChangeRefused),
    #[error("no such user")]
    UserNotFound,
    #[error("the code is unknown, used or expired; ask for a new one")]
    InvalidLinkCode,
    #[error("this account is already linked to another Telegram user")]
    TelegramTaken,
    #[error("this account has been deactivated")]
    AccountInactive,
    #[error("this account has been deleted")]
    AccountDeleted,
    #[error("the token is not valid for this")]
    InvalidAccountToken,
    #[error("the token was already used; ask for a new one")]
    AccountTokenUsed,
    #[error("the token has expired; ask for a new one")]
    AccountTokenExpired,
    #[error("the password is wrong")]
    WrongPassword,
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
    #[error("no change of email address is waiting for verification")]
    NoEmailChangePending,
    #[error("this is already the account's email address")]
    SameEmail,
    #[error("no such session")]
    SessionNotFound,
    #[error(transparent)]
    Deactivation(#[from] DeactivationRefused),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, Default)]
pub struct UserFilter {
    pub search: Option<String>,
    pub role: Option<Role>,
    pub before: Option<UserId>,
}

#[derive(Clone)]
pub struct Identity {
    db: Db,
    keys: TokenKeys,
    clock: Clock,
    live_sessions: Arc<LiveSessions>,
}

impl Identity {
    /// `session_cache_ttl`: how long a live session's check is reused from memory.
    pub fn new(db: Db, keys: TokenKeys, clock: Clock, session_cache_ttl: Duration) -> Self {
        Self { db, keys, clock, live_sessions: Arc::new(LiveSessions::new(session_cache_ttl)) }
    }

    /// Drops session checks past their TTL (periodic housekeeping).
    pub fn forget_expired_sessions(&self) {
        self.live_sessions.forget_expired();
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Creates an account with the given role and opens its first session, in one transaction;
    /// asks for the address to be verified (`user.email_verification_requested`).
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        name: PersonName,
        role: Role,
        origin: &SessionOrigin,
    ) -> Result<TokenPair, IdentityError> {
        let hash = credentials::hash_password(&password).await?;
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let user = insert_registered_user(&mut tx, email, &hash, name, role, now).await?;
        let pair = self.open_session(&mut tx, user, now, origin).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Creates an account without logging in (operators creating staff accounts, the demo).
    pub async fn create_user(
        &self,
        email: Email,
        password: Password,
        name: PersonName,
        role: Role,
    ) -> Result<User, IdentityError> {
        let hash = credentials::hash_password(&password).await?;
        let mut tx = self.db.begin().await?;
        let user = insert_new_user(&mut tx, email, &hash, name, role, self.clock.now()).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn login(&self, email: &Email, password: &Password) -> Result<TokenPair, IdentityError> {
        self.login_from(email, password, &SessionOrigin::default()).await
    }

    /// Logs in, remembering where from (see [`Identity::check_credentials`] for who is refused).
    pub async fn login_from(
        &self,
        email: &Email,
        password: &Password,
        origin: &SessionOrigin,
    ) -> Result<TokenPair, IdentityError> {
        let user = self.check_credentials(email, password).await?;
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let pair = self.open_session(&mut tx, user, now, origin).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// The account these credentials open. A deactivated account is refused once the password
    /// is right (so the refusal tells nothing to someone who does not know it).
    pub(super) async fn check_credentials(
        &self,
        email: &Email,
        password: &Password,
    ) -> Result<User, IdentityError> {
        let found = store::user_with_hash_by_email(self.db.reader(), email.as_str()).await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        // Verified even when the account does not exist, so timing does not reveal which
        // emails have accounts.
        let matches = credentials::verify_password(password, hash).await?;
        let user = user.filter(|_| matches).ok_or(IdentityError::InvalidCredentials)?;
        if !user.is_active {
            return Err(IdentityError::AccountInactive);
        }
        Ok(user)
    }

    async fn open_session(
        &self,
        tx: &mut db::Transaction,
        user: User,
        now: Timestamp,
        origin: &SessionOrigin,
    ) -> Result<TokenPair, IdentityError> {
        let session = SessionId::new();
        store::insert_session(&mut **tx, session, user.id, now, origin).await?;
        self.issue_tokens(tx, user, session, now).await
    }

    async fn issue_tokens(
        &self,
        tx: &mut db::Transaction,
        user: User,
        session: SessionId,
        now: Timestamp,
    ) -> Result<TokenPair, IdentityError> {
        let (refresh_token, refresh_hash) = credentials::new_refresh_token();
        let expires_at = now.plus(self.keys.refresh_ttl());
        store::insert_refresh_token(&mut **tx, &refresh_hash, session, now, expires_at).await?;
        let access_token = self.keys.issue_access(user.id, session, now)?;
        Ok(TokenPair {
            user,
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.keys.access_ttl().as_secs(),
        })
    }

    /// Exchanges a refresh token for a new pair. The presented token dies; presenting a dead
    /// token again means it leaked (or a client raced itself), so the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        let hash = credentials::hash_refresh_token(refresh_token);
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let record =
            store::refresh_token(&mut *tx, &hash).await?.ok_or(IdentityError::InvalidRefreshToken)?;
        if record.session_revoked || record.expires_at <= now {
            return Err(IdentityError::InvalidRefreshToken);
        }
        if record.used || !store::use_refresh_token(&mut *tx, &hash, now).await? {
            store::revoke_session(&mut *tx, record.session, now, "refresh_token_reused").await?;
            tx.commit().await?;
            self.live_sessions.forget_session(record.session);
            tracing::warn!(session = %record.session, user = %record.user, "refresh token reused; session revoked");
            return Err(IdentityError::RefreshTokenReused);
        }
        let user =
            store::user_by_id(&mut *tx, record.user).await?.ok_or(IdentityError::InvalidRefreshToken)?;
        if !user.is_active {
            return Err(IdentityError::AccountInactive);
        }
        store::touch_session(&mut *tx, record.session, now).await?;
        let pair = self.issue_tokens(&mut tx, user, record.session, now).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Ends the caller's session: its refresh tokens and access tokens stop working.
    pub async fn logout(&self, principal: &Principal) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        store::revoke_session(&mut *tx, principal.session, self.clock.now(), "logout").await?;
        tx.commit().await?;
        self.live_sessions.forget_session(principal.session);
        Ok(())
    }

    /// Checks an access token and that its session is still live (from memory when it was
    /// checked within the session cache's TTL).
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, IdentityError> {
        let claims = self
            .keys
            .verify_access(access_token, self.clock.now())
            .map_err(|_| IdentityError::Unauthenticated)?;
        let (user, session) = (claims.sub, claims.sid);
        if let Some(role) = self.live_sessions.role(session, user) {
            return Ok(Principal { user, session, role });
        }
        let since = self.live_sessions.epoch();
        let role = store::live_session_role(self.db.reader(), session, user)
            .await?
            .ok_or(IdentityError::Unauthenticated)?;
        self.live_sessions.remember(since, session, user, role);
        Ok(Principal { user, session, role })
    }

    pub async fn user(&self, id: UserId) -> Result<User, IdentityError> {
        store::user_by_id(self.db.reader(), id).await?.ok_or(IdentityError::UserNotFound)
    }

    /// One page of users, newest first; returns up to `limit` users and whether more follow.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        limit: usize,
    ) -> Result<(Vec<User>, bool), IdentityError> {
        let mut users = store::list_users(
            self.db.reader(),
            filter.search.as_deref(),
            filter.role,
            filter.before,
            limit + 1,
        )
        .await?;
        let more = users.len() > limit;
        users.truncate(limit);
        Ok((users, more))
    }

    pub async fn change_role(
        &self,
        actor: &Principal,
        target: UserId,
        role: Role,
    ) -> Result<User, IdentityError> {
        let mut tx = self.db.begin().await?;
        let user = self.change_role_in(&mut tx, actor, target, role).await?;
        tx.commit().await?;
        self.forget_sessions_of(target);
        Ok(user)
    }

    /// [`Identity::change_role`] as a step of the caller's transaction (another module's
    /// decision that grants a role, such as approving a seller), with the same rules and the
    /// same `user.role_changed` event. Once the transaction commits, the caller calls
    /// [`Identity::forget_sessions_of`] so the new role applies from the user's next request.
    pub async fn change_role_in(
        &self,
        tx: &mut db::Transaction,
        actor: &Principal,
        target: UserId,
        role: Role,
    ) -> Result<User, IdentityError> {
        let now = self.clock.now();
        let mut user = store::user_by_id(&mut **tx, target).await?.ok_or(IdentityError::UserNotFound)?;
        check_role_change(actor.role, actor.user == target, user.role, role)?;
        if user.role != role {
            let previous = user.role;
            store::set_role(&mut **tx, target, role, now).await?;
            events::record(
                tx,
                now,
                NewEvent {
                    event_type: "user.role_changed",
                    version: 1,
                    subject_id: target.to_string(),
                    actor: actor.user.to_string(),
                    payload: serde_json::json!({
                        "user_id": target,
                        "before": { "role": previous },
                        "after": { "role": role },
                    }),
                },
            )
            .await?;
            user.role = role;
        }
        Ok(user)
    }

    /// Drops the remembered check of one session (it just ended).
    pub(super) fn forget_session(&self, session: SessionId) {
        self.live_sessions.forget_session(session);
    }

    /// Drops the remembered session checks of a user, so a change to its role (committed)
    /// applies from its next request.
    pub fn forget_sessions_of(&self, user: UserId) {
        self.live_sessions.forget_user(user);
    }
}

/// Writes a user who registered themselves: the user, and the request to verify their address.
pub(super) async fn insert_registered_user(
    tx: &mut db::Transaction,
    email: Email,
    password_hash: &str,
    name: PersonName,
    role: Role,
    now: Timestamp,
) -> Result<User, IdentityError> {
    let user = insert_new_user(tx, email, password_hash, name, role, now).await?;
    record_user_event(tx, now, "user.email_verification_requested", user.id, user.id).await?;
    Ok(user)
}

/// Writes a new user and its `user.registered` event.
pub(super) async fn insert_new_user(
    tx: &mut db::Transaction,
    email: Email,
    password_hash: &str,
    name: PersonName,
    role: Role,
    now: Timestamp,
) -> Result<User, IdentityError> {
    let user = User {
        id: UserId::new(),
        email: email.as_str().to_owned(),
        name: name.as_str().to_owned(),
        role,
        created_at: now,
        email_verified: false,
        email_verified_at: None,
        phone: None,
        language: Locale::default(),
        time_zone: None,
        is_active: true,
    };
    store::insert_user(&mut **tx, &user, password_hash)
        .await
        .map_err(|e| if db::is_unique_violation(&e) { IdentityError::EmailTaken } else { e.into() })?;
    events::record(
        tx,
        now,
        NewEvent {
            event_type: "user.registered",
            version: 1,
            subject_id: user.id.to_string(),
            actor: user.id.to_string(),
            payload: serde_json::json!({
                "user_id": user.id,
                "after": { "email": user.email, "name": user.name, "role": role },
            }),
        },
    )
    .await?;
    Ok(user)
}

/// Records an account event whose payload is only the user's id: every event also goes to
/// merchants' webhooks, so nothing personal and no token rides in it.
pub(super) async fn record_user_event(
    tx: &mut db::Transaction,
    now: Timestamp,
    event_type: &'static str,
    user: UserId,
    actor: UserId,
) -> Result<(), sqlx::Error> {
    events::record(
        tx,
        now,
        NewEvent {
            event_type,
            version: 1,
            subject_id: user.to_string(),
            actor: actor.to_string(),
            payload: serde_json::json!({ "user_id": user }),
        },
    )
    .await
    .map(|_| ())
}
