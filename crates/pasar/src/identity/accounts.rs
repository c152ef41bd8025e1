//! Looking after one's account: account tokens (email verification, password reset, email
//! change), the profile, the password, the email address, deactivation by an admin and deletion
//! by the owner.
//!
//! Account tokens are made like refresh tokens (256 random bits, stored as their SHA-256) and
//! die on first use. They reach their owner only by email: the notifications module calls
//! [`Identity::issue_account_token`] when it sends the message. Events carry only the user's id,
//! because every event also goes to merchants' webhooks.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::addresses::Phone;
use super::credentials;
use super::domain::{AccountTokenPurpose, Email, Password, PersonName, TimeZoneName, check_deactivation};
use super::service::{Identity, IdentityError, Principal, User, record_user_event};
use super::store::{self, USER_COLUMNS, user_of};
use crate::db::{self, Migration};
use crate::events::Event;
use crate::ids::UserId;
use crate::locale::Locale;
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026121000,
    name: "identity: account tokens, profile, verification, deactivation, session origins",
    sql: "ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
          ALTER TABLE users ADD COLUMN pending_email TEXT;
          ALTER TABLE users ADD COLUMN phone TEXT;
          ALTER TABLE users ADD COLUMN language TEXT;
          ALTER TABLE users ADD COLUMN time_zone TEXT;
          ALTER TABLE users ADD COLUMN is_active BIGINT NOT NULL DEFAULT 1;
          ALTER TABLE users ADD COLUMN deleted_at BIGINT;

          ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
          ALTER TABLE sessions ADD COLUMN user_agent TEXT;
          ALTER TABLE sessions ADD COLUMN ip TEXT;

          CREATE TABLE account_tokens (
            token_hash TEXT PRIMARY KEY,
            purpose TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id),
            email TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
          );
          CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);",
    postgres: None,
}];

/// A token just made for an email to its owner.
#[derive(Debug)]
pub struct IssuedAccountToken {
    /// The secret to put in the link; only its hash is stored.
    pub token: String,
    /// Where to send it: the account's address, or the new address of an email change.
    pub email: String,
    pub expires_at: Timestamp,
}

/// What `PATCH /v1/me` changes; an absent field stays as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub language: Option<Locale>,
    pub time_zone: Option<TimeZoneName>,
}

/// The answer to a request that starts an email: what happens next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

struct TokenRecord {
    purpose: AccountTokenPurpose,
    user: UserId,
    email: String,
    expires_at: Timestamp,
    used: bool,
}

/// Shown in place of a deleted account's name, here and wherever another module kept it.
pub const DELETED_NAME: &str = "Deleted user";

/// The event a deleted account writes (payload `{"user_id": …}`): other modules erase what
/// they keep of that person when it reaches them.
pub const USER_DELETED: &str = "user.deleted";

/// The account an outbox event says was deleted; None for any other event. Other modules'
/// subscribers call it, so none of them spells the event or its payload out again.
pub fn deleted_account(event: &Event) -> anyhow::Result<Option<UserId>> {
    if event.event_type != USER_DELETED {
        return Ok(None);
    }
    let user = event.payload["user_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{USER_DELETED} {} lacks its user_id", event.id))?;
    Ok(Some(user))
}

impl Identity {
    /// Makes a single-use token for `purpose` and says where to send it. An earlier unused
    /// token of the same purpose stops working: only the newest email's link works.
    pub async fn issue_account_token(
        &self,
        user: UserId,
        purpose: AccountTokenPurpose,
    ) -> Result<IssuedAccountToken, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let account = account(&mut tx, user).await?;
        if !account.user.is_active {
            return Err(IdentityError::AccountInactive);
        }
        let email = match purpose {
            AccountTokenPurpose::EmailVerification if account.user.email_verified => {
                return Err(IdentityError::EmailAlreadyVerified);
            }
            AccountTokenPurpose::EmailVerification | AccountTokenPurpose::PasswordReset => account.user.email,
            AccountTokenPurpose::EmailChange => {
                account.pending_email.ok_or(IdentityError::NoEmailChangePending)?
            }
        };
        let (token, hash) = credentials::new_refresh_token();
        let expires_at = now.plus(purpose.lifetime());
        sqlx::query("DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(user.to_string())
            .bind(purpose.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO account_tokens (token_hash, purpose, user_id, email, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&hash)
        .bind(purpose.as_str())
        .bind(user.to_string())
        .bind(&email)
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IssuedAccountToken { token, email, expires_at })
    }

    /// Uses an email verification or email change token: the address it was sent to is
    /// verified, and for a change it becomes the account's address.
    pub async fn verify_email(&self, token: &str) -> Result<User, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let record = use_token(
            &mut tx,
            token,
            &[AccountTokenPurpose::EmailVerification, AccountTokenPurpose::EmailChange],
            now,
        )
        .await?;
        let account = account(&mut tx, record.user).await?;
        if !account.user.is_active {
            return Err(IdentityError::AccountInactive);
        }
        let event = if record.purpose == AccountTokenPurpose::EmailChange {
            // A later request for another address supersedes this one.
            if account.pending_email.as_deref() != Some(record.email.as_str()) {
                return Err(IdentityError::InvalidAccountToken);
            }
            sqlx::query(
                "UPDATE users SET email = $1, email_verified_at = $2, pending_email = NULL, updated_at = $2
                 WHERE id = $3",
            )
            .bind(&record.email)
            .bind(now.millis())
            .bind(record.user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| if db::is_unique_violation(&e) { IdentityError::EmailTaken } else { e.into() })?;
            // Links sent to the old address (a password reset) stop working.
            sqlx::query("DELETE FROM account_tokens WHERE user_id = $1 AND used_at IS NULL")
                .bind(record.user.to_string())
                .execute(&mut *tx)
                .await?;
            "user.email_changed"
        } else {
            // The account's address changed since the token was sent: it proves nothing now.
            if account.user.email != record.email {
                return Err(IdentityError::InvalidAccountToken);
            }
            sqlx::query(
                "UPDATE users SET email_verified_at = $1, updated_at = $1
                 WHERE id = $2 AND email_verified_at IS NULL",
            )
            .bind(now.millis())
            .bind(record.user.to_string())
            .execute(&mut *tx)
            .await?;
            "user.email_verified"
        };
        record_user_event(&mut tx, now, event, record.user, record.user).await?;
        let user = store::user_by_id(&mut *tx, record.user).await?.ok_or(IdentityError::UserNotFound)?;
        tx.commit().await?;
        Ok(user)
    }

    /// Asks for a password reset email (`user.password_reset_requested`) when `email` is an
    /// active account's; does nothing otherwise, and answers the same either way.
    pub async fn forgot_password(&self, email: &Email) -> Result<(), IdentityError> {
        let Some((user, _)) = store::user_with_hash_by_email(self.db().reader(), email.as_str()).await?
        else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        record_user_event(&mut tx, now, "user.password_reset_requested", user.id, user.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password with a reset token and ends every session of the account.
    pub async fn reset_password(&self, token: &str, password: &Password) -> Result<(), IdentityError> {
        // Checked before the costly hash, and again when it is used.
        check_token(self.db().reader(), token, &[AccountTokenPurpose::PasswordReset], self.clock().now())
            .await?;
        let hash = credentials::hash_password(password).await?;
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let record = use_token(&mut tx, token, &[AccountTokenPurpose::PasswordReset], now).await?;
        let account = account(&mut tx, record.user).await?;
        if !account.user.is_active {
            return Err(IdentityError::AccountInactive);
        }
        if account.user.email != record.email {
            return Err(IdentityError::InvalidAccountToken);
        }
        set_password_hash(&mut tx, record.user, &hash, now).await?;
        store::revoke_sessions_of(&mut *tx, record.user, None, now, "password_reset").await?;
        record_user_event(&mut tx, now, "user.password_changed", record.user, record.user).await?;
        tx.commit().await?;
        self.forget_sessions_of(record.user);
        Ok(())
    }

    /// Changes the caller's name, phone, language or time zone.
    pub async fn change_profile(&self, user: UserId, change: ProfileChange) -> Result<User, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "UPDATE users SET name = COALESCE($1, name), phone = COALESCE($2, phone),
                 language = COALESCE($3, language), time_zone = COALESCE($4, time_zone), updated_at = $5
             WHERE id = $6",
        )
        .bind(change.name.as_ref().map(|name| name.as_str().to_owned()))
        .bind(change.phone.map(String::from))
        .bind(change.language.map(|language| language.as_str()))
        .bind(change.time_zone.map(String::from))
        .bind(now.millis())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        record_user_event(&mut tx, now, "user.profile_changed", user, user).await?;
        let user = store::user_by_id(&mut *tx, user).await?.ok_or(IdentityError::UserNotFound)?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes the caller's password, given the current one; the caller's other sessions end,
    /// this one goes on.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &Password,
        new: &Password,
    ) -> Result<(), IdentityError> {
        self.check_password(principal.user, current).await?;
        let hash = credentials::hash_password(new).await?;
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        set_password_hash(&mut tx, principal.user, &hash, now).await?;
        store::revoke_sessions_of(&mut *tx, principal.user, Some(principal.session), now, "password_changed")
            .await?;
        record_user_event(&mut tx, now, "user.password_changed", principal.user, principal.user).await?;
        tx.commit().await?;
        self.forget_sessions_of(principal.user);
        Ok(())
    }

    /// Asks to move the account to `email` (`user.email_change_requested`): the change applies
    /// when the token sent to the new address is used.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        email: &Email,
        password: &Password,
    ) -> Result<(), IdentityError> {
        let user = self.check_password(principal.user, password).await?;
        if user.email == email.as_str() {
            return Err(IdentityError::SameEmail);
        }
        if store::user_with_hash_by_email(self.db().reader(), email.as_str()).await?.is_some() {
            return Err(IdentityError::EmailTaken);
        }
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        sqlx::query("UPDATE users SET pending_email = $1, updated_at = $2 WHERE id = $3")
            .bind(email.as_str())
            .bind(now.millis())
            .bind(principal.user.to_string())
            .execute(&mut *tx)
            .await?;
        record_user_event(&mut tx, now, "user.email_change_requested", principal.user, principal.user)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks for another verification email for the caller's address.
    pub async fn request_email_verification(&self, user: UserId) -> Result<(), IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let account = account(&mut tx, user).await?;
        if account.user.email_verified {
            return Err(IdentityError::EmailAlreadyVerified);
        }
        record_user_event(&mut tx, now, "user.email_verification_requested", user, user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Switches an account off (its sessions end at once, login is refused) or on again.
    pub async fn set_active(
        &self,
        actor: &Principal,
        target: UserId,
        active: bool,
    ) -> Result<User, IdentityError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        let account = account(&mut tx, target).await?;
        check_deactivation(actor.role, actor.user == target, account.user.role)?;
        if account.deleted {
            return Err(IdentityError::AccountDeleted);
        }
        if account.user.is_active != active {
            sqlx::query("UPDATE users SET is_active = $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(active))
                .bind(now.millis())
                .bind(target.to_string())
                .execute(&mut *tx)
                .await?;
            if !active {
                store::revoke_sessions_of(&mut *tx, target, None, now, "deactivated").await?;
            }
            let event = if active { "user.reactivated" } else { "user.deactivated" };
            record_user_event(&mut tx, now, event, target, actor.user).await?;
        }
        let user = store::user_by_id(&mut *tx, target).await?.ok_or(IdentityError::UserNotFound)?;
        tx.commit().await?;
        self.forget_sessions_of(target);
        Ok(user)
    }

    /// Deletes the caller's account, given its password: personal data is erased (the email
    /// becomes a placeholder unique to the account), addresses and the Telegram link go, every
    /// session ends. The row stays, so orders and ledger entries keep a valid reference. The
    /// modules above identity erase what they keep of the person when [`USER_DELETED`] reaches
    /// them (reviews, the store, chat), so identity never calls them.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        password: &Password,
    ) -> Result<(), IdentityError> {
        self.check_password(principal.user, password).await?;
        let unknowable = Password::parse(hex::encode(rand::random::<[u8; 32]>()))
            .map_err(|e| anyhow::anyhow!("generated password: {e}"))?;
        let hash = credentials::hash_password(&unknowable).await?;
        let (user, now) = (principal.user, self.clock().now());
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "UPDATE users SET email = $1, name = $2, password_hash = $3, phone = NULL, language = NULL,
                 time_zone = NULL, pending_email = NULL, email_verified_at = NULL, is_active = 0,
                 deleted_at = $4, updated_at = $4
             WHERE id = $5",
        )
        .bind(deleted_email(user))
        .bind(DELETED_NAME)
        .bind(&hash)
        .bind(now.millis())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        for table in ["addresses", "telegram_links", "telegram_link_codes", "account_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        store::revoke_sessions_of(&mut *tx, user, None, now, "account_deleted").await?;
        record_user_event(&mut tx, now, USER_DELETED, user, user).await?;
        tx.commit().await?;
        self.forget_sessions_of(user);
        Ok(())
    }

    /// The account, when `password` is its password.
    async fn check_password(&self, user: UserId, password: &Password) -> Result<User, IdentityError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1"))
            .bind(user.to_string())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        let account = user_of(&row)?;
        let hash: String = row.try_get("password_hash")?;
        if credentials::verify_password(password, Some(hash)).await? {
            Ok(account)
        } else {
            Err(IdentityError::WrongPassword)
        }
    }
}

/// The placeholder address of a deleted account: unique, and in a domain that can never
/// receive mail (RFC 2606).
fn deleted_email(user: UserId) -> String {
    format!("deleted-{user}@deleted.invalid").to_lowercase()
}

struct Account {
    user: User,
    pending_email: Option<String>,
    deleted: bool,
}

async fn account(tx: &mut db::Transaction, user: UserId) -> Result<Account, IdentityError> {
    let row =
        sqlx::query(&format!("SELECT {USER_COLUMNS}, pending_email, deleted_at FROM users WHERE id = $1"))
            .bind(user.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
    Ok(Account {
        user: user_of(&row)?,
        pending_email: row.try_get("pending_email")?,
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
    })
}

async fn set_password_hash(
    tx: &mut db::Transaction,
    user: UserId,
    hash: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now.millis())
        .bind(user.to_string())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn token_record<'c>(
    ex: impl sqlx::Executor<'c, Database = sqlx::Any>,
    hash: &str,
) -> Result<Option<TokenRecord>, IdentityError> {
    let row = sqlx::query(
        "SELECT purpose, user_id, email, expires_at, used_at FROM account_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let purpose: String = row.try_get("purpose")?;
    Ok(Some(TokenRecord {
        purpose: AccountTokenPurpose::parse(&purpose)
            .ok_or_else(|| anyhow::anyhow!("account token of unknown purpose {purpose:?}"))?,
        user: crate::db::column::parse_text(&row, "user_id")?,
        email: row.try_get("email")?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        used: row.try_get::<Option<i64>, _>("used_at")?.is_some(),
    }))
}

/// Why a token cannot be used now, if it cannot.
fn refusal(
    record: Option<&TokenRecord>,
    purposes: &[AccountTokenPurpose],
    now: Timestamp,
) -> Option<IdentityError> {
    match record {
        None => Some(IdentityError::InvalidAccountToken),
        Some(record) if !purposes.contains(&record.purpose) => Some(IdentityError::InvalidAccountToken),
        Some(record) if record.used => Some(IdentityError::AccountTokenUsed),
        Some(record) if record.expires_at <= now => Some(IdentityError::AccountTokenExpired),
        Some(_) => None,
    }
}

async fn check_token<'c>(
    ex: impl sqlx::Executor<'c, Database = sqlx::Any>,
    token: &str,
    purposes: &[AccountTokenPurpose],
    now: Timestamp,
) -> Result<(), IdentityError> {
    let record = token_record(ex, &credentials::hash_refresh_token(token)).await?;
    refusal(record.as_ref(), purposes, now).map_or(Ok(()), Err)
}

/// Marks a token used, in the caller's transaction; of two concurrent uses, one wins.
async fn use_token(
    tx: &mut db::Transaction,
    token: &str,
    purposes: &[AccountTokenPurpose],
    now: Timestamp,
) -> Result<TokenRecord, IdentityError> {
    let hash = credentials::hash_refresh_token(token);
    let record = token_record(&mut **tx, &hash).await?;
    if let Some(refused) = refusal(record.as_ref(), purposes, now) {
        return Err(refused);
    }
    let used =
        sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now.millis())
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
    if used.rows_affected() != 1 {
        return Err(IdentityError::AccountTokenUsed);
    }
    record.ok_or(IdentityError::InvalidAccountToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_accounts_address_is_unique_and_undeliverable() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_ne!(deleted_email(a), deleted_email(b));
        assert!(deleted_email(a).ends_with("@deleted.invalid"));
    }

    #[test]
    fn only_a_user_deleted_event_names_a_deleted_account() {
        let user = UserId::new();
        let event = |event_type: &str, payload| Event {
            id: crate::ids::EventId::new(),
            event_type: event_type.to_owned(),
            version: 1,
            subject_id: user.to_string(),
            actor: user.to_string(),
            occurred_at: Timestamp::from_millis(0),
            payload,
        };
        let deleted = event(USER_DELETED, serde_json::json!({ "user_id": user }));
        assert_eq!(deleted_account(&deleted).unwrap(), Some(user));
        let other = event("user.deactivated", serde_json::json!({ "user_id": user }));
        assert_eq!(deleted_account(&other).unwrap(), None);
        assert!(deleted_account(&event(USER_DELETED, serde_json::json!({}))).is_err());
    }

    #[test]
    fn a_token_is_refused_when_unknown_for_another_purpose_used_or_expired() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let record = |purpose, used, expires_at| TokenRecord {
            purpose,
            user: UserId::new(),
            email: "ana@example.com".into(),
            expires_at,
            used,
        };
        let reset = [AccountTokenPurpose::PasswordReset];
        let later = now.plus(std::time::Duration::from_secs(1));
        assert!(matches!(refusal(None, &reset, now), Some(IdentityError::InvalidAccountToken)));
        let verification = record(AccountTokenPurpose::EmailVerification, false, later);
        assert!(matches!(
            refusal(Some(&verification), &reset, now),
            Some(IdentityError::InvalidAccountToken)
        ));
        let used = record(AccountTokenPurpose::PasswordReset, true, later);
        assert!(matches!(refusal(Some(&used), &reset, now), Some(IdentityError::AccountTokenUsed)));
        let expired = record(AccountTokenPurpose::PasswordReset, false, now);
        assert!(matches!(refusal(Some(&expired), &reset, now), Some(IdentityError::AccountTokenExpired)));
        let fine = record(AccountTokenPurpose::PasswordReset, false, later);
        assert!(refusal(Some(&fine), &reset, now).is_none());
    }
}
