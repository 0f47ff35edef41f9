//! One delivery: load the endpoint, sign, send, classify, record the outcome.
//!
//! Runs inside a `delivery` span carrying `app.id`, `endpoint.id` and `msg.id`. Never logs
//! payloads, secrets, response bodies or URL paths (a path can hold a token): a failed
//! attempt logs one `warn` line with the URL's host, the status or the error's kind and
//! reason, and the next retry (or that none follows). If the outcome cannot be recorded,
//! the destination is left to its lease: it comes due again and is retried
//! (at-least-once).

use crate::cache::EndpointCache;
use crate::client::{HttpClient, SendError};
use crate::decision::{decide, parse_retry_after, AttemptResult, Next};
use crate::headers::SignedHeaders;
use crate::health::Health;
use crate::metrics::{DeliveryMetrics, Disabled, Outcome};
use crate::operational::{LastAttempt, OpEvent, OpEventKind, Operational};
use crate::recorder::Recorder;
use crate::signal::PollerSignal;
use base64::Engine as _;
use bytes::Bytes;
use hookd_core::ids::AttemptId;
use hookd_core::model::{
    Attempt, DeliveryStatus, DisabledReason, Endpoint, IngestForward, MessageDestination,
    TriggerType,
};
use hookd_core::retry::RetrySchedule;
use hookd_core::trace::{SpanKind, Tracer};
use hookd_core::Timestamp;
use hookd_store::{ClaimedDelivery, DeliveryOutcome, Forward, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What an attempt needs, and nothing else of the engine: built once by `engine`, held by
/// the dispatcher.
pub(crate) struct Context {
    pub store: Arc<dyn Store>,
    /// Endpoints, read at most once a second per endpoint.
    pub cache: Arc<EndpointCache>,
    pub client: HttpClient,
    pub signing: Signing,
    pub retry: RetrySchedule,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub max_retry_after: Duration,
    /// Writes outcomes in batches.
    pub recorder: Recorder,
    /// Failure streaks (auto-disable).
    pub health: Arc<Health>,
    /// Operational webhooks, and which app carries them.
    pub ops: Arc<Operational>,
    /// Told when a retry comes due.
    pub poller: Arc<PollerSignal>,
    /// Counts outcomes, durations and latencies.
    pub metrics: Arc<DeliveryMetrics>,
    /// Records one span per attempt (a no-op when tracing is off).
    pub tracer: Tracer,
}

/// The request headers' settings.
pub(crate) struct Signing {
    /// Also send `svix-id`, `svix-timestamp`, `svix-signature`.
    pub svix_headers: bool,
    /// `user-agent` of outbound requests.
    pub user_agent: String,
}

/// Lets the stored payload be a request body without copying it.
struct PayloadBytes(Arc<str>);

impl AsRef<[u8]> for PayloadBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The forwarding metadata of an event received through an ingest source.
struct Forwarded<'a> {
    meta: &'a IngestForward,
}

impl Forwarded<'_> {
    fn content_type(&self) -> &str {
        self.meta
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream")
    }

    /// The provider's kept headers (those a delivery may carry), hookd's source and event
    /// id headers, then the endpoint's own custom headers, which win.
    fn headers<'a>(
        &self,
        custom: &'a BTreeMap<String, String>,
    ) -> std::borrow::Cow<'a, BTreeMap<String, String>> {
        let mut all: BTreeMap<String, String> = self
            .meta
            .headers
            .iter()
            // hookd is the one sending: its own user-agent, not the provider's.
            .filter(|(name, _)| {
                name != "user-agent" && !hookd_core::validate::is_forbidden_header(name)
            })
            .cloned()
            .collect();
        if !self.meta.source_id.is_empty() {
            all.insert("x-hookd-source-id".into(), self.meta.source_id.clone());
        }
        if let Some(id) = &self.meta.provider_event_id {
            all.insert("x-hookd-provider-event-id".into(), id.clone());
        }
        all.extend(custom.iter().map(|(k, v)| (k.clone(), v.clone())));
        std::borrow::Cow::Owned(all)
    }
}

/// What is left to do after a delivery's request: write its outcome. The caller runs it
/// apart from the request, so an endpoint's request slot is free again before the commit.
pub(crate) struct Recording {
    outcome: DeliveryOutcome,
    /// When the destination comes due again (a retry), for the poller.
    next_attempt_at: Option<Timestamp>,
    /// Whether the attempt succeeded, for the endpoint's failure streak (`None`: no
    /// attempt, or a delivery of operational webhooks).
    succeeded: Option<bool>,
    /// The operational webhook this attempt calls for, sent once the outcome is recorded.
    event: Option<OpEvent>,
}

/// `message.attempt.failing` is sent after this many failed scheduled attempts of a
/// message, when retries remain (as Svix: the fourth).
pub(crate) const FAILING_AFTER: u32 = 4;

impl Recording {
    /// Writes the outcome (batched and retried by the recorder) and tells the poller about
    /// a scheduled retry.
    pub async fn finish(self, cx: &Context) {
        if cx.recorder.record(self.outcome.clone()).await {
            if let Some(at) = self.next_attempt_at {
                cx.poller.due_at(at);
            }
            if let (Some(ok), Some(attempt)) = (self.succeeded, &self.outcome.attempt) {
                let o = &self.outcome;
                cx.health
                    .report(&o.app_id, &o.endpoint_id, ok, attempt.created_at);
            }
            if let Some(event) = self.event {
                cx.ops.emit(event);
            }
        }
    }
}

/// Delivers one claimed destination; returns the outcome to record, or `None` when there
/// is nothing to record (the endpoint could not be loaded: the lease will bring the
/// destination back).
pub(crate) async fn deliver(cx: &Context, work: ClaimedDelivery) -> Option<Recording> {
    let not_sent = |recording: Recording| {
        cx.metrics.attempted(Outcome::NotSent, None);
        Some(recording)
    };
    let dest = &work.dest;
    let endpoint = match cx
        .cache
        .get(&*cx.store, &dest.app_id, &dest.endpoint_id)
        .await
    {
        Ok(Some(ep)) => ep,
        Ok(None) => return not_sent(settle_without_request(dest, "endpoint deleted")),
        Err(e) => {
            tracing::warn!(error = %e, "loading the endpoint failed; the delivery will be retried after its lease");
            return None;
        }
    };
    if endpoint.disabled {
        return not_sent(settle_without_request(dest, "endpoint disabled"));
    }
    let Some(payload) = work.payload else {
        return not_sent(settle_without_request(dest, "payload expunged"));
    };

    let sent_at = Timestamp::now();
    let forward = match &work.forward {
        None => None,
        Some(Forward::Meta(meta)) => Some(Forwarded { meta }),
        // Sending it without the provider's headers and content type would be a different
        // request: the delivery fails, with the reason in its attempt and the log.
        Some(Forward::Unreadable(why)) => return not_sent(fail_unsent(dest, &endpoint, why)),
    };
    let body = match forward.as_ref().filter(|f| f.meta.base64) {
        Some(_) => match base64::engine::general_purpose::STANDARD.decode(payload.as_bytes()) {
            Ok(raw) => Bytes::from(raw),
            Err(_) => return not_sent(settle_without_request(dest, "stored body unreadable")),
        },
        None => Bytes::from_owner(PayloadBytes(payload)),
    };
    // The attempt's span is a child of the context kept with the message; the receiver
    // is told the attempt's span as its parent (or, tracing off, the kept context as is).
    let mut span = cx
        .tracer
        .start("delivery attempt", SpanKind::Client, work.trace.as_ref());
    let traceparent = span
        .as_ref()
        .map(|s| s.context())
        .or(work.trace)
        .map(|t| t.traceparent_bytes());
    let secrets: Vec<_> = endpoint.signing_secrets(sent_at).collect();
    let custom = match &forward {
        Some(f) => f.headers(&endpoint.headers),
        None => std::borrow::Cow::Borrowed(&endpoint.headers),
    };
    let headers = SignedHeaders {
        msg_id: dest.msg_id.as_str(),
        timestamp_secs: sent_at.as_secs(),
        body: &body,
        secrets: &secrets,
        svix_headers: cx.signing.svix_headers,
        user_agent: &cx.signing.user_agent,
        content_type: forward
            .as_ref()
            .map_or("application/json", |f| f.content_type()),
        traceparent: traceparent.as_ref().map(|t| &t[..]),
    }
    .build(&custom);

    let started = Instant::now();
    let sent = cx.client.post(&endpoint.url, headers, body).await;
    let took = started.elapsed();
    let duration_ms = took.as_millis() as u64;
    cx.metrics.attempted(outcome_of(&sent), Some(took));

    let mut error_kind = None;
    let (result, code, response) = match sent {
        Ok(resp) => {
            let retry_after = resp
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let code = resp.status.as_u16();
            let result = AttemptResult {
                status: Some(code),
                retry_after,
            };
            (result, code, resp.body)
        }
        Err(e) => {
            let result = AttemptResult {
                status: None,
                retry_after: None,
            };
            error_kind = Some(kind_of(&e));
            (result, 0, e.to_string())
        }
    };

    let next = decide(
        &result,
        dest.trigger,
        dest.attempt_count,
        &cx.retry,
        cx.max_retry_after,
        Timestamp::now(),
    );
    let status = if result.succeeded() {
        DeliveryStatus::Success
    } else {
        DeliveryStatus::Fail
    };
    if result.succeeded() {
        tracing::debug!(status_code = code, duration_ms, "delivered");
        let accepted = hookd_core::ids::id_millis(dest.msg_id.as_str()).unwrap_or(0);
        let since = u64::try_from(Timestamp::now().as_millis()).unwrap_or(0);
        cx.metrics
            .delivered(Duration::from_millis(since.saturating_sub(accepted)));
    } else {
        if next.status == DeliveryStatus::Fail && dest.trigger != TriggerType::Manual {
            cx.metrics.exhausted();
        }
        let failure = match error_kind {
            Some(kind) => Failure::Error {
                kind,
                reason: &response,
            },
            None => Failure::Status(code),
        };
        log_failure(&endpoint.url, failure, dest, &next, duration_ms);
    }
    if let Some(span) = &mut span {
        describe_attempt(span, dest, &endpoint.url, &next, error_kind, code);
    }
    drop(span);
    let internal = cx.ops.is_internal(&dest.app_id);
    if result.gone() {
        disable_gone_endpoint(cx, dest, internal, sent_at).await;
    }

    let attempt = Attempt {
        id: AttemptId::generate_at(sent_at),
        msg_id: dest.msg_id.clone(),
        endpoint_id: dest.endpoint_id.clone(),
        app_id: dest.app_id.clone(),
        url: endpoint.url.clone(),
        status,
        response_status_code: code,
        response,
        response_duration_ms: duration_ms,
        trigger: dest.trigger,
        created_at: sent_at,
    };
    let event = if internal {
        None
    } else {
        attempt_event(
            cx.retry.max_attempts(),
            dest.trigger,
            dest.attempt_count,
            result.succeeded(),
            next.status,
            next.attempt_count,
        )
        .map(|kind| OpEvent {
            kind,
            app_id: dest.app_id.clone(),
            app_uid: None,
            endpoint_id: dest.endpoint_id.clone(),
            endpoint_uid: endpoint.uid.clone(),
            fail_since: None,
            last_attempt: Some(LastAttempt {
                msg_id: dest.msg_id.clone(),
                attempt_id: attempt.id.clone(),
                response_status_code: code,
                at: sent_at,
            }),
        })
    };
    let outcome = DeliveryOutcome {
        msg_id: dest.msg_id.clone(),
        endpoint_id: dest.endpoint_id.clone(),
        app_id: dest.app_id.clone(),
        attempt: Some(attempt),
        status: next.status,
        attempt_count: next.attempt_count,
        next_attempt_at: next.next_attempt_at,
    };
    Some(Recording {
        outcome,
        next_attempt_at: next.next_attempt_at,
        succeeded: (!internal).then(|| result.succeeded()),
        event,
    })
}

/// The attempt's span attributes and status: ids, the attempt number, the receiver's host
/// (never the URL's path or query), the status code or the error's kind.
fn describe_attempt(
    span: &mut hookd_core::trace::Span,
    dest: &MessageDestination,
    url: &str,
    next: &Next,
    error_kind: Option<&'static str>,
    code: u16,
) {
    span.set("hookd.app.id", dest.app_id.to_string());
    span.set("hookd.endpoint.id", dest.endpoint_id.to_string());
    span.set("hookd.msg.id", dest.msg_id.to_string());
    let attempt = if dest.trigger == TriggerType::Manual {
        dest.attempt_count
    } else {
        next.attempt_count
    };
    span.set("hookd.attempt", i64::from(attempt));
    span.set("http.request.method", "POST");
    if let Ok(u) = url::Url::parse(url) {
        if let Some(host) = u.host_str() {
            span.set("server.address", host.to_owned());
        }
        if let Some(port) = u.port_or_known_default() {
            span.set("server.port", i64::from(port));
        }
    }
    match error_kind {
        Some(kind) => {
            span.set("error.type", kind);
            span.set_error(kind);
        }
        None => {
            span.set("http.response.status_code", i64::from(code));
            if (200..300).contains(&code) {
                span.set_ok();
            } else {
                // OpenTelemetry's HTTP conventions: the status code is the error type.
                span.set("error.type", code.to_string());
                span.set_error(format!("HTTP {code}"));
            }
        }
    }
}

/// Why an attempt failed, as the log says it.
enum Failure<'a> {
    /// The receiver answered with this non-2xx status.
    Status(u16),
    /// No response: a short kind (`timeout`, `ssrf_refused`, ...) and the recorded reason,
    /// which names no URL path.
    Error { kind: &'static str, reason: &'a str },
}

/// What an attempt's request came to, for the metrics.
fn outcome_of(sent: &Result<crate::client::HttpResponse, SendError>) -> Outcome {
    match sent {
        Ok(resp) if resp.status.is_success() => Outcome::Success,
        Ok(_) => Outcome::HttpError,
        Err(SendError::Blocked(_)) => Outcome::SsrfRefused,
        Err(SendError::Timeout(_)) => Outcome::Timeout,
        Err(_) => Outcome::TransportError,
    }
}

/// A stable, short kind for a request that got no response.
fn kind_of(e: &SendError) -> &'static str {
    match e {
        SendError::Blocked(_) => "ssrf_refused",
        SendError::Timeout(_) => "timeout",
        SendError::InvalidUrl(_) => "invalid_url",
        SendError::NotHttps => "not_https",
        SendError::Transport(why) => transport_kind(why),
    }
}

/// Sorts a transport failure by the text `client::describe` gives it (its plain phrases
/// for socket errors, else the innermost cause).
fn transport_kind(why: &str) -> &'static str {
    let why = why.to_ascii_lowercase();
    if why.contains("connection refused") {
        "connection_refused"
    } else if why.contains("reset") || why.contains("aborted") || why.contains("closed") {
        "connection_closed"
    } else if why.contains("certificate") || why.contains("tls") || why.contains("handshake") {
        "tls"
    } else if why.contains("dns") || why.contains("lookup") || why.contains("no addresses") {
        "dns"
    } else {
        "transport"
    }
}

/// The host (and port, if any) of `url`: never its path, query or credentials.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => "-".to_owned(),
        },
        Err(_) => "-".to_owned(),
    }
}

/// One `warn` line per failed attempt (the span adds app, endpoint and message ids): the
/// attempt number, the host, the status or error, and when the next retry is due.
fn log_failure(
    url: &str,
    failure: Failure<'_>,
    dest: &MessageDestination,
    next: &Next,
    duration_ms: u64,
) {
    let host = host_of(url);
    let manual = dest.trigger == TriggerType::Manual;
    let attempt = if manual {
        dest.attempt_count
    } else {
        next.attempt_count
    };
    let next_retry = match next.next_attempt_at {
        Some(at) => {
            let in_ms = (at.as_millis() - Timestamp::now().as_millis()).max(0);
            format!("in {}.{:03}s at {at}", in_ms / 1000, in_ms % 1000)
        }
        None if manual => "none (manual resend)".to_owned(),
        None if matches!(failure, Failure::Status(410)) => {
            "none (410 Gone: endpoint disabled)".to_owned()
        }
        None => "none (retries exhausted)".to_owned(),
    };
    match failure {
        Failure::Status(status) => tracing::warn!(
            attempt,
            host,
            status,
            duration_ms,
            next_retry,
            "delivery attempt failed: the endpoint answered {status}"
        ),
        Failure::Error { kind, reason } => tracing::warn!(
            attempt,
            host,
            error.kind = kind,
            error = reason,
            duration_ms,
            next_retry,
            "delivery attempt failed: no response ({kind})"
        ),
    }
    if next.status == DeliveryStatus::Fail && !manual {
        let reason = if matches!(failure, Failure::Status(410)) {
            "410 Gone"
        } else {
            "retries exhausted"
        };
        tracing::warn!(
            attempts = next.attempt_count,
            reason,
            "giving up on this message for this endpoint: no retry follows"
        );
    }
}

/// Which `message.attempt.*` event an attempt calls for:
/// - `failing` when the [`FAILING_AFTER`]th scheduled attempt failed and retries remain;
/// - `exhausted` when a scheduled attempt failed and no retry follows (`410 Gone` too);
/// - `recovered` when an attempt succeeds after one of those was sent, that is, after at
///   least `FAILING_AFTER` failed scheduled attempts (or all of them, if the schedule has
///   fewer): a late retry, a resend or a recovery.
fn attempt_event(
    max_attempts: u32,
    trigger: TriggerType,
    attempts_before: u32,
    succeeded: bool,
    next_status: DeliveryStatus,
    next_count: u32,
) -> Option<OpEventKind> {
    let reported_after = FAILING_AFTER.min(max_attempts);
    if succeeded {
        return (attempts_before >= reported_after).then_some(OpEventKind::AttemptRecovered);
    }
    if trigger != TriggerType::Scheduled {
        return None;
    }
    match next_status {
        DeliveryStatus::Fail => Some(OpEventKind::AttemptExhausted),
        DeliveryStatus::Pending if next_count == FAILING_AFTER => Some(OpEventKind::AttemptFailing),
        _ => None,
    }
}

/// `410 Gone`: the receiver asks never to be called again. Sends `endpoint.disabled`
/// (with the start of the failure streak, or this attempt's time).
async fn disable_gone_endpoint(
    cx: &Context,
    dest: &MessageDestination,
    internal: bool,
    sent_at: Timestamp,
) {
    tracing::warn!(
        reason = "410 Gone",
        "the endpoint asked not to be called again; disabling it"
    );
    match cx
        .store
        .set_endpoint_disabled(&dest.app_id, &dest.endpoint_id, Some(DisabledReason::Gone))
        .await
    {
        Ok(()) => {
            cx.metrics.disabled(Disabled::Gone);
            if !internal {
                let since = cx
                    .store
                    .endpoint_failing_since(&dest.app_id, &dest.endpoint_id)
                    .await
                    .ok()
                    .flatten();
                let mut event = OpEvent::endpoint(
                    OpEventKind::EndpointDisabled,
                    dest.app_id.clone(),
                    None,
                    dest.endpoint_id.clone(),
                    None,
                );
                event.fail_since = Some(since.unwrap_or(sent_at));
                cx.ops.emit(event);
            }
        }
        Err(StoreError::NotFound) => {}
        Err(e) => tracing::warn!(error = %e, "disabling the endpoint failed"),
    }
    cx.cache.invalidate(&dest.app_id, &dest.endpoint_id);
}

/// Settles a destination as failed without a request (endpoint gone or disabled, payload
/// expunged).
/// A delivery that cannot be sent as it must be (its stored forwarding metadata does not
/// decode): failed for good, with an attempt that records why (no request was made).
fn fail_unsent(dest: &MessageDestination, endpoint: &Endpoint, why: &str) -> Recording {
    tracing::warn!(
        app = %dest.app_id,
        endpoint = %dest.endpoint_id,
        msg = %dest.msg_id,
        reason = why,
        "delivery failed without a request"
    );
    let now = Timestamp::now();
    let attempt = Attempt {
        id: AttemptId::generate_at(now),
        msg_id: dest.msg_id.clone(),
        endpoint_id: dest.endpoint_id.clone(),
        app_id: dest.app_id.clone(),
        url: endpoint.url.clone(),
        status: DeliveryStatus::Fail,
        response_status_code: 0,
        response: why.to_owned(),
        response_duration_ms: 0,
        trigger: dest.trigger,
        created_at: now,
    };
    Recording {
        outcome: DeliveryOutcome {
            msg_id: dest.msg_id.clone(),
            endpoint_id: dest.endpoint_id.clone(),
            app_id: dest.app_id.clone(),
            attempt: Some(attempt),
            status: DeliveryStatus::Fail,
            attempt_count: dest.attempt_count + 1,
            next_attempt_at: None,
        },
        next_attempt_at: None,
        succeeded: None,
        event: None,
    }
}

fn settle_without_request(dest: &MessageDestination, why: &'static str) -> Recording {
    tracing::info!(
        reason = why,
        "settling the delivery as failed without a request"
    );
    let outcome = DeliveryOutcome {
        msg_id: dest.msg_id.clone(),
        endpoint_id: dest.endpoint_id.clone(),
        app_id: dest.app_id.clone(),
        attempt: None,
        status: DeliveryStatus::Fail,
        attempt_count: dest.attempt_count,
        next_attempt_at: None,
    };
    Recording {
        outcome,
        next_attempt_at: None,
        succeeded: None,
        event: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus::{Fail, Pending, Success};
    use OpEventKind::*;
    use TriggerType::{Manual, Scheduled};

    #[test]
    fn failures_without_a_response_have_a_short_kind_and_urls_only_their_host() {
        let kind = |why: &str| transport_kind(why);
        assert_eq!(kind("connection refused"), "connection_refused");
        assert_eq!(kind("connection reset by peer"), "connection_closed");
        assert_eq!(kind("invalid peer certificate: UnknownIssuer"), "tls");
        assert_eq!(kind("no addresses found for example.invalid"), "dns");
        assert_eq!(kind("something else"), "transport");
        assert_eq!(
            kind_of(&SendError::Timeout(std::time::Duration::from_secs(1))),
            "timeout"
        );
        assert_eq!(
            host_of("https://user:pw@hooks.example.com:8443/a/tok?x=secret"),
            "hooks.example.com:8443"
        );
        assert_eq!(host_of("http://[::1]/p"), "[::1]");
        assert_eq!(host_of("not a url"), "-");
    }

    #[test]
    fn failing_fires_once_on_the_fourth_failure_with_retries_left() {
        let ev = |before, status, next| attempt_event(8, Scheduled, before, false, status, next);
        assert_eq!(ev(0, Pending, 1), None);
        assert_eq!(ev(2, Pending, 3), None);
        assert_eq!(ev(3, Pending, 4), Some(AttemptFailing));
        assert_eq!(ev(4, Pending, 5), None);
        assert_eq!(ev(7, Fail, 8), Some(AttemptExhausted));
        // 410 Gone ends the retries early: exhausted too.
        assert_eq!(ev(1, Fail, 2), Some(AttemptExhausted));
    }

    #[test]
    fn manual_failures_send_nothing_and_successes_recover_only_after_a_report() {
        assert_eq!(attempt_event(8, Manual, 8, false, Fail, 8), None);
        assert_eq!(attempt_event(8, Scheduled, 3, true, Success, 4), None);
        assert_eq!(
            attempt_event(8, Scheduled, 4, true, Success, 5),
            Some(AttemptRecovered)
        );
        assert_eq!(
            attempt_event(8, Manual, 8, true, Success, 8),
            Some(AttemptRecovered)
        );
        // A schedule of three attempts never sends failing; exhausted, then recovered.
        assert_eq!(
            attempt_event(3, Scheduled, 2, false, Fail, 3),
            Some(AttemptExhausted)
        );
        assert_eq!(
            attempt_event(3, Manual, 3, true, Success, 3),
            Some(AttemptRecovered)
        );
        assert_eq!(attempt_event(3, Manual, 2, true, Success, 2), None);
    }
}
