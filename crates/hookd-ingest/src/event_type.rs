//! The provider's own name for what happened (`push`, `invoice.paid`, `orders/create`,
//! ...), so a received event can be filtered and listed by it: from the header the
//! provider names it in, else from the JSON body's field for it.

use crate::{IncomingRequest, Provider};
use serde::Deserialize;

/// The longest event type taken; a longer (or empty, or non-printable) value is ignored.
const MAX_LEN: usize = 256;

/// The body fields an event type is read from (the rest of the body is skipped).
#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "type")]
    kind: Option<String>,
    event_type: Option<String>,
    event: Option<EventField>,
}

/// Slack nests the event's type (`event.type`); Zoom names the event itself (`event`).
#[derive(Deserialize)]
#[serde(untagged)]
enum EventField {
    Name(String),
    Object {
        #[serde(rename = "type")]
        kind: Option<String>,
    },
}

/// The event type `req` carries for `provider`, if it names one.
pub fn event_type(provider: Provider, req: &IncomingRequest<'_>) -> Option<String> {
    let header = |names: &[&str]| names.iter().find_map(|n| req.optional_header(n));
    let found = match provider {
        Provider::Github => header(&["x-github-event"]).map(str::to_owned),
        Provider::Shopify => header(&["x-shopify-topic", "shopify-topic"]).map(str::to_owned),
        Provider::Linear => header(&["linear-event"]).map(str::to_owned),
        Provider::Gitlab => header(&["x-gitlab-event"]).map(str::to_owned),
        Provider::Twitch => header(&["twitch-eventsub-subscription-type"]).map(str::to_owned),
        Provider::Stripe | Provider::StandardWebhooks => body(req).and_then(|f| f.kind),
        Provider::Paddle => body(req).and_then(|f| f.event_type),
        Provider::Zoom => match body(req).and_then(|f| f.event) {
            Some(EventField::Name(name)) => Some(name),
            _ => None,
        },
        Provider::Slack => body(req).and_then(|f| match f.event {
            Some(EventField::Object { kind: Some(inner) }) => Some(inner),
            _ => f.kind,
        }),
        Provider::Twilio | Provider::GenericHmac => None,
    };
    found.filter(|t| !t.is_empty() && t.len() <= MAX_LEN && !t.chars().any(char::is_control))
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
        event_type(provider, &req)
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
    }
}
