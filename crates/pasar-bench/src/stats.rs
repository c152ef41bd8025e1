//! What one run recorded, and its summary: counts by status and latency percentiles.
//!
//! Latencies are kept as a plain Vec of microseconds and sorted once at the end: a run records at
//! most a few hundred thousand requests, so exact percentiles cost a few MB and one sort, and no
//! histogram dependency is needed.

use std::collections::BTreeMap;
use std::time::Duration;

/// How a request ended, as the summary counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The operation did what it was asked (200 or 201).
    Ok,
    /// A refusal the scenario expects, such as 409 `out_of_stock` once a SKU is sold out.
    Refused,
    /// Anything else: an unexpected status or no answer at all.
    Error,
}

/// One request: which route, the HTTP status (`None`: no answer, a transport error), how it
/// ended, and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub route: &'static str,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub micros: u64,
}

impl Sample {
    pub fn new(route: &'static str, status: Option<u16>, outcome: Outcome, elapsed: Duration) -> Self {
        Self { route, status, outcome, micros: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX) }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Percentiles by the nearest-rank method over latencies in microseconds; `None` when empty.
pub fn latency(micros: &mut [u64]) -> Option<Latency> {
    if micros.is_empty() {
        return None;
    }
    micros.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Latency {
        p50: ms(nearest_rank(micros, 50.0)),
        p95: ms(nearest_rank(micros, 95.0)),
        p99: ms(nearest_rank(micros, 99.0)),
        max: ms(micros[micros.len() - 1]),
    })
}

/// The smallest value with at least `percent`% of the sorted values at or below it.
fn nearest_rank(sorted: &[u64], percent: f64) -> u64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One route's (or all routes') figures over the measured window.
#[derive(Clone, Debug)]
pub struct RouteSummary {
    pub ok: usize,
    pub refused: usize,
    pub errors: usize,
    pub ops_per_s: f64,
    /// Over successful requests only: refusals and errors are often much faster (or slower)
    /// and would blur the figure the scenario is about.
    pub latency: Option<Latency>,
}

pub fn summarize<'a>(samples: impl Iterator<Item = &'a Sample>, window: Duration) -> RouteSummary {
    let (mut refused, mut errors) = (0, 0);
    let mut ok_micros = Vec::new();
    for sample in samples {
        match sample.outcome {
            Outcome::Ok => ok_micros.push(sample.micros),
            Outcome::Refused => refused += 1,
            Outcome::Error => errors += 1,
        }
    }
    let ok = ok_micros.len();
    let seconds = window.as_secs_f64();
    RouteSummary {
        ok,
        refused,
        errors,
        ops_per_s: if seconds > 0.0 { ok as f64 / seconds } else { 0.0 },
        latency: latency(&mut ok_micros),
    }
}

/// Counts by status, "transport" standing for requests that got no answer.
pub fn status_counts(samples: &[Sample]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for sample in samples {
        let key = sample.status.map_or_else(|| "transport".to_owned(), |s| s.to_string());
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_the_nearest_rank_method() {
        let mut micros: Vec<u64> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let latency = latency(&mut micros).unwrap();
        assert_eq!(latency, Latency { p50: 50.0, p95: 95.0, p99: 99.0, max: 100.0 });
    }

    #[test]
    fn a_single_sample_is_every_percentile_and_none_is_no_summary() {
        assert_eq!(latency(&mut [1500]), Some(Latency { p50: 1.5, p95: 1.5, p99: 1.5, max: 1.5 }));
        assert_eq!(latency(&mut []), None);
    }

    #[test]
    fn the_summary_counts_outcomes_and_times_only_successes() {
        let at = |outcome, ms| Sample::new("checkout", Some(201), outcome, Duration::from_millis(ms));
        let samples =
            [at(Outcome::Ok, 10), at(Outcome::Ok, 20), at(Outcome::Refused, 1), at(Outcome::Error, 900)];
        let summary = summarize(samples.iter(), Duration::from_secs(2));
        assert_eq!((summary.ok, summary.refused, summary.errors), (2, 1, 1));
        assert_eq!(summary.ops_per_s, 1.0);
        assert_eq!(summary.latency.unwrap().max, 20.0);
    }

    #[test]
    fn statuses_are_counted_with_transport_errors_apart() {
        let samples = [
            Sample::new("hello", Some(200), Outcome::Ok, Duration::ZERO),
            Sample::new("hello", Some(200), Outcome::Ok, Duration::ZERO),
            Sample::new("hello", None, Outcome::Error, Duration::ZERO),
        ];
        let counts = status_counts(&samples);
        assert_eq!(counts.get("200"), Some(&2));
        assert_eq!(counts.get("transport"), Some(&1));
    }
}
