//! The HTTP listener: hookd's own accept loop, serving the API router over HTTP/1.1 with
//! hyper, and bounding slow, idle and surplus clients.
//!
//! Layout:
//! - [`serve`] (here): accepts until shutdown; admits each connection into the
//!   [`registry::Registry`] (at `max_connections` it evicts the connection that has waited
//!   longest for a request head, or refuses the new one with 503 when every connection is
//!   busy); backs off on `accept` errors (freeing a descriptor the same way when the
//!   process has none left) and logs them at most once a second with a count; on
//!   shutdown stops accepting and lets in-flight requests finish.
//! - [`registry`]: the live connections, the cap, the choice of whom to evict.
//! - [`conn`]: a connection's phase and deadlines, and the task that enforces them.
//! - [`io`]: the socket as hyper sees it: notes head starts and stalled writes, and gives
//!   hyper's own parse-error answers (400, 414, 431) the JSON body every error has.
//! - [`service`]: hyper's service around the router (request-body timing, 408) and the
//!   router layer that answers a declared oversized body with 413 at once.
//!
//! The rules, from [`ListenerSettings`]:
//! - a new connection must deliver its first request head within `head_timeout`; a later
//!   head must be complete `head_timeout` after its first byte (else 408, closed);
//! - a kept-alive connection waiting for its next request is closed after `idle_timeout`;
//!   so is one whose response the client does not read for that long;
//! - a request body must keep coming: no pause over `body_timeout`, and after the first
//!   `body_timeout` at least `body_min_rate` bytes a second on average (else 408
//!   `request_timeout`, closed);
//! - at most `max_connections` connections (default: from the open-file limit, which is
//!   raised to its hard limit at start-up).
//!
//! Nothing here reads request contents beyond their framing, and nothing is logged about
//! a request but its failure kind.

mod conn;
mod io;
mod registry;
mod service;

pub use service::refuse_declared_oversize;

use crate::config::ListenerSettings;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hookd_store::RateLimitedLog;
use hyper::server::conn::http1;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest request head (request line and headers) read, in bytes: above it, 431. Above
/// hyper's URI limit (64 KiB) so that an overlong URI still gets its own 414.
const MAX_HEAD_BYTES: usize = 96 * 1024;

/// The limits [`serve`] enforces.
#[derive(Clone, Debug)]
pub struct Limits {
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub body_min_rate: u64,
    pub max_connections: usize,
}

impl Limits {
    /// The configured limits. Raises the open-file limit to the hard limit first (a
    /// process-wide change) and derives an unset `max_connections` from it.
    pub fn new(settings: &ListenerSettings) -> Self {
        let open_files = raise_open_file_limit();
        let max_connections = settings
            .max_connections
            .unwrap_or_else(|| default_max_connections(open_files));
        if open_files.is_some_and(|n| max_connections as u64 + 64 > n) {
            tracing::warn!(
                max_connections,
                open_files,
                "max_connections leaves few descriptors for the database and deliveries; \
                 when they run out, the longest-waiting connections are closed"
            );
        }
        Self {
            head_timeout: settings.head_timeout,
            idle_timeout: settings.idle_timeout,
            body_timeout: settings.body_timeout,
            body_min_rate: settings.body_min_rate,
            max_connections,
        }
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force
/// (`None` where it cannot be read).
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "could not read or raise the open-file limit");
            None
        }
    }
}

/// Half the open-file limit, keeping at most 640 descriptors for the database, outbound
/// deliveries (512 at most in flight) and files; between 16 and 16384.
fn default_max_connections(open_files: Option<u64>) -> usize {
    let Some(n) = open_files else {
        return 1024;
    };
    let reserve = (n / 2).min(640);
    usize::try_from(n - reserve)
        .unwrap_or(usize::MAX)
        .clamp(16, 16_384)
}

/// One line a second at most about failing `accept`s, and about refused connections.
static ACCEPT_ERRORS: RateLimitedLog = RateLimitedLog::new();
static REFUSED: RateLimitedLog = RateLimitedLog::new();

/// Serves `router` on `listener` until `shutdown`: then stops accepting, closes idle
/// connections, lets in-flight requests finish and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    tracing::info!(
        max_connections = limits.max_connections,
        head_timeout_s = limits.head_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        "listener limits"
    );
    let limits = Arc::new(limits);
    let registry = registry::Registry::new(limits.max_connections);
    let tracker = TaskTracker::new();
    let mut builder = http1::Builder::new();
    // Head and idle deadlines are the connection task's (hyper's would time the idle
    // wait between requests as a head).
    builder
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES);
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                stream
            }
            // The one connection failed before it was accepted: nothing to wait for.
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                let freed = is_out_of_descriptors(&e) && registry.evict_one();
                // The evicted connection's descriptor is free as soon as its task runs.
                let pause = if freed {
                    Duration::from_millis(1)
                } else {
                    backoff.next()
                };
                if let Some(suppressed) = ACCEPT_ERRORS.admit() {
                    tracing::warn!(
                        error = %e,
                        suppressed,
                        pause_ms = pause.as_millis() as u64,
                        evicted_idle = freed,
                        "accepting a connection failed; pausing"
                    );
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let Some(registered) = registry.admit(tokio::time::Instant::now()) else {
            refuse(stream);
            continue;
        };
        let service = service::ApiService {
            router: router.clone(),
            conn: registered.conn.clone(),
            limits: limits.clone(),
            peer: stream.peer_addr().ok(),
        };
        tracker.spawn(conn::serve(
            stream,
            registered,
            builder.clone(),
            service,
            limits.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// Every connection is busy: a short 503 (written only if the socket takes it at once,
/// which a new one does), then close.
fn refuse(stream: TcpStream) {
    if let Some(suppressed) = REFUSED.admit() {
        tracing::warn!(
            suppressed,
            "connection limit reached with every connection busy; refusing new ones"
        );
    }
    // Written by one plain non-blocking call: a new socket's send buffer is empty.
    if let Ok(stream) = stream.into_std() {
        use std::io::Write;
        let _ = (&stream).write(&error_response(503));
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    // EMFILE (24) and ENFILE (23) on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// The pause after a failed `accept`: 10 ms, doubling to 1 s; reset by a success.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        pause
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

/// The `code` and `detail` of the listener's own error answers.
fn error_code(status: u16) -> (&'static str, &'static str) {
    match status {
        408 => (
            "request_timeout",
            "the request did not arrive in time; the connection is closed",
        ),
        414 => (
            "uri_too_long",
            "the request URI is longer than the server accepts",
        ),
        431 => (
            "headers_too_large",
            "the request headers are larger than the server accepts",
        ),
        503 => (
            "unavailable",
            "the server has too many connections; retry later",
        ),
        _ => (
            "bad_request",
            "the request line or headers could not be parsed",
        ),
    }
}

fn error_json(status: u16) -> String {
    let (code, detail) = error_code(status);
    serde_json::json!({ "code": code, "detail": detail }).to_string()
}

/// A whole HTTP/1.1 error response, written straight to a socket, closing the connection.
pub(crate) fn error_response(status: u16) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let body = error_json(status);
    let retry = if status == 503 {
        "retry-after: 1\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The same error as a router response, closing the connection.
pub(crate) fn error_reply(status: u16) -> Response {
    let code = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    (
        code,
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CONNECTION, "close"),
        ],
        error_json(status),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
