//! One connection: its phase, the deadline that phase gives it, and the task that serves
//! it with hyper and enforces that deadline.
//!
//! A connection is *waiting* (for the first byte of a request head), reading a *head*,
//! *busy* (a request is with the router) or *finishing* (the response body is done and
//! hyper is writing its last bytes). Only waiting and head connections have a deadline
//! of their own and may be evicted; busy ones are bounded by the body rules
//! ([`super::service`]) and by the write-stall rule.

use super::io::Io;
use super::service::ApiService;
use super::Limits;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What a connection is doing, as far as its deadlines are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Head,
    Busy,
    Finishing,
}

/// The state a connection's socket, service and supervisor share.
pub(crate) struct Conn {
    state: Mutex<State>,
    /// Wakes the supervisor on eviction and on a stalled write. Phase changes do not: see
    /// [`serve`] for why the supervisor need not hear of them.
    changed: Notify,
}

struct State {
    phase: Phase,
    /// When the phase's clock started: accept time for the first head, the head's first
    /// byte for later ones, the end of the last response for waiting.
    since: Instant,
    /// Requests handed to the router so far (0: the first head is still due).
    served: u64,
    /// When a write last found the socket full with no progress since.
    write_stalled: Option<Instant>,
    /// The registry chose this connection to make room.
    evicted: bool,
}

/// What the supervisor does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing due; wake at this instant (or on a change) to check again.
    WaitUntil(Option<Instant>),
    /// Close without a word: idle, evicted, stalled or shutting down while idle.
    Close,
    /// The head did not arrive in time: answer 408 and close.
    HeadTimeout,
    /// A request is in progress: let it finish, then close (eviction or shutdown); the
    /// connection's own deadline, if any, still holds.
    Drain(Option<Instant>),
}

impl Conn {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Waiting,
                since: now,
                served: 0,
                write_stalled: None,
                evicted: false,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain data, consistent after every statement: a panic elsewhere
        // cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn phase(&self) -> Phase {
        self.lock().phase
    }

    /// Since when the connection has waited for (the rest of) a request head; `None`
    /// while a request is in progress.
    pub(super) fn waiting_since(&self) -> Option<Instant> {
        let s = self.lock();
        matches!(s.phase, Phase::Waiting | Phase::Head).then_some(s.since)
    }

    /// Bytes arrived from the client.
    pub(crate) fn on_read(&self) {
        let mut s = self.lock();
        if s.phase == Phase::Waiting {
            s.phase = Phase::Head;
            // The first head is timed from the accept; later ones from their first byte.
            if s.served > 0 {
                s.since = Instant::now();
            }
        }
    }

    /// hyper handed a request to the router.
    pub(crate) fn on_request(&self) {
        let mut s = self.lock();
        s.phase = Phase::Busy;
        s.served += 1;
    }

    /// The response body was produced whole (or dropped): what hyper writes until its
    /// next flush still belongs to this response.
    pub(crate) fn on_response_done(&self) {
        let mut s = self.lock();
        if s.phase == Phase::Busy {
            s.phase = Phase::Finishing;
        }
    }

    /// hyper flushed the socket: after a finished response, the connection waits again.
    pub(crate) fn on_flushed(&self) {
        let mut s = self.lock();
        if s.phase == Phase::Finishing {
            s.phase = Phase::Waiting;
            s.since = Instant::now();
        }
    }

    /// A write found the socket full (`stalled`) or made progress.
    pub(crate) fn on_write(&self, stalled: bool) {
        let mut s = self.lock();
        match (stalled, s.write_stalled) {
            (true, None) => {
                s.write_stalled = Some(Instant::now());
                drop(s);
                self.changed.notify_one();
            }
            (false, Some(_)) => s.write_stalled = None,
            _ => {}
        }
    }

    pub(super) fn evict(&self) {
        self.lock().evicted = true;
        self.changed.notify_one();
    }

    /// What is due at `now` under `limits`; `stopping` once the server shuts down.
    pub(crate) fn next(&self, now: Instant, limits: &Limits, stopping: bool) -> Next {
        let s = self.lock();
        if let Some(since) = s.write_stalled {
            let due = since + limits.idle_timeout;
            if now >= due {
                return Next::Close;
            }
            if matches!(s.phase, Phase::Busy | Phase::Finishing) {
                return if s.evicted || stopping {
                    Next::Drain(Some(due))
                } else {
                    Next::WaitUntil(Some(due))
                };
            }
        }
        match s.phase {
            Phase::Busy | Phase::Finishing if s.evicted || stopping => Next::Drain(None),
            Phase::Busy | Phase::Finishing => Next::WaitUntil(None),
            Phase::Waiting if s.evicted || stopping => Next::Close,
            Phase::Waiting => {
                let wait = if s.served == 0 {
                    limits.head_timeout
                } else {
                    limits.idle_timeout
                };
                match s.since + wait {
                    due if now >= due => Next::Close,
                    due => Next::WaitUntil(Some(due)),
                }
            }
            Phase::Head if s.evicted => Next::Close,
            Phase::Head => match s.since + limits.head_timeout {
                due if now >= due => Next::HeadTimeout,
                // On shutdown a head being sent is let in (and answered), within its time.
                due if stopping => Next::Drain(Some(due)),
                due => Next::WaitUntil(Some(due)),
            },
        }
    }
}

/// Serves one connection until it ends, closing it when its deadline passes, when it is
/// evicted, or (once idle) after `stop`.
pub(crate) async fn serve(
    stream: TcpStream,
    registered: super::registry::Registered,
    builder: http1::Builder,
    service: ApiService,
    limits: Arc<Limits>,
    stop: CancellationToken,
) {
    let conn = registered.conn.clone();
    let mut http = builder.serve_connection(TokioIo::new(Io::new(stream, conn.clone())), service);
    // The supervisor is not woken by phase changes (two per request would cost a wake-up
    // and a timer reset each). Instead it looks again at least every `recheck`: a deadline
    // a phase change sets at `t` is `t + head_timeout` or `t + idle_timeout`, never before
    // `t + recheck`, so a look at most `recheck` after the previous one is never late.
    let recheck = limits.head_timeout.min(limits.idle_timeout);
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    let mut draining = false;
    loop {
        let stopping = stop.is_cancelled();
        let now = Instant::now();
        let due = match conn.next(now, &limits, stopping) {
            Next::WaitUntil(due) => due,
            Next::Close => return,
            Next::HeadTimeout => {
                let Some(mut stream) = http.into_parts().io.into_inner().into_unanswered() else {
                    return;
                };
                // Best effort: a client that sends a head this slowly may not read either.
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    stream.write_all(&super::error_response(408)).await?;
                    stream.shutdown().await
                })
                .await;
                return;
            }
            Next::Drain(due) => {
                if !draining {
                    draining = true;
                    std::pin::Pin::new(&mut http).graceful_shutdown();
                }
                due
            }
        };
        let due = due.map_or(now + recheck, |due| due.min(now + recheck));
        if sleep.deadline() != due {
            sleep.as_mut().reset(due);
        }
        tokio::select! {
            biased;
            result = &mut http => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.changed.notified() => {}
            () = stop.cancelled(), if !stopping => {}
            () = &mut sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_head_is_due_head_timeout_after_the_accept() {
        let t0 = Instant::now();
        let conn = Conn::new(t0);
        let l = Limits::for_tests();
        assert_eq!(
            conn.next(t0, &l, false),
            Next::WaitUntil(Some(t0 + l.head_timeout))
        );
        conn.on_read();
        assert_eq!(conn.phase(), Phase::Head);
        // Still timed from the accept, not from the first byte.
        assert_eq!(conn.next(t0 + l.head_timeout, &l, false), Next::HeadTimeout);
    }

    #[test]
    fn between_requests_a_connection_waits_idle_timeout_and_a_busy_one_has_no_deadline() {
        let t0 = Instant::now();
        let conn = Conn::new(t0);
        let l = Limits::for_tests();
        conn.on_read();
        conn.on_request();
        assert_eq!(
            conn.next(t0 + l.idle_timeout * 5, &l, false),
            Next::WaitUntil(None)
        );
        conn.on_flushed(); // a flush before the response is done changes nothing
        assert_eq!(conn.phase(), Phase::Busy);
        conn.on_response_done();
        conn.on_flushed();
        assert_eq!(conn.phase(), Phase::Waiting);
        let now = Instant::now();
        match conn.next(now, &l, false) {
            Next::WaitUntil(Some(due)) => {
                assert!(due >= now + l.idle_timeout - Duration::from_millis(50))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(conn.next(now + l.idle_timeout, &l, false), Next::Close);
        assert_eq!(conn.next(now, &l, true), Next::Close, "idle on shutdown");
    }

    #[test]
    fn on_shutdown_a_head_being_sent_keeps_its_deadline() {
        let t0 = Instant::now();
        let conn = Conn::new(t0);
        let l = Limits::for_tests();
        conn.on_read();
        assert_eq!(
            conn.next(t0, &l, true),
            Next::Drain(Some(t0 + l.head_timeout))
        );
        assert_eq!(conn.next(t0 + l.head_timeout, &l, true), Next::HeadTimeout);
        conn.on_request();
        assert_eq!(conn.next(t0, &l, true), Next::Drain(None));
    }

    #[test]
    fn a_stalled_write_closes_after_idle_timeout_even_when_busy() {
        let t0 = Instant::now();
        let conn = Conn::new(t0);
        let l = Limits::for_tests();
        conn.on_request();
        conn.on_write(true);
        let later = Instant::now() + l.idle_timeout;
        assert_eq!(conn.next(later, &l, false), Next::Close);
        conn.on_write(false);
        assert_eq!(conn.next(later, &l, false), Next::WaitUntil(None));
    }
}
