//! Seeding through the real HTTP API, as an operator and buyers would: an admin, products,
//! stock, buyer accounts and wallet funding.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::{StreamExt, TryStreamExt, stream};
use pasar::http::AppState;
use pasar::identity::{Email, Password, PersonName, Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "bench password 1234";
/// Every SKU costs this much (IDR, minor units).
pub const PRICE: i64 = 10_000;
/// Admin requests in flight at once while seeding: enough to keep two cores busy without
/// queueing hundreds of requests behind SQLite's single writer.
const SEED_CONCURRENCY: usize = 16;
/// Accounts created at once: each hashes a password with argon2, which is CPU-bound.
const ACCOUNT_CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { base, http })
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// POSTs JSON and insists on `expected`, returning the answer's body.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let response = self.request(Method::POST, path, token).json(body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if status != expected {
            bail!("POST {path}: expected {expected}, got {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: answer is not JSON"))
    }
}

/// A signed-in user.
#[derive(Clone)]
pub struct Session {
    pub user_id: String,
    pub token: String,
}

/// Creates an account the way `pasar admin create-user` does, then logs in over HTTP.
pub async fn account(api: &Api, state: &AppState, email: &str, role: Role) -> anyhow::Result<Session> {
    state
        .identity
        .create_user(
            Email::parse(email).map_err(|e| anyhow!("{email}: {e}"))?,
            Password::parse(PASSWORD.into()).map_err(|e| anyhow!("password: {e}"))?,
            PersonName::parse("Bench User").map_err(|e| anyhow!("name: {e}"))?,
            role,
        )
        .await
        .with_context(|| format!("creating {email}"))?;
    let body = json!({"email": email, "password": PASSWORD});
    let session = api.post("/v1/auth/login", None, &body, StatusCode::OK).await?;
    Ok(Session {
        user_id: session["user"]["id"].as_str().context("login answer without user.id")?.to_owned(),
        token: session["access_token"].as_str().context("login answer without access_token")?.to_owned(),
    })
}

pub async fn admin(api: &Api, state: &AppState) -> anyhow::Result<Session> {
    account(api, state, "bench-admin@bench.test", Role::SuperAdmin).await
}

/// `count` buyer accounts, created concurrently.
pub async fn buyers(api: &Api, state: &AppState, count: usize) -> anyhow::Result<Vec<Session>> {
    stream::iter(0..count)
        .map(|i| async move { account(api, state, &format!("buyer{i}@bench.test"), Role::Customer).await })
        .buffered(ACCOUNT_CONCURRENCY)
        .try_collect()
        .await
}

/// A seeded product: its slug and its variants' ids.
pub struct Product {
    pub slug: String,
    pub variants: Vec<String>,
}

/// `products` active physical products of `variants_each` variants, in one category.
pub async fn products(
    api: &Api,
    admin: &Session,
    products: usize,
    variants_each: usize,
) -> anyhow::Result<Vec<Product>> {
    let token = Some(admin.token.as_str());
    let category =
        api.post("/v1/admin/categories", token, &json!({"name": "Bench"}), StatusCode::CREATED).await?;
    let category = category["id"].clone();
    stream::iter(0..products)
        .map(|p| {
            let category = category.clone();
            async move {
                let variants: Vec<Value> = (0..variants_each)
                    .map(|v| {
                        json!({"sku": format!("BENCH-{p}-{v}"), "options": {"size": format!("S{v}")},
                               "price": {"amount": PRICE, "currency": "IDR"}})
                    })
                    .collect();
                let body = json!({
                    "name": format!("Bench product {p}"), "description": "Seeded by pasar-bench",
                    "kind": "physical", "status": "active", "category_id": category, "variants": variants,
                });
                let created = api.post("/v1/admin/products", token, &body, StatusCode::CREATED).await?;
                let variants = created["variants"]
                    .as_array()
                    .context("product answer without variants")?
                    .iter()
                    .map(|v| v["id"].as_str().map(str::to_owned).context("variant without id"))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let slug = created["slug"].as_str().context("product answer without slug")?.to_owned();
                Ok::<_, anyhow::Error>(Product { slug, variants })
            }
        })
        .buffered(SEED_CONCURRENCY)
        .try_collect()
        .await
}

/// Puts `units` on hand for every variant.
pub async fn stock(api: &Api, admin: &Session, variants: &[String], units: i64) -> anyhow::Result<()> {
    let token = Some(admin.token.as_str());
    stream::iter(variants)
        .map(|variant| async move {
            let body = json!({"delta": units, "reason": "delivery"});
            api.post(&format!("/v1/admin/variants/{variant}/stock/adjust"), token, &body, StatusCode::OK)
                .await
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// Credits every buyer's wallet with `amount` through the admin adjustment route.
pub async fn fund(api: &Api, admin: &Session, buyers: &[Session], amount: i64) -> anyhow::Result<()> {
    let token = Some(admin.token.as_str());
    stream::iter(buyers)
        .map(|buyer| async move {
            let body = json!({"amount": {"amount": amount, "currency": "IDR"}, "reason": "bench funding"});
            let path = format!("/v1/admin/users/{}/wallet/adjust", buyer.user_id);
            api.post(&path, token, &body, StatusCode::OK).await
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
}

pub fn shipping_address() -> Value {
    json!({"name": "Ana", "phone": "+62 812 3456 7890", "line1": "Jl. Merdeka 1", "city": "Jakarta",
           "postal_code": "10110", "country": "ID"})
}
