//! Which of a provider's request headers are kept with an accepted event (stored, and
//! sent along when it is forwarded): those that identify the event and prove its
//! origin. Everything else (cookies, proxies' additions, credentials) is dropped.
//!
//! Never kept: `X-Gitlab-Token` (it *is* the secret). The Standard Webhooks headers
//! (`webhook-*`, `svix-*`) are kept for the record, but a forwarder must not send them
//! under their own names: they would clash with its own signature.

use crate::{Provider, ProviderConfig};

/// Kept for every provider.
const COMMON: &[&str] = &["content-type", "user-agent"];

const STANDARD_WEBHOOKS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
];

fn provider_headers(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::StandardWebhooks => STANDARD_WEBHOOKS,
        Provider::Github => &[
            "x-github-event",
            "x-github-delivery",
            "x-github-hook-id",
            "x-github-hook-installation-target-id",
            "x-github-hook-installation-target-type",
            "x-hub-signature-256",
        ],
        Provider::Stripe => &["stripe-signature"],
        Provider::Shopify => &[
            "x-shopify-topic",
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-triggered-at",
            "x-shopify-hmac-sha256",
            // Shopify's "events" deliveries: the same headers without `x-`.
            "shopify-topic",
            "shopify-webhook-id",
            "shopify-event-id",
            "shopify-shop-domain",
            "shopify-api-version",
            "shopify-triggered-at",
            "shopify-hmac-sha256",
        ],
        Provider::Slack => &[
            "x-slack-signature",
            "x-slack-request-timestamp",
            "x-slack-retry-num",
            "x-slack-retry-reason",
        ],
        Provider::Twilio => &["x-twilio-signature", "i-twilio-idempotency-token"],
        Provider::Paddle => &["paddle-signature"],
        Provider::Linear => &["linear-signature", "linear-delivery", "linear-event"],
        Provider::Gitlab => &[
            "x-gitlab-event",
            "x-gitlab-event-uuid",
            "x-gitlab-webhook-uuid",
            "x-gitlab-instance",
            "idempotency-key",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        ],
        Provider::Twitch => &[
            "twitch-eventsub-message-id",
            "twitch-eventsub-message-timestamp",
            "twitch-eventsub-message-signature",
            "twitch-eventsub-message-type",
            "twitch-eventsub-message-retry",
            "twitch-eventsub-subscription-type",
            "twitch-eventsub-subscription-version",
        ],
        Provider::Zoom => &[
            "x-zm-signature",
            "x-zm-request-timestamp",
            "x-zm-trackingid",
        ],
        Provider::GenericHmac => &[],
    }
}

/// The lower-case names of the headers kept for `config`'s provider, without repeats.
pub fn kept_headers(config: &ProviderConfig) -> Vec<String> {
    let mut names: Vec<String> = COMMON
        .iter()
        .chain(provider_headers(config.provider))
        .map(|n| (*n).to_owned())
        .collect();
    if let Some(generic) = &config.generic {
        let configured = [
            Some(&generic.header),
            generic.timestamp_header.as_ref(),
            generic.id_header.as_ref(),
        ];
        names.extend(
            configured
                .into_iter()
                .flatten()
                .map(|n| n.to_ascii_lowercase()),
        );
    }
    names.retain(|n| n != "x-gitlab-token");
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gitlab_token_is_never_kept_and_ids_are() {
        let gitlab = kept_headers(&ProviderConfig::new(Provider::Gitlab, ["t"]));
        assert!(!gitlab.iter().any(|n| n == "x-gitlab-token"));
        assert!(gitlab.iter().any(|n| n == "x-gitlab-event-uuid"));
        let github = kept_headers(&ProviderConfig::new(Provider::Github, ["s"]));
        assert!(github.iter().any(|n| n == "x-github-delivery"));
        assert!(github.iter().any(|n| n == "content-type"));
    }
}
