//! Source types and configs: how a source's `type` + `config` (Svix Ingest's shape) map to a
//! verifier's [`ProviderConfig`], and how a type is reported so `svix==2.9.1` can read it.
//!
//! The SDK's `IngestSourceOut.type` is a closed list of literals: a type outside it fails
//! the SDK's validation of the whole response (a list with one such source breaks). So a
//! type hookd verifies but the SDK does not know (`twilio`, `paddle`, `linear`, `gitlab`,
//! `twitch`, `generic-hmac`) is reported as `generic-webhook` (whose config the SDK takes
//! as a free-form object), and every response carries hookd's own type in `hookdType`.

use crate::api::http::error::{ApiError, ApiResult};
use hookd_ingest::{Encoding, GenericHmacConfig, HmacAlgorithm, Provider, ProviderConfig};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Types the SDK knows and hookd verifies, with the scheme each signs with. The Svix-signed
/// providers (their SDK config is `SvixConfig`) sign the Standard Webhooks way.
const SDK_TYPES: &[(&str, Provider)] = &[
    ("github", Provider::Github),
    ("stripe", Provider::Stripe),
    ("shopify", Provider::Shopify),
    ("slack", Provider::Slack),
    ("zoom", Provider::Zoom),
    ("svix", Provider::StandardWebhooks),
    ("beehiiv", Provider::StandardWebhooks),
    ("brex", Provider::StandardWebhooks),
    ("clerk", Provider::StandardWebhooks),
    ("guesty", Provider::StandardWebhooks),
    ("incident-io", Provider::StandardWebhooks),
    ("lithic", Provider::StandardWebhooks),
    ("nash", Provider::StandardWebhooks),
    ("pleo", Provider::StandardWebhooks),
    ("replicate", Provider::StandardWebhooks),
    ("resend", Provider::StandardWebhooks),
    ("safebase", Provider::StandardWebhooks),
    ("sardine", Provider::StandardWebhooks),
    ("stych", Provider::StandardWebhooks),
    ("open-ai", Provider::StandardWebhooks),
    ("render", Provider::StandardWebhooks),
];

/// Types only hookd has; reported to the SDK as [`SDK_FALLBACK_TYPE`].
const HOOKD_TYPES: &[(&str, Provider)] = &[
    ("standard-webhooks", Provider::StandardWebhooks),
    ("twilio", Provider::Twilio),
    ("paddle", Provider::Paddle),
    ("linear", Provider::Linear),
    ("gitlab", Provider::Gitlab),
    ("twitch", Provider::Twitch),
    ("generic-hmac", Provider::GenericHmac),
];

/// The SDK type whose config is free-form: how a hookd-only type is reported.
pub const SDK_FALLBACK_TYPE: &str = "generic-webhook";

/// Config keys holding secrets: never echoed in a response.
const SECRET_KEYS: &[&str] = &["secret", "secrets"];

/// The schema of a source's `type`: every type hookd verifies (for the API document).
pub fn type_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let names = SDK_TYPES.iter().chain(HOOKD_TYPES).map(|(name, _)| *name);
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names))
        .description(Some("The provider whose signatures the source verifies."))
        .into()
}

fn provider_of(source_type: &str) -> Option<Provider> {
    SDK_TYPES
        .iter()
        .chain(HOOKD_TYPES)
        .find(|(name, _)| *name == source_type)
        .map(|(_, p)| *p)
}

/// The `type` to put in a response for a stored type.
pub fn reported_type(source_type: &str) -> &str {
    if SDK_TYPES.iter().any(|(name, _)| *name == source_type) {
        source_type
    } else {
        SDK_FALLBACK_TYPE
    }
}

/// The config as shown in responses: without its secrets.
pub fn public_config(config: &Value) -> Value {
    let mut shown = config.as_object().cloned().unwrap_or_default();
    shown.retain(|k, _| !SECRET_KEYS.contains(&k.as_str()));
    Value::Object(shown)
}

/// What a `config` may hold besides secrets (camelCase, like the rest of the API).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigIn {
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secrets: Option<Vec<String>>,
    #[serde(default)]
    tolerance_secs: Option<u64>,
    // generic-hmac only
    #[serde(default)]
    algorithm: Option<HmacAlgorithm>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    encoding: Option<Encoding>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    timestamp_header: Option<String>,
    #[serde(default)]
    id_header: Option<String>,
}

/// Checks a source's `type` and `config` and builds the verifier config from them: 422
/// `validation` for an unknown type, a config without a secret, or a generic HMAC
/// config missing its algorithm, header or encoding.
pub fn provider_config(source_type: &str, config: &Value) -> ApiResult<ProviderConfig> {
    let provider = provider_of(source_type).ok_or_else(|| {
        let known: Vec<&str> = SDK_TYPES
            .iter()
            .chain(HOOKD_TYPES)
            .map(|(n, _)| *n)
            .collect();
        ApiError::field(
            "type",
            format!(
                "unsupported source type {source_type:?}; the types are: {}",
                known.join(", ")
            ),
        )
    })?;
    if !config.is_object() {
        return Err(ApiError::field("config", "config must be an object"));
    }
    let input: ConfigIn = serde_json::from_value(config.clone())
        .map_err(|e| ApiError::field("config", format!("invalid config: {e}")))?;
    let mut secrets: Vec<String> = input.secret.into_iter().collect();
    secrets.extend(input.secrets.unwrap_or_default());
    secrets.retain(|s| !s.is_empty());
    if secrets.is_empty() {
        return Err(ApiError::field(
            "config",
            format!("a {source_type} source needs config.secret (or config.secrets)"),
        ));
    }
    let mut out = ProviderConfig::new(provider, secrets);
    out.tolerance_secs = input.tolerance_secs;
    if provider == Provider::GenericHmac {
        let missing = |key: &str| {
            ApiError::field(
                "config",
                format!("a generic-hmac source needs config.{key}"),
            )
        };
        let template = input.template.unwrap_or_else(|| "{body}".into());
        // Without the header the timestamp comes from, no request could ever verify.
        if template.contains("{timestamp}") && input.timestamp_header.is_none() {
            return Err(ApiError::field(
                "config",
                "a generic-hmac template with {timestamp} needs config.timestampHeader",
            ));
        }
        out.generic = Some(GenericHmacConfig {
            algorithm: input.algorithm.ok_or_else(|| missing("algorithm"))?,
            header: input.header.ok_or_else(|| missing("header"))?,
            encoding: input.encoding.ok_or_else(|| missing("encoding"))?,
            prefix: input.prefix,
            template,
            timestamp_header: input.timestamp_header,
            id_header: input.id_header,
        });
    }
    if let Some(problem) = hookd_ingest::config_problem(&out) {
        return Err(ApiError::field("config", problem.detail()));
    }
    Ok(out)
}

/// An empty config object (the SDK sends none for some types).
pub fn empty_config() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_types_map_and_hookd_only_types_report_as_generic_webhook() {
        let gh = provider_config("github", &json!({"secret": "s"})).unwrap();
        assert_eq!(gh.provider, Provider::Github);
        assert_eq!(reported_type("github"), "github");
        assert_eq!(
            provider_config("clerk", &json!({"secret": "whsec_c2VjcmV0"}))
                .unwrap()
                .provider,
            Provider::StandardWebhooks
        );
        let tw = provider_config("twilio", &json!({"secrets": ["a", "b"]})).unwrap();
        assert_eq!(tw.secrets.len(), 2);
        assert_eq!(reported_type("twilio"), SDK_FALLBACK_TYPE);
    }

    #[test]
    fn unknown_types_and_configs_without_a_secret_are_refused() {
        assert!(provider_config("nope", &json!({"secret": "s"})).is_err());
        assert!(provider_config("cron", &json!({})).is_err());
        assert!(provider_config("github", &json!({})).is_err());
        assert!(provider_config("github", &json!({"secret": ""})).is_err());
        assert!(provider_config("generic-hmac", &json!({"secret": "s"})).is_err());
        let generic = json!({"secret": "s", "algorithm": "sha256", "header": "x-sig",
            "encoding": "hex"});
        assert!(provider_config("generic-hmac", &generic).is_ok());
        let mut timed = generic.clone();
        timed["template"] = json!("{timestamp}.{body}");
        let err = provider_config("generic-hmac", &timed).unwrap_err();
        assert!(format!("{err:?}").contains("timestampHeader"), "{err:?}");
        timed["timestampHeader"] = json!("x-timestamp");
        assert!(provider_config("generic-hmac", &timed).is_ok());
        // A Standard Webhooks secret must be a key: refused when saved, not per request.
        for bad in ["whsec_not base64!", "whpk_AAAA"] {
            let err = provider_config("svix", &json!({"secret": bad})).unwrap_err();
            assert!(format!("{err:?}").contains("config"), "{bad}: {err:?}");
        }
        assert!(provider_config("svix", &json!({"secret": "whsec_c2VjcmV0"})).is_ok());
    }

    #[test]
    fn responses_never_show_secrets() {
        let shown = public_config(&json!({"secret": "s", "secrets": ["t"], "header": "h"}));
        assert_eq!(shown, json!({"header": "h"}));
    }
}
