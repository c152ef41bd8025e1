use std::sync::Once;
use std::time::Duration;

use std::future::Future;
use std::path::Path;

use pasar::audit::AuditStore;
use pasar::config::{Config, LogFormat};
use pasar::db::Db;
use pasar::http::AppState;
use pasar::identity::{Email, Password, PersonName, Role};
use pasar::startup::Application;
use pasar::time::Clock;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";
pub const AUDIT_KEY: &str = "test-audit-key-test-audit-key-test-audit-key";
/// The sandbox gateway's webhook secret in tests, so tests can sign webhooks of their own.
pub const SANDBOX_SECRET: &str = "whsec_sandbox_test_secret_0123456789";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub state: AppState,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    database: Option<TestDatabase>,
    data_dir: Option<tempfile::TempDir>,
}

/// The databases a test runs on (the main one and the audit store's); PostgreSQL ones are
/// dropped when the test ends.
enum TestDatabase {
    Sqlite,
    Postgres { admin_url: String, names: Vec<String> },
}

impl TestDatabase {
    /// URLs of a fresh main database (migrated) and a fresh, empty audit database: SQLite files
    /// in `dir`, or two new databases on the PostgreSQL server of `PASAR_TEST_DATABASE_URL`, so
    /// that the PostgreSQL run covers the audit store on PostgreSQL too.
    async fn create(dir: &Path) -> (Self, String, String) {
        match std::env::var("PASAR_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = postgres_database(&admin_url).await;
                let audit = format!("{name}_audit");
                pasar::db::install_drivers();
                let mut admin =
                    sqlx::AnyConnection::connect(&admin_url).await.expect("connecting to PostgreSQL");
                admin.execute(format!("CREATE DATABASE {audit}").as_str()).await.unwrap();
                admin.close().await.unwrap();
                let urls = (with_database(&admin_url, &name), with_database(&admin_url, &audit));
                (TestDatabase::Postgres { admin_url, names: vec![name, audit] }, urls.0, urls.1)
            }
            _ => (
                TestDatabase::Sqlite,
                format!("sqlite://{}?mode=rwc", dir.join("pasar.db").display()),
                format!("sqlite://{}?mode=rwc", dir.join("audit.db").display()),
            ),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, names } = self {
            let (admin_url, names) = (admin_url.clone(), names.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on; use a thread.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    pasar::db::install_drivers();
                    if let Ok(mut admin) = sqlx::AnyConnection::connect(&admin_url).await {
                        for name in names {
                            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = admin.execute(drop.as_str()).await;
                        }
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server with the test defaults, adjusted by `configure`. Rate limits are off
/// unless a test turns them on.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let (database, database_url, audit_database_url) = TestDatabase::create(data_dir.path()).await;
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(database_url),
        database_max_connections: 8,
        jwt_secret: Some("test-secret-test-secret-test-secret".into()),
        rate_limit_per_minute: 0,
        login_attempts_per_account: 0,
        login_attempts_per_ip: 0,
        log_format: LogFormat::Pretty,
        audit_database_url: Some(audit_database_url),
        audit_key: Some(AUDIT_KEY.into()),
        relay_poll_ms: 25,
        search_in_memory: true,
        sandbox_webhook_secret: Some(SANDBOX_SECRET.into()),
        digital_items_key: Some("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into()),
        ..Config::default()
    };
    configure(&mut config);
    start(config, Clock::system(), database, data_dir).await
}

async fn start(config: Config, clock: Clock, database: TestDatabase, data_dir: tempfile::TempDir) -> TestApp {
    let mut app = serve(config, clock).await;
    app.database = Some(database);
    app.data_dir = Some(data_dir);
    app
}

/// A server on `config`; the caller says who owns its databases and data directory.
async fn serve(config: Config, clock: Clock) -> TestApp {
    let app = Application::build(config.clone(), clock.clone()).await.expect("the application builds");
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(async {
        let _ = stop.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        clock,
        state,
        config,
        shutdown: Some(shutdown),
        server: Some(server),
        database: None,
        data_dir: None,
    }
}

/// With `TEST_LOG` (a filter), logs go to stderr, pretty; without, every server of this test
/// process logs at `info` as JSON into memory, for the tests about what is logged.
fn init_logs() {
    static LOGS: Once = Once::new();
    LOGS.call_once(|| {
        if let Ok(level) = std::env::var("TEST_LOG") {
            let _ = pasar::telemetry::init(&level, LogFormat::Pretty);
        } else {
            let _ = pasar::telemetry::init_with("info", LogFormat::Auto, || CapturedLogs, false);
        }
    });
}

static CAPTURED_LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Appends each log line to [`CAPTURED_LOGS`] (the logger writes a line in one call).
struct CapturedLogs;

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED_LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON log lines of requests carrying `request_id`, or None when `TEST_LOG` sends logs to
/// stderr instead.
pub fn logged_for(request_id: &str) -> Option<Vec<Value>> {
    if std::env::var("TEST_LOG").is_ok() {
        return None;
    }
    let captured = CAPTURED_LOGS.lock().unwrap();
    let lines = captured.split(|&b| b == b'\n').filter_map(|line| serde_json::from_slice::<Value>(line).ok());
    Some(lines.filter(|line| line["span"]["request_id"] == request_id).collect())
}

/// A fresh database copied from a migrated template. The template is named after the schema
/// history, so it is built once per set of migrations, under a lock, by whichever test gets
/// there first (tests may run in several processes).
async fn postgres_database(admin_url: &str) -> String {
    pasar::db::install_drivers();
    let mut admin =
        sqlx::AnyConnection::connect(admin_url).await.expect("connecting to PASAR_TEST_DATABASE_URL");
    let template = format!("pasar_tpl_{}", pasar::db::schema_fingerprint(&pasar::startup::migrations()));
    admin.execute("SELECT pg_advisory_lock(727365727)").await.unwrap();
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut admin)
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin.execute(format!("DROP DATABASE IF EXISTS {building}").as_str()).await.unwrap();
        admin.execute(format!("CREATE DATABASE {building}").as_str()).await.unwrap();
        let db = pasar::db::Db::connect(&with_database(admin_url, &building), 2).await.unwrap();
        pasar::db::migrate(&db, pasar::startup::migrations()).await.expect("migrating the template database");
        db.close().await;
        admin.execute(format!("ALTER DATABASE {building} RENAME TO {template}").as_str()).await.unwrap();
    }
    admin.execute("SELECT pg_advisory_unlock(727365727)").await.unwrap();
    let name = format!("pasar_test_{}", uuid::Uuid::now_v7().simple());
    admin.execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str()).await.unwrap();
    admin.close().await.unwrap();
    name
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

impl TestApp {
    /// Stops the server, lets `downtime` pass on its clock, and starts it again on the same
    /// databases, as an operator restarting Pasar would.
    pub async fn restart_after(mut self, downtime: Duration) -> TestApp {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends").expect("the server stops cleanly");
        }
        self.clock.advance(downtime);
        let (database, data_dir) = (self.database.take().unwrap(), self.data_dir.take().unwrap());
        start(self.config.clone(), self.clock.clone(), database, data_dir).await
    }
}

impl TestApp {
    /// A second Pasar process on the same databases and data directory, as an operator
    /// running two instances behind a load balancer would have. The first one owns the
    /// databases.
    pub async fn another_instance(&self) -> TestApp {
        serve(self.config.clone(), self.clock.clone()).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The server stops first; the databases are dropped after, with the `database` field.
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A user of the API with a live session.
pub struct Session {
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, self.url(path)).timeout(Duration::from_secs(30));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token).send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token).json(body).send().await.expect("request sent")
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PUT, path, token).json(body).send().await.expect("request sent")
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PATCH, path, token).json(body).send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token).send().await.expect("request sent")
    }

    /// Sends raw bytes as the body of a POST with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
        self.request(Method::POST, path, None)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, email: &str) -> Session {
        let response = self
            .post(
                "/v1/auth/register",
                None,
                &json!({"email": email, "password": PASSWORD, "name": "Test Buyer"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "registering {email}");
        session_of(response.json().await.unwrap())
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/v1/auth/login", None, &json!({"email": email, "password": password})).await
    }

    /// An account with `role`, created the way an operator would (`pasar admin create-user`),
    /// then logged in.
    pub async fn user_with_role(&self, email: &str, role: Role) -> Session {
        self.state
            .identity
            .create_user(
                Email::parse(email).unwrap(),
                Password::parse(PASSWORD.into()).unwrap(),
                PersonName::parse("Staff Member").unwrap(),
                role,
            )
            .await
            .expect("creating a user");
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        session_of(response.json().await.unwrap())
    }
}

pub fn session_of(body: Value) -> Session {
    Session {
        id: body["user"]["id"].as_str().expect("user.id").to_owned(),
        access_token: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

/// Asserts the status and the error envelope's code, and returns the envelope.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let body: Value = response.json().await.expect("an error envelope in JSON");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "error message in {body}");
    body
}

/// Storage without a server, for driving the relay and the audit store directly: a migrated
/// main database, an audit store of its own, and a clock the test moves. No background relay
/// runs on it, so a test decides exactly when each round happens.
pub struct Stores {
    pub config: Config,
    pub db: Db,
    pub audit: AuditStore,
    pub clock: Clock,
    _data_dir: tempfile::TempDir,
    _database: TestDatabase,
}

pub async fn stores() -> Stores {
    init_logs();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let (database, database_url, audit_database_url) = TestDatabase::create(data_dir.path()).await;
    let config = Config {
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(database_url),
        database_max_connections: 4,
        audit_database_url: Some(audit_database_url),
        audit_key: Some(AUDIT_KEY.into()),
        ..Config::default()
    };
    let db = pasar::startup::open_database(&config).await.expect("the database opens");
    let clock = Clock::system();
    let audit = AuditStore::open(&config, clock.clone()).await.expect("the audit store opens");
    Stores { config, db, audit, clock, _data_dir: data_dir, _database: database }
}

/// Polls `check` until it gives a value, for at most ten seconds; background work (the relay,
/// the webhook sender) is awaited this way, never by sleeping a fixed time and hoping.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A shop to buy from: an admin, and helpers that stock it through the admin API.
impl TestApp {
    pub async fn admin(&self) -> Session {
        self.user_with_role(&format!("admin-{}@shop.test", uuid::Uuid::now_v7().simple()), Role::SuperAdmin)
            .await
    }

    /// An active product of `kind` with one variant per price (IDR); returns the variant ids.
    pub async fn product(&self, admin: &Session, kind: &str, prices: &[i64]) -> Vec<String> {
        let token = Some(admin.access_token.as_str());
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let category =
            self.post("/v1/admin/categories", token, &json!({"name": format!("Category {suffix}")})).await;
        assert_eq!(category.status(), StatusCode::CREATED, "creating a category");
        let category: Value = category.json().await.unwrap();
        let variants: Vec<Value> = prices
            .iter()
            .enumerate()
            .map(|(i, price)| {
                json!({"sku": format!("SKU-{}-{i}", &suffix[20..]), "options": {"size": format!("S{i}")},
                       "price": {"amount": price, "currency": "IDR"}})
            })
            .collect();
        let body = json!({
            "name": format!("Product {suffix}"), "description": "A thing to buy", "kind": kind,
            "status": "active", "category_id": category["id"], "variants": variants,
        });
        let created = self.post("/v1/admin/products", token, &body).await;
        assert_eq!(created.status(), StatusCode::CREATED, "creating a product");
        let created: Value = created.json().await.unwrap();
        created["variants"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
    }

    pub async fn stock(&self, admin: &Session, variant: &str, delta: i64) -> Value {
        let response = self
            .post(
                &format!("/v1/admin/variants/{variant}/stock/adjust"),
                Some(&admin.access_token),
                &json!({"delta": delta, "reason": "delivery"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "adjusting stock");
        response.json().await.unwrap()
    }

    pub async fn stock_level(&self, admin: &Session, variant: &str) -> Value {
        let response =
            self.get(&format!("/v1/admin/variants/{variant}/stock"), Some(&admin.access_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// What the ledger shows posted to account `code` (credits less debits), if it exists.
    pub async fn posted(&self, admin: &Session, code: &str) -> Option<i64> {
        let response = self.get("/v1/admin/ledger/balances", Some(&admin.access_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let books: Value = response.json().await.unwrap();
        books["accounts"]
            .as_array()?
            .iter()
            .find(|a| a["code"] == code)
            .map(|a| a["posted"].as_i64().unwrap())
    }

    /// Checks out `items` (variant, quantity) with the sandbox, shipping to a test address.
    pub async fn checkout(&self, token: &str, items: &[(&str, i64)]) -> Response {
        let items: Vec<Value> = items.iter().map(|(v, q)| json!({"variant_id": v, "quantity": q})).collect();
        self.post(
            "/v1/checkout",
            Some(token),
            &json!({"items": items, "payment_method": "sandbox",
            "shipping_address": shipping_address()}),
        )
        .await
    }

    /// Presses a button on the sandbox's hosted page, as the buyer would.
    pub async fn press(&self, payment_id: &str, button: &str) -> Response {
        self.request(Method::POST, &format!("/sandbox/pay/{payment_id}/{button}"), None).send().await.unwrap()
    }

    /// Waits until the relay has handed every event written so far to its subscribers (the
    /// search indexer, notifications, ...): what they do about those events is done.
    pub async fn relayed(&self) {
        eventually("the outbox to be relayed", || async {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox_events WHERE published_at IS NULL")
                .fetch_one(self.state.db.reader())
                .await
                .unwrap();
            (sqlx::Row::get::<i64, _>(&row, "n") == 0).then_some(())
        })
        .await;
    }

    /// Polls an order until it reaches `status` (bounded: 10 s), and returns it.
    pub async fn wait_for_order(&self, token: &str, order_id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let order: Value =
                self.get(&format!("/v1/orders/{order_id}"), Some(token)).await.json().await.unwrap();
            if order["status"] == status {
                return order;
            }
            assert!(std::time::Instant::now() < deadline, "order never became {status}: {order}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the checkout sweeper once, as the background task does every second.
    pub async fn sweep(&self) -> (usize, usize, usize) {
        pasar::checkout::sweeper::sweep(&self.state.checkout, &self.state.wallet).await.expect("a sweep")
    }
}

pub fn shipping_address() -> Value {
    json!({"name": "Ana", "phone": "+62 812 3456 7890", "line1": "Jl. Merdeka 1", "city": "Jakarta",
           "postal_code": "10110", "country": "ID"})
}
