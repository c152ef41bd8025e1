//! Accounts reached through Telegram: a Telegram user id linked to one account. The first
//! `/start` opens a customer account for the Telegram user (no password anyone knows); a web
//! account is linked instead with a one-time code from `POST /v1/me/telegram-link`.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::credentials;
use super::domain::{Email, Password, PersonName, Role};
use super::service::{Identity, IdentityError, Principal, User};
use super::store;
use crate::db::{self, Migration};
use crate::events::{self, NewEvent};
use crate::ids::{SessionId, UserId};
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120210,
    name: "identity: telegram links and link codes",
    sql: "CREATE TABLE telegram_links (
            telegram_id BIGINT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            created_at BIGINT NOT NULL,
            banned_at BIGINT
          );
          CREATE UNIQUE INDEX telegram_links_user ON telegram_links (user_id);

          CREATE TABLE telegram_link_codes (
            code_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            expires_at BIGINT NOT NULL,
            used_at BIGINT
          );",
    postgres: None,
}];

/// How long a link code may be redeemed.
pub const LINK_CODE_TTL: Duration = Duration::from_secs(600);

/// Letters and digits that cannot be mistaken for one another when typed from a screen.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 8;

/// The actor of what a Telegram user does, as the outbox and the audit store record it.
pub fn telegram_actor(telegram_id: i64) -> String {
    format!("telegram:{telegram_id}")
}

fn hash_code(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

fn new_code() -> String {
    (0..CODE_LENGTH).map(|_| CODE_ALPHABET[rand::random::<usize>() % CODE_ALPHABET.len()] as char).collect()
}

impl Identity {
    /// The account linked to a Telegram user, if any.
    pub async fn telegram_account(&self, telegram_id: i64) -> Result<Option<User>, IdentityError> {
        let row = sqlx::query("SELECT user_id FROM telegram_links WHERE telegram_id = $1")
            .bind(telegram_id)
            .fetch_optional(self.db().reader())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("user_id")?;
        let id: UserId = id.parse().map_err(|_| anyhow::anyhow!("telegram link to a malformed user id"))?;
        Ok(Some(self.user(id).await?))
    }

    /// The Telegram user an account is linked to, if any.
    pub async fn telegram_id_of(&self, user: UserId) -> Result<Option<i64>, IdentityError> {
        let row = sqlx::query("SELECT telegram_id FROM telegram_links WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(self.db().reader())
            .await?;
        Ok(row.map(|row| row.try_get("telegram_id")).transpose()?)
    }

    /// The account of a Telegram user, opened now (a customer, with no password anyone knows)
    /// when there is none yet; and whether it was opened now. Two first messages racing each
    /// other end with one account.
    pub async fn open_telegram_account(
        &self,
        telegram_id: i64,
        name: &str,
    ) -> Result<(User, bool), IdentityError> {
        if let Some(user) = self.telegram_account(telegram_id).await? {
            return Ok((user, false));
        }
        let email = Email::parse(&format!("tg{telegram_id}@telegram.invalid"))
            .map_err(|e| anyhow::anyhow!("telegram address: {e}"))?;
        let name = PersonName::parse(name)
            .or_else(|_| PersonName::parse(&format!("Telegram user {telegram_id}")))
            .map_err(|e| anyhow::anyhow!("telegram name: {e}"))?;
        let unknowable = Password::parse(hex::encode(rand::random::<[u8; 32]>()))
            .map_err(|e| anyhow::anyhow!("generated password: {e}"))?;
        let hash = credentials::hash_password(&unknowable).await?;
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let user =
            match super::service::insert_new_user(&mut tx, email, &hash, name, Role::Customer, now).await {
                Ok(user) => user,
                Err(IdentityError::EmailTaken) => {
                    drop(tx);
                    let user = self.telegram_account(telegram_id).await?.ok_or(IdentityError::EmailTaken)?;
                    return Ok((user, false));
                }
                Err(other) => return Err(other),
            };
        let inserted = insert_link(&mut tx, telegram_id, user.id, now).await;
        match inserted {
            Ok(()) => {}
            Err(e) if db::is_unique_violation(&e) => {
                drop(tx);
                let user = self.telegram_account(telegram_id).await?.ok_or(IdentityError::TelegramTaken)?;
                return Ok((user, false));
            }
            Err(e) => return Err(e.into()),
        }
        linked_event(&mut tx, telegram_id, user.id, now, "opened").await?;
        tx.commit().await?;
        Ok((user, true))
    }

    /// Who a Telegram user acts as: their account with its role as it is now. The bot is a
    /// client of the services like a web session, but holds no session of its own, so the
    /// session id names none (nothing the bot calls reads it).
    pub fn telegram_principal(user: &User) -> Principal {
        Principal { user: user.id, session: SessionId::new(), role: user.role }
    }

    /// A one-time code the caller sends to the bot (`/link CODE`) to link their Telegram
    /// user to this account; valid for ten minutes.
    pub async fn telegram_link_code(
        &self,
        principal: &Principal,
    ) -> Result<(String, Timestamp), IdentityError> {
        let code = new_code();
        let now = self.clock().now();
        let expires_at = now.plus(LINK_CODE_TTL);
        let mut tx = self.db().begin().await?;
        sqlx::query("INSERT INTO telegram_link_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(hash_code(&code))
            .bind(principal.user.to_string())
            .bind(expires_at.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((code, expires_at))
    }

    /// Links a Telegram user to the account that made `code`. A Telegram user whose own
    /// account was opened by the bot moves to the linked account (the opened one keeps its
    /// orders); an account already linked to another Telegram user is refused.
    pub async fn link_telegram(&self, telegram_id: i64, code: &str) -> Result<User, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let row = sqlx::query(
            "UPDATE telegram_link_codes SET used_at = $1
             WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id",
        )
        .bind(now.millis())
        .bind(hash_code(code))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(IdentityError::InvalidLinkCode) };
        let user_id: String = row.try_get("user_id")?;
        let user_id: UserId =
            user_id.parse().map_err(|_| anyhow::anyhow!("link code of a malformed user id"))?;
        let user = store::user_by_id(&mut *tx, user_id).await?.ok_or(IdentityError::UserNotFound)?;
        let other = sqlx::query("SELECT telegram_id FROM telegram_links WHERE user_id = $1")
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<i64, _>("telegram_id"))
            .transpose()?;
        match other {
            Some(linked) if linked == telegram_id => {}
            Some(_) => return Err(IdentityError::TelegramTaken),
            None => {
                sqlx::query("DELETE FROM telegram_links WHERE telegram_id = $1")
                    .bind(telegram_id)
                    .execute(&mut *tx)
                    .await?;
                insert_link(&mut tx, telegram_id, user_id, now).await?;
                linked_event(&mut tx, telegram_id, user_id, now, "linked").await?;
            }
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Whether a Telegram user is banned from the bot, or linked to a deactivated account (the
    /// bot holds no session to end, so it asks on every update).
    pub async fn telegram_banned(&self, telegram_id: i64) -> Result<bool, IdentityError> {
        let row = sqlx::query(
            "SELECT l.banned_at, u.is_active FROM telegram_links l JOIN users u ON u.id = l.user_id
             WHERE l.telegram_id = $1",
        )
        .bind(telegram_id)
        .fetch_optional(self.db().reader())
        .await?;
        let Some(row) = row else { return Ok(false) };
        let banned = row.try_get::<Option<i64>, _>("banned_at")?.is_some();
        Ok(banned || row.try_get::<i64, _>("is_active")? == 0)
    }

    /// Bans a Telegram user from the bot, or lifts the ban; false when nobody with that id has
    /// used the bot. Recorded with the admin's Telegram user as the actor.
    pub async fn set_telegram_ban(
        &self,
        telegram_id: i64,
        banned: bool,
        actor_telegram_id: i64,
    ) -> Result<bool, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let row =
            sqlx::query("UPDATE telegram_links SET banned_at = $1 WHERE telegram_id = $2 RETURNING user_id")
                .bind(banned.then_some(now.millis()))
                .bind(telegram_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(false) };
        let user: String = row.try_get("user_id")?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: if banned { "user.telegram_banned" } else { "user.telegram_unbanned" },
                version: 1,
                subject_id: user.clone(),
                actor: telegram_actor(actor_telegram_id),
                payload: serde_json::json!({
                    "user_id": user,
                    "after": { "telegram_id": telegram_id, "banned": banned },
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accounts opened since `since`, for the shop's figures.
    pub async fn users_since(&self, since: Timestamp) -> Result<i64, IdentityError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE created_at >= $1")
            .bind(since.millis())
            .fetch_one(self.db().reader())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Telegram users linked to accounts with `role` (every linked one when None), for
    /// admin lists and broadcasts.
    pub async fn telegram_ids(&self, role: Option<Role>) -> Result<Vec<i64>, IdentityError> {
        let rows = sqlx::query(
            "SELECT l.telegram_id FROM telegram_links l JOIN users u ON u.id = l.user_id
             WHERE ($1 IS NULL OR u.role = $1) ORDER BY l.telegram_id",
        )
        .bind(role.map(Role::as_str))
        .fetch_all(self.db().reader())
        .await?;
        rows.iter().map(|row| row.try_get("telegram_id").map_err(IdentityError::from)).collect()
    }
}

async fn insert_link(
    tx: &mut db::Transaction,
    telegram_id: i64,
    user: UserId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO telegram_links (telegram_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(telegram_id)
        .bind(user.to_string())
        .bind(now.millis())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn linked_event(
    tx: &mut db::Transaction,
    telegram_id: i64,
    user: UserId,
    now: Timestamp,
    how: &str,
) -> Result<(), sqlx::Error> {
    events::record(
        tx,
        now,
        NewEvent {
            event_type: "user.telegram_linked",
            version: 1,
            subject_id: user.to_string(),
            actor: telegram_actor(telegram_id),
            payload: serde_json::json!({
                "user_id": user,
                "after": { "telegram_id": telegram_id, "how": how },
            }),
        },
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_eight_unambiguous_characters_and_its_hash_ignores_case_and_spaces() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(hash_code(&code), hash_code(&format!(" {} ", code.to_lowercase())));
    }
}
