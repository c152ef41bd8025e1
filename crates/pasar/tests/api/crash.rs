//! Kill the server with SIGKILL at random moments during a checkout load, twenty times. After
//! each restart the stock invariants hold, and every order the server acknowledged (201) is in
//! the database with its outbox event.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::checkout::assert_invariants;
use crate::helpers::{SANDBOX_SECRET, TestApp, shipping_address, spawn_app};

const ROUNDS: usize = 20;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real `pasar` binary on the test's database, as a second instance beside the test's own.
fn start_binary(app: &TestApp, port: u16) -> tokio::process::Child {
    let config = &app.config;
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pasar"))
        .arg("serve")
        .env("PASAR_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", config.database_url())
        .env("PASAR_DATA_DIR", &config.data_dir)
        .env("PASAR_JWT_SECRET", config.jwt_secret.as_deref().unwrap())
        .env("PASAR_SANDBOX_WEBHOOK_SECRET", SANDBOX_SECRET)
        .env("PASAR_DIGITAL_ITEMS_KEY", config.digital_items_key.as_deref().unwrap())
        .env("PASAR_RATE_LIMIT_PER_MINUTE", "0")
        .env("PASAR_LOG_LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the pasar binary starts")
}

async fn wait_until_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/health")).send().await {
            if response.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the pasar binary did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_server_mid_checkout_loses_no_acknowledged_order_and_breaks_no_invariant() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let variants = app.product(&admin, "physical", &[10_000, 20_000, 30_000]).await;
    for variant in &variants {
        app.stock(&admin, variant, 100_000).await;
    }
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(app.register(&format!("crash{i}@example.com")).await.access_token);
    }
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261122);

    for _ in 0..ROUNDS {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = start_binary(&app, port);
        wait_until_healthy(&client, &base).await;

        let mut load = tokio::task::JoinSet::new();
        for (worker, token) in tokens.iter().enumerate() {
            let (client, base, token, acknowledged) =
                (client.clone(), base.clone(), token.clone(), acknowledged.clone());
            let variants = variants.clone();
            load.spawn(async move {
                for n in 0.. {
                    let items: Vec<Value> = variants
                        .iter()
                        .skip((worker + n) % variants.len())
                        .take(2)
                        .map(|v| json!({"variant_id": v, "quantity": 1}))
                        .collect();
                    let body = json!({"items": items, "payment_method": "sandbox", "shipping_address": shipping_address()});
                    let Ok(response) = client.post(format!("{base}/v1/checkout")).bearer_auth(&token).json(&body).send().await else {
                        return;
                    };
                    if response.status() == StatusCode::CREATED {
                        if let Ok(placed) = response.json::<Value>().await {
                            acknowledged.lock().unwrap().insert(placed["order"]["id"].as_str().unwrap().to_owned());
                        }
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..2000))).await;
        child.start_kill().expect("SIGKILL");
        child.wait().await.unwrap();
        load.join_all().await;
    }

    // Restarting the in-process instance runs the sweeper and resumes what was cut short.
    let app = app.restart_after(Duration::ZERO).await;
    app.sweep().await;
    assert_invariants(&app).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty(), "the load placed orders");
    for order in &acknowledged {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
        assert_eq!(stored, 1, "acknowledged order {order} is stored");
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'order.created' AND subject_id = $1",
        )
        .bind(order)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        assert_eq!(events, 1, "acknowledged order {order} has its event");
    }
    // Every stored order, acknowledged or not, is whole: lines, a payment, reservations.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)
            OR NOT EXISTS (SELECT 1 FROM payments p WHERE p.reference = o.id)
            OR NOT EXISTS (SELECT 1 FROM stock_reservations r WHERE r.holder = o.id)",
    )
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
}
