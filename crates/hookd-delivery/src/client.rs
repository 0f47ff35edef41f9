//! The outbound HTTP client: one pooled keep-alive hyper client (HTTP/1.1 over plain TCP or
//! rustls) shared by every delivery.
//!
//! Owns transport concerns only: the SSRF-checking resolver, the per-request timeout, the
//! bounded response read and turning transport failures into short readable texts. It
//! never follows redirects (hyper's client does not) and knows nothing of signing or the
//! store.

use crate::proxy::ProxyConfig;
use crate::ssrf::{SsrfBlocked, SsrfPolicy};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Where host names are looked up: the system resolver, or a fixed table in unit tests.
#[derive(Clone)]
pub(crate) enum Lookup {
    System,
    /// Answers from a function (unit tests: mixed answers, rebinding).
    #[cfg(test)]
    Fixed(Arc<FixedAnswers>),
}

/// A test's stand-in for DNS: host name to addresses.
#[cfg(test)]
pub(crate) type FixedAnswers = dyn Fn(&str) -> Vec<std::net::IpAddr> + Send + Sync;

/// Resolves names and refuses the name unless the policy allows every address it has: a
/// name that resolves to a mix of public and private addresses is refused, since which one
/// a connection would use is not ours to predict. The addresses it returns are the only
/// ones the connection may use (hyper's connector does not resolve again).
#[derive(Clone)]
pub(crate) struct SsrfResolver {
    policy: Arc<SsrfPolicy>,
    lookup: Lookup,
}

impl SsrfResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, BoxError> {
        let found: Vec<SocketAddr> = match &self.lookup {
            Lookup::System => tokio::net::lookup_host((host, port)).await?.collect(),
            #[cfg(test)]
            Lookup::Fixed(answer) => answer(host)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        };
        if found.is_empty() {
            return Err(format!("no addresses found for {host}").into());
        }
        for addr in &found {
            self.policy.check(addr.ip())?;
        }
        Ok(found)
    }
}

impl tower::Service<Name> for SsrfResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.resolve(name.as_str(), 0).await?.into_iter()) })
    }
}

/// How connections leave: straight to the checked address, or through the proxy's
/// `CONNECT` tunnel to it.
#[derive(Clone)]
pub(crate) enum Egress {
    Direct(HttpConnector<SsrfResolver>),
    Proxy {
        proxy: Arc<ProxyConfig>,
        resolver: SsrfResolver,
    },
}

impl tower::Service<Uri> for Egress {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::Direct(http) => http.poll_ready(cx).map_err(Into::into),
            Self::Proxy { .. } => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            Self::Direct(http) => {
                let connecting = http.call(uri);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Self::Proxy { proxy, resolver } => {
                let (proxy, resolver) = (proxy.clone(), resolver.clone());
                Box::pin(async move { tunnel(&proxy, &resolver, &uri).await })
            }
        }
    }
}

/// Checks the destination's addresses, then asks the proxy for a tunnel to the first one
/// that works, by IP address.
async fn tunnel(
    proxy: &ProxyConfig,
    resolver: &SsrfResolver,
    uri: &Uri,
) -> Result<TokioIo<TcpStream>, BoxError> {
    let host = uri.host().ok_or("missing host")?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let targets = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            resolver.policy.check(ip)?;
            vec![SocketAddr::new(ip, port)]
        }
        Err(_) => resolver.resolve(host, port).await?,
    };
    let mut last = None;
    for target in targets {
        match proxy.tunnel(target).await {
            Ok(stream) => return Ok(TokioIo::new(stream)),
            Err(e) => last = Some(e),
        }
    }
    Err(Box::new(last.expect("at least one address")))
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
    inner: Client<HttpsConnector<Egress>, Full<Bytes>>,
    policy: Arc<SsrfPolicy>,
    timeout: Duration,
    max_body: usize,
    /// Refuse plain-`http` URLs.
    https_only: bool,
}

impl HttpClient {
    /// The policy applied to every destination.
    pub fn policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// Refuses every URL that is not `https` when `on`.
    pub fn require_https(mut self, on: bool) -> Self {
        self.https_only = on;
        self
    }

    /// A client applying `policy` to every destination; with `proxy`, every connection is
    /// a `CONNECT` tunnel through it.
    pub fn new(
        policy: SsrfPolicy,
        timeout: Duration,
        max_body: usize,
        proxy: Option<ProxyConfig>,
    ) -> anyhow::Result<Self> {
        Self::with_lookup(policy, timeout, max_body, proxy, Lookup::System)
    }

    pub(crate) fn with_lookup(
        policy: SsrfPolicy,
        timeout: Duration,
        max_body: usize,
        proxy: Option<ProxyConfig>,
        lookup: Lookup,
    ) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let resolver = SsrfResolver {
            policy: policy.clone(),
            lookup,
        };
        let egress = match proxy {
            None => {
                let mut http = HttpConnector::new_with_resolver(resolver.clone());
                http.enforce_http(false);
                http.set_nodelay(true);
                http.set_connect_timeout(Some(timeout));
                Egress::Direct(http)
            }
            Some(proxy) => Egress::Proxy {
                proxy: Arc::new(proxy),
                resolver,
            },
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(egress);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The test resolver's view of the world.
    fn dns(host: &str) -> Vec<IpAddr> {
        let ips: &[&str] = match host {
            "public.test" => &["93.184.216.34"],
            "public6.test" => &["2606:4700:4700::1111"],
            "dual-public.test" => &["93.184.216.34", "2606:4700:4700::1111"],
            "localhost" => &["127.0.0.1", "::1"],
            "internal.test" => &["10.1.2.3"],
            "metadata.test" => &["169.254.169.254"],
            "mixed.test" => &["93.184.216.34", "10.0.0.1"],
            "mixed-order.test" => &["192.168.0.10", "8.8.8.8"],
            "mixed6.test" => &["2606:4700:4700::1111", "fd00::1"],
            "mapped.test" => &["::ffff:127.0.0.1"],
            _ => &[],
        };
        ips.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    fn parts(allowed: &[&str], lookup: Lookup) -> (HttpClient, SsrfResolver) {
        let policy = SsrfPolicy::new(allowed.iter().map(|n| n.parse().unwrap()).collect());
        let resolver = SsrfResolver {
            policy: Arc::new(policy.clone()),
            lookup: lookup.clone(),
        };
        let client =
            HttpClient::with_lookup(policy, Duration::from_secs(2), 1024, None, lookup).unwrap();
        (client, resolver)
    }

    /// What the client decides for `url` before any byte is sent: the addresses it may
    /// connect to, or why not.
    async fn vet(client: &HttpClient, resolver: &SsrfResolver, url: &str) -> Result<(), String> {
        let uri = client.checked_uri(url).map_err(|e| e.to_string())?;
        let host = uri.host().unwrap();
        if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return Ok(()); // an IP literal, checked by checked_uri
        }
        resolver
            .resolve(host, 80)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn url_forms_are_blocked_or_allowed() {
        let cases: &[(&str, bool)] = &[
            // (URL, allowed by the default policy)
            ("http://93.184.216.34/", true),
            ("https://8.8.8.8:8443/hook", true),
            ("http://[2606:4700:4700::1111]/", true),
            ("http://public.test/x", true),
            ("http://public6.test/x", true),
            ("http://dual-public.test/x", true),
            ("http://[::ffff:8.8.8.8]/", true),
            ("http://[64:ff9b::808:808]/", true),
            ("http://[2002:808:808::1]/", true),
            // Loopback, written every way the URL parser accepts.
            ("http://127.0.0.1/", false),
            ("http://127.1/", false),
            ("http://127.0.1/", false),
            ("http://2130706433/", false),
            ("http://0177.0.0.1/", false),
            ("http://0177.1/", false),
            ("http://0x7f.1/", false),
            ("http://0x7f000001/", false),
            ("http://0x7F.0x00.0x00.0x01/", false),
            ("http://127.0.0.1./", false),
            ("http://%31%32%37.0.0.1/", false),
            ("http://[::1]/", false),
            ("http://[0:0:0:0:0:0:0:1]/", false),
            ("http://localhost/", false),
            ("http://LOCALHOST:8080/", false),
            // Unspecified, private, shared, link-local, metadata.
            ("http://0/", false),
            ("http://0.0.0.0/", false),
            ("http://[::]/", false),
            ("http://10.0.0.1/", false),
            ("http://012.0.0.1/", false),
            ("http://172.16.0.1/", false),
            ("http://192.168.1.1/", false),
            ("http://3232235777/", false),
            ("http://100.64.0.1/", false),
            ("http://169.254.169.254/latest/meta-data/", false),
            ("http://0xa9fea9fe/", false),
            ("http://metadata.test/", false),
            ("http://internal.test/", false),
            // Broadcast, multicast, reserved, documentation.
            ("http://255.255.255.255/", false),
            ("http://224.0.0.1/", false),
            ("http://240.0.0.1/", false),
            ("http://192.0.2.1/", false),
            ("http://198.51.100.1/", false),
            ("http://203.0.113.1/", false),
            ("http://[2001:db8::1]/", false),
            // IPv6 scopes: link-local, unique-local, multicast.
            ("http://[fe80::1]/", false),
            ("http://[fe80::1%25eth0]/", false),
            ("http://[fd00::1]/", false),
            ("http://[fc00::1]/", false),
            ("http://[ff02::1]/", false),
            // IPv4 embedded in IPv6: mapped, compatible, NAT64, 6to4, Teredo.
            ("http://[::ffff:127.0.0.1]/", false),
            ("http://[::ffff:7f00:1]/", false),
            ("http://[::ffff:a9fe:a9fe]/", false),
            ("http://[::127.0.0.1]/", false),
            ("http://[::10.0.0.1]/", false),
            ("http://[64:ff9b::127.0.0.1]/", false),
            ("http://[64:ff9b::a00:1]/", false),
            ("http://[2002:7f00:1::1]/", false),
            ("http://[2002:c0a8:101::]/", false),
            ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", false),
            ("http://mapped.test/", false),
            // Names resolving to public and private addresses at once, in either order.
            ("http://mixed.test/", false),
            ("http://mixed-order.test/", false),
            ("http://mixed6.test/", false),
            // Not resolvable, not http.
            ("http://nxdomain.test/", false),
            ("ftp://93.184.216.34/", false),
            ("file:///etc/passwd", false),
        ];
        assert!(cases.len() >= 30);
        let (client, resolver) = parts(&[], Lookup::Fixed(Arc::new(dns)));
        for (url, want) in cases {
            let got = vet(&client, &resolver, url).await;
            assert_eq!(got.is_ok(), *want, "{url}: {got:?}");
        }
    }

    #[tokio::test]
    async fn the_allow_list_still_exempts_loopback() {
        let (client, resolver) = parts(&["127.0.0.0/8", "::1/128"], Lookup::Fixed(Arc::new(dns)));
        for url in [
            "http://127.0.0.1:9/",
            "http://0x7f.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/",
            "http://mapped.test/",
        ] {
            assert!(vet(&client, &resolver, url).await.is_ok(), "{url}");
        }
        // Only the listed networks: the rest stays blocked, and so does a mix.
        for url in [
            "http://10.0.0.1/",
            "http://mixed.test/",
            "http://[fd00::1]/",
        ] {
            assert!(vet(&client, &resolver, url).await.is_err(), "{url}");
        }
        // 127.0.0.0/8 alone does not cover ::1, so `localhost` (both) is refused.
        let (client, resolver) = parts(&["127.0.0.0/8"], Lookup::Fixed(Arc::new(dns)));
        assert!(vet(&client, &resolver, "http://localhost/").await.is_err());
    }

    /// A one-connection HTTP server answering 200; returns its port and the request heads.
    async fn tiny_server() -> (u16, tokio::sync::mpsc::Receiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = sock.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    let _ = tx.send(String::from_utf8_lossy(&got).into_owned()).await;
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn connects_only_to_the_address_that_was_checked() {
        // DNS rebinding: the first answer is allowed, every later one is private. The
        // connection must use the first (checked) answer and never ask again.
        let lookups = Arc::new(AtomicUsize::new(0));
        let counter = lookups.clone();
        let rebinding = move |_: &str| -> Vec<IpAddr> {
            match counter.fetch_add(1, Ordering::SeqCst) {
                0 => vec!["127.0.0.1".parse().unwrap()],
                _ => vec!["10.0.0.1".parse().unwrap()],
            }
        };
        let (client, _) = parts(&["127.0.0.0/8"], Lookup::Fixed(Arc::new(rebinding)));
        let (port, mut heads) = tiny_server().await;
        let url = format!("http://rebind.test:{port}/hook");
        let resp = client.post(&url, HeaderMap::new(), Bytes::new()).await;
        assert_eq!(resp.unwrap().status, StatusCode::OK);
        let head = heads.recv().await.unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("host: rebind.test:{port}")),
            "{head}"
        );
        assert_eq!(
            lookups.load(Ordering::SeqCst),
            1,
            "resolved once per connection"
        );

        // A name with one private address among public ones is refused before connecting.
        let mixed = |_: &str| -> Vec<IpAddr> {
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap()]
        };
        let (client, _) = parts(&["127.0.0.0/8"], Lookup::Fixed(Arc::new(mixed)));
        let err = client
            .post(
                &format!("http://mixed.test:{port}/"),
                HeaderMap::new(),
                Bytes::new(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, SendError::Blocked(ref b) if b.addr.to_string() == "10.0.0.1"),
            "{err}"
        );
        assert!(heads.try_recv().is_err(), "nothing was sent");
    }
}
