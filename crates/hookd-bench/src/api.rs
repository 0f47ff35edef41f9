//! The few Svix API v1 calls the bench makes: create an application and its endpoints,
//! read their secrets, and send messages. Works against hookd and Svix's own server.

use anyhow::{bail, Context};
use bytes::Bytes;
use hookd_core::signing::EndpointSecret;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use std::time::Duration;

/// Longest an API call may take before it counts as failed without an answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The client of the hot path (sending messages): hyper directly, which costs about half
/// the CPU of reqwest per request; the bench shares the machine with the server it
/// measures, so every cycle it saves is the server's.
type FastClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

/// A client for one or more servers sharing one database.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    fast: FastClient,
    /// `Bearer <token>`, marked sensitive.
    auth: HeaderValue,
    /// `http://host:port` of each server, without a trailing slash.
    bases: Vec<String>,
}

/// How one send ended.
#[derive(Debug)]
pub enum SendOutcome {
    /// 202 (or another 2xx) with the message id.
    Accepted(String),
    /// No answer, a 5xx or a 429: the message may or may not exist; try again.
    Retry(String),
    /// Any other answer: the workload or the credentials are wrong.
    Refused(String),
}

#[derive(Deserialize)]
struct IdOut {
    id: String,
}

#[derive(Deserialize)]
struct SecretOut {
    key: String,
}

/// An endpoint's deliveries per status (the part the bench reads).
#[derive(Deserialize)]
pub struct StatsOut {
    pub fail: u64,
}

#[derive(Deserialize)]
struct TaskOut {
    status: String,
    data: TaskData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskData {
    #[serde(default)]
    messages_sent: u64,
}

impl Api {
    /// A client with keep-alive connections (up to `pool` idle per server) and the bearer `token`.
    pub fn new(bases: Vec<String>, token: &str, pool: usize) -> anyhow::Result<Self> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token is not a valid header value")?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let fast =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(pool)
                .build(connector);
        let bases = bases
            .into_iter()
            .map(|b| b.trim_end_matches('/').to_owned())
            .collect();
        Ok(Self {
            http,
            fast,
            auth,
            bases,
        })
    }

    /// `http://host:port` of each server.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// `POST /api/v1/app`; returns the application id.
    pub async fn create_app(&self, name: &str) -> anyhow::Result<String> {
        let body = serde_json::json!({ "name": name }).to_string();
        let out: IdOut = self.post_json("/api/v1/app", body).await?;
        Ok(out.id)
    }

    /// `POST /api/v1/app/{app}/endpoint` subscribed to `channel`; returns the endpoint id.
    pub async fn create_endpoint(
        &self,
        app: &str,
        url: &str,
        channel: &str,
    ) -> anyhow::Result<String> {
        let body = serde_json::json!({
            "url": url,
            "description": "hookd-bench",
            "channels": [channel],
        })
        .to_string();
        let out: IdOut = self
            .post_json(&format!("/api/v1/app/{app}/endpoint"), body)
            .await?;
        Ok(out.id)
    }

    /// `GET /api/v1/app/{app}/endpoint/{endpoint}/secret`.
    pub async fn endpoint_secret(
        &self,
        app: &str,
        endpoint: &str,
    ) -> anyhow::Result<EndpointSecret> {
        let path = format!("/api/v1/app/{app}/endpoint/{endpoint}/secret");
        let res = self
            .http
            .get(format!("{}{path}", self.bases[0]))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let out: SecretOut = read_json(res, &path).await?;
        EndpointSecret::parse(&out.key).with_context(|| format!("the secret from {path}"))
    }

    /// `POST /api/v1/app/{app}/msg` with a ready body, on server `node % nodes`.
    pub async fn send_message(&self, node: usize, app: &str, body: Bytes) -> SendOutcome {
        let base = &self.bases[node % self.bases.len()];
        let req = hyper::Request::post(format!("{base}/api/v1/app/{app}/msg"))
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(http_body_util::Full::new(body));
        let req = match req {
            Ok(req) => req,
            Err(err) => return SendOutcome::Refused(format!("bad request: {err}")),
        };
        let (status, _, bytes) = match self.exchange(req).await {
            Ok(answer) => answer,
            // No answer, or the status came without the body: the message may or may not
            // be committed; retrying is safe because the run tolerates duplicates.
            Err(err) => return SendOutcome::Retry(err),
        };
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return SendOutcome::Retry(format!("status {status}"));
        }
        if !status.is_success() {
            return SendOutcome::Refused(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        match serde_json::from_slice::<IdOut>(&bytes) {
            Ok(out) => SendOutcome::Accepted(out.id),
            Err(err) => SendOutcome::Refused(format!("unreadable 2xx body: {err}")),
        }
    }

    /// `GET /api/v1/app/{app}/endpoint/{endpoint}/stats`.
    pub async fn endpoint_stats(&self, app: &str, endpoint: &str) -> anyhow::Result<StatsOut> {
        self.get_json(&format!("/api/v1/app/{app}/endpoint/{endpoint}/stats"))
            .await
    }

    /// `POST /api/v1/app/{app}/endpoint/{endpoint}/recover`; returns the task id.
    pub async fn recover(&self, app: &str, endpoint: &str, since: &str) -> anyhow::Result<String> {
        let body = serde_json::json!({ "since": since }).to_string();
        let out: IdOut = self
            .post_json(
                &format!("/api/v1/app/{app}/endpoint/{endpoint}/recover"),
                body,
            )
            .await?;
        Ok(out.id)
    }

    /// `GET /api/v1/background-task/{task}`: its status and messages re-sent so far.
    pub async fn task(&self, task: &str) -> anyhow::Result<(String, u64)> {
        let out: TaskOut = self
            .get_json(&format!("/api/v1/background-task/{task}"))
            .await?;
        Ok((out.status, out.data.messages_sent))
    }

    /// Sends a ready request (any URL, any headers) on the fast client and reads the whole
    /// answer; `Err` when none came within the request timeout.
    pub async fn exchange(
        &self,
        req: hyper::Request<http_body_util::Full<Bytes>>,
    ) -> Result<(hyper::StatusCode, hyper::HeaderMap, Bytes), String> {
        let exchange = async {
            let res = self.fast.request(req).await.map_err(|e| e.to_string())?;
            let (parts, body) = res.into_parts();
            let bytes = http_body_util::BodyExt::collect(body)
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((parts.status, parts.headers, bytes))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err("timed out".into()),
        }
    }

    /// `GET {path}` on the first server, as JSON.
    pub async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> anyhow::Result<T> {
        let res = self
            .http
            .get(format!("{}{path}", self.bases[0]))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        read_json(res, path).await
    }

    /// `POST {path}` with a JSON `body` on the first server; the answer as JSON.
    pub async fn post_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: String,
    ) -> anyhow::Result<T> {
        let res = self
            .http
            .post(format!("{}{path}", self.bases[0]))
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        read_json(res, path).await
    }
}

async fn read_json<T: for<'de> Deserialize<'de>>(
    res: reqwest::Response,
    path: &str,
) -> anyhow::Result<T> {
    let status = res.status();
    let bytes = res
        .bytes()
        .await
        .with_context(|| format!("reading the answer to {path}"))?;
    if !status.is_success() {
        bail!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("parsing the answer to {path}"))
}
