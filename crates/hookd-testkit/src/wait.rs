//! Waiting for a condition up to a deadline, never for a fixed time.
//!
//! When to look at the condition again depends on where its state lives, and is not a
//! matter of taste:
//! - **On a signal** ([`Recheck::OnChange`]) when the state is in this process and
//!   something reports each change: a [`Receiver`](crate::Receiver)'s arrivals and answers
//!   (`Receiver::changes`, `Receiver::wait_until`), or a [`Signal`] the test's own tasks
//!   raise. The check runs once per change, at once.
//! - **By polling** ([`Recheck::Poll`], [`poll_until`]) only when nothing can report a
//!   change: another process's HTTP API or log file, rows another process writes in a
//!   database, a file another thread grows. The check runs every [`POLL`] until it holds or
//!   the deadline passes.
//!
//! Deadlines are `tokio::time` instants: a test on a paused clock keeps them in its virtual
//! time. Every wait panics at its deadline, naming what it waited for.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often [`Recheck::poll`] looks: often enough not to slow a test down, seldom enough
/// not to load the process it asks.
pub const POLL: Duration = Duration::from_millis(20);

/// When a wait checks its condition again.
pub enum Recheck {
    /// After every change the sender reports (see [`Signal`]).
    OnChange(watch::Receiver<u64>),
    /// Every so often: only for state nothing can signal (see the module doc).
    Poll(Duration),
}

impl Recheck {
    /// Polling every [`POLL`].
    pub fn poll() -> Recheck {
        Recheck::Poll(POLL)
    }
}

/// A change signal a test's own tasks raise, for a wait on state they update (a counter of
/// acknowledged requests, say). Clones raise the same signal.
#[derive(Clone)]
pub struct Signal(Arc<watch::Sender<u64>>);

impl Default for Signal {
    fn default() -> Self {
        Signal(Arc::new(watch::channel(0).0))
    }
}

impl Signal {
    pub fn new() -> Signal {
        Signal::default()
    }

    /// Reports a change: every wait on this signal checks its condition again.
    pub fn raise(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Re-checking on this signal.
    pub fn recheck(&self) -> Recheck {
        Recheck::OnChange(self.0.subscribe())
    }
}

/// Waits until `check` holds, re-checking as `recheck` says; panics after `limit`, naming
/// `what` ("waiting until {what}").
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, recheck: Recheck, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let found = try_wait_for_value(limit, recheck, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await;
    if found.is_none() {
        panic!("timed out after {limit:?} waiting until {what}");
    }
}

/// [`wait_until`] polling every [`POLL`]: for state nothing can signal.
pub async fn poll_until<F, Fut>(what: &str, limit: Duration, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_until(what, limit, Recheck::poll(), check).await;
}

/// Waits until `check` returns a value, and returns it; panics after `limit`.
pub async fn wait_for_value<T, F, Fut>(what: &str, limit: Duration, recheck: Recheck, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    try_wait_for_value(limit, recheck, check)
        .await
        .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Waits until `check` returns a value; `None` once `limit` has passed without one (the
/// check runs one last time at the deadline).
pub async fn try_wait_for_value<T, F, Fut>(
    limit: Duration,
    recheck: Recheck,
    mut check: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    match recheck {
        Recheck::OnChange(mut changes) => loop {
            // Marked seen before the check: a change during it means one more round.
            changes.borrow_and_update();
            if let Some(value) = check().await {
                return Some(value);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // Nothing can change any more: one last look decides.
                Ok(Err(_)) | Err(_) => return check().await,
            }
        },
        Recheck::Poll(every) => loop {
            if let Some(value) = check().await {
                return Some(value);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            tokio::time::sleep_until((now + every).min(deadline)).await;
        },
    }
}

/// For tests without a runtime (`#[test]` driving processes with `std::process`): polls
/// `check` every [`POLL`] until it returns a value; `None` once `limit` has passed. Only for
/// state another process owns, as [`Recheck::Poll`].
pub fn poll_blocking<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_wait_on_a_signal_wakes_on_the_change_that_satisfies_it() {
        let (signal, count) = (Signal::new(), Arc::new(AtomicUsize::new(0)));
        let checks = Arc::new(AtomicUsize::new(0));
        let (s, c) = (signal.clone(), count.clone());
        tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                c.fetch_add(1, Ordering::SeqCst);
                s.raise();
            }
        });
        let started = Instant::now();
        wait_until(
            "three changes",
            Duration::from_secs(60),
            signal.recheck(),
            || {
                checks.fetch_add(1, Ordering::SeqCst);
                let n = count.load(Ordering::SeqCst);
                async move { n == 3 }
            },
        )
        .await;
        // Woken by the third change, not by a later tick; one check per change.
        assert_eq!(started.elapsed(), Duration::from_secs(15));
        assert_eq!(checks.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "waiting until nothing happens")]
    async fn a_wait_panics_at_its_deadline_naming_what_it_waited_for() {
        let signal = Signal::new();
        wait_until(
            "nothing happens",
            Duration::from_secs(3),
            signal.recheck(),
            || async { false },
        )
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn polling_looks_again_until_the_deadline_and_once_at_it() {
        let looks = AtomicUsize::new(0);
        let started = Instant::now();
        let found = try_wait_for_value(Duration::from_millis(100), Recheck::poll(), || {
            looks.fetch_add(1, Ordering::SeqCst);
            async { None::<()> }
        })
        .await;
        assert!(found.is_none());
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        // At 0, 20, ... 100 ms.
        assert_eq!(looks.load(Ordering::SeqCst), 6);
    }
}
