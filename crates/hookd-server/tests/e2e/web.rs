//! The portal's and dashboard's HTTP side (the pages themselves are tested in a browser,
//! tests/ui): their headers, the embedded assets, and the dashboard's session: sign-in,
//! the cookie's flags, the CSRF header on every use, sign-out, and the refusals.

use crate::support::{spawn_app_with, spawn_on, Backend, TestApp, TOKEN};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{json, Value};

fn root(app: &TestApp, path: &str) -> String {
    app.url(path)
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, String) {
    let mut req = app.client.get(root(app, path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let (s, h) = (resp.status().as_u16(), resp.headers().clone());
    (s, h, resp.text().await.unwrap())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn pages_carry_their_security_headers_and_the_configured_frame_ancestors() {
    let app = spawn_app_with(|c| {
        c.portal_frame_ancestors = "'self' https://app.example.com".into();
    })
    .await;
    let (s, h, body) = get(&app, "/ui", &[]).await;
    assert_eq!(s, 200);
    assert!(body.contains("/assets/ui.js"), "{body}");
    let csp = header(&h, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&h, "x-frame-options"), "DENY");
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert_eq!(header(&h, "referrer-policy"), "no-referrer");
    assert_eq!(header(&h, "cache-control"), "no-store");

    for path in ["/portal", "/portal/app_anything"] {
        let (s, h, body) = get(&app, path, &[]).await;
        assert_eq!(s, 200, "{path}");
        assert!(body.contains("/assets/portal.js"));
        let csp = header(&h, "content-security-policy");
        assert!(
            csp.ends_with("frame-ancestors 'self' https://app.example.com"),
            "{csp}"
        );
        assert!(
            h.get("x-frame-options").is_none(),
            "the portal may be framed"
        );
        assert_eq!(header(&h, "referrer-policy"), "no-referrer");
    }
}

#[tokio::test]
async fn assets_are_embedded_and_revalidated_by_entity_tag() {
    let app = spawn_app_with(|_| {}).await;
    for (name, kind) in [
        ("common.js", "text/javascript"),
        ("portal.js", "text/javascript"),
        ("ui.js", "text/javascript"),
        ("hookd.css", "text/css"),
    ] {
        let (s, h, body) = get(&app, &format!("/assets/{name}"), &[]).await;
        assert_eq!(s, 200, "{name}");
        assert!(header(&h, "content-type").starts_with(kind), "{name}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(header(&h, "cache-control"), "no-cache");
        assert!(!body.is_empty());
        let etag = header(&h, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
        let (s, _, body) = get(
            &app,
            &format!("/assets/{name}"),
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!((s, body.as_str()), (304, ""), "{name}");
    }
    let (s, _, body) = get(&app, "/assets/..%2Fsrc%2Flib.rs", &[]).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
}

/// The session cookie and the CSRF token from a sign-in.
async fn sign_in(app: &TestApp) -> (String, String) {
    let resp = app
        .client
        .post(root(app, "/ui/session"))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set = header(resp.headers(), "set-cookie").to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain http: no Secure flag ({set})"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let v: Value = resp.json().await.unwrap();
    (cookie, v["csrf"].as_str().unwrap().to_owned())
}

async fn dashboard_session_is_the_admin_with_its_csrf_header(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let (cookie, csrf) = sign_in(&app).await;
    let call = |method: &str, path: &str, headers: Vec<(&'static str, String)>| {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("content-type", "application/json");
        if method == "POST" {
            req = req.body(json!({"name": "made from the dashboard"}).to_string());
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // The cookie with its CSRF header: admin, on the API and the ingest API.
    let with = || vec![("cookie", cookie.clone()), ("x-hookd-csrf", csrf.clone())];
    let resp = call("POST", "/app", with()).await.unwrap();
    assert_eq!(resp.status(), 201);
    for path in ["/app", "/ingest/api/v1/source", "/ui/metrics"] {
        let resp = call("GET", path, with()).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    let page = call("GET", "/ui/metrics", with())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("hookd_deliveries_total"), "{page}");
    // The cookie alone, or with another session's CSRF token: refused, reads included.
    let (_, other_csrf) = sign_in(&app).await;
    for headers in [
        vec![("cookie", cookie.clone())],
        vec![
            ("cookie", cookie.clone()),
            ("x-hookd-csrf", other_csrf.clone()),
        ],
    ] {
        for (method, path) in [("POST", "/app"), ("GET", "/app"), ("GET", "/ui/metrics")] {
            let resp = call(method, path, headers.clone()).await.unwrap();
            assert_eq!(resp.status(), 403, "{method} {path}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["code"], "forbidden");
        }
    }
    // A forged cookie: 401.
    let resp = call(
        "GET",
        "/app",
        vec![("cookie", "hookd_session=v1.9999999999.x.y".into())],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    // The session answers its CSRF token again; sign-out needs it and clears the cookie.
    let (s, _, body) = get(&app, "/ui/session", &[("cookie", &cookie)]).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["csrf"].as_str(), Some(csrf.as_str()));
    let resp = call("DELETE", "/ui/session", vec![("cookie", cookie.clone())])
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = call("DELETE", "/ui/session", with()).await.unwrap();
    assert_eq!(resp.status(), 204);
    let cleared = header(resp.headers(), SET_COOKIE.as_str()).to_owned();
    assert!(
        cleared.starts_with("hookd_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Without a cookie, no session.
    let (s, _, _) = get(&app, "/ui/session", &[]).await;
    assert_eq!(s, 401);
}

on_both_backends!(dashboard_session_is_the_admin_with_its_csrf_header);

#[tokio::test]
async fn sign_in_refuses_a_wrong_token_another_origin_and_a_portal_token() {
    let app = spawn_app_with(|_| {}).await;
    let post = |headers: Vec<(&'static str, &'static str)>, body: Value| {
        let mut req = app.client.post(app.url("/ui/session")).json(&body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let resp = post(vec![], json!({"token": "not-the-admin-token"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "https://evil.example")],
    ] {
        let resp = post(headers.clone(), json!({ "token": TOKEN }))
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{headers:?}");
        assert!(resp.headers().get(SET_COOKIE).is_none());
    }
    let resp = post(vec![], json!({"nothing": 1})).await.unwrap();
    assert_eq!(resp.status(), 422);
    // A portal token does not reach the dashboard's metrics.
    let id = app.create_app().await;
    let (_, v) = app
        .post(&format!("/auth/app-portal-access/{id}"), json!({}))
        .await;
    let resp = app
        .client
        .get(app.url("/ui/metrics"))
        .bearer_auth(v["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The link opens the portal page; the token rides in the fragment only.
    let url = v["url"].as_str().unwrap();
    let (page, fragment) = url.split_once('#').unwrap();
    assert!(page.ends_with(&format!("/portal/{id}")), "{url}");
    assert!(fragment.starts_with("key=appsk_"), "{url}");
    let resp = app.client.get(page).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
