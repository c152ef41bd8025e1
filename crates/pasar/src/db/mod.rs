//! Storage on SQLite or PostgreSQL through one code path.
//!
//! Queries are portable SQL run through sqlx's `Any` driver: `$1` placeholders (SQLite accepts
//! them too), TEXT ids, BIGINT money and times, no dialect-specific types. Where a dialect must
//! differ (transaction start, migration locking) [`Dialect`] says which one is in use.
//!
//! SQLite allows one writer at a time. Writes go through a pool of exactly one connection and
//! start with `BEGIN IMMEDIATE`, so writers queue in the process instead of failing with
//! SQLITE_BUSY, and another process writing the same file waits on the busy timeout. Reads use
//! a separate pool and, thanks to WAL, never wait for the writer.

pub mod bulk;
pub mod column;
pub mod lease;
mod migrate;

use std::sync::Once;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use migrate::{Migration, migrate, schema_fingerprint};

pub type Transaction = sqlx::Transaction<'static, sqlx::Any>;
pub type Connection = sqlx::AnyConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// What a SELECT ends with to lock its rows for the transaction: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, whose one writer holds the whole database already.
    pub fn row_lock(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    dialect: Dialect,
    readers: AnyPool,
    /// On PostgreSQL the same pool as `readers`.
    writers: AnyPool,
}

/// Prepared statements kept per connection, unless the URL says otherwise: sqlx keeps 100 by
/// default, fewer than the application's statements (batched checkouts alone use a few shapes
/// of each of theirs), and a statement evicted is parsed and planned again on its next use.
const STATEMENT_CACHE: &str = "statement-cache-capacity=1024";

fn with_statement_cache(url: &str) -> String {
    if !url.starts_with("postgres") || url.contains("statement-cache-capacity") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{STATEMENT_CACHE}")
}

/// Why PostgreSQL could not be reached. The pool only says it timed out waiting for a
/// connection; one direct attempt gives the cause (connection refused, unknown host, password
/// refused, no such database), which is what the person starting Pasar needs to read.
async fn why_unreachable(options: &AnyConnectOptions, pooled: sqlx::Error) -> anyhow::Error {
    use sqlx::ConnectOptions as _;
    let direct = match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Ok(Err(direct)) => anyhow::Error::new(direct),
        Ok(Ok(_)) | Err(_) => anyhow::Error::new(pooled),
    };
    direct.context("connecting to PostgreSQL")
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        install_drivers();
        let dialect = Dialect::of_url(url)?;
        let options: AnyConnectOptions = with_statement_cache(url).parse().context("parsing DATABASE_URL")?;
        let max_connections = max_connections.max(1);
        match dialect {
            Dialect::Postgres => {
                // Two at least: migrations hold one for their advisory lock.
                let pool = match AnyPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options.clone())
                    .await
                {
                    Ok(pool) => pool,
                    Err(pooled) => return Err(why_unreachable(&options, pooled).await),
                };
                Ok(Self { dialect, readers: pool.clone(), writers: pool })
            }
            Dialect::Sqlite => {
                let writers = sqlite_pool(1)
                    .connect_with(options.clone())
                    .await
                    .context("opening the SQLite database")?;
                // WAL is a property of the file: set once by the writer, then readers share it.
                sqlx::query("PRAGMA journal_mode = WAL").execute(&writers).await?;
                let readers = sqlite_pool(max_connections).connect_with(options).await?;
                Ok(Self { dialect, readers, writers })
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool for reads outside a transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.readers
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes cannot fail half-way with
    /// SQLITE_BUSY.
    pub async fn begin(&self) -> Result<Transaction, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.writers.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.writers.begin().await,
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.readers.execute("SELECT 1").await.map(|_| ())
    }

    /// Pool figures for `/metrics`: (pool name, open connections, idle connections).
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, u32)> {
        let stats = |pool: &AnyPool| (pool.size(), u32::try_from(pool.num_idle()).unwrap_or(0));
        let (size, idle) = stats(&self.readers);
        let mut out = vec![("read", size, idle)];
        if self.dialect == Dialect::Sqlite {
            let (size, idle) = stats(&self.writers);
            out.push(("write", size, idle));
        }
        out
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writers.close().await;
    }
}

/// Registers the SQLite and PostgreSQL drivers with sqlx's `Any` (needed once per process
/// before any `Any` connection opens).
pub fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

fn sqlite_pool(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // FULL: a commit survives power loss too, which money and stock need.
                conn.execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
}

/// True when the error is a unique-constraint violation, the same check on both backends
/// (SQLite reports extended code 2067 or 1555, PostgreSQL SQLSTATE 23505).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}

/// True when the database itself is unreachable (as opposed to a query being wrong), so the
/// API can answer 503 with Retry-After instead of 500.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_postgres_is_reported_as_connection_refused_not_a_pool_timeout() {
        // Nothing listens on port 1 of the loopback interface.
        let Err(err) = Db::connect("postgres://pasar@127.0.0.1:1/pasar", 2).await else {
            panic!("something listens on 127.0.0.1:1")
        };
        let chain = format!("{err:#}");
        assert!(chain.contains("connecting to PostgreSQL"), "{chain}");
        assert!(chain.to_lowercase().contains("connection refused"), "{chain}");
    }

    #[test]
    fn postgres_urls_get_a_larger_statement_cache_unless_they_set_one() {
        assert_eq!(
            with_statement_cache("postgres://u@h/db"),
            "postgres://u@h/db?statement-cache-capacity=1024"
        );
        assert_eq!(
            with_statement_cache("postgres://u@h/db?sslmode=disable"),
            "postgres://u@h/db?sslmode=disable&statement-cache-capacity=1024"
        );
        let chosen = "postgres://u@h/db?statement-cache-capacity=10";
        assert_eq!(with_statement_cache(chosen), chosen);
        assert_eq!(with_statement_cache("sqlite://pasar.db"), "sqlite://pasar.db");
    }
}
