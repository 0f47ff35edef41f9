//! The operator's sign-in to the dashboard: a session cookie and the CSRF token that goes
//! with it.
//!
//! - `POST /ui/session` `{"token": "<admin token>"}` signs in: it answers the CSRF token and
//!   sets the cookie `hookd_session` (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure`
//!   when the request came over HTTPS, 12 hours). The request must come from a page of this
//!   origin (`Sec-Fetch-Site`, else `Origin`), so another site cannot sign a browser in.
//! - `GET /ui/session` answers the CSRF token again (the dashboard asks for it on load).
//! - `DELETE /ui/session` signs out: the cookie is cleared. It needs the CSRF header.
//!
//! Sessions are stateless, like app-portal tokens: the cookie is
//! `v1.{expiry}.{nonce}.{MAC}`, with the MAC keyed by a key derived from the admin token,
//! so every node accepts it, and a changed admin token ends every session. Signing out
//! clears the browser's cookie; a copy of the cookie taken before stays valid until it
//! expires (rotate the admin token to end every session at once).
//!
//! The CSRF token is a MAC of the cookie's value. [`check`] (called by the API's
//! authentication for a request without a bearer token) accepts a request carrying the
//! cookie only with the header `x-hookd-csrf` equal to it: on every method, so a page of
//! another origin that shares this site (another port of the same host) can neither
//! change nor read anything with the operator's cookie.

use crate::api::http::auth::token_matches;
use crate::api::http::error::ApiError;
use crate::api::http::extract::ApiJson;
use crate::api::http::portal_token::unix_now;
use crate::api::ApiState;
use axum::extract::State;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hookd_core::crypto::hmac_sha256;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE_NAME: &str = "hookd_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-hookd-csrf";
/// How long a session lasts.
const LIFETIME_SECS: u64 = 12 * 3600;
const KEY_CONTEXT: &[u8] = b"hookd operator session key v1";

fn key(admin_token: &str) -> [u8; 32] {
    hmac_sha256(admin_token.as_bytes(), &[KEY_CONTEXT])
}

/// A new session cookie value, valid until `expires_at`.
fn mint(admin_token: &str, expires_at: u64) -> String {
    let nonce: [u8; 16] = rand::random();
    let signed = format!("v1.{expires_at}.{}", URL_SAFE_NO_PAD.encode(nonce));
    let mac = hmac_sha256(&key(admin_token), &[signed.as_bytes()]);
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The session's expiry if `cookie` is one this server issued and it has not expired.
fn verify(admin_token: &str, cookie: &str, now: u64) -> Option<u64> {
    if cookie.len() > 200 {
        return None;
    }
    let (signed, mac) = cookie.rsplit_once('.')?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let expected = hmac_sha256(&key(admin_token), &[signed.as_bytes()]);
    if !bool::from(expected.as_slice().ct_eq(&mac)) {
        return None;
    }
    let mut parts = signed.split('.');
    let (Some("v1"), Some(expiry)) = (parts.next(), parts.next()) else {
        return None;
    };
    let expiry: u64 = expiry.parse().ok()?;
    (now < expiry).then_some(expiry)
}

/// The CSRF token that goes with the session cookie `cookie`.
fn csrf_token(admin_token: &str, cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(
        &key(admin_token),
        &[b"csrf\0", cookie.as_bytes()],
    ))
}

/// The value of the session cookie in `headers`, if any.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME).then_some(value)
        })
}

/// What a request without a bearer token is, as far as the session goes.
pub enum Presented {
    /// No session cookie.
    None,
    /// A valid session, with the CSRF header it needs.
    Valid,
    /// A cookie that is not a valid session, or a valid one without its CSRF header.
    Refused(ApiError),
}

/// Checks the session cookie and CSRF header of a request that has no `Authorization`.
pub fn check(admin_token: &str, headers: &HeaderMap) -> Presented {
    let Some(value) = cookie(headers) else {
        return Presented::None;
    };
    if verify(admin_token, value, unix_now()).is_none() {
        return Presented::Refused(ApiError::Unauthorized(
            "the dashboard session has expired; sign in again",
        ));
    }
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token_matches(given, &csrf_token(admin_token, value)) {
        Presented::Valid
    } else {
        Presented::Refused(ApiError::Forbidden(
            "a request made with the dashboard session needs its x-hookd-csrf header",
        ))
    }
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

/// What the dashboard learns of its session.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    csrf: String,
    /// Unix seconds.
    expires_at: u64,
}

/// `POST /ui/session`.
pub async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::Forbidden("sign in from this server's own dashboard page")
            .into_response();
    }
    if body.token.is_empty() || !token_matches(body.token.trim(), &state.admin_token) {
        return ApiError::Unauthorized("that is not the admin token").into_response();
    }
    let expires_at = unix_now() + LIFETIME_SECS;
    let value = mint(&state.admin_token, expires_at);
    let secure = if forwarded_https(&headers) {
        "; Secure"
    } else {
        ""
    };
    let set = format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{secure}"
    );
    let out = SessionOut {
        csrf: csrf_token(&state.admin_token, &value),
        expires_at,
    };
    match HeaderValue::from_str(&set) {
        Ok(set) => ([(SET_COOKIE, set)], Json(out)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /ui/session`: 401 without a valid session.
pub async fn current(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let Some(value) = cookie(&headers) else {
        return ApiError::Unauthorized("not signed in").into_response();
    };
    match verify(&state.admin_token, value, unix_now()) {
        Some(expires_at) => Json(SessionOut {
            csrf: csrf_token(&state.admin_token, value),
            expires_at,
        })
        .into_response(),
        None => ApiError::Unauthorized("the dashboard session has expired; sign in again")
            .into_response(),
    }
}

/// `DELETE /ui/session`: clears the cookie (204). Needs the CSRF header.
pub async fn sign_out(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Presented::Refused(e) = check(&state.admin_token, &headers) {
        return e.into_response();
    }
    let clear = format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, HeaderValue::from_str(&clear).expect("ascii"))],
    )
        .into_response()
}

/// The request came from a page of this origin: `Sec-Fetch-Site: same-origin` (browsers
/// send it), or, from a browser that does not, an `Origin` naming this host. A request
/// with neither (not a browser's) is allowed: it is not a forged cross-site request.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin" || site.as_bytes() == b"none";
    }
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

/// The client reached us over HTTPS through a proxy that says so.
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "admin-token-0123456789";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_session_verifies_until_it_expires_and_only_with_its_admin_token() {
        let value = mint(ADMIN, 2_000);
        assert_eq!(verify(ADMIN, &value, 1_999), Some(2_000));
        assert_eq!(verify(ADMIN, &value, 2_000), None);
        assert_eq!(verify("another-admin-token", &value, 0), None);
        let (signed, mac) = value.rsplit_once('.').unwrap();
        let longer = signed.replace("v1.2000.", "v1.9000.");
        assert_eq!(verify(ADMIN, &format!("{longer}.{mac}"), 0), None);
        for junk in ["", "v1", "v1.1.2.3", &"x".repeat(300)] {
            assert_eq!(verify(ADMIN, junk, 0), None, "{junk}");
        }
    }

    #[test]
    fn the_cookie_needs_its_own_csrf_header() {
        let value = mint(ADMIN, unix_now() + 60);
        let cookie = format!("other=1; {COOKIE_NAME}={value}");
        let csrf = csrf_token(ADMIN, &value);
        assert!(matches!(
            check(
                ADMIN,
                &headers(&[("cookie", &cookie), (CSRF_HEADER, &csrf)])
            ),
            Presented::Valid
        ));
        assert!(matches!(
            check(ADMIN, &headers(&[("cookie", &cookie)])),
            Presented::Refused(ApiError::Forbidden(_))
        ));
        let other = csrf_token(ADMIN, &mint(ADMIN, unix_now() + 60));
        assert!(matches!(
            check(
                ADMIN,
                &headers(&[("cookie", &cookie), (CSRF_HEADER, &other)])
            ),
            Presented::Refused(ApiError::Forbidden(_))
        ));
        assert!(matches!(check(ADMIN, &headers(&[])), Presented::None));
        assert!(matches!(
            check(ADMIN, &headers(&[("cookie", "hookd_session=forged")])),
            Presented::Refused(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn sign_in_is_refused_from_another_origin() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[
            ("host", "h.example:8071"),
            ("origin", "https://h.example:8071")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "h.example:8071"),
            ("origin", "https://evil.example")
        ])));
        assert!(same_origin(&headers(&[])));
    }
}
