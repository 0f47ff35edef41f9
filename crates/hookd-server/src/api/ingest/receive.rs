//! The receiving route, `POST|PUT /ingest/{token}`: where providers send their webhooks.
//!
//! No bearer token: the unguessable `{token}` names the source (its current token, or
//! the previous one during the grace after a rotation). Per request:
//! 1. the source is looked up ([`Receiver`] caches it for a second, misses included, in a
//!    `TtlCache`; a token no source can have, see [`MAX_TOKEN_LEN`], is not found without
//!    a lookup);
//! 2. the body is read up to `max_body_bytes` (more: 413 `body_too_large`);
//! 3. `hookd_ingest::receive` says what the request is: a probe or a verified handshake
//!    (Slack's `ssl_check`; Slack, Twitch, Zoom challenges), answered and not stored; a
//!    refusal (401 with the rejection's code), recorded in the rejection log (bounded, see
//!    [`REJECTIONS_PER_SECOND`]), logged with its source id and code (at most one line a
//!    second, with the count left out) and never forwarded; or an event;
//! 4. an event's body and the headers to keep are taken as received;
//! 5. anything else is written, with its de-duplication key (the provider's event id,
//!    remembered for `ingest_dedup_window`), as a message of the source's internal
//!    application, fanned out to the source's endpoints, and only then acknowledged:
//!    `204` with `x-hookd-msg-id`, plus `x-hookd-duplicate: true` for a provider retry
//!    of an event already received (not forwarded again).
//!
//! The message's payload is the body byte-exact (as text, or base64 when it is not
//! UTF-8 text); [`IngestForward`] keeps the provider's content type and kept headers so
//! the delivery engine forwards the same bytes, re-signed with each endpoint's secret.

use super::source::app_uid;
use super::source_type::provider_config;
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::HttpErrorOut;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::ApiPath;
use crate::api::http::paths::ReceivePath;
use crate::api::http::trace::{IngestNote, RequestTrace};
use crate::api::shared::fan_out::fan_out;
use crate::api::shared::message::payload_expiry;
use crate::api::ApiState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hookd_core::ids::{MsgId, RejectionId, SourceId};
use hookd_core::model::{Endpoint, IngestForward, IngestRejection, Message};
use hookd_core::Timestamp;
use hookd_delivery::IngestEvent;
use hookd_ingest::{IncomingRequest, ProviderConfig, Received};
use hookd_store::{IngestDedup, IngestWrite, StoreError, TtlCache};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a looked-up source (or the absence of one) is reused.
const SOURCE_TTL: Duration = Duration::from_secs(1);
/// Sources cached at most.
const SOURCE_CACHE_CAPACITY: usize = 10_000;
/// Refused requests recorded per second and node at most (a burst of twice that is
/// allowed); beyond it they are still refused, only not recorded.
pub const REJECTIONS_PER_SECOND: f64 = 100.0;
/// Headers recorded with a rejection at most, and bytes kept of each value.
const MAX_RECORDED_HEADERS: usize = 64;
const MAX_RECORDED_VALUE: usize = 1024;
/// Longest receive token looked up (hookd makes 43-character ones); a longer one, or one
/// with other than visible ASCII, names no source and is neither looked up nor cached,
/// so hostile paths cannot fill the cache with large keys.
const MAX_TOKEN_LEN: usize = 256;

/// A source as the route needs it.
struct Receiving {
    source_id: SourceId,
    app_uid: String,
    source_type: String,
    /// The verifier's config, or why the stored config is unusable.
    config: Result<ProviderConfig, String>,
    /// Lower-case names of the headers kept with an accepted event.
    kept: Vec<String>,
}

/// Per-node state of the receiving route.
pub struct Receiver {
    dedup_window: Duration,
    /// By receive token; `None` caches "no such source" too.
    sources: TtlCache<String, Option<Arc<Receiving>>>,
    budget: Mutex<Budget>,
}

/// A token bucket bounding how many rejections are written.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Receiver {
    pub fn new(dedup_window: Duration) -> Self {
        Self {
            dedup_window,
            sources: TtlCache::new(SOURCE_TTL, SOURCE_CACHE_CAPACITY),
            budget: Mutex::new(Budget {
                tokens: 2.0 * REJECTIONS_PER_SECOND,
                at: Instant::now(),
            }),
        }
    }

    async fn source(
        &self,
        state: &ApiState,
        token: &str,
        now: Timestamp,
    ) -> ApiResult<Option<Arc<Receiving>>> {
        if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Ok(None);
        }
        if let Some(hit) = self.sources.get(token) {
            return Ok(hit);
        }
        let ticket = self.sources.ticket();
        let entry = match state.store.get_source_by_token(token, now).await {
            Ok(source) => {
                let config =
                    provider_config(&source.source_type, &source.config).map_err(|e| match e {
                        ApiError::Validation { msg, .. } => msg,
                        other => format!("{other:?}"),
                    });
                let kept = match &config {
                    Ok(c) => hookd_ingest::kept_headers(c),
                    Err(_) => Vec::new(),
                };
                Some(Arc::new(Receiving {
                    app_uid: app_uid(&source.id),
                    source_id: source.id,
                    source_type: source.source_type,
                    config,
                    kept,
                }))
            }
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        self.sources.insert(token.to_owned(), ticket, entry.clone());
        Ok(entry)
    }

    /// Whether one more rejection may be recorded now.
    fn take_budget(&self) -> bool {
        let mut b = self.budget.lock().expect("poisoned");
        let now = Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() * REJECTIONS_PER_SECOND;
        b.tokens = (b.tokens + refill).min(2.0 * REJECTIONS_PER_SECOND);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `POST|PUT /ingest/{token}`.
#[utoipa::path(post, path = "/ingest/{token}", tag = "Ingest",
    operation_id = "hookd.ingest.receive", summary = "Where a provider sends its webhooks",
    description = "No bearer token: the unguessable token in the path names the source. The request is verified as the source's provider signs it, stored, and forwarded to the source's endpoints. `PUT` is accepted too.",
    params(ReceivePath,
        ("traceparent" = Option<String>, Header, description = "W3C trace context: kept with the stored event, so its forwards join this trace")),
    request_body(content = String, content_type = "*/*", description = "The provider's request, as it sends it"),
    responses(
        (status = 204, description = "Verified and stored (or a duplicate of an event already stored)",
            headers(("x-hookd-msg-id" = String, description = "The stored message"),
                    ("x-hookd-duplicate" = String, description = "`true` when the event was stored before"))),
        (status = 200, description = "A provider's handshake or verification request, answered as it expects"),
        (status = 401, description = "Refused: the signature, timestamp or configuration does not verify; recorded in the source's rejection log", body = HttpErrorOut),
        (status = 404, description = "No source has this receive URL", body = HttpErrorOut),
        (status = 413, description = "The body is larger than the server accepts; recorded in the rejection log", body = HttpErrorOut),
    ))]
#[allow(clippy::too_many_arguments)] // one per extractor
pub async fn receive(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(token): ApiPath<String>,
    trace: RequestTrace,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = Request {
        token: &token,
        method: &method,
        uri: &uri,
        headers: &headers,
        trace: trace.0,
    };
    match receive_inner(&state, &cache, request, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// The parts of a receive request the route reads.
struct Request<'a> {
    token: &'a str,
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    /// Kept with the event's message ([`RequestTrace`]).
    trace: Option<hookd_core::trace::TraceContext>,
}

async fn receive_inner(
    state: &ApiState,
    cache: &FanOutCache,
    request: Request<'_>,
    body_stream: Body,
) -> ApiResult<Response> {
    let Request {
        token,
        method,
        uri,
        headers,
        trace,
    } = request;
    let now = Timestamp::now();
    let receiver = &state.receiver;
    let Some(source) = receiver.source(state, token, now).await? else {
        log_refusal(None, "unknown_receive_url");
        state
            .metrics
            .ingest_refused(UNKNOWN_SOURCE, "unknown_receive_url");
        return Err(ApiError::not_found("ingest source (receive URL)"));
    };

    let limit = state.max_body_bytes;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut too_large = declared.filter(|n| *n > limit as u64);
    let mut body = bytes::Bytes::new();
    if too_large.is_none() {
        match axum::body::to_bytes(body_stream, limit).await {
            Ok(bytes) => body = bytes,
            Err(_) if declared.is_none() => too_large = Some(limit as u64 + 1),
            Err(_) => {
                return Err(ApiError::UnreadableBody(
                    "the request body could not be read to its declared length".into(),
                ))
            }
        }
    }
    if let Some(size) = too_large {
        let detail = format!("the body is larger than the {limit} bytes accepted");
        return Ok(refuse(
            state,
            &source,
            headers,
            &[],
            size,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &detail,
            now,
        )
        .await);
    }

    let url = match uri.query() {
        Some(q) => format!("{}/ingest/{token}?{q}", state.public_url),
        None => format!("{}/ingest/{token}", state.public_url),
    };
    let request = IncomingRequest {
        method: method.as_str(),
        url: &url,
        headers,
        body: &body,
    };
    // A config that cannot verify anything refuses like a failed check, with its own code.
    let checked = match &source.config {
        Ok(config) => match hookd_ingest::receive(config, &request, now.as_secs()) {
            Received::Event(verified) => Ok(verified),
            Received::Answer(answer) => {
                let mut response = handshake_response(answer);
                note(state, &source, "handshake", &mut response);
                return Ok(response);
            }
            Received::Refused(rejection) => Err((rejection.code(), rejection.detail())),
        },
        Err(why) => Err((
            "invalid_config",
            format!("the source's config cannot verify requests: {why}"),
        )),
    };
    let verified = match checked {
        Ok(verified) => verified,
        Err((code, detail)) => {
            return Ok(refuse(
                state,
                &source,
                headers,
                &body,
                body.len() as u64,
                StatusCode::UNAUTHORIZED,
                code,
                &detail,
                now,
            )
            .await)
        }
    };

    // Stored byte-exact: as text when it is text a database column takes, else base64.
    let (payload, base64) = match std::str::from_utf8(&body) {
        Ok(text) if !text.contains('\0') => (Arc::<str>::from(text), false),
        _ => (Arc::<str>::from(STANDARD.encode(&body)), true),
    };
    let forward = IngestForward {
        source_id: source.source_id.to_string(),
        provider_event_id: verified.event_id.clone(),
        content_type: header_text(headers, "content-type").map(str::to_owned),
        headers: kept_headers(headers, &source.kept),
        base64,
    };
    let target = fan_out(state, cache, &source.app_uid, None)
        .await
        .map_err(|e| match e {
            // The source exists but its application does not: never acknowledge then.
            ApiError::NotFound(_) => ApiError::Internal(anyhow::anyhow!(
                "the internal application of an ingest source is missing"
            )),
            other => other,
        })?;
    let msg = Message {
        id: MsgId::generate_at(now),
        app_id: target.app.id.clone(),
        event_id: None,
        // The provider's own name for the event where it gives one, else the source type.
        event_type: verified
            .event_type
            .unwrap_or_else(|| source.source_type.clone()),
        payload: Some(payload),
        channels: None,
        tags: None,
        created_at: now,
        payload_expires_at: payload_expiry(now, None),
        trace,
    };
    let targets: Vec<&Endpoint> = target
        .endpoints
        .iter()
        .filter(|ep| ep.matches(&msg.event_type, None))
        .collect();
    let dedup = verified.event_id.map(|event_id| IngestDedup {
        source_id: source.source_id.clone(),
        event_id,
        expires_at: now.plus_millis(receiver.dedup_window.as_millis() as i64),
    });
    let event = IngestEvent {
        forward,
        dedup: dedup.as_ref(),
    };
    let written = state
        .engine
        .publish_ingest(&msg, &targets, event)
        .await
        .map_err(ApiError::from_message_write)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let (id, duplicate) = match &written {
        IngestWrite::Created => (&msg.id, false),
        IngestWrite::Duplicate(first) => (first, true),
    };
    let out = response.headers_mut();
    out.insert(
        "x-hookd-msg-id",
        HeaderValue::from_str(id.as_str()).expect("ids are ASCII"),
    );
    if duplicate {
        out.insert("x-hookd-duplicate", HeaderValue::from_static("true"));
    }
    state
        .metrics
        .ingest_received(&source.source_type, duplicate);
    let outcome = if duplicate { "duplicate" } else { "accepted" };
    note(state, &source, outcome, &mut response);
    Ok(response)
}

/// Tells the request's span what came of it (when tracing is on).
fn note(state: &ApiState, source: &Receiving, outcome: &'static str, response: &mut Response) {
    if state.tracer.is_on() {
        IngestNote {
            provider: source.source_type.clone(),
            source_id: source.source_id.to_string(),
            outcome,
        }
        .attach(response);
    }
}

fn handshake_response(answer: hookd_ingest::HandshakeResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    response
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's headers among `kept`, in `kept`'s order (a repeated header: its first
/// value).
fn kept_headers(headers: &HeaderMap, kept: &[String]) -> Vec<(String, String)> {
    kept.iter()
        .filter(|name| name.as_str() != "content-type")
        .filter_map(|name| Some((name.clone(), header_text(headers, name)?.to_owned())))
        .collect()
}

/// Records a refused request (within the budget; a failure to record is only logged) and
/// answers it. The answer waits for the record, so a refusal the caller saw is listed.
#[allow(clippy::too_many_arguments)]
async fn refuse(
    state: &ApiState,
    source: &Receiving,
    headers: &HeaderMap,
    body: &[u8],
    body_size: u64,
    status: StatusCode,
    code: &'static str,
    detail: &str,
    now: Timestamp,
) -> Response {
    log_refusal(Some(&source.source_id), code);
    state.metrics.ingest_refused(&source.source_type, code);
    if state.receiver.take_budget() {
        let rejection = IngestRejection {
            id: RejectionId::generate_at(now),
            source_id: source.source_id.clone(),
            code: code.to_owned(),
            detail: detail.to_owned(),
            headers: recorded_headers(headers, &source.kept),
            body: body[..body.len().min(IngestRejection::MAX_BODY)].to_vec(),
            body_size,
            received_at: now,
        };
        if let Err(e) = state.store.record_ingest_rejection(&rejection).await {
            tracing::warn!(error = %e, "recording a refused ingest request failed");
        }
    }
    let mut response = (status, Json(json!({ "code": code, "detail": detail }))).into_response();
    note(state, source, code, &mut response);
    response
}

/// The provider label of a request whose receive URL names no source.
const UNKNOWN_SOURCE: &str = "unknown";

/// One line a second at most for refused ingest requests, whatever their number.
static REFUSALS: hookd_store::RateLimitedLog = hookd_store::RateLimitedLog::new();

/// Logs a refused receive request: the source (`None`: the receive URL names none) and
/// the rejection code. Never the receive token, a header or the body.
fn log_refusal(source: Option<&SourceId>, code: &str) {
    if let Some(suppressed) = REFUSALS.admit() {
        tracing::warn!(
            source.id = source.map_or_else(|| "-".to_owned(), SourceId::to_string),
            code,
            suppressed,
            "refused an ingest request"
        );
    }
}

/// The headers recorded with a rejection: every header but credentials (a header named
/// like a secret is kept only when the provider's kept headers name it: a signature),
/// bounded in number and size.
fn recorded_headers(headers: &HeaderMap, kept: &[String]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            kept.iter().any(|k| k == name) || !hookd_core::validate::is_sensitive_header(name)
        })
        .take(MAX_RECORDED_HEADERS)
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            let mut end = text.len().min(MAX_RECORDED_VALUE);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (name.as_str().to_owned(), text[..end].to_owned())
        })
        .collect()
}
