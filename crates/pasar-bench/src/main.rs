//! pasar-bench: starts Pasar in this process on a fresh SQLite or PostgreSQL database, seeds it
//! through the HTTP API, drives it over loopback HTTP with many concurrent buyers, checks the
//! stock and ledger invariants, and prints the figures; the last line is one JSON object.

mod conn;
mod drive;
mod invariants;
mod page;
mod pgbench;
mod search;
mod seed;
mod server;
mod stats;
mod vocabulary;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use pasar::config::LogFormat;
use pasar::time::Clock;
use serde_json::json;
use tokio::time::Instant;

use crate::drive::Load;
use crate::seed::{Api, PRICE};
use crate::server::Server;

/// Attempts one buyer's loop may make, whatever the deadline: the count bound of every loop.
const MAX_ATTEMPTS_PER_BUYER: usize = 1_000_000;
/// The analytics scenario's year: a demo-sized shop (its products, its buyers) selling every day.
const ANALYTICS_DAYS: usize = 365;
const ANALYTICS_ORDERS_PER_DAY: usize = 24;
const ANALYTICS_PRODUCTS: usize = 12;
const ANALYTICS_BUYERS: usize = 40;
/// Buyer accounts are shared by the loops beyond this many (each account costs an argon2 hash
/// to create and one to log in).
const MAX_ACCOUNTS: usize = 256;
/// Products of the catalog scenario.
const CATALOG_PRODUCTS: usize = 100;
/// Variants per product in checkout-spread (1,000 products x 10 for 10,000 SKUs).
const SPREAD_VARIANTS_PER_PRODUCT: usize = 10;

#[derive(Parser, Debug)]
#[command(
    name = "pasar-bench",
    about = "Load harness for Pasar: seeds a fresh database over HTTP, drives it with \
    concurrent buyers on loopback, and checks that nothing was oversold"
)]
struct Cli {
    #[arg(value_enum)]
    scenario: Scenario,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Concurrent buyer loops (accounts beyond 256 are shared).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    buyers: u32,
    /// Units of the flash-sale SKU; in checkout-spread, units of each SKU.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    stock: i64,
    /// Longest the load runs (flash-sale also stops when sold out).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// How checkouts pay: wallet (paid at once) or sandbox (left pending).
    #[arg(long, value_enum, default_value_t = Pay::Wallet)]
    pay: Pay,
    /// SKUs of checkout-spread (10 per product).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    skus: u32,
    /// Products of the search scenario.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    products: u32,
    /// Search on SQLite only: keep the data directory here after the run, and when it already
    /// holds an index of at least --products products (a kept run's), search it as it is
    /// instead of seeding again (seeding 100,000 products takes minutes).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// PostgreSQL admin URL: the bench creates its databases there and drops them at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    /// For testing the checker: after the run, reserve one more unit of one SKU behind the
    /// checker's back (by SQL), so the invariant check must fail and the exit code be non-zero.
    #[arg(long)]
    corrupt_stock: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    FlashSale,
    CheckoutSpread,
    Catalog,
    Search,
    Hello,
    /// The storefront at demo scale: the weight of the product page with what it loads, then
    /// the product pages under load (after the same run's health check).
    Page,
    /// A year of demo-scale trade replayed day by day (the server's clock set a year back), then
    /// the admin's analytics reports over that year.
    Analytics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Pay {
    Wallet,
    Sandbox,
}

fn name_of(value: impl ValueEnum) -> String {
    value.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
}

impl Pay {
    fn method(self) -> &'static str {
        match self {
            Pay::Wallet => "wallet",
            Pay::Sandbox => "sandbox",
        }
    }
}

impl Cli {
    /// The command line that repeats this run, every setting spelled out.
    fn reproduce(&self) -> String {
        let mut line = format!(
            "cargo run --release -p pasar-bench -- {} --backend {} --buyers {} --seconds {}",
            name_of(self.scenario),
            name_of(self.backend),
            self.buyers,
            self.seconds
        );
        if matches!(self.scenario, Scenario::FlashSale | Scenario::CheckoutSpread) {
            line.push_str(&format!(" --stock {} --pay {}", self.stock, name_of(self.pay)));
        }
        if self.scenario == Scenario::CheckoutSpread {
            line.push_str(&format!(" --skus {}", self.skus));
        }
        if self.scenario == Scenario::Search {
            line.push_str(&format!(" --products {}", self.products));
        }
        if let Some(dir) = &self.keep {
            line.push_str(&format!(" --keep {}", dir.display()));
        }
        if self.backend == Backend::Postgres {
            line.push_str(&format!(" --database-url {}", self.database_url));
        }
        if self.corrupt_stock {
            line.push_str(" --corrupt-stock");
        }
        line
    }
}

/// What a scenario seeded and what its load did.
struct Run {
    load: Load,
    /// Stock each seeded variant started with (0 for variants without stock).
    initial: HashMap<String, i64>,
    routes: &'static [&'static str],
    /// For a run of phases (catalog), each route's own window: then every route is summarised
    /// over its phase alone, the first is the same run's ceiling and the last the headline.
    phases: Vec<(&'static str, Duration)>,
    /// Units in checkouts answered 201 while seeding (the analytics scenario's year of orders).
    placed_while_seeding: i64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = pasar::telemetry::init("warn", LogFormat::Pretty) {
        eprintln!("warning: logging not set up: {err:#}");
    }
    match bench(&cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("pasar-bench failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bench; `Ok(false)` when an invariant broke.
async fn bench(cli: &Cli) -> anyhow::Result<bool> {
    if cli.keep.is_some() && (cli.scenario != Scenario::Search || cli.backend != Backend::Sqlite) {
        anyhow::bail!("--keep is for the search scenario on SQLite");
    }
    let clock = if cli.scenario == Scenario::Analytics {
        Clock::behind(Duration::from_secs(86_400 * (ANALYTICS_DAYS as u64 + 1)))
    } else {
        Clock::system()
    };
    let server = Server::start(cli.backend, &cli.database_url, cli.keep.as_deref(), clock).await?;
    let database_url = server.database_url.clone();
    let measured = measure(cli, &server).await;
    let (served, leftovers) = server.stop().await;
    let finished = async {
        let measured = measured?;
        served.context("stopping the server")?;
        if cli.backend == Backend::Postgres && cli.scenario == Scenario::FlashSale {
            hot_row(&database_url, measured.ops_per_s).await;
        }
        Ok::<_, anyhow::Error>(measured)
    }
    .await;
    leftovers.remove().await;
    let measured = finished?;
    if !measured.invariants_ok {
        eprintln!("INVARIANTS FAILED: see the violations above");
    }
    // Printed last, once the server has stopped, so no log line of its shutdown can follow it.
    println!("{}", measured.json);
    Ok(measured.invariants_ok)
}

/// pgbench's guarded single-row decrement on the same PostgreSQL server, run once Pasar has
/// stopped (its relay and sweeper would otherwise compete with pgbench for the cores).
async fn hot_row(database_url: &str, checkouts_per_s: f64) {
    match pgbench::hot_row(database_url).await {
        Ok(Some(baseline)) => println!(
            "hot row: flash-sale {checkouts_per_s:.1} checkouts/s vs pgbench {:.1} tps of a guarded single-row \
             UPDATE (ratio {:.3}); pgbench ran: {}",
            baseline.tps,
            checkouts_per_s / baseline.tps,
            baseline.command
        ),
        Ok(None) => {}
        Err(err) => println!("hot row: pgbench did not give a figure: {err:#}"),
    }
}

/// A run's outcome: the figures the summary line carries.
struct Measured {
    ops_per_s: f64,
    invariants_ok: bool,
    /// The one-line JSON summary, printed last.
    json: String,
}

async fn measure(cli: &Cli, server: &Server) -> anyhow::Result<Measured> {
    let scenario = name_of(cli.scenario);
    let backend = name_of(cli.backend);
    println!("pasar-bench {scenario} on {backend}: Pasar runs in this process at {}", server.address);
    println!("reproduce: {}", cli.reproduce());

    let api = Api::new(server.address.clone())?;
    let run = scenario_run(cli, &api, server).await?;
    println!(
        "run: {} concurrent buyers, {} requests in {:.2} s{}",
        cli.buyers,
        run.load.samples.len(),
        run.load.window.as_secs_f64(),
        if run.load.sold_out { " (sold out)" } else { "" }
    );

    let mut total = None;
    let mut ceiling: Option<f64> = None;
    for route in run.routes {
        let window = run.phases.iter().find(|(phase, _)| phase == route).map_or(run.load.window, |(_, w)| *w);
        let summary = stats::summarize(run.load.samples.iter().filter(|s| s.route == *route), window);
        print_summary(route, &summary);
        match ceiling {
            Some(ceiling) => {
                println!(
                    "{route}: {:.0}% of {}'s rate in this run",
                    100.0 * summary.ops_per_s / ceiling,
                    run.routes[0]
                );
            }
            None if !run.phases.is_empty() => ceiling = Some(summary.ops_per_s),
            None => {}
        }
        total = Some(summary);
    }
    if run.phases.is_empty() && run.routes.len() > 1 {
        let combined = stats::summarize(run.load.samples.iter(), run.load.window);
        print_summary("combined", &combined);
        total = Some(combined);
    }
    let total = total.context("a scenario has at least one route")?;
    let counts = stats::status_counts(&run.load.samples);
    let statuses: Vec<String> = counts.iter().map(|(status, n)| format!("{status}={n}")).collect();
    let server_errors: usize =
        counts.iter().filter(|(status, _)| status.starts_with('5')).map(|(_, n)| n).sum();
    println!(
        "statuses: {}; 5xx {}, transport errors {} (expected refusals {}, errors {})",
        statuses.join(" "),
        server_errors,
        counts.get("transport").copied().unwrap_or(0),
        total.refused,
        total.errors
    );
    let mib =
        |kib: Option<u64>| kib.map_or("unknown".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "memory (the server runs in this process, beside the load generator): RSS {} when the load started, \
         peak RSS {} during the load, process high-water mark (VmHWM, seeding included) {}",
        mib(run.load.start_rss_kib),
        mib(run.load.peak_rss_kib),
        mib(drive::proc_status_kib("VmHWM"))
    );

    if cli.corrupt_stock {
        let variant = invariants::corrupt_stock(&server.state).await?;
        println!("--corrupt-stock: reserved one more unit of {variant} by SQL; the check below must fail");
    }
    let report = invariants::check(
        &server.state,
        &run.initial,
        run.load.created_units + run.placed_while_seeding,
        run.load.uncertain_units,
    )
    .await?;
    for fact in &report.facts {
        println!("check: {fact}");
    }
    for violation in &report.violations {
        println!("VIOLATION: {violation}");
    }
    println!("invariants: {}", if report.ok() { "OK" } else { "FAILED" });

    let latency = total.latency;
    let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
    // Fields in the documented order (a `json!` map would sort them), each value encoded by serde.
    let fields = [
        ("scenario", json!(scenario)),
        ("backend", json!(backend)),
        ("ops_per_s", json!(round(total.ops_per_s, 1))),
        ("p50_ms", json!(latency.map(|l| round(l.p50, 3)))),
        ("p99_ms", json!(latency.map(|l| round(l.p99, 3)))),
        ("errors", json!(total.errors)),
        ("invariants_ok", json!(report.ok())),
    ];
    let json = fields.iter().map(|(key, value)| format!("\"{key}\":{value}")).collect::<Vec<_>>().join(",");
    Ok(Measured { ops_per_s: total.ops_per_s, invariants_ok: report.ok(), json: format!("{{{json}}}") })
}

fn print_summary(route: &str, summary: &stats::RouteSummary) {
    let latency = summary.latency.map_or("no successful request".into(), |l| {
        format!("p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms", l.p50, l.p95, l.p99, l.max)
    });
    println!("{route}: {} ok, {:.1} ok/s; latency of successes: {latency}", summary.ok, summary.ops_per_s);
}

/// Seeds what the scenario needs, then runs its load.
async fn scenario_run(cli: &Cli, api: &Api, server: &Server) -> anyhow::Result<Run> {
    let state = &server.state;
    let started = Instant::now();
    let buyers = cli.buyers as usize;
    let deadline = |from: Instant| from + Duration::from_secs(cli.seconds);
    let accounts = |count: usize| seed::buyers(api, state, count);
    let pay = cli.pay.method();
    match cli.scenario {
        Scenario::FlashSale => {
            let admin = seed::admin(api, state).await?;
            let product = seed::products(api, &admin, 1, 1).await?.remove(0);
            let variant = product.variants[0].clone();
            seed::stock(api, &admin, &product.variants, cli.stock).await?;
            let sessions = accounts(buyers.min(MAX_ACCOUNTS)).await?;
            if cli.pay == Pay::Wallet {
                // Enough for the whole stock: the fastest buyer may take far more than an even
                // share, and running dry would end its loop for the wrong reason.
                seed::fund(api, &admin, &sessions, cli.stock * PRICE).await?;
            }
            seeded(&started, &format!("1 SKU with {} units, {} buyer accounts", cli.stock, sessions.len()));
            let max_attempts = usize::try_from(cli.stock)?.saturating_add(1000).min(MAX_ATTEMPTS_PER_BUYER);
            let end = deadline(Instant::now());
            let load = drive::run(buyers, |i| {
                let token = sessions[i % sessions.len()].token.clone();
                drive::flash_sale_buyer(server.listening, token, variant.clone(), pay, end, max_attempts)
            })
            .await?;
            Ok(Run {
                load,
                initial: HashMap::from([(variant, cli.stock)]),
                routes: &["checkout"],
                phases: Vec::new(),
                placed_while_seeding: 0,
            })
        }
        Scenario::CheckoutSpread => {
            let skus = cli.skus as usize;
            let admin = seed::admin(api, state).await?;
            let per_product = SPREAD_VARIANTS_PER_PRODUCT.min(skus);
            let products = seed::products(api, &admin, skus.div_ceil(per_product), per_product).await?;
            let mut variants: Vec<String> = products.into_iter().flat_map(|p| p.variants).collect();
            variants.truncate(skus);
            seed::stock(api, &admin, &variants, cli.stock).await?;
            let sessions = accounts(buyers.min(MAX_ACCOUNTS)).await?;
            let total_units = cli.stock * i64::try_from(variants.len())?;
            if cli.pay == Pay::Wallet {
                // Enough to buy everything in stock: no cart is refused for the balance.
                seed::fund(api, &admin, &sessions, total_units * PRICE).await?;
            }
            seeded(
                &started,
                &format!(
                    "{} SKUs with {} units each, {} buyer accounts",
                    variants.len(),
                    cli.stock,
                    sessions.len()
                ),
            );
            let initial = variants.iter().map(|v| (v.clone(), cli.stock)).collect();
            let variants = Arc::new(variants);
            let end = deadline(Instant::now());
            let load = drive::run(buyers, |i| {
                let token = sessions[i % sessions.len()].token.clone();
                drive::spread_buyer(
                    server.listening,
                    token,
                    variants.clone(),
                    pay,
                    end,
                    MAX_ATTEMPTS_PER_BUYER,
                )
            })
            .await?;
            Ok(Run { load, initial, routes: &["checkout"], phases: Vec::new(), placed_while_seeding: 0 })
        }
        Scenario::Catalog => {
            let admin = seed::admin(api, state).await?;
            let products = seed::products(api, &admin, CATALOG_PRODUCTS, 1).await?;
            let sessions = accounts(buyers.min(MAX_ACCOUNTS)).await?;
            seeded(&started, &format!("{} products, {} buyer accounts", products.len(), sessions.len()));
            // The products have no stock; the check still covers whatever stock rows exist.
            let initial = products.iter().flat_map(|p| p.variants.iter().map(|v| (v.clone(), 0))).collect();
            let details: Vec<String> = products.iter().map(|p| format!("/v1/products/{}", p.slug)).collect();
            let tokens: Vec<String> = sessions.into_iter().map(|s| s.token).collect();
            // One phase per route, --buyers loops for --seconds each: the health check first, as
            // this run's ceiling of the HTTP stack, then each read alone; detail last, as the
            // summary line's figure.
            let phases = vec![
                ("health", vec!["/health".to_owned()], false),
                ("product list", vec!["/v1/products?limit=20".to_owned()], true),
                ("product detail", details, true),
            ];
            let (load, windows) = read_phases(server, buyers, cli.seconds, phases, |signed_in, i| {
                signed_in.then(|| tokens[i % tokens.len()].clone())
            })
            .await?;
            Ok(Run {
                load,
                initial,
                routes: &["health", "product list", "product detail"],
                phases: windows,
                placed_while_seeding: 0,
            })
        }
        Scenario::Search => {
            let products = cli.products as usize;
            let indexed = state.search.len();
            if indexed >= products as u64 {
                seeded(&started, &format!("nothing: the kept index already holds {indexed} products"));
            } else if indexed > 0 {
                anyhow::bail!(
                    "the kept directory holds {indexed} products, fewer than --products {products}: \
                     remove it to seed again"
                );
            } else {
                let indexing = search::catalog(state, products).await?;
                seeded(
                    &started,
                    &format!(
                        "{products} products through the catalog service, indexed by the outbox relay \
                         {:.1} s after the last write",
                        indexing.as_secs_f64()
                    ),
                );
            }
            // One phase per route, --buyers loops for --seconds each: the health check first (the
            // same run's hello route: the HTTP stack's ceiling), then suggestions, then search as
            // the summary line's figure.
            let phases = vec![
                ("health", vec!["/health".to_owned()], false),
                ("suggest", search::suggestions(500), false),
                ("search", search::queries(1_000), false),
            ];
            let (load, windows) = read_phases(server, buyers, cli.seconds, phases, |_, _| None).await?;
            Ok(Run {
                load,
                initial: HashMap::new(),
                routes: &["health", "suggest", "search"],
                phases: windows,
                placed_while_seeding: 0,
            })
        }
        Scenario::Analytics => {
            let admin = seed::admin(api, state).await?;
            let products = seed::products(api, &admin, ANALYTICS_PRODUCTS, 1).await?;
            let variants: Vec<String> = products.iter().map(|p| p.variants[0].clone()).collect();
            let orders = ANALYTICS_DAYS * ANALYTICS_ORDERS_PER_DAY;
            // At most three units of three products an order.
            seed::stock(api, &admin, &variants, i64::try_from(orders * 3)?).await?;
            // Every order is paid from the wallet at once, so what the checks count as sold is
            // what left the stock.
            let sessions = accounts(ANALYTICS_BUYERS).await?;
            let per_buyer = i64::try_from(orders.div_ceil(ANALYTICS_BUYERS) * 9)? * seed::PRICE;
            seed::fund(api, &admin, &sessions, per_buyer).await?;
            let year_from = state.clock.now();
            // The units of order `n`'s k-th line (its basket is built below from the same rule).
            let quantity = |n: usize, k: usize| 1 + (n + k) % 3;
            let placed: usize =
                (0..orders).map(|n| (0..1 + n % 3).map(|k| quantity(n, k)).sum::<usize>()).sum();
            for day in 0..ANALYTICS_DAYS {
                futures::stream::iter(0..ANALYTICS_ORDERS_PER_DAY)
                    .map(|i| {
                        let n = day * ANALYTICS_ORDERS_PER_DAY + i;
                        let buyer = &sessions[n % sessions.len()];
                        // A varied but repeatable basket: one to three products, one to three units.
                        let items: Vec<serde_json::Value> = (0..1 + n % 3)
                            .map(|k| {
                                let variant = &variants[(n * 7 + k * 5) % variants.len()];
                                serde_json::json!({"variant_id": variant, "quantity": quantity(n, k)})
                            })
                            .collect();
                        let body = serde_json::json!({"items": items, "payment_method": "wallet",
                                                      "shipping_address": seed::shipping_address()});
                        async move {
                            api.post("/v1/checkout", Some(&buyer.token), &body, reqwest::StatusCode::CREATED)
                                .await
                        }
                    })
                    .buffer_unordered(8)
                    .try_for_each(|_| async { Ok(()) })
                    .await?;
                state.clock.advance(Duration::from_secs(86_400));
            }
            while state.relay.backlog().await? > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seeded(
                &started,
                &format!(
                    "{orders} wallet orders of {ANALYTICS_PRODUCTS} products by {ANALYTICS_BUYERS} buyers, \
                     {ANALYTICS_ORDERS_PER_DAY} a day for {ANALYTICS_DAYS} days, counted by the outbox relay"
                ),
            );
            let year =
                format!("from={}&to={}&interval=day", year_from.to_rfc3339(), state.clock.now().to_rfc3339());
            let phases = ["sales", "orders", "customers", "payments", "products"]
                .into_iter()
                .map(|route| (route, vec![format!("/v1/admin/analytics/{route}?{year}")], true))
                .collect();
            let (load, windows) =
                read_phases(server, buyers, cli.seconds, phases, |_, _| Some(admin.token.clone())).await?;
            let units = i64::try_from(orders * 3)?;
            Ok(Run {
                load,
                initial: variants.iter().map(|v| (v.clone(), units)).collect(),
                routes: &["sales", "orders", "customers", "payments", "products"],
                phases: windows,
                placed_while_seeding: i64::try_from(placed)?,
            })
        }
        Scenario::Page => {
            let shop = pasar::demo::load(state).await?;
            seeded(&started, "the demo shop (pasar demo)");
            let pages: Vec<String> =
                shop.catalog.products.iter().map(|product| format!("/products/{}", product.slug)).collect();
            page::print_weight(&server.address, &pages[0]).await?;
            let phases = vec![("health", vec!["/health".to_owned()], false), ("product page", pages, false)];
            let (load, windows) = read_phases(server, buyers, cli.seconds, phases, |_, _| None).await?;
            // The demo stocks each variant itself: its physical ones with units, its digital one
            // with keys.
            let initial = shop
                .catalog
                .products
                .iter()
                .flat_map(|product| {
                    let stocked = match product.kind {
                        pasar::catalog::ProductKind::Digital => pasar::demo::DEMO_KEYS as i64,
                        _ => pasar::demo::DEMO_UNITS,
                    };
                    product.variants.iter().map(move |variant| (variant.id.to_string(), stocked))
                })
                .collect();
            Ok(Run {
                load,
                initial,
                routes: &["health", "product page"],
                phases: windows,
                placed_while_seeding: 0,
            })
        }
        Scenario::Hello => {
            seeded(&started, "nothing (GET /health needs no data)");
            let end = deadline(Instant::now());
            let paths = Arc::new(vec!["/health".to_owned()]);
            let load = drive::run(buyers, |_| {
                drive::reader(server.listening, None, paths.clone(), "health", end, MAX_ATTEMPTS_PER_BUYER)
            })
            .await?;
            Ok(Run {
                load,
                initial: HashMap::new(),
                routes: &["health"],
                phases: Vec::new(),
                placed_while_seeding: 0,
            })
        }
    }
}

/// Runs `phases` one after the other, `buyers` loops of GETs of the phase's paths for `seconds`
/// each; a phase whose flag is set reads with the token `token_of(flag, buyer)` gives. Returns
/// the whole load and each route's window.
async fn read_phases(
    server: &Server,
    buyers: usize,
    seconds: u64,
    phases: Vec<(&'static str, Vec<String>, bool)>,
    token_of: impl Fn(bool, usize) -> Option<String>,
) -> anyhow::Result<(Load, Vec<(&'static str, Duration)>)> {
    let mut load: Option<Load> = None;
    let mut windows = Vec::new();
    for (route, paths, flag) in phases {
        let paths = Arc::new(paths);
        let end = Instant::now() + Duration::from_secs(seconds);
        let phase = drive::run(buyers, |i| {
            drive::reader(
                server.listening,
                token_of(flag, i),
                paths.clone(),
                route,
                end,
                MAX_ATTEMPTS_PER_BUYER,
            )
        })
        .await?;
        windows.push((route, phase.window));
        load = Some(match load {
            Some(earlier) => earlier.then(phase),
            None => phase,
        });
    }
    Ok((load.context("a run has phases")?, windows))
}

fn seeded(started: &Instant, what: &str) {
    println!("seeded over HTTP in {:.1} s: {what}", started.elapsed().as_secs_f64());
}
