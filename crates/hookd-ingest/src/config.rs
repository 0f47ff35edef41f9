//! Which provider a source receives from, and the secrets and tolerance to verify with.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A provider signing scheme. Serialized as snake_case (`standard_webhooks`, `github`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Standard Webhooks (`webhook-*` headers) and Svix (`svix-*` headers).
    #[serde(alias = "svix")]
    StandardWebhooks,
    /// GitHub `X-Hub-Signature-256`.
    Github,
    /// Stripe `Stripe-Signature`.
    Stripe,
    /// Shopify `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Slack `X-Slack-Signature` (`v0`).
    Slack,
    /// Twilio `X-Twilio-Signature`.
    Twilio,
    /// Paddle Billing `Paddle-Signature`.
    Paddle,
    /// Linear `Linear-Signature`.
    Linear,
    /// GitLab `X-Gitlab-Token`, or Standard Webhooks headers when GitLab signs.
    Gitlab,
    /// Twitch EventSub.
    Twitch,
    /// Zoom `x-zm-signature`.
    Zoom,
    /// A configurable HMAC scheme, see [`GenericHmacConfig`].
    GenericHmac,
}

impl Provider {
    /// The provider's documented timestamp tolerance in seconds, where it signs a
    /// timestamp; `None` when it signs none (or, for generic HMAC, none is configured).
    pub fn default_tolerance_secs(self) -> Option<u64> {
        match self {
            // Standard Webhooks spec and libraries: 5 minutes.
            Provider::StandardWebhooks | Provider::Gitlab => Some(300),
            // Stripe libraries' DEFAULT_TOLERANCE.
            Provider::Stripe => Some(300),
            // Slack: "more than five minutes" from local time.
            Provider::Slack => Some(300),
            // Paddle SDKs: maximum variance 5 seconds.
            Provider::Paddle => Some(5),
            // Linear SDK: webhookTimestamp within one minute.
            Provider::Linear => Some(60),
            // Twitch: "older than 10 minutes".
            Provider::Twitch => Some(600),
            // Zoom documents no figure; 5 minutes as Slack-style schemes.
            Provider::Zoom => Some(300),
            Provider::Github | Provider::Shopify | Provider::Twilio | Provider::GenericHmac => None,
        }
    }
}

/// A shared secret as the provider issued it. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret's text, for computing signatures.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How a source verifies what it receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// The signing scheme.
    pub provider: Provider,
    /// Active secrets; a request is accepted when any of them verifies it (rotation).
    pub secrets: Vec<Secret>,
    /// Overrides the provider's default timestamp tolerance (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
    /// Required for [`Provider::GenericHmac`], ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericHmacConfig>,
}

impl ProviderConfig {
    /// A config with the provider's default tolerance.
    pub fn new(provider: Provider, secrets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ProviderConfig {
            provider,
            secrets: secrets.into_iter().map(|s| Secret::new(s)).collect(),
            tolerance_secs: None,
            generic: None,
        }
    }

    /// The tolerance in effect: the override, else the provider default, else 300 s.
    pub fn tolerance(&self) -> u64 {
        self.tolerance_secs
            .or(self.provider.default_tolerance_secs())
            .unwrap_or(300)
    }
}

/// HMAC hash function for [`GenericHmacConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How the signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Lower- or upper-case hex.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// A provider-agnostic HMAC scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericHmacConfig {
    /// Hash function.
    pub algorithm: HmacAlgorithm,
    /// Header carrying the signature.
    pub header: String,
    /// Encoding of the signature.
    pub encoding: Encoding,
    /// Text before the encoded signature, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The signed content; `{body}` and `{timestamp}` are replaced by the raw body and
    /// the timestamp header's value. Default `{body}`.
    #[serde(default = "default_template")]
    pub template: String,
    /// Header carrying the timestamp (Unix seconds); needed by `{timestamp}`. When set
    /// and the source has a tolerance, the timestamp's age is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// Header carrying the provider's event id, for de-duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
}

fn default_template() -> String {
    "{body}".into()
}
