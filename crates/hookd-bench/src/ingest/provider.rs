//! The providers the ingest mode imitates: each event's body, provider event id and
//! signed headers, as GitHub, Stripe or a Standard Webhooks sender would send them.
//!
//! Everything is a pure function of the run's [`Workload`] and the event's index, so the
//! forwarding receiver regenerates what was sent and compares it byte for byte, and reads
//! the index back from the provider's event id without any shared state.

use base64::prelude::{Engine as _, BASE64_STANDARD};
use hookd_core::crypto::hmac_sha256;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::HeaderMap;
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::fmt::Write as _;

/// A provider signing scheme the bench can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// `X-Hub-Signature-256`, `X-GitHub-Delivery`, `X-GitHub-Event: push`.
    Github,
    /// `Stripe-Signature: t=…,v1=…`; the event id is the body's `id`.
    Stripe,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` with a `whsec_` secret.
    StandardWebhooks,
}

impl Provider {
    /// The ingest source `type` that verifies this scheme.
    pub fn source_type(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Stripe => "stripe",
            Provider::StandardWebhooks => "standard-webhooks",
        }
    }

    /// A new random secret in the form the provider issues.
    pub fn generate_secret(self) -> String {
        match self {
            // GitHub takes any text; a long random one is what its docs advise.
            Provider::Github => random_alphanumeric(40),
            // Stripe's signing secrets are `whsec_` and text, used as the key as-is.
            Provider::Stripe => format!("whsec_{}", random_alphanumeric(32)),
            // Standard Webhooks: `whsec_` and the base64 of the key bytes.
            Provider::StandardWebhooks => {
                let key: [u8; 24] = rand::thread_rng().gen();
                format!("whsec_{}", BASE64_STANDARD.encode(key))
            }
        }
    }

    /// The `content-type` the provider sends (and the forward must keep).
    pub fn content_type(self) -> &'static str {
        match self {
            Provider::Stripe => "application/json; charset=utf-8",
            Provider::Github | Provider::StandardWebhooks => "application/json",
        }
    }

    /// The forwarded header that carries the provider's event id: GitHub's own
    /// `x-github-delivery` is forwarded under its name; the others' ids come as
    /// `x-hookd-provider-event-id` (Standard Webhooks' `webhook-id` would clash with
    /// hookd's own signature headers).
    pub fn forwarded_id_header(self) -> &'static str {
        match self {
            Provider::Github => "x-github-delivery",
            Provider::Stripe | Provider::StandardWebhooks => "x-hookd-provider-event-id",
        }
    }

    /// The provider's own headers a forward must carry, with the value each must have
    /// (`None`: any value).
    pub fn forwarded_headers(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Provider::Github => &[
                ("x-github-event", Some("push")),
                ("x-hub-signature-256", None),
            ],
            Provider::Stripe => &[("stripe-signature", None)],
            Provider::StandardWebhooks => &[],
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            // A GUID like GitHub's: run in the first group, index in the last.
            Provider::Github => "",
            Provider::Stripe => "evt_1B",
            Provider::StandardWebhooks => "evt_",
        }
    }
}

/// One run's events: which provider, its secret, and what makes this run's ids unique
/// (a server keeps provider ids for its de-duplication window, across runs).
#[derive(Clone)]
pub struct Workload {
    provider: Provider,
    secret: String,
    /// The HMAC key: the secret's bytes, or for Standard Webhooks its decoded base64.
    key: Vec<u8>,
    run: u32,
    payload_bytes: usize,
    /// Stripe's `created`, the same for every event so bodies are reproducible.
    created: i64,
}

impl Workload {
    /// A workload with a random run id. `secret` must be in the provider's form (see
    /// [`Provider::generate_secret`]).
    pub fn new(provider: Provider, secret: String, payload_bytes: usize, now: i64) -> Self {
        Self::with_run(
            provider,
            secret,
            payload_bytes,
            now,
            rand::thread_rng().gen(),
        )
    }

    fn with_run(
        provider: Provider,
        secret: String,
        payload_bytes: usize,
        now: i64,
        run: u32,
    ) -> Self {
        let key = match provider {
            Provider::StandardWebhooks => secret
                .strip_prefix("whsec_")
                .and_then(|b64| BASE64_STANDARD.decode(b64).ok())
                .unwrap_or_else(|| secret.as_bytes().to_vec()),
            Provider::Github | Provider::Stripe => secret.as_bytes().to_vec(),
        };
        Self {
            provider,
            secret,
            key,
            run,
            payload_bytes,
            created: now,
        }
    }

    /// The provider imitated.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The secret the ingest source is configured with.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The provider's id of event `index`.
    pub fn event_id(&self, index: u64) -> String {
        let run = self.run;
        match self.provider {
            Provider::Github => format!("{run:08x}-0000-4000-8000-{index:012x}"),
            Provider::Stripe | Provider::StandardWebhooks => {
                format!("{}{run:08x}{index:016x}", self.provider.id_prefix())
            }
        }
    }

    /// The index of this run's event `id`; `None` for any other id.
    pub fn index_of(&self, id: &str) -> Option<u64> {
        let run = self.run;
        let hex = match self.provider {
            Provider::Github => id.strip_prefix(&format!("{run:08x}-0000-4000-8000-"))?,
            Provider::Stripe | Provider::StandardWebhooks => id
                .strip_prefix(self.provider.id_prefix())?
                .strip_prefix(&format!("{run:08x}"))?,
        };
        let index = u64::from_str_radix(hex, 16).ok()?;
        (self.event_id(index) == id).then_some(index)
    }

    /// The JSON body of event `index`, shaped like the provider's (a push, an
    /// `invoice.paid` event, a generic event) and padded to `payload_bytes` when that is
    /// more than its natural size.
    pub fn body(&self, index: u64) -> Vec<u8> {
        let id = self.event_id(index);
        let run = self.run;
        let mut out = String::with_capacity(self.payload_bytes.max(512));
        // Writing to a String cannot fail.
        let _ = match self.provider {
            Provider::Github => write!(
                out,
                concat!(
                    r#"{{"ref":"refs/heads/main","before":"{:040x}","after":"{:040x}","#,
                    r#""repository":{{"id":{run},"name":"bench","full_name":"hookd/bench","private":true}},"#,
                    r#""pusher":{{"name":"hookd-bench","email":"bench@example.com"}},"#,
                    r#""head_commit":{{"id":"{:040x}","message":"commit {index}"}},"#,
                    r#""hookd_bench":{{"delivery":"{id}","index":{index}}}"#,
                ),
                index,
                index + 1,
                index + 1,
                run = run,
                index = index,
                id = id,
            ),
            Provider::Stripe => write!(
                out,
                concat!(
                    r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","created":{},"#,
                    r#""type":"invoice.paid","livemode":false,"pending_webhooks":1,"#,
                    r#""request":{{"id":null,"idempotency_key":null}},"#,
                    r#""data":{{"object":{{"id":"in_{run:08x}{index:016x}","object":"invoice","#,
                    r#""amount_paid":{},"currency":"usd","customer":"cus_bench"}}}}"#,
                ),
                self.created,
                index % 100_000,
                run = run,
                index = index,
                id = id,
            ),
            Provider::StandardWebhooks => write!(
                out,
                r#"{{"type":"bench.event","data":{{"id":"{id}","index":{index}}}"#
            ),
        };
        let tail = r#","pad":""}"#;
        let pad = self.payload_bytes.saturating_sub(out.len() + tail.len());
        out.push_str(r#","pad":""#);
        out.extend(std::iter::repeat_n('x', pad));
        out.push_str(r#""}"#);
        out.into_bytes()
    }

    /// The headers of event `index` with `body`, signed at `now` (Unix seconds) the
    /// provider's way.
    pub fn headers(&self, index: u64, body: &[u8], now: i64) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(6);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.provider.content_type()),
        );
        let id = self.event_id(index);
        let mut set = |name: &'static str, value: String| {
            // Ids, digits, hex and base64 are all visible ASCII.
            let value = HeaderValue::try_from(value).expect("generated header values are ASCII");
            headers.insert(HeaderName::from_static(name), value);
        };
        match self.provider {
            Provider::Github => {
                let sig = hex(&self.hmac(&[body]));
                set("user-agent", "GitHub-Hookshot/hookd-bench".into());
                set("x-github-event", "push".into());
                set("x-github-delivery", id);
                set("x-github-hook-id", self.run.to_string());
                set("x-hub-signature-256", format!("sha256={sig}"));
            }
            Provider::Stripe => {
                let t = now.to_string();
                let sig = hex(&self.hmac(&[t.as_bytes(), b".", body]));
                set("stripe-signature", format!("t={t},v1={sig}"));
            }
            Provider::StandardWebhooks => {
                let t = now.to_string();
                let sig = self.hmac(&[id.as_bytes(), b".", t.as_bytes(), b".", body]);
                set(
                    "webhook-signature",
                    format!("v1,{}", BASE64_STANDARD.encode(sig)),
                );
                set("webhook-timestamp", t);
                set("webhook-id", id);
            }
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, HeaderValue::from_static("hookd-bench"));
        }
        headers
    }

    fn hmac(&self, parts: &[&[u8]]) -> Vec<u8> {
        hmac_sha256(&self.key, parts).to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookd_ingest::{IncomingRequest, ProviderConfig};

    const NOW: i64 = 1_764_590_000;
    const ALL: [Provider; 3] = [
        Provider::Github,
        Provider::Stripe,
        Provider::StandardWebhooks,
    ];

    /// What hookd's own verifier says about event `index` of `w`.
    fn verify(
        w: &Workload,
        secret: &str,
        index: u64,
    ) -> Result<hookd_ingest::Verified, hookd_ingest::Rejection> {
        let body = w.body(index);
        let headers = w.headers(index, &body, NOW);
        let provider = match w.provider {
            Provider::Github => hookd_ingest::Provider::Github,
            Provider::Stripe => hookd_ingest::Provider::Stripe,
            Provider::StandardWebhooks => hookd_ingest::Provider::StandardWebhooks,
        };
        let config = ProviderConfig::new(provider, [secret]);
        let req = IncomingRequest {
            method: "POST",
            url: "http://127.0.0.1/ingest/t",
            headers: &headers,
            body: &body,
        };
        hookd_ingest::verify(&config, &req, NOW + 1)
    }

    #[test]
    fn every_provider_signs_what_hookds_verifier_accepts_with_the_event_id() {
        for provider in ALL {
            let w = Workload::new(provider, provider.generate_secret(), 1024, NOW);
            for index in [0, 1, 77, 1 << 40] {
                let verified = verify(&w, w.secret(), index)
                    .unwrap_or_else(|e| panic!("{provider:?} event {index}: {e:?}"));
                assert_eq!(verified.event_id, Some(w.event_id(index)), "{provider:?}");
            }
        }
    }

    #[test]
    fn another_secret_is_a_bad_signature() {
        for provider in ALL {
            let w = Workload::new(provider, provider.generate_secret(), 1024, NOW);
            let other = provider.generate_secret();
            let err = verify(&w, &other, 3).expect_err("a foreign secret must not verify");
            assert_eq!(err.code(), "bad_signature", "{provider:?}");
        }
    }

    #[test]
    fn bodies_are_reproducible_json_of_the_asked_size() {
        for provider in ALL {
            let w = Workload::new(provider, provider.generate_secret(), 1024, NOW);
            let body = w.body(42);
            assert_eq!(body.len(), 1024, "{provider:?}");
            assert_eq!(body, w.body(42));
            assert_ne!(body, w.body(43));
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(json.is_object());
            // Smaller than the natural size: no padding, still JSON.
            let small = Workload::new(provider, w.secret().into(), 10, NOW).body(1);
            serde_json::from_slice::<serde_json::Value>(&small).unwrap();
        }
    }

    #[test]
    fn event_ids_are_unique_per_run_and_give_back_their_index() {
        for provider in ALL {
            let a = Workload::with_run(provider, provider.generate_secret(), 64, NOW, 1);
            let b = Workload::with_run(provider, provider.generate_secret(), 64, NOW, 2);
            for index in [0, 9, 123_456_789] {
                assert_eq!(a.index_of(&a.event_id(index)), Some(index));
                assert_eq!(b.index_of(&a.event_id(index)), None, "another run's id");
                assert_ne!(a.event_id(index), b.event_id(index));
            }
            assert_eq!(a.index_of("nonsense"), None);
        }
        let gh = Workload::with_run(Provider::Github, "s".into(), 64, NOW, 0xabc);
        assert_eq!(gh.event_id(5), "00000abc-0000-4000-8000-000000000005");
        let stripe = Workload::with_run(Provider::Stripe, "whsec_x".into(), 64, NOW, 1);
        assert_eq!(stripe.event_id(1).len(), "evt_".len() + 26);
    }
}
