//! Prometheus metrics at `/metrics`: requests by route and status, a latency histogram by
//! route, the database pools' connections, and the business counters (analytics).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::ApiError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_connections: Family<PoolLabels, Gauge>,
    provider_up: Family<ProviderLabels, Gauge>,
    business: crate::analytics::metrics::BusinessGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pasar");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 100 µs to about 3 s.
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register("http_request_duration_seconds", "Time to answer a request", latency.clone());
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by pool and state (idle or in_use)",
            pool_connections.clone(),
        );
        let provider_up = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "payment_provider_up",
            "1 while a payment provider's circuit breaker lets calls through on this instance, 0 while it is open",
            provider_up.clone(),
        );
        let business = crate::analytics::metrics::BusinessGauges::register(&mut registry);
        Self { registry, requests, latency, pool_connections, provider_up, business }
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method: method.to_owned(), route: route.to_owned() })
            .observe(seconds);
    }
}

pub async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The route template, not the raw path, so ids do not explode the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state.metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(
    get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    for (pool, size, idle) in state.db.pool_stats() {
        let gauge = |s: &str| {
            state
                .metrics
                .pool_connections
                .get_or_create(&PoolLabels { pool: pool.into(), state: s.into() })
                .clone()
        };
        gauge("idle").set(i64::from(idle));
        gauge("in_use").set(i64::from(size.saturating_sub(idle)));
    }
    for health in state.payments.provider_health() {
        let up = health.state != crate::payments::breaker::BreakerState::Open;
        state
            .metrics
            .provider_up
            .get_or_create(&ProviderLabels { provider: health.provider })
            .set(i64::from(up));
    }
    let queues = [("outbox", state.relay.backlog().await?), ("webhooks", state.webhooks.backlog().await?)];
    state.metrics.business.set(&state.analytics.all_time().await?, &queues);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry)
        .map_err(ApiError::internal)?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}
