//! The OTLP exporter: sends finished spans to an OpenTelemetry collector over OTLP/HTTP
//! with the JSON encoding (`POST {otlp_endpoint}/v1/traces`,
//! `content-type: application/json`; the body is built by `hookd_core::trace::otlp`).
//!
//! One task per node takes batches of up to [`BATCH_SIZE`] spans from the tracer's
//! bounded queue, when a batch is full or every [`FLUSH_INTERVAL`], whichever comes first,
//! and POSTs each. A failed export (no answer, `429`, `5xx`) is tried [`TRIES`] times in
//! all with a short backoff; then its spans are dropped and counted, with a `warn` line at
//! most once a second (the status or the error's kind; never a span, a payload or the
//! collector URL's credentials). Meanwhile new spans keep queueing and, when the queue is
//! full, are dropped there: a slow or absent collector never holds up a request or a
//! delivery. At shutdown, after the delivery engine has stopped, what is left is flushed
//! within [`FLUSH_DEADLINE`], one try per batch.
//!
//! The HTTP client is the deliveries' own (`client::HttpClient`: pooled keep-alive
//! connections, rustls with the web roots, a per-request timeout, bounded response
//! reads) with an SSRF policy that allows every address: the collector's address is the
//! operator's configuration, like the database URL, not a URL a user of the API chose, and
//! collectors usually listen on loopback or a private network. It never goes through
//! `proxy_url`, which is the deliveries' egress.
//!
//! The endpoint is the collector's base URL (`http://localhost:4318`), to which
//! `/v1/traces` is added, as `OTEL_EXPORTER_OTLP_ENDPOINT` works; a URL that already ends
//! in `/v1/traces` is used as it is.

use crate::client::HttpClient;
use crate::ssrf::SsrfPolicy;
use bytes::Bytes;
use hookd_core::trace::otlp::{export_request, Resource};
use hookd_core::trace::{SpanData, Tracer, BATCH_SIZE};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE, USER_AGENT};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest a finished span waits in the queue while no full batch forms.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Tries of one export, the first included.
pub const TRIES: u32 = 3;
/// Time one export request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time the final flush at shutdown may take in all.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);
/// Bytes read of a collector's answer (it is not used beyond its status).
const MAX_ANSWER: usize = 4096;

/// One `warn` a second at most for failed exports.
static FAILED: hookd_store::RateLimitedLog = hookd_store::RateLimitedLog::new();

/// Where spans go and how they are sent.
struct Exporter {
    client: HttpClient,
    url: String,
    resource: Resource,
    tracer: Tracer,
}

/// The `/v1/traces` URL of a collector's base URL.
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim().trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Starts the exporter of `tracer`'s spans to the collector at `endpoint`. It runs until
/// `stop` is cancelled, then flushes what is queued and ends.
pub fn spawn(
    tracer: Tracer,
    endpoint: &str,
    resource: Resource,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let everywhere = vec![
        "0.0.0.0/0".parse().expect("a valid CIDR literal"),
        "::/0".parse().expect("a valid CIDR literal"),
    ];
    let client = HttpClient::new(
        SsrfPolicy::new(everywhere),
        REQUEST_TIMEOUT,
        MAX_ANSWER,
        None,
    )?;
    let exporter = Exporter {
        client,
        url: traces_url(endpoint),
        resource,
        tracer,
    };
    Ok(tokio::spawn(exporter.run(stop)))
}

impl Exporter {
    async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.tracer.batch_ready(BATCH_SIZE) => {}
                _ = tick.tick() => {}
            }
            loop {
                let batch = self.tracer.take(BATCH_SIZE);
                if batch.is_empty() {
                    break;
                }
                let full = batch.len() == BATCH_SIZE;
                self.export(&batch, TRIES, &stop).await;
                if !full {
                    break;
                }
            }
        }
        let flushing = async {
            loop {
                let batch = self.tracer.take(BATCH_SIZE);
                if batch.is_empty() {
                    break;
                }
                self.export(&batch, 1, &stop).await;
            }
        };
        if tokio::time::timeout(FLUSH_DEADLINE, flushing)
            .await
            .is_err()
        {
            let left = self.tracer.take(usize::MAX).len();
            self.tracer.count_export_dropped(left);
            tracing::warn!(
                spans = left,
                "the final flush of traces ran out of time; the rest were dropped"
            );
        }
    }

    /// Sends one batch, up to `tries` times; counts it exported or dropped.
    async fn export(&self, batch: &[SpanData], tries: u32, stop: &CancellationToken) {
        let body = Bytes::from(export_request(&self.resource, batch));
        let mut why = String::new();
        for attempt in 0..tries {
            if attempt > 0 && !stop.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.client.post(&self.url, headers(), body.clone()).await {
                Ok(answer) if answer.status.is_success() => {
                    self.tracer.count_exported(batch.len());
                    return;
                }
                Ok(answer) => {
                    let code = answer.status.as_u16();
                    why = format!("the collector answered {code}");
                    // OTLP/HTTP: only these are worth another try.
                    if !matches!(code, 429 | 502 | 503 | 504) {
                        break;
                    }
                }
                Err(e) => why = e.to_string(),
            }
        }
        self.tracer.count_export_dropped(batch.len());
        if let Some(suppressed) = FAILED.admit() {
            tracing::warn!(
                spans = batch.len(),
                error = %why,
                suppressed,
                "exporting traces failed; these spans are dropped"
            );
        }
    }
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::with_capacity(2);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("hookd/", env!("CARGO_PKG_VERSION"))),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(
            traces_url("http://localhost:4318"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://localhost:4318/"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/prefix/v1/traces"),
            "https://otel.example/prefix/v1/traces"
        );
    }
}
