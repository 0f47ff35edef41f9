//! The ingest senders: each event is POSTed to the source's receive URL with the
//! provider's headers, signed at the moment of sending, the way the provider would.
//!
//! No answer, a 5xx or a 429 is retried with the same provider event id (as providers
//! do; hookd must then answer with the first message id); a 404 ends the run (the receive
//! URL is unknown: wrong server or no receiving route); any other refusal is counted and
//! the event given up. With `--replay-fraction`, a chosen share of the events is sent a
//! second time right after its `204`, which must come back as a duplicate of the first.

use super::ledger::{Fault, Ledger};
use super::provider::Workload;
use crate::api::Api;
use crate::pace::Released;
use crate::receiver::unix_now;
use crate::routing::fnv1a;
use crate::sender::retry_backoff;
use anyhow::bail;
use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Everything a sender needs.
pub struct IngestSender {
    api: Api,
    /// The source's receive URL on each server.
    urls: Vec<String>,
    workload: Workload,
    ledger: Arc<Ledger>,
    /// Share of events sent twice.
    replay_fraction: f64,
    /// Sends still unanswered at this moment are given up.
    deadline: Instant,
    retries: AtomicU64,
    unsent: AtomicU64,
    replays: AtomicU64,
    /// Why the most recent retry happened, for the report.
    last_retry_reason: Mutex<Option<String>>,
}

/// What the senders did.
#[derive(Debug, Default)]
pub struct IngestSendStats {
    /// When the last `204` of a first send was read.
    pub last_accept: Option<Instant>,
    /// Sends tried again after no answer, a 5xx or a 429.
    pub retries: u64,
    /// Events never answered before the deadline (or never released).
    pub unsent: u64,
    /// Replays sent.
    pub replays: u64,
    /// Why the most recent retry happened, if any did.
    pub last_retry_reason: Option<String>,
}

/// How one request ended.
enum Answer {
    /// `204` with `x-hookd-msg-id`, and whether `x-hookd-duplicate: true` came with it.
    Accepted { msg_id: String, duplicate: bool },
    /// Any other final answer: its status and body.
    Refused(StatusCode, String),
}

impl IngestSender {
    /// A sender of `workload` to the receive URLs `urls` (one per server).
    pub fn new(
        api: Api,
        urls: Vec<String>,
        workload: Workload,
        ledger: Arc<Ledger>,
        replay_fraction: f64,
        deadline: Instant,
    ) -> Self {
        Self {
            api,
            urls,
            workload,
            ledger,
            replay_fraction,
            deadline,
            retries: AtomicU64::new(0),
            unsent: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            last_retry_reason: Mutex::new(None),
        }
    }

    /// The figures, once the release loop is done.
    pub fn stats(&self, released: Released) -> IngestSendStats {
        IngestSendStats {
            last_accept: released.last_ack,
            retries: self.retries.load(Ordering::Relaxed),
            unsent: self.unsent.load(Ordering::Relaxed) + released.not_released,
            replays: self.replays.load(Ordering::Relaxed),
            last_retry_reason: self
                .last_retry_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Sends event `index` (due at `due`) until it is answered; returns when its `204`
    /// was read, or `None` when it was refused or the deadline came first.
    pub async fn send_one(
        &self,
        worker: usize,
        index: u64,
        due: Instant,
    ) -> anyhow::Result<Option<Instant>> {
        let body = Bytes::from(self.workload.body(index));
        let Some((answer, attempts)) = self.post_until_answered(worker, index, &body).await else {
            self.unsent.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        match answer {
            Answer::Accepted { msg_id, duplicate } => {
                let at = Instant::now();
                // After a retry, a duplicate is right: the unanswered attempt was stored.
                if duplicate && attempts == 1 {
                    self.ledger.count(Fault::FalseDuplicate);
                }
                self.ledger.accept(index, &msg_id, due, at);
                if self.replays(index) {
                    self.replay(worker, index, &body, &msg_id).await;
                }
                Ok(Some(at))
            }
            Answer::Refused(StatusCode::NOT_FOUND, why) => bail!(
                "the receive URL answered 404 ({why}); does the server have the receiving \
                 route POST /ingest/{{token}}?"
            ),
            Answer::Refused(status, why) => {
                self.ledger.count(Fault::Refused);
                self.ledger
                    .note(Fault::Refused, format!("status {status}: {why}"));
                Ok(None)
            }
        }
    }

    /// Whether event `index` is replayed: a fixed hash, so a run can be repeated exactly.
    fn replays(&self, index: u64) -> bool {
        self.replay_fraction > 0.0
            && (fnv1a(&index.to_le_bytes()) as f64 / u64::MAX as f64) < self.replay_fraction
    }

    /// Sends event `index` again (signed anew, same provider id and body): it must be
    /// acknowledged as a duplicate of `msg_id`.
    async fn replay(&self, worker: usize, index: u64, body: &Bytes, msg_id: &str) {
        self.replays.fetch_add(1, Ordering::Relaxed);
        let problem = match self.post_until_answered(worker + 1, index, body).await {
            Some((
                Answer::Accepted {
                    msg_id: again,
                    duplicate: true,
                },
                _,
            )) if again == msg_id => {
                self.ledger.count(Fault::ReplayAcknowledged);
                return;
            }
            Some((
                Answer::Accepted {
                    msg_id: again,
                    duplicate,
                },
                _,
            )) => format!(
                "204 with x-hookd-msg-id {again} (first {msg_id}), x-hookd-duplicate {duplicate}"
            ),
            Some((Answer::Refused(status, why), _)) => format!("status {status}: {why}"),
            None => "no answer before the deadline".to_owned(),
        };
        self.ledger.count(Fault::ReplayWrong);
        self.ledger.note(Fault::ReplayWrong, problem);
    }

    /// Posts event `index` until a final answer, retrying no answer, 5xx and 429 on the
    /// next server after a short backoff; `None` when the deadline came first. Also
    /// returns the number of attempts made.
    async fn post_until_answered(
        &self,
        worker: usize,
        index: u64,
        body: &Bytes,
    ) -> Option<(Answer, usize)> {
        let mut attempt = 0usize;
        loop {
            let why = match self.post(worker + attempt, index, body).await {
                Ok(answer) => return Some((answer, attempt + 1)),
                Err(why) => why,
            };
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            *self
                .last_retry_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(why);
            let backoff = retry_backoff(attempt);
            if Instant::now() + backoff >= self.deadline {
                return None;
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// One request; `Err` (with the reason) when it is to be retried.
    async fn post(&self, node: usize, index: u64, body: &Bytes) -> Result<Answer, String> {
        let url = &self.urls[node % self.urls.len()];
        let mut req = hyper::Request::post(url)
            .body(Full::new(body.clone()))
            .map_err(|e| format!("building the request: {e}"))?;
        *req.headers_mut() = self.workload.headers(index, body, unix_now());
        let (status, headers, answer) = self.api.exchange(req).await?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if status == StatusCode::NO_CONTENT {
            return Ok(match header("x-hookd-msg-id") {
                Some(msg_id) => Answer::Accepted {
                    msg_id: msg_id.to_owned(),
                    duplicate: header("x-hookd-duplicate") == Some("true"),
                },
                None => Answer::Refused(status, "204 without x-hookd-msg-id".to_owned()),
            });
        }
        self.ledger.status(status.as_u16());
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(format!("status {status}"));
        }
        let why = String::from_utf8_lossy(&answer).chars().take(300).collect();
        Ok(Answer::Refused(status, why))
    }
}
