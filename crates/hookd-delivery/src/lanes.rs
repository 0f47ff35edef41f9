//! Per-endpoint lanes: a FIFO queue per endpoint and the in-memory counts that admission
//! and the claimers' room depend on.
//!
//! A destination is *held* from its admission (or claim) until its outcome is recorded; the
//! counts bound memory (`max_queued` overall, `max_queued_per_endpoint` per lane). The
//! workers that empty the queues are the dispatcher's; this module only keeps their
//! counts, so it can say how many more a lane may run. One short-held mutex guards all
//! lanes: every operation is O(1) per item.

use hookd_core::ids::{EndpointId, MsgId};
use hookd_core::liveness::Heartbeat;
use hookd_core::Timestamp;
use hookd_store::ClaimedDelivery;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// The pacing a flow-controlled endpoint's lane applies.
#[derive(Clone, Copy)]
pub(crate) struct LaneFlow {
    /// Most workers at once.
    pub cap: usize,
    /// Each send waits for a throttle slot.
    pub throttled: bool,
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

/// All lanes, and the limits on what they hold.
pub(crate) struct Lanes {
    state: Mutex<State>,
    /// Most destinations held across all lanes.
    max_total: usize,
    /// Most destinations held by one lane.
    max_lane: usize,
    heartbeat: Arc<Heartbeat>,
}

impl Lanes {
    /// The dispatcher's progress (a delivery taken by a worker) and owed work (deliveries
    /// queued for a worker), for the watchdog.
    pub fn heartbeat(&self) -> &Arc<Heartbeat> {
        &self.heartbeat
    }

    pub fn new(max_total: usize, max_lane: usize) -> Self {
        Self {
            state: Mutex::default(),
            max_total,
            max_lane,
            heartbeat: Arc::new(Heartbeat::new("dispatcher")),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the counts consistent before anything can panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves room for one destination per entry; `true` where it was granted.
    pub fn reserve(&self, endpoints: &[EndpointId]) -> Vec<bool> {
        let mut st = self.lock();
        let mut granted = Vec::with_capacity(endpoints.len());
        for ep in endpoints {
            let ok = st.total < self.max_total
                && st.lanes.get(ep).is_none_or(|l| l.held < self.max_lane);
            if ok {
                st.total += 1;
                st.lanes.entry(ep.clone()).or_default().held += 1;
            }
            granted.push(ok);
        }
        granted
    }

    /// Gives back reservations that were never queued.
    pub fn release(&self, endpoints: &[EndpointId]) {
        let mut st = self.lock();
        for ep in endpoints {
            st.unhold(ep);
        }
    }

    /// Free room overall, and the endpoints whose lanes are full (for the poller).
    pub fn room(&self) -> (usize, Vec<EndpointId>) {
        let st = self.lock();
        let full = st
            .lanes
            .iter()
            .filter(|(_, l)| l.held >= self.max_lane)
            .map(|(ep, _)| ep.clone())
            .collect();
        (self.max_total.saturating_sub(st.total), full)
    }

    /// Free room overall.
    pub fn room_total(&self) -> usize {
        self.max_total.saturating_sub(self.lock().total)
    }

    /// Most destinations one lane may hold.
    pub fn max_per_endpoint(&self) -> usize {
        self.max_lane
    }

    /// Destinations of `ep` held here.
    pub fn held_by(&self, ep: &EndpointId) -> usize {
        self.lock().lanes.get(ep).map_or(0, |l| l.held)
    }

    /// Queues `work`, trading in the reservations in `reserved` (which may be empty for
    /// claimed work); with `flow`, that endpoint's lane is paced from now on. Unless
    /// `start` is false, counts the workers each touched lane should start (up to its cap,
    /// `default_cap` unless paced, and never more than it has queued) as started, and
    /// returns them.
    pub fn queue(
        &self,
        reserved: &[EndpointId],
        work: Vec<ClaimedDelivery>,
        flow: Option<(&EndpointId, LaneFlow)>,
        default_cap: usize,
        start: bool,
    ) -> Vec<(EndpointId, usize)> {
        let mut st = self.lock();
        if let Some((ep, f)) = flow {
            st.lanes.entry(ep.clone()).or_default().flow = Some(f);
        }
        for ep in reserved {
            st.unhold(ep);
        }
        let mut touched: Vec<(EndpointId, usize)> = Vec::new();
        self.heartbeat.add_pending(work.len() as i64);
        for item in work {
            let ep = item.dest.endpoint_id.clone();
            st.total += 1;
            let lane = st.lanes.entry(ep.clone()).or_default();
            lane.held += 1;
            lane.queue.push_back(item);
            if touched.last().map(|(last, _)| last) != Some(&ep) {
                touched.push((ep, 0));
            }
        }
        if !start {
            return Vec::new();
        }
        for (ep, spawn) in &mut touched {
            let Some(lane) = st.lanes.get_mut(ep) else {
                continue;
            };
            let cap = lane.flow.map_or(default_cap, |f| f.cap);
            while lane.workers < cap && lane.idle < lane.queue.len() {
                lane.workers += 1;
                lane.idle += 1;
                *spawn += 1;
            }
        }
        touched
    }

    /// The next destination of `ep` for a worker, now in flight.
    pub fn pop(&self, ep: &EndpointId) -> Option<ClaimedDelivery> {
        let mut st = self.lock();
        let lane = st.lanes.get_mut(ep)?;
        let item = lane.queue.pop_front()?;
        self.heartbeat.add_pending(-1);
        self.heartbeat.progress();
        lane.idle -= 1;
        lane.inflight.push(item.dest.msg_id.clone());
        Some(item)
    }

    /// A worker of `ep` stops.
    pub fn worker_stopped(&self, ep: &EndpointId) {
        let mut st = self.lock();
        if let Some(lane) = st.lanes.get_mut(ep) {
            lane.workers -= 1;
            lane.idle -= 1;
        }
        st.drop_if_unused(ep);
    }

    /// A worker of `ep` is done with `msg`'s request. Unless an outcome is still to be
    /// recorded (`recording`), the destination is let go of too. Returns whether the lane
    /// is flow controlled.
    pub fn sent(&self, ep: &EndpointId, msg: &MsgId, recording: bool) -> bool {
        let mut st = self.lock();
        let mut flow_lane = false;
        if let Some(lane) = st.lanes.get_mut(ep) {
            lane.idle += 1;
            flow_lane = lane.flow.is_some();
            if let Some(i) = lane.inflight.iter().position(|m| m == msg) {
                lane.inflight.swap_remove(i);
            }
        }
        if !recording {
            st.unhold(ep);
        }
        flow_lane
    }

    /// Lets go of one destination of `ep` (its outcome is recorded, or it was dropped);
    /// returns whether `ep`'s lane is flow controlled.
    pub fn settle(&self, ep: &EndpointId) -> bool {
        let mut st = self.lock();
        let flow = st.lanes.get(ep).is_some_and(|l| l.flow.is_some());
        st.unhold(ep);
        flow
    }

    /// Whether `ep`'s lane is throttled and has work queued.
    pub fn throttled(&self, ep: &EndpointId) -> bool {
        let st = self.lock();
        st.lanes
            .get(ep)
            .is_some_and(|l| l.flow.is_some_and(|f| f.throttled) && !l.queue.is_empty())
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

    /// Deliveries held in memory, queued or being sent.
    pub fn held(&self) -> usize {
        self.lock().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_respect_global_and_per_endpoint_limits() {
        let lanes = Lanes::new(5, 2);
        let (a, b, c) = (
            EndpointId::generate(),
            EndpointId::generate(),
            EndpointId::generate(),
        );
        assert_eq!(
            lanes.reserve(&[a.clone(), a.clone(), a.clone()]),
            [true, true, false]
        );
        assert_eq!(
            lanes.reserve(&[b.clone(), b.clone(), c.clone()]),
            [true, true, true]
        );
        assert_eq!(lanes.reserve(std::slice::from_ref(&c)), [false]);
        let (room, full) = lanes.room();
        assert_eq!(room, 0);
        assert_eq!(full.len(), 2);
        lanes.release(&[a.clone(), a, b, c]);
        assert_eq!(lanes.held(), 1);
        assert_eq!(lanes.room().0, 4);
    }
}
