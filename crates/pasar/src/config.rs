//! Configuration: defaults, then a TOML file, then `PASAR_*` environment variables (and the
//! conventional unprefixed `DATABASE_URL`). Every key is documented in README.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub addr: SocketAddr,
    /// Directory for the SQLite files and the generated JWT secret.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means `sqlite://{data_dir}/pasar.db`.
    pub database_url: Option<String>,
    /// Most connections the pool opens (PostgreSQL) or readers it keeps (SQLite).
    pub database_max_connections: u32,
    /// HMAC key for access tokens; generated and kept in `{data_dir}/jwt_secret` when unset.
    pub jwt_secret: Option<String>,
    /// Requests per minute one client IP may make; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Login attempts one account may make per 15 minutes; 0 turns the limit off.
    pub login_attempts_per_account: u32,
    /// Login attempts one IP may make per minute; 0 turns the limit off.
    pub login_attempts_per_ip: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you trust).
    pub trust_forwarded_for: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may run before it is answered with 504.
    pub request_timeout_secs: u64,
    /// Origins allowed by CORS, comma separated; `*` allows any; empty sends no CORS headers.
    pub cors_origins: String,
    /// `tracing` filter, such as `info` or `pasar=debug,info`.
    pub log_level: String,
    pub log_format: LogFormat,
    /// The audit store's own database, `sqlite://…` or `postgres://…` (also read from
    /// `AUDIT_DATABASE_URL`); unset means `sqlite://{data_dir}/audit.db`.
    pub audit_database_url: Option<String>,
    /// HMAC key of the audit chain, at least 32 characters; generated and kept in
    /// `{data_dir}/audit_key` when unset. Kept outside the audit database on purpose.
    pub audit_key: Option<String>,
    /// How often the outbox relay and the webhook sender look for work when idle, in ms.
    pub relay_poll_ms: u64,
    /// Attempts at delivering one event to one webhook endpoint before it is dead-lettered.
    pub webhook_max_attempts: u32,
    /// Allow webhook endpoints on http and on private, loopback or link-local addresses
    /// (local development and tests only: it turns the SSRF guard off).
    pub webhooks_allow_private: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 16,
            jwt_secret: None,
            rate_limit_per_minute: 100,
            login_attempts_per_account: 10,
            login_attempts_per_ip: 30,
            trust_forwarded_for: false,
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            cors_origins: String::new(),
            log_level: "info".into(),
            log_format: LogFormat::Json,
            audit_database_url: None,
            audit_key: None,
            relay_poll_ms: 200,
            webhook_max_attempts: 8,
            webhooks_allow_private: false,
        }
    }
}

impl Config {
    /// Loads the configuration. A missing file is fine (everything has a default); a file that
    /// names an unknown key or a value of the wrong type is an error, so typos do not pass
    /// silently.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let file = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("pasar.toml"));
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::raw().only(&["DATABASE_URL", "AUDIT_DATABASE_URL"]))
            .merge(Env::prefixed("PASAR_").ignore(&["CONFIG", "TEST_DATABASE_URL", "DEMO_PASSWORD"]))
            .extract()
            .with_context(|| format!("reading configuration (file {})", file.display()))
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("pasar.db").display()))
    }

    /// The JWT signing secret: configured, or read from the data directory, or generated there
    /// on first start (with a warning, since a shared secret must be configured explicitly when
    /// several instances run).
    pub fn jwt_secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = &self.jwt_secret {
            anyhow::ensure!(secret.len() >= 32, "PASAR_JWT_SECRET must be at least 32 characters");
            return Ok(secret.as_bytes().to_vec());
        }
        let path = self.data_dir.join("jwt_secret");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            anyhow::ensure!(existing.len() >= 32, "{} is too short", path.display());
            return Ok(existing.as_bytes().to_vec());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        let secret = hex::encode(rand::random::<[u8; 32]>());
        write_private_file(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "PASAR_JWT_SECRET is not set: generated a secret and stored it in the data directory; \
             set PASAR_JWT_SECRET when running more than one instance"
        );
        Ok(secret.into_bytes())
    }
}

impl Config {
    pub fn audit_database_url(&self) -> String {
        self.audit_database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("audit.db").display()))
    }

    /// The audit chain's HMAC key: configured, or read from `{data_dir}/audit_key`, or generated
    /// there on first start. It lives outside the audit database so that whoever can write that
    /// database cannot also recompute the chain.
    pub fn audit_key(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(key) = &self.audit_key {
            anyhow::ensure!(key.len() >= 32, "PASAR_AUDIT_KEY must be at least 32 characters");
            return Ok(key.as_bytes().to_vec());
        }
        let path = self.data_dir.join("audit_key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            anyhow::ensure!(existing.len() >= 32, "{} is too short", path.display());
            return Ok(existing.as_bytes().to_vec());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        let key = hex::encode(rand::random::<[u8; 32]>());
        write_private_file(&path, &key).with_context(|| format!("writing {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "PASAR_AUDIT_KEY is not set: generated the audit key and stored it in the data directory; \
             keep a copy, without it the audit chain cannot be verified"
        );
        Ok(key.into_bytes())
    }

    /// Where the audit chain's latest (seq, hash) is kept, so that a truncated tail is noticed.
    pub fn audit_head_path(&self) -> PathBuf {
        self.data_dir.join("audit_head")
    }
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
// figment's Jail hands its closures figment::Error, a large error type that is not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_locally_and_keep_data_in_a_sqlite_file() {
        let config = Config::default();
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.rate_limit_per_minute, 100);
        assert!(config.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn a_file_with_an_unknown_key_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pasar.toml", "adress = \"0.0.0.0:80\"")?;
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_audit_store_has_its_own_database_and_a_key_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        assert!(config.audit_database_url().ends_with("audit.db?mode=rwc"));
        let key = config.audit_key().unwrap();
        assert!(key.len() >= 32);
        assert_eq!(config.audit_key().unwrap(), key, "the generated key is kept");
        let short = Config { audit_key: Some("short".into()), ..config };
        assert!(short.audit_key().is_err());
    }

    #[test]
    fn the_audit_database_url_is_read_from_the_conventional_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("AUDIT_DATABASE_URL", "postgres://localhost/audit");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.audit_database_url(), "postgres://localhost/audit");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("PASAR_AUDIT_DATABASE_URL", "postgres://localhost/audit2");
            jail.set_env("PASAR_WEBHOOK_MAX_ATTEMPTS", "3");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.audit_database_url(), "postgres://localhost/audit2");
            assert_eq!(config.webhook_max_attempts, 3);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pasar.toml", "rate_limit_per_minute = 5\naddr = \"0.0.0.0:9000\"")?;
            jail.set_env("PASAR_RATE_LIMIT_PER_MINUTE", "0");
            jail.set_env("DATABASE_URL", "postgres://localhost/pasar");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.rate_limit_per_minute, 0);
            assert_eq!(config.addr.to_string(), "0.0.0.0:9000");
            assert_eq!(config.database_url(), "postgres://localhost/pasar");
            Ok(())
        });
    }
}
