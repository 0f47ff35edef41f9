//! Endpoint request bodies and their validation: URL, uid, version, subscription
//! (`filterTypes`, which must name existing event types), channels and headers.

use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{double_option, not_null};
use crate::api::ApiState;
use hookd_core::ids::EndpointId;
use hookd_core::model::{Endpoint, Metadata};
use hookd_core::signing::{EndpointSecret, KeyType};
use hookd_core::{validate, Timestamp};
use hookd_store::StoreError;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Body of create and replace (`EndpointIn` / `EndpointUpdate`). Accepts Svix's older and
/// newer names (`filterTypes`/`eventTypes`, `rateLimit`/`throttleRate`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIn {
    #[schema(schema_with = crate::api::http::schemas::url)]
    url: String,
    #[serde(default)]
    description: String,
    #[schema(schema_with = crate::api::http::schemas::uid)]
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    version: Option<i32>,
    #[serde(default, alias = "throttleRate")]
    rate_limit: Option<u32>,
    /// hookd's own: at most this many requests at once.
    #[serde(default)]
    max_concurrency: Option<u32>,
    /// hookd's own: deliver one message at a time, in order.
    #[serde(default)]
    fifo: bool,
    #[schema(schema_with = crate::api::http::schemas::event_type_names)]
    #[serde(default, alias = "eventTypes")]
    filter_types: Option<Vec<String>>,
    #[schema(schema_with = crate::api::http::schemas::channels)]
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    disabled: bool,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    #[serde(default)]
    metadata: Option<Metadata>,
    /// Only read on create.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    /// hookd extension, only read on create: `"hmac"` (default) or `"ed25519"`, the kind
    /// of key generated when `secret` is absent.
    #[serde(default)]
    pub key_type: Option<String>,
}

/// The signing key of a create or a rotation: `given` (field `field`) parsed, or else a
/// generated one of `key_type` (`"hmac"` by default, or `"ed25519"`). A `key_type` that
/// contradicts the given key is refused.
pub fn signing_key(
    given: Option<String>,
    key_type: Option<String>,
    field: &'static str,
) -> ApiResult<EndpointSecret> {
    let wanted = match key_type.as_deref() {
        None => None,
        Some("hmac") => Some(KeyType::Hmac),
        Some("ed25519") => Some(KeyType::Ed25519),
        Some(_) => {
            return Err(ApiError::field(
                "keyType",
                "keyType must be \"hmac\" or \"ed25519\"",
            ))
        }
    };
    let key = match given {
        Some(text) => {
            EndpointSecret::parse(&text).map_err(|e| ApiError::field(field, e.to_string()))?
        }
        None => return Ok(EndpointSecret::generate_of(wanted.unwrap_or(KeyType::Hmac))),
    };
    if wanted.is_some_and(|w| w != key.key_type()) {
        return Err(ApiError::field(
            "keyType",
            format!("keyType does not match the kind of {field} given"),
        ));
    }
    Ok(key)
}

/// Body of PATCH (`EndpointPatch`): absent fields stay, `null` clears a nullable one and
/// is refused for the others (`url`, `description`, `version`, `fifo`, `disabled`,
/// `metadata`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPatch {
    #[schema(schema_with = crate::api::http::schemas::url_patch)]
    #[serde(default, deserialize_with = "not_null")]
    url: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    description: Option<String>,
    #[schema(schema_with = crate::api::http::schemas::uid)]
    #[serde(default, deserialize_with = "double_option")]
    uid: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    version: Option<i32>,
    #[serde(default, alias = "throttleRate", deserialize_with = "double_option")]
    rate_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    max_concurrency: Option<Option<u32>>,
    #[serde(default, deserialize_with = "not_null")]
    fifo: Option<bool>,
    #[schema(schema_with = crate::api::http::schemas::event_type_names)]
    #[serde(default, alias = "eventTypes", deserialize_with = "double_option")]
    filter_types: Option<Option<Vec<String>>>,
    #[schema(schema_with = crate::api::http::schemas::channels)]
    #[serde(default, deserialize_with = "double_option")]
    channels: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "not_null")]
    disabled: Option<bool>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    #[serde(default, deserialize_with = "not_null")]
    metadata: Option<Metadata>,
}

/// Checks the subscription: valid names of existing event types. An empty list means
/// "every type", as no list does.
async fn check_filter_types(
    state: &ApiState,
    types: Option<Vec<String>>,
) -> ApiResult<Option<Vec<String>>> {
    let Some(types) = types.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if types.len() > 1000 {
        return Err(ApiError::field(
            "filterTypes",
            "filterTypes allows at most 1000 types",
        ));
    }
    for name in &types {
        require_event_type(state, "filterTypes", name).await?;
    }
    Ok(Some(types))
}

/// Checks that the body field `field` names an existing event type (422 naming the field
/// otherwise); returns it.
pub async fn require_event_type(
    state: &ApiState,
    field: &str,
    name: &str,
) -> ApiResult<hookd_core::model::EventType> {
    validate::event_type_name(name).map_err(|m| ApiError::field(field, m))?;
    match state.store.get_event_type(name).await {
        Ok(event_type) => Ok(event_type),
        Err(StoreError::NotFound) => Err(ApiError::field(
            field,
            format!("{field} names the event type {name:?}, which does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Checks channels (at most ten valid names); empty means none.
pub fn check_channels(channels: Option<Vec<String>>) -> ApiResult<Option<Vec<String>>> {
    let Some(channels) = channels.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if channels.len() > validate::MAX_CHANNELS {
        return Err(ApiError::field(
            "channels",
            format!("channels allows at most {} entries", validate::MAX_CHANNELS),
        ));
    }
    for c in &channels {
        validate::channel(c).map_err(|m| ApiError::field("channels", m))?;
    }
    Ok(Some(channels))
}

/// Checks a full set of custom headers: a create or update body's, or what the headers
/// routes ([`super::headers`]) leave.
pub fn check_headers(headers: &BTreeMap<String, String>) -> ApiResult<()> {
    if headers.len() > validate::MAX_CUSTOM_HEADERS {
        return Err(ApiError::field(
            "headers",
            format!(
                "headers allows at most {} entries",
                validate::MAX_CUSTOM_HEADERS
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (name, value) in headers {
        validate::custom_header(name, value).map_err(|m| ApiError::field("headers", m))?;
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(ApiError::field(
                "headers",
                format!("the header {name:?} is given twice (names are case-insensitive)"),
            ));
        }
    }
    Ok(())
}

/// Validates an endpoint URL; with `https_only` set, plain `http` is refused.
pub fn check_url(state: &ApiState, url: &str) -> ApiResult<String> {
    let url = validate::endpoint_url(url).map_err(|m| ApiError::field("url", m))?;
    if state.https_only && !url.starts_with("https://") {
        return Err(ApiError::field(
            "url",
            "url must use https (this server is configured https_only)",
        ));
    }
    Ok(url)
}

/// Checks an endpoint uid (also one a PUT creates from its path): never shaped like an
/// endpoint id.
pub fn check_uid(uid: Option<&str>) -> ApiResult<()> {
    uid.map_or(Ok(()), |u| {
        validate::resource_uid(u, EndpointId::PREFIX).map_err(|m| ApiError::field("uid", m))
    })
}

/// Largest `throttleRate` (Svix's limit: a 16-bit count of messages per second).
const MAX_THROTTLE_RATE: u32 = 65_535;
/// Largest `maxConcurrency`.
const MAX_CONCURRENCY: u32 = 1_000;

/// `throttleRate`: 0 means no throttle.
fn check_rate(rate: Option<u32>) -> ApiResult<Option<u32>> {
    match rate {
        Some(r) if r > MAX_THROTTLE_RATE => Err(ApiError::field(
            "throttleRate",
            format!("throttleRate must be at most {MAX_THROTTLE_RATE} messages per second"),
        )),
        Some(0) | None => Ok(None),
        Some(r) => Ok(Some(r)),
    }
}

fn check_concurrency(cap: Option<u32>) -> ApiResult<Option<u32>> {
    match cap {
        Some(c) if c == 0 || c > MAX_CONCURRENCY => Err(ApiError::field(
            "maxConcurrency",
            format!("maxConcurrency must be between 1 and {MAX_CONCURRENCY}"),
        )),
        c => Ok(c),
    }
}

fn check_version(v: i32) -> ApiResult<i32> {
    if v < 1 {
        return Err(ApiError::field("version", "version must be at least 1"));
    }
    Ok(v)
}

/// Validates a create/replace body into `ep`'s mutable fields (secret aside).
pub async fn apply_in(state: &ApiState, ep: &mut Endpoint, body: EndpointIn) -> ApiResult<()> {
    check_uid(body.uid.as_deref())?;
    ep.url = check_url(state, &body.url)?;
    ep.version = check_version(body.version.unwrap_or(1))?;
    ep.channels = check_channels(body.channels)?;
    ep.event_types = check_filter_types(state, body.filter_types).await?;
    if let Some(headers) = body.headers {
        check_headers(&headers)?;
        ep.headers = headers;
    }
    ep.uid = body.uid.or(ep.uid.take());
    ep.description = body.description;
    ep.rate_limit = check_rate(body.rate_limit)?;
    ep.max_concurrency = check_concurrency(body.max_concurrency)?;
    ep.fifo = body.fifo;
    ep.set_disabled_by_user(body.disabled);
    ep.metadata = body.metadata.unwrap_or_default();
    ep.updated_at = Timestamp::now();
    Ok(())
}

/// Applies a PATCH body to `ep`.
pub async fn apply_patch(
    state: &ApiState,
    ep: &mut Endpoint,
    body: EndpointPatch,
) -> ApiResult<()> {
    if let Some(url) = body.url {
        ep.url = check_url(state, &url)?;
    }
    if let Some(d) = body.description {
        ep.description = d;
    }
    if let Some(uid) = body.uid {
        check_uid(uid.as_deref())?;
        ep.uid = uid;
    }
    if let Some(v) = body.version {
        ep.version = check_version(v)?;
    }
    if let Some(rate) = body.rate_limit {
        ep.rate_limit = check_rate(rate)?;
    }
    if let Some(cap) = body.max_concurrency {
        ep.max_concurrency = check_concurrency(cap)?;
    }
    if let Some(fifo) = body.fifo {
        ep.fifo = fifo;
    }
    if let Some(types) = body.filter_types {
        ep.event_types = check_filter_types(state, types).await?;
    }
    if let Some(channels) = body.channels {
        ep.channels = check_channels(channels)?;
    }
    if let Some(d) = body.disabled {
        ep.set_disabled_by_user(d);
    }
    if let Some(m) = body.metadata {
        ep.metadata = m;
    }
    ep.updated_at = Timestamp::now();
    Ok(())
}
