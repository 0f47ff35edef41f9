//! Flow-controlled endpoints: throttle (`rate_limit`, deliveries per second), concurrency
//! cap (`max_concurrency`) and FIFO order, enforced across the whole cluster.
//!
//! The store marks every destination of such an endpoint; the generic poller never sees
//! marked rows. Instead each endpoint is *owned* by one node at a time (a lease in the
//! store, renewed every second, given up at shutdown, taken over by another node when
//! the owner dies), and only the owner claims its deliveries, here, through
//! `Store::claim_flow`. Because a single node sends everything for the endpoint, the
//! limits are plain local ones, applied by the endpoint's lane in `dispatcher`: at most
//! `max_concurrency` workers (one for FIFO) and one send slot every `1/rate` seconds.
//! A worker waiting for its slot holds no global permit, so a throttled endpoint never
//! holds up any other.
//!
//! What gets claimed: FIFO, the endpoint's first pending delivery, only when nothing of
//! the endpoint is held here (the store also refuses while it is leased or waits for a
//! retry); otherwise up to about two seconds of throttled work, or the lane's room. An
//! endpoint with nothing more due is left alone until the poll interval passes or
//! something wakes it: one of its outcomes was recorded, a message or resend arrived
//! (`Engine::wake`), or another node signalled new work (the poller passes the store's
//! due signal on). The idle wait doubles while nothing comes, up to five seconds, so a
//! retry of a flow-controlled delivery may start up to that much after it is due. Endpoints that use none of this cost nothing: with no flow-controlled
//! endpoint, this task runs one small query a second.

use crate::dispatcher;
use crate::engine::Shared;
use hookd_core::ids::EndpointId;
use hookd_core::Timestamp;
use hookd_store::FlowEndpoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often ownership is renewed and new flow-controlled endpoints are taken.
const REFRESH: Duration = Duration::from_secs(1);
/// Most endpoints newly taken per refresh (the rest are left to other nodes, or the next
/// refresh).
const TAKE_PER_REFRESH: u32 = 256;
/// Longest an owned endpoint with nothing due is left alone (unless woken).
const MAX_IDLE: Duration = Duration::from_secs(5);
/// A throttled endpoint gets about this much work claimed ahead of its send slots.
const THROTTLE_AHEAD_SECS: u64 = 2;

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
pub(crate) struct Flow {
    state: Mutex<State>,
    wake: Notify,
}

impl Flow {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something of `endpoint` settled here: look for its next deliveries now.
    pub fn kick(&self, endpoint: &EndpointId) {
        let mut st = self.lock();
        if let Some(o) = st.owned.get_mut(endpoint) {
            o.idle_until = None;
            o.idle_streak = 0;
            drop(st);
            self.wake.notify_one();
        }
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
    fn rest(&self, endpoint: &EndpointId, base: Duration) {
        let mut st = self.lock();
        if let Some(o) = st.owned.get_mut(endpoint) {
            let wait = base.saturating_mul(1 << o.idle_streak.min(8)).min(MAX_IDLE);
            o.idle_until = Some(Instant::now() + wait);
            o.idle_streak = o.idle_streak.saturating_add(1);
        }
    }

    /// New work may have arrived for any endpoint (a message, a resend): look again now.
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

/// Runs until shutdown, then gives the endpoints up.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut next_refresh = Instant::now();
    loop {
        if shared.shutdown.is_cancelled() {
            break;
        }
        if Instant::now() >= next_refresh {
            refresh(&shared).await;
            next_refresh = Instant::now() + REFRESH;
        }
        claim_round(&shared).await;
        let wake_at = earliest_idle_end(&shared).map_or(next_refresh, |t| t.min(next_refresh));
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = shared.flow.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
    shared.flow.lock().owned.clear();
}

/// Gives up this node's endpoints (after its deliveries stopped), so another node takes
/// them at once.
pub(crate) async fn release(shared: &Shared) {
    if let Err(e) = shared
        .store
        .release_flow_endpoints(&shared.config.node_id)
        .await
    {
        tracing::warn!(error = %e, "giving up flow-controlled endpoints failed; their ownership will expire");
    }
}

/// Renews ownership, takes free endpoints and reads every owned endpoint's settings.
async fn refresh(shared: &Shared) {
    let now = Timestamp::now();
    let lease_ms = i64::try_from(shared.config.lease.as_millis()).unwrap_or(i64::MAX);
    let acquired = shared
        .store
        .acquire_flow_endpoints(
            &shared.config.node_id,
            now,
            now.plus_millis(lease_ms),
            TAKE_PER_REFRESH,
        )
        .await;
    let endpoints = match acquired {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "renewing flow-controlled endpoints failed; will try again");
            return;
        }
    };
    let mut st = shared.flow.lock();
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

/// Claims for every owned endpoint that is not idle and has room.
async fn claim_round(shared: &Arc<Shared>) {
    let cfg = &shared.config;
    let now = Instant::now();
    let candidates: Vec<FlowEndpoint> = {
        let st = shared.flow.lock();
        st.owned
            .values()
            .filter(|o| o.idle_until.is_none_or(|t| t <= now))
            .map(|o| o.settings.clone())
            .collect()
    };
    for settings in candidates {
        if shared.shutdown.is_cancelled() {
            return;
        }
        let held = shared.lanes.held_by(&settings.endpoint_id);
        let room_total = shared.lanes.room(cfg.max_queued, usize::MAX).0;
        let want = if settings.fifo {
            usize::from(held == 0)
        } else {
            let target = settings
                .rate_limit
                .map_or(usize::MAX, |r| {
                    (u64::from(r) * THROTTLE_AHEAD_SECS).max(1) as usize
                })
                .min(cfg.max_queued_per_endpoint);
            // Refill once half of what is held has gone (each settled delivery wakes this
            // task, so a full lane is looked at again in time).
            if held * 2 > target {
                0
            } else {
                (target - held).min(room_total).min(crate::poller::BATCH)
            }
        };
        if want == 0 {
            continue;
        }
        let t = Timestamp::now();
        let lease_ms = i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX);
        let claimed = shared
            .store
            .claim_flow(
                &settings.endpoint_id,
                settings.fifo,
                t,
                want as u32,
                t.plus_millis(lease_ms),
                &cfg.node_id,
            )
            .await;
        match claimed {
            Ok(batch) => {
                let got = batch.len();
                if got > 0 {
                    dispatcher::enqueue_flow(shared, &settings, batch);
                }
                if got < want {
                    shared.flow.rest(&settings.endpoint_id, cfg.poll_interval);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, endpoint.id = %settings.endpoint_id, "claiming flow-controlled deliveries failed");
                shared.flow.rest(&settings.endpoint_id, cfg.poll_interval);
            }
        }
    }
}

/// The earliest time an idle endpoint should be looked at again.
fn earliest_idle_end(shared: &Shared) -> Option<Instant> {
    let st = shared.flow.lock();
    st.owned.values().filter_map(|o| o.idle_until).min()
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
        let flow = Flow::default();
        let s = settings(Some(4), None, false);
        let id = s.endpoint_id.clone();
        assert_eq!(flow.take_slot(&id), None, "not owned");
        flow.lock().owned.insert(
            id.clone(),
            Owned {
                settings: s,
                idle_until: None,
                idle_streak: 0,
                next_slot: Instant::now(),
            },
        );
        let t0 = Instant::now();
        let slots: Vec<Instant> = (0..3).map(|_| flow.take_slot(&id).unwrap()).collect();
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
            flow.take_slot(&id),
            Some(Instant::now()),
            "no debt is carried"
        );
    }
}
