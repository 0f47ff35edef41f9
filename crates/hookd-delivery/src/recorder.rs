//! The recorder: writes delivery outcomes in batches.
//!
//! Every finished attempt produces an outcome (the attempt row plus the destination's new
//! state). Workers hand theirs to one recorder task and wait for its answer; the recorder
//! takes whatever has queued up (at most [`MAX_BATCH`]) and writes it with one
//! `Store::record_outcomes` call, so a busy node pays one commit per batch rather than per
//! delivery. A batch that fails is retried a few times; if it still fails, its workers
//! are told so and the destinations are left to their leases (at-least-once).

use hookd_core::liveness::Heartbeat;
use hookd_store::{DeliveryOutcome, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most outcomes written per store call.
const MAX_BATCH: usize = 256;
/// Outcomes waiting for the recorder before workers wait to hand theirs over.
const QUEUE: usize = 4096;
/// Attempts to write a batch before giving up on it.
const TRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

type Item = (DeliveryOutcome, oneshot::Sender<bool>);

/// The workers' handle to the recorder task.
pub(crate) struct Recorder {
    queue: mpsc::Sender<Item>,
    /// Outcomes waiting to be written, and the batches written (for the watchdog).
    heartbeat: Arc<Heartbeat>,
}

impl Recorder {
    /// Starts the recorder task; it ends once every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let heartbeat = Arc::new(Heartbeat::new("recorder"));
        tokio::spawn(run(store, rx, heartbeat.clone()));
        Self { queue, heartbeat }
    }

    pub fn heartbeat(&self) -> &Arc<Heartbeat> {
        &self.heartbeat
    }

    /// Records `outcome`; `true` once it is committed.
    pub async fn record(&self, outcome: DeliveryOutcome) -> bool {
        let (reply, written) = oneshot::channel();
        self.heartbeat.add_pending(1);
        if self.queue.send((outcome, reply)).await.is_err() {
            self.heartbeat.add_pending(-1);
            return false;
        }
        written.await.unwrap_or(false)
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Item>, heartbeat: Arc<Heartbeat>) {
    let mut batch: Vec<Item> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcomes: Vec<DeliveryOutcome> = batch.iter().map(|(o, _)| o.clone()).collect();
        let written = write(store.as_ref(), &outcomes).await;
        // A batch that could not be written is left to its leases (the poller's work, not
        // the recorder's): only a write is progress, only a write that never ends a stall.
        if written {
            heartbeat.progress();
        }
        heartbeat.add_pending(-(batch.len() as i64));
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(written);
        }
    }
}

/// Writes one batch, retrying with backoff. Returns whether it was written.
async fn write(store: &dyn Store, outcomes: &[DeliveryOutcome]) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=TRIES {
        match store.record_outcomes(outcomes).await {
            Ok(()) => return true,
            Err(e) if attempt == TRIES => {
                tracing::error!(error = %e, count = outcomes.len(), "recording delivery outcomes failed; those deliveries will be retried after their leases");
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, count = outcomes.len(), "recording delivery outcomes failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 4;
            }
        }
    }
    false
}
