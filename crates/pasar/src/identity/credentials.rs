//! Secrets: password hashes, access tokens (JWT) and refresh tokens.
//!
//! - Passwords: Argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1, `Params::DEFAULT`),
//!   hashed on the blocking pool so a login never stalls the async workers.
//! - Access tokens: HS256 JWT, the algorithm pinned on verification (no `none`, no key
//!   confusion), `exp`, `iss` and `aud` checked, 15 minutes unless configured.
//! - Refresh tokens: 256 random bits, opaque to clients, stored only as their SHA-256 (they are
//!   random, so a fast hash is enough), 7 days unless configured, rotated on every use.
//! - Account tokens (email verification, password reset, email change): made like refresh
//!   tokens, single use.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::domain::Password;
use crate::ids::{SessionId, UserId};
use crate::time::Timestamp;

/// The default lifetimes (seed 002's); `PASAR_ACCESS_TOKEN_TTL` and `PASAR_REFRESH_TOKEN_TTL`
/// change them.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
const ISSUER: &str = "pasar";
const AUDIENCE: &str = "pasar-api";

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

pub async fn hash_password(password: &Password) -> anyhow::Result<String> {
    let password = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// A hash of a password nobody knows, verified against when an account does not exist, so a
/// login for an unknown email costs the same time as one for a known email.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(&rand::random::<[u8; 16]>(), &salt)
        .expect("hashing the decoy password")
        .to_string()
});

pub async fn verify_password(password: &Password, stored_hash: Option<String>) -> anyhow::Result<bool> {
    let password = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let exists = stored_hash.is_some();
        let hash_text = stored_hash.unwrap_or_else(|| DECOY_HASH.clone());
        let hash = PasswordHash::new(&hash_text).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let matches = argon2().verify_password(password.as_bytes(), &hash).is_ok();
        Ok(exists && matches)
    })
    .await?
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: UserId,
    /// The session (refresh-token family) this token was issued from; revoking the session
    /// (logout, reuse detection) kills the access token too.
    pub sid: SessionId,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid access token")]
pub struct InvalidToken;

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: ACCESS_TOKEN_TTL,
            refresh_ttl: REFRESH_TOKEN_TTL,
        }
    }

    /// The same keys issuing tokens that live `access` and `refresh` long.
    pub fn with_lifetimes(self, access: Duration, refresh: Duration) -> Self {
        Self { access_ttl: access, refresh_ttl: refresh, ..self }
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    pub fn issue_access(&self, user: UserId, session: SessionId, now: Timestamp) -> anyhow::Result<String> {
        let claims = AccessClaims {
            sub: user,
            sid: session,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.unix_seconds(),
            exp: now.plus(self.access_ttl).unix_seconds(),
        };
        Ok(jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks signature, algorithm, issuer and audience, and expiry against `now` (the
    /// injected clock, not the system's, so tests can expire tokens).
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Result<AccessClaims, InvalidToken> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|_| InvalidToken)?
            .claims;
        if claims.exp <= now.unix_seconds() {
            return Err(InvalidToken);
        }
        Ok(claims)
    }
}

/// A new refresh (or account) token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let (user, session) = (UserId::new(), SessionId::new());
        let token = keys().issue_access(user, session, now).unwrap();
        let claims = keys().verify_access(&token, now).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert!(keys().verify_access(&token, now.plus(ACCESS_TOKEN_TTL)).is_err());
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let other = TokenKeys::new(b"another-secret-another-secret-xx");
        let token = other.issue_access(UserId::new(), SessionId::new(), now).unwrap();
        assert!(keys().verify_access(&token, now).is_err());
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let token = keys().issue_access(UserId::new(), SessionId::new(), now).unwrap();
        let mut parts = token.split('.');
        let (_, payload) = (parts.next(), parts.next().unwrap());
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys().verify_access(&format!("{none_header}.{payload}."), now).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert!(!hash_a.contains(&a));
    }
}
