//! One module per provider scheme. Each `verify` parses headers, checks the signature
//! against every active secret, then the timestamp's age, and extracts the event id.
//!
//! - `stripe`, `github`, `gitlab`, `shopify`, `slack`, `twilio`, `twitch`, `zoom`, `paddle`,
//!   `linear`: one provider each, named after it.
//! - `standard_webhooks`: Standard Webhooks and Svix headers, checked by the one verifier
//!   in `hookd_core::signing`.
//! - `generic_hmac`: a configurable HMAC scheme for providers without one of their own.
//! - `timestamped`: the `t=…,v1=…` header shape Stripe and Paddle share.

pub(crate) mod generic_hmac;
pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod linear;
pub(crate) mod paddle;
pub(crate) mod shopify;
pub(crate) mod slack;
pub(crate) mod standard_webhooks;
pub(crate) mod stripe;
pub(crate) mod timestamped;
pub(crate) mod twilio;
pub(crate) mod twitch;
pub(crate) mod zoom;

/// Parses a Unix-seconds timestamp header value.
pub(crate) fn parse_unix(value: &str) -> Result<i64, crate::Rejection> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| crate::Rejection::MalformedTimestamp("not an integer of Unix seconds"))
}
