//! The API senders: `concurrency` tasks posting messages, either as fast as the server
//! accepts them (`--messages`) or paced at a fixed rate (`--rate --duration`).
//!
//! A send that gets no answer, a 5xx or a 429 is retried after a short backoff, on the
//! next server when there are several (the server may have been killed with `--crash`);
//! any other refusal ends the run, since it means the workload or the token is wrong.

use crate::api::{Api, SendOutcome};
use crate::registry::Registry;
use crate::routing::{message_body, Routing};
use anyhow::bail;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Everything a sender needs.
pub struct Sender {
    api: Api,
    /// Where each 202 is recorded.
    registry: Arc<Registry>,
    /// The application the messages go to.
    app: String,
    /// Decides each message's channels.
    routing: Routing,
    payload_bytes: usize,
    /// Sends still unanswered at this moment are given up (and counted as unsent).
    deadline: Instant,
    retries: AtomicU64,
    unsent: AtomicU64,
    /// Why the most recent retry happened, for the report.
    last_retry_reason: Mutex<Option<String>>,
}

/// What the senders did.
#[derive(Debug, Default)]
pub struct SendStats {
    /// When the last 202 was read.
    pub last_accept: Option<Instant>,
    /// Sends tried again after no answer, a 5xx or a 429.
    pub retries: u64,
    /// Messages never accepted before the deadline.
    pub unsent: u64,
    /// Why the most recent retry happened (a connection error or a status), if any did.
    pub last_retry_reason: Option<String>,
}

impl Sender {
    /// A sender for `app`.
    pub fn new(
        api: Api,
        registry: Arc<Registry>,
        app: String,
        routing: Routing,
        payload_bytes: usize,
        deadline: Instant,
    ) -> Self {
        Self {
            api,
            registry,
            app,
            routing,
            payload_bytes,
            deadline,
            retries: AtomicU64::new(0),
            unsent: AtomicU64::new(0),
            last_retry_reason: Mutex::new(None),
        }
    }

    /// Sends messages `0..total` as fast as `concurrency` tasks can.
    pub async fn send_all(
        self: Arc<Self>,
        total: u64,
        concurrency: usize,
    ) -> anyhow::Result<SendStats> {
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = JoinSet::new();
        for worker in 0..concurrency {
            let this = self.clone();
            let next = next.clone();
            workers.spawn(async move {
                let mut last = None;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        return Ok(last);
                    }
                    last = last.max(this.send_one(worker, index).await?);
                }
            });
        }
        self.finish(workers).await
    }

    /// Sends `rate` messages per second for `duration`, spread over `concurrency` tasks.
    pub async fn send_paced(
        self: Arc<Self>,
        rate: f64,
        duration: Duration,
        concurrency: usize,
    ) -> anyhow::Result<SendStats> {
        let total = paced_total(rate, duration);
        let (tx, rx) = mpsc::channel::<u64>(concurrency.max(16));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut workers = JoinSet::new();
        for worker in 0..concurrency {
            let this = self.clone();
            let rx = rx.clone();
            workers.spawn(async move {
                let mut last = None;
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(index) = next else {
                        return Ok(last);
                    };
                    last = last.max(this.send_one(worker, index).await?);
                }
            });
        }
        // Release messages by elapsed time rather than by tick count, so a late tick is
        // caught up at once instead of stretching the run.
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = Instant::now();
        let mut released = 0u64;
        'pace: while released < total && Instant::now() < self.deadline {
            ticks.tick().await;
            let due = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
            while released < due {
                if tx.send(released).await.is_err() {
                    // Every worker is gone: one of them failed; `finish` reports why.
                    break 'pace;
                }
                released += 1;
            }
        }
        self.unsent.fetch_add(total - released, Ordering::Relaxed);
        drop(tx);
        self.finish(workers).await
    }

    async fn finish(
        &self,
        mut workers: JoinSet<anyhow::Result<Option<Instant>>>,
    ) -> anyhow::Result<SendStats> {
        let mut last_accept = None;
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(Ok(last)) => last_accept = last_accept.max(last),
                Ok(Err(err)) => {
                    workers.abort_all();
                    return Err(err);
                }
                Err(err) => {
                    workers.abort_all();
                    bail!("a sender task failed: {err}");
                }
            }
        }
        Ok(SendStats {
            last_accept,
            retries: self.retries.load(Ordering::Relaxed),
            unsent: self.unsent.load(Ordering::Relaxed),
            last_retry_reason: self
                .last_retry_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        })
    }

    /// Sends message `index` until it is accepted; returns when its 202 was read, or
    /// `None` if the deadline came first.
    async fn send_one(&self, worker: usize, index: u64) -> anyhow::Result<Option<Instant>> {
        let body = Bytes::from(message_body(&self.routing, index, self.payload_bytes));
        let started = Instant::now();
        let mut attempt = 0usize;
        loop {
            match self
                .api
                .send_message(worker + attempt, &self.app, body.clone())
                .await
            {
                SendOutcome::Accepted(id) => {
                    let at = Instant::now();
                    self.registry.accept(&id, index, started);
                    return Ok(Some(at));
                }
                SendOutcome::Refused(why) => bail!("message {index} was refused: {why}"),
                SendOutcome::Retry(why) => {
                    attempt += 1;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    *self
                        .last_retry_reason
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = Some(why);
                    let backoff = retry_backoff(attempt);
                    if Instant::now() + backoff >= self.deadline {
                        self.unsent.fetch_add(1, Ordering::Relaxed);
                        return Ok(None);
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }
}

/// Messages a paced run sends.
pub fn paced_total(rate: f64, duration: Duration) -> u64 {
    (rate * duration.as_secs_f64()).ceil() as u64
}

/// 20 ms more per attempt, at most one second: quick after a blip, gentle during a restart.
fn retry_backoff(attempt: usize) -> Duration {
    Duration::from_millis(20 * attempt.min(50) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_at_one_second() {
        assert_eq!(retry_backoff(1), Duration::from_millis(20));
        assert_eq!(retry_backoff(10), Duration::from_millis(200));
        assert_eq!(retry_backoff(1000), Duration::from_secs(1));
    }

    #[test]
    fn paced_total_rounds_up() {
        assert_eq!(paced_total(1000.0, Duration::from_secs(10)), 10_000);
        assert_eq!(paced_total(2.5, Duration::from_secs(1)), 3);
    }
}
