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
    /// Address the HTTP server listens on: `ip:port`, or `host:port` with a host name that is
    /// resolved when the configuration is read (`localhost:8080`).
    #[serde(deserialize_with = "socket_address")]
    pub addr: SocketAddr,
    /// Directory for the SQLite files and the generated JWT secret.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means `sqlite://{data_dir}/pasar.db`.
    pub database_url: Option<String>,
    /// Most connections the pool opens (PostgreSQL) or readers it keeps (SQLite).
    pub database_max_connections: u32,
    /// HMAC key for access tokens; generated and kept in `{data_dir}/jwt_secret` when unset.
    pub jwt_secret: Option<String>,
    /// How long an access token lives, in seconds; also written like `15m` or `1h`.
    #[serde(deserialize_with = "duration_secs")]
    pub access_token_ttl: u64,
    /// How long a refresh token lives (a session lasts this long unused), in seconds; also
    /// written like `7d` or `24h`.
    #[serde(deserialize_with = "duration_secs")]
    pub refresh_token_ttl: u64,
    /// Requests per minute one client IP may make; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests per minute one IP may make to the gateway webhook routes (`/v1/webhooks/…`),
    /// counted apart from buyers' requests: a gateway retrying from one address must not be
    /// throttled into giving up. 0 turns the limit off.
    pub webhook_rate_limit_per_minute: u32,
    /// Login attempts one account may make per 15 minutes; 0 turns the limit off.
    pub login_attempts_per_account: u32,
    /// Login attempts one IP may make per minute; 0 turns the limit off.
    pub login_attempts_per_ip: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you trust).
    pub trust_forwarded_for: bool,
    /// Client IPs and CIDR blocks (comma separated, such as `10.0.0.0/8, 203.0.113.7`) that may
    /// reach the admin pages (`/admin`) and the admin API (`/v1/admin/…`); anyone else gets a
    /// 403. The client IP is the one rate limits use (`trust_forwarded_for`). Empty lets every
    /// address in.
    pub admin_allow_ips: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may run before it is answered with 504.
    pub request_timeout_secs: u64,
    /// Origins allowed by CORS, comma separated; `*` allows any; empty sends no CORS headers.
    pub cors_origins: String,
    /// Seconds a buyer has to pay before the order expires and its stock is released.
    pub payment_ttl: u64,
    /// Most checkouts written in one batch transaction; 1 writes each checkout alone.
    pub checkout_batch_size: usize,
    /// The currency wallets hold (ISO 4217).
    pub currency: String,
    /// The shop's time zone (an IANA name such as `Asia/Tokyo`): delivery slots, their
    /// cut-offs and closed dates are in its local time.
    pub shop_timezone: String,
    /// Minor units spent per loyalty point earned (1000: one point per Rp 1,000).
    pub points_earn_per_minor: i64,
    /// What one point is worth at checkout, in minor units.
    pub points_value_minor: i64,
    /// The largest share of an order points may pay, in percent.
    pub points_max_share_percent: i64,
    /// The platform's commission on marketplace sales, in basis points (1000 = 10%), for
    /// stores without a rate of their own.
    pub commission_bps: u32,
    /// Days a seller's share of a delivered order is held (for refunds) before it can be
    /// withdrawn.
    pub payable_hold_days: u64,
    /// Chat messages one user may send per minute (over REST and the socket together, counted
    /// per instance); 0 turns the limit off.
    pub chat_messages_per_minute: u32,
    /// How often reconciliation asks the gateways about pending payments and payouts.
    pub reconcile_interval_secs: u64,
    /// How old a pending payment or payout must be before reconciliation asks about it.
    pub reconcile_grace_secs: u64,
    /// The URL buyers and gateways reach this server at (hosted pay pages, webhook targets);
    /// unset means `http://{addr}`.
    pub public_url: Option<String>,
    /// Key sealing digital items at rest (64 hex characters); generated into the data directory
    /// when unset. Losing it makes stored items unreadable.
    pub digital_items_key: Option<String>,
    /// The built-in sandbox gateway's webhook signing secret; generated when unset.
    pub sandbox_webhook_secret: Option<String>,
    /// Offer the built-in sandbox gateway, whose pay and payout buttons need no login (so on a
    /// public server anyone could mark their own deposit paid). Unset: on while no real payment
    /// provider is configured.
    pub sandbox: Option<bool>,
    /// Which provider serves a payment method, where several could: `method=provider` pairs
    /// separated by commas, such as `konbini=komoju`. Unnamed methods go to the first
    /// configured provider that offers them in the payment's currency.
    pub payment_methods: String,
    /// Pakasir's project slug; Pakasir is on when this and `pakasir_api_key` are both set.
    pub pakasir_project: Option<String>,
    /// Pakasir's API key (sent in request bodies and the detail query; never logged).
    pub pakasir_api_key: Option<String>,
    /// Where Pakasir's API is.
    pub pakasir_base_url: String,
    /// The flat fee in rupiah shown before paying with a Pakasir virtual account (Pakasir
    /// publishes no fee table).
    pub pakasir_va_fee: i64,
    /// Longest a call to Pakasir may take, in seconds (kept under the request timeout, so a
    /// checkout whose create timed out still answers and releases its order).
    pub pakasir_timeout_secs: u64,
    /// Stripe's secret API key (`sk_…`); Stripe is offered when this and its webhook secret are set.
    pub stripe_secret_key: Option<String>,
    /// The signing secret (`whsec_…`) of the Stripe webhook endpoint `{public_url}/v1/webhooks/stripe`.
    pub stripe_webhook_secret: Option<String>,
    /// Where Stripe's API is (a local fake in tests).
    pub stripe_base_url: String,
    /// Days a konbini slip stays payable (1–60), when Pasar's payment deadline allows that long.
    pub stripe_konbini_expires_after_days: u32,
    /// KOMOJU's secret API key; KOMOJU (konbini, JPY) is offered when this and its webhook secret are set.
    pub komoju_secret_key: Option<String>,
    /// The secret token of the KOMOJU webhook `{public_url}/v1/webhooks/komoju` (signs `X-Komoju-Signature`).
    pub komoju_webhook_secret: Option<String>,
    /// Where KOMOJU's API is (a local fake in tests).
    pub komoju_base_url: String,
    /// The convenience store chain a KOMOJU konbini slip is made for (KOMOJU needs it at creation).
    pub komoju_konbini_store: String,
    /// CHIP's secret key (`Authorization: Bearer`); CHIP (method `hosted`, MYR) is offered when
    /// this and `chip_brand_id` are both set.
    pub chip_secret_key: Option<String>,
    /// CHIP's brand id (a UUID), sent with every purchase and payout.
    pub chip_brand_id: Option<String>,
    /// Where CHIP's API is (a local fake in tests).
    pub chip_base_url: String,
    /// The PEM public key CHIP signs webhooks with; unset means `GET {chip_base_url}/public_key/`.
    pub chip_public_key: Option<String>,
    /// Revio's secret key; Revio (method `hosted`, ZAR) is offered when this and
    /// `revio_brand_id` are both set. Revio is the same gateway API as CHIP.
    pub revio_secret_key: Option<String>,
    pub revio_brand_id: Option<String>,
    pub revio_base_url: String,
    /// The PEM public key Revio signs webhooks with; unset means `GET {revio_base_url}/public_key/`.
    pub revio_public_key: Option<String>,
    /// Biteship's API key (sent as `Authorization`); booking couriers and tracking are on when set.
    pub biteship_api_key: Option<String>,
    /// Where Biteship's API is (a local fake in tests).
    pub biteship_url: String,
    /// The header Biteship's dashboard sends with each webhook (its "signature key")…
    pub biteship_webhook_header: String,
    /// …and that header's value (its "signature secret"); webhooks are refused while unset.
    pub biteship_webhook_secret: Option<String>,
    /// The couriers asked for rates, comma-separated Biteship codes.
    pub biteship_couriers: String,
    /// Longest a call to Biteship may take, in seconds.
    pub biteship_timeout_secs: u64,
    /// How long a shipment still moving may go without news before Biteship is asked, in seconds.
    pub biteship_poll_secs: u64,
    /// Where couriers pick parcels up, unless a booking names another place: the shop's contact
    /// name, phone, street address and postal code (all four, or none).
    pub shipping_origin_name: Option<String>,
    pub shipping_origin_phone: Option<String>,
    pub shipping_origin_address: Option<String>,
    pub shipping_origin_postal_code: Option<String>,
    /// `tracing` filter, such as `info` or `pasar=debug,info`.
    pub log_level: String,
    pub log_format: LogFormat,
    /// Directory for uploaded product images; unset means `{data_dir}/media`.
    pub media_dir: Option<PathBuf>,
    /// Largest product image accepted, in bytes.
    pub media_max_bytes: usize,
    /// S3 bucket for product images instead of the media directory (needs the `s3` build
    /// feature; credentials come from the standard `AWS_*` environment variables).
    pub media_s3_bucket: Option<String>,
    /// Region of the S3 bucket.
    pub media_s3_region: Option<String>,
    /// Endpoint of an S3-compatible store other than AWS, such as `http://127.0.0.1:9000`.
    pub media_s3_endpoint: Option<String>,
    /// The audit store's own database, `sqlite://…` or `postgres://…` (also read from
    /// `AUDIT_DATABASE_URL`); unset means `sqlite://{data_dir}/audit.db`.
    pub audit_database_url: Option<String>,
    /// HMAC key of the audit chain, at least 32 characters; generated and kept in
    /// `{data_dir}/audit_key` when unset. Kept outside the audit database on purpose.
    pub audit_key: Option<String>,
    /// `redis://…` (also read from `REDIS_URL`): shared state for several instances. Today it
    /// holds the Telegram bot's conversations and per-user action limits; unset keeps them in
    /// the database and in-process.
    pub redis_url: Option<String>,
    /// Put before every key Pasar writes to Redis, so shops (or tests) can share one server.
    pub redis_key_prefix: String,
    /// How often the outbox relay and the webhook sender look for work when idle, in ms.
    pub relay_poll_ms: u64,
    /// How long a live session's check is reused from memory, in ms; 0 reads it every time.
    /// This instance forgets a session at once when it ends it or changes its user's role;
    /// another instance sharing the database notices within this time.
    pub session_cache_ms: u64,
    /// How long a public catalog answer is served from memory, in ms; 0 computes every one.
    /// This instance drops its answers at once on its own catalog writes; another instance's
    /// writes show here within this time.
    pub catalog_cache_ms: u64,
    /// Show shoppers how many units (or digital keys) each variant has left; `false` shows only
    /// whether it is in stock, low or out.
    pub stock_show_counts: bool,
    /// Keep this instance's search index in memory instead of `{data_dir}/search` (it is
    /// rebuilt from the catalog on every start then; tests use it).
    pub search_in_memory: bool,
    /// Attempts at delivering one event to one webhook endpoint before it is dead-lettered.
    pub webhook_max_attempts: u32,
    /// Allow webhook endpoints on http and on private, loopback or link-local addresses
    /// (local development and tests only: it turns the SSRF guard off).
    pub webhooks_allow_private: bool,
    /// The Telegram bot's token from @BotFather; setting it turns the Telegram storefront on.
    pub telegram_bot_token: Option<String>,
    /// How updates arrive: `webhook` (Telegram POSTs them to `/v1/webhooks/telegram`) or
    /// `polling` (Pasar long-polls `getUpdates`, for a laptop). Unset: webhook when
    /// `public_url` is https, else polling.
    pub telegram_mode: Option<TelegramMode>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every webhook
    /// (32 to 256 of `A-Z a-z 0-9 _ -`); generated into the data directory when unset.
    pub telegram_webhook_secret: Option<String>,
    /// Where the Bot API is (a local fake in tests, or a self-hosted Bot API server).
    pub telegram_api_url: String,
    /// Telegram user ids allowed to run admin commands, besides linked admin accounts:
    /// comma separated.
    #[serde(deserialize_with = "telegram_ids")]
    pub telegram_admin_ids: Vec<i64>,
    /// How often a QRIS message's countdown is edited in place, in seconds.
    pub telegram_countdown_secs: u64,
    /// Messages and button presses one Telegram user may send per minute; 0 turns the limit off.
    pub telegram_actions_per_minute: u32,
    /// The server's VAPID private key (P-256, 32 bytes in base64url, as `pasar push-keys`
    /// prints it); setting it turns Web Push on.
    pub vapid_private_key: Option<String>,
    /// Who push services may contact about this server's pushes (`mailto:…` or `https://…`);
    /// unset: `public_url`.
    pub vapid_subject: Option<String>,
    // ---- notifications: each channel is off until configured (in-app is always on) ----
    /// SMTP server for email: `smtp://host:port` (plain, a local server) or
    /// `smtps://user:pass@host` (TLS). Chosen over SendGrid when both are set.
    pub smtp_url: Option<String>,
    /// The sender of every email: `Shop <no-reply@example.com>`.
    pub email_from: String,
    /// A SendGrid API key (`SG.…`): email through SendGrid's v3 Mail Send API.
    pub sendgrid_api_key: Option<String>,
    /// Where SendGrid's API is (a local fake in tests).
    pub sendgrid_url: String,
    /// Without SMTP or SendGrid, emails are written as `.eml` files here; unset means
    /// `{data_dir}/mail`.
    pub mail_dir: Option<PathBuf>,
    /// Twilio's account SID, auth token and sending number: SMS to users with a phone.
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<String>,
    pub twilio_from: Option<String>,
    /// Where Twilio's API is (a local fake in tests).
    pub twilio_url: String,
}

/// How the Telegram bot receives updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    Webhook,
    Polling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty when the logs go to a terminal, JSON otherwise.
    Auto,
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
            access_token_ttl: crate::identity::credentials::ACCESS_TOKEN_TTL.as_secs(),
            refresh_token_ttl: crate::identity::credentials::REFRESH_TOKEN_TTL.as_secs(),
            rate_limit_per_minute: 100,
            webhook_rate_limit_per_minute: 6000,
            login_attempts_per_account: 10,
            login_attempts_per_ip: 30,
            trust_forwarded_for: false,
            admin_allow_ips: String::new(),
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            cors_origins: String::new(),
            payment_ttl: 600,
            checkout_batch_size: 256,
            currency: "IDR".into(),
            shop_timezone: "Asia/Jakarta".into(),
            points_earn_per_minor: 1_000,
            points_value_minor: 1,
            points_max_share_percent: 50,
            commission_bps: 1000,
            payable_hold_days: 7,
            chat_messages_per_minute: 30,
            reconcile_interval_secs: 900,
            reconcile_grace_secs: 300,
            public_url: None,
            digital_items_key: None,
            sandbox_webhook_secret: None,
            sandbox: None,
            payment_methods: String::new(),
            pakasir_project: None,
            pakasir_api_key: None,
            pakasir_base_url: "https://app.pakasir.com".into(),
            pakasir_va_fee: 4_000,
            pakasir_timeout_secs: 15,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_base_url: "https://api.stripe.com".into(),
            stripe_konbini_expires_after_days: 3,
            komoju_secret_key: None,
            komoju_webhook_secret: None,
            komoju_base_url: "https://komoju.com/api/v1".into(),
            komoju_konbini_store: "lawson".into(),
            chip_secret_key: None,
            chip_brand_id: None,
            chip_base_url: "https://gate.chip-in.asia/api/v1".into(),
            chip_public_key: None,
            revio_secret_key: None,
            revio_brand_id: None,
            revio_base_url: "https://gate.reviopay.com/api/v1".into(),
            biteship_api_key: None,
            biteship_url: "https://api.biteship.com".into(),
            biteship_webhook_header: "X-Biteship-Secret".into(),
            biteship_webhook_secret: None,
            biteship_couriers: "jne,sicepat,jnt,anteraja,pos".into(),
            biteship_timeout_secs: 15,
            biteship_poll_secs: 1800,
            shipping_origin_name: None,
            shipping_origin_phone: None,
            shipping_origin_address: None,
            shipping_origin_postal_code: None,
            revio_public_key: None,
            log_level: "info".into(),
            log_format: LogFormat::Auto,
            media_dir: None,
            media_max_bytes: 5 * 1024 * 1024,
            media_s3_bucket: None,
            media_s3_region: None,
            media_s3_endpoint: None,
            audit_database_url: None,
            audit_key: None,
            redis_url: None,
            redis_key_prefix: "pasar:".into(),
            relay_poll_ms: 200,
            session_cache_ms: 1_000,
            catalog_cache_ms: 2_000,
            search_in_memory: false,
            stock_show_counts: true,
            webhook_max_attempts: 8,
            webhooks_allow_private: false,
            telegram_bot_token: None,
            telegram_mode: None,
            telegram_webhook_secret: None,
            telegram_api_url: "https://api.telegram.org".into(),
            telegram_admin_ids: Vec::new(),
            telegram_countdown_secs: 60,
            telegram_actions_per_minute: 60,
            vapid_private_key: None,
            vapid_subject: None,
            smtp_url: None,
            email_from: "Pasar <no-reply@pasar.local>".into(),
            sendgrid_api_key: None,
            sendgrid_url: "https://api.sendgrid.com".into(),
            mail_dir: None,
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            twilio_url: "https://api.twilio.com".into(),
        }
    }
}

impl Config {
    /// Loads the configuration. The default `pasar.toml` may be absent (everything has a
    /// default), but a file named with `--config` (or `PASAR_CONFIG`) must exist; a file that
    /// names an unknown key or a value of the wrong type is an error, so typos do not pass
    /// silently. An error names where the wrong value came from: the environment variable, or
    /// the key in the file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(named) = file {
            anyhow::ensure!(
                named.is_file(),
                "configuration file {} does not exist (named by --config or PASAR_CONFIG)",
                named.display()
            );
        }
        let file = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("pasar.toml"));
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::raw().only(&["DATABASE_URL", "AUDIT_DATABASE_URL", "REDIS_URL"]))
            .merge(Env::prefixed("PASAR_").ignore(&["CONFIG", "TEST_DATABASE_URL", "DEMO_PASSWORD"]))
            .extract::<Self>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", describe(e)))
            .and_then(|config| {
                config.admin_allowlist()?;
                Ok(config)
            })
    }

    /// `admin_allow_ips` read: the blocks allowed (empty: everyone), or an error naming the
    /// entry that is neither an IP nor a CIDR block.
    pub fn admin_allowlist(&self) -> anyhow::Result<Vec<IpBlock>> {
        self.admin_allow_ips
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpBlock::parse(entry).ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid configuration: PASAR_ADMIN_ALLOW_IPS entry `{entry}` is neither an IP address \
                         nor a CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)"
                    )
                })
            })
            .collect()
    }

    /// What is allowed but probably not meant, to be logged as warnings at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.addr.ip().is_unspecified() && self.public_url.is_none() {
            warnings.push(format!(
                "PASAR_ADDR is {} (every interface) and PASAR_PUBLIC_URL is not set: pay links and the \
                 sandbox's webhooks would point at http://{}; set PASAR_PUBLIC_URL to the address buyers reach",
                self.addr, self.addr
            ));
        }
        warnings
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("pasar.db").display()))
    }

    /// Where this instance keeps its search index; None when it is kept in memory.
    pub fn search_index_dir(&self) -> Option<PathBuf> {
        (!self.search_in_memory).then(|| self.data_dir.join("search"))
    }

    pub fn media_dir(&self) -> PathBuf {
        self.media_dir.clone().unwrap_or_else(|| self.data_dir.join("media"))
    }

    /// The JWT signing secret: configured, or read from the data directory, or generated there
    /// on first start (with a warning, since a shared secret must be configured explicitly when
    /// several instances run).
    pub fn jwt_secret(&self) -> anyhow::Result<Vec<u8>> {
        self.secret(self.jwt_secret.as_deref(), "jwt_secret", "PASAR_JWT_SECRET")
    }

    pub fn sandbox_webhook_secret(&self) -> anyhow::Result<Vec<u8>> {
        self.secret(
            self.sandbox_webhook_secret.as_deref(),
            "sandbox_webhook_secret",
            "PASAR_SANDBOX_WEBHOOK_SECRET",
        )
    }

    /// The 256-bit key sealing digital items.
    pub fn digital_items_key(&self) -> anyhow::Result<[u8; 32]> {
        let text =
            self.secret(self.digital_items_key.as_deref(), "digital_items_key", "PASAR_DIGITAL_ITEMS_KEY")?;
        let bytes = hex::decode(&text).context("PASAR_DIGITAL_ITEMS_KEY must be 64 hex characters")?;
        bytes.try_into().map_err(|_| anyhow::anyhow!("PASAR_DIGITAL_ITEMS_KEY must be 64 hex characters"))
    }

    /// The secret Telegram must send with each webhook: configured, or read from the data
    /// directory, or generated there.
    pub fn telegram_webhook_secret(&self) -> anyhow::Result<String> {
        let secret = self.secret(
            self.telegram_webhook_secret.as_deref(),
            "telegram_webhook_secret",
            "PASAR_TELEGRAM_WEBHOOK_SECRET",
        )?;
        let secret = String::from_utf8(secret).context("PASAR_TELEGRAM_WEBHOOK_SECRET must be text")?;
        anyhow::ensure!(
            secret.len() <= 256
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "PASAR_TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -, at most 256 of them"
        );
        Ok(secret)
    }

    /// How the bot receives updates: as configured, else by webhook when the public URL is
    /// https (Telegram delivers webhooks only there), else by polling.
    pub fn telegram_mode(&self, public_url: &str) -> TelegramMode {
        self.telegram_mode.unwrap_or(if public_url.starts_with("https://") {
            TelegramMode::Webhook
        } else {
            TelegramMode::Polling
        })
    }

    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_owned()
    }

    /// A secret: configured, or read from `{data_dir}/{file}`, or generated there (256 random
    /// bits as hex) with a warning.
    fn secret(&self, configured: Option<&str>, file: &str, variable: &str) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = configured {
            anyhow::ensure!(secret.len() >= 32, "{variable} must be at least 32 characters");
            return Ok(secret.as_bytes().to_vec());
        }
        let path = self.data_dir.join(file);
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
            "{variable} is not set: generated one and stored it in the data directory; \
             set {variable} when running more than one instance"
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

/// figment's errors, each naming where the wrong value came from: the environment variable by
/// its whole name (`PASAR_ADDR`), or the file.
fn describe(errors: figment::Error) -> String {
    let described: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let place = match &error.metadata {
                Some(metadata) if metadata.name.contains("environment variable") => {
                    let prefix = if metadata.name.contains("PASAR_") { "PASAR_" } else { "" };
                    format!("environment variable {prefix}{}", key.to_uppercase().replace('.', "_"))
                }
                Some(metadata) => match &metadata.source {
                    Some(source) => format!("key {key:?} in {source}"),
                    None => format!("key {key:?} in {}", metadata.name),
                },
                None => format!("key {key:?}"),
            };
            format!("{place}: {}", error.kind)
        })
        .collect();
    described.join("; ")
}

/// An `ip:port`, or a `host:port` resolved now (the first IPv4 address, else the first one).
fn socket_address<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    use std::net::ToSocketAddrs;
    let text = String::deserialize(deserializer)?;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let invalid =
        |why: String| serde::de::Error::custom(format!("{text:?} is not a host:port to listen on: {why}"));
    let addrs: Vec<SocketAddr> = text.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| invalid("the host name resolves to no address".into()))
}

/// A positive number of seconds, given as a number or as a duration such as `15m`, `7d` or
/// `1h 30m` (humantime's units).
fn duration_secs<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Duration {
        Seconds(u64),
        Text(String),
    }
    let secs = match Duration::deserialize(deserializer)? {
        Duration::Seconds(secs) => secs,
        Duration::Text(text) => match text.trim().parse::<u64>() {
            Ok(secs) => secs,
            Err(_) => humantime::parse_duration(text.trim())
                .map_err(|e| {
                    serde::de::Error::custom(format!("{text:?} is not a duration such as 15m or 7d: {e}"))
                })?
                .as_secs(),
        },
    };
    if secs == 0 {
        return Err(serde::de::Error::custom("a lifetime must be at least one second"));
    }
    Ok(secs)
}

/// Telegram user ids: a list, one number, or numbers separated by commas (as an environment
/// variable gives them).
fn telegram_ids<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        List(Vec<i64>),
        One(i64),
        Text(String),
    }
    match Ids::deserialize(deserializer)? {
        Ids::List(ids) => Ok(ids),
        Ids::One(id) => Ok(vec![id]),
        Ids::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| {
                id.parse().map_err(|_| serde::de::Error::custom(format!("{id:?} is not a Telegram user id")))
            })
            .collect(),
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

/// An IP address or a CIDR block of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpBlock {
    network: std::net::IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// `10.0.0.0/8`, `2001:db8::/32`, or one address (`203.0.113.7`, a block of one).
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: std::net::IpAddr = address.trim().parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().ok().filter(|p| *p <= bits)?,
            None => bits,
        };
        Some(Self { network, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
// figment's Jail hands its closures figment::Error, a large error type that is not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_allowlist_reads_ips_and_cidr_blocks_and_refuses_anything_else() {
        let config =
            Config { admin_allow_ips: " 10.0.0.0/8, 203.0.113.7 ,2001:db8::/32".into(), ..Config::default() };
        let blocks = config.admin_allowlist().unwrap();
        let allowed = |ip: &str| blocks.iter().any(|b| b.contains(ip.parse().unwrap()));
        assert!(allowed("10.1.2.3"));
        assert!(allowed("::ffff:10.9.9.9"), "an IPv4-mapped address is its IPv4 one");
        assert!(allowed("203.0.113.7"));
        assert!(!allowed("203.0.113.8"));
        assert!(allowed("2001:db8::1"));
        assert!(!allowed("127.0.0.1"));
        assert!(IpBlock::parse("0.0.0.0/0").unwrap().contains("192.0.2.1".parse().unwrap()));
        assert!(Config::default().admin_allowlist().unwrap().is_empty());
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", "10.0.0.0/x"] {
            let config = Config { admin_allow_ips: bad.into(), ..Config::default() };
            let err = config.admin_allowlist().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_bad_admin_allowlist_entry_fails_loading() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PASAR_ADMIN_ALLOW_IPS", "10.0.0.0/8,nope");
            let err = format!("{:#}", Config::load(None).expect_err("refused"));
            assert!(err.contains("PASAR_ADMIN_ALLOW_IPS") && err.contains("nope"), "{err}");
            Ok(())
        });
    }

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
    fn the_redis_url_is_read_from_the_conventional_variable() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).expect("loads").redis_url, None);
            jail.set_env("REDIS_URL", "redis://127.0.0.1:6379/2");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:6379/2"));
            assert_eq!(config.redis_key_prefix, "pasar:");
            Ok(())
        });
    }

    #[test]
    fn a_named_configuration_file_that_is_missing_is_an_error_but_the_default_one_may_be() {
        figment::Jail::expect_with(|_jail| {
            let err = Config::load(Some(Path::new("missing.toml"))).expect_err("a missing file is refused");
            assert!(err.to_string().contains("missing.toml"), "{err:#}");
            assert!(Config::load(None).is_ok(), "pasar.toml is optional");
            Ok(())
        });
    }

    #[test]
    fn a_bad_environment_variable_is_named_and_the_file_is_not_blamed() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pasar.toml", "rate_limit_per_minute = 5")?;
            jail.set_env("PASAR_RATE_LIMIT_PER_MINUTE", "many");
            let err = format!("{:#}", Config::load(None).expect_err("refused"));
            assert!(err.contains("PASAR_RATE_LIMIT_PER_MINUTE"), "{err}");
            assert!(!err.contains("pasar.toml"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("pasar.toml", "rate_limit_per_minute = \"many\"")?;
            let err = format!("{:#}", Config::load(None).expect_err("refused"));
            assert!(err.contains("pasar.toml"), "a bad value in the file names the file: {err}");
            Ok(())
        });
    }

    #[test]
    fn a_host_name_is_accepted_as_the_listening_address() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PASAR_ADDR", "localhost:8080");
            let config = Config::load(None).expect("loads");
            assert!(config.addr.ip().is_loopback(), "{}", config.addr);
            assert_eq!(config.addr.port(), 8080);
            jail.set_env("PASAR_ADDR", "[::1]:9000");
            assert_eq!(Config::load(None).expect("loads").addr.to_string(), "[::1]:9000");
            jail.set_env("PASAR_ADDR", "localhost");
            let err = format!("{:#}", Config::load(None).expect_err("a port is needed"));
            assert!(err.contains("PASAR_ADDR"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn listening_on_every_interface_without_a_public_url_is_warned_about() {
        let everywhere = Config { addr: "0.0.0.0:8080".parse().unwrap(), ..Config::default() };
        assert_eq!(everywhere.warnings().len(), 1);
        assert!(everywhere.warnings()[0].contains("PASAR_PUBLIC_URL"));
        let v6 = Config { addr: "[::]:8080".parse().unwrap(), ..Config::default() };
        assert_eq!(v6.warnings().len(), 1);
        let with_url = Config { public_url: Some("https://shop.example".into()), ..everywhere };
        assert!(with_url.warnings().is_empty());
        assert!(Config::default().warnings().is_empty(), "127.0.0.1 is what pay links can use");
    }

    #[test]
    fn the_log_format_is_chosen_by_the_terminal_unless_set() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).expect("loads").log_format, LogFormat::Auto);
            jail.set_env("PASAR_LOG_FORMAT", "json");
            assert_eq!(Config::load(None).expect("loads").log_format, LogFormat::Json);
            jail.set_env("PASAR_LOG_FORMAT", "pretty");
            assert_eq!(Config::load(None).expect("loads").log_format, LogFormat::Pretty);
            Ok(())
        });
    }

    #[test]
    fn telegram_admin_ids_are_read_as_one_number_or_a_comma_separated_list() {
        figment::Jail::expect_with(|jail| {
            assert!(Config::load(None).expect("loads").telegram_admin_ids.is_empty());
            jail.set_env("PASAR_TELEGRAM_ADMIN_IDS", "42");
            assert_eq!(Config::load(None).expect("loads").telegram_admin_ids, vec![42]);
            jail.set_env("PASAR_TELEGRAM_ADMIN_IDS", "42, 7");
            assert_eq!(Config::load(None).expect("loads").telegram_admin_ids, vec![42, 7]);
            jail.set_env("PASAR_TELEGRAM_ADMIN_IDS", "42,x");
            assert!(Config::load(None).is_err());
            jail.set_env("PASAR_TELEGRAM_ADMIN_IDS", "");
            jail.set_env("PASAR_TELEGRAM_MODE", "polling");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.telegram_mode("https://shop.example"), TelegramMode::Polling);
            Ok(())
        });
        let config = Config::default();
        assert_eq!(config.telegram_mode("https://shop.example"), TelegramMode::Webhook);
        assert_eq!(config.telegram_mode("http://127.0.0.1:8080"), TelegramMode::Polling);
    }

    #[test]
    fn token_lifetimes_are_read_as_seconds_or_durations() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None).expect("loads");
            assert_eq!((config.access_token_ttl, config.refresh_token_ttl), (15 * 60, 7 * 24 * 3600));
            jail.set_env("PASAR_ACCESS_TOKEN_TTL", "1h");
            jail.set_env("PASAR_REFRESH_TOKEN_TTL", "86400");
            let config = Config::load(None).expect("loads");
            assert_eq!((config.access_token_ttl, config.refresh_token_ttl), (3600, 86400));
            jail.set_env("PASAR_REFRESH_TOKEN_TTL", "7d");
            assert_eq!(Config::load(None).expect("loads").refresh_token_ttl, 7 * 24 * 3600);
            for bad in ["0", "soon", "-5"] {
                jail.set_env("PASAR_ACCESS_TOKEN_TTL", bad);
                assert!(Config::load(None).is_err(), "{bad} was accepted");
            }
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
