//! The ingest gateway's HTTP side: everything ingest-specific in the server. Providers'
//! signature checks and handshakes are `hookd_ingest`'s; the routes are wired in
//! [`router`](crate::api::router) with the rest.
//!
//! - [`source`]: sources, `/ingest/api/v1/source` (Svix Ingest's management API): each
//!   owns an internal application and a receive URL.
//! - [`source_type`]: how a source's `type` and `config` map to a verifier's config, and
//!   how a type is reported so the Svix SDK can read it.
//! - [`endpoint`]: a source's ingest endpoints, the endpoints of its internal application,
//!   served by the application endpoint handlers.
//! - [`rejection`]: the rejection log, the requests a source refused and why.
//! - [`receive`]: `POST|PUT /ingest/{token}`, where providers send (no bearer token):
//!   verified, written as a message of the source's application, then acknowledged.

pub mod endpoint;
pub mod receive;
pub mod rejection;
pub mod source;
pub mod source_type;
