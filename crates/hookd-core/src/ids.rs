//! Typed, prefixed, time-ordered identifiers.
//!
//! An id is `<prefix>_<22 base62 chars>` encoding 128 bits: 48 bits of milliseconds since
//! the Unix epoch followed by 80 random bits. The base62 alphabet is in ASCII order, so
//! ids sort by creation time both as numbers and as strings: inserts append to B-tree
//! indexes and keyset pagination by id walks in time order. Within one process, ids made
//! one after the other also sort in the order they were made, even within a millisecond
//! (the later one is the earlier one plus one), so message order is creation order.

use rand::RngCore;
use std::fmt;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub(crate) const BODY_LEN: usize = 22;

/// How far back (ms) an id's time may be from the latest id's and still be made to sort
/// after it.
const MONOTONIC_WINDOW_MS: u128 = 1_000;

/// The largest id value made in this process.
static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);

/// Encodes 48 bits of time and 80 random bits as 22 base62 characters; an id made in the
/// same millisecond as the previous one sorts after it.
pub fn new_id_body(millis: u64) -> String {
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let mut value: u128 = u128::from(millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    {
        // An id for a time at or up to a second before the latest id made here sorts right
        // after that id (taking its millisecond): ids made one after the other never go
        // backwards, even across threads whose clocks were read a moment apart. Ids for
        // explicitly older times (tests, imports) keep their time.
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let (ms, last_ms) = (value >> 80, *last >> 80);
        if ms <= last_ms && last_ms - ms <= MONOTONIC_WINDOW_MS && value <= *last {
            value = *last + 1;
        }
        *last = (*last).max(value);
    }
    encode_base62(value)
}

fn encode_base62(mut value: u128) -> String {
    let mut out = [b'0'; BODY_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    // 62^22 > 2^128, so the value always fits.
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

fn is_valid_body(body: &str) -> bool {
    body.len() == BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `s` has the shape of an id with `prefix` (`app` for `app_<22 base62>`), so a
/// lookup by id-or-uid would take it for an id.
pub fn has_id_shape(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(is_valid_body)
}

/// Returns the lowest id body for a given time: every id created at or after `millis`
/// sorts at or after it. Used to turn time filters into id ranges.
pub fn id_body_floor(millis: u64) -> String {
    encode_base62(u128::from(millis & 0xFFFF_FFFF_FFFF) << 80)
}

/// The creation time (ms since the epoch) an id carries; `None` for text without an id's
/// body. Ids made for an explicit time carry that time.
pub fn id_millis(id: &str) -> Option<u64> {
    let body = id.rsplit_once('_').map_or(id, |(_, body)| body);
    if !is_valid_body(body) {
        return None;
    }
    let mut value: u128 = 0;
    for b in body.bytes() {
        // The alphabet is ASCII order: digits, then upper case, then lower case.
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            _ => b - b'a' + 36,
        };
        value = value.checked_mul(62)?.checked_add(u128::from(digit))?;
    }
    Some((value >> 80) as u64)
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id for the current time.
            pub fn generate() -> Self {
                Self::generate_at(crate::Timestamp::now())
            }

            /// A new id for the given time.
            pub fn generate_at(at: crate::Timestamp) -> Self {
                Self(format!("{}_{}", $prefix, new_id_body(at.as_millis().max(0) as u64)))
            }

            /// Parses an id, checking its prefix and shape. Returns `None` for anything else
            /// (which callers then treat as a `uid`).
            pub fn parse(s: &str) -> Option<Self> {
                has_id_shape(s, $prefix).then(|| Self(s.to_owned()))
            }

            /// Wraps a string read back from storage, which only ever holds valid ids.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::id_schema($prefix)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

typed_id!(
    /// An application (tenant).
    AppId,
    "app"
);
typed_id!(
    /// An endpoint of an application.
    EndpointId,
    "ep"
);
typed_id!(
    /// A message sent to an application.
    MsgId,
    "msg"
);
typed_id!(
    /// One delivery attempt of a message to an endpoint.
    AttemptId,
    "atmpt"
);
typed_id!(
    /// An event type (ids are internal; the API addresses event types by name).
    EventTypeId,
    "evtype"
);
typed_id!(
    /// A background task (an endpoint recovery).
    TaskId,
    "qtask"
);
typed_id!(
    /// An ingest source: a receive URL for one provider's webhooks.
    SourceId,
    "src"
);
typed_id!(
    /// A request an ingest source refused (the rejection log).
    RejectionId,
    "rej"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn an_id_carries_its_creation_time() {
        let at = crate::Timestamp::from_millis(1_764_590_000_123);
        let id = MsgId::generate_at(at);
        assert_eq!(id_millis(id.as_str()), Some(1_764_590_000_123));
        assert_eq!(id_millis("msg_short"), None);
        assert_eq!(id_millis("msg_!!!!!!!!!!!!!!!!!!!!!!"), None);
    }

    #[test]
    fn ids_made_in_the_same_millisecond_sort_in_the_order_they_were_made() {
        let at = Timestamp::now();
        let ids: Vec<MsgId> = (0..1000).map(|_| MsgId::generate_at(at)).collect();
        assert!(ids
            .windows(2)
            .all(|w| w[0] < w[1] && w[0].as_str() < w[1].as_str()));
        // An explicitly older time still gives an id of that time.
        let old = MsgId::generate_at(Timestamp::from_millis(1_000));
        assert!(&old.as_str()[4..] < id_body_floor(1_001).as_str());
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = MsgId::generate_at(Timestamp::from_millis(1_000));
        let b = MsgId::generate_at(Timestamp::from_millis(1_001));
        let c = MsgId::generate_at(Timestamp::from_millis(1_700_000_000_000));
        assert!(a < b && b < c);
        assert!(a.as_str() < b.as_str() && b.as_str() < c.as_str());
        assert!(id_body_floor(1_001).as_str() <= &b.as_str()[4..]);
        assert!(id_body_floor(1_002).as_str() > &b.as_str()[4..]);
    }

    #[test]
    fn parse_checks_prefix_and_shape() {
        let id = AppId::generate();
        assert_eq!(AppId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(EndpointId::parse(id.as_str()), None);
        assert_eq!(AppId::parse("app_short"), None);
        assert_eq!(AppId::parse("my-app-uid"), None);
        assert_eq!(id.as_str().len(), 4 + BODY_LEN);
    }
}
