//! The provider's request as received, before anything is parsed.

use http::HeaderMap;

/// A request as the provider sent it. Bodies are byte-exact: signatures cover raw bytes.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// HTTP method (Twilio signs form parameters only for `POST`).
    pub method: &'a str,
    /// The full URL the provider called, `scheme://host[:port]/path?query`, as the
    /// provider saw it (Twilio signs it; behind a proxy use the public URL).
    pub url: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
}

impl<'a> IncomingRequest<'a> {
    /// The header's value as text; `Err(MissingHeader)` when absent or not visible ASCII.
    pub(crate) fn header(&self, name: &'static str) -> Result<&'a str, crate::Rejection> {
        self.optional_header(name)
            .ok_or(crate::Rejection::MissingHeader(name.to_string()))
    }

    /// The header's value as text, if present and visible ASCII.
    pub(crate) fn optional_header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
