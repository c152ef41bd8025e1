//! The public reads' cache: serialised answers keyed by the query that produced them, valid
//! for one generation of the catalog. Every catalog write bumps the generation after it
//! commits, so the next read recomputes instead of serving what the write changed.
//!
//! Why this is never stale: a read notes the generation *before* it queries the database and
//! files its answer under that generation. A write that commits while the read runs bumps the
//! generation afterwards, so that answer is filed under a generation that is already over and
//! is never served. The cache is per process: another instance's writes do not end this
//! one's generation, so every answer is also kept for at most the TTL (`catalog_cache_ms`),
//! which bounds how stale this instance can be after a write elsewhere.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// Most answers kept at once.
const MAX_ENTRIES: usize = 1024;
/// Most bytes of answers kept at once.
const MAX_BYTES: usize = 32 * 1024 * 1024;

pub struct ReadCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    generation: u64,
    bytes: usize,
    answers: HashMap<String, (Bytes, Instant)>,
}

impl ReadCache {
    /// A zero `ttl` caches nothing.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, generation: AtomicU64::new(0), entries: Mutex::default() }
    }

    /// Ends the current generation: every answer cached so far is dropped.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached answer for `key`, or the result of `load` (which is awaited only on a miss
    /// and cached when it succeeds).
    pub async fn get_or_load<E>(
        &self,
        key: String,
        load: impl Future<Output = Result<Bytes, E>>,
    ) -> Result<Bytes, E> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(answer) = self.lookup(generation, &key) {
            return Ok(answer);
        }
        let answer = load.await?;
        self.store(generation, key, answer.clone());
        Ok(answer)
    }

    fn lookup(&self, generation: u64, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().expect("the cache lock is never poisoned");
        let (answer, stored_at) = entries.answers.get(key).filter(|_| entries.generation == generation)?;
        (stored_at.elapsed() < self.ttl).then(|| answer.clone())
    }

    fn store(&self, generation: u64, key: String, answer: Bytes) {
        let mut entries = self.entries.lock().expect("the cache lock is never poisoned");
        if generation < entries.generation || answer.len() > MAX_BYTES || self.ttl.is_zero() {
            return;
        }
        let full = entries.answers.len() >= MAX_ENTRIES || entries.bytes + answer.len() > MAX_BYTES;
        if generation > entries.generation || full {
            // A new generation starts empty; a full one starts over rather than tracking
            // recency, which keeps this simple and the hot answers come back on their next read.
            *entries = Entries { generation, ..Entries::default() };
        }
        entries.bytes += answer.len();
        if let Some((previous, _)) = entries.answers.insert(key, (answer, Instant::now())) {
            entries.bytes -= previous.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ReadCache {
        ReadCache::new(Duration::from_secs(60))
    }

    async fn load(cache: &ReadCache, key: &str, value: &'static str) -> Bytes {
        cache
            .get_or_load::<()>(key.to_owned(), async { Ok(Bytes::from_static(value.as_bytes())) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_served_until_the_next_write() {
        let cache = cache();
        assert_eq!(load(&cache, "k", "first").await, "first");
        assert_eq!(load(&cache, "k", "second").await, "first");
        cache.invalidate();
        assert_eq!(load(&cache, "k", "third").await, "third");
    }

    #[tokio::test]
    async fn an_answer_loaded_across_a_write_is_not_kept() {
        let cache = cache();
        let answer = cache
            .get_or_load::<()>("k".into(), async {
                // A write commits while this read is still running.
                cache.invalidate();
                Ok(Bytes::from_static(b"old"))
            })
            .await
            .unwrap();
        assert_eq!(answer, "old");
        assert_eq!(load(&cache, "k", "new").await, "new");
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let cache = cache();
        assert!(cache.get_or_load("k".into(), async { Err::<Bytes, _>("down") }).await.is_err());
        assert_eq!(load(&cache, "k", "up").await, "up");
    }

    #[tokio::test]
    async fn an_answer_expires_after_the_ttl_and_a_zero_ttl_caches_nothing() {
        let cache = ReadCache::new(Duration::from_millis(1));
        assert_eq!(load(&cache, "k", "first").await, "first");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(load(&cache, "k", "second").await, "second");

        let off = ReadCache::new(Duration::ZERO);
        assert_eq!(load(&off, "k", "first").await, "first");
        assert_eq!(load(&off, "k", "second").await, "second");
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let cache = cache();
        for i in 0..MAX_ENTRIES * 2 {
            load(&cache, &format!("k{i}"), "v").await;
        }
        let entries = cache.entries.lock().unwrap();
        assert!(entries.answers.len() <= MAX_ENTRIES);
        assert_eq!(entries.bytes, entries.answers.len());
    }
}
