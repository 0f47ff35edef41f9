//! The write path: the one way deliveries enter the queue.
//!
//! Every entry point goes through [`Publisher`]: a message from the API, an event from
//! an ingest source, an example sent to an endpoint, an operational webhook, a resend
//! and each step of a recovery. It owns what those have in common, so no caller has to
//! repeat it or get it subtly wrong:
//!
//! 1. *Admit*: reserve in-memory room (`lanes`) for the deliveries that may go straight
//!    to the dispatcher. A flow-controlled endpoint's deliveries never do (the node that
//!    owns the endpoint claims them), and nothing is admitted once shutdown began.
//! 2. *Commit*: write the rows through the store (one call; the store group-commits it
//!    with other writers'). An admitted row is written as already claimed by this node
//!    (its lease owner, and the lease end as its `next_attempt_at`); the rest unclaimed
//!    and due now. Lease columns are filled here and in the store's claims, nowhere else.
//! 3. *Hand over*: only after the commit, queue the admitted deliveries in the dispatcher
//!    without a claim query, and tell the poller or the flow task about unclaimed work.
//!    If the commit fails (or writes nothing, a duplicate ingest event), the reservation
//!    is dropped and its room given back.
//!
//! A type, not a free function, because the engine's own operational-webhook sender
//! and recovery worker publish too and should hold this handle rather than the whole
//! engine; `Engine::publish`, `publish_ingest` and `resend` are its public face.

use crate::dispatcher::Dispatcher;
use crate::lanes::Lanes;
use crate::lease::Claimant;
use crate::pacing::Pacing;
use crate::signal::PollerSignal;
use hookd_core::ids::{EndpointId, TaskId};
use hookd_core::model::{
    DeliveryStatus, Endpoint, IngestForward, Message, MessageDestination, TriggerType,
};
use hookd_core::trace::{SpanKind, Tracer};
use hookd_core::Timestamp;
use hookd_store::{
    ClaimedDelivery, Forward, IngestDedup, IngestWrite, RecoveryTask, Store, StoreResult,
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How an event received through an ingest source is written, besides its message.
#[derive(Clone, Debug)]
pub struct IngestEvent<'a> {
    /// The forwarding metadata, handed back with every claim.
    pub forward: IngestForward,
    /// The provider's event id within its source, for de-duplication.
    pub dedup: Option<&'a IngestDedup>,
}

/// The write path's handle. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Publisher {
    pub store: Arc<dyn Store>,
    /// Where admission reserves room.
    pub lanes: Arc<Lanes>,
    /// Takes admitted deliveries after their commit.
    pub dispatcher: Dispatcher,
    /// The owner and lease end written on admitted rows.
    pub claimant: Claimant,
    /// Told about unclaimed work.
    pub poller: Arc<PollerSignal>,
    /// Told about work for flow-controlled endpoints.
    pub pacing: Arc<Pacing>,
    /// Once cancelled, nothing is admitted.
    pub shutdown: CancellationToken,
    /// Records the commit span of a traced message.
    pub tracer: Tracer,
}

impl Publisher {
    /// Commits `msg` with one destination per target and hands the deliveries this node
    /// had room for straight to the dispatcher (the rest are claimed by a poller). With
    /// `ingest`, the message is an ingest event: a duplicate writes and hands over nothing.
    /// A `Conflict` error means the app already has the message's `eventId`.
    pub async fn publish(
        &self,
        msg: &Message,
        targets: &[&Endpoint],
        ingest: Option<IngestEvent<'_>>,
    ) -> StoreResult<IngestWrite> {
        let now = msg.created_at;
        let (paced, direct): (Vec<&Endpoint>, Vec<&Endpoint>) =
            targets.iter().partition(|ep| ep.is_flow_controlled());
        let direct: Vec<EndpointId> = direct.iter().map(|ep| ep.id.clone()).collect();
        let admission = (!direct.is_empty()).then(|| self.admit(&direct));
        let paced: Vec<EndpointId> = paced.iter().map(|ep| ep.id.clone()).collect();
        let dests: Vec<MessageDestination> = direct
            .into_iter()
            .enumerate()
            .map(|(i, ep)| (ep, admission.as_ref().and_then(|a| a.lease_at(i))))
            .chain(paced.iter().map(|id| (id.clone(), None)))
            .map(|(endpoint_id, lease_until)| MessageDestination {
                msg_id: msg.id.clone(),
                endpoint_id,
                app_id: msg.app_id.clone(),
                status: DeliveryStatus::Pending,
                attempt_count: 0,
                next_attempt_at: Some(lease_until.unwrap_or(now)),
                last_attempt_at: None,
                trigger: TriggerType::Scheduled,
                lease_owner: lease_until.map(|_| self.claimant.node_id.clone()),
            })
            .collect();

        // The commit span: a child of the request that brought the message (none for a
        // message no request brought, such as an operational webhook).
        let mut span = msg.trace.as_ref().and_then(|parent| {
            self.tracer
                .start("commit", SpanKind::Internal, Some(parent))
        });
        let written = match &ingest {
            Some(i) => {
                self.store
                    .create_ingest_message(msg, &dests, &i.forward, i.dedup)
                    .await
            }
            None => self
                .store
                .create_message(msg, &dests)
                .await
                .map(|()| IngestWrite::Created),
        };
        if let Some(span) = &mut span {
            span.set("hookd.app.id", msg.app_id.to_string());
            span.set("hookd.msg.id", msg.id.to_string());
            span.set("hookd.deliveries", dests.len() as i64);
            match &written {
                Ok(IngestWrite::Created) => span.set_ok(),
                Ok(IngestWrite::Duplicate(_)) => {
                    span.set("hookd.ingest.duplicate", true);
                    span.set_ok();
                }
                Err(e) => span.set_error(store_error_kind(e)),
            }
        }
        drop(span);
        let written = written?;
        if let duplicate @ IngestWrite::Duplicate(_) = written {
            // Nothing was written: the admission's room is given back as it drops.
            return Ok(duplicate);
        }
        if targets.is_empty() {
            log_unrouted(msg);
        }

        if let Some(admission) = admission {
            let forward = ingest.map(|i| Forward::Meta(Arc::new(i.forward)));
            let work: Vec<ClaimedDelivery> = dests
                .into_iter()
                .filter(|d| d.lease_owner.is_some())
                .map(|dest| ClaimedDelivery {
                    dest,
                    event_type: msg.event_type.clone(),
                    payload: msg.payload.clone(),
                    forward: forward.clone(),
                    taken_over: false,
                    trace: msg.trace,
                })
                .collect();
            self.hand_over(admission, work);
        }
        for ep in &paced {
            self.pacing.kick(ep);
        }
        Ok(IngestWrite::Created)
    }

    /// Writes the delivery of `msg` to `endpoint` as pending again (a manual resend; the
    /// row is created if the message never went to that endpoint), then hands it to the
    /// dispatcher if there is room, else to the poller. An ingest event is resent as it
    /// was forwarded.
    pub async fn resend(&self, msg: Message, endpoint: &Endpoint) -> StoreResult<()> {
        let forward = self.store.get_message_forward(&msg.id).await?;
        // A flow-controlled endpoint's deliveries are claimed by the node that owns it.
        let paced = endpoint.is_flow_controlled();
        let admission = self.admit(if paced {
            &[]
        } else {
            std::slice::from_ref(&endpoint.id)
        });
        let lease_until = admission.lease_at(0);
        let dest = MessageDestination {
            msg_id: msg.id.clone(),
            endpoint_id: endpoint.id.clone(),
            app_id: msg.app_id.clone(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(lease_until.unwrap_or_else(Timestamp::now)),
            last_attempt_at: None,
            trigger: TriggerType::Manual,
            lease_owner: lease_until.map(|_| self.claimant.node_id.clone()),
        };
        self.store.requeue(&dest).await?;
        if lease_until.is_some() {
            let work = vec![ClaimedDelivery {
                dest,
                event_type: msg.event_type,
                payload: msg.payload,
                forward,
                taken_over: false,
                trace: msg.trace,
            }];
            self.hand_over(admission, work);
        } else {
            drop(admission);
            self.poller.wake.notify_one();
            if paced {
                self.pacing.kick(&endpoint.id);
            }
        }
        Ok(())
    }

    /// One step of a recovery this node holds: the store requeues up to `limit` of the
    /// endpoint's failed deliveries as due-now manual resends (unclaimed, so they are
    /// claimed only as far as there is room) and renews the task's lease; then the
    /// claimers are told. `None` when the task's lease was lost.
    pub async fn recovery_step(
        &self,
        task: &TaskId,
        limit: u32,
    ) -> StoreResult<Option<RecoveryTask>> {
        let now = Timestamp::now();
        let step = self
            .store
            .recovery_step(
                task,
                &self.claimant.node_id,
                limit,
                now,
                self.claimant.lease_until(now),
            )
            .await?;
        if let Some(t) = &step {
            self.poller.wake.notify_one();
            // The endpoint may be flow-controlled and owned here.
            self.pacing.kick(&t.endpoint_id);
        }
        Ok(step)
    }

    /// Reserves in-memory room for deliveries to `endpoints` (one entry per destination).
    fn admit(&self, endpoints: &[EndpointId]) -> Admission {
        Admission::take(
            &self.lanes,
            endpoints,
            self.claimant.lease_until(Timestamp::now()),
            !self.shutdown.is_cancelled(),
        )
    }

    /// Hands committed, admitted deliveries to the dispatcher (only those that were
    /// admitted, in the same order), trading in their reservations.
    fn hand_over(&self, mut admission: Admission, work: Vec<ClaimedDelivery>) {
        let reserved = std::mem::take(&mut admission.reserved);
        self.dispatcher.enqueue(&reserved, work);
    }
}

/// The span status message of a failed commit: the error's kind, never its text.
fn store_error_kind(e: &hookd_store::StoreError) -> &'static str {
    match e {
        hookd_store::StoreError::NotFound => "not_found",
        hookd_store::StoreError::Conflict(_) => "conflict",
        hookd_store::StoreError::Unavailable(_) => "unavailable",
        hookd_store::StoreError::StorageFull(_) => "storage_full",
        _ => "store_error",
    }
}

/// Room reserved in memory for a new message's deliveries, taken before its commit.
/// Dropping it without handing it over gives the room back.
struct Admission {
    /// The lease end to write as admitted rows' `next_attempt_at`.
    lease_until: Timestamp,
    /// Per requested endpoint, in order: whether it was admitted. Destinations not admitted
    /// are written unclaimed and due now; the poller picks them up when there is room.
    admitted: Vec<bool>,
    /// The admitted endpoints, whose room is given back if this is dropped.
    reserved: Vec<EndpointId>,
    lanes: Arc<Lanes>,
}

impl Admission {
    /// Reserves room for `endpoints` in `lanes`; with `open` false, admits none.
    fn take(
        lanes: &Arc<Lanes>,
        endpoints: &[EndpointId],
        lease_until: Timestamp,
        open: bool,
    ) -> Self {
        let admitted = if open {
            lanes.reserve(endpoints)
        } else {
            vec![false; endpoints.len()]
        };
        let reserved = endpoints
            .iter()
            .zip(&admitted)
            .filter(|(_, ok)| **ok)
            .map(|(ep, _)| ep.clone())
            .collect();
        Self {
            lease_until,
            admitted,
            reserved,
            lanes: lanes.clone(),
        }
    }

    /// The lease end of the `i`th requested endpoint if it was admitted.
    fn lease_at(&self, i: usize) -> Option<Timestamp> {
        self.admitted
            .get(i)
            .copied()
            .unwrap_or(false)
            .then_some(self.lease_until)
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.reserved.is_empty() {
            self.lanes.release(&self.reserved);
        }
    }
}

/// One line a second at most for messages that reach no endpoint.
static UNROUTED: hookd_store::RateLimitedLog = hookd_store::RateLimitedLog::new();

/// A message accepted with no endpoint to deliver it to (Svix accepts it too): say so
/// where an operator looks, since the API's 202 cannot.
fn log_unrouted(msg: &Message) {
    if let Some(suppressed) = UNROUTED.admit() {
        tracing::info!(
            app.id = %msg.app_id,
            msg.id = %msg.id,
            event_type = %msg.event_type,
            suppressed,
            "accepted a message that matches no endpoint: it will not be delivered"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_admission_gives_its_room_back() {
        let lanes = Arc::new(Lanes::new(20_000, 1));
        let ep = EndpointId::generate();
        let at = Timestamp::now();
        let first = Admission::take(&lanes, std::slice::from_ref(&ep), at, true);
        assert_eq!(first.admitted, [true]);
        assert_eq!(first.lease_at(0), Some(at));
        let second = Admission::take(&lanes, std::slice::from_ref(&ep), at, true);
        assert_eq!(second.admitted, [false]);
        assert_eq!(second.lease_at(0), None);
        drop(second);
        drop(first);
        let both = Admission::take(&lanes, &[ep.clone(), ep], at, true);
        assert_eq!(both.admitted, [true, false]);
    }

    #[test]
    fn nothing_is_admitted_once_closed() {
        let lanes = Arc::new(Lanes::new(20_000, 2_000));
        let ep = EndpointId::generate();
        let closed = Admission::take(&lanes, &[ep.clone(), ep], Timestamp::now(), false);
        assert_eq!(closed.admitted, [false, false]);
        assert_eq!(lanes.room_total(), 20_000);
    }
}
