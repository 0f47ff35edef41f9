//! W3C Trace Context: the `traceparent` header (<https://www.w3.org/TR/trace-context/>).
//!
//! `traceparent: {version}-{trace-id}-{parent-id}-{trace-flags}`, all lowercase hex:
//! `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. Parsing is strict, as the
//! recommendation asks of version `00`: exact lengths, lowercase hex only, neither id all
//! zeros. Version `ff` is invalid. A higher version is read as far as version `00` reaches
//! (its first 55 characters), and may only continue with `-` and more fields, which are
//! ignored; hookd always writes version `00`. A header that does not parse is ignored (the
//! spec says to start a new trace), never an error for the request that carried it.

/// The `sampled` bit of `trace-flags`.
pub const SAMPLED: u8 = 0x01;

/// Length of a version-`00` `traceparent` value.
pub const TRACEPARENT_LEN: usize = 55;

/// A position in a trace: the trace, the span that is the parent of what comes next, and
/// the trace flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub flags: u8,
}

impl TraceContext {
    /// Parses a `traceparent` header value; `None` when it is not valid.
    pub fn parse_traceparent(value: &str) -> Option<TraceContext> {
        let b = value.as_bytes();
        if b.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex_byte(&b[0..2])?;
        if version == 0xff {
            return None;
        }
        if version == 0 && b.len() != TRACEPARENT_LEN {
            return None;
        }
        // A future version may add fields, each after a `-`.
        if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' {
            return None;
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        decode(&b[3..35], &mut trace_id)?;
        let mut span_id = [0u8; 8];
        decode(&b[36..52], &mut span_id)?;
        let flags = hex_byte(&b[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The version-`00` `traceparent` value naming this context, without allocating.
    pub fn traceparent_bytes(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        encode(&self.trace_id, &mut out[3..35]);
        encode(&self.span_id, &mut out[36..52]);
        encode(&[self.flags], &mut out[53..55]);
        out
    }

    /// [`TraceContext::traceparent_bytes`] as a `String` (what the store keeps).
    pub fn to_traceparent(&self) -> String {
        let bytes = self.traceparent_bytes();
        String::from_utf8(bytes.to_vec()).expect("hex digits and dashes are ASCII")
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// Whether the caller records this trace.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    encode(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

fn encode(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
}

fn decode(text: &[u8], out: &mut [u8]) -> Option<()> {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = hex_byte(&text[2 * i..2 * i + 2])?;
    }
    Some(())
}

/// Two lowercase hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips() {
        let ctx = TraceContext::parse_traceparent(VALID).unwrap();
        assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(ctx.flags, 1);
        assert!(ctx.sampled());
        assert_eq!(ctx.to_traceparent(), VALID);
        let unsampled = VALID.replace("-01", "-00");
        let ctx = TraceContext::parse_traceparent(&unsampled).unwrap();
        assert!(!ctx.sampled());
        assert_eq!(ctx.to_traceparent(), unsampled);
    }

    #[test]
    fn uppercase_zero_ids_and_bad_lengths_are_refused() {
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "",
            "00",
        ] {
            assert_eq!(TraceContext::parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn version_ff_is_refused_and_future_versions_are_read_as_far_as_00_goes() {
        let ff = VALID.replacen("00", "ff", 1);
        assert_eq!(TraceContext::parse_traceparent(&ff), None);
        let future = format!("{}-what-comes-next", VALID.replacen("00", "cc", 1));
        let ctx = TraceContext::parse_traceparent(&future).unwrap();
        assert_eq!(ctx.span_id_hex(), "00f067aa0ba902b7");
        let exact = VALID.replacen("00", "01", 1);
        assert!(TraceContext::parse_traceparent(&exact).is_some());
        // A longer future version still needs the dash after the flags.
        let glued = format!("{}x", VALID.replacen("00", "01", 1));
        assert_eq!(TraceContext::parse_traceparent(&glued), None);
        // What hookd writes is always version 00.
        assert!(ctx.to_traceparent().starts_with("00-"));
    }
}
