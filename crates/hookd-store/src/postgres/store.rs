//! The [`Store`] impl of [`PostgresStore`]: each call takes a pooled connection and runs
//! its area's SQL on it, under the call deadline (`conns`). A connection the server
//! dropped is replaced at the next checkout; one whose call was cut short is discarded.

use super::codec::pg_error;
use super::{
    apps, attempts, endpoints, event_types, failure, flow, ingest, messages, queue, retention,
    sources, PostgresStore,
};
use crate::{
    AppStore, EndpointStore, EventTypeStore, FlowStore, IdempotencyStore, IngestStore,
    MessageStore, QueueStore, RecoveryStore, RetentionStore, SourceStore, Store,
};
use crate::{
    AttemptFilter, ClaimedDelivery, DeliveryOutcome, FlowEndpoint, IdempotencyClaim,
    IdempotencyRecord, IdempotencyReservation, IngestDedup, IngestWrite, MessageFilter, Page,
    PageRequest, StoreResult,
};
use crate::{DisabledEndpoint, EndpointResult, Forward, QueueStats, RecoveryTask};
use crate::{SchemaVersion, StoreMetrics};
use async_trait::async_trait;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId, TaskId};
use hookd_core::model::{
    Application, Attempt, DisabledReason, Endpoint, EventType, IngestForward, IngestRejection,
    IngestSource, Message, MessageDestination,
};
use hookd_core::Timestamp;
use std::sync::Arc;
use tokio::sync::Notify;

#[async_trait]
impl AppStore for PostgresStore {
    async fn create_app(&self, app: &Application) -> StoreResult<()> {
        self.conns.call(async |c| apps::insert(c, app).await).await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        self.conns
            .call(async |c| apps::get(c, id_or_uid).await)
            .await
    }

    async fn list_apps(&self, page: &PageRequest) -> StoreResult<Page<Application>> {
        self.conns.call(async |c| apps::list(c, page).await).await
    }

    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        self.conns.call(async |c| apps::update(c, app).await).await
    }

    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        self.conns.call(async |c| apps::delete(c, id).await).await
    }
}

#[async_trait]
impl EventTypeStore for PostgresStore {
    async fn create_event_type(&self, et: &EventType) -> StoreResult<()> {
        self.conns
            .call(async |c| event_types::insert(c, et).await)
            .await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        self.conns
            .call(async |c| event_types::get(c, name).await)
            .await
    }

    async fn list_event_types(
        &self,
        page: &PageRequest,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>> {
        self.conns
            .call(async |c| event_types::list(c, page, include_archived).await)
            .await
    }

    async fn update_event_type(&self, et: &EventType) -> StoreResult<()> {
        self.conns
            .call(async |c| event_types::update(c, et).await)
            .await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        self.conns
            .call(async |c| event_types::delete(c, name).await)
            .await
    }
}

#[async_trait]
impl EndpointStore for PostgresStore {
    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        self.conns
            .call(async |c| endpoints::insert(c, &self.codec, ep).await)
            .await
    }

    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint> {
        self.conns
            .call(async |c| endpoints::get(c, &self.codec, app, id_or_uid).await)
            .await
    }

    async fn list_endpoints(&self, app: &AppId, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        self.conns
            .call(async |c| endpoints::list(c, &self.codec, app, page).await)
            .await
    }

    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>> {
        self.conns
            .call(async |c| endpoints::all(c, &self.codec, app).await)
            .await
    }

    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        self.conns
            .call(async |c| endpoints::update(c, &self.codec, ep).await)
            .await
    }

    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: Option<DisabledReason>,
    ) -> StoreResult<()> {
        self.conns
            .call(async |c| endpoints::set_disabled(c, app, id, disabled).await)
            .await
    }

    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()> {
        self.conns
            .call(async |c| endpoints::delete(c, app, id).await)
            .await
    }

    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<crate::EndpointStats> {
        let (lo, hi) = crate::msg_id_range(since, until);
        self.conns
            .call(async |c| queue::endpoint_stats(c, app, endpoint, &lo, &hi).await)
            .await
    }

    async fn note_endpoint_results(
        &self,
        results: &[EndpointResult],
        disable_failing_since: Timestamp,
    ) -> StoreResult<Vec<DisabledEndpoint>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        self.conns
            .call(async |c| failure::note_results(c, results, disable_failing_since).await)
            .await
    }

    async fn endpoint_failing_since(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
    ) -> StoreResult<Option<Timestamp>> {
        self.conns
            .call(async |c| failure::failing_since(c, app, endpoint).await)
            .await
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        self.messages.insert(msg, dests).await
    }

    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Message> {
        self.conns
            .call(async |c| messages::get(c, app, id_or_event_id).await)
            .await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.conns
            .call(async |c| messages::list(c, app, filter, page).await)
            .await
    }

    async fn list_destinations(
        &self,
        app: &AppId,
        msg: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>> {
        self.conns
            .call(async |c| messages::destinations(c, app, msg).await)
            .await
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        self.conns
            .call(async |c| attempts::list(c, app, filter, page).await)
            .await
    }

    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt> {
        self.conns
            .call(async |c| attempts::get(c, app, msg, id).await)
            .await
    }
}

#[async_trait]
impl QueueStore for PostgresStore {
    async fn queue_stats(&self, now: Timestamp, worst: usize) -> StoreResult<QueueStats> {
        self.conns
            .call(async |c| queue::stats(c, now, worst).await)
            .await
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        owner: &str,
        exclude: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.conns
            .call(async |c| queue::claim_due(c, now, limit, lease_until, owner, exclude).await)
            .await
    }

    async fn record_outcome(&self, outcome: &DeliveryOutcome) -> StoreResult<()> {
        self.conns
            .call(async |c| queue::record_outcomes(c, std::slice::from_ref(outcome)).await)
            .await
    }

    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
        self.conns
            .call(async |c| queue::record_outcomes(c, outcomes).await)
            .await
    }

    async fn requeue(&self, dest: &MessageDestination) -> StoreResult<()> {
        self.conns
            .call(async |c| queue::requeue(c, dest, &self.channel).await)
            .await
    }

    async fn renew_leases(
        &self,
        owner: &str,
        keys: &[(MsgId, EndpointId)],
        lease_until: Timestamp,
    ) -> StoreResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.conns
            .call(async |c| queue::renew_leases(c, owner, keys, lease_until).await)
            .await
    }

    async fn release_all_leases(&self, now: Timestamp) -> StoreResult<u64> {
        self.conns
            .call(async |c| queue::release_all_leases(c, now).await)
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        self.conns.call(async |c| queue::next_due_at(c).await).await
    }

    fn due_signal(&self) -> Option<Arc<Notify>> {
        Some(self.due.clone())
    }
}

#[async_trait]
impl FlowStore for PostgresStore {
    async fn acquire_flow_endpoints(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>> {
        self.conns
            .call(async |c| flow::acquire(c, owner, now, lease_until, max).await)
            .await
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
        self.conns
            .call(async |c| flow::claim(c, endpoint, fifo, now, limit, lease_until, owner).await)
            .await
    }

    async fn release_flow_endpoints(&self, owner: &str) -> StoreResult<()> {
        self.conns
            .call(async |c| flow::release(c, owner).await)
            .await
    }
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn reserve_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation> {
        let found = self
            .conns
            .call(async |c| retention::reserve(c, claim).await)
            .await?;
        self.codec.open_reservation(&claim.key, found)
    }

    async fn complete_idempotency_key(
        &self,
        key: &str,
        token: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<bool> {
        let body = self.codec.seal_response(key, body);
        self.conns
            .call(async |c| retention::complete(c, key, token, status, &body).await)
            .await
    }

    async fn get_idempotency_key(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let found = self
            .conns
            .call(async |c| retention::get_key(c, key, now).await)
            .await?;
        found.map(|r| self.codec.open_record(key, r)).transpose()
    }

    async fn release_idempotency_key(&self, key: &str, token: &str) -> StoreResult<()> {
        self.conns
            .call(async |c| retention::release(c, key, token).await)
            .await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        self.conns
            .call(async |c| retention::purge_keys(c, now, limit).await)
            .await
    }
}

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn expunge_message_content(&self, app: &AppId, msg: &MsgId) -> StoreResult<()> {
        self.conns
            .call(async |c| retention::expunge_message(c, app, msg).await)
            .await
    }

    async fn expunge_attempt_content(
        &self,
        app: &AppId,
        msg: &MsgId,
        attempt: &AttemptId,
    ) -> StoreResult<()> {
        self.conns
            .call(async |c| retention::expunge_attempt(c, app, msg, attempt).await)
            .await
    }

    async fn purge_expired_payloads(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        self.conns
            .call(async |c| retention::purge_payloads(c, now, limit).await)
            .await
    }

    async fn purge_attempts(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.conns
            .call(async |c| retention::purge_attempts(c, before, limit).await)
            .await
    }

    async fn purge_ingest_records(
        &self,
        now: Timestamp,
        rejections_before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        self.conns
            .call(async |c| ingest::purge(c, now, rejections_before, limit).await)
            .await
    }
}

#[async_trait]
impl RecoveryStore for PostgresStore {
    async fn create_recovery(&self, task: &RecoveryTask) -> StoreResult<()> {
        self.conns
            .call(async |c| failure::insert_task(c, task).await)
            .await
    }

    async fn get_recovery(&self, id: &str) -> StoreResult<RecoveryTask> {
        self.conns
            .call(async |c| failure::get_task(c, id).await)
            .await
    }

    async fn list_recoveries(&self, page: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
        self.conns
            .call(async |c| failure::list_tasks(c, page).await)
            .await
    }

    async fn claim_recovery(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        self.conns
            .call(async |c| failure::claim_task(c, owner, now, lease_until).await)
            .await
    }

    async fn recovery_step(
        &self,
        id: &TaskId,
        owner: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        let channel = &self.channel;
        self.conns
            .call(async |c| failure::step(c, id, owner, limit, now, lease_until, channel).await)
            .await
    }
}

#[async_trait]
impl SourceStore for PostgresStore {
    async fn create_source(&self, source: &IngestSource) -> StoreResult<()> {
        self.conns
            .call(async |c| sources::insert(c, &self.codec, source).await)
            .await
    }

    async fn get_source(&self, id_or_uid: &str) -> StoreResult<IngestSource> {
        self.conns
            .call(async |c| sources::get(c, &self.codec, id_or_uid).await)
            .await
    }

    async fn list_sources(&self, page: &PageRequest) -> StoreResult<Page<IngestSource>> {
        self.conns
            .call(async |c| sources::list(c, &self.codec, page).await)
            .await
    }

    async fn update_source(&self, source: &IngestSource) -> StoreResult<()> {
        self.conns
            .call(async |c| sources::update(c, &self.codec, source).await)
            .await
    }

    async fn delete_source(&self, id: &SourceId) -> StoreResult<()> {
        self.conns
            .call(async |c| sources::delete(c, id).await)
            .await
    }

    async fn get_source_by_token(&self, token: &str, now: Timestamp) -> StoreResult<IngestSource> {
        self.conns
            .call(async |c| sources::get_by_token(c, &self.codec, token, now).await)
            .await
    }
}

#[async_trait]
impl IngestStore for PostgresStore {
    async fn create_ingest_message(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &IngestForward,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        let forward = crate::forward::encode(forward)?;
        self.messages
            .insert_ingest(msg, dests, &forward, dedup)
            .await
    }

    async fn get_message_forward(&self, msg: &MsgId) -> StoreResult<Option<Forward>> {
        let stored = self
            .conns
            .call(async |c| ingest::forward(c, msg).await)
            .await?;
        Ok(stored.as_deref().map(crate::forward::decode))
    }

    async fn record_ingest_rejection(&self, rejection: &IngestRejection) -> StoreResult<()> {
        self.conns
            .call(async |c| ingest::insert_rejection(c, rejection).await)
            .await
    }

    async fn list_ingest_rejections(
        &self,
        source: &SourceId,
        page: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>> {
        self.conns
            .call(async |c| ingest::list_rejections(c, source, page).await)
            .await
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn metrics(&self) -> &StoreMetrics {
        self.conns.metrics()
    }

    async fn schema_version(&self) -> StoreResult<SchemaVersion> {
        self.conns
            .call(async |c| super::migrations::version(c).await)
            .await
    }

    async fn health(&self) -> StoreResult<()> {
        self.conns
            .call(async |c| {
                c.simple_query("SELECT 1")
                    .await
                    .map_err(|e| pg_error(e, "checking the database"))?;
                Ok(())
            })
            .await
    }
}
