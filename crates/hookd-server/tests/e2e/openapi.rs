//! The served OpenAPI document and reference page: `GET /api/v1/openapi.json` is the
//! generated document (no token needed), it documents exactly the routes the router has
//! (the [`ROUTES`] table, itself checked against the router's source), and `GET /docs`
//! renders it as a page that needs nothing from elsewhere.

use crate::access::ROUTES;
use crate::support::spawn_app;
use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;
use std::collections::BTreeSet;

/// A route's path as the document writes it: under `/api/v1` unless it lives at the root.
fn full_path(pattern: &str) -> String {
    if pattern.starts_with("/ingest/") || pattern == "/metrics" || pattern == "/docs" {
        pattern.to_owned()
    } else {
        format!("/api/v1{pattern}")
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_documents_every_route() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    // No token: API clients and code generators fetch it before they have one.
    let resp = client
        .get(format!("{}/api/v1/openapi.json", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served = resp.text().await.unwrap();
    assert_eq!(served, hookd_server::api::openapi::document());

    let doc: Value = serde_json::from_str(&served).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // The portal's and dashboard's pages and the dashboard's own routes are not API
    // operations: they are left out of the document.
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| {
            !["/portal", "/ui", "/assets/"]
                .iter()
                .any(|p| r.1.starts_with(p))
        })
        .map(|r| (r.0.to_owned(), full_path(r.1)))
        .collect();
    // `PUT /ingest/{token}` is the same operation as POST (documented once, on POST).
    let routed: BTreeSet<_> = routed
        .into_iter()
        .filter(|(m, p)| !(m == "PUT" && p == "/ingest/{token}"))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented routes the router lacks: {unrouted:?}"
    );
}

#[tokio::test]
async fn the_reference_page_works_offline_with_a_strict_policy() {
    let app = spawn_app().await;
    let resp = reqwest::get(format!("{}/docs", app.root)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = resp.text().await.unwrap();

    // Nothing but the inline stylesheet is allowed, and the policy's hash is that
    // stylesheet's, so a browser applies it.
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let style = page
        .split("<style>")
        .nth(1)
        .and_then(|rest| rest.split("</style>").next())
        .expect("an inline stylesheet");
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    // No script, and nothing loaded from another origin.
    assert!(!page.contains("<script"));
    for attr in [
        "src=\"http",
        "href=\"http",
        "href=\"//",
        "src=\"//",
        "@import",
        "url(",
    ] {
        assert!(!page.contains(attr), "the page refers elsewhere: {attr}");
    }
    // Every operation and schema is on it.
    let doc: Value = serde_json::from_str(hookd_server::api::openapi::document()).unwrap();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                page.contains(&format!("<code>{id}</code>")),
                "{id} is not on the page"
            );
        }
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let anchor: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        assert!(
            page.contains(&format!("id=\"schema-{anchor}\"")),
            "{name} is not on the page"
        );
    }
}
