//! [`TtlCache`]: the short-lived read cache hookd keeps in front of the store (endpoints
//! for the delivery engine, fan-out targets and ingest sources for the API).
//!
//! An entry is served for at most `ttl`, counted from the start of the read that filled
//! it, which bounds how long a change made through another node can take to show here.
//! Changes made through this node invalidate at once. A read that raced an invalidation
//! never stores what it read (a generation counter tells): take a [`Ticket`] before the
//! read and hand it to [`TtlCache::insert`]. Memory is bounded: when full, expired
//! entries are swept, and if none expired the map is emptied (cheap, and rare).
//!
//! [`TtlCache::get_or_load`] reads through the cache with at most one read of a key in
//! flight on this node: when an entry expires under load, the requests that miss together
//! wait for one read instead of each making its own (an application with 10,000 endpoints
//! would otherwise be read, and its secrets opened, once per waiting request). When that
//! read fails, the requests that waited for it get its error at once rather than reading
//! in turn: during a database outage, waiting must not add one deadline per request.
//!
//! It lives in hookd-store because both the delivery engine and the server use it and this
//! is the lowest crate they share that may read a clock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A bounded map whose entries expire `ttl` after the read that filled them began.
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    /// Bumped by every invalidation; a read started before one is not stored.
    generation: AtomicU64,
    map: Mutex<HashMap<K, (Instant, V)>>,
    /// One gate per key being read by [`TtlCache::get_or_load`], while anyone holds it.
    gates: Mutex<HashMap<K, Arc<GateState>>>,
}

/// Taken before a read by [`TtlCache::ticket`]: when it started, and what had been
/// invalidated by then.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    generation: u64,
    started: Instant,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            generation: AtomicU64::new(0),
            map: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` if cached and fresh.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.lock();
        let (at, value) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Call before reading from the store; pass it to [`TtlCache::insert`].
    pub fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.generation.load(Ordering::Acquire),
            started: Instant::now(),
        }
    }

    /// Caches what a read returned, unless something was invalidated since its ticket.
    pub fn insert(&self, key: K, ticket: Ticket, value: V) {
        let mut map = self.lock();
        if self.generation.load(Ordering::Acquire) != ticket.generation {
            return;
        }
        if map.len() >= self.max_entries {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.max_entries {
                map.clear();
            }
        }
        map.insert(key, (ticket.started, value));
    }

    /// Forgets `key`; reads in flight will not store what they fetched.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.remove(key);
    }

    /// Forgets every entry `matches` picks; reads in flight will not store what they
    /// fetched.
    pub fn invalidate_where(&self, mut matches: impl FnMut(&K, &V) -> bool) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.retain(|k, (_, v)| !matches(k, v));
    }

    /// The value for `key`, fresh from the cache or read by `load` (and stored). Callers
    /// that miss while a read of the same key runs wait for it and take what it stored,
    /// or the error it failed with; if it stored nothing (it raced an invalidation, or
    /// took longer than the TTL), the next in line reads.
    pub async fn get_or_load<E, Fut>(&self, key: &K, load: impl FnOnce() -> Fut) -> Result<V, E>
    where
        K: Clone,
        E: Clone + Send + 'static,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let waiting_since = Instant::now();
        let gate = Gate::enter(self, key);
        let mut last_failure = gate.state.lock().await;
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        if let Some((at, error)) = last_failure.as_ref() {
            if *at >= waiting_since {
                if let Some(e) = error.downcast_ref::<E>() {
                    return Err(e.clone());
                }
            }
        }
        let ticket = self.ticket();
        match load().await {
            Ok(value) => {
                *last_failure = None;
                self.insert(key.clone(), ticket, value.clone());
                Ok(value)
            }
            Err(e) => {
                *last_failure = Some((Instant::now(), Box::new(e.clone())));
                Err(e)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A key's gate: held by the one caller reading the key, with when the last read failed
/// and its error (for the callers that waited for it).
type GateState = tokio::sync::Mutex<Option<(Instant, Box<dyn std::any::Any + Send>)>>;

/// A caller's hold on a key's gate; the gate is forgotten when its last holder leaves
/// (also when the caller is cancelled mid-read).
struct Gate<'a, K: Hash + Eq, V> {
    cache: &'a TtlCache<K, V>,
    key: K,
    state: Arc<GateState>,
}

impl<'a, K: Hash + Eq + Clone, V> Gate<'a, K, V> {
    fn enter(cache: &'a TtlCache<K, V>, key: &K) -> Self {
        let mut gates = cache.gates.lock().unwrap_or_else(|p| p.into_inner());
        let state = gates.entry(key.clone()).or_default().clone();
        Gate {
            cache,
            key: key.clone(),
            state,
        }
    }
}

impl<K: Hash + Eq, V> Drop for Gate<'_, K, V> {
    fn drop(&mut self) {
        let mut gates = self.cache.gates.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and this one: nobody else waits.
        if gates
            .get(&self.key)
            .is_some_and(|g| Arc::strong_count(g) == 2)
        {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_fresh_entries_and_not_stale_ones() {
        let cache: TtlCache<String, u32> = TtlCache::new(Duration::from_millis(50), 8);
        let t = cache.ticket();
        cache.insert("a".into(), t, 1);
        assert_eq!(cache.get("a"), Some(1));
        // An entry as old as the TTL (its read began that long ago) is not served.
        let old = Ticket {
            generation: t.generation,
            started: Instant::now() - Duration::from_millis(50),
        };
        cache.insert("b".into(), old, 2);
        assert_eq!(cache.get("b"), None);
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(1), 8);
        let t = cache.ticket();
        cache.invalidate("a");
        cache.insert("a", t, 1);
        assert_eq!(cache.get("a"), None);
        let t = cache.ticket();
        cache.insert("a", t, 2);
        cache.insert("b", cache.ticket(), 3);
        cache.invalidate_where(|_, v| *v == 2);
        assert_eq!((cache.get("a"), cache.get("b")), (None, Some(3)));
    }

    #[test]
    fn stays_within_its_bound() {
        let cache: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(60), 4);
        for i in 0..100 {
            cache.insert(i, cache.ticket(), i);
            assert!(cache.lock().len() <= 4);
        }
        assert_eq!(cache.get(&99), Some(99));
    }

    /// `n` callers miss the same key together; the first read is held until they all
    /// wait, then ends with `outcome`. What each caller got, and how many reads ran.
    async fn burst(n: usize, outcome: Result<u32, String>) -> (Vec<Result<u32, String>>, u64) {
        let cache: Arc<TtlCache<String, u32>> = Arc::new(TtlCache::new(Duration::from_secs(60), 8));
        let reads = Arc::new(AtomicU64::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (cache, reads, mut wait) = (cache.clone(), reads.clone(), wait.clone());
            let outcome = outcome.clone();
            callers.spawn(async move {
                cache
                    .get_or_load(&"app".to_owned(), || async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        let _ = wait.wait_for(|go| *go).await;
                        outcome
                    })
                    .await
            });
        }
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Let every caller queue behind the first read before it ends.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        release.send(true).unwrap();
        let mut got = Vec::new();
        while let Some(one) = callers.join_next().await {
            got.push(one.unwrap());
        }
        assert!(
            cache.gates.lock().unwrap().is_empty(),
            "the gate outlived its callers"
        );
        drop(wait);
        (got, reads.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn misses_at_the_same_time_make_one_read() {
        let (got, reads) = burst(32, Ok(7)).await;
        assert!(got.iter().all(|g| *g == Ok(7)), "{got:?}");
        assert_eq!(reads, 1);
    }

    #[tokio::test]
    async fn the_callers_that_waited_for_a_failed_read_get_its_error_without_reading() {
        let (got, reads) = burst(8, Err("database down".into())).await;
        assert!(
            got.iter().all(|g| *g == Err("database down".to_owned())),
            "{got:?}"
        );
        assert_eq!(reads, 1, "a waiter read again");
    }

    #[tokio::test]
    async fn a_failed_read_lets_the_next_caller_read() {
        let cache: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60), 8);
        let got = cache
            .get_or_load(&"k", || async { Err::<u32, &str>("down") })
            .await;
        assert_eq!(got, Err("down"));
        let got = cache
            .get_or_load(&"k", || async { Ok::<u32, &str>(3) })
            .await;
        assert_eq!(got, Ok(3));
        assert_eq!(cache.get("k"), Some(3));
        assert!(cache.gates.lock().unwrap().is_empty());
    }
}
