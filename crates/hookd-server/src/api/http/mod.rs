//! The request plumbing every route goes through, whatever its resource. Nothing here
//! imports a resource module (`app`, `endpoint`, ...); those import from here.
//!
//! - [`error`]: [`ApiError`](error::ApiError), the one error type, with stable `code`s.
//! - [`extract`]: JSON/query/path extractors whose rejections are `ApiError`s; with
//!   [`nul_check`], they refuse text no database can hold (a NUL) before any handler.
//! - [`pagination`]: `limit`/`iterator`/`order` and the `{data, iterator, prevIterator, done}`
//!   response over the store's keyset pages.
//! - [`paths`]: the routes' path parameters, described for the OpenAPI document.
//! - [`schemas`]: the documented rules of request fields (uids, names, channels, URLs).
//! - [`auth`]: the bearer token check (everything but health): the admin token, or an
//!   app-portal token ([`portal_token`]: minted and verified statelessly) limited to one
//!   application.
//! - [`idempotency`]: `idempotency-key` on POSTs (stored responses, replayed on retry).
//! - [`cache`]: the fan-out cache (an application and its endpoints), handed to handlers
//!   as an `Extension`; every change to an application or endpoint drops its entry.
//! - [`observe`]: every request's request id, metrics, optional access log line (route
//!   templates, never raw paths) and, when tracing is on, its span.
//! - [`trace`]: the request's trace context as handlers read it ([`trace::RequestTrace`]),
//!   and what the receive route tells its span.

pub mod auth;
pub mod cache;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod nul_check;
pub mod observe;
pub mod pagination;
pub mod paths;
pub mod portal_token;
pub mod schemas;
pub mod trace;
