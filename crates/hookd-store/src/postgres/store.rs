//! The [`Store`] impl of [`PostgresStore`]: each call takes a pooled connection and runs
//! its area's SQL on it. A connection the server dropped is replaced at the next checkout.

use super::codec::{pg_error, pool_error};
use super::{
    apps, attempts, endpoints, event_types, failure, flow, ingest, messages, queue, retention,
    sources, PostgresStore,
};
use crate::{
    AttemptFilter, ClaimedDelivery, DeliveryOutcome, FlowEndpoint, IdempotencyClaim,
    IdempotencyRecord, IdempotencyReservation, IngestDedup, IngestWrite, MessageFilter, Page,
    PageRequest, Store, StoreError, StoreResult,
};
use crate::{DisabledEndpoint, EndpointResult, RecoveryTask};
use async_trait::async_trait;
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId, TaskId};
use hookd_core::model::{
    Application, Attempt, Endpoint, EventType, IngestRejection, IngestSource, Message,
    MessageDestination,
};
use hookd_core::Timestamp;
use std::sync::Arc;
use tokio::sync::Notify;

impl PostgresStore {
    async fn client(&self) -> StoreResult<Client> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn health(&self) -> StoreResult<()> {
        let check = async {
            let client = self.client().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| pg_error(e, "checking the database"))?;
            Ok(())
        };
        tokio::time::timeout(self.health_timeout, check)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the database did not answer in time".into(),
                ))
            })
    }

    async fn create_app(&self, app: &Application) -> StoreResult<()> {
        apps::insert(&self.client().await?, app).await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        apps::get(&self.client().await?, id_or_uid).await
    }

    async fn list_apps(&self, page: &PageRequest) -> StoreResult<Page<Application>> {
        apps::list(&self.client().await?, page).await
    }

    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        apps::update(&self.client().await?, app).await
    }

    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        apps::delete(&self.client().await?, id).await
    }

    async fn create_event_type(&self, et: &EventType) -> StoreResult<()> {
        event_types::insert(&self.client().await?, et).await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        event_types::get(&self.client().await?, name).await
    }

    async fn list_event_types(
        &self,
        page: &PageRequest,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>> {
        event_types::list(&self.client().await?, page, include_archived).await
    }

    async fn update_event_type(&self, et: &EventType) -> StoreResult<()> {
        event_types::update(&self.client().await?, et).await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        event_types::delete(&self.client().await?, name).await
    }

    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        endpoints::insert(&self.client().await?, &self.codec, ep).await
    }

    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint> {
        endpoints::get(&self.client().await?, &self.codec, app, id_or_uid).await
    }

    async fn list_endpoints(&self, app: &AppId, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        endpoints::list(&self.client().await?, &self.codec, app, page).await
    }

    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>> {
        endpoints::all(&self.client().await?, &self.codec, app).await
    }

    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        endpoints::update(&mut self.client().await?, &self.codec, ep).await
    }

    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: bool,
    ) -> StoreResult<()> {
        endpoints::set_disabled(&self.client().await?, app, id, disabled).await
    }

    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()> {
        endpoints::delete(&self.client().await?, app, id).await
    }

    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        self.messages.insert(msg, dests).await
    }

    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Message> {
        messages::get(&self.client().await?, app, id_or_event_id).await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        messages::list(&self.client().await?, app, filter, page).await
    }

    async fn list_destinations(
        &self,
        app: &AppId,
        msg: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>> {
        messages::destinations(&self.client().await?, app, msg).await
    }

    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<crate::EndpointStats> {
        let (lo, hi) = crate::msg_id_range(since, until);
        queue::endpoint_stats(&self.client().await?, app, endpoint, &lo, &hi).await
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        attempts::list(&self.client().await?, app, filter, page).await
    }

    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt> {
        attempts::get(&self.client().await?, app, msg, id).await
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
        let client = self.client().await?;
        queue::claim_due(&client, now, limit, lease_until, owner, exclude).await
    }

    async fn record_outcome(&self, outcome: &DeliveryOutcome) -> StoreResult<()> {
        queue::record_outcomes(&self.client().await?, std::slice::from_ref(outcome)).await
    }

    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
        queue::record_outcomes(&self.client().await?, outcomes).await
    }

    async fn requeue(&self, dest: &MessageDestination) -> StoreResult<()> {
        queue::requeue(&self.client().await?, dest, &self.channel).await
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
        queue::renew_leases(&self.client().await?, owner, keys, lease_until).await
    }

    async fn release_all_leases(&self, now: Timestamp) -> StoreResult<u64> {
        queue::release_all_leases(&self.client().await?, now).await
    }

    async fn acquire_flow_endpoints(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>> {
        flow::acquire(&self.client().await?, owner, now, lease_until, max).await
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
        let client = self.client().await?;
        flow::claim(&client, endpoint, fifo, now, limit, lease_until, owner).await
    }

    async fn release_flow_endpoints(&self, owner: &str) -> StoreResult<()> {
        flow::release(&self.client().await?, owner).await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        queue::next_due_at(&self.client().await?).await
    }

    fn due_signal(&self) -> Option<Arc<Notify>> {
        Some(self.due.clone())
    }

    async fn reserve_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation> {
        let found = retention::reserve(&self.client().await?, claim).await?;
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
        retention::complete(&self.client().await?, key, token, status, &body).await
    }

    async fn get_idempotency_key(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let found = retention::get_key(&self.client().await?, key, now).await?;
        found.map(|r| self.codec.open_record(key, r)).transpose()
    }

    async fn release_idempotency_key(&self, key: &str, token: &str) -> StoreResult<()> {
        retention::release(&self.client().await?, key, token).await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        retention::purge_keys(&self.client().await?, now, limit).await
    }

    async fn expunge_message_content(&self, app: &AppId, msg: &MsgId) -> StoreResult<()> {
        retention::expunge_message(&self.client().await?, app, msg).await
    }

    async fn expunge_attempt_content(
        &self,
        app: &AppId,
        msg: &MsgId,
        attempt: &AttemptId,
    ) -> StoreResult<()> {
        retention::expunge_attempt(&self.client().await?, app, msg, attempt).await
    }

    async fn purge_expired_payloads(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        retention::purge_payloads(&self.client().await?, now, limit).await
    }

    async fn purge_attempts(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        retention::purge_attempts(&self.client().await?, before, limit).await
    }

    async fn note_endpoint_results(
        &self,
        results: &[EndpointResult],
        disable_failing_since: Timestamp,
    ) -> StoreResult<Vec<DisabledEndpoint>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        failure::note_results(&self.client().await?, results, disable_failing_since).await
    }

    async fn endpoint_failing_since(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
    ) -> StoreResult<Option<Timestamp>> {
        failure::failing_since(&self.client().await?, app, endpoint).await
    }

    async fn create_recovery(&self, task: &RecoveryTask) -> StoreResult<()> {
        failure::insert_task(&self.client().await?, task).await
    }

    async fn get_recovery(&self, id: &str) -> StoreResult<RecoveryTask> {
        failure::get_task(&self.client().await?, id).await
    }

    async fn list_recoveries(&self, page: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
        failure::list_tasks(&self.client().await?, page).await
    }

    async fn claim_recovery(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        failure::claim_task(&self.client().await?, owner, now, lease_until).await
    }

    async fn recovery_step(
        &self,
        id: &TaskId,
        owner: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        let client = self.client().await?;
        failure::step(&client, id, owner, limit, now, lease_until, &self.channel).await
    }

    async fn create_source(&self, source: &IngestSource) -> StoreResult<()> {
        sources::insert(&self.client().await?, &self.codec, source).await
    }

    async fn get_source(&self, id_or_uid: &str) -> StoreResult<IngestSource> {
        sources::get(&self.client().await?, &self.codec, id_or_uid).await
    }

    async fn list_sources(&self, page: &PageRequest) -> StoreResult<Page<IngestSource>> {
        sources::list(&self.client().await?, &self.codec, page).await
    }

    async fn update_source(&self, source: &IngestSource) -> StoreResult<()> {
        sources::update(&self.client().await?, &self.codec, source).await
    }

    async fn delete_source(&self, id: &SourceId) -> StoreResult<()> {
        sources::delete(&self.client().await?, id).await
    }

    async fn get_source_by_token(&self, token: &str, now: Timestamp) -> StoreResult<IngestSource> {
        sources::get_by_token(&self.client().await?, &self.codec, token, now).await
    }

    async fn create_ingest_message(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &str,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        self.messages
            .insert_ingest(msg, dests, forward, dedup)
            .await
    }

    async fn get_message_forward(&self, msg: &MsgId) -> StoreResult<Option<String>> {
        ingest::forward(&self.client().await?, msg).await
    }

    async fn record_ingest_rejection(&self, rejection: &IngestRejection) -> StoreResult<()> {
        ingest::insert_rejection(&self.client().await?, rejection).await
    }

    async fn list_ingest_rejections(
        &self,
        source: &SourceId,
        page: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>> {
        ingest::list_rejections(&self.client().await?, source, page).await
    }

    async fn purge_ingest_records(
        &self,
        now: Timestamp,
        rejections_before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        ingest::purge(&self.client().await?, now, rejections_before, limit).await
    }
}
