//! Rate limits, kept in-process (GCRA from `governor`): requests per client IP, and login
//! attempts per account and per IP. Every refusal is a 429 with `Retry-After`.

use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::AppState;
use super::error::ApiError;
use crate::config::{Config, IpBlock};

type KeyedLimiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

pub struct RateLimits {
    per_ip: Option<KeyedLimiter<IpAddr>>,
    webhooks_per_ip: Option<KeyedLimiter<IpAddr>>,
    login_per_account: Option<KeyedLimiter<String>>,
    login_per_ip: Option<KeyedLimiter<IpAddr>>,
    trust_forwarded_for: bool,
    /// Who may reach the admin pages and API (`admin_allow_ips`); empty lets everyone in.
    admin_allowlist: Vec<IpBlock>,
}

/// `count` events per `period`, as a burst of `count` refilled evenly over the period.
fn limiter<K: Hash + Eq + Clone>(count: u32, period: Duration) -> Option<KeyedLimiter<K>> {
    let count = NonZeroU32::new(count)?;
    let quota = Quota::with_period(period / count.get())?.allow_burst(count);
    Some(RateLimiter::keyed(quota))
}

fn check<K: Hash + Eq + Clone>(limiter: &Option<KeyedLimiter<K>>, key: K) -> Result<(), ApiError> {
    let Some(limiter) = limiter else { return Ok(()) };
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    })
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        Self {
            per_ip: limiter(config.rate_limit_per_minute, Duration::from_secs(60)),
            webhooks_per_ip: limiter(config.webhook_rate_limit_per_minute, Duration::from_secs(60)),
            login_per_account: limiter(config.login_attempts_per_account, Duration::from_secs(15 * 60)),
            login_per_ip: limiter(config.login_attempts_per_ip, Duration::from_secs(60)),
            trust_forwarded_for: config.trust_forwarded_for,
            admin_allowlist: Vec::new(),
        }
    }

    /// With the admin allowlist (`Config::admin_allowlist`, read at startup).
    pub fn with_admin_allowlist(self, admin_allowlist: Vec<IpBlock>) -> Self {
        Self { admin_allowlist, ..self }
    }

    /// Whether a client at `ip` may reach the admin pages and API: always when no allowlist
    /// is configured, never when the address is unknown and one is.
    pub fn admin_allows(&self, ip: Option<IpAddr>) -> bool {
        self.admin_allowlist.is_empty()
            || ip.is_some_and(|ip| self.admin_allowlist.iter().any(|block| block.contains(ip)))
    }

    /// The client's address: the TCP peer, or the first `X-Forwarded-For` hop when configured
    /// to trust a proxy in front.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            let forwarded = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer.map(|p| p.ip())
    }

    pub fn check_login(&self, ip: Option<IpAddr>, account: &str) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            check(&self.login_per_ip, ip)?;
        }
        check(&self.login_per_account, account.to_owned())
    }

    /// Forgets clients whose buckets are full again, so memory stays bounded.
    pub fn forget_idle_clients(&self) {
        for limiter in [&self.per_ip, &self.webhooks_per_ip, &self.login_per_ip].into_iter().flatten() {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.login_per_account {
            limiter.retain_recent();
        }
    }
}

/// Where gateways deliver their webhooks; counted in a bucket of their own.
const GATEWAY_WEBHOOKS: &str = "/v1/webhooks/";

pub async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if let Some(ip) = state.limits.client_ip(request.headers(), peer) {
        let limiter = if request.uri().path().starts_with(GATEWAY_WEBHOOKS) {
            &state.limits.webhooks_per_ip
        } else {
            &state.limits.per_ip
        };
        if let Err(refused) = check(limiter, ip) {
            return refused.into_response();
        }
    }
    next.run(request).await
}

/// `/v1/admin/…` answers 403 to a client outside `admin_allow_ips` (the `/admin` pages check
/// it in their own guard, to answer with a page).
pub async fn admin_allowlist(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/v1/admin" || path.starts_with("/v1/admin/") {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        if !state.limits.admin_allows(state.limits.client_ip(request.headers(), peer)) {
            return ApiError::forbidden("the admin API is not open to this address").into_response();
        }
    }
    next.run(request).await
}

/// The client's IP as [`RateLimits::client_ip`] determines it.
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(state.limits.client_ip(&parts.headers, peer)))
    }
}
