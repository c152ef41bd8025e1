//! Building and running the server: storage, migrations, services, router, background
//! housekeeping and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::catalog::{Catalog, MediaStore};
use crate::config::Config;
use crate::db::{self, Db};
use crate::http::{self, AppState, idempotency, metrics::Metrics, rate_limit::RateLimits};
use crate::identity::Identity;
use crate::identity::credentials::TokenKeys;
use crate::time::Clock;

/// Opens the database named by the configuration and brings its schema up to date.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let db = Db::connect(&config.database_url(), config.database_max_connections).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// The services, built once and shared by the HTTP server and the command line.
pub async fn build_state(config: Config, clock: Clock) -> anyhow::Result<AppState> {
    let db = open_database(&config).await?;
    let keys = TokenKeys::new(&config.jwt_secret()?);
    let media = MediaStore::from_config(&config)?;
    Ok(AppState {
        identity: Identity::new(db.clone(), keys, clock.clone()),
        catalog: Catalog::new(db.clone(), clock.clone(), media),
        limits: Arc::new(RateLimits::new(&config)),
        metrics: Arc::new(Metrics::default()),
        config: Arc::new(config),
        db,
        clock,
    })
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let addr = config.addr;
        let state = build_state(config, clock).await?;
        let listener = TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and closes the
    /// database.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let app = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        state.db.close().await;
        served.context("serving HTTP")
    }
}

/// Periodic upkeep: forget idle rate-limit buckets, delete expired idempotency keys.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.limits.forget_idle_clients();
        if let Err(err) = idempotency::purge_expired(&state.db, state.clock.now()).await {
            tracing::warn!(error = %err, "purging expired idempotency keys failed; will retry");
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
