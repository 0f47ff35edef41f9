//! The consumer portal and the operator dashboard, served from the binary.
//!
//! Module map:
//! - this file: the pages, `GET /portal/{app_id}` (and `/portal`) and `GET /ui`, the
//!   embedded assets under `/assets/`, and the headers every one of them carries.
//! - [`session`]: the operator's sign-in (`/ui/session`): the session cookie and its CSRF
//!   token, which the API's authentication accepts in place of the bearer token.
//! - `GET /ui/metrics`: the `/metrics` page for the dashboard's overview, behind the
//!   dashboard's session (the dashboard reads the engine's own counters, nothing else).
//!
//! The pages are a small vanilla-JavaScript app with no build step, in `web/` beside this
//! crate's `src/`: what is in the repository is what is served, embedded at compile time.
//! It calls the same `/api/v1` routes as any client: the portal with its app-portal token
//! (taken from the link's fragment, never sent in a URL), the dashboard with its cookie and
//! CSRF header. Every decision about who may see or change what is the API's. The scripts
//! build the page with `textContent` and never parse HTML, so payloads, headers and
//! response bodies can only ever show as text.
//!
//! Headers: a CSP without inline script or style (`default-src 'none'`, scripts, styles
//! and requests to this origin only), `nosniff`, `no-referrer`. The dashboard is never
//! framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`); the portal may be framed by
//! the pages `portal_frame_ancestors` allows (`*` by default: the portal holds no ambient
//! credential, so a page can only frame a portal whose link it already has).

pub mod session;

use super::http::auth;
use super::http::error::ApiError;
use super::http::extract::ApiPath;
use super::ApiState;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use sha2::Digest;
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../../web/", $name)),
        }
    };
}

/// Everything the pages load. Nothing else is served from `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("hookd.css", "text/css; charset=utf-8"),
    asset!("common.js", "text/javascript; charset=utf-8"),
    asset!("portal.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
];

/// Most bytes a first visit of the portal may load (page, stylesheet, scripts).
pub const PORTAL_BUDGET: usize = 56 * 1024;
/// The same for the dashboard, which loads the portal's views too.
pub const DASHBOARD_BUDGET: usize = 80 * 1024;

const PORTAL_PAGE: &[u8] = include_bytes!("../../../web/portal.html");
const UI_PAGE: &[u8] = include_bytes!("../../../web/ui.html");

/// The policy both pages share; `frame-ancestors` is added per page.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'";

/// Who may frame the portal (`portal_frame_ancestors`), as a CSP source list.
#[derive(Clone, Debug)]
pub struct FrameAncestors(pub String);

impl Default for FrameAncestors {
    fn default() -> Self {
        FrameAncestors("*".into())
    }
}

/// The pages' routes, with the session-protected metrics.
pub fn router(state: ApiState) -> Router<ApiState> {
    let metrics = Router::new()
        .route("/ui/metrics", get(metrics_page))
        .route_layer(middleware::from_fn_with_state(state, auth::authorize));
    Router::new()
        .route("/portal", get(portal_page))
        .route("/portal/{app_id}", get(portal_page))
        .route("/ui", get(ui_page))
        .route(
            "/ui/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/assets/{name}", get(asset))
        .merge(metrics)
}

/// `GET /portal/{app_id}`: the portal's shell; the script reads the token from the
/// fragment. (Whatever the path names, the token decides what is shown.)
async fn portal_page(State(state): State<ApiState>) -> Response {
    page(
        PORTAL_PAGE,
        &format!(
            "{POLICY}; frame-ancestors {}",
            state.portal_frame_ancestors.0
        ),
        false,
    )
}

/// `GET /ui`: the dashboard's shell.
async fn ui_page() -> Response {
    page(UI_PAGE, &format!("{POLICY}; frame-ancestors 'none'"), true)
}

fn page(body: &'static [u8], policy: &str, deny_frames: bool) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(policy) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    security_headers(&mut headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if deny_frames {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    (headers, body).into_response()
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The entity tag of each asset, by position in [`ASSETS`].
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = sha2::Sha256::digest(a.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// `GET /assets/{name}`: revalidated on each use (`no-cache` with an entity tag), so a
/// new build's files are picked up at once and an unchanged file costs a `304`.
async fn asset(ApiPath(name): ApiPath<String>, req_headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::NotFound("no such asset".into()).into_response();
    };
    let etag = &etags()[i];
    let mut headers = HeaderMap::new();
    security_headers(&mut headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("hex in quotes"),
    );
    let fresh = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ASSETS[i].content_type),
    );
    (headers, ASSETS[i].body).into_response()
}

/// `GET /ui/metrics`: the `/metrics` page, for the dashboard (admin only).
async fn metrics_page(State(state): State<ApiState>) -> Response {
    let page = state.metrics.render(&state).await;
    (
        [(header::CONTENT_TYPE, hookd_core::metrics::CONTENT_TYPE)],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_pages_name_is_served_and_every_served_one_is_named() {
        let pages = [PORTAL_PAGE, UI_PAGE].map(|p| std::str::from_utf8(p).unwrap());
        let named: std::collections::BTreeSet<&str> = pages
            .iter()
            .flat_map(|p| p.split("/assets/").skip(1))
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        let served: std::collections::BTreeSet<&str> = ASSETS.iter().map(|a| a.name).collect();
        assert_eq!(named, served);
    }

    /// The weight budget (docs/portal-and-dashboard.md): what a first visit loads, as
    /// served (uncompressed).
    #[test]
    fn the_pages_stay_within_their_weight_budget() {
        let size = |names: &[&str]| -> usize {
            names
                .iter()
                .map(|n| ASSETS.iter().find(|a| a.name == *n).unwrap().body.len())
                .sum()
        };
        let portal = PORTAL_PAGE.len() + size(&["hookd.css", "common.js", "portal.js"]);
        let ui = UI_PAGE.len() + size(&["hookd.css", "common.js", "portal.js", "ui.js"]);
        assert!(portal <= PORTAL_BUDGET, "the portal weighs {portal} bytes");
        assert!(ui <= DASHBOARD_BUDGET, "the dashboard weighs {ui} bytes");
    }

    #[test]
    fn the_pages_have_no_inline_script_or_style() {
        for page in [PORTAL_PAGE, UI_PAGE] {
            let page = std::str::from_utf8(page).unwrap();
            assert!(!page.contains("<style"), "{page}");
            assert!(!page.contains("style="), "{page}");
            assert!(!page.contains(" on"), "an inline handler in {page}");
            for script in page.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap();
                assert!(tag.contains("src=\"/assets/"), "inline script in {page}");
                assert!(script.split('>').nth(1).unwrap().starts_with("</script"));
            }
        }
    }
}
