//! The store traits' impls for [`SqliteStore`]: each write is a job for the group-commit writer,
//! each read runs on a pooled reader. The SQL lives in the per-area modules.

use super::{
    apps, attempts, endpoints, event_types, failure, flow, ingest, messages, queue, retention,
    sources, SqliteStore,
};
use crate::{
    AppStore, EndpointStore, EventTypeStore, FlowStore, IdempotencyStore, IngestStore,
    MessageStore, QueueStore, RecoveryStore, RetentionStore, SourceStore, Store,
};
use crate::{
    AttemptFilter, ClaimedDelivery, DeliveryOutcome, FlowEndpoint, IdempotencyClaim,
    IdempotencyRecord, IdempotencyReservation, IngestDedup, IngestWrite, MessageFilter, Page,
    PageRequest, StoreError, StoreResult,
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

#[async_trait]
impl AppStore for SqliteStore {
    async fn create_app(&self, app: &Application) -> StoreResult<()> {
        let app = app.clone();
        self.writer.submit(move |tx| apps::insert(tx, &app)).await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        let key = id_or_uid.to_owned();
        self.readers.run(move |c| apps::get(c, &key)).await
    }

    async fn list_apps(&self, page: &PageRequest) -> StoreResult<Page<Application>> {
        let page = page.clone();
        self.readers.run(move |c| apps::list(c, &page)).await
    }

    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        let app = app.clone();
        self.writer.submit(move |tx| apps::update(tx, &app)).await
    }

    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        let id = id.clone();
        self.writer.submit(move |tx| apps::delete(tx, &id)).await
    }
}

#[async_trait]
impl EventTypeStore for SqliteStore {
    async fn create_event_type(&self, et: &EventType) -> StoreResult<()> {
        let et = et.clone();
        self.writer
            .submit(move |tx| event_types::insert(tx, &et))
            .await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        let name = name.to_owned();
        self.readers.run(move |c| event_types::get(c, &name)).await
    }

    async fn list_event_types(
        &self,
        page: &PageRequest,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>> {
        let page = page.clone();
        self.readers
            .run(move |c| event_types::list(c, &page, include_archived))
            .await
    }

    async fn update_event_type(&self, et: &EventType) -> StoreResult<()> {
        let et = et.clone();
        self.writer
            .submit(move |tx| event_types::update(tx, &et))
            .await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.writer
            .submit(move |tx| event_types::delete(tx, &name))
            .await
    }
}

#[async_trait]
impl EndpointStore for SqliteStore {
    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        let json = endpoints::JsonFields::of(ep, &self.codec)?;
        let ep = ep.clone();
        self.writer
            .submit(move |tx| endpoints::insert(tx, &ep, &json))
            .await
    }

    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint> {
        let (app, key, codec) = (app.clone(), id_or_uid.to_owned(), self.codec.clone());
        self.readers
            .run(move |c| endpoints::get(c, &codec, &app, &key))
            .await
    }

    async fn list_endpoints(&self, app: &AppId, page: &PageRequest) -> StoreResult<Page<Endpoint>> {
        let (app, page, codec) = (app.clone(), page.clone(), self.codec.clone());
        self.readers
            .run(move |c| endpoints::list(c, &codec, &app, &page))
            .await
    }

    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>> {
        let (app, codec) = (app.clone(), self.codec.clone());
        self.readers
            .run(move |c| endpoints::all(c, &codec, &app))
            .await
    }

    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        let json = endpoints::JsonFields::of(ep, &self.codec)?;
        let ep = ep.clone();
        self.writer
            .submit(move |tx| endpoints::update(tx, &ep, &json))
            .await
    }

    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: Option<DisabledReason>,
    ) -> StoreResult<()> {
        let (app, id) = (app.clone(), id.clone());
        self.writer
            .submit(move |tx| endpoints::set_disabled(tx, &app, &id, disabled))
            .await
    }

    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()> {
        let (app, id) = (app.clone(), id.clone());
        self.writer
            .submit(move |tx| endpoints::delete(tx, &app, &id))
            .await
    }

    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<crate::EndpointStats> {
        let (app, endpoint) = (app.clone(), endpoint.clone());
        let (lo, hi) = crate::msg_id_range(since, until);
        self.readers
            .run(move |c| queue::endpoint_stats(c, &app, &endpoint, &lo, &hi))
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
        let results = results.to_vec();
        self.writer
            .submit(move |tx| failure::note_results(tx, &results, disable_failing_since))
            .await
    }

    async fn endpoint_failing_since(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
    ) -> StoreResult<Option<Timestamp>> {
        let (app, endpoint) = (app.clone(), endpoint.clone());
        self.readers
            .run(move |c| failure::failing_since(c, &app, &endpoint))
            .await
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        let (msg, dests) = (msg.clone(), dests.to_vec());
        self.writer
            .submit(move |tx| messages::insert(tx, &msg, &dests, None))
            .await
    }

    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Message> {
        let (app, key) = (app.clone(), id_or_event_id.to_owned());
        self.readers
            .run(move |c| messages::get(c, &app, &key))
            .await
    }

    async fn list_messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let (app, filter, page) = (app.clone(), filter.clone(), page.clone());
        self.readers
            .run(move |c| messages::list(c, &app, &filter, &page))
            .await
    }

    async fn list_destinations(
        &self,
        app: &AppId,
        msg: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>> {
        let (app, msg) = (app.clone(), msg.clone());
        self.readers
            .run(move |c| messages::destinations(c, &app, &msg))
            .await
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        let (app, filter, page) = (app.clone(), filter.clone(), page.clone());
        self.readers
            .run(move |c| attempts::list(c, &app, &filter, &page))
            .await
    }

    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt> {
        let (app, msg, id) = (app.clone(), msg.clone(), id.clone());
        self.readers
            .run(move |c| attempts::get(c, &app, &msg, &id))
            .await
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn queue_stats(&self, now: Timestamp, worst: usize) -> StoreResult<QueueStats> {
        self.readers
            .run(move |conn| queue::stats(conn, now, worst))
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
        let (owner, exclude) = (owner.to_owned(), exclude.to_vec());
        self.writer
            .submit(move |tx| queue::claim_due(tx, now, limit, lease_until, &owner, &exclude))
            .await
    }

    async fn record_outcome(&self, outcome: &DeliveryOutcome) -> StoreResult<()> {
        let outcome = outcome.clone();
        self.writer
            .submit(move |tx| queue::record_outcome(tx, &outcome))
            .await
    }

    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
        let outcomes = outcomes.to_vec();
        self.writer
            .submit(move |tx| {
                outcomes
                    .iter()
                    .try_for_each(|o| queue::record_outcome(tx, o))
            })
            .await
    }

    async fn requeue(&self, dest: &MessageDestination) -> StoreResult<()> {
        let dest = dest.clone();
        self.writer
            .submit(move |tx| queue::requeue(tx, &dest))
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
        let (owner, keys) = (owner.to_owned(), keys.to_vec());
        self.writer
            .submit(move |tx| queue::renew_leases(tx, &owner, &keys, lease_until))
            .await
    }

    async fn release_all_leases(&self, now: Timestamp) -> StoreResult<u64> {
        self.writer
            .submit(move |tx| queue::release_all_leases(tx, now))
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        self.readers.run(queue::next_due_at).await
    }

    /// One process owns the file: nothing else makes work due behind its back.
    fn due_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn acquire_flow_endpoints(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>> {
        let owner = owner.to_owned();
        self.writer
            .submit(move |tx| flow::acquire(tx, &owner, now, lease_until, max))
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
        let (endpoint, owner) = (endpoint.clone(), owner.to_owned());
        self.writer
            .submit(move |tx| flow::claim(tx, &endpoint, fifo, now, limit, lease_until, &owner))
            .await
    }

    async fn release_flow_endpoints(&self, owner: &str) -> StoreResult<()> {
        let owner = owner.to_owned();
        self.writer
            .submit(move |tx| flow::release(tx, &owner))
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn reserve_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation> {
        let claim = claim.clone();
        let key = claim.key.clone();
        let found = self
            .writer
            .submit(move |tx| retention::reserve(tx, &claim))
            .await?;
        self.codec.open_reservation(&key, found)
    }

    async fn complete_idempotency_key(
        &self,
        key: &str,
        token: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<bool> {
        let body = self.codec.seal_response(key, body);
        let (key, token) = (key.to_owned(), token.to_owned());
        self.writer
            .submit(move |tx| retention::complete(tx, &key, &token, status, &body))
            .await
    }

    async fn get_idempotency_key(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let owned = key.to_owned();
        let found = self
            .readers
            .run(move |c| retention::get_key(c, &owned, now))
            .await?;
        found.map(|r| self.codec.open_record(key, r)).transpose()
    }

    async fn release_idempotency_key(&self, key: &str, token: &str) -> StoreResult<()> {
        let (key, token) = (key.to_owned(), token.to_owned());
        self.writer
            .submit(move |tx| retention::release(tx, &key, &token))
            .await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        self.writer
            .submit(move |tx| retention::purge_keys(tx, now, limit))
            .await
    }
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn expunge_message_content(&self, app: &AppId, msg: &MsgId) -> StoreResult<()> {
        let (app, msg) = (app.clone(), msg.clone());
        self.writer
            .submit(move |tx| retention::expunge_message(tx, &app, &msg))
            .await
    }

    async fn expunge_attempt_content(
        &self,
        app: &AppId,
        msg: &MsgId,
        attempt: &AttemptId,
    ) -> StoreResult<()> {
        let (app, msg, attempt) = (app.clone(), msg.clone(), attempt.clone());
        self.writer
            .submit(move |tx| retention::expunge_attempt(tx, &app, &msg, &attempt))
            .await
    }

    async fn purge_expired_payloads(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        self.writer
            .submit(move |tx| retention::purge_payloads(tx, now, limit))
            .await
    }

    async fn purge_attempts(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.writer
            .submit(move |tx| retention::purge_attempts(tx, before, limit))
            .await
    }

    async fn purge_ingest_records(
        &self,
        now: Timestamp,
        rejections_before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        self.writer
            .submit(move |tx| ingest::purge(tx, now, rejections_before, limit))
            .await
    }
}

#[async_trait]
impl RecoveryStore for SqliteStore {
    async fn create_recovery(&self, task: &RecoveryTask) -> StoreResult<()> {
        let task = task.clone();
        self.writer
            .submit(move |tx| failure::insert_task(tx, &task))
            .await
    }

    async fn get_recovery(&self, id: &str) -> StoreResult<RecoveryTask> {
        let id = id.to_owned();
        self.readers.run(move |c| failure::get_task(c, &id)).await
    }

    async fn list_recoveries(&self, page: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
        let page = page.clone();
        self.readers
            .run(move |c| failure::list_tasks(c, &page))
            .await
    }

    async fn claim_recovery(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        let owner = owner.to_owned();
        self.writer
            .submit(move |tx| failure::claim_task(tx, &owner, now, lease_until))
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
        let (id, owner) = (id.clone(), owner.to_owned());
        self.writer
            .submit(move |tx| failure::step(tx, &id, &owner, limit, now, lease_until))
            .await
    }
}

#[async_trait]
impl SourceStore for SqliteStore {
    async fn create_source(&self, source: &IngestSource) -> StoreResult<()> {
        let cells = self.codec.seal_source(source)?;
        let source = source.clone();
        self.writer
            .submit(move |tx| sources::insert(tx, &source, &cells))
            .await
    }

    async fn get_source(&self, id_or_uid: &str) -> StoreResult<IngestSource> {
        let (key, codec) = (id_or_uid.to_owned(), self.codec.clone());
        self.readers
            .run(move |c| sources::get(c, &codec, &key))
            .await
    }

    async fn list_sources(&self, page: &PageRequest) -> StoreResult<Page<IngestSource>> {
        let (page, codec) = (page.clone(), self.codec.clone());
        self.readers
            .run(move |c| sources::list(c, &codec, &page))
            .await
    }

    async fn update_source(&self, source: &IngestSource) -> StoreResult<()> {
        let cells = self.codec.seal_source(source)?;
        let source = source.clone();
        self.writer
            .submit(move |tx| sources::update(tx, &source, &cells))
            .await
    }

    async fn delete_source(&self, id: &SourceId) -> StoreResult<()> {
        let id = id.clone();
        self.writer.submit(move |tx| sources::delete(tx, &id)).await
    }

    async fn get_source_by_token(&self, token: &str, now: Timestamp) -> StoreResult<IngestSource> {
        let (token, codec) = (token.to_owned(), self.codec.clone());
        self.readers
            .run(move |c| sources::get_by_token(c, &codec, &token, now))
            .await
    }
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn create_ingest_message(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &IngestForward,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        let forward = crate::forward::encode(forward)?;
        let (msg, dests) = (msg.clone(), dests.to_vec());
        let dedup = dedup.cloned();
        self.writer
            .submit(move |tx| ingest::insert_message(tx, &msg, &dests, &forward, dedup.as_ref()))
            .await
    }

    async fn get_message_forward(&self, msg: &MsgId) -> StoreResult<Option<Forward>> {
        let msg = msg.clone();
        let stored = self
            .readers
            .run(move |c| messages::forward(c, &msg))
            .await?;
        Ok(stored.as_deref().map(crate::forward::decode))
    }

    async fn record_ingest_rejection(&self, rejection: &IngestRejection) -> StoreResult<()> {
        let rejection = rejection.clone();
        self.writer
            .submit(move |tx| ingest::insert_rejection(tx, &rejection))
            .await
    }

    async fn list_ingest_rejections(
        &self,
        source: &SourceId,
        page: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>> {
        let (source, page) = (source.clone(), page.clone());
        self.readers
            .run(move |c| ingest::list_rejections(c, &source, &page))
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    async fn schema_version(&self) -> StoreResult<SchemaVersion> {
        self.readers.run(super::migrations::version).await
    }

    async fn health(&self) -> StoreResult<()> {
        if !self.writer.is_running() {
            return Err(StoreError::Unavailable(
                "the SQLite writer has stopped".into(),
            ));
        }
        if self.writer.failure().is_some() {
            // Writes were failing (a full disk, say): only a write tells whether they work
            // again, and a successful one clears the failure.
            self.writer
                .submit(|tx| {
                    use super::codec::SqlContext;
                    // Rewrites the header page with its own value: a real write, no data.
                    let version: i64 = tx
                        .query_row("PRAGMA user_version", [], |r| r.get(0))
                        .ctx("reading the schema version")?;
                    tx.pragma_update(None, "user_version", version)
                        .ctx("probing whether writes work")
                })
                .await?;
        }
        self.readers
            .run(|c| {
                use super::codec::SqlContext;
                c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .ctx("checking the database")
                    .map(drop)
            })
            .await
    }
}
