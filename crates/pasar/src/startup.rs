//! Building and running the server: storage, migrations, services, router, background
//! housekeeping and graceful shutdown. This is the one place that knows every module: it lists
//! their migrations, merges their routes and wires their services to each other.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;

use crate::analytics::Analytics;
use crate::audit::AuditStore;
use crate::cart::Carts;
use crate::catalog::{Catalog, MediaStore};
use crate::chat::Chat;
use crate::checkout::{self, Checkout};
use crate::config::{Config, TelegramMode};
use crate::db::lease::Leases;
use crate::db::{self, Db, Migration};
use crate::delivery::{Delivery, ShopTime};
use crate::events::Relay;
use crate::events::webhooks::Webhooks;
use crate::http::{self, AppState, Services, idempotency, metrics::Metrics, rate_limit::RateLimits};
use crate::identity::Identity;
use crate::identity::credentials::TokenKeys;
use crate::inventory::{Inventory, ItemSealer};
use crate::ledger::Ledger;
use crate::money::Currency;
use crate::notifications::{Notifications, Sources as NotificationSources};
use crate::orders::Orders;
use crate::payables::{CommissionRate, Payables};
use crate::payments::providers::pakasir::PakasirGateway;
use crate::payments::providers::sandbox::SandboxGateway;
use crate::payments::{self, Gateway, PaymentPurpose, Payments, Reconciler, Settlements, WebhookLog};
use crate::promotions::Promotions;
use crate::recommendations::Recommendations;
use crate::reviews::Reviews;
use crate::search::{Search, SearchIndexer};
use crate::sellers::Sellers;
use crate::shipping::Shipping;
use crate::telegram::{Bot, Deliveries, Shop};
use crate::time::Clock;
use crate::wallet::{PointsEarner, PointsRules, Wallet};

/// Every module's migrations of the main database (the audit store keeps its own).
pub fn migrations() -> Vec<&'static Migration> {
    [
        crate::identity::MIGRATIONS,
        crate::events::MIGRATIONS,
        crate::http::idempotency::MIGRATIONS,
        crate::events::RELAY_MIGRATIONS,
        crate::events::webhooks::MIGRATIONS,
        crate::catalog::MIGRATIONS,
        crate::inventory::MIGRATIONS,
        crate::payments::MIGRATIONS,
        crate::payments::webhook_log::MIGRATIONS,
        crate::payments::refunds::MIGRATIONS,
        crate::orders::MIGRATIONS,
        crate::payables::MIGRATIONS,
        crate::cart::MIGRATIONS,
        crate::checkout::MIGRATIONS,
        crate::db::lease::MIGRATIONS,
        crate::ledger::MIGRATIONS,
        crate::shipping::MIGRATIONS,
        crate::couriers::MIGRATIONS,
        crate::delivery::MIGRATIONS,
        crate::identity::telegram::MIGRATIONS,
        crate::identity::accounts::MIGRATIONS,
        crate::identity::web_sessions::MIGRATIONS,
        crate::telegram::MIGRATIONS,
        crate::reviews::MIGRATIONS,
        crate::sellers::MIGRATIONS,
        crate::promotions::MIGRATIONS,
        crate::push::MIGRATIONS,
        crate::recommendations::MIGRATIONS,
        crate::analytics::MIGRATIONS,
        crate::chat::MIGRATIONS,
        crate::notifications::MIGRATIONS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every module's API routes.
fn module_routes(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::identity::routes::router(state.clone()))
        .merge(crate::catalog::routes::router(state.clone()))
        .merge(crate::search::routes::router())
        .merge(crate::inventory::routes::router(state.clone()))
        .merge(crate::cart::routes::router())
        .merge(crate::checkout::routes::router(state.clone()))
        .merge(crate::orders::routes::router(state.clone()))
        .merge(crate::payables::routes::router(state.clone()))
        .merge(crate::payments::routes::router(state.sandbox_enabled))
        .merge(crate::wallet::routes::router(state.clone()))
        .merge(crate::events::webhooks::routes::router(state.clone()))
        .merge(crate::audit::routes::router())
        .merge(crate::ledger::routes::router())
        .merge(crate::shipping::routes::router())
        .merge(crate::couriers::routes::router(state.clone()))
        .merge(crate::delivery::routes::router())
        .merge(crate::reviews::routes::router(state.clone()))
        .merge(crate::sellers::routes::router(state.clone()))
        .merge(crate::promotions::routes::router(state.clone()))
        .merge(crate::push::routes::router())
        .merge(crate::recommendations::routes::router())
        .merge(crate::analytics::routes::router())
        .merge(crate::chat::routes::router(state.clone()))
        .merge(crate::notifications::routes::router())
        // Telegram's webhook exists only when a bot is configured, like the sandbox's pages.
        .merge(if state.telegram.is_some() {
            crate::telegram::routes::router()
        } else {
            OpenApiRouter::new()
        })
}

/// The whole HTTP application.
pub fn router(state: AppState) -> axum::Router {
    let modules = module_routes(&state);
    let media = crate::catalog::routes::media_router().merge(crate::reviews::routes::media_router());
    let pages = crate::web::router(state.clone());
    http::router(state, modules, media, pages)
}

/// Opens the database named by the configuration and brings its schema up to date.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let db = Db::connect(&config.database_url(), config.database_max_connections).await?;
    db::migrate(&db, migrations()).await?;
    Ok(db)
}

/// Opens the audit store named by the configuration and brings its schema up to date.
pub async fn open_audit(config: &Config) -> anyhow::Result<AuditStore> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    AuditStore::open(config, Clock::system()).await
}

/// The services, built once and shared by the HTTP server and the command line.
/// `public_url` is where buyers and gateways reach this server (hosted pay pages, webhooks).
pub async fn build_state(config: Config, clock: Clock, public_url: String) -> anyhow::Result<AppState> {
    let db = open_database(&config).await?;
    let keys = TokenKeys::new(&config.jwt_secret()?).with_lifetimes(
        Duration::from_secs(config.access_token_ttl),
        Duration::from_secs(config.refresh_token_ttl),
    );
    let identity =
        Identity::new(db.clone(), keys, clock.clone(), Duration::from_millis(config.session_cache_ms));
    // One object store for every image: the catalog's products', the stores', the reviews' and the chats'.
    let media = MediaStore::from_config(&config)?;
    let catalog = Catalog::new(
        db.clone(),
        clock.clone(),
        media.clone(),
        Duration::from_millis(config.catalog_cache_ms),
    );
    let inventory = Inventory::new(db.clone(), clock.clone(), ItemSealer::new(&config.digital_items_key()?));
    inventory.backfill_item_digests().await.context("giving stored digital items their digests")?;
    let search = Search::open(config.search_index_dir(), catalog.clone(), inventory.clone())?;
    let orders = Orders::new(db.clone(), clock.clone());
    let reviews = Reviews::new(
        db.clone(),
        clock.clone(),
        catalog.clone(),
        orders.clone(),
        identity.clone(),
        media.clone(),
    );
    let sellers = Sellers::new(
        db.clone(),
        clock.clone(),
        identity.clone(),
        catalog.clone(),
        reviews.clone(),
        media.clone(),
        config.commission_bps,
    );
    let chat = Chat::new(
        db.clone(),
        clock.clone(),
        sellers.clone(),
        catalog.clone(),
        orders.clone(),
        media,
        config.chat_messages_per_minute,
    );
    let sandbox =
        SandboxGateway::new(db.clone(), clock.clone(), config.sandbox_webhook_secret()?, public_url.clone());
    // Real payment providers join this list as they are configured, in order of preference;
    // the sandbox is offered by default only while none is.
    let mut gateways: Vec<Arc<dyn Gateway>> = Vec::new();
    if let Some(settings) = payments::providers::pakasir::PakasirSettings::from_config(&config) {
        gateways.push(Arc::new(PakasirGateway::new(&settings).context("configuring Pakasir")?));
    }
    if let Some(stripe) =
        payments::providers::stripe::StripeGateway::configured(&config, &clock, &public_url)?
    {
        gateways.push(Arc::new(stripe));
    }
    // After Stripe: Stripe serves konbini when both are configured, unless
    // PASAR_PAYMENT_METHODS pins it to KOMOJU (`konbini=komoju`).
    if let Some(komoju) = payments::providers::komoju::KomojuGateway::configured(&config)? {
        gateways.push(Arc::new(komoju));
    }
    for chip in payments::providers::chip::ChipGateway::configured(&config, &db, &public_url)? {
        gateways.push(Arc::new(chip));
    }
    let sandbox_enabled = config.sandbox.unwrap_or(gateways.is_empty());
    if sandbox_enabled {
        tracing::warn!(
            "the sandbox payment gateway is ON: its pay and payout pages need no login, so anyone who \
             can reach {public} can mark their own orders and deposits paid and their own withdrawals \
             sent. Set PASAR_SANDBOX=false on a server that takes real money",
            public = public_url
        );
        gateways.push(Arc::new(sandbox.clone()));
    }
    let payments = Payments::new(db.clone(), clock.clone(), gateways, &config.payment_methods, &public_url)?;
    let ledger = Ledger::new(db.clone(), clock.clone());
    let carts = Carts::new(db.clone(), clock.clone(), catalog.clone());
    let currency = Currency::parse(&config.currency.to_uppercase()).map_err(anyhow::Error::msg)?;
    let points_rules = PointsRules {
        earn_per_minor: config.points_earn_per_minor,
        value_minor: config.points_value_minor,
        max_share_percent: config.points_max_share_percent,
    };
    let wallet = Wallet::new(
        db.clone(),
        clock.clone(),
        ledger.clone(),
        payments.clone(),
        currency,
        points_rules,
        Duration::from_secs(config.payment_ttl),
        identity.clone(),
    );
    let shipping = Shipping::new(db.clone(), clock.clone());
    let courier: Option<Arc<dyn crate::couriers::Courier>> =
        crate::couriers::biteship::BiteshipSettings::from_config(&config).map(|settings| {
            if settings.webhook_secret.is_none() {
                tracing::warn!("Biteship is on without PASAR_BITESHIP_WEBHOOK_SECRET: its webhooks are refused, tracking comes from polling only");
            }
            Arc::new(crate::couriers::biteship::Biteship::new(settings)) as Arc<dyn crate::couriers::Courier>
        });
    let couriers = crate::couriers::Couriers::new(
        db.clone(),
        clock.clone(),
        orders.clone(),
        catalog.clone(),
        courier,
        crate::couriers::shop_origin(&config)?,
        Duration::from_secs(config.biteship_poll_secs.max(1)),
    );
    let shop_time = ShopTime::named(&config.shop_timezone)
        .map_err(anyhow::Error::msg)
        .context("PASAR_SHOP_TIMEZONE is an IANA time zone name, such as Asia/Tokyo")?;
    let delivery = Delivery::new(db.clone(), clock.clone(), shipping.clone(), orders.clone(), shop_time);
    let payables = Payables::new(
        db.clone(),
        clock.clone(),
        ledger.clone(),
        orders.clone(),
        wallet.clone(),
        sellers.clone(),
        CommissionRate::from_bps(config.commission_bps)
            .context("PASAR_COMMISSION_BPS is a rate in basis points, at most 10000")?,
        Duration::from_secs(config.payable_hold_days * 24 * 60 * 60),
    );
    let promotions = Promotions::new(db.clone(), clock.clone());
    let vapid = match &config.vapid_private_key {
        Some(key) => {
            let key = crate::push::VapidKey::parse(key)
                .map_err(|e| anyhow::anyhow!("PASAR_VAPID_PRIVATE_KEY: {e}"))?;
            let subject = config.vapid_subject.clone().unwrap_or_else(|| public_url.clone());
            Some((key, subject))
        }
        None => None,
    };
    let push = crate::push::Push::new(db.clone(), clock.clone(), vapid, config.webhooks_allow_private)?;
    let checkout = Checkout::new(
        db.clone(),
        clock.clone(),
        catalog.clone(),
        carts.clone(),
        inventory.clone(),
        orders.clone(),
        payments.clone(),
        wallet.clone(),
        identity.clone(),
        shipping.clone(),
        delivery.clone(),
        payables.clone(),
        promotions.clone(),
        Duration::from_secs(config.payment_ttl),
        config.checkout_batch_size,
    );
    // Each purpose's outcomes go to the module that owns it.
    let settlements = Settlements::new(payments.clone())
        .on_payment(PaymentPurpose::Order, Arc::new(checkout.clone()))
        .on_refund(PaymentPurpose::Order, Arc::new(checkout.clone()))
        .on_payment(PaymentPurpose::Deposit, Arc::new(wallet.clone()))
        .on_payout(Arc::new(wallet.clone()));
    let reconciler = Reconciler::new(
        Leases::new(db.clone()),
        clock.clone(),
        settlements.clone(),
        Duration::from_secs(config.reconcile_grace_secs),
    );
    let audit = AuditStore::open(&config, clock.clone()).await?;
    let poll = Duration::from_millis(config.relay_poll_ms);
    let webhooks = Webhooks::new(
        db.clone(),
        clock.clone(),
        config.webhooks_allow_private,
        config.webhook_max_attempts,
        poll,
    )?;
    // In-process subscribers of the outbox: each module that reacts to events adds itself here.
    let telegram = Bot::from_config(
        &config,
        &public_url,
        Shop {
            identity: identity.clone(),
            catalog: catalog.clone(),
            inventory: inventory.clone(),
            orders: orders.clone(),
            payments: payments.clone(),
            checkout: checkout.clone(),
            wallet: wallet.clone(),
        },
        db.clone(),
        clock.clone(),
    )
    .await
    .context("configuring the Telegram bot")?;
    let recommendations =
        Recommendations::new(db.clone(), clock.clone(), catalog.clone(), inventory.clone(), orders.clone());
    let analytics =
        Analytics::new(db.clone(), clock.clone(), orders.clone(), payments.clone(), carts.clone(), currency);
    let mut relay = Relay::new(db.clone(), clock.clone(), poll)
        .subscribe(Arc::new(audit.clone()))
        .subscribe(PointsEarner::new(db.clone(), ledger.clone(), points_rules))
        .subscribe(Arc::new(SearchIndexer(search.clone())))
        .subscribe(Arc::new(recommendations.clone()))
        .subscribe(Arc::new(analytics.clone()))
        // A deleted account's reviews, store and chat messages are erased by their own modules.
        .subscribe(Arc::new(reviews.clone()))
        .subscribe(Arc::new(sellers.clone()))
        .subscribe(Arc::new(chat.clone()));
    if let Some(bot) = &telegram {
        relay = relay.subscribe(Arc::new(Deliveries::new(bot.clone())));
    }
    let notifications = Notifications::new(
        db.clone(),
        clock.clone(),
        &config,
        &public_url,
        NotificationSources {
            identity: identity.clone(),
            orders: orders.clone(),
            payments: payments.clone(),
            catalog: catalog.clone(),
            telegram: telegram.clone(),
            push: push.clone(),
            chat: chat.clone(),
        },
    )
    .context("configuring notifications")?;
    relay = relay.subscribe(Arc::new(notifications.clone()));
    Ok(Services {
        identity,
        catalog,
        inventory,
        search,
        sellers,
        orders,
        payments,
        sandbox,
        sandbox_enabled,
        carts,
        checkout,
        shipping,
        couriers,
        delivery,
        reviews,
        chat,
        promotions,
        push,
        recommendations,
        analytics,
        wallet,
        payables,
        reconciler,
        settlements,
        webhook_log: WebhookLog::new(db.clone(), clock.clone(), Leases::new(db.clone())),
        limits: Arc::new(RateLimits::new(&config).with_admin_allowlist(config.admin_allowlist()?)),
        metrics: Arc::new(Metrics::default()),
        config: Arc::new(config),
        db,
        clock,
        audit,
        webhooks,
        relay,
        ledger,
        telegram,
        notifications,
    }
    .into())
}

/// Connections the kernel queues before they are accepted. The usual 128 overflows when a
/// crowd arrives at once (a flash sale's opening second, clients reconnecting after a
/// restart): the dropped SYNs are retried only after a second. The kernel caps it at
/// `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As std's bind does, so a restart need not wait for the old connections' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How often pending ledger transfers past their timeout are voided.
const LEDGER_EXPIRY_PERIOD: Duration = Duration::from_secs(2);

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let addr = config.addr;
        let listener = listen(addr).with_context(|| format!("listening on {addr}"))?;
        let public_url = config.public_url(listener.local_addr()?);
        let state = build_state(config, clock, public_url).await?;
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
        // An empty index (new, lost, or thrown away as unreadable) is rebuilt in the
        // background: the server answers meanwhile, with fewer search results.
        let search_rebuild = tokio::spawn({
            let search = state.search.clone();
            async move {
                if let Err(err) = search.rebuild_if_empty().await {
                    tracing::error!(error = %err, "rebuilding the empty search index failed; run `pasar search reindex`");
                }
            }
        });
        let sweeper = tokio::spawn(checkout::sweeper::run(state.checkout.clone(), state.wallet.clone()));
        let reconciliation = tokio::spawn(payments::reconciliation::run(
            state.reconciler.clone(),
            Duration::from_secs(state.config.reconcile_interval_secs.max(1)),
        ));
        let webhook_log_pruning = tokio::spawn(state.webhook_log.clone().prune_every_hour());
        let cart_count = tokio::spawn(count_carts(state.clone()));
        let recommendations_catch_up = tokio::spawn({
            let recommendations = state.recommendations.clone();
            let leases = Leases::new(state.db.clone());
            async move {
                match recommendations.count_earlier_orders(&leases).await {
                    Ok(0) => {}
                    Ok(counted) => {
                        tracing::info!(counted, "recommendations counted the orders paid before them")
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "counting earlier orders for recommendations failed; the next start retries")
                    }
                }
            }
        });
        let ledger_expiry =
            tokio::spawn(crate::ledger::expire_every(state.ledger.clone(), LEDGER_EXPIRY_PERIOD));
        let (stop, stopped) = watch::channel(false);
        let relay = tokio::spawn(state.relay.clone().run(stopped.clone()));
        let mut telegram = Vec::new();
        if let Some(bot) = state.telegram.clone() {
            let poll = Duration::from_millis(state.config.relay_poll_ms);
            telegram.push(tokio::spawn(bot.clone().run_sender(stopped.clone(), poll)));
            if bot.mode() == TelegramMode::Polling {
                telegram.push(tokio::spawn(bot.run_polling(stopped.clone())));
            }
        }
        let poll = Duration::from_millis(state.config.relay_poll_ms);
        let notifier = tokio::spawn(state.notifications.clone().run_sender(stopped.clone(), poll));
        let sender = tokio::spawn(state.webhooks.clone().run(stopped));
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle delay: an answer leaves at once instead of waiting for the previous one's ACK.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(error = %err, "could not set TCP_NODELAY on a connection");
            }
        });
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        search_rebuild.abort();
        sweeper.abort();
        reconciliation.abort();
        ledger_expiry.abort();
        webhook_log_pruning.abort();
        recommendations_catch_up.abort();
        cart_count.abort();
        // The relay and the sender finish the batch in hand (a send takes at most its timeout);
        // anything cut short is simply done again, since delivery is at least once.
        let _ = stop.send(true);
        for worker in [relay, sender, notifier].into_iter().chain(telegram) {
            let abort = worker.abort_handle();
            if tokio::time::timeout(Duration::from_secs(15), worker).await.is_err() {
                abort.abort();
            }
        }
        state.db.close().await;
        state.audit.close().await;
        served.context("serving HTTP")
    }
}

/// Periodic upkeep: forget idle rate-limit buckets and expired session checks, delete expired
/// idempotency keys, release sellers' shares, ask the courier about shipments without news.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.limits.forget_idle_clients();
        state.identity.forget_expired_sessions();
        state.chat.forget_idle_senders();
        if let Err(err) = idempotency::purge_expired(&state.db, state.clock.now()).await {
            tracing::warn!(error = %err, "purging expired idempotency keys failed; will retry");
        }
        match state.payables.release_due().await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "sellers' shares past their hold became withdrawable"),
            Err(err) => tracing::warn!(error = %err, "releasing sellers' shares failed; will retry"),
        }
        match state.couriers.poll().await {
            Ok(0) => {}
            Ok(added) => tracing::info!(added, "tracking events learnt by polling the courier"),
            Err(err) => tracing::warn!(error = %err, "polling the courier failed; will retry"),
        }
    }
}

/// How often analytics counts the carts started and checked out (once across instances).
const CART_COUNT_PERIOD: Duration = Duration::from_secs(60);

async fn count_carts(state: AppState) {
    let leases = Leases::new(state.db.clone());
    let mut tick = tokio::time::interval(CART_COUNT_PERIOD);
    loop {
        tick.tick().await;
        if let Err(err) = state.analytics.count_carts(&leases, CART_COUNT_PERIOD).await {
            tracing::warn!(error = %err, "counting carts for analytics failed; will retry");
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
