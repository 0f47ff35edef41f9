//! The rules of the declaration: each turns a setting's value as given into the value
//! `Config` holds, or refuses it with an error that names the setting (`name`). Rules
//! that take an `Option` belong to settings that may stay unset.

use super::flags::List;
use super::{Database, Secret};
use anyhow::{bail, Context, Result};
use hookd_core::retry::RetrySchedule;
use hookd_core::signing::EndpointSecret;
use hookd_delivery::ProxyConfig;
use hookd_store::secrets::MainKey;
use ipnet::IpNet;
use std::path::PathBuf;
use std::time::Duration;

/// Largest accepted `max_body_bytes`: a message's response echoes its payload, and
/// idempotent responses are kept whole (at most 16 MiB), so the request limit stays well
/// below that.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The value as given.
pub(super) fn as_is<T>(_: &str, value: T) -> Result<T> {
    Ok(value)
}

/// `None` stays `None`; a value goes through `rule`.
pub(super) fn optional<T, U>(
    rule: impl Fn(&str, T) -> Result<U>,
) -> impl Fn(&str, Option<T>) -> Result<Option<U>> {
    move |name, value| value.map(|v| rule(name, v)).transpose()
}

// --- Durations and counts ---

/// A positive number of seconds, at most 30 days.
pub(super) fn seconds(name: &str, value: f64) -> Result<Duration> {
    if !value.is_finite() || value <= 0.0 || value > 30.0 * 86400.0 {
        bail!("{name} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

/// [`seconds`], at most `max`.
pub(super) fn seconds_up_to(max: f64) -> impl Fn(&str, f64) -> Result<Duration> {
    move |name, value| {
        let d = seconds(name, value)?;
        if d.as_secs_f64() > max {
            bail!("{name} must be at most {max} seconds");
        }
        Ok(d)
    }
}

/// Seconds from `min` to `max`.
pub(super) fn seconds_between(min: f64, max: f64) -> impl Fn(&str, f64) -> Result<Duration> {
    move |name, value| {
        if !(min..=max).contains(&value) {
            bail!("{name} must be between {min} and {max} seconds");
        }
        Ok(Duration::from_secs_f64(value))
    }
}

/// [`seconds`], at least one.
pub(super) fn seconds_from_one(name: &str, value: f64) -> Result<Duration> {
    match seconds(name, value)? {
        d if d < Duration::from_secs(1) => bail!("{name} must be at least 1 second"),
        d => Ok(d),
    }
}

/// Milliseconds; 0 counts as 1.
pub(super) fn milliseconds(_: &str, value: u64) -> Result<Duration> {
    Ok(Duration::from_millis(value.max(1)))
}

/// Days up to 100 years; 0 is forever (`None`).
pub(super) fn days_or_forever(name: &str, value: f64) -> Result<Option<Duration>> {
    match value {
        d if !(0.0..=36_500.0).contains(&d) => {
            bail!("{name} must be between 0 and 36500 days")
        }
        0.0 => Ok(None),
        d => Ok(Some(Duration::from_secs_f64(d * 86_400.0))),
    }
}

/// Days above 0, at most a year.
pub(super) fn days_up_to_a_year(name: &str, value: f64) -> Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value <= 365.0) {
        bail!("{name} must be between 0 and 365 days (above 0)");
    }
    Ok(Duration::from_secs_f64(value * 86_400.0))
}

/// A number from 0 to 1.
pub(super) fn fraction(name: &str, value: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&value) {
        bail!("{name} must be between 0 and 1");
    }
    Ok(value)
}

/// A count of at least 1.
pub(super) fn at_least_one(name: &str, value: usize) -> Result<usize> {
    if value == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(value)
}

/// A count from `min` to `max`.
pub(super) fn count_between(min: usize, max: usize) -> impl Fn(&str, usize) -> Result<usize> {
    move |name, value| {
        if !(min..=max).contains(&value) {
            bail!("{name} must be between {min} and {max}");
        }
        Ok(value)
    }
}

/// A number up to `max`.
pub(super) fn up_to(max: u64) -> impl Fn(&str, u64) -> Result<u64> {
    move |name, value| {
        if value > max {
            bail!("{name} must be at most {max}");
        }
        Ok(value)
    }
}

/// A request body size: positive, at most [`MAX_BODY_BYTES`].
pub(super) fn body_bytes(name: &str, value: usize) -> Result<usize> {
    match value {
        0 => bail!("{name} must be positive"),
        n if n > MAX_BODY_BYTES => bail!("{name} must be at most {MAX_BODY_BYTES} (8 MiB)"),
        n => Ok(n),
    }
}

/// Retry delays: seconds, each at most a year.
pub(super) fn delays(_: &str, value: List<f64>) -> Result<Vec<Duration>> {
    let schedule = RetrySchedule::parse(&value.items().join(","), 0.0)?;
    Ok(schedule.delays().to_vec())
}

// --- Addresses, keys and URLs ---

/// `sqlite://PATH` or `postgres://...`.
pub(super) fn database(_: &str, url: String) -> Result<Database> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            bail!("database url sqlite:// needs a path, e.g. sqlite://./hookd-data/hookd.db");
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Database::Postgres(url))
    } else {
        bail!("database url must start with sqlite:// or postgres://")
    }
}

/// At least 16 characters.
pub(super) fn admin_token(_: &str, token: String) -> Result<Secret> {
    if token.len() < 16 {
        bail!("admin token must be at least 16 characters");
    }
    Ok(Secret(token))
}

/// CIDRs, bare addresses, and the words `loopback` and `private` (see
/// [`hookd_delivery::ssrf::named_networks`]); unset: none.
pub(super) fn networks(_: &str, value: Option<List<String>>) -> Result<Vec<IpNet>> {
    let mut nets = Vec::new();
    for item in value.map(|list| list.items()).unwrap_or_default() {
        let p = item.trim();
        if p.is_empty() {
            continue;
        }
        if let Some(named) = hookd_delivery::ssrf::named_networks(p) {
            nets.extend(named);
            continue;
        }
        let net = p
            .parse::<IpNet>()
            .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
            .with_context(|| {
                format!("allowed network {p:?} is not a CIDR, `loopback` or `private`")
            })?;
        nets.push(net);
    }
    Ok(nets)
}

/// A base64 main key, never echoed in the error.
pub(super) fn main_key(name: &str, text: String) -> Result<MainKey> {
    MainKey::from_base64(&text)
        .map_err(|e| anyhow::anyhow!("{name}: {e} (see `hookd keygen --main-key`)"))
}

/// Base64 main keys; unset: none.
pub(super) fn main_keys(name: &str, value: Option<List<String>>) -> Result<Vec<MainKey>> {
    let keys = value.map(|list| list.items()).unwrap_or_default();
    keys.into_iter().map(|k| main_key(name, k)).collect()
}

/// An HTTP CONNECT proxy URL; unset or blank: none.
pub(super) fn proxy(_: &str, url: Option<String>) -> Result<Option<ProxyConfig>> {
    match url {
        Some(url) if !url.trim().is_empty() => Ok(Some(
            ProxyConfig::parse(url.trim()).map_err(anyhow::Error::msg)?,
        )),
        _ => Ok(None),
    }
}

/// An absolute `http`/`https` URL, with the rules of every endpoint URL.
pub(super) fn endpoint_url(name: &str, url: String) -> Result<String> {
    hookd_core::validate::endpoint_url(&url).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// A `whsec_` (or `whsk_`) signing key.
pub(super) fn signing_secret(name: &str, secret: String) -> Result<EndpointSecret> {
    EndpointSecret::parse(&secret).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// A collector's base URL: `http` or `https`, with a host, without query or fragment.
pub(super) fn otlp_endpoint(name: &str, url: String) -> Result<String> {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            Ok(url.to_owned())
        }
        _ => bail!(
            "{name} must be an http:// or https:// URL without query or fragment (a \
             collector's OTLP/HTTP address, such as http://localhost:4318)"
        ),
    }
}

/// An absolute `http`/`https` URL without query or fragment; its trailing `/` is dropped.
pub(super) fn public_url(name: &str, url: String) -> Result<String> {
    let url = url.trim().trim_end_matches('/').to_owned();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(url),
        _ => bail!("{name} must be an http:// or https:// URL without query or fragment"),
    }
}

/// A CSP `frame-ancestors` source list: `*`, `'self'`, `'none'` (alone), scheme sources
/// (`https:`) and host sources (`https://app.example.com:8443`, `https://*.example.com`).
/// Anything that could end the directive or add another (`;`, `,`, quotes) is refused.
pub(super) fn frame_ancestors(name: &str, value: String) -> Result<String> {
    let sources: Vec<&str> = value.split_ascii_whitespace().collect();
    if sources.is_empty() {
        bail!("{name} must name at least one source (`*`, `'self'`, `'none'` or an origin)");
    }
    if sources.contains(&"'none'") && sources.len() > 1 {
        bail!("{name}: `'none'` must be the only source");
    }
    for source in &sources {
        if matches!(*source, "*" | "'self'" | "'none'") {
            continue;
        }
        let host_like = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.*:[]/_~%".contains(&b))
        };
        let ok = match source.split_once("://") {
            Some((scheme, rest)) => {
                scheme.bytes().all(|b| b.is_ascii_alphabetic())
                    && !scheme.is_empty()
                    && host_like(rest)
            }
            None => source
                .strip_suffix(':')
                .map(|scheme| !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphabetic()))
                .unwrap_or_else(|| host_like(source)),
        };
        if !ok {
            bail!(
                "{name}: {source:?} is not a frame-ancestors source (`*`, `'self'`, `'none'`, \
                 `https:` or an origin such as `https://app.example.com`)"
            );
        }
    }
    Ok(sources.join(" "))
}
