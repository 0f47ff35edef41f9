//! What the API's request span hands to the handlers, and what handlers hand back to it.
//!
//! The span itself is opened and closed in [`super::observe`], around every route. It puts
//! the request's trace context into the request's extensions, where [`RequestTrace`]
//! reads it: the request span's context when tracing is on, else the caller's valid
//! `traceparent` as it came, else nothing (no extension, so nothing is allocated). A
//! message-creating handler keeps that context with the message.
//!
//! The receive route (`/ingest/{token}`) names what it did with an [`IngestNote`] in its
//! response's extensions (only when tracing is on); the span takes its provider, source id
//! and outcome from it. Never the token: the span is named after the route template.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use hookd_core::trace::{Span, TraceContext};
use std::convert::Infallible;

/// The request's trace context, as the observe layer put it (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestTrace(pub Option<TraceContext>);

/// The extension carrying it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kept(pub TraceContext);

impl<S: Send + Sync> FromRequestParts<S> for RequestTrace {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(RequestTrace(parts.extensions.get::<Kept>().map(|k| k.0)))
    }
}

/// What an ingest request came to, for its span.
#[derive(Clone, Debug)]
pub struct IngestNote {
    /// The source's type (`github`, `stripe`, ...).
    pub provider: String,
    pub source_id: String,
    /// `accepted`, `duplicate`, `handshake`, or the refusal's code.
    pub outcome: &'static str,
}

impl IngestNote {
    /// Attaches the note to `response` (made only when tracing is on).
    pub fn attach(self, response: &mut Response) {
        response.extensions_mut().insert(self);
    }

    /// Its attributes on the request span.
    pub(crate) fn describe(&self, span: &mut Span) {
        span.set("hookd.ingest.provider", self.provider.clone());
        span.set("hookd.ingest.source_id", self.source_id.clone());
        span.set("hookd.ingest.outcome", self.outcome);
    }
}
