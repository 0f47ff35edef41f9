//! Why a request was refused. Codes are stable API: the server records them and shows
//! them to operators; details are for humans and never contain a secret.

use std::fmt;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A header the provider always sends is absent (its name).
    MissingHeader(String),
    /// The signature header is present but cannot be parsed.
    MalformedSignature(&'static str),
    /// The signed timestamp is present but cannot be parsed.
    MalformedTimestamp(&'static str),
    /// The request is authentic but its timestamp is outside the tolerance.
    StaleTimestamp {
        /// Signed timestamp, Unix seconds.
        timestamp: i64,
        /// The verifier's clock, Unix seconds.
        now: i64,
        /// Allowed difference in seconds.
        tolerance_secs: u64,
    },
    /// No active secret produces the signature.
    BadSignature,
    /// Twilio JSON requests: the body's SHA-256 differs from the signed `bodySHA256`.
    BodyHashMismatch,
    /// The source has no active secret.
    MissingSecret,
    /// Twilio: a POST that is neither form-encoded nor carries `bodySHA256`.
    BodyNotForm,
    /// The body lacks a signed field the provider requires (Linear `webhookTimestamp`).
    MalformedBody(&'static str),
    /// The URL cannot be split into scheme, host and path (Twilio signs it).
    MalformedUrl,
    /// The source's configuration cannot verify anything (e.g. a `whsec_` secret that
    /// is not base64).
    InvalidConfig(&'static str),
}

impl Rejection {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingHeader(_) => "missing_header",
            Rejection::MalformedSignature(_) => "malformed_signature",
            Rejection::MalformedTimestamp(_) => "malformed_timestamp",
            Rejection::StaleTimestamp { .. } => "stale_timestamp",
            Rejection::BadSignature => "bad_signature",
            Rejection::BodyHashMismatch => "body_hash_mismatch",
            Rejection::MissingSecret => "missing_secret",
            Rejection::BodyNotForm => "body_not_form",
            Rejection::MalformedBody(_) => "malformed_body",
            Rejection::MalformedUrl => "malformed_url",
            Rejection::InvalidConfig(_) => "invalid_config",
        }
    }

    /// Human explanation; never contains a secret or a signature.
    pub fn detail(&self) -> String {
        match self {
            Rejection::MissingHeader(name) => format!("required header `{name}` is missing"),
            Rejection::MalformedSignature(why) => format!("signature header is malformed: {why}"),
            Rejection::MalformedTimestamp(why) => format!("timestamp is malformed: {why}"),
            Rejection::StaleTimestamp {
                timestamp,
                now,
                tolerance_secs,
            } => {
                let (secs, when) = if timestamp <= now {
                    (now.abs_diff(*timestamp), "ago")
                } else {
                    (timestamp.abs_diff(*now), "in the future")
                };
                format!(
                    "timestamp {timestamp} is {secs} s {when} (now is {now}), \
                     more than the {tolerance_secs} s allowed"
                )
            }
            Rejection::BadSignature => "no active secret matches the signature".into(),
            Rejection::BodyHashMismatch => "body SHA-256 differs from the signed bodySHA256".into(),
            Rejection::MissingSecret => "the source has no active secret".into(),
            Rejection::BodyNotForm => {
                "POST body is not form-encoded and the URL carries no bodySHA256".into()
            }
            Rejection::MalformedBody(why) => format!("body is malformed: {why}"),
            Rejection::MalformedUrl => "request URL is not scheme://host/path".into(),
            Rejection::InvalidConfig(why) => format!("source configuration is invalid: {why}"),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail())
    }
}

impl std::error::Error for Rejection {}

/// `Ok` when `timestamp` is within `tolerance_secs` of `now` in either direction.
pub(crate) fn check_age(timestamp: i64, now: i64, tolerance_secs: u64) -> Result<(), Rejection> {
    if now.abs_diff(timestamp) > tolerance_secs {
        return Err(Rejection::StaleTimestamp {
            timestamp,
            now,
            tolerance_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_timestamp_in_the_past_says_ago() {
        let err = check_age(1_000, 1_600, 300).unwrap_err();
        assert_eq!(
            err.detail(),
            "timestamp 1000 is 600 s ago (now is 1600), more than the 300 s allowed"
        );
    }

    #[test]
    fn stale_timestamp_in_the_future_says_in_the_future() {
        let err = check_age(2_200, 1_600, 300).unwrap_err();
        assert_eq!(
            err.detail(),
            "timestamp 2200 is 600 s in the future (now is 1600), more than the 300 s allowed"
        );
    }

    #[test]
    fn timestamp_within_tolerance_either_way_is_accepted() {
        assert_eq!(check_age(1_300, 1_600, 300), Ok(()));
        assert_eq!(check_age(1_900, 1_600, 300), Ok(()));
    }
}
