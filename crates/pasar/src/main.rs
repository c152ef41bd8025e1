use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use pasar::config::Config;
use pasar::identity::{Email, Password, PersonName, Role};
use pasar::startup::{self, Application};
use pasar::time::Clock;

/// Pasar, a commerce engine. With no command it serves the API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); every key can also be set as a PASAR_* environment variable.
    #[arg(long, env = "PASAR_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Load the demo shop and its accounts, printing how to log in.
    Demo {
        /// Serve the API after loading.
        #[arg(long)]
        serve: bool,
    },
    /// Ask the gateways about payments and payouts still pending and apply what they say.
    Reconcile,
    /// Manage accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Work with the audit store.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Work with the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Work with the Telegram bot.
    Telegram {
        #[command(subcommand)]
        command: TelegramCommand,
    },
    /// Work with the search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Print a new VAPID key pair for Web Push (set the private one as PASAR_VAPID_PRIVATE_KEY).
    PushKeys,
}

#[derive(Subcommand)]
enum TelegramCommand {
    /// Register {PASAR_PUBLIC_URL}/v1/webhooks/telegram (https) as the bot's webhook, with the
    /// webhook secret Telegram will send back.
    SetWebhook,
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild this data directory's search index from the catalog (with the server stopped;
    /// a running server rebuilds its own with POST /v1/admin/search/reindex).
    Reindex,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check every ledger invariant from the stored rows: prints OK with the counts, or lists
    /// each violation and exits with status 1.
    Verify,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the audit chain from the first entry: prints OK with the count, or names the first
    /// broken entry and exits with status 1.
    Verify,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with any role (the way to make the first super_admin).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, env = "PASAR_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// customer, reseller, seller, admin or super_admin
        #[arg(long, default_value = "customer")]
        role: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    pasar::telemetry::init(&config.log_level, config.log_format)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Reconcile => {
            let public_url = config.public_url(config.addr);
            let state = startup::build_state(config, Clock::system(), public_url).await?;
            let report = state.reconciler.run_once().await?;
            state.db.close().await;
            println!(
                "reconciled: {} payments checked, {} settled; {} payouts checked, {} settled",
                report.payments_checked,
                report.payments_settled,
                report.payouts_checked,
                report.payouts_settled
            );
            Ok(())
        }
        Command::Migrate => {
            let db = startup::open_database(&config).await?;
            db.close().await;
            let audit = startup::open_audit(&config).await?;
            audit.close().await;
            println!("database and audit store are up to date");
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify } => verify_audit(&config).await,
        Command::Ledger { command: LedgerCommand::Verify } => verify_ledger(&config).await,
        Command::Telegram { command: TelegramCommand::SetWebhook } => set_telegram_webhook(&config).await,
        Command::PushKeys => {
            let key = pasar::push::VapidKey::generate();
            println!("PASAR_VAPID_PRIVATE_KEY={}", key.private_key());
            println!(
                "public key (browsers subscribe with it; also at GET /v1/push/public-key): {}",
                key.public_key()
            );
            Ok(())
        }
        Command::Search { command: SearchCommand::Reindex } => {
            let public_url = config.public_url(config.addr);
            let state = startup::build_state(config, Clock::system(), public_url).await?;
            if state.search.is_displaced() {
                anyhow::bail!(
                    "a running server holds the search index; stop it first, or ask it with POST /v1/admin/search/reindex"
                );
            }
            let indexed = state.search.reindex().await?;
            state.db.close().await;
            println!("search index rebuilt: {indexed} products");
            Ok(())
        }
        Command::Demo { serve: and_serve } => {
            // The demo is for trying purchases: its pay buttons are the sandbox's.
            let config = Config { sandbox: Some(true), ..config };
            let addr = config.addr;
            let state =
                startup::build_state(config.clone(), Clock::system(), config.public_url(addr)).await?;
            let shop = pasar::demo::load(&state).await?;
            let mail_dir = state.notifications.mail_dir().map(std::path::Path::to_path_buf);
            state.db.close().await;
            print_demo(&shop, &config);
            match mail_dir {
                Some(dir) => {
                    println!("Emails (no SMTP or SendGrid configured) are written to {}/*.eml", dir.display())
                }
                None => println!("Emails go out through the configured SMTP server or SendGrid"),
            }
            if and_serve { serve(config).await } else { Ok(()) }
        }
        Command::Admin { command: AdminCommand::CreateUser { email, password, role, name } } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let password = Password::parse(password).map_err(anyhow::Error::msg)?;
            let name = PersonName::parse(&name).map_err(anyhow::Error::msg)?;
            let public_url = config.public_url(config.addr);
            let state = startup::build_state(config, Clock::system(), public_url).await?;
            let user = state.identity.create_user(email, password, name, role).await?;
            state.db.close().await;
            println!("created {} ({}) as {}", user.email, user.id, user.role);
            Ok(())
        }
    }
}

/// What a newcomer needs from the demo: the logins, the slugs the listings filter by, and the
/// variant ids a checkout names.
fn print_demo(shop: &pasar::demo::DemoShop, config: &Config) {
    let base = config.public_url(config.addr);
    let note = |created: bool| if created { "" } else { " (already there)" };
    println!("Pasar demo shop is loaded. Log in with:");
    for account in &shop.accounts {
        println!(
            "  {:<12} {}  password {}{}",
            account.role.as_str(),
            account.email,
            account.password,
            note(account.created)
        );
    }
    println!(
        "Stores (GET /v1/stores/{{slug}}, their products: /v1/products?store={{slug}}); their owners log in with:"
    );
    for store in &shop.stores {
        println!(
            "  {:<9} {:<14} {}  password {}{}",
            store.status.as_str(),
            store.slug,
            store.email,
            store.password,
            note(store.created)
        );
    }
    let catalog = &shop.catalog;
    println!("Categories and brands (filter listings by slug: /v1/products?category=t-shirts):");
    for entry in &catalog.categories {
        println!("  category  {:<24} {}{}", entry.slug, entry.name, note(entry.created));
    }
    for entry in &catalog.brands {
        println!("  brand     {:<24} {}{}", entry.slug, entry.name, note(entry.created));
    }
    println!("Products (GET /v1/products/{{slug}}) and their variants (checkout takes the variant id):");
    for product in &catalog.products {
        println!(
            "  product   {:<24} {} ({}){}",
            product.slug,
            product.name,
            product.kind.as_str(),
            note(product.created)
        );
        for variant in &product.variants {
            println!(
                "    variant {}  {:<22} {}",
                variant.id,
                variant.sku,
                pasar::money::format_for_display(variant.price).replace('\u{a0}', " ")
            );
        }
    }
    println!(
        "Stock: {} units of each physical variant, {} keys for the digital one ({} variants stocked now)",
        pasar::demo::DEMO_UNITS,
        pasar::demo::DEMO_KEYS,
        shop.stocked
    );
    println!("Shipping (GET /v1/shipping/quote; Tokyo checkouts choose a slot from GET /v1/delivery/slots):");
    for entry in &shop.shipping {
        println!("  {:<14} {}{}", entry.slug, entry.name, note(entry.created));
    }
    println!("Storefront: {base}/  (sign in at {base}/login with any login above)");
    if let Some(admin) = shop.accounts.iter().find(|account| account.role.is_staff()) {
        println!("Admin dashboard: {base}/admin  ({} / {})", admin.email, admin.password);
    }
    if let Some(store) =
        shop.stores.iter().find(|store| store.status == pasar::sellers::SellerStatus::Approved)
    {
        println!(
            "Seller dashboard: {base}/seller  ({} / {}, store {})",
            store.email, store.password, store.slug
        );
    }
    println!("Shop API: {base}/v1/products");
    println!("API docs: {base}/docs");
}

async fn verify_audit(config: &Config) -> anyhow::Result<()> {
    // Verifying with a freshly generated key would only report every entry as edited.
    anyhow::ensure!(
        config.audit_key.is_some() || config.data_dir.join("audit_key").exists(),
        "no audit key: set PASAR_AUDIT_KEY or point PASAR_DATA_DIR at the directory holding audit_key"
    );
    let audit = startup::open_audit(config).await?;
    let verified = audit.verify().await;
    audit.close().await;
    match verified? {
        Ok(count) => {
            println!("audit chain OK: {count} entries verified");
            Ok(())
        }
        Err(broken) => {
            eprintln!("audit chain BROKEN at {broken}");
            std::process::exit(1);
        }
    }
}

async fn verify_ledger(config: &Config) -> anyhow::Result<()> {
    let db = startup::open_database(config).await?;
    let ledger = pasar::ledger::Ledger::new(db.clone(), Clock::system());
    let (verified, counted) = (ledger.verify().await, ledger.counts().await);
    db.close().await;
    let (violations, (accounts, transfers)) = (verified?, counted?);
    if violations.is_empty() {
        println!("ledger OK: {accounts} accounts and {transfers} transfers verified");
        return Ok(());
    }
    eprintln!("ledger BROKEN: {} violations", violations.len());
    for violation in &violations {
        eprintln!("  {violation}");
    }
    std::process::exit(1);
}

async fn set_telegram_webhook(config: &Config) -> anyhow::Result<()> {
    let token = config.telegram_bot_token.as_deref().context("PASAR_TELEGRAM_BOT_TOKEN is not set")?;
    let public_url = config.public_url.as_deref().context("PASAR_PUBLIC_URL is not set")?;
    anyhow::ensure!(
        public_url.starts_with("https://"),
        "Telegram delivers webhooks only to https URLs; PASAR_PUBLIC_URL is {public_url}"
    );
    let url = format!("{}/v1/webhooks/telegram", public_url.trim_end_matches('/'));
    let secret = config.telegram_webhook_secret()?;
    let api = pasar::telegram::BotApi::new(&config.telegram_api_url, token)?;
    api.set_webhook(&url, &secret).await?;
    println!("Telegram will deliver updates to {url}");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let app = Application::build(config, Clock::system()).await?;
    tracing::info!(addr = %app.local_addr(), backend = app.state().db.dialect().name(), "Pasar is serving");
    app.serve_until(startup::shutdown_signal()).await
}
