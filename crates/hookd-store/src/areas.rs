//! The storage interface, by area: one trait per kind of record, and [`Store`], the
//! supertrait every backend implements and the rest of hookd holds (`Arc<dyn Store>`).
//!
//! Through `dyn Store` every area's methods are callable as they are; a concrete backend
//! type needs the area trait imported. A part of hookd that needs one area can take just
//! that trait (`Arc<dyn QueueStore>`; an `Arc<dyn Store>` converts by upcasting). None of
//! these traits has a default body: a backend says what each call does.

use crate::*;
use async_trait::async_trait;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId, TaskId};
use hookd_core::model::{
    Application, Attempt, DisabledReason, Endpoint, EventType, IngestForward, IngestRejection,
    IngestSource, Message, MessageDestination,
};
use hookd_core::Timestamp;
use std::sync::Arc;

/// Applications.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// `Conflict("uid")` if the uid is taken.
    async fn create_app(&self, app: &Application) -> StoreResult<()>;

    /// Looks an application up by id, or else by uid.
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application>;

    async fn list_apps(&self, page: &PageRequest) -> StoreResult<Page<Application>>;

    /// Replaces every mutable field of `app` (matched by id). `Conflict("uid")` if taken.
    async fn update_app(&self, app: &Application) -> StoreResult<()>;

    /// Deletes the app and everything under it (endpoints, messages, destinations, attempts).
    async fn delete_app(&self, id: &AppId) -> StoreResult<()>;
}

/// The event-type catalog.
#[async_trait]
pub trait EventTypeStore: Send + Sync {
    /// `Conflict("name")` if it exists.
    async fn create_event_type(&self, et: &EventType) -> StoreResult<()>;

    async fn get_event_type(&self, name: &str) -> StoreResult<EventType>;

    /// Ordered by name; archived types only when `include_archived`.
    async fn list_event_types(
        &self,
        page: &PageRequest,
        include_archived: bool,
    ) -> StoreResult<Page<EventType>>;

    async fn update_event_type(&self, et: &EventType) -> StoreResult<()>;

    async fn delete_event_type(&self, name: &str) -> StoreResult<()>;
}

/// Endpoints, their delivery statistics and their failure streaks (auto-disable).
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// `Conflict("uid")` if the uid is taken within the app.
    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()>;

    /// Looks an endpoint of `app` up by id, or else by uid.
    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint>;

    async fn list_endpoints(&self, app: &AppId, page: &PageRequest) -> StoreResult<Page<Endpoint>>;

    /// Every endpoint of the app, enabled or not, for fan-out.
    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>>;

    /// Replaces every mutable field (matched by app and id). `Conflict("uid")` if taken.
    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()>;

    /// Sets only the disabled flag and its reason: `Some(reason)` disables, `None`
    /// enables (used by the delivery engine, e.g. on `410 Gone`).
    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: Option<DisabledReason>,
    ) -> StoreResult<()>;

    /// Deletes the endpoint; its pending destinations are dropped.
    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()>;

    /// The endpoint's destinations per status, for messages created in `[since, until)`
    /// (either bound optional).
    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<EndpointStats>;

    /// Records each endpoint's latest attempt result: a success ends its failure streak, a
    /// failure starts one at `at` unless one is running. Then disables every listed,
    /// enabled endpoint whose streak began at or before `disable_failing_since` and
    /// returns those. Each endpoint appears at most once in `results`. The default (for
    /// test stores) records nothing.
    async fn note_endpoint_results(
        &self,
        results: &[EndpointResult],
        disable_failing_since: Timestamp,
    ) -> StoreResult<Vec<DisabledEndpoint>>;

    /// When the endpoint's current failure streak began (`None` when it is not failing).
    async fn endpoint_failing_since(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
    ) -> StoreResult<Option<Timestamp>>;
}

/// Messages, their per-endpoint delivery state and their attempts.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Commits the message and its destinations atomically. A destination with a
    /// `lease_owner` is written as already claimed by that node (its `next_attempt_at` is
    /// the lease expiry). `Conflict("eventId")` if the app already has that event id.
    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()>;

    /// Looks a message of `app` up by id, or else by event id.
    async fn get_message(&self, app: &AppId, id_or_event_id: &str) -> StoreResult<Message>;

    async fn list_messages(
        &self,
        app: &AppId,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// The delivery state of a message for each endpoint it was fanned out to.
    async fn list_destinations(
        &self,
        app: &AppId,
        msg: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>>;

    async fn list_attempts(
        &self,
        app: &AppId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Attempt>>;

    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt>;
}

/// The delivery queue: claims, outcomes, requeues and leases.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Claims up to `limit` due destinations (`Pending`, `next_attempt_at <= now`) whose
    /// endpoint is not in `exclude`, oldest due first: each gets `next_attempt_at =
    /// lease_until` and `lease_owner = owner`. Claims by concurrent callers never overlap.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        owner: &str,
        exclude: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    /// The queue at `now`, for metrics and the watchdog: pending deliveries by state, the
    /// oldest due and the oldest undelivered, the `worst` endpoints by their oldest
    /// undelivered message, and how many endpoints are disabled. Reads every pending row:
    /// for a sample every few seconds, not for every request.
    async fn queue_stats(&self, now: Timestamp, worst: usize) -> StoreResult<QueueStats>;

    /// Writes an outcome: inserts its attempt (if any) and updates the destination (status,
    /// attempt count, next attempt, lease cleared) in one transaction. An outcome for a
    /// destination that no longer exists (endpoint or app deleted) is dropped silently.
    async fn record_outcome(&self, outcome: &DeliveryOutcome) -> StoreResult<()>;

    /// Writes several outcomes, each exactly as [`QueueStore::record_outcome`] would, in one
    /// transaction (all or none).
    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()>;

    /// Writes `dest` as pending again (status, trigger, `next_attempt_at`, `lease_owner` as
    /// given), creating the row if the message was never fanned out to that endpoint. Used
    /// by resend. Keeps the stored attempt count of an existing row.
    async fn requeue(&self, dest: &MessageDestination) -> StoreResult<()>;

    /// Extends the leases of destinations `owner` still holds (queued in its memory or in
    /// flight) to `lease_until`, so no other node takes them while the owner is healthy.
    /// Only rows that are still pending and leased to `owner` change; returns how many.
    async fn renew_leases(
        &self,
        owner: &str,
        keys: &[(MsgId, EndpointId)],
        lease_until: Timestamp,
    ) -> StoreResult<u64>;

    /// Releases every lease (claimed destinations become due at `now`). Only for a backend
    /// with a single node, at start-up, where any lease is a leftover of a crash.
    async fn release_all_leases(&self, now: Timestamp) -> StoreResult<u64>;

    /// The earliest `next_attempt_at` of any pending destination, for the poller's sleep.
    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>>;

    /// A signal raised whenever another process may have made work due now (a message
    /// whose destinations it did not claim itself, a resend), so the poller need not wait
    /// for its next round. Backends with a single process return `None`.
    fn due_signal(&self) -> Option<Arc<tokio::sync::Notify>>;
}

/// Flow-controlled endpoints (throttle, concurrency cap, FIFO), owned by one node at a time.
///
/// Destinations of a flow-controlled endpoint are marked when written (the backend looks
/// the endpoint up in its own list of flow-controlled endpoints, which
/// create/update/delete_endpoint keep current, and re-marks the endpoint's pending
/// destinations when its flow control changes). Marked destinations are never returned by
/// `claim_due`; only the node owning the endpoint claims them, through `claim_flow`, so
/// pacing and ordering hold across the cluster.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Takes every flow-controlled endpoint that no live node owns (no owner, or its lease
    /// ended before `now`) and renews those `owner` holds already, all until `lease_until`;
    /// returns every endpoint `owner` now holds, with its current settings. At most `max`
    /// endpoints are newly taken per call.
    async fn acquire_flow_endpoints(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>>;

    /// Claims due marked destinations of one endpoint in message order (oldest message
    /// first), leasing them to `owner` until `lease_until`. With `fifo`, only the endpoint's
    /// first pending destination (smallest message id, due or not) is considered, and it is
    /// claimed only if it is due: nothing after it goes while it waits for a retry or is
    /// leased.
    async fn claim_flow(
        &self,
        endpoint: &EndpointId,
        fifo: bool,
        now: Timestamp,
        limit: u32,
        lease_until: Timestamp,
        owner: &str,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Gives up every endpoint `owner` holds (at shutdown), so another node takes them at
    /// once.
    async fn release_flow_endpoints(&self, owner: &str) -> StoreResult<()>;
}

/// Idempotency keys and their stored responses.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Takes `claim.key` for a request if it is free, expired, or held by a reservation
    /// that lapsed (`locked_until <= now`: its request died); otherwise returns what holds
    /// it. Atomic: of concurrent callers (on any node) at most one gets `Reserved`.
    async fn reserve_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation>;

    /// Stores the response of the reservation `token` of `key`. Returns whether it did:
    /// `false` when the reservation lapsed and was taken over meanwhile.
    async fn complete_idempotency_key(
        &self,
        key: &str,
        token: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<bool>;

    /// The stored key, if any and not expired at `now`.
    async fn get_idempotency_key(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>>;

    /// Drops the unfinished reservation `token` of `key` (its request failed with a server
    /// error), so a retry runs afresh.
    async fn release_idempotency_key(&self, key: &str, token: &str) -> StoreResult<()>;

    /// Deletes up to `limit` keys expired at `now`; returns how many.
    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// Expunging content and purging what its retention has run out on.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes the payload of a message of `app` (it reads back as `None`). `NotFound` if
    /// the message does not exist.
    async fn expunge_message_content(&self, app: &AppId, msg: &MsgId) -> StoreResult<()>;

    /// Empties the stored response body of an attempt. `NotFound` if it does not exist.
    async fn expunge_attempt_content(
        &self,
        app: &AppId,
        msg: &MsgId,
        attempt: &AttemptId,
    ) -> StoreResult<()>;

    /// Expunges up to `limit` payloads whose `payload_expires_at <= now`, except those of
    /// messages with a destination still pending or in flight (they are taken in a later
    /// round, once settled). Returns how many. Concurrent callers never block each other.
    async fn purge_expired_payloads(&self, now: Timestamp, limit: u32) -> StoreResult<u64>;

    /// Deletes up to `limit` attempts created before `before`; returns how many.
    async fn purge_attempts(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;

    /// Deletes up to `limit` de-duplication entries expired at `now` and up to `limit`
    /// rejections received before `rejections_before`; returns how many rows went.
    async fn purge_ingest_records(
        &self,
        now: Timestamp,
        rejections_before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64>;
}

/// Endpoint recovery tasks (leased background tasks).
#[async_trait]
pub trait RecoveryStore: Send + Sync {
    /// Stores a new recovery task.
    async fn create_recovery(&self, task: &RecoveryTask) -> StoreResult<()>;

    /// Looks a recovery task up by id.
    async fn get_recovery(&self, id: &str) -> StoreResult<RecoveryTask>;

    /// Recovery tasks, newest first by default.
    async fn list_recoveries(&self, page: &PageRequest) -> StoreResult<Page<RecoveryTask>>;

    /// Leases the oldest running task whose lease is free or expired to `owner` until
    /// `lease_until`; `None` when there is none. Two callers never hold one task at once.
    async fn claim_recovery(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>>;

    /// One step of a task `owner` holds: requeues (pending, due at `now`, manual trigger,
    /// attempt count kept) up to `limit` of the next failed deliveries in message id order,
    /// moves the cursor past them, renews the lease to `lease_until`, and marks the task
    /// finished when fewer than `limit` were left. Returns the updated task, or `None` if
    /// `owner` no longer holds it (or it is not running).
    async fn recovery_step(
        &self,
        id: &TaskId,
        owner: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>>;
}

/// Ingest sources and their receive tokens.
#[async_trait]
pub trait SourceStore: Send + Sync {
    /// Stores a new source; `Conflict` if its uid is taken. The config is sealed at rest.
    async fn create_source(&self, source: &IngestSource) -> StoreResult<()>;

    /// By id first, else by uid.
    async fn get_source(&self, id_or_uid: &str) -> StoreResult<IngestSource>;

    /// Sources in id order, paged like every other list.
    async fn list_sources(&self, page: &PageRequest) -> StoreResult<Page<IngestSource>>;

    /// Replaces every mutable field (uid, name, type, config, metadata, tokens,
    /// updated_at); `Conflict` if the new uid is taken.
    async fn update_source(&self, source: &IngestSource) -> StoreResult<()>;

    /// Deletes the source row, its rejections and its de-duplication entries (its
    /// internal application is deleted by the caller).
    async fn delete_source(&self, id: &SourceId) -> StoreResult<()>;

    /// The source whose current token is `token`, or whose previous token is `token` and
    /// expires after `now`; `NotFound` otherwise.
    async fn get_source_by_token(&self, token: &str, now: Timestamp) -> StoreResult<IngestSource>;
}

/// Events received through ingest sources, and the requests refused.
#[async_trait]
pub trait IngestStore: Send + Sync {
    /// Writes an event received through an ingest source, atomically: the message, its
    /// destinations and `forward` (handed back in [`ClaimedDelivery::forward`]
    /// with every claim of these destinations, resends included). With `dedup`, and when
    /// the source already holds an entry for that provider event id expiring after
    /// `msg.created_at`, nothing is written and the earlier message id is returned;
    /// otherwise the entry is written (replacing an expired one) with the message.
    async fn create_ingest_message(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &IngestForward,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite>;

    /// The forwarding metadata a message was written with by
    /// [`IngestStore::create_ingest_message`];
    /// `None` for other messages (and for a message that does not exist).
    async fn get_message_forward(&self, msg: &MsgId) -> StoreResult<Option<Forward>>;

    /// Records a refused request.
    async fn record_ingest_rejection(&self, rejection: &IngestRejection) -> StoreResult<()>;

    /// A source's rejections in id order (newest first unless ascending), paged.
    async fn list_ingest_rejections(
        &self,
        source: &SourceId,
        page: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>>;
}

/// Everything hookd stores. Implementations must be safe to share across tasks; every
/// write is durable (committed, and fsync'd per the backend's settings) before it returns.
#[async_trait]
pub trait Store:
    AppStore
    + EventTypeStore
    + EndpointStore
    + MessageStore
    + QueueStore
    + FlowStore
    + IdempotencyStore
    + RetentionStore
    + RecoveryStore
    + SourceStore
    + IngestStore
    + Send
    + Sync
    + 'static
{
    /// Checks that the database answers.
    async fn health(&self) -> StoreResult<()>;

    /// The store's own metrics (connection pool, group commits).
    fn metrics(&self) -> &StoreMetrics;

    /// The database's schema version, and the newest this build knows: equal once every
    /// migration is applied; a database ahead of the build was migrated by a newer hookd.
    async fn schema_version(&self) -> StoreResult<SchemaVersion>;
}
