//! The outbound proxy (`proxy_url`): every delivery goes through an HTTP `CONNECT` tunnel,
//! so deliveries leave from the proxy's address (a static egress IP).
//!
//! The SSRF policy still applies to the destination, and before the proxy is asked: the
//! client resolves the endpoint's host itself, checks every address, and asks the proxy to
//! `CONNECT` to a checked IP address (`CONNECT 93.184.216.34:443`), never to the host name.
//! The proxy therefore resolves nothing, and a DNS answer that changes between the check
//! and the connection (DNS rebinding) cannot redirect the request. TLS runs end to end
//! through the tunnel, with the endpoint's host name for SNI and certificate checks; plain
//! `http` goes through a tunnel too, so the request keeps its `Host` header.
//!
//! The proxy's own address is exempt from the policy (it is usually on a private network).
//! Owns only tunnel set-up; it knows nothing of signing, retries or the store.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest `CONNECT` response head read from the proxy.
const MAX_HEAD: usize = 8 * 1024;

/// Where the proxy is and how to authenticate to it. `Debug` hides the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value (`Basic …`) from the URL's user info, if any.
    authorization: Option<String>,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ProxyConfig {
    /// Parses `http://[user:password@]host[:port]` (port 80 by default).
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("proxy_url is not a URL: {e}"))?;
        if parsed.scheme() != "http" {
            return Err(format!(
                "proxy_url must start with http:// (an HTTP CONNECT proxy), not {}://",
                parsed.scheme()
            ));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(v4)) => v4.to_string(),
            Some(url::Host::Ipv6(v6)) => v6.to_string(),
            None => return Err("proxy_url needs a host".into()),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err("proxy_url must not have a path or a query".into());
        }
        let authorization = if parsed.username().is_empty() && parsed.password().is_none() {
            None
        } else {
            let decode = |s: &str| -> Result<String, String> {
                percent_decode(s).ok_or_else(|| "proxy_url credentials are not valid UTF-8".into())
            };
            let user = decode(parsed.username())?;
            let pass = decode(parsed.password().unwrap_or(""))?;
            Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{pass}"))
            ))
        };
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(80),
            authorization,
        })
    }

    /// Opens a tunnel through the proxy to `target`, an address the SSRF policy allowed.
    pub(crate) async fn tunnel(&self, target: SocketAddr) -> Result<TcpStream, ProxyError> {
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| ProxyError::Unreachable(e.kind()))?;
        let _ = stream.set_nodelay(true);
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(auth) = &self.authorization {
            head.push_str("Proxy-Authorization: ");
            head.push_str(auth);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|_| ProxyError::Closed)?;

        let mut buf = Vec::with_capacity(512);
        let end = loop {
            if let Some(i) = find_head_end(&buf) {
                break i;
            }
            if buf.len() >= MAX_HEAD {
                return Err(ProxyError::BadResponse);
            }
            let mut chunk = [0u8; 1024];
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|_| ProxyError::Closed)?;
            if n == 0 {
                return Err(ProxyError::Closed);
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let status = std::str::from_utf8(&buf[..end])
            .ok()
            .and_then(|h| h.lines().next())
            .filter(|line| line.starts_with("HTTP/1."))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or(ProxyError::BadResponse)?;
        if !(200..300).contains(&status) {
            return Err(ProxyError::Refused(status));
        }
        // Nothing may follow the head before the client speaks (TLS or HTTP).
        if buf.len() > end {
            return Err(ProxyError::BadResponse);
        }
        Ok(stream)
    }
}

/// Index just past the `\r\n\r\n` ending a response head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a tunnel could not be opened. The texts are recorded on attempts, which the
/// endpoint's owner can read: they name neither the proxy's address nor its credentials.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProxyError {
    Unreachable(std::io::ErrorKind),
    Closed,
    BadResponse,
    Refused(u16),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(kind) => {
                write!(f, "the outbound proxy could not be reached ({kind})")
            }
            Self::Closed => f.write_str("the outbound proxy closed the connection"),
            Self::BadResponse => f.write_str("the outbound proxy sent an invalid CONNECT response"),
            Self::Refused(status) => {
                write!(f, "the outbound proxy refused the tunnel (status {status})")
            }
        }
    }
}

impl std::error::Error for ProxyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls_and_hides_credentials() {
        let p = ProxyConfig::parse("http://egress.internal:3128").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, &p.authorization),
            ("egress.internal", 3128, &None)
        );
        let p = ProxyConfig::parse("http://10.0.0.5").unwrap();
        assert_eq!(p.port, 80);
        let p = ProxyConfig::parse("http://[fd00::1]:8080/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("fd00::1", 8080));
        let p = ProxyConfig::parse("http://hookd:s%40cret@proxy:3128").unwrap();
        assert_eq!(
            p.authorization.as_deref(),
            Some(format!("Basic {}", STANDARD.encode("hookd:s@cret")).as_str())
        );
        assert!(!format!("{p:?}").contains("Basic"));
        for bad in [
            "https://proxy:3128",
            "socks5://proxy:1080",
            "http://proxy:3128/path",
            "not a url",
            "http://proxy:3128?x=1",
        ] {
            assert!(ProxyConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_no_address() {
        assert_eq!(
            ProxyError::Refused(403).to_string(),
            "the outbound proxy refused the tunnel (status 403)"
        );
    }
}
