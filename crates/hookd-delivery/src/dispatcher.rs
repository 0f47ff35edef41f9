//! Per-endpoint lanes: a FIFO queue and a worker cap per endpoint, plus the in-memory
//! counts that admission and the poller's room depend on.
//!
//! A destination is *held* from its admission (or claim) until its outcome is recorded; the
//! counts bound memory. Each lane runs at most `max_inflight_per_endpoint` workers; a
//! worker takes a global permit (`max_inflight`), pops one destination, sends it, hands
//! the outcome to a separate task to record (so the slot is free during the commit), and
//! loops until its lane is empty. A slow endpoint therefore only ever occupies its own
//! workers. One short-held mutex guards all lanes: every operation is O(1) per item.

use crate::engine::Shared;
use hookd_core::ids::{EndpointId, MsgId};
use hookd_core::Timestamp;
use hookd_store::ClaimedDelivery;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::Instrument;

#[derive(Default)]
struct Lane {
    /// Destinations reserved, queued or in flight for this endpoint.
    held: usize,
    queue: VecDeque<ClaimedDelivery>,
    /// Messages being delivered to this endpoint right now (at most the worker cap).
    inflight: Vec<MsgId>,
    /// Worker tasks running for this lane.
    workers: usize,
    /// Of those, the ones not delivering right now (about to pop, or waiting for a permit).
    idle: usize,
    /// Set for a flow-controlled endpoint's lane: its worker cap, and whether each send
    /// waits for a throttle slot (see `flow`).
    flow: Option<LaneFlow>,
}

#[derive(Clone, Copy)]
struct LaneFlow {
    cap: usize,
    throttled: bool,
}

#[derive(Default)]
struct State {
    /// Destinations held across all lanes.
    total: usize,
    lanes: HashMap<EndpointId, Lane>,
}

impl State {
    fn unhold(&mut self, ep: &EndpointId) {
        self.total = self.total.saturating_sub(1);
        if let Some(lane) = self.lanes.get_mut(ep) {
            lane.held = lane.held.saturating_sub(1);
            self.drop_if_unused(ep);
        }
    }

    /// Forgets a lane with nothing in it, so the map only holds busy endpoints.
    fn drop_if_unused(&mut self, ep: &EndpointId) {
        if self
            .lanes
            .get(ep)
            .is_some_and(|l| l.held == 0 && l.workers == 0 && l.queue.is_empty())
        {
            self.lanes.remove(ep);
        }
    }
}

/// All lanes.
#[derive(Default)]
pub(crate) struct Lanes {
    state: Mutex<State>,
}

impl Lanes {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the counts consistent before anything can panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves room for one destination per entry; `true` where it was granted.
    pub fn reserve(
        &self,
        endpoints: &[EndpointId],
        max_total: usize,
        max_lane: usize,
    ) -> Vec<bool> {
        let mut st = self.lock();
        let mut granted = Vec::with_capacity(endpoints.len());
        for ep in endpoints {
            let ok = st.total < max_total && st.lanes.get(ep).is_none_or(|l| l.held < max_lane);
            if ok {
                st.total += 1;
                st.lanes.entry(ep.clone()).or_default().held += 1;
            }
            granted.push(ok);
        }
        granted
    }

    /// Gives back reservations that were never submitted.
    pub fn release(&self, endpoints: &[EndpointId]) {
        let mut st = self.lock();
        for ep in endpoints {
            st.unhold(ep);
        }
    }

    /// Free room overall, and the endpoints whose lanes are full (for the poller).
    pub fn room(&self, max_total: usize, max_lane: usize) -> (usize, Vec<EndpointId>) {
        let st = self.lock();
        let full = st
            .lanes
            .iter()
            .filter(|(_, l)| l.held >= max_lane)
            .map(|(ep, _)| ep.clone())
            .collect();
        (max_total.saturating_sub(st.total), full)
    }

    /// Destinations of `ep` held here.
    pub fn held_by(&self, ep: &EndpointId) -> usize {
        self.lock().lanes.get(ep).map_or(0, |l| l.held)
    }

    /// Lets go of one destination of `ep` (its outcome is recorded, or it was dropped);
    /// returns whether `ep`'s lane is flow controlled.
    fn settle(&self, ep: &EndpointId) -> bool {
        let mut st = self.lock();
        let flow = st.lanes.get(ep).is_some_and(|l| l.flow.is_some());
        st.unhold(ep);
        flow
    }

    /// The keys of every destination queued or in flight, for lease renewal.
    pub fn held_keys(&self) -> Vec<(MsgId, EndpointId)> {
        let st = self.lock();
        let mut keys = Vec::with_capacity(st.total);
        for (ep, lane) in &st.lanes {
            let queued = lane.queue.iter().map(|w| &w.dest.msg_id);
            keys.extend(
                queued
                    .chain(&lane.inflight)
                    .map(|m| (m.clone(), ep.clone())),
            );
        }
        keys
    }

    /// Records that the leases of queued destinations now last until `until` (after a
    /// renewal that covered them). Only ever moves a lease later.
    pub fn extend_queued_leases(&self, renewed: &[(MsgId, EndpointId)], until: Timestamp) {
        let mut st = self.lock();
        let mut by_lane: HashMap<&EndpointId, HashSet<&MsgId>> = HashMap::new();
        for (m, ep) in renewed {
            by_lane.entry(ep).or_default().insert(m);
        }
        for (ep, msgs) in by_lane {
            let Some(lane) = st.lanes.get_mut(ep) else {
                continue;
            };
            for w in lane.queue.iter_mut() {
                let covered = msgs.contains(&w.dest.msg_id);
                if covered && w.dest.next_attempt_at.is_some_and(|t| t < until) {
                    w.dest.next_attempt_at = Some(until);
                }
            }
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().total
    }
}

/// Queues `work`, trading in the reservations in `reserved` (which may be empty for
/// claimed work), and starts lane workers where needed.
pub(crate) fn enqueue(shared: &Arc<Shared>, reserved: &[EndpointId], work: Vec<ClaimedDelivery>) {
    enqueue_with(shared, reserved, work, None);
}

/// Queues claimed deliveries of one flow-controlled endpoint; its lane applies the
/// endpoint's worker cap and throttle from now on.
pub(crate) fn enqueue_flow(
    shared: &Arc<Shared>,
    settings: &hookd_store::FlowEndpoint,
    work: Vec<ClaimedDelivery>,
) {
    let flow = LaneFlow {
        cap: crate::flow::lane_cap(settings, shared.config.max_inflight_per_endpoint),
        throttled: settings.rate_limit.is_some_and(|r| r > 0),
    };
    enqueue_with(shared, &[], work, Some((&settings.endpoint_id, flow)));
}

fn enqueue_with(
    shared: &Arc<Shared>,
    reserved: &[EndpointId],
    work: Vec<ClaimedDelivery>,
    flow: Option<(&EndpointId, LaneFlow)>,
) {
    let global_cap = shared.config.max_inflight_per_endpoint;
    let mut st = shared.lanes.lock();
    if let Some((ep, f)) = flow {
        st.lanes.entry(ep.clone()).or_default().flow = Some(f);
    }
    for ep in reserved {
        st.unhold(ep);
    }
    let mut touched: Vec<EndpointId> = Vec::new();
    for item in work {
        let ep = item.dest.endpoint_id.clone();
        st.total += 1;
        let lane = st.lanes.entry(ep.clone()).or_default();
        lane.held += 1;
        lane.queue.push_back(item);
        if touched.last() != Some(&ep) {
            touched.push(ep);
        }
    }
    if shared.shutdown.is_cancelled() {
        // Not started: the leases stay in the store and expire.
        return;
    }
    for ep in touched {
        let Some(lane) = st.lanes.get_mut(&ep) else {
            continue;
        };
        let cap = lane.flow.map_or(global_cap, |f| f.cap);
        while lane.workers < cap && lane.idle < lane.queue.len() {
            lane.workers += 1;
            lane.idle += 1;
            shared
                .tracker
                .spawn(lane_worker(shared.clone(), ep.clone()));
        }
    }
}

/// Delivers destinations of one endpoint until its queue is empty or shutdown begins.
async fn lane_worker(shared: Arc<Shared>, ep: EndpointId) {
    loop {
        if let Some(slot) = throttle_slot(&shared, &ep) {
            // Wait for the send slot before taking a permit, so waiting holds up no one.
            tokio::select! {
                _ = shared.shutdown.cancelled() => {}
                _ = tokio::time::sleep_until(slot) => {}
            }
        }
        let permit = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => None,
            p = shared.permits.clone().acquire_owned() => p.ok(),
        };
        let work = permit.as_ref().and_then(|_| {
            let mut st = shared.lanes.lock();
            let lane = st.lanes.get_mut(&ep)?;
            let item = lane.queue.pop_front()?;
            lane.idle -= 1;
            lane.inflight.push(item.dest.msg_id.clone());
            Some(item)
        });
        let Some(work) = work else {
            let mut st = shared.lanes.lock();
            if let Some(lane) = st.lanes.get_mut(&ep) {
                lane.workers -= 1;
                lane.idle -= 1;
            }
            st.drop_if_unused(&ep);
            return;
        };
        let msg_id = work.dest.msg_id.clone();
        let mut recording = None;
        if lease_still_valid(&shared, &work) {
            let span = tracing::info_span!(
                "delivery",
                app.id = %work.dest.app_id,
                endpoint.id = %work.dest.endpoint_id,
                msg.id = %work.dest.msg_id,
            );
            tokio::select! {
                r = crate::attempt::deliver(&shared, work).instrument(span) => recording = r,
                _ = shared.hard_stop.cancelled() => {}
            }
        }
        drop(permit);
        let mut flow_lane = false;
        {
            let mut st = shared.lanes.lock();
            if let Some(lane) = st.lanes.get_mut(&ep) {
                lane.idle += 1;
                flow_lane = lane.flow.is_some();
                if let Some(i) = lane.inflight.iter().position(|m| *m == msg_id) {
                    lane.inflight.swap_remove(i);
                }
            }
            if recording.is_none() {
                st.unhold(&ep);
            }
        }
        match recording {
            // The request slot is free already; the destination stays held (counted
            // against memory) until its outcome is committed.
            Some(recording) => {
                let (task, ep) = (shared.clone(), ep.clone());
                shared.tracker.spawn(async move {
                    tokio::select! {
                        _ = recording.finish(&task) => {}
                        _ = task.hard_stop.cancelled() => {}
                    }
                    settled(&task, &ep);
                });
            }
            None => {
                if flow_lane {
                    shared.flow.kick(&ep);
                }
                shared.poller.room_freed();
            }
        }
    }
}

/// A destination of `ep` held here is done with (outcome recorded): frees its room and
/// tells whoever waits for it.
fn settled(shared: &Shared, ep: &EndpointId) {
    if shared.lanes.settle(ep) {
        shared.flow.kick(ep);
    }
    shared.poller.room_freed();
}

/// For a throttled lane with work queued: the send slot this worker takes.
fn throttle_slot(shared: &Shared, ep: &EndpointId) -> Option<tokio::time::Instant> {
    let throttled = {
        let st = shared.lanes.lock();
        st.lanes
            .get(ep)
            .is_some_and(|l| l.flow.is_some_and(|f| f.throttled) && !l.queue.is_empty())
    };
    if !throttled {
        return None;
    }
    shared
        .flow
        .take_slot(ep)
        .filter(|slot| *slot > tokio::time::Instant::now())
}

/// A destination that waited in memory so long that its lease (nearly) ran out may be
/// claimed again elsewhere (or by this node's poller); it is dropped here instead of being
/// sent twice, and the store hands it out again.
fn lease_still_valid(shared: &Shared, work: &ClaimedDelivery) -> bool {
    let Some(lease_until) = work.dest.next_attempt_at else {
        return true;
    };
    let margin = shared.config.request_timeout.min(shared.config.lease / 2);
    let margin_ms = i64::try_from(margin.as_millis()).unwrap_or(i64::MAX);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_respect_global_and_per_endpoint_limits() {
        let lanes = Lanes::default();
        let (a, b, c) = (
            EndpointId::generate(),
            EndpointId::generate(),
            EndpointId::generate(),
        );
        assert_eq!(
            lanes.reserve(&[a.clone(), a.clone(), a.clone()], 5, 2),
            [true, true, false]
        );
        assert_eq!(
            lanes.reserve(&[b.clone(), b.clone(), c.clone()], 5, 2),
            [true, true, true]
        );
        assert_eq!(lanes.reserve(std::slice::from_ref(&c), 5, 2), [false]);
        let (room, full) = lanes.room(5, 2);
        assert_eq!(room, 0);
        assert_eq!(full.len(), 2);
        lanes.release(&[a.clone(), a, b, c]);
        assert_eq!(lanes.held(), 1);
        assert_eq!(lanes.room(5, 2).0, 4);
    }
}
