use super::{assert_validation, TestApi};
use axum::http::{Method, StatusCode};
use hookd_store::AppStore;
use hookd_store::MessageStore;
use serde_json::json;

/// Blocked by the default SSRF policy, so nothing leaves the machine.
const URL: &str = "http://127.0.0.1:9/hook";

#[tokio::test]
async fn created_messages_are_accepted_listed_and_fanned_out() {
    let api = TestApi::new();
    api.app("m").await;
    api.post(
        "/api/v1/event-type",
        json!({"name": "user.signup", "description": ""}),
    )
    .await;
    let (_, all) = api
        .post("/api/v1/app/m/endpoint", json!({"url": URL}))
        .await;
    let (_, typed) = api
        .post(
            "/api/v1/app/m/endpoint",
            json!({"url": URL, "filterTypes": ["user.signup"]}),
        )
        .await;
    api.post(
        "/api/v1/app/m/endpoint",
        json!({"url": URL, "channels": ["other"]}),
    )
    .await;

    let raw = r#"{"eventType":"user.signup","eventId":"evt-1","payload":{"b": 2, "a": [1.50]}}"#;
    let (status, msg) = api
        .raw(
            Method::POST,
            "/api/v1/app/m/msg",
            Some(super::TOKEN),
            raw.into(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
    let id = msg["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_"));
    assert_eq!(msg["payload"]["b"], 2);
    assert!(msg["timestamp"].as_str().unwrap().ends_with('Z'));

    let app = api.store.get_app("m").await.unwrap();
    let stored = api.store.get_message(&app.id, &id).await.unwrap().payload;
    assert_eq!(
        stored.as_deref(),
        Some(r#"{"b": 2, "a": [1.50]}"#),
        "payload bytes kept as sent"
    );

    let (_, list) = api.get("/api/v1/app/m/msg").await;
    assert_eq!(list["data"][0]["id"], id.as_str());
    let (_, by_event_id) = api.get("/api/v1/app/m/msg/evt-1?with_content=false").await;
    assert_eq!(
        (by_event_id["id"].as_str(), by_event_id["payload"].clone()),
        (Some(id.as_str()), json!({}))
    );

    let (status, dests) = api.get(&format!("/api/v1/app/m/msg/{id}/endpoint")).await;
    assert_eq!(status, StatusCode::OK);
    let mut got: Vec<&str> = dests["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    got.sort();
    let mut want = vec![all["id"].as_str().unwrap(), typed["id"].as_str().unwrap()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(dests["data"][0]["statusText"], "pending");

    let (status, dup) = api
        .raw(
            Method::POST,
            "/api/v1/app/m/msg",
            Some(super::TOKEN),
            raw.into(),
        )
        .await;
    assert_eq!(
        (status, dup["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let ep = all["id"].as_str().unwrap();
    let (status, body) = api
        .post(
            &format!("/api/v1/app/m/msg/{id}/endpoint/{ep}/resend"),
            json!({}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    let (status, attempts) = api
        .get(&format!("/api/v1/app/m/attempt/msg/{id}?status=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(attempts["data"].is_array());
}

#[tokio::test]
async fn invalid_messages_name_the_field() {
    let api = TestApi::new();
    api.app("bad").await;
    let cases = [
        (json!({"eventType": "a b", "payload": {}}), "eventType"),
        (json!({"eventType": "a", "payload": [1]}), "payload"),
        (json!({"eventType": "a"}), "payload"),
        (
            json!({"eventType": "a", "payload": {}, "eventId": ""}),
            "eventId",
        ),
        (
            json!({"eventType": "a", "payload": {}, "channels": vec!["x"; 11]}),
            "channels",
        ),
    ];
    for (body, field) in cases {
        let (status, resp) = api.post("/api/v1/app/bad/msg", body).await;
        assert_validation(status, &resp, field);
    }
    let (status, _) = api
        .post(
            "/api/v1/app/nope/msg",
            json!({"eventType": "a", "payload": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/api/v1/app/bad/msg?before=yesterday").await;
    assert_validation(status, &body, "before");
    let (status, body) = api
        .get("/api/v1/app/bad/attempt/msg/x?status_code_class=7")
        .await;
    assert_validation(status, &body, "status_code_class");
}

#[tokio::test]
async fn a_message_can_create_its_application() {
    let api = TestApi::new();
    let body = json!({"eventType": "a", "payload": {}, "application": {"name": "Lazy"}});
    let (status, _) = api.post("/api/v1/app/lazy-app/msg", body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, app) = api.get("/api/v1/app/lazy-app").await;
    assert_eq!(
        (status, app["name"].as_str()),
        (StatusCode::OK, Some("Lazy"))
    );
}

#[tokio::test]
async fn the_sqlite_backend_serves_the_same_flow() {
    let api = TestApi::new();
    api.app("sq").await;
    let (status, ep) = api
        .post("/api/v1/app/sq/endpoint", json!({"url": URL, "uid": "e"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let raw = r#"{"eventType":"a.b","eventId":"x1","payload":{"k":  "v"}}"#;
    let (status, msg) = api
        .raw(
            Method::POST,
            "/api/v1/app/sq/msg",
            Some(super::TOKEN),
            raw.into(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{msg}");
    let (status, _) = api
        .raw(
            Method::POST,
            "/api/v1/app/sq/msg",
            Some(super::TOKEN),
            raw.into(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, got) = api.get("/api/v1/app/sq/msg/x1").await;
    assert_eq!(got["payload"], json!({"k": "v"}));
    let (_, dests) = api
        .get(&format!(
            "/api/v1/app/sq/msg/{}/endpoint",
            msg["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(dests["data"][0]["id"], ep["id"]);
    for i in 0..6 {
        api.app(&format!("more-{i}")).await;
    }
    let (_, first) = api.get("/api/v1/app?limit=3").await;
    let it = first["iterator"].as_str().unwrap();
    let (_, second) = api.get(&format!("/api/v1/app?limit=3&iterator={it}")).await;
    let prev = second["prevIterator"].as_str().unwrap();
    let (_, back) = api
        .get(&format!("/api/v1/app?limit=3&iterator={prev}"))
        .await;
    assert_eq!(back["data"], first["data"]);
}
