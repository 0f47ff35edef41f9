//! hyper's service around the API router, and the bodies it wraps.
//!
//! - [`ApiService`] tells the connection when a request starts and when its response is
//!   done, times the request body with [`TimedBody`], and turns a request whose body
//!   stopped arriving into 408 `request_timeout` (whatever the handler made of the cut
//!   body), closing the connection.
//! - [`refuse_declared_oversize`]: the router's outermost layer on the API routes: a
//!   declared `content-length` over `max_body_bytes` is 413 at once, before any extractor
//!   polls the body (so no `100 Continue` is sent to an `Expect: 100-continue` client).

use super::conn::Conn;
use super::Limits;
use crate::api::http::error::ApiError;
use crate::api::ApiState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH};
use http::HeaderValue;
use hyper::body::{Frame, Incoming, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The router as one connection's hyper service.
#[derive(Clone)]
pub(crate) struct ApiService {
    pub(crate) router: Router,
    pub(crate) conn: Arc<Conn>,
    pub(crate) limits: Arc<Limits>,
    /// The client's address, given to handlers as `ConnectInfo` (for the refusal log).
    pub(crate) peer: Option<std::net::SocketAddr>,
}

impl hyper::service::Service<http::Request<Incoming>> for ApiService {
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        self.conn.on_request();
        let expired = Arc::new(AtomicBool::new(false));
        let body_timeout = self.limits.body_timeout;
        let min_rate = self.limits.body_min_rate;
        let mut req = req.map(|inner| {
            Body::new(TimedBody {
                inner,
                body_timeout,
                min_rate,
                clock: None,
                sleep: None,
                expired: expired.clone(),
            })
        });
        if let Some(peer) = self.peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let router = self.router.clone();
        let conn = self.conn.clone();
        Box::pin(async move {
            let response = match router.oneshot(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = if expired.load(Ordering::Acquire) {
                super::error_reply(408)
            } else {
                response
            };
            Ok(response.map(|inner| ResponseBody {
                inner,
                conn: Some(conn),
            }))
        })
    }
}

/// A request body that must keep arriving: no pause longer than `body_timeout`, and
/// after the first `body_timeout`, on average at least `min_rate` bytes a second. The
/// clock starts when the handler first reads.
pub(crate) struct TimedBody {
    inner: Incoming,
    body_timeout: std::time::Duration,
    min_rate: u64,
    clock: Option<Clock>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Set when the body was cut for being too slow.
    expired: Arc<AtomicBool>,
}

#[derive(Clone, Copy)]
struct Clock {
    started: Instant,
    last: Instant,
    received: u64,
}

impl TimedBody {
    fn due(&self, clock: Clock) -> Instant {
        let pause = clock.last + self.body_timeout;
        if self.min_rate == 0 {
            return pause;
        }
        let earned =
            std::time::Duration::from_secs_f64(clock.received as f64 / self.min_rate as f64);
        pause.min(clock.started + self.body_timeout + earned)
    }

    fn expire(&self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err("the request body did not arrive in time".into())))
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let now = Instant::now();
        let clock = *this.clock.get_or_insert(Clock {
            started: now,
            last: now,
            received: 0,
        });
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(clock)) = (frame.data_ref(), this.clock.as_mut()) {
                    clock.received += data.len() as u64;
                    clock.last = now;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let due = this.due(clock);
                if now >= due {
                    return this.expire();
                }
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if sleep.deadline() != due {
                    sleep.as_mut().reset(due);
                }
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.expire(),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the connection when it is done (ended or dropped).
pub(crate) struct ResponseBody {
    inner: Body,
    conn: Option<Arc<Conn>>,
}

impl ResponseBody {
    fn done(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.on_response_done();
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.done();
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// 413 at once for a declared `content-length` over `max_body_bytes`, before the body is
/// read (the ingest receive route does its own check, which also records a rejection).
pub async fn refuse_declared_oversize(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        let mut response = ApiError::PayloadTooLarge.into_response();
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(req).await
}
