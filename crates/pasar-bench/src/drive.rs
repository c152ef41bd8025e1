//! The load: one task per concurrent buyer, each a loop bounded by the deadline and by a count,
//! recording every request's route, status and latency.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::Method;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::conn::{Connection, Reply, bearer};
use crate::seed::shipping_address;
use crate::stats::{Outcome, Sample};

/// What one buyer's loop did.
#[derive(Default)]
pub struct Worker {
    pub samples: Vec<Sample>,
    /// Units in checkouts answered 201.
    pub created_units: i64,
    /// Units in checkouts that got no clear answer (transport error, 5xx): they may or may not
    /// have been sold, so the oversell check allows for them.
    pub uncertain_units: i64,
    /// Whether the loop ended because the stock ran out rather than on time or count.
    pub sold_out: bool,
}

pub struct Load {
    pub samples: Vec<Sample>,
    pub window: Duration,
    pub created_units: i64,
    pub uncertain_units: i64,
    pub sold_out: bool,
    /// VmRSS of this process when the load started, in KiB, after handing the memory that
    /// seeding freed (argon2 hashing on many blocking threads) back to the system, so that it
    /// is the server's (and the load generator's) own.
    pub start_rss_kib: Option<u64>,
    /// Highest VmRSS of this process seen while the load ran, in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl Load {
    /// This load followed by `next` (a later phase of the same run): samples and units
    /// together, the windows added up, memory from the first start to the highest peak.
    pub fn then(mut self, next: Load) -> Load {
        self.samples.extend(next.samples);
        self.window += next.window;
        self.created_units += next.created_units;
        self.uncertain_units += next.uncertain_units;
        self.sold_out |= next.sold_out;
        self.peak_rss_kib = self.peak_rss_kib.max(next.peak_rss_kib);
        self
    }
}

/// Runs `workers` loops at once (each given its index) and gathers what they recorded. The
/// window runs from the start until the last loop ends.
pub async fn run<F, Fut>(workers: usize, worker: F) -> anyhow::Result<Load>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Worker> + Send + 'static,
{
    release_freed_memory();
    let start_rss_kib = proc_status_kib("VmRSS");
    let (stop_sampling, stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(sample_rss(stopped));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers).map(|i| tokio::spawn(worker(i))).collect();
    let mut load = Load {
        samples: Vec::new(),
        window: Duration::ZERO,
        created_units: 0,
        uncertain_units: 0,
        sold_out: false,
        start_rss_kib,
        peak_rss_kib: None,
    };
    for task in tasks {
        let done = task.await?;
        load.samples.extend(done.samples);
        load.created_units += done.created_units;
        load.uncertain_units += done.uncertain_units;
        load.sold_out |= done.sold_out;
    }
    load.window = started.elapsed();
    let _ = stop_sampling.send(());
    load.peak_rss_kib = sampler.await?;
    Ok(load)
}

/// Returns memory freed so far to the system: glibc's allocator otherwise keeps the arenas
/// seeding's argon2 hashes used (19 MiB each, on many threads), and the process's resident size
/// would say more about seeding than about the server.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live
    // allocation and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Samples VmRSS every 50 ms until told to stop, and returns the highest value seen.
async fn sample_rss(mut stop: tokio::sync::oneshot::Receiver<()>) -> Option<u64> {
    let mut peak = None;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = &mut stop => return peak,
            _ = tick.tick() => {
                if let Some(rss) = proc_status_kib("VmRSS") {
                    peak = Some(peak.map_or(rss, |p: u64| p.max(rss)));
                }
            }
        }
    }
}

/// A `kB` field of `/proc/self/status` (Linux only; `None` elsewhere).
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// One request's answer: its status and, for a 409, the error code.
enum Answer {
    Status(u16, Option<String>),
    Transport,
}

async fn send(
    connection: &mut Connection,
    method: Method,
    path: &str,
    token: Option<&HeaderValue>,
    json: Option<Bytes>,
) -> Answer {
    match connection.send(method, path, token, json).await {
        Reply::Status(status, body) => {
            let code = (status == 409)
                .then(|| serde_json::from_slice::<Value>(&body).ok())
                .flatten()
                .and_then(|error| error["error"]["code"].as_str().map(str::to_owned));
            Answer::Status(status, code)
        }
        Reply::Transport => Answer::Transport,
    }
}

/// What a checkout's answer means for the loop.
enum Checkout {
    Placed,
    OutOfStock,
    Failed { uncertain: bool },
}

async fn checkout(
    connection: &mut Connection,
    token: &HeaderValue,
    body: Bytes,
    route: &'static str,
    samples: &mut Vec<Sample>,
) -> Checkout {
    let started = Instant::now();
    let answer = send(connection, Method::POST, "/v1/checkout", Some(token), Some(body)).await;
    let elapsed = started.elapsed();
    let (status, result) = match answer {
        Answer::Status(201, _) => (Some(201), Checkout::Placed),
        Answer::Status(409, Some(code)) if code == "out_of_stock" => (Some(409), Checkout::OutOfStock),
        Answer::Status(status, _) => (Some(status), Checkout::Failed { uncertain: status >= 500 }),
        Answer::Transport => (None, Checkout::Failed { uncertain: true }),
    };
    let outcome = match result {
        Checkout::Placed => Outcome::Ok,
        Checkout::OutOfStock => Outcome::Refused,
        Checkout::Failed { .. } => Outcome::Error,
    };
    samples.push(Sample::new(route, status, outcome, elapsed));
    result
}

fn checkout_body(items: &[(&str, i64)], pay: &str) -> Bytes {
    let items: Vec<Value> = items.iter().map(|(v, q)| json!({"variant_id": v, "quantity": q})).collect();
    let body = json!({"items": items, "payment_method": pay, "shipping_address": shipping_address()});
    Bytes::from(body.to_string())
}

/// Flash sale: checks out one unit of `variant` again and again until it is sold out (the first
/// 409 `out_of_stock` ends the loop), the deadline passes, or `max_attempts` were made.
pub async fn flash_sale_buyer(
    server: SocketAddr,
    token: String,
    variant: String,
    pay: &'static str,
    deadline: Instant,
    max_attempts: usize,
) -> Worker {
    let body = checkout_body(&[(&variant, 1)], pay);
    let (mut connection, token) = (Connection::new(server), bearer(&token));
    let mut worker = Worker::default();
    for _ in 0..max_attempts {
        if Instant::now() >= deadline {
            break;
        }
        match checkout(&mut connection, &token, body.clone(), "checkout", &mut worker.samples).await {
            Checkout::Placed => worker.created_units += 1,
            Checkout::OutOfStock => {
                worker.sold_out = true;
                break;
            }
            Checkout::Failed { uncertain } => worker.uncertain_units += i64::from(uncertain),
        }
    }
    worker
}

/// Checkout spread: random carts of 1 to 3 distinct SKUs, one unit each. A sold-out SKU only
/// fails that cart; the loop goes on until the deadline or `max_attempts`.
pub async fn spread_buyer(
    server: SocketAddr,
    token: String,
    variants: std::sync::Arc<Vec<String>>,
    pay: &'static str,
    deadline: Instant,
    max_attempts: usize,
) -> Worker {
    let (mut connection, token) = (Connection::new(server), bearer(&token));
    let mut worker = Worker::default();
    for _ in 0..max_attempts {
        if Instant::now() >= deadline {
            break;
        }
        let (body, units) = {
            // Scoped so the thread-local generator is not held across the await below.
            let mut rng = rand::thread_rng();
            let lines = rand::Rng::gen_range(&mut rng, 1..=3).min(variants.len());
            let cart: Vec<(&str, i64)> =
                variants.choose_multiple(&mut rng, lines).map(|v| (v.as_str(), 1)).collect();
            (checkout_body(&cart, pay), i64::try_from(cart.len()).unwrap_or(0))
        };
        match checkout(&mut connection, &token, body, "checkout", &mut worker.samples).await {
            Checkout::Placed => worker.created_units += units,
            Checkout::OutOfStock => {}
            Checkout::Failed { uncertain } => {
                if uncertain {
                    worker.uncertain_units += units;
                }
            }
        }
    }
    worker
}

/// A plain GET whose only success is 200.
async fn get(
    connection: &mut Connection,
    path: &str,
    token: Option<&HeaderValue>,
    route: &'static str,
    samples: &mut Vec<Sample>,
) {
    let started = Instant::now();
    let answer = send(connection, Method::GET, path, token, None).await;
    let elapsed = started.elapsed();
    let sample = match answer {
        Answer::Status(200, _) => Sample::new(route, Some(200), Outcome::Ok, elapsed),
        Answer::Status(status, _) => Sample::new(route, Some(status), Outcome::Error, elapsed),
        Answer::Transport => Sample::new(route, None, Outcome::Error, elapsed),
    };
    samples.push(sample);
}

/// Plain reads: GETs of one of `paths` at random (with the buyer's token when given) until the
/// deadline or `max_attempts`, each recorded under `route`.
pub async fn reader(
    server: SocketAddr,
    token: Option<String>,
    paths: std::sync::Arc<Vec<String>>,
    route: &'static str,
    deadline: Instant,
    max_attempts: usize,
) -> Worker {
    let mut connection = Connection::new(server);
    let token = token.as_deref().map(bearer);
    let mut worker = Worker::default();
    for _ in 0..max_attempts {
        if Instant::now() >= deadline {
            break;
        }
        let path = paths.choose(&mut rand::thread_rng()).map_or("/", String::as_str);
        get(&mut connection, path, token.as_ref(), route, &mut worker.samples).await;
    }
    worker
}
