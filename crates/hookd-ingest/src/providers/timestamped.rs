//! Signature headers made of one timestamp entry and repeated hex signature entries,
//! `key=value` items joined by one separator: Stripe's `t=<unix>,v1=<hex>,v1=<hex>` and
//! Paddle's `ts=<unix>;h1=<hex>;h1=<hex>`. Several signatures appear while the provider
//! rolls a secret; any one may match.

use crate::crypto::from_hex;
use crate::Rejection;

/// How one provider writes such a header, with the details a malformed one is refused
/// with (they name the provider's own keys, so an operator sees what was missing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderFormat {
    /// Between items (`,` for Stripe, `;` for Paddle).
    pub separator: char,
    /// Key of the timestamp item (`t`, `ts`).
    pub timestamp_key: &'static str,
    /// Key of each signature item (`v1`, `h1`).
    pub signature_key: &'static str,
    /// Detail when no timestamp item is present.
    pub no_timestamp: &'static str,
    /// Detail when the timestamp is not Unix seconds.
    pub bad_timestamp: &'static str,
    /// Detail when no signature item decodes as hex.
    pub no_signature: &'static str,
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampedSignatures {
    /// The timestamp as sent: providers sign it as text, so it is kept verbatim.
    pub timestamp_text: String,
    /// The timestamp as Unix seconds, for the age check.
    pub timestamp: i64,
    /// Decoded signatures; entries that are not hex are dropped (a newer scheme's
    /// entries may share the key's header but not its encoding).
    pub signatures: Vec<Vec<u8>>,
}

/// Parses `value` as written by `format`. Unknown keys (e.g. Stripe's `v0`) are
/// ignored; when the timestamp key repeats, the last one wins.
pub(crate) fn parse(
    value: &str,
    format: &HeaderFormat,
) -> Result<TimestampedSignatures, Rejection> {
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for item in value.split(format.separator) {
        match item.trim().split_once('=') {
            Some((key, t)) if key == format.timestamp_key => timestamp_text = Some(t),
            Some((key, sig)) if key == format.signature_key => signatures.extend(from_hex(sig)),
            _ => {}
        }
    }
    let timestamp_text =
        timestamp_text.ok_or(Rejection::MalformedSignature(format.no_timestamp))?;
    let timestamp = timestamp_text
        .parse::<i64>()
        .map_err(|_| Rejection::MalformedTimestamp(format.bad_timestamp))?;
    if signatures.is_empty() {
        return Err(Rejection::MalformedSignature(format.no_signature));
    }
    Ok(TimestampedSignatures {
        timestamp_text: timestamp_text.to_string(),
        timestamp,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMA: HeaderFormat = HeaderFormat {
        separator: ',',
        timestamp_key: "t",
        signature_key: "v1",
        no_timestamp: "no t",
        bad_timestamp: "bad t",
        no_signature: "no v1",
    };

    #[test]
    fn keeps_the_timestamp_text_and_every_hex_signature() {
        let parsed = parse("t=0042, v1=00ff,v0=ab,v1=zz,v1=10", &COMMA).unwrap();
        assert_eq!(parsed.timestamp_text, "0042");
        assert_eq!(parsed.timestamp, 42);
        assert_eq!(parsed.signatures, vec![vec![0x00, 0xff], vec![0x10]]);
    }

    #[test]
    fn each_missing_or_malformed_part_has_its_own_detail() {
        assert_eq!(
            parse("v1=00", &COMMA),
            Err(Rejection::MalformedSignature("no t"))
        );
        assert_eq!(
            parse("t=x,v1=00", &COMMA),
            Err(Rejection::MalformedTimestamp("bad t"))
        );
        assert_eq!(
            parse("t=1,v1=0g", &COMMA),
            Err(Rejection::MalformedSignature("no v1"))
        );
        // Another provider's separator does not split this one's items.
        assert_eq!(
            parse("t=1;v1=00", &COMMA),
            Err(Rejection::MalformedTimestamp("bad t"))
        );
    }
}
