//! Validation of user-supplied values, shared by the API and any other entry point.
//! Each function returns a message fit for an API `detail`.

/// A `uid`: 1 to 256 of `[A-Za-z0-9-_.]`.
pub fn uid(s: &str) -> Result<(), String> {
    token(s, 256, "uid", |c| matches!(c, '-' | '_' | '.'))
}

/// The uid of a resource whose ids have `id_prefix` (`app`, `ep`, `src`, `msg` for a
/// message's `eventId`): a valid [`uid`] that does not have the shape of such an id, since
/// a lookup by id-or-uid would take it for one and the uid could shadow another
/// resource's id.
pub fn resource_uid(s: &str, id_prefix: &str) -> Result<(), String> {
    uid(s)?;
    if crate::ids::has_id_shape(s, id_prefix) {
        return Err(format!(
            "uid must not have the shape of an id ({id_prefix}_ followed by 22 letters and \
             digits): it could be taken for another resource's id"
        ));
    }
    Ok(())
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

/// An endpoint URL: absolute `http` or `https` with a host written out (`scheme://host`)
/// and a port other than 0, at most 65,536 characters, no credentials. Returns the
/// normalised URL. Used for every URL hookd delivers to: endpoints, ingest endpoints and
/// the operational webhook.
pub fn endpoint_url(s: &str) -> Result<String, String> {
    if s.len() > 65_536 {
        return Err("url is longer than 65536 characters".into());
    }
    let url = url::Url::parse(s).map_err(|e| format!("url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("url must use http or https".into());
    }
    // The parser repairs `http:///path` and `http:host` into `http://path/` and
    // `http://host/`: a host it had to guess is refused, not delivered to.
    let written_host = s
        .trim_start()
        .get(url.scheme().len()..)
        .and_then(|rest| rest.strip_prefix("://"))
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| !matches!(c, '/' | '\\' | '?' | '#'));
    if !written_host || url.host_str().is_none_or(str::is_empty) {
        return Err("url must have a host (scheme://host/...)".into());
    }
    if url.port() == Some(0) {
        return Err("url must not use port 0".into());
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
        for no_host in [
            "http:///path",
            "https:///",
            "http:example.com",
            "http:/example.com",
            "http://",
            "http://?q",
            "HTTP:///x",
        ] {
            let err = endpoint_url(no_host).unwrap_err();
            assert!(
                err.contains("host") || err.contains("valid"),
                "{no_host}: {err}"
            );
        }
        assert!(endpoint_url("HTTPS://Example.com/x").is_ok());
        assert!(endpoint_url("http://127.0.0.1:0/x")
            .unwrap_err()
            .contains("port 0"));
        assert!(endpoint_url("http://[::1]:0/")
            .unwrap_err()
            .contains("port 0"));
        assert!(endpoint_url("http://127.0.0.1:1/x").is_ok());
    }

    #[test]
    fn a_uid_may_not_look_like_an_id_of_its_resource() {
        let app_id = crate::ids::AppId::generate().to_string();
        assert!(resource_uid(&app_id, "app").is_err());
        // Another resource's prefix, or not an id's shape: a uid like any other.
        assert!(resource_uid(&app_id, "ep").is_ok());
        assert!(resource_uid("app_short", "app").is_ok());
        assert!(resource_uid("my-app", "app").is_ok());
        assert!(resource_uid("", "app").is_err());
    }
}

/// Most custom headers one endpoint may carry.
pub const MAX_CUSTOM_HEADERS: usize = 50;
/// Longest custom header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 4096;

/// Whether a custom header may not be set on deliveries (`name` in lower case): the
/// hop-by-hop headers, those that frame the message (`host`, every `content-*`), and the
/// signature headers (`webhook-*`, `svix-*`).
pub fn is_forbidden_header(name: &str) -> bool {
    name.starts_with("content-")
        || name.starts_with("webhook-")
        || name.starts_with("svix-")
        || matches!(
            name,
            "connection"
                | "keep-alive"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "host"
                | "expect"
        )
}

/// Whether a custom header's value is a credential, shown only by name when headers are
/// read back (`name` in lower case).
pub fn is_sensitive_header(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "x-api-key")
        || ["secret", "token", "password", "signature"]
            .iter()
            .any(|w| name.contains(w))
}

/// Checks one custom header: an HTTP token name (1-256 characters), not forbidden, and a
/// visible-ASCII value of at most [`MAX_HEADER_VALUE`] bytes.
pub fn custom_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.len() > 256 || !name.chars().all(token) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if is_forbidden_header(&name.to_ascii_lowercase()) {
        return Err(format!("the header {name:?} cannot be set"));
    }
    if value.len() > MAX_HEADER_VALUE {
        return Err(format!(
            "the value of {name:?} is longer than {MAX_HEADER_VALUE} bytes"
        ));
    }
    if !value
        .chars()
        .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic())
    {
        return Err(format!("the value of {name:?} must be printable ASCII"));
    }
    Ok(())
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn custom_headers_are_checked_against_the_forbidden_list() {
        assert!(custom_header("X-Team", "billing").is_ok());
        assert!(custom_header("Authorization", "Bearer abc").is_ok());
        assert!(custom_header("User-Agent", "acme").is_ok());
        for forbidden in [
            "Host",
            "Content-Type",
            "content-length",
            "Content-Encoding",
            "Transfer-Encoding",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "TE",
            "Webhook-Signature",
            "webhook-id",
            "svix-signature",
            "Proxy-Authorization",
        ] {
            let err = custom_header(forbidden, "x").unwrap_err();
            assert!(err.contains("cannot be set"), "{forbidden}: {err}");
        }
        assert!(custom_header("bad name", "x").is_err());
        assert!(custom_header("", "x").is_err());
        assert!(custom_header("X-A", "line\nbreak").is_err());
        assert!(custom_header("X-A", &"v".repeat(MAX_HEADER_VALUE + 1)).is_err());
    }

    #[test]
    fn credentials_are_sensitive() {
        for name in [
            "authorization",
            "cookie",
            "x-api-key",
            "x-auth-token",
            "x-client-secret",
        ] {
            assert!(is_sensitive_header(name), "{name}");
        }
        assert!(!is_sensitive_header("x-team"));
    }
}
