//! hookd-delivery: turns committed destinations into signed HTTP requests.
//!
//! Layout. Files import downward only: `engine` builds every part and hands each the
//! narrow handles it needs; the parts below never reach back up. Who imports whom:
//!
//! ```text
//! engine      → every part (builds them and wires them together)
//! op_sender   → publish, operational, cache
//! recovery    → publish, lease
//! publish     → dispatcher, lanes, pacing, signal, lease
//! poller      → dispatcher, pacing, signal, lease, metrics
//! flow        → dispatcher, lanes, pacing, lease, metrics
//! lease       → lanes
//! dispatcher  → attempt, lanes, pacing, signal
//! attempt     → client, headers, decision, recorder, health, cache, operational, signal,
//!               metrics
//! health      → cache, operational, metrics
//! client      → ssrf, proxy
//! otlp        → client, ssrf
//! config      → operational, proxy
//! leaves: lanes, pacing, signal, operational, cache, recorder, decision, headers, ssrf, proxy,
//!         metrics
//! ```
//!
//! - [`Engine`] (`engine`): the handle the API holds, and the wiring. New deliveries go
//!   in through the write path (`publish`, `publish_ingest`, `resend`), recoveries through
//!   `start_recovery`, and every endpoint change through `endpoint_changed`
//!   ([`EndpointChange`]). Start-up and the shutdown sequence live here too.
//! - `publish`: the write path, the one way deliveries enter the queue (API messages,
//!   ingest events, examples, operational webhooks, resends, recovery steps): admit
//!   (reserve in-memory room), commit through the store with the lease columns filled,
//!   then hand the admitted deliveries to the dispatcher and tell the claimers about the
//!   rest. Nothing outside it and the store's claims sets a queue row's lease.
//! - `poller`: claims due destinations from the store in batches (retries, work left
//!   over by a crash or by a full queue) and hands them to the dispatcher.
//! - `flow`: claims the deliveries of the flow-controlled endpoints (throttle, concurrency
//!   cap, FIFO) this node owns; only the owner claims them, so the limits hold cluster-wide.
//! - `lease`: who claims and for how long (`Claimant`), and the renewer that extends the
//!   leases of everything this node holds, so healthy nodes never take each other's work;
//!   a dead node's leases simply run out.
//! - `recovery`: runs endpoint recoveries (leased background tasks), paced.
//! - `op_sender`: commits queued operational events as messages of the internal app,
//!   through the write path.
//! - `dispatcher`: the lane workers, a concurrency cap per endpoint, so a slow or failing
//!   endpoint only ever holds its own slots; a global cap bounds in-flight requests. Its
//!   `Dispatcher` handle is how the write path, the poller and the flow task hand work over.
//! - `lanes`: the per-endpoint queues and the in-memory counts behind admission and room.
//! - `pacing`: the flow-controlled endpoints this node owns, their throttle slots and
//!   idle waits (shared by `flow`, which fills it, and the dispatcher, which paces by it).
//! - `signal`: the poller's inbox (wake-up, earliest due time, waiting for room).
//! - `attempt`: one delivery, with an `attempt::Context` (store, endpoint cache, client,
//!   header settings, retry schedule, recorder, health, operational events): load the
//!   endpoint, sign, send, classify, record the outcome, schedule the retry
//!   (`Retry-After` honoured, `410 Gone` disables the endpoint).
//! - `recorder`: writes outcomes in batches (one commit for many deliveries).
//! - `health`: failure streaks per endpoint, written in batches; auto-disable.
//! - `metrics`: the engine's counters (attempt outcomes, durations, delivery latency,
//!   exhausted retries, disabled endpoints, claims and takeovers), written out by
//!   `Engine::encode_metrics`.
//! - `cache`: endpoints cached for at most a second, invalidated on change.
//! - `client`: the pooled keep-alive hyper client (HTTP/1.1, rustls), no redirects, bounded
//!   response reads, per-request timeout.
//! - `decision`: the next state after an attempt (retry schedule, `Retry-After`), pure.
//! - `headers`: the signed `webhook-*` headers and the endpoint's custom ones.
//! - [`operational`]: operational webhooks: the events, their emitting handle, and
//!   [`operational::OperationalTarget`] (where they go).
//! - `config`: [`EngineConfig`]; only `engine` reads it.
//! - [`ssrf`]: the address policy, applied after DNS resolution; the connection goes to the
//!   address that was checked.
//! - [`otlp`]: the OTLP/HTTP (JSON) exporter of the spans hookd records (API requests,
//!   commits, delivery attempts, ingest requests), through the deliveries' HTTP client.
//! - [`proxy`]: the optional outbound `CONNECT` proxy (static egress), tunnelling to the
//!   checked address.
//!
//! This crate never touches SQL and never parses API requests.

mod attempt;
mod cache;
mod client;
mod config;
mod decision;
mod dispatcher;
mod engine;
mod flow;
mod headers;
mod health;
mod lanes;
mod lease;
mod metrics;
mod op_sender;
pub mod operational;
pub mod otlp;
mod pacing;
mod poller;
pub mod proxy;
mod publish;
mod recorder;
mod recovery;
mod signal;
pub mod ssrf;

pub use config::EngineConfig;
pub use engine::{EndpointChange, Engine};
pub use operational::NodeEvent;
pub use proxy::ProxyConfig;
pub use publish::IngestEvent;
