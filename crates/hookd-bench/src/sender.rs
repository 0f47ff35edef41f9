//! The API senders: `concurrency` tasks posting messages, either as fast as the server
//! accepts them (`--messages`) or paced at a fixed rate (`--rate --duration`).
//!
//! A send that gets no answer, a 5xx or a 429 is retried after a short backoff, on the
//! next server when there are several (the server may have been killed with `--crash`);
//! any other refusal ends the run, since it means the workload or the token is wrong.

use crate::api::{Api, SendOutcome};
use crate::pace::{self, Released};
use crate::registry::Registry;
use crate::routing::{message_body, Routing};
use anyhow::bail;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        let this = self.clone();
        let released = pace::all(total, concurrency, move |worker, index, _| {
            let this = this.clone();
            async move { this.send_one(worker, index).await }
        })
        .await?;
        Ok(self.stats(released))
    }

    /// Sends `rate` messages per second for `duration`, spread over `concurrency` tasks.
    pub async fn send_paced(
        self: Arc<Self>,
        rate: f64,
        duration: Duration,
        concurrency: usize,
    ) -> anyhow::Result<SendStats> {
        let this = self.clone();
        let job = move |worker, index, _| {
            let this = this.clone();
            async move { this.send_one(worker, index).await }
        };
        let released = pace::fixed(rate, duration, concurrency, self.deadline, job).await?;
        Ok(self.stats(released))
    }

    fn stats(&self, released: Released) -> SendStats {
        SendStats {
            last_accept: released.last_ack,
            retries: self.retries.load(Ordering::Relaxed),
            unsent: self.unsent.load(Ordering::Relaxed) + released.not_released,
            last_retry_reason: self
                .last_retry_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
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

/// 20 ms more per attempt, at most one second: quick after a blip, gentle during a restart.
pub fn retry_backoff(attempt: usize) -> Duration {
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
}
