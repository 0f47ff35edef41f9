//! A webhook receiver: a real HTTP/1.1 server on loopback, port 0, that records every
//! request and answers as the test scripted it.
//!
//! Answers are chosen per request, first match wins: the path's queued answers (each used
//! once, in order: [`Receiver::script`]); the answer for a message's first request to a
//! path ([`Receiver::first_of_each_message`]); the path's default
//! ([`Receiver::set_default`]); the receiver's fallback ([`Receiver::set_fallback`]);
//! `200`. A request is recorded when it arrives, before any delay or hold, and marked
//! answered when its answer goes out; every arrival and every answer wakes the waits.

mod answer;
#[cfg(test)]
mod tests;

pub use answer::Answer;

use crate::wait::{self, Recheck, Signal};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Its `webhook-id` header (empty without one): the message it delivers.
    pub msg_id: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status it was (or is being) answered with.
    pub status: u16,
    /// When the whole request had arrived, before any delay or hold.
    pub arrived_at: Instant,
    /// When its answer went out; `None` while it is delayed or held.
    pub answered_at: Option<Instant>,
}

impl Received {
    /// Its answer went out (whatever the status).
    pub fn answered(&self) -> bool {
        self.answered_at.is_some()
    }

    /// Answered, and with a 2xx.
    pub fn delivered(&self) -> bool {
        self.answered() && (200..300).contains(&self.status)
    }
}

/// How many of `got` were answered.
pub fn answered(got: &[Received]) -> usize {
    got.iter().filter(|r| r.answered()).count()
}

/// Successful deliveries per (message id, path): how many requests of each were answered
/// with a 2xx.
pub fn delivered(got: &[Received]) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for r in got.iter().filter(|r| r.delivered()) {
        *out.entry((r.msg_id.clone(), r.path.clone())).or_insert(0) += 1;
    }
    out
}

#[derive(Default)]
struct Script {
    /// Used once each, in order, before anything else.
    queued: VecDeque<Answer>,
    default: Option<Answer>,
}

#[derive(Default)]
struct Log {
    got: Vec<Received>,
    scripts: HashMap<String, Script>,
    first_of_message: Option<Answer>,
    fallback: Option<Answer>,
    /// Per path: requests being answered now, and the most there ever were.
    in_flight: HashMap<String, (usize, usize)>,
    /// How many requests [`Receiver::next`] has handed out.
    taken: usize,
}

impl Log {
    fn choose(&mut self, path: &str, msg_id: &str) -> Answer {
        let seen = |log: &Log| log.got.iter().any(|r| r.msg_id == msg_id && r.path == path);
        let script = self.scripts.entry(path.to_owned()).or_default();
        if let Some(answer) = script.queued.pop_front() {
            return answer;
        }
        let default = script.default.clone();
        if let Some(first) = self.first_of_message.clone() {
            if !seen(self) {
                return first;
            }
        }
        default
            .or_else(|| self.fallback.clone())
            .unwrap_or_else(Answer::ok)
    }
}

struct State {
    log: Mutex<Log>,
    /// Raised on every arrival and every answer.
    changed: Signal,
    gate: watch::Sender<bool>,
}

impl State {
    fn log(&self) -> MutexGuard<'_, Log> {
        // A test that panicked while holding the lock has failed already; the log is fine.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops the accept loop once the last clone of the receiver is dropped.
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A webhook receiver on 127.0.0.1 (or the address given), port 0. Clones share it.
#[derive(Clone)]
pub struct Receiver {
    /// `http://{addr}`.
    pub base: String,
    addr: SocketAddr,
    state: Arc<State>,
    _server: Arc<Server>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0").await
    }

    /// A receiver bound to `addr`, e.g. `[::1]:0`.
    pub async fn start_on(addr: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("binding the receiver to {addr}: {e}"));
        let addr = listener.local_addr().expect("a bound address");
        let state = Arc::new(State {
            log: Mutex::default(),
            changed: Signal::new(),
            gate: watch::channel(false).0,
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            base: format!("http://{addr}"),
            addr,
            state,
            _server: Arc::new(Server(server)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Queues answers for the next requests to `path`.
    pub fn script(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .log()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .queued
            .extend(answers);
    }

    /// Answers the next request to `path` with `answer`, once.
    pub fn respond_once(&self, path: &str, answer: Answer) {
        self.script(path, [answer]);
    }

    /// The answer for `path` once its queued answers are used up.
    pub fn set_default(&self, path: &str, answer: Answer) {
        self.state
            .log()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .default = Some(answer);
    }

    /// The answer for every path that has no queued answer or default of its own.
    pub fn set_fallback(&self, answer: Answer) {
        self.state.log().fallback = Some(answer);
    }

    /// The answer for the first request of each message (by `webhook-id`) to each path,
    /// when the path has no queued answer: `Answer::status(500)` makes every message need
    /// one retry.
    pub fn first_of_each_message(&self, answer: Answer) {
        self.state.log().first_of_message = Some(answer);
    }

    /// Lets every held answer (and every later one) go.
    pub fn open_gate(&self) {
        self.state.gate.send_replace(true);
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        self.state.log().got.clone()
    }

    /// The requests to `path` so far, in arrival order.
    pub fn received(&self, path: &str) -> Vec<Received> {
        let log = self.state.log();
        log.got.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Successful deliveries per (message id, path) so far.
    pub fn delivered(&self) -> HashMap<(String, String), usize> {
        delivered(&self.state.log().got)
    }

    /// The most requests to `path` that were being answered at the same time.
    pub fn max_concurrent(&self, path: &str) -> usize {
        let log = self.state.log();
        log.in_flight.get(path).map_or(0, |(_, max)| *max)
    }

    /// Re-checking on this receiver's arrivals and answers, for [`wait::wait_until`].
    pub fn changes(&self) -> Recheck {
        self.state.changed.recheck()
    }

    /// Waits until `check` holds for the requests so far (in arrival order), re-checking on
    /// every arrival and answer; panics after `limit`. `check` runs under the receiver's
    /// lock: it must not call the receiver.
    pub async fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&[Received]) -> bool,
    ) {
        let done = wait::try_wait_for_value(limit, self.changes(), || {
            let done = check(&self.state.log().got);
            async move { done.then_some(()) }
        })
        .await;
        if done.is_none() {
            let n = self.state.log().got.len();
            panic!("timed out after {limit:?} waiting until {what} ({n} requests arrived)");
        }
    }

    /// Waits until `path` has received at least `n` requests (answered or not), and returns
    /// them; panics after `limit`.
    pub async fn wait_for(&self, path: &str, n: usize, limit: Duration) -> Vec<Received> {
        let enough = wait::try_wait_for_value(limit, self.changes(), || {
            let got = self.received(path);
            async move { (got.len() >= n).then_some(got) }
        })
        .await;
        enough.unwrap_or_else(|| {
            let had = self.received(path).len();
            panic!("timed out after {limit:?}: {path} received {had} of {n}")
        })
    }

    /// The next request [`Receiver::next`] has not handed out yet, any path, waiting up to
    /// 10 s for it.
    pub async fn next(&self) -> Received {
        let limit = Duration::from_secs(10);
        let next = wait::try_wait_for_value(limit, self.changes(), || {
            let next = self.try_next();
            async move { next }
        })
        .await;
        next.unwrap_or_else(|| panic!("no request arrived within {limit:?}"))
    }

    /// Like [`Receiver::next`], without waiting: `None` if no request is left.
    pub fn try_next(&self) -> Option<Received> {
        let mut log = self.state.log();
        let next = log.got.get(log.taken).cloned()?;
        log.taken += 1;
        Some(next)
    }
}

async fn answer(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let msg_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (index, answer) = {
        let mut log = state.log();
        let answer = log.choose(&path, &msg_id);
        let (now, max) = log.in_flight.entry(path.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
        log.got.push(Received {
            path: path.clone(),
            msg_id,
            headers,
            body,
            status: answer.status,
            arrived_at: Instant::now(),
            answered_at: None,
        });
        (log.got.len() - 1, answer)
    };
    state.changed.raise();
    if answer.held {
        let _ = state.gate.subscribe().wait_for(|open| *open).await;
    }
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    {
        let mut log = state.log();
        if let Some((now, _)) = log.in_flight.get_mut(&path) {
            *now -= 1;
        }
        log.got[index].answered_at = Some(Instant::now());
    }
    state.changed.raise();
    let mut resp = Response::new(Full::new(answer.body));
    *resp.status_mut() = StatusCode::from_u16(answer.status).expect("a scripted status is valid");
    for (name, value) in answer.headers {
        let value = value.parse().expect("a scripted header value is valid");
        resp.headers_mut().insert(name, value);
    }
    Ok(resp)
}
