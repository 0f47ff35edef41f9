//! The headers of one delivery: Standard Webhooks `webhook-*` (and `svix-*` copies when
//! configured), `content-type`, `user-agent`, plus the endpoint's custom headers.
//!
//! Custom headers never replace the signed ones, nor those that frame the HTTP message.

use hookd_core::signing::EndpointSecret;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use std::collections::BTreeMap;

/// The W3C Trace Context header.
const TRACEPARENT: &str = "traceparent";

/// What the signature covers and how to present it.
pub(crate) struct SignedHeaders<'a> {
    pub msg_id: &'a str,
    pub timestamp_secs: i64,
    pub body: &'a [u8],
    /// Every key that signs: the current one, then rotated-out keys still in their grace
    /// period. The header carries one `v1,` signature per key, space-separated.
    pub secrets: &'a [&'a EndpointSecret],
    pub svix_headers: bool,
    pub user_agent: &'a str,
    /// `application/json`, or the provider's own for a forwarded ingest event.
    pub content_type: &'a str,
    /// The W3C `traceparent` to send (the message's kept trace context), if any.
    pub traceparent: Option<&'a [u8]>,
}

/// Names a custom header may not set (compared lower-case): the API refuses them too, so
/// this only guards against rows written before a name was forbidden.
fn is_reserved(name: &str) -> bool {
    hookd_core::validate::is_forbidden_header(name)
}

impl SignedHeaders<'_> {
    /// Builds the header map. Custom headers with invalid names or values are skipped.
    pub fn build(&self, custom: &BTreeMap<String, String>) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(custom.len() + 8);
        for (name, value) in custom {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            if is_reserved(name.as_str()) {
                continue;
            }
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(name, value);
            }
        }
        if !map.contains_key(USER_AGENT) {
            if let Ok(ua) = HeaderValue::from_str(self.user_agent) {
                map.insert(USER_AGENT, ua);
            }
        }
        // hookd's own `traceparent` replaces a custom header (or a forwarded provider's) of
        // that name: the delivery belongs to the message's trace. Without a kept context,
        // a custom `traceparent` is sent as configured.
        if let Some(tp) = self.traceparent {
            if let Ok(value) = HeaderValue::from_bytes(tp) {
                map.insert(TRACEPARENT, value);
            }
        }
        let content_type = HeaderValue::from_str(self.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        map.insert(CONTENT_TYPE, content_type);

        let signature = self
            .secrets
            .iter()
            .map(|k| k.sign(self.msg_id, self.timestamp_secs, self.body))
            .collect::<Vec<_>>()
            .join(" ");
        // Ids, decimal numbers and base64 are always valid header values.
        let id = HeaderValue::from_str(self.msg_id).expect("ids are ASCII");
        let ts = HeaderValue::from(self.timestamp_secs);
        let sig = HeaderValue::from_str(&signature).expect("base64 is ASCII");
        if self.svix_headers {
            map.insert("svix-id", id.clone());
            map.insert("svix-timestamp", ts.clone());
            map.insert("svix-signature", sig.clone());
        }
        map.insert("webhook-id", id);
        map.insert("webhook-timestamp", ts);
        map.insert("webhook-signature", sig);
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookd_core::signing::verify;

    fn build(svix: bool, custom: &[(&str, &str)]) -> (EndpointSecret, HeaderMap) {
        let secret = EndpointSecret::generate();
        let custom = custom
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let map = SignedHeaders {
            msg_id: "msg_2abc",
            timestamp_secs: 1_700_000_000,
            body: br#"{"a":1}"#,
            secrets: &[&secret],
            svix_headers: svix,
            user_agent: "hookd/test",
            content_type: "application/json",
            traceparent: None,
        }
        .build(&custom);
        (secret, map)
    }

    fn get<'a>(map: &'a HeaderMap, name: &str) -> &'a str {
        map.get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn signature_verifies_with_the_standard_verifier() {
        let (secret, map) = build(false, &[]);
        assert_eq!(get(&map, "webhook-id"), "msg_2abc");
        assert_eq!(get(&map, "webhook-timestamp"), "1700000000");
        assert_eq!(get(&map, "content-type"), "application/json");
        assert_eq!(get(&map, "user-agent"), "hookd/test");
        let sig = get(&map, "webhook-signature");
        assert!(sig.starts_with("v1,"));
        let now = 1_700_000_010;
        verify(
            &[secret.verifying_key()],
            "msg_2abc",
            "1700000000",
            br#"{"a":1}"#,
            sig,
            now,
            300,
        )
        .unwrap();
        assert!(map.get("svix-id").is_none());
    }

    #[test]
    fn every_signing_key_adds_a_signature_that_verifies_alone() {
        let (current, previous) = (EndpointSecret::generate(), EndpointSecret::generate());
        let map = SignedHeaders {
            msg_id: "msg_2abc",
            timestamp_secs: 1_700_000_000,
            body: b"{}",
            secrets: &[&current, &previous],
            svix_headers: false,
            user_agent: "hookd/test",
            content_type: "application/json",
            traceparent: None,
        }
        .build(&BTreeMap::new());
        let sig = get(&map, "webhook-signature");
        assert_eq!(sig.split(' ').count(), 2, "{sig}");
        for key in [&current, &previous] {
            verify(
                &[key.verifying_key()],
                "msg_2abc",
                "1700000000",
                b"{}",
                sig,
                1_700_000_000,
                300,
            )
            .unwrap();
        }
        let stranger = EndpointSecret::generate();
        assert!(verify(
            &[stranger.verifying_key()],
            "msg_2abc",
            "1700000000",
            b"{}",
            sig,
            1_700_000_000,
            300
        )
        .is_err());
    }

    #[test]
    fn svix_copies_carry_the_same_values() {
        let (_, map) = build(true, &[]);
        for suffix in ["id", "timestamp", "signature"] {
            assert_eq!(
                get(&map, &format!("svix-{suffix}")),
                get(&map, &format!("webhook-{suffix}"))
            );
        }
    }

    #[test]
    fn custom_headers_are_added_but_never_override_reserved_ones() {
        let (_, map) = build(
            false,
            &[
                ("X-Tenant", "acme"),
                ("Webhook-Id", "forged"),
                ("content-type", "text/plain"),
                ("svix-signature", "v1,forged"),
                ("Content-Length", "1"),
                ("User-Agent", "custom-agent"),
                ("bad header", "x"),
                ("x-bad-value", "a\nb"),
            ],
        );
        assert_eq!(get(&map, "x-tenant"), "acme");
        assert_eq!(get(&map, "webhook-id"), "msg_2abc");
        assert_eq!(get(&map, "content-type"), "application/json");
        assert!(map.get("svix-signature").is_none());
        assert!(map.get("content-length").is_none());
        assert_eq!(get(&map, "user-agent"), "custom-agent");
        assert!(map.get("x-bad-value").is_none());
        assert_eq!(map.get_all("webhook-signature").iter().count(), 1);
    }

    #[test]
    fn the_kept_traceparent_replaces_a_custom_one_and_is_absent_without_one() {
        let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let secret = EndpointSecret::generate();
        let custom: BTreeMap<String, String> =
            [("traceparent".to_string(), "custom".to_string())].into();
        let headers = |traceparent: Option<&'static [u8]>| {
            SignedHeaders {
                msg_id: "msg_2abc",
                timestamp_secs: 1_700_000_000,
                body: b"{}",
                secrets: &[&secret],
                svix_headers: false,
                user_agent: "hookd/test",
                content_type: "application/json",
                traceparent,
            }
            .build(&custom)
        };
        let with = headers(Some(tp));
        assert_eq!(get(&with, "traceparent").as_bytes(), tp);
        assert_eq!(with.get_all("traceparent").iter().count(), 1);
        assert_eq!(get(&headers(None), "traceparent"), "custom");
    }
}
