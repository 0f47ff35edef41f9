//! What an accepted request says about itself beyond its signature, read once after
//! verification: the provider's own name for what happened (`push`, `invoice.paid`,
//! `orders/create`, ...), so a received event can be filtered and listed by it, and, for
//! providers that put it in the body (Stripe, Paddle, Slack), the event id. Headers are
//! read first; the JSON body is parsed at most once, and only for providers that need it.

use crate::{IncomingRequest, Provider, Verified};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The longest event type taken; a longer (or empty, or non-printable) value is ignored.
const MAX_LEN: usize = 256;

/// The body fields read (the rest of the body is skipped). Each is taken only when it is
/// a string, so an unexpected shape of one never loses the others.
#[derive(Deserialize)]
struct Fields {
    id: Option<Text>,
    event_id: Option<Text>,
    #[serde(rename = "type")]
    kind: Option<Text>,
    event_type: Option<Text>,
    event: Option<EventField>,
}

/// A field that is used only when it is a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    Str(String),
    Other(IgnoredAny),
}

impl Text {
    fn into_string(self) -> Option<String> {
        match self {
            Text::Str(s) => Some(s),
            Text::Other(_) => None,
        }
    }
}

/// Slack nests the event's type (`event.type`); Zoom names the event itself (`event`).
#[derive(Deserialize)]
#[serde(untagged)]
enum EventField {
    Name(String),
    Object {
        #[serde(rename = "type")]
        kind: Option<Text>,
    },
    Other(IgnoredAny),
}

/// Fills `verified.event_type`, and `verified.event_id` where the provider carries it in
/// the body, from a request `provider` has signed.
pub(crate) fn describe(provider: Provider, req: &IncomingRequest<'_>, verified: &mut Verified) {
    let header = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| req.optional_header(n))
            .map(str::to_owned)
    };
    let text = |t: Option<Text>| t.and_then(Text::into_string);
    let (event_type, body_id) = match provider {
        Provider::Github => (header(&["x-github-event"]), None),
        Provider::Shopify => (header(&["x-shopify-topic", "shopify-topic"]), None),
        Provider::Linear => (header(&["linear-event"]), None),
        Provider::Gitlab => (header(&["x-gitlab-event"]), None),
        Provider::Twitch => (header(&["twitch-eventsub-subscription-type"]), None),
        Provider::Twilio | Provider::GenericHmac => (None, None),
        Provider::StandardWebhooks => (body(req).and_then(|f| text(f.kind)), None),
        Provider::Stripe => body(req).map_or((None, None), |f| (text(f.kind), text(f.id))),
        Provider::Paddle => {
            body(req).map_or((None, None), |f| (text(f.event_type), text(f.event_id)))
        }
        Provider::Zoom => match body(req).and_then(|f| f.event) {
            Some(EventField::Name(name)) => (Some(name), None),
            _ => (None, None),
        },
        Provider::Slack => body(req).map_or((None, None), |f| {
            let kind = match f.event {
                Some(EventField::Object { kind: Some(inner) }) => inner.into_string(),
                _ => None,
            };
            (kind.or_else(|| text(f.kind)), text(f.event_id))
        }),
    };
    verified.event_type = event_type
        .filter(|t| !t.is_empty() && t.len() <= MAX_LEN && !t.chars().any(char::is_control));
    if verified.event_id.is_none() {
        verified.event_id = body_id;
    }
    verified.event_id = verified.event_id.take().map(storable_id);
}

/// The longest provider event id kept as sent.
const MAX_ID_LEN: usize = 256;

/// A provider's event id as stored and forwarded: as sent when it is at most
/// [`MAX_ID_LEN`] bytes of visible ASCII other than `\`, which every id seen in practice
/// is; otherwise `\sha256:` and the hex SHA-256 of its bytes. Any id is then storable in
/// every database (no NUL, a bounded index key) and fit for the forwarded
/// `x-hookd-provider-event-id` header, and two different ids stay different (an id kept
/// as sent holds no `\`, a digest starts with one), so de-duplication still tells a
/// retry from a new event.
pub(crate) fn storable_id(id: String) -> String {
    let plain = |b: u8| b.is_ascii_graphic() && b != b'\\';
    if !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(plain) {
        return id;
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let mut out = String::from("\\sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn body(req: &IncomingRequest<'_>) -> Option<Fields> {
    let start = req.body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *start != b'{' {
        return None;
    }
    serde_json::from_slice(req.body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn of(provider: Provider, headers: &[(&'static str, &str)], body: &str) -> Option<String> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        let req = IncomingRequest {
            method: "POST",
            url: "https://h.example/ingest/t",
            headers: &map,
            body: body.as_bytes(),
        };
        let mut verified = Verified::default();
        describe(provider, &req, &mut verified);
        verified.event_type
    }

    #[test]
    fn each_provider_names_its_events_where_it_says_so() {
        assert_eq!(
            of(Provider::Github, &[("x-github-event", "push")], "{}").as_deref(),
            Some("push")
        );
        assert_eq!(
            of(
                Provider::Stripe,
                &[],
                r#"{"id":"evt_1","type":"invoice.paid","data":{"type":"x"}}"#
            )
            .as_deref(),
            Some("invoice.paid")
        );
        assert_eq!(
            of(
                Provider::Shopify,
                &[("shopify-topic", "orders/create")],
                "{}"
            )
            .as_deref(),
            Some("orders/create")
        );
        assert_eq!(
            of(
                Provider::Slack,
                &[],
                r#"{"type":"event_callback","event":{"type":"app_mention"}}"#
            )
            .as_deref(),
            Some("app_mention")
        );
        assert_eq!(
            of(Provider::Slack, &[], r#"{"type":"url_verification"}"#).as_deref(),
            Some("url_verification")
        );
        assert_eq!(
            of(
                Provider::Zoom,
                &[],
                r#"{"event":"meeting.started","payload":{}}"#
            )
            .as_deref(),
            Some("meeting.started")
        );
        assert_eq!(
            of(
                Provider::Paddle,
                &[],
                r#"{"event_type":"transaction.completed"}"#
            )
            .as_deref(),
            Some("transaction.completed")
        );
        assert_eq!(of(Provider::Twilio, &[], "Body=hi&From=%2B1"), None);
        assert_eq!(of(Provider::Slack, &[], "command=%2Fweather"), None);
        assert_eq!(of(Provider::Stripe, &[], r#"{"type":""}"#), None);
        assert_eq!(of(Provider::Github, &[], "{}"), None);
        // A field of another shape is skipped, the others still read.
        assert_eq!(
            of(Provider::Stripe, &[], r#"{"id":7,"type":"invoice.paid"}"#).as_deref(),
            Some("invoice.paid")
        );
    }

    #[test]
    fn event_ids_no_database_can_hold_are_stored_as_a_digest() {
        for plain in ["evt_1", "3f2c-9a", "a/b:c=d"] {
            assert_eq!(storable_id(plain.into()), plain);
        }
        let odd = [
            "evt_\0x",
            "evt_\0y",
            "",
            "with space",
            "back\\slash",
            "line\nbreak",
            "caf\u{e9}",
        ];
        let long = "x".repeat(MAX_ID_LEN + 1);
        let mut seen = std::collections::HashSet::new();
        for id in odd.iter().copied().chain([long.as_str()]) {
            let stored = storable_id(id.to_owned());
            assert!(stored.starts_with("\\sha256:"), "{id:?}: {stored}");
            assert_eq!(stored.len(), "\\sha256:".len() + 64);
            assert!(stored.bytes().all(|b| b.is_ascii_graphic()), "{stored}");
            // The same id always maps to the same key; different ids to different keys.
            assert_eq!(storable_id(id.to_owned()), stored);
            assert!(seen.insert(stored), "{id:?}");
        }
    }

    #[test]
    fn body_carried_event_ids_are_read_in_the_same_pass() {
        let map = HeaderMap::new();
        let id = |provider, body: &'static str| {
            let req = IncomingRequest {
                method: "POST",
                url: "https://h.example/ingest/t",
                headers: &map,
                body: body.as_bytes(),
            };
            let mut verified = Verified::default();
            describe(provider, &req, &mut verified);
            verified.event_id
        };
        assert_eq!(
            id(Provider::Stripe, r#"{"id":"evt_1","type":"x"}"#).as_deref(),
            Some("evt_1")
        );
        assert_eq!(
            id(
                Provider::Paddle,
                r#"{"event_id":"evt_01","event_type":"x"}"#
            )
            .as_deref(),
            Some("evt_01")
        );
        assert_eq!(
            id(
                Provider::Slack,
                r#"{"event_id":"Ev1","event":{"type":"message"}}"#
            )
            .as_deref(),
            Some("Ev1")
        );
        assert_eq!(id(Provider::Github, r#"{"id":"nope"}"#), None);
    }
}
