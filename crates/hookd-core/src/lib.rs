//! hookd-core: the pure domain of hookd.
//!
//! Layout:
//! - [`ids`]: typed, prefixed, time-ordered identifiers (`app_…`, `ep_…`, `msg_…`, `atmpt_…`).
//! - [`time`]: [`Timestamp`], milliseconds since the Unix epoch, with RFC 3339 helpers.
//! - [`model`]: the records hookd stores (applications, event types, endpoints, messages,
//!   per-endpoint delivery state, attempts).
//! - [`signing`]: Standard Webhooks signing and verification (`v1,` HMAC-SHA256).
//! - [`retry`]: the retry schedule and jitter.
//! - [`validate`]: validation of user-supplied names, uids and URLs shared by every entry point.
//!
//! This crate does no I/O: no sockets, no files, no clocks except [`Timestamp::now`].

pub mod ids;
pub mod model;
pub mod retry;
pub mod signing;
pub mod time;
pub mod validate;

pub use crate::time::Timestamp;
