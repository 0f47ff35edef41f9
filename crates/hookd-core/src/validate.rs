//! Validation of user-supplied values, shared by the API and any other entry point.
//! Each function returns a message fit for an API `detail`.

/// A `uid`: 1 to 256 of `[A-Za-z0-9-_.]`.
pub fn uid(s: &str) -> Result<(), String> {
    token(s, 256, "uid", |c| matches!(c, '-' | '_' | '.'))
}

/// An event type name: 1 to 256 of `[A-Za-z0-9-_.]`.
pub fn event_type_name(s: &str) -> Result<(), String> {
    token(s, 256, "event type name", |c| matches!(c, '-' | '_' | '.'))
}

/// A channel: 1 to 128 of `[A-Za-z0-9-_.:]`.
pub fn channel(s: &str) -> Result<(), String> {
    token(s, 128, "channel", |c| matches!(c, '-' | '_' | '.' | ':'))
}

/// At most this many channels on a message or endpoint.
pub const MAX_CHANNELS: usize = 10;

fn token(s: &str, max: usize, what: &str, extra: impl Fn(char) -> bool) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("{what} must be 1 to {max} characters"));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || extra(*c)))
    {
        return Err(format!("{what} contains the invalid character {bad:?}"));
    }
    Ok(())
}

/// An endpoint URL: absolute `http` or `https` with a host, at most 65,536 characters, no
/// credentials. Returns the normalised URL.
pub fn endpoint_url(s: &str) -> Result<String, String> {
    if s.len() > 65_536 {
        return Err("url is longer than 65536 characters".into());
    }
    let url = url::Url::parse(s).map_err(|e| format!("url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("url must use http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("url must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not contain credentials".into());
    }
    if url.fragment().is_some() {
        return Err("url must not contain a fragment".into());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(uid("my-app_1.x").is_ok());
        assert!(uid("").is_err());
        assert!(uid("a b").is_err());
        assert!(channel("project:1").is_ok());
        assert!(event_type_name("invoice.paid").is_ok());
        assert!(event_type_name(&"x".repeat(257)).is_err());
    }

    #[test]
    fn urls() {
        assert!(endpoint_url("https://example.com/hook").is_ok());
        assert!(endpoint_url("ftp://example.com").is_err());
        assert!(endpoint_url("not a url").is_err());
        assert!(endpoint_url("http://user:pw@example.com").is_err());
        assert!(endpoint_url("/relative").is_err());
    }
}
