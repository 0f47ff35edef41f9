//! `idempotency-key` on POST requests: a retried request gets the first one's response
//! instead of running again.
//!
//! One middleware over the authenticated routes. Before the handler runs, the key is
//! reserved in the store (so the guarantee holds across nodes and restarts) together with
//! a fingerprint of the request: a digest of its method, path and query, and body bytes.
//! Keys are scoped by the caller's credentials, so two tenants' keys never meet. Then:
//! - a retry with the same key and the same request gets the stored status and body, byte
//!   for byte (plus `idempotent-replayed: true`);
//! - the same key with another request gets 422 `idempotency_key_reused`;
//! - a retry while the first request still runs waits for its response (up to 5 s, then
//!   409 `idempotency_key_in_progress`);
//! - a 5xx response is not stored (the key is released), so a retry runs afresh;
//! - routes that answer with a credential (secret rotation, app-portal access) ignore the
//!   key: their response is never stored.
//!
//! The handler runs in a task of its own, so a client that hangs up does not cancel it
//! half-way: its response is stored for the retry. A reservation whose process died holds
//! the key for [`IN_FLIGHT_LOCK`] only, then the next retry takes it over.

use super::error::ApiError;
use crate::api::ApiState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookd_core::Timestamp;
use hookd_store::{IdempotencyClaim, IdempotencyRecord, IdempotencyReservation, Store};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The request header naming the key (Svix's name).
pub const HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted key.
const MAX_KEY_LEN: usize = 256;
/// How long a reservation holds its key against retries when its request never finishes
/// (the process died): after this, a retry runs the request.
pub const IN_FLIGHT_LOCK: Duration = Duration::from_secs(60);
/// How long a retry waits for the first request with its key to finish.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);
/// How often a waiting retry looks again.
const IN_PROGRESS_POLL: Duration = Duration::from_millis(25);
/// Largest response stored (API responses are small JSON; a message echoes its payload).
const MAX_STORED_RESPONSE: usize = 16 * 1024 * 1024;

/// The middleware; requests other than POST, or without the header, pass straight through.
pub async fn idempotency(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    if answers_with_a_credential(&req) {
        return next.run(req).await;
    }
    let key = match check_key(raw_key) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let scoped_key = format!("{}:{key}", principal(&req));
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, state.max_body_bytes).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let now = Timestamp::now();
    let mut claim = IdempotencyClaim {
        key: scoped_key,
        fingerprint,
        token: random_token(),
        now,
        locked_until: now.plus_millis(millis(IN_FLIGHT_LOCK)),
        expires_at: now.plus_millis(millis(state.idempotency_ttl)),
    };
    match reserve_or_wait(state.store.as_ref(), &mut claim).await {
        Ok(None) => {}
        Ok(Some(answer)) => return answer,
        Err(e) => return ApiError::from(e).into_response(),
    }
    let req = Request::from_parts(parts, Body::from(body));
    let store = state.store.clone();
    let (key, token) = (claim.key.clone(), claim.token.clone());
    // Own task: runs to the end (and stores the response) even if the client hangs up.
    let run = tokio::spawn(async move {
        let response = next.run(req).await;
        settle(store.as_ref(), &claim, response).await
    });
    match run.await {
        Ok(response) => response,
        Err(e) => {
            // The handler panicked: nothing to store, so a retry may run it again.
            let _ = state.store.release_idempotency_key(&key, &token).await;
            ApiError::Internal(anyhow::anyhow!("idempotent request task failed: {e}"))
                .into_response()
        }
    }
}

/// Routes whose response is a credential (a new endpoint secret, an app-portal token):
/// it is never stored, so these run again on a retry (harmlessly: a second rotation, a
/// second token) instead of keeping a copy of the credential outside the sealed columns.
fn answers_with_a_credential(req: &Request) -> bool {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| {
            let p = p.as_str();
            p.ends_with("/secret/rotate") || p.contains("/auth/app-portal-access/")
        })
}

/// Stores the response under the reservation (or releases it on a server error) and
/// returns it.
pub(crate) async fn settle(
    store: &dyn Store,
    claim: &IdempotencyClaim,
    response: Response,
) -> Response {
    let status = response.status();
    if status.is_server_error() {
        if let Err(e) = store
            .release_idempotency_key(&claim.key, &claim.token)
            .await
        {
            tracing::warn!(error = %e, "could not release an idempotency key; it frees itself");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store
                .release_idempotency_key(&claim.key, &claim.token)
                .await;
            return ApiError::Internal(anyhow::anyhow!("buffering a response: {e}"))
                .into_response();
        }
    };
    match store
        .complete_idempotency_key(&claim.key, &claim.token, status.as_u16(), &body)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!("an idempotency reservation lapsed before its request ended"),
        Err(e) => tracing::warn!(error = %e, "could not store an idempotent response"),
    }
    Response::from_parts(parts, Body::from(body))
}

/// Reserves the key (`None`: the caller runs the request) or answers from what holds it.
/// While the first request with the same fingerprint still runs, waits for its response
/// up to [`IN_PROGRESS_WAIT`] (the SDKs retry after a timeout and expect the first
/// request's answer, not a conflict); a key released meanwhile is reserved afresh.
async fn reserve_or_wait(
    store: &dyn Store,
    claim: &mut IdempotencyClaim,
) -> hookd_store::StoreResult<Option<Response>> {
    let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
    let mut record = match store.reserve_idempotency_key(claim).await? {
        IdempotencyReservation::Reserved => return Ok(None),
        IdempotencyReservation::Existing(record) => record,
    };
    loop {
        let waiting = record.response.is_none() && record.fingerprint == claim.fingerprint;
        if !waiting || tokio::time::Instant::now() >= deadline {
            return Ok(Some(answer_existing(claim, record)));
        }
        tokio::time::sleep(IN_PROGRESS_POLL).await;
        let now = Timestamp::now();
        claim.locked_until = now.plus_millis(millis(IN_FLIGHT_LOCK));
        claim.expires_at = now.plus_millis(claim.expires_at.as_millis() - claim.now.as_millis());
        claim.now = now;
        record = match store.get_idempotency_key(&claim.key, claim.now).await? {
            Some(r) if r.response.is_some() || r.locked_until > claim.now => r,
            // Released, expired or lapsed: try to take it.
            _ => match store.reserve_idempotency_key(claim).await? {
                IdempotencyReservation::Reserved => return Ok(None),
                IdempotencyReservation::Existing(r) => r,
            },
        };
    }
}

/// The answer to a request whose key is already taken.
fn answer_existing(claim: &IdempotencyClaim, record: IdempotencyRecord) -> Response {
    if record.fingerprint != claim.fingerprint {
        return ApiError::IdempotencyKeyReused.into_response();
    }
    let Some((status, body)) = record.response else {
        return ApiError::IdempotencyKeyInProgress.into_response();
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, Bytes::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

fn check_key(value: &HeaderValue) -> Result<&str, ApiError> {
    let invalid = |msg: &str| ApiError::Validation {
        loc: vec!["header".into(), HEADER.into()],
        msg: msg.into(),
    };
    let key = value
        .to_str()
        .map_err(|_| invalid("idempotency-key must be printable ASCII"))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(invalid(
            "idempotency-key must be between 1 and 256 characters",
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "idempotency-key must be printable ASCII without spaces",
        ));
    }
    Ok(key)
}

/// Who is asking: a digest of the credentials (never stored in the clear).
fn principal(req: &Request) -> String {
    let auth = req
        .headers()
        .get(AUTHORIZATION)
        .map_or(&[][..], HeaderValue::as_bytes);
    hex(&Sha256::digest(auth)[..16])
}

/// A digest of what makes two requests the same: method, path and query, body bytes.
fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(uri.path_and_query().map_or("", |p| p.as_str()).as_bytes());
    h.update([0]);
    h.update(body);
    hex(&h.finalize())
}

fn random_token() -> String {
    hex(&rand::random::<[u8; 16]>())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
