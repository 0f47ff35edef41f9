//! hookd-store: everything hookd keeps, behind the store traits.
//!
//! Layout:
//! - this file: [`StoreError`], paging, filter and record types. Nothing here names a
//!   database; handlers and the delivery engine only ever see these types.
//! - `areas`: the store traits, one per area ([`AppStore`], [`EndpointStore`],
//!   [`MessageStore`], [`QueueStore`], [`FlowStore`], ...), and [`Store`], the supertrait
//!   every backend implements.
//! - `tasks`: endpoint health (the failure streak behind auto-disable) and recovery tasks.
//! - `forward`: how an ingest event's forward metadata is kept ([`Forward`]); a stored
//!   value that no longer decodes is reported, never dropped.
//! - [`sqlite`]: the embedded backend (one writer thread doing group commit, a small pool
//!   of reader connections, WAL, migrations embedded and applied at open).
//! - [`postgres`]: the shared backend for several nodes (pooled connections, group commit
//!   by a batcher, `LISTEN`/`NOTIFY` wake-ups, leases claimed with `SKIP LOCKED`).
//! - [`secrets`]: how both backends keep endpoint secrets, source configs, credential
//!   headers and receive tokens at rest: sealed with XChaCha20-Poly1305 under a main key
//!   ([`secrets::Keyring`]), checked and re-encrypted at open; tokens are found by a keyed
//!   lookup hash.
//! - `deadline`: the deadline every store call of both backends runs under
//!   ([`DEFAULT_CALL_TIMEOUT`]); past it a call is `Unavailable`, never a hang.
//! - `log_limit`: [`RateLimitedLog`], one log line a second per repeated failure cause.
//! - `metrics`: [`StoreMetrics`], the connection pool's use and the group commits.
//! - `stats`: [`QueueStats`], the queue by state and its oldest work (for `/metrics`).
//! - `ttl_cache`: [`TtlCache`], the short-lived read cache in front of the store.
//! - `tests/conformance.rs`: the behaviour every backend must show.
//!
//! The queue lives here too: a [`MessageDestination`] row per (message, endpoint) is the
//! unit of delivery work. A row is due when `status = Pending` and `next_attempt_at <= now`;
//! claiming it moves `next_attempt_at` to the lease expiry and records the owner, so a node
//! that dies only delays its claimed work until the lease runs out.

use hookd_core::ids::{AppId, EndpointId, MsgId, SourceId};
use hookd_core::model::{Attempt, DeliveryStatus, MessageDestination};
use hookd_core::Timestamp;
use std::sync::Arc;

mod areas;
mod deadline;

/// The `disabled_reason` column, as both backends write and read it.
pub(crate) mod disabled_reason {
    use hookd_core::model::{DisabledReason, Endpoint};

    /// The `disabled_reason` column of `ep`: its reason while disabled, else NULL.
    pub(crate) fn stored(ep: &Endpoint) -> Option<&'static str> {
        ep.disabled
            .then_some(ep.disabled_reason)
            .flatten()
            .map(DisabledReason::as_str)
    }

    /// The reason read back: only for a disabled endpoint, and only a known name.
    pub(crate) fn read(disabled: bool, stored: Option<String>) -> Option<DisabledReason> {
        stored
            .filter(|_| disabled)
            .and_then(|name| DisabledReason::parse(&name))
    }
}

mod forward;
mod log_limit;
mod metrics;
pub mod postgres;
pub mod secrets;
pub mod sqlite;
mod stats;
mod tasks;
mod ttl_cache;

pub use areas::{
    AppStore, EndpointStore, EventTypeStore, FlowStore, IdempotencyStore, IngestStore,
    MessageStore, QueueStore, RecoveryStore, RetentionStore, SourceStore, Store,
};
pub use deadline::DEFAULT_CALL_TIMEOUT;
pub use forward::Forward;
pub use log_limit::RateLimitedLog;
pub use metrics::StoreMetrics;
pub use stats::{EndpointQueue, Inspection, NodeLeases, QueueStats};
pub use ttl_cache::{Ticket, TtlCache};

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

/// The lowest id with `prefix` created at or after `at` (ids start with their creation
/// time, so every id created earlier sorts before it).
fn id_floor(prefix: &str, at: Timestamp) -> String {
    let ms = u64::try_from(at.as_millis()).unwrap_or(0);
    format!("{prefix}_{}", hookd_core::ids::id_body_floor(ms))
}

/// The id range `[lo, hi)` of messages created in `[since, until)`: ids start with their
/// creation time, so a time window is an id range (`~` sorts after every id character).
pub fn msg_id_range(since: Option<Timestamp>, until: Option<Timestamp>) -> (String, String) {
    (
        since.map_or_else(|| "msg_".to_owned(), |t| id_floor("msg", t)),
        until.map_or_else(|| "msg_~".to_owned(), |t| id_floor("msg", t)),
    )
}

/// Id bounds that stand for `created_at < before` (`id < upper`) and `created_at > after`
/// (`id >= lower`) for ids with `prefix` (ids start with their creation time), so a time
/// filter walks an index on ids instead of scanning: `(upper, lower)`.
pub fn created_id_bounds(
    prefix: &str,
    before: Option<Timestamp>,
    after: Option<Timestamp>,
) -> (Option<String>, Option<String>) {
    (
        before.map(|t| id_floor(prefix, t)),
        after.map(|t| id_floor(prefix, t.plus_millis(1))),
    )
}

/// The lowest attempt id created at or after `at`: attempts older than `at` have smaller
/// ids (attempt ids start with their creation time).
pub fn attempt_id_floor(at: Timestamp) -> String {
    id_floor("atmpt", at)
}

/// A due delivery handed to a node, with what it needs to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedDelivery {
    pub dest: MessageDestination,
    pub event_type: String,
    /// `None` if the payload was expunged.
    pub payload: Option<Arc<str>>,
    /// For a message received through an ingest source: how to forward it (written by
    /// [`IngestStore::create_ingest_message`]); `None` for every other message.
    pub forward: Option<Forward>,
    /// The claim took it over from another node whose lease had run out.
    pub taken_over: bool,
    /// The trace context kept with the message ([`Message::trace`]): the parent of the
    /// attempt, named in the delivery's `traceparent`.
    pub trace: Option<hookd_core::trace::TraceContext>,
}

/// A database's schema version against this build's migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaVersion {
    /// Migrations applied to the database.
    pub current: i64,
    /// Migrations this build carries.
    pub known: i64,
}

impl SchemaVersion {
    /// Every migration this build knows is applied, and none it does not.
    pub fn is_current(&self) -> bool {
        self.current == self.known
    }
}

/// The de-duplication key of an ingest event: the provider's own event id within its
/// source, remembered until `expires_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestDedup {
    pub source_id: SourceId,
    pub event_id: String,
    pub expires_at: Timestamp,
}

/// What [`IngestStore::create_ingest_message`] did.
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

/// What [`IdempotencyStore::reserve_idempotency_key`] found.
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

/// A request for an idempotency key: what [`IdempotencyStore::reserve_idempotency_key`] writes.
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
