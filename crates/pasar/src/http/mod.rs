//! The HTTP surface: shared state, the router, and the conventions every route follows
//! (DESIGN section 8).

pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod rate_limit;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::db::Db;
use crate::identity::Identity;
use crate::time::Clock;
use error::ApiError;

pub use error::{ApiResult, FieldError};

/// What every handler reaches. Axum clones the state into every middleware and handler of
/// every request, so it is one `Arc`: a clone is a reference-count increment, not a copy of
/// every service (that copy was most of the cost of a trivial route).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl From<Services> for AppState {
    fn from(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Clock,
    pub identity: Identity,
    pub catalog: crate::catalog::Catalog,
    pub inventory: crate::inventory::Inventory,
    pub search: crate::search::Search,
    pub sellers: crate::sellers::Sellers,
    pub orders: crate::orders::Orders,
    pub payments: crate::payments::Payments,
    pub sandbox: crate::payments::providers::sandbox::SandboxGateway,
    /// Whether the sandbox gateway is offered (`PASAR_SANDBOX`); when not, its pages are 404.
    pub sandbox_enabled: bool,
    pub carts: crate::cart::Carts,
    pub checkout: crate::checkout::Checkout,
    pub shipping: crate::shipping::Shipping,
    pub couriers: crate::couriers::Couriers,
    pub delivery: crate::delivery::Delivery,
    pub reviews: crate::reviews::Reviews,
    pub chat: crate::chat::Chat,
    pub promotions: crate::promotions::Promotions,
    /// Web Push to users' browsers (off until a VAPID key is configured).
    pub push: crate::push::Push,
    pub recommendations: crate::recommendations::Recommendations,
    pub analytics: crate::analytics::Analytics,
    pub wallet: crate::wallet::Wallet,
    pub payables: crate::payables::Payables,
    pub reconciler: crate::payments::Reconciler,
    pub settlements: crate::payments::Settlements,
    pub webhook_log: crate::payments::WebhookLog,
    pub limits: Arc<rate_limit::RateLimits>,
    pub metrics: Arc<metrics::Metrics>,
    pub audit: crate::audit::AuditStore,
    pub webhooks: crate::events::webhooks::Webhooks,
    pub relay: crate::events::Relay,
    pub ledger: crate::ledger::Ledger,
    /// The Telegram storefront, when a bot token is configured.
    pub telegram: Option<crate::telegram::Bot>,
    pub notifications: crate::notifications::Notifications,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Pasar", description = "A commerce engine: catalog, stock, checkout, payments and wallet."),
    modifiers(&BearerAuth),
    components(schemas(error::ErrorEnvelope)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own account and addresses"),
        (name = "admin", description = "Running the shop (admin and super_admin)"),
        (name = "inventory", description = "Stock levels, movements and digital items (admin)"),
        (name = "cart", description = "Carts, for signed-in buyers and guests"),
        (name = "checkout", description = "Placing orders"),
        (name = "orders", description = "Orders, for their buyers and for admins"),
                (name = "payments", description = "Gateway webhooks"),
        (name = "wallet", description = "Balances, deposits, withdrawals, points"),
        (name = "sandbox", description = "The built-in test gateway's hosted pages"),
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "catalog", description = "Products, variants, categories, brands and product images"),
        (name = "search", description = "Full-text product search with facets, and autocomplete"),
        (name = "webhooks", description = "Merchant webhook endpoints, deliveries and replays (admin)"),
        (name = "audit", description = "The tamper-evident audit log (admin)"),
        (name = "ledger", description = "The double-entry ledger: account balances (admin)"),
        (name = "shipping", description = "Delivery zones, shipping methods and quotes"),
        (name = "delivery", description = "Delivery slots: what buyers can choose, zones' slot setup, the day's manifest"),
        (name = "reviews", description = "Buyers' reviews of what they received, sellers' replies, moderation"),
        (name = "sellers", description = "Store applications, admins' decisions and store pages"),
        (name = "seller", description = "A seller's own store: its products, variants, images and stock"),
        (name = "promotions", description = "Vouchers and automatic promotions, the platform's and the stores'"),
        (name = "notifications", description = "What Pasar tells people, and how: your inbox, preferences, unsubscribe links and Web Push subscriptions"),
        (name = "analytics", description = "Sales, orders, customers, payments and products figures by hour or day (admin)"),
        (name = "recommendations", description = "Bought together, similar and popular products; a buyer's suggestions"),
        (name = "chat", description = "Buyer–seller conversations: messages over REST and a WebSocket, reports"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The whole application: the modules' API routes (`modules`, composed where every module is
/// known: `startup`), the web pages (`pages`, outside the OpenAPI document), docs, operations
/// endpoints and the middleware stack.
pub fn router(
    state: AppState,
    modules: OpenApiRouter<AppState>,
    media: OpenApiRouter<AppState>,
    pages: Router<AppState>,
) -> Router {
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(modules)
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::admin_allowlist))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit_per_ip));
    let ops = OpenApiRouter::new()
        .routes(utoipa_axum::routes!(health))
        .routes(utoipa_axum::routes!(ready))
        .routes(utoipa_axum::routes!(metrics::render));
    let (api, openapi) = api.merge(ops).merge(media).split_for_parts();

    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    api.merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", {
        let mut doc = openapi::complete(&openapi);
        openapi::fill_in_methods(&mut doc, &state.payments.method_lists(state.wallet.currency()));
        doc
    }))
        .merge(pages.layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit_per_ip)))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(timeout, answer_within))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::record_request))
        .layer(cors(&state.config))
        .layer(middleware::from_fn(error::in_envelope))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // The span every log line of a request carries; `log_request` writes the request's own
        // line, so the layer's debug-level start and end lines would only repeat it.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id =
                        request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), route = route_of(request), request_id)
                })
                .on_request(())
                .on_response(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
        .with_state(state)
}

/// The route template a request matched (`/v1/products/{id_or_slug}`), or its path when it
/// matched none.
fn route_of(request: &Request) -> &str {
    request.extensions().get::<MatchedPath>().map_or_else(|| request.uri().path(), MatchedPath::as_str)
}

/// Routes that load balancers and scrapers call every few seconds: not logged at `info`.
const QUIET_ROUTES: [&str; 3] = ["/health", "/ready", "/metrics"];

/// One `info` line per request, when it is answered: its status and how long it took, inside
/// the request's span (method, route, request id). Health, readiness and metrics checks are
/// logged at `debug` only.
async fn log_request(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let quiet = QUIET_ROUTES.contains(&route_of(&request));
    let response = next.run(request).await;
    // Whole microseconds, so the figure reads 0.98 rather than 0.9801420000000001.
    let (status, latency_ms) = (response.status().as_u16(), started.elapsed().as_micros() as f64 / 1000.0);
    if quiet {
        tracing::debug!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
    response
}

/// A random UUID for a request that brings no id, drawn from the thread's CSPRNG: tower-http's
/// `MakeRequestUuid` asks the kernel for every one, a system call per request.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).ok().map(RequestId::new)
    }
}

/// Answers 503 with Retry-After when a handler runs past the configured limit.
async fn answer_within(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "request_timeout", "the request took too long")
                .with_retry_after(1)
                .into_response()
        }
    }
}

fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<&str> =
        config.cors_origins.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
    let allow_origin = if origins.is_empty() {
        return CorsLayer::new();
    } else if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(idempotency::HEADER),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

#[derive(Serialize, ToSchema)]
struct Status {
    /// `ok`
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Status)))]
async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The process can serve: its database answers.
#[utoipa::path(
    get, path = "/ready", tag = "ops",
    responses((status = 200, body = Status), (status = 503, body = error::ErrorEnvelope))
)]
async fn ready(State(state): State<AppState>) -> ApiResult<Json<Status>> {
    state.db.ping().await.map_err(ApiError::unavailable)?;
    Ok(Json(Status { status: "ready" }))
}
