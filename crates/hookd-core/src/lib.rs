//! hookd-core: the pure domain of hookd.
//!
//! Layout:
//! - [`ids`]: typed, prefixed, time-ordered identifiers (`app_…`, `ep_…`, `msg_…`, `atmpt_…`).
//! - [`time`]: [`Timestamp`], milliseconds since the Unix epoch, with RFC 3339 helpers.
//! - [`model`]: the records hookd stores (applications, event types, endpoints, messages,
//!   per-endpoint delivery state, attempts).
//! - [`signing`]: Standard Webhooks signing and the one verifier (`v1` HMAC-SHA256, `v1a`
//!   ed25519), used by the ingest gateway, the tests and the benchmark.
//! - [`crypto`]: HMAC-SHA256, the one MAC helper.
//! - [`retry`]: the retry schedule and jitter.
//! - [`liveness`]: [`liveness::Heartbeat`], how a long-running part shows progress and owed
//!   work to the watchdog.
//! - [`metrics`]: counters, gauges and histograms in atomics, and the Prometheus text format.
//! - `openapi` (feature `openapi`): the OpenAPI schemas of the ids and [`Timestamp`], for
//!   the server's generated API document.
//! - [`trace`]: spans, W3C `traceparent`, the bounded queue finished spans wait in, and
//!   their OTLP/JSON encoding.
//! - [`validate`]: validation of user-supplied names, uids and URLs shared by every entry point.
//!
//! This crate does no I/O: no sockets, no files, no clocks except [`Timestamp::now`]
//! (and the durations callers hand to a [`metrics::Histogram`], and span times in
//! [`trace`]).

pub mod crypto;
pub mod ids;
pub mod liveness;
pub mod metrics;
pub mod model;
#[cfg(feature = "openapi")]
mod openapi;
pub mod retry;
pub mod signing;
pub mod time;
pub mod trace;
pub mod validate;

pub use crate::time::Timestamp;
