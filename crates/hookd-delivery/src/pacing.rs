//! The flow-controlled endpoints this node owns, and their pacing: the throttle's send
//! slots, the idle waits between claims and the flow task's wake-up.
//!
//! A leaf shared by two parts that must not know each other's insides: the flow task
//! (`flow`) fills it from the store and claims by it, and the dispatcher's lanes take send
//! slots from it and kick an endpoint when one of its deliveries settles. See `flow` for
//! the whole mechanism.

use hookd_core::ids::EndpointId;
use hookd_store::FlowEndpoint;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Longest an owned endpoint with nothing due is left alone (unless woken).
const MAX_IDLE: Duration = Duration::from_secs(5);

/// One owned endpoint.
struct Owned {
    settings: FlowEndpoint,
    /// Nothing was due at the last claim: do not ask again before this (unless woken).
    idle_until: Option<Instant>,
    /// Claims in a row that found nothing more due; each doubles the idle wait.
    idle_streak: u32,
    /// The throttle's next free send slot (kept here, not in the lane, so it survives the
    /// lane emptying between claims).
    next_slot: Instant,
}

#[derive(Default)]
struct State {
    owned: HashMap<EndpointId, Owned>,
}

/// This node's flow-controlled endpoints and the flow task's wake-up.
#[derive(Default)]
pub(crate) struct Pacing {
    state: Mutex<State>,
    /// Wakes the flow task.
    pub wake: Notify,
}

impl Pacing {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something of `endpoint` settled here, or new work for it was written: look for its
    /// next deliveries now.
    pub fn kick(&self, endpoint: &EndpointId) {
        let mut st = self.lock();
        if let Some(o) = st.owned.get_mut(endpoint) {
            o.idle_until = None;
            o.idle_streak = 0;
            drop(st);
            self.wake.notify_one();
        }
    }

    /// New work may have arrived for any endpoint (another node signalled): look again now.
    pub fn kick_all(&self) {
        let mut st = self.lock();
        if st.owned.is_empty() {
            return;
        }
        for o in st.owned.values_mut() {
            o.idle_until = None;
            o.idle_streak = 0;
        }
        drop(st);
        self.wake.notify_one();
    }

    /// The time the caller may send its next delivery to `endpoint` (now or later), taking
    /// that slot; `None` when the endpoint is not throttled here.
    pub fn take_slot(&self, endpoint: &EndpointId) -> Option<Instant> {
        let mut st = self.lock();
        let o = st.owned.get_mut(endpoint)?;
        let rate = o.settings.rate_limit.filter(|r| *r > 0)?;
        let slot = o.next_slot.max(Instant::now());
        o.next_slot = slot + Duration::from_secs_f64(1.0 / f64::from(rate));
        Some(slot)
    }

    /// Nothing more of `endpoint` is due: leave it until `base`, doubled for every claim in
    /// a row that found nothing, at most [`MAX_IDLE`], passes or something wakes it. Retries
    /// coming due are found that way; new work wakes it at once.
    pub fn rest(&self, endpoint: &EndpointId, base: Duration) {
        let mut st = self.lock();
        if let Some(o) = st.owned.get_mut(endpoint) {
            let wait = base.saturating_mul(1 << o.idle_streak.min(8)).min(MAX_IDLE);
            o.idle_until = Some(Instant::now() + wait);
            o.idle_streak = o.idle_streak.saturating_add(1);
        }
    }

    /// Replaces the owned set with `endpoints` (what the store says this node owns now).
    /// An endpoint kept with the same settings keeps its idle wait; every kept endpoint
    /// keeps its throttle slot.
    pub fn own(&self, endpoints: Vec<FlowEndpoint>) {
        let mut st = self.lock();
        let mut next: HashMap<EndpointId, Owned> = HashMap::with_capacity(endpoints.len());
        for settings in endpoints {
            let id = settings.endpoint_id.clone();
            let (idle_until, idle_streak, next_slot) = match st.owned.remove(&id) {
                Some(o) if o.settings == settings => (o.idle_until, o.idle_streak, o.next_slot),
                Some(o) => (None, 0, o.next_slot),
                None => (None, 0, Instant::now()),
            };
            next.insert(
                id,
                Owned {
                    settings,
                    idle_until,
                    idle_streak,
                    next_slot,
                },
            );
        }
        st.owned = next;
    }

    /// Forgets every owned endpoint (at shutdown).
    pub fn clear(&self) {
        self.lock().owned.clear();
    }

    /// The settings of every owned endpoint not resting at `now`.
    pub fn awake(&self, now: Instant) -> Vec<FlowEndpoint> {
        let st = self.lock();
        st.owned
            .values()
            .filter(|o| o.idle_until.is_none_or(|t| t <= now))
            .map(|o| o.settings.clone())
            .collect()
    }

    /// The earliest time a resting endpoint should be looked at again.
    pub fn earliest_idle_end(&self) -> Option<Instant> {
        let st = self.lock();
        st.owned.values().filter_map(|o| o.idle_until).min()
    }
}

/// The most workers a lane of this endpoint runs at once.
pub(crate) fn lane_cap(settings: &FlowEndpoint, global_cap: usize) -> usize {
    if settings.fifo {
        return 1;
    }
    settings
        .max_concurrency
        .map_or(global_cap, |c| global_cap.min(c.max(1) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookd_core::ids::AppId;

    fn settings(rate: Option<u32>, cap: Option<u32>, fifo: bool) -> FlowEndpoint {
        FlowEndpoint {
            app_id: AppId::generate(),
            endpoint_id: EndpointId::generate(),
            rate_limit: rate,
            max_concurrency: cap,
            fifo,
        }
    }

    #[test]
    fn lane_cap_follows_the_settings() {
        assert_eq!(lane_cap(&settings(None, Some(3), false), 32), 3);
        assert_eq!(lane_cap(&settings(None, Some(64), false), 32), 32);
        assert_eq!(lane_cap(&settings(None, Some(8), true), 32), 1);
        assert_eq!(lane_cap(&settings(Some(4), None, false), 32), 32);
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_slots_are_spaced_and_survive_idle_lanes() {
        let pacing = Pacing::default();
        let s = settings(Some(4), None, false);
        let id = s.endpoint_id.clone();
        assert_eq!(pacing.take_slot(&id), None, "not owned");
        pacing.own(vec![s]);
        let t0 = Instant::now();
        let slots: Vec<Instant> = (0..3).map(|_| pacing.take_slot(&id).unwrap()).collect();
        assert_eq!(
            slots,
            [
                t0,
                t0 + Duration::from_millis(250),
                t0 + Duration::from_millis(500)
            ]
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            pacing.take_slot(&id),
            Some(Instant::now()),
            "no debt is carried"
        );
    }
}
