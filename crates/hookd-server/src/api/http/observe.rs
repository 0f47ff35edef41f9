//! What every request goes through on its way out: a request id, the metrics, the
//! optional access log (`access_log = true`) and, with `otlp_endpoint` set, a span.
//!
//! - The request id: an incoming `x-request-id` is kept only when it is short printable
//!   ASCII, so a client cannot write arbitrary text into the log; otherwise one is
//!   generated. It is returned as the `x-request-id` response header either way.
//! - The metrics: the request is counted by route template, method and status class, and
//!   its duration recorded ([`crate::metrics::ServerMetrics::request`]).
//! - The access log: one `info` line (target `hookd_server::access`) with the method, the
//!   route template, the status, the duration and the request id.
//!
//! - The span (kind SERVER), named `{method} {route template}` (`POST
//!   /api/v1/app/{app_id}/msg`; just the method when no route matched), a child of the
//!   caller's `traceparent` when it sends a valid one (an invalid one is ignored: the span
//!   starts a new trace, and the request is not refused). Attributes:
//!   `http.request.method`, `http.route`, `http.response.status_code`, `hookd.request_id`,
//!   and the receive route's [`IngestNote`]; status ERROR on a 5xx. Its context goes to
//!   the handler in the request's extensions ([`super::trace`]). With tracing off, only a
//!   caller's valid `traceparent` is passed on (so a message can keep it); nothing is
//!   allocated for a request without one.
//!
//! The route template (`/api/v1/app/{app_id}/msg`), never the raw path: a path can carry
//! a credential (`/ingest/{token}`) and a query can carry anything. A request that matched
//! no route is `unmatched` in the metrics and `-` in the log.

use super::trace::{IngestNote, Kept};
use crate::metrics::{ServerMetrics, UNMATCHED};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use hookd_core::trace::{SpanKind, TraceContext, Tracer};
use rand::RngCore;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The request id header, read from the request and set on the response.
pub const REQUEST_ID: &str = "x-request-id";

/// The W3C Trace Context header (a constant name: no parsing per request).
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Longest incoming request id kept.
const MAX_ID_LEN: usize = 64;

/// The layer that observes every route. A plain tower layer rather than
/// `middleware::from_fn`: it runs on every request, and this way it neither clones the
/// API state nor boxes the inner service per request.
#[derive(Clone)]
pub struct Observe {
    pub metrics: Arc<ServerMetrics>,
    pub access_log: bool,
    /// Records a span per request (a no-op when tracing is off).
    pub tracer: Tracer,
}

impl<S> tower::Layer<S> for Observe {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            observe: self.clone(),
        }
    }
}

/// A route's service, observed.
#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    observe: Observe,
}

impl<S> tower::Service<Request> for Observed<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let id = req
            .headers()
            .get(REQUEST_ID)
            .filter(|v| acceptable(v.as_bytes()))
            .cloned()
            .unwrap_or_else(generate);
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let caller = req
            .headers()
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse_traceparent);
        let tracer = &self.observe.tracer;
        let span = if tracer.is_on() {
            let name = match &route {
                Some(r) => format!("{method} {}", r.as_str()),
                None => method.to_string(),
            };
            tracer.start(name, SpanKind::Server, caller.as_ref())
        } else {
            None
        };
        if let Some(ctx) = span.as_ref().map(|s| s.context()).or(caller) {
            req.extensions_mut().insert(Kept(ctx));
        }
        let answer = self.inner.call(req);
        let observe = self.observe.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            let took = started.elapsed();
            let status = response.status().as_u16();
            let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            observe.metrics.request(&method, route, status, took);
            if let Some(mut span) = span {
                span.set("http.request.method", method.to_string());
                if route != UNMATCHED {
                    span.set("http.route", route.to_owned());
                }
                span.set("http.response.status_code", i64::from(status));
                if let Ok(request_id) = id.to_str() {
                    span.set("hookd.request_id", request_id.to_owned());
                }
                if let Some(note) = response.extensions().get::<IngestNote>() {
                    note.describe(&mut span);
                }
                if status >= 500 {
                    span.set_error(format!("HTTP {status}"));
                }
            }
            if observe.access_log {
                let request_id = id.to_str().unwrap_or_default();
                tracing::info!(
                    target: "hookd_server::access",
                    %method,
                    route = if route == UNMATCHED { "-" } else { route },
                    status,
                    duration_ms = took.as_millis() as u64,
                    request_id,
                    "request"
                );
            }
            response.headers_mut().insert(REQUEST_ID, id);
            Ok(response)
        })
    }
}

/// Short, non-empty, printable ASCII without spaces.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

/// 16 random hex digits.
fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = rand::thread_rng().next_u64();
    let mut id = [0u8; 16];
    for (i, digit) in id.iter_mut().enumerate() {
        *digit = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_short_printable_ids() {
        assert!(acceptable(b"abc-123_XYZ.42"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable(b"line\nbreak"));
        assert!(!acceptable("caf\u{e9}".as_bytes()));
        assert!(!acceptable(&[b'a'; MAX_ID_LEN + 1]));
        assert!(acceptable(&[b'a'; MAX_ID_LEN]));
        let generated = generate();
        assert!(acceptable(generated.as_bytes()));
    }
}
