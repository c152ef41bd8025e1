//! Identity: users, credentials, sessions, roles and addresses.
//!
//! Other modules learn who is calling through [`Principal`] (from the HTTP extractors in
//! `http::auth`) and never read these tables.

pub mod accounts;
pub mod addresses;
pub mod credentials;
pub mod domain;
mod live_sessions;
pub mod routes;
mod service;
pub mod sessions;
mod store;
pub mod telegram;
pub mod web_sessions;

pub use accounts::{DELETED_NAME, IssuedAccountToken, USER_DELETED, deleted_account};
pub use domain::{AccountTokenPurpose, Email, Password, PersonName, Role};
pub use service::{Identity, IdentityError, Principal, SessionOrigin, TokenPair, User, UserFilter};
pub use web_sessions::WebLogin;

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112201,
    name: "identity: users, sessions, refresh tokens, addresses",
    sql: "CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX users_email_key ON users (email);

          CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            created_at BIGINT NOT NULL,
            revoked_at BIGINT,
            revoked_reason TEXT
          );
          CREATE INDEX sessions_user ON sessions (user_id);

          CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
          );
          CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

          CREATE TABLE addresses (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            label TEXT,
            recipient_name TEXT NOT NULL,
            phone TEXT NOT NULL,
            line1 TEXT NOT NULL,
            line2 TEXT,
            city TEXT NOT NULL,
            region TEXT,
            postal_code TEXT NOT NULL,
            country TEXT NOT NULL,
            is_default BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE INDEX addresses_user ON addresses (user_id, id);",
    postgres: None,
}];
