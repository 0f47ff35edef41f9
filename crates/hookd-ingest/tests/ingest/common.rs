//! Test-side signers, written from each provider's documentation independently of the
//! crate's verifiers, and an owned request type.
//!
//! hookd-server's end-to-end tests sign their hostile receive requests with this same
//! file (`#[path]`-included), so there is one signer per provider in the repository.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use hookd_ingest::{IncomingRequest, Provider, ProviderConfig};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// Every provider with a signature scheme of its own (generic HMAC is tested apart).
pub const PROVIDERS: [Provider; 11] = [
    Provider::StandardWebhooks,
    Provider::Github,
    Provider::Stripe,
    Provider::Shopify,
    Provider::Slack,
    Provider::Twilio,
    Provider::Paddle,
    Provider::Linear,
    Provider::Gitlab,
    Provider::Twitch,
    Provider::Zoom,
];

pub const NOW: i64 = 1_700_000_000;

/// An owned request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(url: &str, body: impl Into<Vec<u8>>) -> Self {
        Req {
            method: "POST",
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            name.parse::<HeaderName>().unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    pub fn get(&self) -> IncomingRequest<'_> {
        IncomingRequest {
            method: self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

pub fn verify(
    config: &ProviderConfig,
    req: &Req,
    now: i64,
) -> Result<hookd_ingest::Verified, String> {
    hookd_ingest::verify(config, &req.get(), now).map_err(|r| r.code().to_string())
}

pub fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn hmac1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A secret in the form the provider issues, derived from `seed`.
pub fn secret_for(provider: Provider, seed: &str) -> String {
    match provider {
        Provider::StandardWebhooks => format!("whsec_{}", b64(seed.as_bytes())),
        _ => seed.to_string(),
    }
}

/// The header whose value is the signature (or token).
pub fn signature_header(provider: Provider) -> &'static str {
    match provider {
        Provider::StandardWebhooks => "webhook-signature",
        Provider::Github => "x-hub-signature-256",
        Provider::Stripe => "stripe-signature",
        Provider::Shopify => "x-shopify-hmac-sha256",
        Provider::Slack => "x-slack-signature",
        Provider::Twilio => "x-twilio-signature",
        Provider::Paddle => "paddle-signature",
        Provider::Linear => "linear-signature",
        Provider::Gitlab => "x-gitlab-token",
        Provider::Twitch => "twitch-eventsub-message-signature",
        Provider::Zoom => "x-zm-signature",
        Provider::GenericHmac => unreachable!(),
    }
}

/// Whether the provider signs a timestamp (so staleness is refused).
pub fn signs_timestamp(provider: Provider) -> bool {
    !matches!(
        provider,
        Provider::Github | Provider::Shopify | Provider::Twilio | Provider::Gitlab
    )
}

/// A body of the shape the provider sends, signed at `ts`.
pub fn body_for(provider: Provider, ts: i64) -> Vec<u8> {
    match provider {
        Provider::Linear => format!(
            r#"{{"action":"create","type":"Issue","webhookTimestamp":{}}}"#,
            ts * 1000
        )
        .into(),
        Provider::Twilio => b"From=%2B14155550100&Body=hello+there&To=%2B14155550199".to_vec(),
        _ => br#"{"id":"evt_123","event_id":"ntf_123","object":"event"}"#.to_vec(),
    }
}

pub const URL: &str = "https://hooks.example.com/ingest/src_1?x=1";

/// `body` signed by `secret` at `ts`, as `provider` sends it to [`URL`].
pub fn sign(provider: Provider, secret: &str, body: &[u8], ts: i64) -> Req {
    sign_to(URL, provider, secret, body, ts)
}

/// `body` signed by `secret` at `ts`, as `provider` sends it to `url` (Twilio signs the
/// URL too).
pub fn sign_to(url: &str, provider: Provider, secret: &str, body: &[u8], ts: i64) -> Req {
    let key = secret.as_bytes();
    let mut req = Req::new(url, body.to_vec());
    let cat = |parts: &[&[u8]]| parts.concat();
    match provider {
        Provider::StandardWebhooks => {
            let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
            let id = "msg_2abc";
            let sig = hmac256(
                &key,
                &cat(&[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body]),
            );
            req = req
                .with("webhook-id", id)
                .with("webhook-timestamp", &ts.to_string())
                .with("webhook-signature", &format!("v1,{}", b64(&sig)));
        }
        Provider::Github => {
            req = req
                .with(
                    "x-hub-signature-256",
                    &format!("sha256={}", hex(&hmac256(key, body))),
                )
                .with("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        }
        Provider::Stripe => {
            let sig = hmac256(key, &cat(&[ts.to_string().as_bytes(), b".", body]));
            req = req.with("stripe-signature", &format!("t={ts},v1={}", hex(&sig)));
        }
        Provider::Shopify => {
            req = req
                .with("x-shopify-hmac-sha256", &b64(&hmac256(key, body)))
                .with(
                    "x-shopify-webhook-id",
                    "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                );
        }
        Provider::Slack | Provider::Zoom => {
            let sig = hmac256(key, &cat(&[b"v0:", ts.to_string().as_bytes(), b":", body]));
            let (s, t) = if provider == Provider::Slack {
                ("x-slack-signature", "x-slack-request-timestamp")
            } else {
                ("x-zm-signature", "x-zm-request-timestamp")
            };
            req = req
                .with(s, &format!("v0={}", hex(&sig)))
                .with(t, &ts.to_string());
        }
        Provider::Twilio => {
            let mut params: Vec<(String, String)> = url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            // Sorted by name then value, a repeated identical pair once (as twilio-python,
            // which signs a set of values per name).
            params.sort();
            params.dedup();
            let mut signed = url.to_string();
            for (k, v) in params {
                signed.push_str(&k);
                signed.push_str(&v);
            }
            req = req
                .with("x-twilio-signature", &b64(&hmac1(key, signed.as_bytes())))
                .with("content-type", "application/x-www-form-urlencoded")
                .with("i-twilio-idempotency-token", "tok-1");
        }
        Provider::Paddle => {
            let sig = hmac256(key, &cat(&[ts.to_string().as_bytes(), b":", body]));
            req = req.with("paddle-signature", &format!("ts={ts};h1={}", hex(&sig)));
        }
        Provider::Linear => {
            req = req
                .with("linear-signature", &hex(&hmac256(key, body)))
                .with("linear-delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72");
        }
        Provider::Gitlab => {
            req = req
                .with("x-gitlab-token", secret)
                .with("idempotency-key", "f1d8f6ea-0c6f-4e3b-9cf2-4a9f0a1c9d11");
        }
        Provider::Twitch => {
            let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
            let stamp = time::OffsetDateTime::from_unix_timestamp(ts)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let sig = hmac256(key, &cat(&[id.as_bytes(), stamp.as_bytes(), body]));
            req = req
                .with("twitch-eventsub-message-id", id)
                .with("twitch-eventsub-message-timestamp", &stamp)
                .with(
                    "twitch-eventsub-message-signature",
                    &format!("sha256={}", hex(&sig)),
                );
        }
        Provider::GenericHmac => unreachable!(),
    }
    req
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}
