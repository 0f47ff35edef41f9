//! hookd-server: the running service.
//!
//! Layout:
//! - [`config`]: typed configuration (defaults < `hookd.toml` < `HOOKD_*` env < flags).
//! - [`api`]: the Svix-compatible HTTP API v1 (one module per resource), auth and errors.
//! - [`run`]: opens the store, starts the delivery engine, serves the API on a bound
//!   listener until shutdown, then drains.
//!
//! Data flows one way: api → store (commit) → delivery engine (claim, sign, send, record).

pub mod api;
