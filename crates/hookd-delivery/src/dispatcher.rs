//! The dispatcher: the workers that empty the per-endpoint lanes (`lanes`).
//!
//! Each lane runs at most `max_inflight_per_endpoint` workers (a flow-controlled endpoint's
//! lane its own cap, and each of its sends waits for a throttle slot from `pacing`). A
//! worker takes a global permit (`max_inflight`), pops one destination, sends it
//! (`attempt`), hands the outcome to a separate task to record (so the slot is free during
//! the commit), and loops until its lane is empty. A slow endpoint therefore only ever
//! occupies its own workers.
//!
//! [`Dispatcher`] is the handle the parts that hand work over hold: the write path, the
//! poller and the flow task.

use crate::attempt;
use crate::lanes::{LaneFlow, Lanes};
use crate::pacing::{self, Pacing};
use crate::signal::PollerSignal;
use hookd_core::ids::EndpointId;
use hookd_core::Timestamp;
use hookd_store::{ClaimedDelivery, FlowEndpoint};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What the dispatcher works with, built by `engine`.
pub(crate) struct Parts {
    pub lanes: Arc<Lanes>,
    /// What a delivery needs.
    pub attempts: attempt::Context,
    /// Throttle slots of paced lanes; kicked when one of their deliveries settles.
    pub pacing: Arc<Pacing>,
    /// Told whenever room frees up.
    pub poller: Arc<PollerSignal>,
    /// Bounds concurrent requests across all endpoints (`max_inflight`).
    pub permits: Arc<Semaphore>,
    /// Tracks every worker and recording, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Stop taking work.
    pub shutdown: CancellationToken,
    /// The grace period ran out: abandon in-flight requests.
    pub hard_stop: CancellationToken,
    /// Most workers per lane (`max_inflight_per_endpoint`).
    pub lane_cap: usize,
    /// A queued destination whose lease ends within this margin is dropped, not sent.
    pub lease_margin: Duration,
}

/// The handle to the dispatcher. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    parts: Arc<Parts>,
}

impl Dispatcher {
    pub fn new(parts: Parts) -> Self {
        Self {
            parts: Arc::new(parts),
        }
    }

    /// The lanes' counts and limits.
    pub fn lanes(&self) -> &Lanes {
        &self.parts.lanes
    }

    /// Queues `work`, trading in the reservations in `reserved` (which may be empty for
    /// claimed work), and starts lane workers where needed.
    pub fn enqueue(&self, reserved: &[EndpointId], work: Vec<ClaimedDelivery>) {
        self.enqueue_with(reserved, work, None);
    }

    /// Queues claimed deliveries of one flow-controlled endpoint; its lane applies the
    /// endpoint's worker cap and throttle from now on.
    pub fn enqueue_flow(&self, settings: &FlowEndpoint, work: Vec<ClaimedDelivery>) {
        let flow = LaneFlow {
            cap: pacing::lane_cap(settings, self.parts.lane_cap),
            throttled: settings.rate_limit.is_some_and(|r| r > 0),
        };
        self.enqueue_with(&[], work, Some((&settings.endpoint_id, flow)));
    }

    fn enqueue_with(
        &self,
        reserved: &[EndpointId],
        work: Vec<ClaimedDelivery>,
        flow: Option<(&EndpointId, LaneFlow)>,
    ) {
        let p = &self.parts;
        // Once shutdown began nothing starts: the leases stay in the store and expire.
        let start = !p.shutdown.is_cancelled();
        let spawns = p.lanes.queue(reserved, work, flow, p.lane_cap, start);
        for (ep, n) in spawns {
            for _ in 0..n {
                p.tracker.spawn(lane_worker(self.clone(), ep.clone()));
            }
        }
    }

    /// A destination of `ep` held here is done with (outcome recorded): frees its room and
    /// tells whoever waits for it.
    fn settled(&self, ep: &EndpointId) {
        if self.parts.lanes.settle(ep) {
            self.parts.pacing.kick(ep);
        }
        self.parts.poller.room_freed();
    }

    /// For a throttled lane with work queued: the send slot this worker takes.
    fn throttle_slot(&self, ep: &EndpointId) -> Option<tokio::time::Instant> {
        if !self.parts.lanes.throttled(ep) {
            return None;
        }
        self.parts
            .pacing
            .take_slot(ep)
            .filter(|slot| *slot > tokio::time::Instant::now())
    }

    /// A destination that waited in memory so long that its lease (nearly) ran out may be
    /// claimed again elsewhere (or by this node's poller); it is dropped here instead of
    /// being sent twice, and the store hands it out again.
    fn lease_still_valid(&self, work: &ClaimedDelivery) -> bool {
        let Some(lease_until) = work.dest.next_attempt_at else {
            return true;
        };
        let margin_ms = i64::try_from(self.parts.lease_margin.as_millis()).unwrap_or(i64::MAX);
        let ok = Timestamp::now().plus_millis(margin_ms) < lease_until;
        if !ok {
            tracing::debug!(
                app.id = %work.dest.app_id,
                endpoint.id = %work.dest.endpoint_id,
                msg.id = %work.dest.msg_id,
                "lease ran out while queued; leaving the destination to be claimed again"
            );
        }
        ok
    }
}

/// Delivers destinations of one endpoint until its queue is empty or shutdown begins.
async fn lane_worker(d: Dispatcher, ep: EndpointId) {
    let p = &*d.parts;
    loop {
        if let Some(slot) = d.throttle_slot(&ep) {
            // Wait for the send slot before taking a permit, so waiting holds up no one.
            tokio::select! {
                _ = p.shutdown.cancelled() => {}
                _ = tokio::time::sleep_until(slot) => {}
            }
        }
        let permit = tokio::select! {
            biased;
            _ = p.shutdown.cancelled() => None,
            permit = p.permits.clone().acquire_owned() => permit.ok(),
        };
        let work = permit.as_ref().and_then(|_| p.lanes.pop(&ep));
        let Some(work) = work else {
            p.lanes.worker_stopped(&ep);
            return;
        };
        let msg_id = work.dest.msg_id.clone();
        let mut recording = None;
        if d.lease_still_valid(&work) {
            let span = tracing::info_span!(
                "delivery",
                app.id = %work.dest.app_id,
                endpoint.id = %work.dest.endpoint_id,
                msg.id = %work.dest.msg_id,
            );
            tokio::select! {
                r = attempt::deliver(&p.attempts, work).instrument(span) => recording = r,
                _ = p.hard_stop.cancelled() => {}
            }
        }
        drop(permit);
        let flow_lane = p.lanes.sent(&ep, &msg_id, recording.is_some());
        match recording {
            // The request slot is free already; the destination stays held (counted
            // against memory) until its outcome is committed.
            Some(recording) => {
                let (task, ep) = (d.clone(), ep.clone());
                p.tracker.spawn(async move {
                    tokio::select! {
                        _ = recording.finish(&task.parts.attempts) => {}
                        _ = task.parts.hard_stop.cancelled() => {}
                    }
                    task.settled(&ep);
                });
            }
            None => {
                if flow_lane {
                    p.pacing.kick(&ep);
                }
                p.poller.room_freed();
            }
        }
    }
}
