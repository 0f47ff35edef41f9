//! hookd-store: everything hookd keeps, behind one trait.
//!
//! Layout:
//! - this file: the [`Store`] trait, [`StoreError`], paging and filter types. Nothing
//!   here names a database; handlers and the delivery engine only ever see these types.
//! - [`sqlite`]: the embedded backend (one writer thread doing group commit, a small pool
//!   of reader connections, WAL, migrations embedded and applied at open).
//! - [`secrets`]: how both backends keep endpoint secrets, source configs, credential
//!   headers and receive tokens at rest: sealed with XChaCha20-Poly1305 under a main key
//!   ([`secrets::Keyring`]), checked and re-encrypted at open; tokens are found by a keyed
//!   lookup hash.
//! - `deadline`: the deadline every store call of both backends runs under
//!   ([`DEFAULT_CALL_TIMEOUT`]); past it a call is `Unavailable`, never a hang.
//! - `log_limit`: [`RateLimitedLog`], one log line a second per repeated failure cause.
//! - `tests/conformance.rs`: the behaviour every backend must show.
//!
//! The queue lives here too: a [`MessageDestination`] row per (message, endpoint) is the
//! unit of delivery work. A row is due when `status = Pending` and `next_attempt_at <= now`;
//! claiming it moves `next_attempt_at` to the lease expiry and records the owner, so a node
//! that dies only delays its claimed work until the lease runs out.

use async_trait::async_trait;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId, TaskId};
use hookd_core::model::{
    Application, Attempt, DeliveryStatus, Endpoint, EventType, IngestRejection, IngestSource,
    Message, MessageDestination,
};
use hookd_core::Timestamp;
use std::sync::Arc;

mod deadline;
mod log_limit;
pub mod postgres;
pub mod secrets;
pub mod sqlite;
mod tasks;

pub use deadline::DEFAULT_CALL_TIMEOUT;
pub use log_limit::RateLimitedLog;

pub use tasks::{DisabledEndpoint, EndpointResult, RecoveryTask, TaskStatus};

/// The errors a backend maps its own into. Handlers never see SQL types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed record does not exist (or belongs to another application).
    #[error("not found")]
    NotFound,
    /// A unique key is taken; the string names it (`uid`, `eventId`, `name`).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The database cannot be reached, did not answer within the call deadline, refuses
    /// writes (read-only, I/O error) or is shutting down; the caller may retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A write failed for lack of space (SQLite `SQLITE_FULL` / `ENOSPC`, PostgreSQL
    /// `disk_full`); nothing of it was kept and the caller may retry once space returns.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// Anything else, with its cause.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The same failure for another caller of a shared write (a batch that failed as a
    /// whole); `Other` keeps its cause chain as text.
    pub(crate) fn share(&self) -> StoreError {
        match self {
            StoreError::NotFound => StoreError::NotFound,
            StoreError::Conflict(key) => StoreError::Conflict(key),
            StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
            StoreError::StorageFull(why) => StoreError::StorageFull(why.clone()),
            StoreError::Other(cause) => StoreError::Other(anyhow::anyhow!("{cause:#}")),
        }
    }

    /// Whether the failure is the storage's (unreachable, full, refusing writes) rather
    /// than the call's.
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::StorageFull(_)
        )
    }
}

/// A keyset page request. Items are ordered by their key (ids are time-ordered; event
/// types by name).
#[derive(Clone, Debug, PartialEq)]
pub struct PageRequest {
    /// At most this many items are returned.
    pub limit: u32,
    /// Exclusive cursor: only items strictly after this key in the walk direction.
    pub after: Option<String>,
    /// Walk from the newest (largest key) to the oldest when true.
    pub descending: bool,
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items exist past the last one in the walk direction.
    pub has_more: bool,
}

/// Filters for listing messages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageFilter {
    /// Only these event types (empty = all).
    pub event_types: Vec<String>,
    /// Only messages on this channel.
    pub channel: Option<String>,
    /// Only messages created strictly before this time.
    pub before: Option<Timestamp>,
    /// Only messages created strictly after this time.
    pub after: Option<Timestamp>,
    /// Whether to load payloads (lists without content are cheaper).
    pub with_content: bool,
}

/// Filters for listing attempts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptFilter {
    pub msg_id: Option<MsgId>,
    pub endpoint_id: Option<EndpointId>,
    pub status: Option<DeliveryStatus>,
    /// Only attempts whose response code is in `[lo, hi]` (e.g. 200..=299; 0..=99 = none).
    pub status_code_range: Option<(u16, u16)>,
    pub event_types: Vec<String>,
    pub channel: Option<String>,
    pub before: Option<Timestamp>,
    pub after: Option<Timestamp>,
}

/// How an endpoint's deliveries stand: destinations per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub success: u64,
    pub pending: u64,
    pub fail: u64,
    pub sending: u64,
}

impl EndpointStats {
    /// Adds `count` destinations with status code `status` (unknown codes are ignored).
    pub fn add(&mut self, status: i64, count: u64) {
        match DeliveryStatus::from_i64(status) {
            Some(DeliveryStatus::Success) => self.success += count,
            Some(DeliveryStatus::Pending) => self.pending += count,
            Some(DeliveryStatus::Fail) => self.fail += count,
            Some(DeliveryStatus::Sending) => self.sending += count,
            None => {}
        }
    }
}

/// The id range `[lo, hi)` of messages created in `[since, until)`: ids start with their
/// creation time, so a time window is an id range (`~` sorts after every id character).
pub fn msg_id_range(since: Option<Timestamp>, until: Option<Timestamp>) -> (String, String) {
    let floor = |t: Timestamp| {
        let ms = u64::try_from(t.as_millis()).unwrap_or(0);
        format!("msg_{}", hookd_core::ids::id_body_floor(ms))
    };
    (
        since.map_or_else(|| "msg_".to_owned(), floor),
        until.map_or_else(|| "msg_~".to_owned(), floor),
    )
}

/// The lowest attempt id created at or after `at`: attempts older than `at` have smaller
/// ids (attempt ids start with their creation time).
pub fn attempt_id_floor(at: Timestamp) -> String {
    let ms = u64::try_from(at.as_millis()).unwrap_or(0);
    format!("atmpt_{}", hookd_core::ids::id_body_floor(ms))
}

/// A due delivery handed to a node, with what it needs to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedDelivery {
    pub dest: MessageDestination,
    pub event_type: String,
    /// `None` if the payload was expunged.
    pub payload: Option<Arc<str>>,
    /// For a message received through an ingest source: how to forward it (opaque JSON
    /// written by [`Store::create_ingest_message`]); `None` for every other message.
    pub forward: Option<Arc<str>>,
}

/// The de-duplication key of an ingest event: the provider's own event id within its
/// source, remembered until `expires_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestDedup {
    pub source_id: SourceId,
    pub event_id: String,
    pub expires_at: Timestamp,
}

/// What [`Store::create_ingest_message`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum IngestWrite {
    /// The message and its destinations were written.
    Created,
    /// The source already holds an unexpired entry for this provider event id: nothing
    /// was written; the message that event was stored as.
    Duplicate(MsgId),
}

/// The result of working on one destination, written atomically with its attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryOutcome {
    pub msg_id: MsgId,
    pub endpoint_id: EndpointId,
    pub app_id: AppId,
    /// The attempt made; `None` when the destination was settled without a request
    /// (endpoint disabled or deleted).
    pub attempt: Option<Attempt>,
    /// `Pending` (a retry is scheduled at `next_attempt_at`), `Success` or `Fail`.
    pub status: DeliveryStatus,
    /// Scheduled attempts made so far, including this one.
    pub attempt_count: u32,
    pub next_attempt_at: Option<Timestamp>,
}

/// A flow-controlled endpoint (see [`Endpoint::is_flow_controlled`]) as the node that owns
/// it needs it: the pacing settings and the owner's lease on it.
///
/// [`Endpoint::is_flow_controlled`]: hookd_core::model::Endpoint::is_flow_controlled
#[derive(Clone, Debug, PartialEq)]
pub struct FlowEndpoint {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    /// Deliveries per second at most.
    pub rate_limit: Option<u32>,
    /// Requests at once at most.
    pub max_concurrency: Option<u32>,
    pub fifo: bool,
}

/// What [`Store::reserve_idempotency_key`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyReservation {
    /// The key was free (or its earlier holder expired): the caller now holds it and must
    /// complete or release it.
    Reserved,
    /// The key is taken; the record says by what request and whether it finished.
    Existing(IdempotencyRecord),
}

/// A stored idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The fingerprint of the request that took the key.
    pub fingerprint: String,
    /// The stored response (status, body), or `None` while the first request still runs.
    pub response: Option<(u16, Vec<u8>)>,
    /// Until when an unfinished reservation holds the key against a retry.
    pub locked_until: Timestamp,
    /// When the key is forgotten.
    pub expires_at: Timestamp,
}

/// A request for an idempotency key: what [`Store::reserve_idempotency_key`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The key, already scoped to the caller (keys of different principals never meet).
    pub key: String,
    /// A digest of the request (method, path, body) the key is used for.
    pub fingerprint: String,
    /// A random value naming this reservation: only its holder completes or releases it.
    pub token: String,
    pub now: Timestamp,
    /// The reservation lapses at this time if its request never finishes (a crash).
    pub locked_until: Timestamp,
    pub expires_at: Timestamp,
}

/// Everything hookd stores. Implementations must be safe to share across tasks; every
/// write is durable (committed, and fsync'd per the backend's settings) before it returns.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn health(&self) -> StoreResult<()>;

    // ---- applications ----
    /// `Conflict("uid")` if the uid is taken.
    async fn create_app(&self, app: &Application) -> StoreResult<()>;
    /// Looks an application up by id, or else by uid.
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application>;
    async fn list_apps(&self, page: &PageRequest) -> StoreResult<Page<Application>>;
    /// Replaces every mutable field of `app` (matched by id). `Conflict("uid")` if taken.
    async fn update_app(&self, app: &Application) -> StoreResult<()>;
    /// Deletes the app and everything under it (endpoints, messages, destinations, attempts).
    async fn delete_app(&self, id: &AppId) -> StoreResult<()>;

    // ---- event types ----
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

    // ---- endpoints ----
    /// `Conflict("uid")` if the uid is taken within the app.
    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()>;
    /// Looks an endpoint of `app` up by id, or else by uid.
    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint>;
    async fn list_endpoints(&self, app: &AppId, page: &PageRequest) -> StoreResult<Page<Endpoint>>;
    /// Every endpoint of the app, enabled or not, for fan-out.
    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>>;
    /// Replaces every mutable field (matched by app and id). `Conflict("uid")` if taken.
    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()>;
    /// Sets only the disabled flag (used by the delivery engine, e.g. on `410 Gone`).
    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: bool,
    ) -> StoreResult<()>;
    /// Deletes the endpoint; its pending destinations are dropped.
    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()>;

    // ---- messages ----
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

    /// The endpoint's destinations per status, for messages created in `[since, until)`
    /// (either bound optional).
    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<EndpointStats>;

    // ---- attempts ----
    async fn list_attempts(
        &self,
        app: &AppId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Attempt>>;
    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt>;

    // ---- queue ----
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
    /// Writes an outcome: inserts its attempt (if any) and updates the destination (status,
    /// attempt count, next attempt, lease cleared) in one transaction. An outcome for a
    /// destination that no longer exists (endpoint or app deleted) is dropped silently.
    async fn record_outcome(&self, outcome: &DeliveryOutcome) -> StoreResult<()>;
    /// Writes several outcomes, each exactly as [`Store::record_outcome`] would, in one
    /// transaction where the backend can (all or none). Backends override this to save a
    /// commit per outcome; the default writes them one by one.
    async fn record_outcomes(&self, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
        for outcome in outcomes {
            self.record_outcome(outcome).await?;
        }
        Ok(())
    }
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
    // ---- flow-controlled endpoints ----
    //
    // Destinations of a flow-controlled endpoint (throttle, concurrency cap or FIFO) are
    // marked when written (the backend looks the endpoint up in its own list of
    // flow-controlled endpoints, which create/update/delete_endpoint keep current, and
    // re-marks the endpoint's pending destinations when its flow-control changes). Marked
    // destinations are never returned by `claim_due`; only the node owning the endpoint
    // claims them, through `claim_flow`, so pacing and ordering hold across the cluster.

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

    /// A signal raised whenever another process may have made work due now (a message
    /// whose destinations it did not claim itself, a resend), so the poller need not wait
    /// for its next round. Backends with a single process return `None`.
    fn due_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    // ---- idempotency keys ----
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

    // ---- retention ----
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
    // ---- failure handling (auto-disable, recovery) ----
    /// Records each endpoint's latest attempt result: a success ends its failure streak, a
    /// failure starts one at `at` unless one is running. Then disables every listed,
    /// enabled endpoint whose streak began at or before `disable_failing_since` and
    /// returns those. Each endpoint appears at most once in `results`. The default (for
    /// test stores) records nothing.
    async fn note_endpoint_results(
        &self,
        results: &[EndpointResult],
        disable_failing_since: Timestamp,
    ) -> StoreResult<Vec<DisabledEndpoint>> {
        let _ = (results, disable_failing_since);
        Ok(Vec::new())
    }
    /// When the endpoint's current failure streak began (`None` when it is not failing).
    async fn endpoint_failing_since(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
    ) -> StoreResult<Option<Timestamp>> {
        let _ = (app, endpoint);
        Ok(None)
    }
    /// Stores a new recovery task.
    async fn create_recovery(&self, task: &RecoveryTask) -> StoreResult<()> {
        let _ = task;
        Err(unsupported())
    }
    /// Looks a recovery task up by id.
    async fn get_recovery(&self, id: &str) -> StoreResult<RecoveryTask> {
        let _ = id;
        Err(StoreError::NotFound)
    }
    /// Recovery tasks, newest first by default.
    async fn list_recoveries(&self, page: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
        let _ = page;
        Ok(Page {
            items: Vec::new(),
            has_more: false,
        })
    }
    /// Leases the oldest running task whose lease is free or expired to `owner` until
    /// `lease_until`; `None` when there is none. Two callers never hold one task at once.
    async fn claim_recovery(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<RecoveryTask>> {
        let _ = (owner, now, lease_until);
        Ok(None)
    }
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
    ) -> StoreResult<Option<RecoveryTask>> {
        let _ = (id, owner, limit, now, lease_until);
        Err(unsupported())
    }

    // --- ingest sources ---

    /// Stores a new source; `Conflict` if its uid is taken. The config is sealed at rest.
    async fn create_source(&self, source: &IngestSource) -> StoreResult<()> {
        let _ = source;
        Err(unsupported())
    }
    /// By id first, else by uid.
    async fn get_source(&self, id_or_uid: &str) -> StoreResult<IngestSource> {
        let _ = id_or_uid;
        Err(StoreError::NotFound)
    }
    /// Sources in id order, paged like every other list.
    async fn list_sources(&self, page: &PageRequest) -> StoreResult<Page<IngestSource>> {
        let _ = page;
        Ok(Page {
            items: Vec::new(),
            has_more: false,
        })
    }
    /// Replaces every mutable field (uid, name, type, config, metadata, tokens,
    /// updated_at); `Conflict` if the new uid is taken.
    async fn update_source(&self, source: &IngestSource) -> StoreResult<()> {
        let _ = source;
        Err(unsupported())
    }
    /// Deletes the source row, its rejections and its de-duplication entries (its
    /// internal application is deleted by the caller).
    async fn delete_source(&self, id: &SourceId) -> StoreResult<()> {
        let _ = id;
        Err(StoreError::NotFound)
    }
    /// The source whose current token is `token`, or whose previous token is `token` and
    /// expires after `now`; `NotFound` otherwise.
    async fn get_source_by_token(&self, token: &str, now: Timestamp) -> StoreResult<IngestSource> {
        let _ = (token, now);
        Err(StoreError::NotFound)
    }

    // --- ingest events ---

    /// Writes an event received through an ingest source, atomically: the message, its
    /// destinations and `forward` (opaque JSON, handed back in [`ClaimedDelivery::forward`]
    /// with every claim of these destinations, resends included). With `dedup`, and when
    /// the source already holds an entry for that provider event id expiring after
    /// `msg.created_at`, nothing is written and the earlier message id is returned;
    /// otherwise the entry is written (replacing an expired one) with the message.
    async fn create_ingest_message(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &str,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        let _ = (msg, dests, forward, dedup);
        Err(unsupported())
    }
    /// The `forward` JSON a message was written with by [`Store::create_ingest_message`];
    /// `None` for other messages (and for a message that does not exist).
    async fn get_message_forward(&self, msg: &MsgId) -> StoreResult<Option<String>> {
        let _ = msg;
        Ok(None)
    }
    /// Records a refused request.
    async fn record_ingest_rejection(&self, rejection: &IngestRejection) -> StoreResult<()> {
        let _ = rejection;
        Err(unsupported())
    }
    /// A source's rejections in id order (newest first unless ascending), paged.
    async fn list_ingest_rejections(
        &self,
        source: &SourceId,
        page: &PageRequest,
    ) -> StoreResult<Page<IngestRejection>> {
        let _ = (source, page);
        Ok(Page {
            items: Vec::new(),
            has_more: false,
        })
    }
    /// Deletes up to `limit` de-duplication entries expired at `now` and up to `limit`
    /// rejections received before `rejections_before`; returns how many rows went.
    async fn purge_ingest_records(
        &self,
        now: Timestamp,
        rejections_before: Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        let _ = (now, rejections_before, limit);
        Ok(0)
    }
}

fn unsupported() -> StoreError {
    StoreError::Other(anyhow::anyhow!(
        "this store does not support background tasks"
    ))
}
