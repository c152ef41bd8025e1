//! A circuit breaker per payment provider. After [`TRIP_AFTER`] calls in a row fail because the
//! provider is down (unreachable, 5xx, timing out), the provider is marked down for a cool-off:
//! buyers asking for it are told at once (503 `payment_provider_unavailable` with `Retry-After`
//! and the methods still available) instead of waiting on timeouts. After the cool-off one call
//! is let through; its success closes the breaker, its failure opens it again. The outage's
//! start and end are events (`payment.provider_down`, `payment.provider_up`) for the admins.
//!
//! The state is this instance's: each instance learns of an outage from its own calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::time::Timestamp;

/// Failures in a row that open the breaker.
pub const TRIP_AFTER: u32 = 5;
/// How long an open breaker refuses calls before letting one through.
pub const COOL_OFF: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// The provider is down: calls are refused until `open_until`.
    Open,
    /// The cool-off is over: the next call decides.
    HalfOpen,
}

/// What the breaker says of a call about to be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Refused: the provider is down for this long yet.
    Refused {
        retry_after: Duration,
    },
}

/// A change worth an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    WentDown,
    CameBack,
}

#[derive(Clone, Copy, Debug, Default)]
struct Circuit {
    failures: u32,
    open_until: Option<Timestamp>,
    /// A trial call is in flight after the cool-off.
    trial: bool,
}

/// One provider's breaker as the admin sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProviderHealth {
    pub provider: String,
    pub state: BreakerState,
    /// Failures in a row so far.
    pub failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_until: Option<Timestamp>,
}

#[derive(Clone, Default)]
pub struct Breakers {
    circuits: Arc<Mutex<HashMap<String, Circuit>>>,
}

impl Breakers {
    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut Circuit) -> T) -> T {
        let mut circuits = self.circuits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(circuits.entry(provider.to_owned()).or_default())
    }

    /// Whether a call to `provider` may be made now.
    pub fn admit(&self, provider: &str, now: Timestamp) -> Admission {
        self.with(provider, |circuit| match circuit.open_until {
            Some(until) if now < until => Admission::Refused { retry_after: until.duration_since(now) },
            Some(_) if circuit.trial => Admission::Refused { retry_after: Duration::from_secs(1) },
            Some(_) => {
                circuit.trial = true;
                Admission::Allowed
            }
            None => Admission::Allowed,
        })
    }

    /// Whether the provider is down now (without taking the trial call).
    pub fn is_open(&self, provider: &str, now: Timestamp) -> Option<Duration> {
        self.with(provider, |circuit| match circuit.open_until {
            Some(until) if now < until => Some(until.duration_since(now)),
            _ => None,
        })
    }

    /// A call answered (even with a refusal): the provider is up.
    pub fn succeeded(&self, provider: &str) -> Option<Transition> {
        self.with(provider, |circuit| {
            let was_open = circuit.open_until.is_some();
            *circuit = Circuit::default();
            was_open.then_some(Transition::CameBack)
        })
    }

    /// A call failed because the provider is down.
    pub fn failed(&self, provider: &str, now: Timestamp) -> Option<Transition> {
        self.with(provider, |circuit| {
            circuit.failures = circuit.failures.saturating_add(1);
            let was_open = circuit.open_until.is_some();
            if circuit.trial || circuit.failures >= TRIP_AFTER {
                circuit.trial = false;
                circuit.open_until = Some(now.plus(COOL_OFF));
                return (!was_open).then_some(Transition::WentDown);
            }
            None
        })
    }

    /// Every provider's breaker, for the admin page and `/metrics`.
    pub fn health(&self, providers: &[&str], now: Timestamp) -> Vec<ProviderHealth> {
        providers
            .iter()
            .map(|provider| {
                let circuit = self.with(provider, |c| *c);
                let state = match circuit.open_until {
                    None => BreakerState::Closed,
                    Some(until) if now < until => BreakerState::Open,
                    Some(_) => BreakerState::HalfOpen,
                };
                ProviderHealth {
                    provider: (*provider).to_owned(),
                    state,
                    failures: circuit.failures,
                    open_until: circuit.open_until,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "pakasir";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + seconds * 1000)
    }

    #[test]
    fn it_opens_after_failures_in_a_row_and_says_so_once() {
        let breakers = Breakers::default();
        for _ in 1..TRIP_AFTER {
            assert_eq!(breakers.failed(P, at(0)), None);
        }
        assert_eq!(breakers.failed(P, at(0)), Some(Transition::WentDown));
        assert_eq!(
            breakers.admit(P, at(1)),
            Admission::Refused { retry_after: COOL_OFF - Duration::from_secs(1) }
        );
        assert_eq!(breakers.health(&[P], at(1))[0].state, BreakerState::Open);
    }

    #[test]
    fn a_success_between_failures_starts_the_count_again() {
        let breakers = Breakers::default();
        for _ in 1..TRIP_AFTER {
            breakers.failed(P, at(0));
        }
        assert_eq!(breakers.succeeded(P), None);
        assert_eq!(breakers.failed(P, at(0)), None);
        assert_eq!(breakers.admit(P, at(0)), Admission::Allowed);
    }

    #[test]
    fn after_the_cool_off_one_trial_decides() {
        let breakers = Breakers::default();
        for _ in 0..TRIP_AFTER {
            breakers.failed(P, at(0));
        }
        let after = at(31);
        assert_eq!(breakers.health(&[P], after)[0].state, BreakerState::HalfOpen);
        assert_eq!(breakers.admit(P, after), Admission::Allowed);
        assert!(matches!(breakers.admit(P, after), Admission::Refused { .. }), "one trial at a time");
        assert_eq!(breakers.failed(P, after), None, "still the same outage");
        assert!(matches!(breakers.admit(P, at(32)), Admission::Refused { .. }));
        assert_eq!(breakers.admit(P, at(62)), Admission::Allowed);
        assert_eq!(breakers.succeeded(P), Some(Transition::CameBack));
        assert_eq!(breakers.health(&[P], at(62))[0].state, BreakerState::Closed);
    }
}
