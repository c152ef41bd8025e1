//! Pasar started in this process on a fresh database, and torn down after the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use pasar::config::{Config, LogFormat};
use pasar::http::AppState;
use pasar::startup::Application;
use pasar::time::Clock;
use sqlx::{Connection, Executor};
use tokio::sync::oneshot;

use crate::Backend;

/// The databases of one run: SQLite files in a temporary directory (removed when dropped), or
/// two new PostgreSQL databases (main and audit) that [`Server::stop`] drops.
enum Databases {
    Sqlite,
    Postgres { admin_url: String, names: Vec<String> },
}

pub struct Server {
    pub address: String,
    /// Where the load connects: the same listener as `address`.
    pub listening: std::net::SocketAddr,
    pub state: AppState,
    pub database_url: String,
    databases: Databases,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    data_dir: DataDir,
}

/// Where the SQLite files and the search index live: a temporary directory removed after the
/// run, or one the caller keeps (`--keep`) so that a later run finds its catalog seeded.
enum DataDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temporary(dir) => dir.path(),
            DataDir::Kept(dir) => dir,
        }
    }
}

impl Server {
    /// Starts Pasar on new databases, in `kept` when given (SQLite only: the caller checks).
    pub async fn start(
        backend: Backend,
        admin_url: &str,
        kept: Option<&Path>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let data_dir = match kept {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                DataDir::Kept(dir.to_path_buf())
            }
            None => DataDir::Temporary(tempfile::tempdir().context("creating a temporary directory")?),
        };
        let (databases, database_url, audit_url) = match backend {
            Backend::Sqlite => (
                Databases::Sqlite,
                format!("sqlite://{}?mode=rwc", data_dir.path().join("pasar.db").display()),
                format!("sqlite://{}?mode=rwc", data_dir.path().join("audit.db").display()),
            ),
            Backend::Postgres => {
                let name = format!("pasar_bench_{}", uuid::Uuid::now_v7().simple());
                let audit = format!("{name}_audit");
                pasar::db::install_drivers();
                let mut admin = sqlx::AnyConnection::connect(admin_url)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {admin_url}"))?;
                for database in [&name, &audit] {
                    admin.execute(format!("CREATE DATABASE {database}").as_str()).await?;
                }
                admin.close().await?;
                let urls = (with_database(admin_url, &name), with_database(admin_url, &audit));
                (
                    Databases::Postgres { admin_url: admin_url.to_owned(), names: vec![name, audit] },
                    urls.0,
                    urls.1,
                )
            }
        };
        let config = Config {
            addr: "127.0.0.1:0".parse()?,
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database_url.clone()),
            // Two cores: more connections than this only queue inside PostgreSQL instead of in
            // the pool; on SQLite it is the number of readers (writes always go through one).
            database_max_connections: 16,
            jwt_secret: Some("bench-jwt-secret-bench-jwt-secret-bench".into()),
            rate_limit_per_minute: 0,
            login_attempts_per_account: 0,
            login_attempts_per_ip: 0,
            // Sandbox orders stay pending for the whole run: none may expire and hand its stock
            // back while the oversell check counts it as sold.
            payment_ttl: 24 * 3600,
            // A replayed year (the analytics scenario) must not sign its buyers out on the way.
            access_token_ttl: 400 * 86_400,
            refresh_token_ttl: 400 * 86_400,
            log_level: "warn".into(),
            log_format: LogFormat::Pretty,
            audit_database_url: Some(audit_url),
            audit_key: Some("bench-audit-key-bench-audit-key-bench-audit".into()),
            sandbox_webhook_secret: Some("whsec_bench_secret_0123456789abcdef".into()),
            digital_items_key: Some(
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
            ),
            ..Config::default()
        };
        let app = match Application::build(config, clock).await {
            Ok(app) => app,
            Err(err) => {
                databases.drop_all().await;
                return Err(err.context("starting Pasar"));
            }
        };
        let listening = app.local_addr();
        let address = format!("http://{listening}");
        let state = app.state().clone();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve_until(async {
            let _ = stop.await;
        }));
        Ok(Self { address, listening, state, database_url, databases, shutdown, task, data_dir })
    }

    /// Stops the server (requests in flight finish) and answers how serving ended, with the
    /// databases still there for [`Leftovers::remove`].
    pub async fn stop(self) -> (anyhow::Result<()>, Leftovers) {
        let _ = self.shutdown.send(());
        let served = match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(joined) => joined.context("the server task panicked").and_then(|served| served),
            Err(_) => Err(anyhow::anyhow!("the server did not stop within 30 s")),
        };
        (served, Leftovers { databases: self.databases, _data_dir: self.data_dir })
    }
}

/// What a stopped server leaves behind: its databases and data directory.
pub struct Leftovers {
    databases: Databases,
    _data_dir: DataDir,
}

impl Leftovers {
    /// Drops the PostgreSQL databases; the SQLite files go with the temporary directory.
    pub async fn remove(self) {
        self.databases.drop_all().await;
    }
}

impl Databases {
    async fn drop_all(&self) {
        let Databases::Postgres { admin_url, names } = self else { return };
        match sqlx::AnyConnection::connect(admin_url).await {
            Ok(mut admin) => {
                for name in names {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(err) = admin.execute(drop.as_str()).await {
                        eprintln!("warning: could not drop database {name}: {err}");
                    }
                }
            }
            Err(err) => eprintln!("warning: could not connect to drop databases {names:?}: {err}"),
        }
    }
}

/// `url` with its database name replaced by `name`, query string kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    // The server part ends at the first '/' after the scheme's "://" (or is all of it).
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "pasar_bench_1"),
            "postgres://postgres@127.0.0.1:5432/pasar_bench_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://127.0.0.1", "x"), "postgres://127.0.0.1/x");
    }
}
