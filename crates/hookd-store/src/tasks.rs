//! Types of the failure-handling part of the store: endpoint health (the failure streak
//! behind auto-disable) and endpoint recoveries (background tasks that requeue an
//! endpoint's failed deliveries in bounded batches).

use hookd_core::ids::{AppId, EndpointId, MsgId, TaskId};
use hookd_core::Timestamp;

/// The latest attempt result of one endpoint, reported by the delivery engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointResult {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    /// Whether the attempt succeeded (2xx).
    pub ok: bool,
    /// When the attempt was made.
    pub at: Timestamp,
}

/// An endpoint the store disabled because its failure streak was too old.
#[derive(Clone, Debug, PartialEq)]
pub struct DisabledEndpoint {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    /// When the streak of failed attempts began.
    pub failing_since: Timestamp,
}

/// Where a background task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Running = 0,
    Finished = 1,
    Failed = 2,
}

impl TaskStatus {
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Running,
            1 => Self::Finished,
            2 => Self::Failed,
            _ => return None,
        })
    }

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }
}

/// An endpoint recovery: requeue every failed delivery to `endpoint_id` of a message
/// created in `[since, until)`. Runs on one node at a time (the lease holder), in batches
/// walking message ids; `cursor` is the last message id requeued, so a task taken over
/// after a crash resumes where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryTask {
    pub id: TaskId,
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    pub since: Timestamp,
    pub until: Option<Timestamp>,
    pub status: TaskStatus,
    pub cursor: Option<MsgId>,
    /// Deliveries requeued so far.
    pub recovered: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RecoveryTask {
    /// A new running task.
    pub fn new(
        app_id: AppId,
        endpoint_id: EndpointId,
        since: Timestamp,
        until: Option<Timestamp>,
        now: Timestamp,
    ) -> Self {
        Self {
            id: TaskId::generate_at(now),
            app_id,
            endpoint_id,
            since,
            until,
            status: TaskStatus::Running,
            cursor: None,
            recovered: 0,
            created_at: now,
            updated_at: now,
        }
    }
}
