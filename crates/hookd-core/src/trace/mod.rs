//! Tracing: spans, W3C trace context, and the bounded queue finished spans wait in until
//! the exporter sends them (OTLP/HTTP with JSON, `hookd_delivery::otlp`).
//!
//! - [`context`]: [`TraceContext`] and the `traceparent` header.
//! - this file: [`Tracer`], the handle every part holds, and [`Span`], one span being
//!   recorded; [`SpanData`], a finished one.
//! - [`otlp`]: finished spans as an OTLP `ExportTraceServiceRequest` in the JSON mapping.
//!
//! Cost when off: a [`Tracer`] made by [`Tracer::off`] is a `None`; starting a span is
//! one branch and returns `None`, so nothing is allocated, locked or sent.
//!
//! When on, every span is recorded (hookd samples everything; the flags it propagates
//! carry the `sampled` bit). A finished span goes into a queue of bounded length; when the
//! queue is full the span is dropped and counted (never waited for), so tracing never
//! slows a request or a delivery down. The exporter takes batches from the queue.
//!
//! Span names and attributes are chosen by hookd's code from closed sets (route templates,
//! fixed names) plus ids; never a URL path, a query, a token, a header value or a payload.
//!
//! This module reads the wall clock (span start times) and a monotonic clock (durations).

pub mod context;
pub mod otlp;

pub use context::TraceContext;

use rand::RngCore;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a span stands for (OTLP `SpanKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside hookd (the commit).
    Internal = 1,
    /// A request hookd answers (API, ingest).
    Server = 2,
    /// A request hookd makes (a delivery attempt).
    Client = 3,
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Cow<'static, str>),
    Int(i64),
    Bool(bool),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// How a span ended (OTLP `Status`): unset, OK, or an error with a short message.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error(Cow<'static, str>),
}

/// A finished span, as the exporter sends it.
#[derive(Clone, Debug)]
pub struct SpanData {
    pub context: TraceContext,
    pub parent_span_id: Option<[u8; 8]>,
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: Vec<(&'static str, Value)>,
    pub status: Status,
}

/// Finished spans kept at most while they wait for the exporter (when full, new ones are
/// dropped and counted).
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// Spans the exporter sends in one request at most; a full batch wakes it early.
pub const BATCH_SIZE: usize = 512;

/// The tracing handle. Cheap to clone; [`Tracer::off`] does nothing at all.
#[derive(Clone, Default)]
pub struct Tracer(Option<Arc<Inner>>);

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_on() {
            "Tracer(on)"
        } else {
            "Tracer(off)"
        })
    }
}

struct Inner {
    queue: Mutex<Queue>,
    capacity: usize,
    /// Dropped because the queue was full.
    dropped_full: AtomicU64,
    /// Dropped because the collector did not take them (counted by the exporter).
    dropped_export: AtomicU64,
    /// Accepted by the collector (counted by the exporter).
    exported: AtomicU64,
}

#[derive(Default)]
struct Queue {
    spans: Vec<SpanData>,
    /// The exporter waiting for a full batch.
    waker: Option<Waker>,
}

impl Tracer {
    /// A tracer that records nothing.
    pub const fn off() -> Tracer {
        Tracer(None)
    }

    /// A tracer recording into a queue of at most `capacity` finished spans.
    pub fn new(capacity: usize) -> Tracer {
        Tracer(Some(Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(1),
            dropped_full: AtomicU64::new(0),
            dropped_export: AtomicU64::new(0),
            exported: AtomicU64::new(0),
        })))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Starts a span, a child of `parent` when given (else the root of a new trace);
    /// `None` when tracing is off. The span ends when it is dropped.
    pub fn start(
        &self,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: Option<&TraceContext>,
    ) -> Option<Span> {
        let inner = self.0.as_ref()?;
        let mut rng = rand::thread_rng();
        let mut span_id = [0u8; 8];
        while span_id == [0; 8] {
            rng.fill_bytes(&mut span_id);
        }
        let (trace_id, parent_span_id, flags) = match parent {
            Some(p) => (p.trace_id, Some(p.span_id), p.flags | context::SAMPLED),
            None => {
                let mut trace_id = [0u8; 16];
                while trace_id == [0; 16] {
                    rng.fill_bytes(&mut trace_id);
                }
                (trace_id, None, context::SAMPLED)
            }
        };
        Some(Span {
            data: SpanData {
                context: TraceContext {
                    trace_id,
                    span_id,
                    flags,
                },
                parent_span_id,
                name: name.into(),
                kind,
                start_unix_nanos: unix_nanos(),
                end_unix_nanos: 0,
                attributes: Vec::new(),
                status: Status::Unset,
            },
            started: Instant::now(),
            tracer: inner.clone(),
        })
    }

    /// Takes up to `max` finished spans, oldest first.
    pub fn take(&self, max: usize) -> Vec<SpanData> {
        let Some(inner) = &self.0 else {
            return Vec::new();
        };
        let mut q = lock(&inner.queue);
        let n = q.spans.len().min(max);
        q.spans.drain(..n).collect()
    }

    /// Finished spans waiting.
    pub fn queued(&self) -> usize {
        self.0.as_ref().map_or(0, |i| lock(&i.queue).spans.len())
    }

    /// Resolves once `batch` spans wait (at once if they do). Pending forever when off.
    pub fn batch_ready(&self, batch: usize) -> BatchReady<'_> {
        BatchReady {
            tracer: self,
            batch,
        }
    }

    /// The collector took `n` spans.
    pub fn count_exported(&self, n: usize) {
        if let Some(i) = &self.0 {
            i.exported.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// `n` spans were given up on after failed exports.
    pub fn count_export_dropped(&self, n: usize) {
        if let Some(i) = &self.0 {
            i.dropped_export.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far: (queue full, export failed).
    pub fn dropped(&self) -> (u64, u64) {
        self.0.as_ref().map_or((0, 0), |i| {
            (
                i.dropped_full.load(Ordering::Relaxed),
                i.dropped_export.load(Ordering::Relaxed),
            )
        })
    }

    /// Spans the collector accepted so far.
    pub fn exported(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |i| i.exported.load(Ordering::Relaxed))
    }

    /// The tracing counters, when tracing is on.
    pub fn encode_metrics(&self, out: &mut crate::metrics::Exposition) {
        if !self.is_on() {
            return;
        }
        let (full, export) = self.dropped();
        out.counter(
            "hookd_trace_spans_exported_total",
            "Spans the OTLP collector accepted.",
            self.exported(),
        );
        out.family(
            "hookd_trace_spans_dropped_total",
            "Spans dropped, by reason: queue_full (the exporter fell behind) or \
             export_failed (the collector did not take them after retries).",
            crate::metrics::Kind::Counter,
        );
        for (reason, n) in [("queue_full", full), ("export_failed", export)] {
            out.sample(
                "hookd_trace_spans_dropped_total",
                &[("reason", reason)],
                n as f64,
            );
        }
    }
}

/// See [`Tracer::batch_ready`].
pub struct BatchReady<'a> {
    tracer: &'a Tracer,
    batch: usize,
}

impl Future for BatchReady<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let Some(inner) = &self.tracer.0 else {
            return Poll::Pending;
        };
        let mut q = lock(&inner.queue);
        if q.spans.len() >= self.batch {
            return Poll::Ready(());
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A span being recorded. Dropping it ends it and queues it for export.
pub struct Span {
    data: SpanData,
    started: Instant,
    tracer: Arc<Inner>,
}

impl Span {
    /// What a child of this span, or a request it makes, names as its parent.
    pub fn context(&self) -> TraceContext {
        self.data.context
    }

    /// Sets an attribute (keys are hookd's own constants).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.data.attributes.push((key, value.into()));
    }

    /// Marks the span failed, with a short message naming the kind of failure (never a
    /// URL, a header or a payload).
    pub fn set_error(&mut self, message: impl Into<Cow<'static, str>>) {
        self.data.status = Status::Error(message.into());
    }

    /// Marks the span successful.
    pub fn set_ok(&mut self) {
        self.data.status = Status::Ok;
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        let elapsed = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let d = &mut self.data;
        let data = SpanData {
            context: d.context,
            parent_span_id: d.parent_span_id,
            name: std::mem::take(&mut d.name),
            kind: d.kind,
            start_unix_nanos: d.start_unix_nanos,
            end_unix_nanos: d.start_unix_nanos.saturating_add(elapsed),
            attributes: std::mem::take(&mut d.attributes),
            status: std::mem::take(&mut d.status),
        };
        let inner = &self.tracer;
        let waker = {
            let mut q = lock(&inner.queue);
            if q.spans.len() >= inner.capacity {
                inner.dropped_full.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.spans.push(data);
            if q.spans.len() >= BATCH_SIZE {
                q.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing() {
        let t = Tracer::off();
        assert!(t.start("x", SpanKind::Internal, None).is_none());
        assert_eq!(t.queued(), 0);
        assert!(t.take(10).is_empty());
    }

    #[test]
    fn children_share_the_trace_and_name_their_parent() {
        let t = Tracer::new(16);
        let parent = TraceContext::parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .unwrap();
        let mut span = t.start("child", SpanKind::Server, Some(&parent)).unwrap();
        span.set("k", 3i64);
        span.set_error("boom");
        let ctx = span.context();
        assert_eq!(ctx.trace_id, parent.trace_id);
        assert_ne!(ctx.span_id, parent.span_id);
        assert!(ctx.sampled());
        drop(span);
        let root = t.start("root", SpanKind::Internal, None).unwrap();
        let root_ctx = root.context();
        drop(root);
        let spans = t.take(10);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].name, "child");
        assert_eq!(spans[0].parent_span_id, Some(parent.span_id));
        assert_eq!(spans[0].attributes, vec![("k", Value::Int(3))]);
        assert_eq!(spans[0].status, Status::Error("boom".into()));
        assert!(spans[0].end_unix_nanos >= spans[0].start_unix_nanos);
        assert_eq!(spans[1].parent_span_id, None);
        assert_ne!(root_ctx.trace_id, parent.trace_id);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let t = Tracer::new(2);
        for _ in 0..5 {
            drop(t.start("s", SpanKind::Internal, None));
        }
        assert_eq!(t.queued(), 2);
        assert_eq!(t.dropped(), (3, 0));
        assert_eq!(t.take(1).len(), 1);
        assert_eq!(t.queued(), 1);
    }
}
