//! An in-memory `Store` with just the queue and endpoint behaviour the engine uses, plus
//! a change signal so tests await outcomes instead of sleeping. Rows a test puts in
//! directly (behind the engine's back, as another node would) raise the store's due
//! signal, as PostgreSQL's NOTIFY does.
//!
//! Stands in for `hookd_store::sqlite::SqliteStore` until that backend lands; the methods
//! the engine never calls panic.
//!
//! Flow control follows the backends' contract: `put_endpoint` keeps the list of
//! flow-controlled endpoints (with their owners) and re-marks pending destinations when an
//! endpoint joins or leaves it; `put_destination` marks a destination of a listed endpoint;
//! marked destinations are claimed only by `claim_flow`.

use async_trait::async_trait;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId, TaskId};
use hookd_core::model::{
    Application, Attempt, DeliveryStatus, Endpoint, EventType, IngestRejection, IngestSource,
    Message, MessageDestination,
};
use hookd_core::Timestamp;
use hookd_store::{
    AppStore, EndpointStore, EventTypeStore, FlowStore, IdempotencyStore, IngestStore,
    MessageStore, QueueStore, RecoveryStore, RetentionStore, SourceStore, Store,
};
use hookd_store::{
    AttemptFilter, ClaimedDelivery, DeliveryOutcome, FlowEndpoint, IdempotencyClaim,
    IdempotencyRecord, IdempotencyReservation, MessageFilter, Page, PageRequest, StoreError,
    StoreResult,
};
use hookd_store::{DisabledEndpoint, EndpointResult, IngestDedup, IngestWrite, RecoveryTask};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

#[derive(Default)]
struct Inner {
    endpoints: HashMap<EndpointId, Endpoint>,
    dests: Vec<ClaimedDelivery>,
    attempts: Vec<Attempt>,
    outcomes: Vec<DeliveryOutcome>,
    /// The flow-controlled endpoints and who holds each (the backends' `flow_endpoints`).
    flow_endpoints: BTreeMap<EndpointId, FlowOwner>,
    /// The destinations marked as flow-controlled (the backends' `flow = 1`).
    marked: HashSet<(MsgId, EndpointId)>,
    /// Destinations as `create_message` wrote them (claimed or not), before any change.
    written: Vec<MessageDestination>,
}

/// The node holding a flow-controlled endpoint, and until when.
#[derive(Default)]
struct FlowOwner {
    owner: Option<String>,
    lease_until: Option<Timestamp>,
}

fn key(d: &MessageDestination) -> (MsgId, EndpointId) {
    (d.msg_id.clone(), d.endpoint_id.clone())
}

impl Inner {
    fn is_marked(&self, d: &MessageDestination) -> bool {
        self.marked.contains(&key(d))
    }

    /// Inserts a destination, marked if its endpoint is flow-controlled.
    fn insert(&mut self, work: ClaimedDelivery) {
        if self.flow_endpoints.contains_key(&work.dest.endpoint_id) {
            self.marked.insert(key(&work.dest));
        }
        self.dests.push(work)
    }

    /// Lists or unlists the endpoint per its settings; re-marks its pending destinations
    /// when that changes.
    fn sync_flow(&mut self, ep: &Endpoint) {
        let flow = ep.is_flow_controlled();
        let changed = if flow {
            let listed = self.flow_endpoints.contains_key(&ep.id);
            self.flow_endpoints.entry(ep.id.clone()).or_default();
            !listed
        } else {
            self.flow_endpoints.remove(&ep.id).is_some()
        };
        if !changed {
            return;
        }
        let pending = self
            .dests
            .iter()
            .filter(|d| d.dest.endpoint_id == ep.id && d.dest.status == DeliveryStatus::Pending);
        let keys: Vec<_> = pending.map(|d| key(&d.dest)).collect();
        for k in keys {
            if flow {
                self.marked.insert(k);
            } else {
                self.marked.remove(&k);
            }
        }
    }
}

pub struct MemStore {
    inner: Mutex<Inner>,
    /// Bumped on every write, so waiters re-check their condition.
    changed: watch::Sender<u64>,
    /// Raised by `put_destination`: due work the engine did not write itself.
    due: Arc<Notify>,
}

impl MemStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::default(),
            changed: watch::channel(0).0,
            due: Arc::new(Notify::new()),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let out = f(&mut self.inner.lock().unwrap());
        self.changed.send_modify(|n| *n += 1);
        out
    }

    pub fn put_endpoint(&self, ep: Endpoint) {
        self.write(|i| {
            i.sync_flow(&ep);
            i.endpoints.insert(ep.id.clone(), ep)
        });
    }

    pub fn endpoint(&self, id: &EndpointId) -> Endpoint {
        self.inner.lock().unwrap().endpoints[id].clone()
    }

    /// Inserts a destination as given (claimed if it has a lease owner, else due at its
    /// `next_attempt_at`), as another node would, and raises the due signal.
    pub fn put_destination(&self, work: ClaimedDelivery) {
        self.write(|i| i.insert(work));
        self.due.notify_one();
    }

    /// The destination as `create_message` wrote it.
    pub fn as_written(&self, msg: &MsgId, ep: &EndpointId) -> MessageDestination {
        let inner = self.inner.lock().unwrap();
        let d = inner
            .written
            .iter()
            .find(|d| &d.msg_id == msg && &d.endpoint_id == ep);
        d.expect("destination written").clone()
    }

    /// Whether the destination is marked as flow-controlled.
    pub fn is_flow_marked(&self, msg: &MsgId, ep: &EndpointId) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.marked.contains(&(msg.clone(), ep.clone()))
    }

    pub fn destination(&self, msg: &MsgId, ep: &EndpointId) -> MessageDestination {
        let inner = self.inner.lock().unwrap();
        let d = inner
            .dests
            .iter()
            .find(|d| &d.dest.msg_id == msg && &d.dest.endpoint_id == ep);
        d.expect("destination exists").dest.clone()
    }

    pub fn attempts(&self, msg: &MsgId, ep: &EndpointId) -> Vec<Attempt> {
        let inner = self.inner.lock().unwrap();
        let mine = |a: &&Attempt| &a.msg_id == msg && &a.endpoint_id == ep;
        inner.attempts.iter().filter(mine).cloned().collect()
    }

    pub fn outcomes(&self, msg: &MsgId, ep: &EndpointId) -> Vec<DeliveryOutcome> {
        let inner = self.inner.lock().unwrap();
        let mine = |o: &&DeliveryOutcome| &o.msg_id == msg && &o.endpoint_id == ep;
        inner.outcomes.iter().filter(mine).cloned().collect()
    }

    /// Waits (up to 10 s) until `cond` holds, re-checking after every write.
    pub async fn wait_until(&self, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let mut rx = self.changed.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while !cond(self) {
                rx.changed().await.expect("store alive");
            }
        });
        waited
            .await
            .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
    }

    /// Waits until the destination is settled (`Success` or `Fail`) and returns it.
    pub async fn settled(&self, msg: &MsgId, ep: &EndpointId) -> MessageDestination {
        self.wait_until("the destination is settled", |s| {
            s.destination(msg, ep).status != DeliveryStatus::Pending
        })
        .await;
        self.destination(msg, ep)
    }
}

#[async_trait]
impl AppStore for MemStore {
    async fn create_app(&self, _: &Application) -> StoreResult<()> {
        unimplemented!()
    }

    async fn get_app(&self, _: &str) -> StoreResult<Application> {
        unimplemented!()
    }

    async fn list_apps(&self, _: &PageRequest) -> StoreResult<Page<Application>> {
        unimplemented!()
    }

    async fn update_app(&self, _: &Application) -> StoreResult<()> {
        unimplemented!()
    }

    async fn delete_app(&self, _: &AppId) -> StoreResult<()> {
        unimplemented!()
    }
}

#[async_trait]
impl EventTypeStore for MemStore {
    async fn create_event_type(&self, _: &EventType) -> StoreResult<()> {
        unimplemented!()
    }

    async fn get_event_type(&self, _: &str) -> StoreResult<EventType> {
        unimplemented!()
    }

    async fn list_event_types(&self, _: &PageRequest, _: bool) -> StoreResult<Page<EventType>> {
        unimplemented!()
    }

    async fn update_event_type(&self, _: &EventType) -> StoreResult<()> {
        unimplemented!()
    }

    async fn delete_event_type(&self, _: &str) -> StoreResult<()> {
        unimplemented!()
    }
}

#[async_trait]
impl EndpointStore for MemStore {
    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        self.put_endpoint(ep.clone());
        Ok(())
    }

    async fn get_endpoint(&self, app: &AppId, id: &str) -> StoreResult<Endpoint> {
        let inner = self.inner.lock().unwrap();
        let found = inner
            .endpoints
            .values()
            .find(|e| &e.app_id == app && e.id.as_str() == id);
        found.cloned().ok_or(StoreError::NotFound)
    }

    async fn list_endpoints(&self, _: &AppId, _: &PageRequest) -> StoreResult<Page<Endpoint>> {
        unimplemented!()
    }

    async fn all_endpoints(&self, _: &AppId) -> StoreResult<Vec<Endpoint>> {
        unimplemented!()
    }

    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        self.put_endpoint(ep.clone());
        Ok(())
    }

    async fn set_endpoint_disabled(&self, _: &AppId, id: &EndpointId, d: bool) -> StoreResult<()> {
        self.write(|i| match i.endpoints.get_mut(id) {
            Some(ep) => {
                ep.disabled = d;
                Ok(())
            }
            None => Err(StoreError::NotFound),
        })
    }

    async fn delete_endpoint(&self, _: &AppId, id: &EndpointId) -> StoreResult<()> {
        self.write(|i| {
            i.endpoints.remove(id);
            i.dests.retain(|d| &d.dest.endpoint_id != id);
            i.marked.retain(|(_, ep)| ep != id);
            i.flow_endpoints.remove(id);
        });
        Ok(())
    }

    async fn endpoint_stats(
        &self,
        _: &AppId,
        _: &EndpointId,
        _: Option<Timestamp>,
        _: Option<Timestamp>,
    ) -> StoreResult<hookd_store::EndpointStats> {
        unimplemented!("the engine never asks for stats")
    }

    async fn note_endpoint_results(
        &self,
        _: &[EndpointResult],
        _: Timestamp,
    ) -> StoreResult<Vec<DisabledEndpoint>> {
        Ok(Vec::new())
    }

    async fn endpoint_failing_since(
        &self,
        _: &AppId,
        _: &EndpointId,
    ) -> StoreResult<Option<Timestamp>> {
        Ok(None)
    }
}

#[async_trait]
impl MessageStore for MemStore {
    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        self.write(|i| {
            for dest in dests {
                i.written.push(dest.clone());
                i.insert(ClaimedDelivery {
                    dest: dest.clone(),
                    event_type: msg.event_type.clone(),
                    payload: msg.payload.clone(),
                    forward: None,
                });
            }
        });
        Ok(())
    }

    async fn get_message(&self, _: &AppId, _: &str) -> StoreResult<Message> {
        unimplemented!()
    }

    async fn list_messages(
        &self,
        _: &AppId,
        _: &MessageFilter,
        _: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        unimplemented!()
    }

    async fn list_destinations(
        &self,
        _: &AppId,
        _: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>> {
        unimplemented!()
    }

    async fn list_attempts(
        &self,
        _: &AppId,
        _: &AttemptFilter,
        _: &PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        unimplemented!()
    }

    async fn get_attempt(&self, _: &AppId, _: &MsgId, _: &AttemptId) -> StoreResult<Attempt> {
        unimplemented!()
    }
}

#[async_trait]
impl QueueStore for MemStore {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        owner: &str,
        exclude: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(self.write(|i| {
            let marked = &i.marked;
            let mut due: Vec<&mut ClaimedDelivery> = i
                .dests
                .iter_mut()
                .filter(|d| {
                    d.dest.status == DeliveryStatus::Pending
                        && d.dest.next_attempt_at.is_some_and(|t| t <= now)
                        && !exclude.contains(&d.dest.endpoint_id)
                        && !marked.contains(&key(&d.dest))
                })
                .collect();
            due.sort_by_key(|d| d.dest.next_attempt_at);
            due.into_iter()
                .take(limit as usize)
                .map(|d| {
                    d.dest.next_attempt_at = Some(lease_until);
                    d.dest.lease_owner = Some(owner.to_owned());
                    d.clone()
                })
                .collect()
        }))
    }

    async fn record_outcome(&self, o: &DeliveryOutcome) -> StoreResult<()> {
        self.write(|i| {
            let Some(d) = i
                .dests
                .iter_mut()
                .find(|d| d.dest.msg_id == o.msg_id && d.dest.endpoint_id == o.endpoint_id)
            else {
                return;
            };
            d.dest.status = o.status;
            d.dest.attempt_count = o.attempt_count;
            d.dest.next_attempt_at = o.next_attempt_at;
            d.dest.lease_owner = None;
            if let Some(a) = &o.attempt {
                d.dest.last_attempt_at = Some(a.created_at);
                i.attempts.push(a.clone());
            }
            i.outcomes.push(o.clone());
        });
        Ok(())
    }

    async fn requeue(&self, _: &MessageDestination) -> StoreResult<()> {
        unimplemented!()
    }

    async fn renew_leases(
        &self,
        owner: &str,
        keys: &[(MsgId, EndpointId)],
        lease_until: Timestamp,
    ) -> StoreResult<u64> {
        Ok(self.write(|i| {
            let mut renewed = 0;
            for d in i.dests.iter_mut() {
                let held = d.dest.status == DeliveryStatus::Pending
                    && d.dest.lease_owner.as_deref() == Some(owner)
                    && keys
                        .iter()
                        .any(|(m, e)| *m == d.dest.msg_id && *e == d.dest.endpoint_id);
                if held {
                    d.dest.next_attempt_at = Some(lease_until);
                    renewed += 1;
                }
            }
            renewed
        }))
    }

    async fn release_all_leases(&self, _: Timestamp) -> StoreResult<u64> {
        unimplemented!()
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        let inner = self.inner.lock().unwrap();
        let pending = inner
            .dests
            .iter()
            .filter(|d| d.dest.status == DeliveryStatus::Pending && !inner.is_marked(&d.dest));
        Ok(pending.filter_map(|d| d.dest.next_attempt_at).min())
    }

    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
        for outcome in outcomes {
            self.record_outcome(outcome).await?;
        }
        Ok(())
    }

    fn due_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.due.clone())
    }
}

#[async_trait]
impl FlowStore for MemStore {
    async fn acquire_flow_endpoints(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>> {
        Ok(self.write(|i| {
            let mut taken = 0;
            for f in i.flow_endpoints.values_mut() {
                let mine = f.owner.as_deref() == Some(owner);
                let free = f.owner.is_none() || f.lease_until.is_some_and(|t| t < now);
                if mine {
                    f.lease_until = Some(lease_until);
                } else if free && taken < max {
                    taken += 1;
                    f.owner = Some(owner.to_owned());
                    f.lease_until = Some(lease_until);
                }
            }
            let held = i
                .flow_endpoints
                .iter()
                .filter(|(_, f)| f.owner.as_deref() == Some(owner));
            held.filter_map(|(id, _)| i.endpoints.get(id))
                .map(|ep| FlowEndpoint {
                    app_id: ep.app_id.clone(),
                    endpoint_id: ep.id.clone(),
                    rate_limit: ep.rate_limit,
                    max_concurrency: ep.max_concurrency,
                    fifo: ep.fifo,
                })
                .collect()
        }))
    }

    async fn claim_flow(
        &self,
        endpoint: &EndpointId,
        fifo: bool,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        owner: &str,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(self.write(|i| {
            let marked = &i.marked;
            let mut pending: Vec<&mut ClaimedDelivery> = i
                .dests
                .iter_mut()
                .filter(|d| {
                    &d.dest.endpoint_id == endpoint
                        && d.dest.status == DeliveryStatus::Pending
                        && marked.contains(&key(&d.dest))
                })
                .collect();
            pending.sort_by(|a, b| a.dest.msg_id.cmp(&b.dest.msg_id));
            let due = |d: &&mut ClaimedDelivery| d.dest.next_attempt_at.is_some_and(|t| t <= now);
            // FIFO: only the head, due or not, is considered; it holds back the rest.
            let considered = if fifo { limit.min(1) } else { u32::MAX };
            pending
                .into_iter()
                .take(considered as usize)
                .filter(due)
                .take(limit as usize)
                .map(|d| {
                    d.dest.next_attempt_at = Some(lease_until);
                    d.dest.lease_owner = Some(owner.to_owned());
                    d.clone()
                })
                .collect()
        }))
    }

    async fn release_flow_endpoints(&self, owner: &str) -> StoreResult<()> {
        self.write(|i| {
            for f in i.flow_endpoints.values_mut() {
                if f.owner.as_deref() == Some(owner) {
                    *f = FlowOwner::default();
                }
            }
        });
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MemStore {
    async fn reserve_idempotency_key(
        &self,
        _: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation> {
        unimplemented!()
    }

    async fn complete_idempotency_key(
        &self,
        _: &str,
        _: &str,
        _: u16,
        _: &[u8],
    ) -> StoreResult<bool> {
        unimplemented!()
    }

    async fn get_idempotency_key(
        &self,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        unimplemented!()
    }

    async fn release_idempotency_key(&self, _: &str, _: &str) -> StoreResult<()> {
        unimplemented!()
    }

    async fn purge_idempotency_keys(&self, _: Timestamp, _: u32) -> StoreResult<u64> {
        unimplemented!()
    }
}

#[async_trait]
impl RetentionStore for MemStore {
    async fn expunge_message_content(&self, _: &AppId, _: &MsgId) -> StoreResult<()> {
        unimplemented!()
    }

    async fn expunge_attempt_content(
        &self,
        _: &AppId,
        _: &MsgId,
        _: &AttemptId,
    ) -> StoreResult<()> {
        unimplemented!()
    }

    async fn purge_expired_payloads(&self, _: Timestamp, _: u32) -> StoreResult<u64> {
        unimplemented!()
    }

    async fn purge_attempts(&self, _: Timestamp, _: u32) -> StoreResult<u64> {
        unimplemented!()
    }

    async fn purge_ingest_records(&self, _: Timestamp, _: Timestamp, _: u32) -> StoreResult<u64> {
        unimplemented!()
    }
}

// MISSING RecoveryStore
// MISSING SourceStore
// MISSING IngestStore
#[async_trait]
impl RecoveryStore for MemStore {
    async fn create_recovery(&self, _: &RecoveryTask) -> StoreResult<()> {
        unimplemented!()
    }

    async fn get_recovery(&self, _: &str) -> StoreResult<RecoveryTask> {
        unimplemented!()
    }

    async fn list_recoveries(&self, _: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
        unimplemented!()
    }

    /// The engine's recovery runner asks; there is never a task here.
    async fn claim_recovery(
        &self,
        _: &str,
        _: Timestamp,
        _: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        Ok(None)
    }

    async fn recovery_step(
        &self,
        _: &TaskId,
        _: &str,
        _: u32,
        _: Timestamp,
        _: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        unimplemented!()
    }
}

#[async_trait]
impl SourceStore for MemStore {
    async fn create_source(&self, _: &IngestSource) -> StoreResult<()> {
        unimplemented!()
    }

    async fn get_source(&self, _: &str) -> StoreResult<IngestSource> {
        unimplemented!()
    }

    async fn list_sources(&self, _: &PageRequest) -> StoreResult<Page<IngestSource>> {
        unimplemented!()
    }

    async fn update_source(&self, _: &IngestSource) -> StoreResult<()> {
        unimplemented!()
    }

    async fn delete_source(&self, _: &SourceId) -> StoreResult<()> {
        unimplemented!()
    }

    async fn get_source_by_token(&self, _: &str, _: Timestamp) -> StoreResult<IngestSource> {
        unimplemented!()
    }
}

#[async_trait]
impl IngestStore for MemStore {
    async fn create_ingest_message(
        &self,
        _: &Message,
        _: &[MessageDestination],
        _: &hookd_core::model::IngestForward,
        _: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        unimplemented!()
    }

    /// Nothing here is an ingest event.
    async fn get_message_forward(&self, _: &MsgId) -> StoreResult<Option<hookd_store::Forward>> {
        Ok(None)
    }

    async fn record_ingest_rejection(&self, _: &IngestRejection) -> StoreResult<()> {
        unimplemented!()
    }

    async fn list_ingest_rejections(
        &self,
        _: &SourceId,
        _: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>> {
        unimplemented!()
    }
}

#[async_trait]
impl Store for MemStore {
    async fn health(&self) -> StoreResult<()> {
        Ok(())
    }
}
