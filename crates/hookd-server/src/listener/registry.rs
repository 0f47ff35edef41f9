//! The live connections: the cap, and the choice of which one to close to make room (the
//! one that has waited longest for a request head; never one with a request in progress).

use super::conn::Conn;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

/// The live connections, for the cap and for eviction.
pub(crate) struct Registry {
    max: usize,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

/// A registered connection; leaving the registry when dropped.
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection; at the cap, evicts the connection that has waited
    /// longest for a request head first. `None` when every connection is busy.
    pub(crate) fn admit(self: &Arc<Self>, now: Instant) -> Option<Registered> {
        let mut conns = self.lock();
        if conns.len() >= self.max && !Self::evict_longest_waiting(&mut conns) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(now));
        conns.insert(id, conn.clone());
        Some(Registered {
            registry: self.clone(),
            id,
            conn,
        })
    }

    /// Evicts the connection that has waited longest for a request head (to free a file
    /// descriptor); false when there is none.
    pub(crate) fn evict_one(&self) -> bool {
        Self::evict_longest_waiting(&mut self.lock())
    }

    fn evict_longest_waiting(conns: &mut HashMap<u64, Arc<Conn>>) -> bool {
        let victim = conns
            .iter()
            .filter_map(|(id, c)| Some((c.waiting_since()?, *id)))
            .min();
        match victim.and_then(|(_, id)| conns.remove(&id)) {
            Some(conn) => {
                // Out of the count at once: its socket closes as soon as its task runs.
                conn.evict();
                true
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::conn::Next;
    use super::super::Limits;
    use super::*;
    use tokio::time::Duration;

    #[test]
    fn at_the_cap_the_longest_waiting_connection_is_evicted_and_busy_ones_never() {
        let t0 = Instant::now();
        let registry = Registry::new(2);
        let a = registry.admit(t0).unwrap();
        let b = registry.admit(t0 + Duration::from_secs(1)).unwrap();
        let c = registry.admit(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(registry.len(), 2);
        assert_eq!(
            a.conn.next(t0, &Limits::for_tests(), false),
            Next::Close,
            "a was evicted"
        );
        assert_eq!(
            b.conn.next(t0, &Limits::for_tests(), false),
            Next::WaitUntil(Some(t0 + Duration::from_secs(11)))
        );
        b.conn.on_request();
        c.conn.on_request();
        assert!(registry.admit(t0).is_none(), "all busy: refused");
        drop(c);
        assert_eq!(registry.len(), 1);
        assert!(registry.admit(t0).is_some());
        drop(a);
    }
}
