//! The API over a real socket: auth, errors with stable codes, limits, paging, conflicts.

use crate::support::{spawn_app, spawn_app_with, TOKEN};
use serde_json::{json, Value};

#[tokio::test]
async fn requests_without_the_admin_token_are_refused() {
    let app = spawn_app().await;
    for token in [None, Some("wrong-token"), Some("")] {
        let mut req = app.client.get(app.url("/app"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "authentication_failed");
        assert!(body["detail"].is_string());
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "health needs no token");
}

#[tokio::test]
async fn oversized_bodies_get_413_and_nothing_is_stored() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4096).await;
    let a = app.create_app().await;
    let big = "x".repeat(8192);
    let (s, v) = app
        .post(
            &format!("/app/{a}/msg"),
            json!({"eventType": "e", "payload": {"big": big}}),
        )
        .await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["code"], "payload_too_large");
    let (_, list) = app.get(&format!("/app/{a}/msg")).await;
    assert!(list["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_never_a_500() {
    let app = spawn_app().await;
    let a = app.create_app().await;
    let raw = |path: String, body: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (path, body) in [
        (format!("/app/{a}/msg"), "{not json"),
        (
            format!("/app/{a}/msg"),
            r#"{"eventType": 5, "payload": {}}"#,
        ),
        (
            format!("/app/{a}/msg"),
            r#"{"eventType": "e", "payload": [1]}"#,
        ),
        (
            format!("/app/{a}/msg"),
            r#"{"eventType": "bad type!", "payload": {}}"#,
        ),
        (format!("/app/{a}/endpoint"), r#"{"url": "not a url"}"#),
        (
            format!("/app/{a}/endpoint"),
            r#"{"url": "ftp://example.com"}"#,
        ),
        (
            format!("/app/{a}/endpoint"),
            r#"{"url": "https://example.com", "secret": "nope"}"#,
        ),
        ("/app".to_owned(), r#"{"name": "x", "uid": "has space"}"#),
        ("/app".to_owned(), "[]"),
    ] {
        let resp = raw(path.clone(), body).await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{path} {body} -> {status} {v}"
        );
        assert!(v["code"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
        assert!(v["detail"].is_string() || v["detail"].is_array(), "{v}");
    }
    let (s, v) = app.get("/app/app_doesnotexist0000000000000/endpoint").await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, _) = app.get(&format!("/app/{a}/msg/msg_nope")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn event_id_is_unique_per_app() {
    let app = spawn_app().await;
    let a = app.create_app().await;
    let b = app.create_app().await;
    let body = json!({"eventType": "e", "payload": {}, "eventId": "evt-1"});
    let first = app.send(&a, body.clone()).await;
    let (s, v) = app.post(&format!("/app/{a}/msg"), body.clone()).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    app.send(&b, body).await;
    let (s, v) = app.get(&format!("/app/{a}/msg/evt-1")).await;
    assert_eq!((s, v["id"].as_str()), (200, Some(first.as_str())));
}

#[tokio::test]
async fn pagination_walks_every_item_once_in_both_directions() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let (s, v) = app.post("/app", json!({"name": format!("app {i}")})).await;
        assert_eq!(s, 201);
        created.push(v["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut iterator: Option<String> = None;
    loop {
        let path = match &iterator {
            Some(it) => format!("/app?limit=3&iterator={it}"),
            None => "/app?limit=3".to_owned(),
        };
        let (s, v) = app.get(&path).await;
        assert_eq!(s, 200, "{v}");
        seen.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        pages.push(v.clone());
        if v["done"] == true {
            break;
        }
        iterator = Some(v["iterator"].as_str().unwrap().to_owned());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "every app exactly once: {seen:?}");
    assert_eq!(pages.len(), 3);

    // prevIterator of the last page leads back to the middle page.
    let prev = pages[2]["prevIterator"].as_str().unwrap();
    let (_, back) = app.get(&format!("/app?limit=3&iterator={prev}")).await;
    assert_eq!(back["data"], pages[1]["data"]);
}

#[tokio::test]
async fn an_app_is_reachable_by_uid_and_get_if_exists_returns_it() {
    let app = spawn_app().await;
    let (s, v) = app
        .post("/app", json!({"name": "acme", "uid": "acme"}))
        .await;
    assert_eq!(s, 201);
    let (s, again) = app
        .post(
            "/app?get_if_exists=true",
            json!({"name": "acme", "uid": "acme"}),
        )
        .await;
    assert_eq!((s, &again["id"]), (200, &v["id"]));
    let (s, _) = app
        .post("/app", json!({"name": "acme", "uid": "acme"}))
        .await;
    assert_eq!(s, 409);
    let (s, by_uid) = app.get("/app/acme").await;
    assert_eq!((s, &by_uid["id"]), (200, &v["id"]));
    let (s, _) = app.call("DELETE", "/app/acme", None).await;
    assert_eq!(s, 204);
    let (s, _) = app.get("/app/acme").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn https_only_refuses_http_endpoint_urls() {
    let app = spawn_app_with(|c| c.https_only = true).await;
    let a = app.create_app().await;
    let (s, body) = app
        .post(
            &format!("/app/{a}/endpoint"),
            json!({"url": "http://example.com/hook"}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "url"]));
    let (s, ep) = app
        .post(
            &format!("/app/{a}/endpoint"),
            json!({"url": "https://example.com/hook"}),
        )
        .await;
    assert_eq!(s, 201, "{ep}");
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/app/{a}/endpoint/{}", ep["id"].as_str().unwrap()),
            Some(json!({"url": "http://example.com/other"})),
        )
        .await;
    assert_eq!(s, 422);
}
