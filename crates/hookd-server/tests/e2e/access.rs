//! App-portal tokens (`POST /api/v1/auth/app-portal-access/{app}`): a token for app A
//! reaches A's routes and nothing of app B's, on every route of the API and on both
//! backends.
//!
//! The route list is read from the router's source (`src/api/mod.rs`), and [`ROUTES`] must
//! cover it exactly: a route added to the router without a line here fails the test. The
//! hostile-input suite (`hostile.rs`) walks the same table.

use crate::support::{spawn_app_with, spawn_on, Backend, TestApp, TOKEN};
use hookd_server::api::http::portal_token::{self as portal, PortalClaims};
use hookd_server::config::Database;
use hookd_testkit::PgSchema;
use hookd_testkit::Receiver;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// What a portal token may do on a route.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Access {
    /// Its own application's routes only (`{app_id}` is its app).
    OwnApp,
    /// Any portal token (event-type reads).
    Shared,
    /// Admin only.
    AdminOnly,
    /// No token needed (health).
    Public,
    /// A provider's receive URL: no bearer token, the path's unguessable token names an
    /// ingest source; a portal token grants nothing (an unknown receive token: 404).
    Receive,
    /// A background task of its own application only (a recovery its portal started);
    /// `task_own_to_the_portal_that_started_it` checks both sides.
    OwnTask,
    /// The portal's and dashboard's pages, assets and sign-in: no API token; they hold no
    /// data, and a bearer token grants nothing there.
    Page,
}
use Access::*;

/// One route of the API: method, pattern (as in `mod.rs`, relative to `/api/v1`; the
/// ingest routes in full, under `/ingest/api/v1`), access,
/// and a JSON body for the call (placeholders `{url}` and `{event}`), empty for none.
pub(crate) struct Route(
    pub(crate) &'static str,
    pub(crate) &'static str,
    pub(crate) Access,
    pub(crate) &'static str,
);

/// Every route of the API. Adding a route to the router means adding its line here.
pub(crate) const ROUTES: &[Route] = &[
    Route("GET", "/health", Public, ""),
    Route("GET", "/health/ping", Public, ""),
    Route("GET", "/health/ready", Public, ""),
    Route("GET", "/openapi.json", Public, ""),
    // At the root: the API reference page.
    Route("GET", "/docs", Public, ""),
    // At the root, like the receive URL (no `/api/v1`).
    Route("GET", "/metrics", Public, ""),
    // The web pages (src/api/web/mod.rs), relative to the root like /docs.
    Route("GET", "/portal", Page, ""),
    Route("GET", "/portal/{app_id}", Page, ""),
    Route("GET", "/ui", Page, ""),
    Route("GET", "/assets/{name}", Page, ""),
    Route("GET", "/ui/session", Page, ""),
    Route(
        "POST",
        "/ui/session",
        Page,
        r#"{"token":"not-the-admin-token"}"#,
    ),
    Route("DELETE", "/ui/session", Page, ""),
    Route("GET", "/ui/metrics", AdminOnly, ""),
    Route("GET", "/app", AdminOnly, ""),
    Route("POST", "/app", AdminOnly, r#"{"name":"made by portal"}"#),
    Route("GET", "/app/{app_id}", OwnApp, ""),
    Route("PUT", "/app/{app_id}", AdminOnly, r#"{"name":"renamed"}"#),
    Route("PATCH", "/app/{app_id}", AdminOnly, r#"{"name":"renamed"}"#),
    Route("DELETE", "/app/{app_id}", AdminOnly, ""),
    Route("GET", "/event-type", Shared, ""),
    Route(
        "POST",
        "/event-type",
        AdminOnly,
        r#"{"name":"portal.made","description":"x"}"#,
    ),
    Route("GET", "/event-type/{event_type_name}", Shared, ""),
    Route(
        "PUT",
        "/event-type/{event_type_name}",
        AdminOnly,
        r#"{"description":"changed"}"#,
    ),
    Route(
        "PATCH",
        "/event-type/{event_type_name}",
        AdminOnly,
        r#"{"description":"changed"}"#,
    ),
    Route("DELETE", "/event-type/{event_type_name}", AdminOnly, ""),
    Route("GET", "/app/{app_id}/endpoint", OwnApp, ""),
    Route(
        "POST",
        "/app/{app_id}/endpoint",
        OwnApp,
        r#"{"url":"{url}"}"#,
    ),
    Route("GET", "/app/{app_id}/endpoint/{endpoint_id}", OwnApp, ""),
    Route(
        "PUT",
        "/app/{app_id}/endpoint/{endpoint_id}",
        OwnApp,
        r#"{"url":"{url}"}"#,
    ),
    Route(
        "PATCH",
        "/app/{app_id}/endpoint/{endpoint_id}",
        OwnApp,
        r#"{"description":"changed"}"#,
    ),
    Route("DELETE", "/app/{app_id}/endpoint/{endpoint_id}", OwnApp, ""),
    Route(
        "GET",
        "/app/{app_id}/endpoint/{endpoint_id}/secret",
        OwnApp,
        "",
    ),
    Route(
        "POST",
        "/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
        OwnApp,
        "{}",
    ),
    Route(
        "GET",
        "/app/{app_id}/endpoint/{endpoint_id}/stats",
        OwnApp,
        "",
    ),
    Route(
        "GET",
        "/app/{app_id}/endpoint/{endpoint_id}/stats/series",
        OwnApp,
        "",
    ),
    Route(
        "POST",
        "/app/{app_id}/endpoint/{endpoint_id}/send-example",
        OwnApp,
        r#"{"eventType":"{event}"}"#,
    ),
    Route(
        "GET",
        "/app/{app_id}/endpoint/{endpoint_id}/headers",
        OwnApp,
        "",
    ),
    Route(
        "PUT",
        "/app/{app_id}/endpoint/{endpoint_id}/headers",
        OwnApp,
        r#"{"headers":{"x-portal":"1"}}"#,
    ),
    Route(
        "PATCH",
        "/app/{app_id}/endpoint/{endpoint_id}/headers",
        OwnApp,
        r#"{"headers":{"x-portal":"2"}}"#,
    ),
    Route("GET", "/app/{app_id}/msg", OwnApp, ""),
    Route(
        "POST",
        "/app/{app_id}/msg",
        OwnApp,
        r#"{"eventType":"{event}","payload":{"from":"portal"}}"#,
    ),
    Route("GET", "/app/{app_id}/msg/{msg_id}", OwnApp, ""),
    Route(
        "POST",
        "/app/{app_id}/msg/precheck/active",
        OwnApp,
        r#"{"eventType":"{event}"}"#,
    ),
    Route("GET", "/app/{app_id}/msg/{msg_id}/endpoint", OwnApp, ""),
    Route(
        "POST",
        "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
        OwnApp,
        "",
    ),
    Route(
        "GET",
        "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
        OwnApp,
        "",
    ),
    Route(
        "GET",
        "/app/{app_id}/attempt/endpoint/{endpoint_id}",
        OwnApp,
        "",
    ),
    Route("GET", "/app/{app_id}/attempt/msg/{msg_id}", OwnApp, ""),
    Route("DELETE", "/app/{app_id}/msg/{msg_id}/content", OwnApp, ""),
    Route(
        "POST",
        "/app/{app_id}/endpoint/{endpoint_id}/recover",
        OwnApp,
        r#"{"since":"2020-01-01T00:00:00Z"}"#,
    ),
    Route("GET", "/background-task", AdminOnly, ""),
    Route("GET", "/background-task/{task_id}", OwnTask, ""),
    Route(
        "DELETE",
        "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
        OwnApp,
        "",
    ),
    Route("POST", "/auth/app-portal-access/{app_id}", AdminOnly, "{}"),
    Route("GET", "/ingest/api/v1/source", AdminOnly, ""),
    Route(
        "GET",
        "/ingest/api/v1/source/{source_id}/rejection",
        AdminOnly,
        "",
    ),
    Route("POST", "/ingest/{token}", Receive, "{}"),
    Route("PUT", "/ingest/{token}", Receive, "{}"),
    Route(
        "POST",
        "/ingest/api/v1/source",
        AdminOnly,
        r#"{"name":"s","type":"github","config":{"secret":"x"}}"#,
    ),
    Route("GET", "/ingest/api/v1/source/{source_id}", AdminOnly, ""),
    Route(
        "PUT",
        "/ingest/api/v1/source/{source_id}",
        AdminOnly,
        r#"{"name":"s","type":"github","config":{"secret":"x"}}"#,
    ),
    Route("DELETE", "/ingest/api/v1/source/{source_id}", AdminOnly, ""),
    Route(
        "POST",
        "/ingest/api/v1/source/{source_id}/token/rotate",
        AdminOnly,
        "",
    ),
    Route(
        "GET",
        "/ingest/api/v1/source/{source_id}/endpoint",
        AdminOnly,
        "",
    ),
    Route(
        "POST",
        "/ingest/api/v1/source/{source_id}/endpoint",
        AdminOnly,
        r#"{"url":"{url}"}"#,
    ),
    Route(
        "GET",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
        AdminOnly,
        "",
    ),
    Route(
        "PUT",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
        AdminOnly,
        r#"{"url":"{url}"}"#,
    ),
    Route(
        "DELETE",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
        AdminOnly,
        "",
    ),
    Route(
        "GET",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret",
        AdminOnly,
        "",
    ),
    Route(
        "POST",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret/rotate",
        AdminOnly,
        "",
    ),
    Route(
        "GET",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers",
        AdminOnly,
        "",
    ),
    Route(
        "PUT",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers",
        AdminOnly,
        r#"{"headers":{"x-a":"b"}}"#,
    ),
    Route(
        "PATCH",
        "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers",
        AdminOnly,
        r#"{"headers":{"x-a":"b"}}"#,
    ),
];

/// Every `(METHOD, pattern)` the router registers, read from its sources: each
/// `.route("pattern", get(..).post(..))` call of `src/api/mod.rs` and of the web pages'
/// router it merges (`src/api/web/mod.rs`).
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/api/mod.rs");
    let web = include_str!("../../src/api/web/mod.rs");
    // Routes registered elsewhere (a sub-router merged or nested in) would escape this
    // parser: only the known compositions are expected.
    assert_eq!(
        (
            src.matches(".merge(").count(),
            src.matches(".nest(").count(),
            web.matches(".merge(").count() + web.matches(".nest(").count(),
        ),
        (2, 2, 1),
        "the routers are composed in a new way; teach router_routes() to read the new routes"
    );
    assert!(src.contains(".merge(web::router(state.clone()))"));
    // The ingest router (`let ingest = Router::new()…;`) is nested under `/ingest/api/v1`.
    let ingest_start = src
        .find("let ingest = Router::new()")
        .expect("the ingest router");
    let ingest_end = ingest_start + src[ingest_start..].find(";\n").unwrap();
    let mut out = routes_in(src, ingest_start..ingest_end);
    out.extend(routes_in(web, 0..0));
    assert!(out.len() > 10, "the route parser found too few routes");
    out
}

/// The routes of one source file; those at offsets in `ingest` are under `/ingest/api/v1`.
fn routes_in(src: &str, ingest: std::ops::Range<usize>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = src;
    while let Some(at) = rest.find(".route(") {
        let offset = src.len() - rest.len() + at;
        let prefix = if ingest.contains(&offset) {
            "/ingest/api/v1"
        } else {
            ""
        };
        rest = &rest[at + ".route(".len()..];
        let args = &rest[..close_paren(rest)];
        let pattern = args
            .split('"')
            .nth(1)
            .expect("a route's first argument is a string literal");
        let mut methods = 0;
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            let call = format!("{method}(");
            let mut from = 0;
            while let Some(i) = args[from..].find(&call) {
                let i = from + i;
                let before = args[..i].chars().next_back().unwrap_or(' ');
                if !(before.is_alphanumeric() || before == '_' || before == ':') {
                    out.insert((method.to_uppercase(), format!("{prefix}{pattern}")));
                    methods += 1;
                }
                from = i + call.len();
            }
        }
        assert!(methods > 0, "no method found for route {pattern}");
    }
    out
}

/// Index of the parenthesis closing an argument list whose opening one was just consumed.
fn close_paren(s: &str) -> usize {
    let mut depth = 1;
    let mut in_str = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced route call in mod.rs")
}

#[test]
fn the_route_table_covers_exactly_the_routers_routes() {
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.0.to_owned(), r.1.to_owned()))
        .collect();
    assert_eq!(
        table.len(),
        ROUTES.len(),
        "a route is listed twice in ROUTES"
    );
    let router = router_routes();
    let missing: Vec<_> = router.difference(&table).collect();
    let stale: Vec<_> = table.difference(&router).collect();
    assert!(
        missing.is_empty(),
        "routes without an access rule in ROUTES (tests/e2e/access.rs): {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "ROUTES lists routes the router lacks: {stale:?}"
    );
}

/// One application's resources, the ids placed into route patterns.
struct Fixture {
    app_id: String,
    app_uid: String,
    endpoint_id: String,
    msg_id: String,
    attempt_id: String,
}

/// Text only app B's data contains; no answer to A's token may include it.
const B_MARKER: &str = "b-private-7f3a";
const EVENT: &str = "access.checked";

async fn fixture(app: &TestApp, receiver: &Receiver, label: &str) -> Fixture {
    let uid = format!("portal-{label}");
    let (s, v) = app
        .post(
            "/app",
            json!({"name": format!("app {label} {B_MARKER}"), "uid": uid}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let app_id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/{label}-{B_MARKER}");
    let (endpoint_id, _) = app
        .create_endpoint(
            &app_id,
            json!({"url": receiver.url(&path), "description": B_MARKER}),
        )
        .await;
    let msg_id = app
        .send(
            &app_id,
            json!({"eventType": EVENT, "payload": {"secret": B_MARKER}}),
        )
        .await;
    receiver.wait_for(&path, 1, Duration::from_secs(10)).await;
    let attempts = app
        .wait_for(
            &format!("/app/{app_id}/attempt/msg/{msg_id}"),
            Duration::from_secs(10),
            |v| v["data"].as_array().is_some_and(|d| !d.is_empty()),
        )
        .await;
    let attempt_id = attempts["data"][0]["id"].as_str().unwrap().to_owned();
    Fixture {
        app_id,
        app_uid: uid,
        endpoint_id,
        msg_id,
        attempt_id,
    }
}

/// `pattern` with `app`'s path parameters, the application named by id or by uid.
fn path_for(pattern: &str, app_part: &str, res: &Fixture) -> String {
    pattern
        .replace("{app_id}", app_part)
        .replace("{endpoint_id}", &res.endpoint_id)
        .replace("{msg_id}", &res.msg_id)
        .replace("{attempt_id}", &res.attempt_id)
        .replace("{event_type_name}", EVENT)
        .replace("{source_id}", "src_portal")
        .replace("{token}", "not-a-receive-token")
}

/// Sends `method path` with `token` and the route's body; returns (status, body text).
async fn call_as(
    app: &TestApp,
    token: &str,
    route: &Route,
    path: &str,
    receiver: &Receiver,
) -> (u16, String) {
    let mut req = app
        .client
        .request(route.0.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if !route.3.is_empty() {
        let body = route
            .3
            .replace("{url}", &receiver.url("/portal-made"))
            .replace("{event}", EVENT);
        req = req.header("content-type", "application/json").body(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn portal_token(app: &TestApp, app_id_or_uid: &str, body: Value) -> String {
    let (s, v) = app
        .post(&format!("/auth/app-portal-access/{app_id_or_uid}"), body)
        .await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("appsk_"), "{token}");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#key={token}")),
        "{v}"
    );
    token
}

/// What app B looks like to the admin: compared before and after A's token tried
/// everything.
async fn snapshot(app: &TestApp, b: &Fixture) -> Value {
    let a = &b.app_id;
    let e = &b.endpoint_id;
    let mut out = serde_json::Map::new();
    for path in [
        "/app?limit=250".to_owned(),
        "/event-type?limit=250".to_owned(),
        format!("/event-type/{EVENT}"),
        format!("/app/{a}"),
        format!("/app/{a}/endpoint"),
        format!("/app/{a}/endpoint/{e}/secret"),
        format!("/app/{a}/endpoint/{e}/headers"),
        format!("/app/{a}/msg?with_content=true"),
        format!("/app/{a}/attempt/endpoint/{e}"),
    ] {
        let (s, v) = app.get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.insert(path, v);
    }
    Value::Object(out)
}

async fn portal_token_is_confined_to_its_app(app: TestApp) {
    let receiver = Receiver::start().await;
    let (s, v) = app
        .post("/event-type", json!({"name": EVENT, "description": "d"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let a = fixture(&app, &receiver, "a").await;
    let b = fixture(&app, &receiver, "b").await;
    // Issued by uid, the token still names the application by id.
    let token = portal_token(&app, &a.app_uid, json!({})).await;
    let read_only = portal_token(&app, &a.app_id, json!({"readOnly": true})).await;
    let before = snapshot(&app, &b).await;

    // 1. App B's routes, addressed by id and by uid; and the admin-only routes.
    for route in ROUTES {
        let targets: Vec<String> = match route.2 {
            OwnApp => vec![
                path_for(route.1, &b.app_id, &b),
                path_for(route.1, &b.app_uid, &b),
            ],
            AdminOnly | Shared | Public | Receive | OwnTask | Page => vec![
                path_for(route.1, &a.app_id, &a),
                path_for(route.1, &b.app_id, &b),
            ],
        };
        for path in targets {
            for tok in [&token, &read_only] {
                let (s, body) = call_as(&app, tok, route, &path, &receiver).await;
                let what = format!("{} {path}", route.0);
                assert!(!body.contains(B_MARKER), "{what} leaked B's data: {body}");
                match route.2 {
                    // Nothing to reach there: the page itself, or not signed in.
                    Page => assert!(s < 500, "{what}: {s} {body}"),
                    Shared | Public if route.0 == "GET" => {
                        assert!((200..300).contains(&s), "{what}: {s} {body}")
                    }
                    Receive => {
                        assert_eq!(s, 404, "{what}: {body}");
                        let v: Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(v["code"], "not_found", "{what}");
                    }
                    _ => {
                        assert_eq!(s, 403, "{what}: {body}");
                        let v: Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(v["code"], "forbidden", "{what}");
                    }
                }
            }
        }
    }

    // 2. B's resources addressed under A's own application: not found, nothing leaks.
    let own_with_foreign = Fixture {
        app_id: a.app_id.clone(),
        app_uid: a.app_uid.clone(),
        endpoint_id: b.endpoint_id.clone(),
        msg_id: b.msg_id.clone(),
        attempt_id: b.attempt_id.clone(),
    };
    // PUT may create (an endpoint of A's whose uid is B's endpoint id): it goes last.
    let mut own_routes: Vec<&Route> = ROUTES.iter().filter(|r| r.2 == OwnApp).collect();
    own_routes.sort_by_key(|r| r.0 == "PUT");
    for route in own_routes {
        let has_foreign = ["{endpoint_id}", "{msg_id}", "{attempt_id}"]
            .iter()
            .any(|p| route.1.contains(p));
        if !has_foreign {
            continue;
        }
        let path = path_for(route.1, &a.app_id, &own_with_foreign);
        let (s, body) = call_as(&app, &token, route, &path, &receiver).await;
        let what = format!("{} {path}", route.0);
        assert!(!body.contains(B_MARKER), "{what} leaked B's data: {body}");
        if route.0 != "PUT" {
            assert_eq!(s, 404, "{what}: {body}");
        } else {
            // A PUT may create a new resource of A's under the given uid; B is checked below.
            assert!(s == 404 || s < 300 || s == 422, "{what}: {s} {body}");
        }
    }

    // 3. Nothing of B's (or shared) changed.
    assert_eq!(
        snapshot(&app, &b).await,
        before,
        "app B changed under A's token"
    );

    // 4. A's own routes, by id and by uid: reached (deletes last, so the rest find A's data).
    let mut own: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| matches!(r.2, OwnApp | Shared))
        .collect();
    // Deletes last, the deepest first (a message's content before its endpoint, which takes
    // the attempts with it).
    own.sort_by_key(|r| {
        let delete = r.0 == "DELETE";
        (
            delete,
            std::cmp::Reverse(if delete { r.1.len() } else { 0 }),
        )
    });
    for (i, route) in own.iter().enumerate() {
        let app_part = if i % 2 == 0 { &a.app_id } else { &a.app_uid };
        let path = path_for(route.1, app_part, &a);
        let what = format!("{} {path}", route.0);
        let (s, body) = call_as(&app, &read_only, route, &path, &receiver).await;
        if route.0 == "GET" {
            assert!((200..300).contains(&s), "read-only {what}: {s} {body}");
        } else {
            assert_eq!(s, 403, "read-only {what}: {body}");
        }
        let (s, body) = call_as(&app, &token, route, &path, &receiver).await;
        assert!((200..300).contains(&s), "{what}: {s} {body}");
    }
}

#[tokio::test]
async fn portal_token_is_confined_to_its_app_on_sqlite() {
    portal_token_is_confined_to_its_app(spawn_app_with(|_| {}).await).await;
}

#[tokio::test]
async fn portal_token_is_confined_to_its_app_on_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let url = schema.url().to_owned();
    let app = spawn_app_with(|c| c.database_url = Some(Database::Postgres(url))).await;
    portal_token_is_confined_to_its_app(app).await;
    drop(schema);
}

#[tokio::test]
async fn bad_expired_and_foreign_portal_tokens_get_401() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_app().await;
    let claims = |expires_at| PortalClaims {
        app_id: id.clone(),
        expires_at,
        read_only: false,
        no_secrets: false,
    };
    let now = portal::unix_now();
    let good = portal::mint(TOKEN, &claims(now + 60));
    let expired = portal::mint(TOKEN, &claims(now - 1));
    let foreign = portal::mint("another-admin-token-0123456789", &claims(now + 60));
    let mut tampered = good.clone();
    tampered.push('A');
    let path = format!("/app/{id}/endpoint");
    let get = |t: String| app.client.get(app.url(&path)).bearer_auth(t).send();
    assert_eq!(get(good).await.unwrap().status(), 200);
    for bad in [
        expired,
        foreign,
        tampered,
        "appsk_".into(),
        "appsk_x".into(),
    ] {
        let resp = get(bad.clone()).await.unwrap();
        assert_eq!(resp.status(), 401, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "authentication_failed");
    }
}

#[tokio::test]
async fn portal_access_validates_its_input_and_can_create_the_app() {
    let app = spawn_app_with(|_| {}).await;
    let (s, v) = app
        .post("/auth/app-portal-access/no-such-app", json!({}))
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{v}");
    let (s, v) = app
        .post(
            "/auth/app-portal-access/made-here",
            json!({"application": {"name": "Made here"}, "featureFlags": []}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, made) = app.get("/app/made-here").await;
    assert_eq!((s, made["name"].as_str()), (200, Some("Made here")));
    for bad in [json!({"expiry": 0}), json!({"expiry": 604_801})] {
        let (s, v) = app.post("/auth/app-portal-access/made-here", bad).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("validation")), "{v}");
    }
    // A short-lived token carries its expiry.
    let (_, v) = app
        .post("/auth/app-portal-access/made-here", json!({"expiry": 60}))
        .await;
    let claims = portal::verify(TOKEN, v["token"].as_str().unwrap(), portal::unix_now()).unwrap();
    assert!(claims.expires_at <= portal::unix_now() + 60);
    assert_eq!(claims.app_id, made["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_view_only_token_reads_endpoints_but_not_their_secrets() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&id, json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    let token = portal_token(&app, &id, json!({"capabilities": ["ViewBase"]})).await;
    let call = |method: &str, path: String| {
        app.client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    let ok = call("GET", format!("/app/{id}/endpoint/{ep}"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for (method, path) in [
        ("GET", format!("/app/{id}/endpoint/{ep}/secret")),
        ("POST", format!("/app/{id}/endpoint/{ep}/secret/rotate")),
        ("PATCH", format!("/app/{id}/endpoint/{ep}")),
    ] {
        let resp = call(method, path.clone()).await.unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "forbidden");
    }
    let (s, v) = app
        .post(
            &format!("/auth/app-portal-access/{id}"),
            json!({"capabilities": ["ViewBase", "Superpowers"]}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (422, Some("validation")), "{v}");
}

/// A portal follows the recovery it started (`GET /background-task/{id}`), and no other
/// application's task, nor the list of tasks.
async fn task_own_to_the_portal_that_started_it(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let since = "2020-01-01T00:00:00Z";
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let id = app.create_app().await;
        let (ep, _) = app
            .create_endpoint(&id, json!({"url": "http://127.0.0.1:9/x"}))
            .await;
        tasks.push((id, ep));
    }
    let (a, a_ep) = &tasks[0];
    let (b, b_ep) = &tasks[1];
    let token = portal_token(&app, a, json!({})).await;
    let call = |method: &str, path: String, body: Option<Value>| {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
    };
    let resp = call(
        "POST",
        format!("/app/{a}/endpoint/{a_ep}/recover"),
        Some(json!({ "since": since })),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 202);
    let own: Value = resp.json().await.unwrap();
    let (s, other) = app
        .post(
            &format!("/app/{b}/endpoint/{b_ep}/recover"),
            json!({ "since": since }),
        )
        .await;
    assert_eq!(s, 202, "{other}");
    let resp = call(
        "GET",
        format!("/background-task/{}", own["id"].as_str().unwrap()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["data"]["appId"].as_str(), Some(a.as_str()), "{got}");
    for path in [
        format!("/background-task/{}", other["id"].as_str().unwrap()),
        "/background-task/qtask_0000000000000000000000".to_owned(),
        "/background-task".to_owned(),
    ] {
        let resp = call("GET", path.clone(), None).await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "forbidden", "{path}");
    }
}

on_both_backends!(task_own_to_the_portal_that_started_it);
