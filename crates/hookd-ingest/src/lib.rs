//! Verification of webhooks *received* from third-party providers (the ingest gateway).
//! Pure functions: no I/O, no clock (the caller passes `now`), no logging.
//!
//! # Layout
//! - [`request`]: [`IncomingRequest`], the request exactly as the provider sent it.
//! - [`config`]: [`Provider`], [`ProviderConfig`] (secrets for rotation, tolerance) and
//!   [`GenericHmacConfig`]; secrets are redacted in `Debug`.
//! - [`rejection`]: [`Rejection`], every reason a request is refused, each with a stable
//!   snake_case `code()` and a `detail()` that never contains a secret.
//! - `crypto`: HMAC helpers, hex/base64 decoding and constant-time comparison.
//! - `providers/`: one file per provider scheme; each exposes `verify(...)`.
//! - `event_type`: fills [`Verified::event_type`] (and body-carried event ids) in one
//!   read of the body.
//! - `kept`: [`kept_headers`], the request headers kept with an accepted event.
//! - `handshake`: Slack, Twitch and Zoom endpoint handshakes (answered only for requests
//!   that already passed verification) and Slack's `ssl_check` probe (answered before).
//!
//! This crate must not touch storage, HTTP servers or the delivery engine: the server
//! calls [`receive()`], the one entry point, and decides what to store and answer from the
//! [`Received`] it returns. [`receive()`] keeps the order: a probe that carries nothing is
//! answered before verification, everything else is verified, and only a verified
//! request is looked at for a handshake.
//!
//! Order of checks, everywhere: headers are parsed (`missing_header`,
//! `malformed_signature`, `malformed_timestamp`), then the signature is checked against
//! every active secret (`bad_signature`), and only an authentic request is checked for
//! age (`stale_timestamp`), so `stale_timestamp` always means "authentic but too old".

pub mod config;
mod crypto;
mod event_type;
mod handshake;
mod kept;
mod providers;
pub mod rejection;
pub mod request;

pub use config::{Encoding, GenericHmacConfig, HmacAlgorithm, Provider, ProviderConfig, Secret};
pub use handshake::HandshakeResponse;
pub use kept::kept_headers;
pub use rejection::Rejection;
pub use request::IncomingRequest;

/// What an accepted request tells the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    /// The provider's own id of this delivery or event, for de-duplicating retries
    /// (`X-GitHub-Delivery`, the Stripe event id, `webhook-id`, ...); `None` when the
    /// provider sends none. Always storable: an id no database column or header can
    /// carry as sent (a NUL, over 256 bytes, ...) is replaced by its digest
    /// (`event_type::storable_id`).
    pub event_id: Option<String>,
    /// The signed timestamp in Unix seconds, when the provider signs one.
    pub timestamp: Option<i64>,
    /// The provider's own name for the event (`push`, `invoice.paid`, ...), when it gives
    /// one (header or body; see `event_type.rs`).
    pub event_type: Option<String>,
}

/// What a request to a receive URL turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A probe or handshake hookd answers itself: nothing is stored or forwarded.
    Answer(HandshakeResponse),
    /// An authentic event, to store and forward.
    Event(Verified),
    /// Refused, with a stable code.
    Refused(Rejection),
}

/// The ingest gateway's one entry point: answers a probe that carries nothing (before
/// verification), verifies everything else, and answers a verified handshake; what is
/// left is an event. `now_unix_secs` is the caller's clock.
pub fn receive(config: &ProviderConfig, req: &IncomingRequest<'_>, now_unix_secs: i64) -> Received {
    if let Some(answer) = handshake::probe(config, req) {
        return Received::Answer(answer);
    }
    match verify(config, req, now_unix_secs) {
        Err(rejection) => Received::Refused(rejection),
        Ok(verified) => match handshake::handshake(config, req) {
            Some(answer) => Received::Answer(answer),
            None => Received::Event(verified),
        },
    }
}

/// Why `config` can never verify a request, if it cannot: checked when a source is saved,
/// so a secret that is not a key is refused there rather than on every request.
pub fn config_problem(config: &ProviderConfig) -> Option<Rejection> {
    if config.secrets.is_empty() {
        return Some(Rejection::MissingSecret);
    }
    match config.provider {
        Provider::StandardWebhooks => config
            .secrets
            .iter()
            .find_map(providers::standard_webhooks::secret_problem),
        Provider::GenericHmac if config.generic.is_none() => Some(Rejection::InvalidConfig(
            "generic_hmac needs a `generic` section",
        )),
        _ => None,
    }
}

/// Verifies `req` as sent by `config.provider`, at `now_unix_secs` (signature and age only;
/// the gateway calls [`receive()`], which also answers probes and handshakes).
pub fn verify(
    config: &ProviderConfig,
    req: &IncomingRequest<'_>,
    now_unix_secs: i64,
) -> Result<Verified, Rejection> {
    if config.secrets.is_empty() {
        return Err(Rejection::MissingSecret);
    }
    let tolerance = config.tolerance();
    let secrets = &config.secrets;
    use providers::*;
    let mut verified = match config.provider {
        Provider::StandardWebhooks => {
            standard_webhooks::verify(secrets, req, now_unix_secs, tolerance)
        }
        Provider::Github => github::verify(secrets, req),
        Provider::Stripe => stripe::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Shopify => shopify::verify(secrets, req),
        Provider::Slack => slack::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Twilio => twilio::verify(secrets, req),
        Provider::Paddle => paddle::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Linear => linear::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Gitlab => gitlab::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Twitch => twitch::verify(secrets, req, now_unix_secs, tolerance),
        Provider::Zoom => zoom::verify(secrets, req, now_unix_secs, tolerance),
        Provider::GenericHmac => {
            let generic = config.generic.as_ref().ok_or(Rejection::InvalidConfig(
                "generic_hmac needs a `generic` section",
            ))?;
            generic_hmac::verify(generic, secrets, req, now_unix_secs, config.tolerance_secs)
        }
    }?;
    event_type::describe(config.provider, req, &mut verified);
    Ok(verified)
}

/// Parsers of provider signature headers, exposed so they can be fuzzed; they never
/// panic and never see secrets.
pub mod parse {
    pub use crate::providers::paddle::parse_header as paddle_header;
    pub use crate::providers::standard_webhooks::parse_header as standard_webhooks_header;
    pub use crate::providers::stripe::parse_header as stripe_header;
    pub use crate::providers::twilio::url_variants as twilio_url_variants;
}
