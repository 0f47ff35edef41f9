//! The outbound HTTP client: one pooled keep-alive hyper client (HTTP/1.1 over plain TCP or
//! rustls) shared by every delivery.
//!
//! Owns transport concerns only: the SSRF-checking resolver, the per-request timeout, the
//! bounded response read and turning transport failures into short readable texts. It
//! never follows redirects (hyper's client does not) and knows nothing of signing or the
//! store.

use crate::ssrf::{SsrfBlocked, SsrfPolicy};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Resolves names with the system resolver and keeps only addresses the policy allows.
#[derive(Clone)]
pub(crate) struct SsrfResolver {
    policy: Arc<SsrfPolicy>,
}

impl tower::Service<Name> for SsrfResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused.get_or_insert(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(blocked)) => Err(Box::new(blocked) as BoxError),
                (true, None) => Err(format!("no addresses found for {}", name.as_str()).into()),
                (false, _) => Ok(allowed.into_iter()),
            }
        })
    }
}

/// What came back from an endpoint (the body cut to the configured size).
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The first `max_body` bytes of the body, lossy UTF-8.
    pub body: String,
}

/// Why no response arrived. Its `Display` is what the attempt records.
#[derive(Debug)]
pub(crate) enum SendError {
    Blocked(SsrfBlocked),
    Timeout(Duration),
    InvalidUrl(String),
    /// `https_only` is set and the URL is plain `http`.
    NotHttps,
    Transport(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Blocked(b) => b.fmt(f),
            Self::Timeout(d) => write!(f, "request timed out after {}", fmt_duration(*d)),
            Self::InvalidUrl(why) => write!(f, "invalid endpoint URL: {why}"),
            Self::NotHttps => {
                f.write_str("refused: the endpoint URL is not https and https_only is set")
            }
            Self::Transport(why) => f.write_str(why),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The shared client. Cheap to clone.
#[derive(Clone)]
pub(crate) struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector<SsrfResolver>>, Full<Bytes>>,
    policy: Arc<SsrfPolicy>,
    timeout: Duration,
    max_body: usize,
    /// Refuse plain-`http` URLs.
    https_only: bool,
}

impl HttpClient {
    /// Refuses every URL that is not `https` when `on`.
    pub fn require_https(mut self, on: bool) -> Self {
        self.https_only = on;
        self
    }

    pub fn new(policy: SsrfPolicy, timeout: Duration, max_body: usize) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let mut http = HttpConnector::new_with_resolver(SsrfResolver {
            policy: policy.clone(),
        });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Self {
            inner,
            policy,
            timeout,
            max_body,
            https_only: false,
        })
    }

    /// POSTs `body` to `url`. The timeout covers connecting, sending, the response head and
    /// the bounded body read.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, SendError> {
        let uri = self.checked_uri(url)?;
        let mut req = Request::post(uri)
            .body(Full::new(body))
            .map_err(|e| SendError::InvalidUrl(e.to_string()))?;
        *req.headers_mut() = headers;
        let max_body = self.max_body;
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(describe)?;
            let (parts, mut body) = resp.into_parts();
            let mut buf = Vec::new();
            while buf.len() < max_body {
                match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            let take = data.len().min(max_body - buf.len());
                            buf.extend_from_slice(&data[..take]);
                        }
                    }
                    // The status already arrived; a body cut short does not change it.
                    Some(Err(_)) => break,
                }
            }
            Ok(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8_lossy(&buf).into_owned(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(SendError::Timeout(self.timeout)))
    }

    /// Parses and normalises the URL (so `http://0x7f.1/` becomes `127.0.0.1`) and checks an
    /// IP-literal host against the policy, since the connector skips the resolver for those.
    fn checked_uri(&self, url: &str) -> Result<http::Uri, SendError> {
        let parsed = url::Url::parse(url).map_err(|e| SendError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SendError::InvalidUrl(format!(
                "unsupported scheme {}",
                parsed.scheme()
            )));
        }
        if self.https_only && parsed.scheme() != "https" {
            return Err(SendError::NotHttps);
        }
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => Some(v4.into()),
            Some(url::Host::Ipv6(v6)) => Some(v6.into()),
            Some(url::Host::Domain(_)) => None,
            None => return Err(SendError::InvalidUrl("missing host".into())),
        };
        if let Some(ip) = literal {
            self.policy.check(ip).map_err(SendError::Blocked)?;
        }
        parsed
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| SendError::InvalidUrl(e.to_string()))
    }
}

/// Turns a client error into a short text: the SSRF refusal if there was one, a plain
/// phrase for common socket errors, else the innermost cause.
fn describe(err: hyper_util::client::legacy::Error) -> SendError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    let mut innermost = err.to_string();
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<SsrfBlocked>() {
            return SendError::Blocked(blocked.clone());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let phrase = match io.kind() {
                ConnectionRefused => Some("connection refused"),
                ConnectionReset => Some("connection reset by peer"),
                ConnectionAborted => Some("connection aborted"),
                UnexpectedEof => Some("connection closed before a response arrived"),
                _ => None,
            };
            if let Some(p) = phrase {
                return SendError::Transport(p.into());
            }
        }
        innermost = e.to_string();
        source = e.source();
    }
    if err.is_connect() {
        SendError::Transport(format!("connection failed: {innermost}"))
    } else {
        SendError::Transport(innermost)
    }
}
