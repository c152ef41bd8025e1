//! Sessions of the web pages: a browser holds a secret in a cookie instead of bearer tokens.
//! Each is an ordinary session (a row of `sessions`) whose credential is that secret rather
//! than refresh tokens, so logout, deactivation, password reset, role changes and "log out
//! everywhere" end it like any other session.

use std::time::Duration;

use super::domain::{Email, Password, PersonName, Role};
use super::service::{Identity, IdentityError, Principal, SessionOrigin, User, insert_registered_user};
use super::{credentials, store};
use crate::db::{self, Migration};
use crate::ids::SessionId;
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121400,
    name: "identity: the cookie secrets of web sessions",
    sql: "CREATE TABLE web_session_secrets (
            secret_hash TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
          );
          CREATE INDEX web_session_secrets_session ON web_session_secrets (session_id);",
    postgres: None,
}];

/// A browser's new session: the secret its cookie carries (shown once, stored hashed).
#[derive(Debug)]
pub struct WebLogin {
    pub user: User,
    pub secret: String,
    /// How long the cookie may live: the refresh token's lifetime.
    pub max_age: Duration,
}

impl Identity {
    /// Logs in from a web form: the same checks as [`Identity::login_from`], a new session.
    #[tracing::instrument(skip_all)]
    pub async fn web_login(
        &self,
        email: &Email,
        password: &Password,
        origin: &SessionOrigin,
    ) -> Result<WebLogin, IdentityError> {
        let user = self.check_credentials(email, password).await?;
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let login = self.open_web_session(&mut tx, user, now, origin).await?;
        tx.commit().await?;
        Ok(login)
    }

    /// Creates a customer account from the web form and opens its first session, as
    /// [`Identity::register`] does for the API.
    #[tracing::instrument(skip_all)]
    pub async fn web_register(
        &self,
        email: Email,
        password: Password,
        name: PersonName,
        origin: &SessionOrigin,
    ) -> Result<WebLogin, IdentityError> {
        let hash = credentials::hash_password(&password).await?;
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let user = insert_registered_user(&mut tx, email, &hash, name, Role::Customer, now).await?;
        let login = self.open_web_session(&mut tx, user, now, origin).await?;
        tx.commit().await?;
        Ok(login)
    }

    async fn open_web_session(
        &self,
        tx: &mut db::Transaction,
        user: User,
        now: Timestamp,
        origin: &SessionOrigin,
    ) -> Result<WebLogin, IdentityError> {
        let session = SessionId::new();
        store::insert_session(&mut **tx, session, user.id, now, origin).await?;
        // Made and hashed like a refresh token: 256 random bits, stored as their SHA-256.
        let (secret, secret_hash) = credentials::new_refresh_token();
        let max_age = self.keys().refresh_ttl();
        store::insert_web_secret(&mut **tx, &secret_hash, session, now, now.plus(max_age)).await?;
        Ok(WebLogin { user, secret, max_age })
    }

    /// Who a cookie's secret signs in: a live session of an active account, the role as it is
    /// now.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_web(&self, secret: &str) -> Result<Principal, IdentityError> {
        let hash = credentials::hash_refresh_token(secret);
        store::live_web_session(self.db().reader(), &hash, self.clock().now())
            .await?
            .map(|(session, user, role)| Principal { user, session, role })
            .ok_or(IdentityError::Unauthenticated)
    }
}
