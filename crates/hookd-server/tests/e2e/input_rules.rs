//! Input rules that hold the same on both backends (issue 12, items 1 and 7): text no
//! database can hold (a NUL) is refused before it reaches the store (a path names nothing:
//! 404; a query parameter or body field: 422 naming it), while a message payload holding
//! one is kept and delivered byte for byte, and a signed ingest event whose id or type
//! holds one is stored and de-duplicated; `null` on a field that is not nullable, a uid
//! shaped like an id, an endpoint URL without a host or with port 0 and an example of an
//! unknown event type are all 422 naming the field.

use crate::hostile::receive::signers;
use crate::support::{spawn_on, Backend, TestApp};
use hookd_core::ids::{AppId, EndpointId, MsgId, SourceId};
use hookd_ingest::Provider;
use hookd_testkit::Receiver;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_nul_in_a_path_is_not_found_and_in_a_query_is_422,
    a_nul_in_a_body_string_is_422_naming_the_field,
    a_payload_holding_a_nul_is_kept_and_delivered_byte_for_byte,
    a_signed_ingest_event_with_a_nul_in_its_id_or_type_is_stored_and_deduplicated,
    null_on_a_field_that_is_not_nullable_is_422,
    a_uid_shaped_like_an_id_is_refused,
    endpoint_urls_need_a_written_host_and_a_port,
    send_example_of_an_unknown_event_type_is_422,
);

const EVENT: &str = "rules.checked";
const WAIT: Duration = Duration::from_secs(15);

/// Sends `method path` with a raw body (or none); returns (status, JSON body).
async fn raw(app: &TestApp, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(crate::support::TOKEN);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: {status}, not JSON: {text:?}"));
    (status, v)
}

/// The `loc` of a 422 `validation` answer.
fn loc(v: &Value) -> Vec<String> {
    assert_eq!(v["code"], "validation", "{v}");
    v["detail"][0]["loc"]
        .as_array()
        .unwrap_or_else(|| panic!("no loc: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// An app with an endpoint (to `rx` at `/rules`) and a message; returns their ids.
async fn setup(app: &TestApp, rx: &Receiver) -> (String, String, String) {
    let (s, v) = app
        .post("/event-type", json!({"name": EVENT, "description": "d"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post("/app", json!({"name": "rules", "uid": "rules-app"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let app_id = v["id"].as_str().unwrap().to_owned();
    let (ep, _) = app
        .create_endpoint(&app_id, json!({"url": rx.url("/rules")}))
        .await;
    let msg = app
        .send(&app_id, json!({"eventType": EVENT, "payload": {"n": 1}}))
        .await;
    (app_id, ep, msg)
}

async fn a_nul_in_a_path_is_not_found_and_in_a_query_is_422(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, msg) = setup(&app, &rx).await;
    for path in [
        "/app/rules%00app".to_owned(),
        "/app/%00".to_owned(),
        format!("/app/{a}/endpoint/ep%00x"),
        format!("/app/{a}/msg/{msg}%00"),
        format!("/app/{a}/msg/{msg}/attempt/atmpt%00"),
        format!("/app/{a}/attempt/endpoint/{ep}%00"),
        "/event-type/rules%00checked".to_owned(),
        "/background-task/qtask_%00".to_owned(),
        "/ingest/api/v1/source/src%00".to_owned(),
        "/ingest/tok%00en".to_owned(),
    ] {
        for method in ["GET", "DELETE", "PUT", "PATCH", "POST"] {
            let (s, v) = raw(&app, method, &path, Some(r#"{"name":"n"}"#)).await;
            // 404 where the route has this method, 405 where it has not.
            assert!(s == 404 || s == 405, "{method} {path}: {s} {v}");
            if s == 404 {
                assert_eq!(v["code"], "not_found", "{method} {path}: {v}");
            }
        }
    }
    for (path, param) in [
        ("/app?iterator=a%00b".to_owned(), "iterator"),
        ("/app?limit=1&iterator=%00".to_owned(), "iterator"),
        (format!("/app/{a}/msg?channel=a%00b"), "channel"),
        (format!("/app/{a}/msg?event_types=x,a%00b"), "event_types"),
        (
            format!("/app/{a}/attempt/endpoint/{ep}?channel=%00"),
            "channel",
        ),
        (format!("/app/{a}/attempt/msg/{msg}?tag=%00"), "tag"),
        ("/event-type?iterator=%00".to_owned(), "iterator"),
        ("/ingest/api/v1/source?iterator=x%00".to_owned(), "iterator"),
    ] {
        let (s, v) = raw(&app, "GET", &path, None).await;
        assert_eq!(s, 422, "{path}: {v}");
        assert_eq!(loc(&v), ["query", param], "{path}: {v}");
    }
    // Not UTF-8 (percent-encoded): a JSON 4xx, never a 5xx.
    for path in [
        "/app/%ff".to_owned(),
        format!("/app/{a}/msg/%c3%28"),
        "/app?iterator=%ff".to_owned(),
        format!("/app/{a}/msg?channel=%ff%fe"),
        "/ingest/%ff".to_owned(),
    ] {
        let (s, v) = raw(&app, "GET", &path, None).await;
        assert!((200..500).contains(&s), "{path}: {s} {v}");
        if s >= 400 {
            assert!(
                v["code"].is_string() && !v["detail"].is_null(),
                "{path}: {v}"
            );
        }
    }
    // The data is all still there.
    let (s, v) = app.get(&format!("/app/{a}/msg/{msg}")).await;
    assert_eq!(s, 200, "{v}");
}

async fn a_nul_in_a_body_string_is_422_naming_the_field(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, _) = setup(&app, &rx).await;
    let url = rx.url("/rules");
    let cases: Vec<(&str, String, String, &[&str])> = vec![
        (
            "POST",
            "/app".into(),
            r#"{"name":"a\u0000b"}"#.into(),
            &["name"],
        ),
        (
            "POST",
            "/app".into(),
            r#"{"name":"a","metadata":{"k":"v\u0000"}}"#.into(),
            &["metadata", "k"],
        ),
        (
            "POST",
            "/app".into(),
            r#"{"name":"a","uid":"\u0000"}"#.into(),
            &["uid"],
        ),
        (
            "PUT",
            format!("/app/{a}"),
            r#"{"name":"a","metadata":{"\u0000":"v"}}"#.into(),
            &["metadata", "\u{0}"],
        ),
        (
            "PATCH",
            format!("/app/{a}"),
            r#"{"name":"\u0000"}"#.into(),
            &["name"],
        ),
        (
            "POST",
            "/event-type".into(),
            r#"{"name":"n.x","description":"d\u0000"}"#.into(),
            &["description"],
        ),
        (
            "POST",
            "/event-type".into(),
            r#"{"name":"n.x","description":"d","schemas":{"1":{"title":"\u0000"}}}"#.into(),
            &["schemas", "1", "title"],
        ),
        (
            "POST",
            format!("/app/{a}/endpoint"),
            format!(r#"{{"url":"{url}","description":"\u0000"}}"#),
            &["description"],
        ),
        (
            "POST",
            format!("/app/{a}/endpoint"),
            format!(r#"{{"url":"{url}","channels":["a","b\u0000"]}}"#),
            &["channels", "1"],
        ),
        (
            "POST",
            format!("/app/{a}/endpoint"),
            format!(r#"{{"url":"{url}","filterTypes":["\u0000"]}}"#),
            &["filterTypes", "0"],
        ),
        (
            "POST",
            format!("/app/{a}/endpoint"),
            r#"{"url":"http://127.0.0.1:9/\u0000"}"#.into(),
            &["url"],
        ),
        (
            "PATCH",
            format!("/app/{a}/endpoint/{ep}"),
            r#"{"metadata":{"k":"\u0000"}}"#.into(),
            &["metadata", "k"],
        ),
        (
            "PUT",
            format!("/app/{a}/endpoint/{ep}/headers"),
            r#"{"headers":{"x-a\u0000":"v"}}"#.into(),
            &["headers", "x-a\u{0}"],
        ),
        (
            "POST",
            format!("/app/{a}/msg"),
            format!(r#"{{"eventType":"{EVENT}","eventId":"e\u0000","payload":{{}}}}"#),
            &["eventId"],
        ),
        (
            "POST",
            format!("/app/{a}/msg"),
            format!(r#"{{"eventType":"{EVENT}","payload":{{}},"channels":["\u0000"]}}"#),
            &["channels", "0"],
        ),
        (
            "POST",
            format!("/app/{a}/msg"),
            format!(r#"{{"eventType":"{EVENT}","payload":{{}},"tags":["t\u0000"]}}"#),
            &["tags", "0"],
        ),
        (
            "POST",
            "/app/made-by-msg/msg".into(),
            format!(
                r#"{{"eventType":"{EVENT}","payload":{{}},"application":{{"name":"\u0000"}}}}"#
            ),
            &["application", "name"],
        ),
        (
            "POST",
            "/ingest/api/v1/source".into(),
            r#"{"name":"s\u0000","type":"github","config":{"secret":"x"}}"#.into(),
            &["name"],
        ),
        (
            "POST",
            "/ingest/api/v1/source".into(),
            r#"{"name":"s","type":"github","config":{"secret":"x\u0000"}}"#.into(),
            &["config", "secret"],
        ),
    ];
    for (method, path, body, want) in &cases {
        let (s, v) = raw(&app, method, path, Some(body)).await;
        assert_eq!(s, 422, "{method} {path} {body}: {v}");
        let mut expected = vec!["body".to_owned()];
        expected.extend(want.iter().map(|s| s.to_string()));
        assert_eq!(loc(&v), expected, "{method} {path} {body}: {v}");
        assert!(
            v["detail"][0]["msg"].as_str().unwrap().contains("NUL"),
            "{v}"
        );
    }
    // Nothing of it was stored.
    let (_, apps) = app.get("/app?limit=250").await;
    assert_eq!(apps["data"].as_array().unwrap().len(), 1, "{apps}");
    let (_, a_now) = app.get(&format!("/app/{a}")).await;
    assert_eq!(a_now["name"], "rules");
}

async fn a_payload_holding_a_nul_is_kept_and_delivered_byte_for_byte(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, _, _) = setup(&app, &rx).await;
    let payload =
        r#"{"text":"before\u0000after","nested":["\u0000",{"k\u0000":1}],"esc":"\\u0000"}"#;
    let body = format!(r#"{{"eventType":"{EVENT}","payload":{payload}}}"#);
    let (s, v) = raw(&app, "POST", &format!("/app/{a}/msg"), Some(&body)).await;
    assert_eq!(s, 202, "{v}");
    let id = v["id"].as_str().unwrap();
    let got = rx.wait_for("/rules", 2, WAIT).await;
    let delivered = got
        .iter()
        .find(|r| r.headers["webhook-id"] == id)
        .expect("the message was delivered");
    assert_eq!(
        std::str::from_utf8(&delivered.body).unwrap(),
        payload,
        "delivered bytes differ from the payload sent"
    );
    let (s, v) = app.get(&format!("/app/{a}/msg/{id}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["payload"]["text"], "before\u{0}after");
    assert_eq!(v["payload"]["esc"], "\\u0000");
}

/// The `stripe-signature` of `body`, signed now.
fn stripe_signature(secret: &str, body: &[u8]) -> HeaderValue {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let req = signers::sign(Provider::Stripe, secret, body, now);
    req.headers["stripe-signature"].clone()
}

async fn a_signed_ingest_event_with_a_nul_in_its_id_or_type_is_stored_and_deduplicated(
    backend: Backend,
) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let secret = "whsec_stripe_rules_0123456789";
    let (id, ingest_url) = app.create_source("stripe", secret).await;
    let (id, ingest_url) = (id.as_str(), ingest_url.as_str());
    let (s, v) = app
        .post(
            &format!("/ingest/api/v1/source/{id}/endpoint"),
            json!({"url": rx.url("/stripe")}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let send = |body: String| {
        let sig = stripe_signature(secret, body.as_bytes());
        app.client
            .post(ingest_url)
            .header("content-type", "application/json")
            .header("stripe-signature", sig)
            .body(body)
            .send()
    };
    let long_id = format!("evt_{}", "x".repeat(10_000));
    let events = [
        r#"{"id":"evt_\u0000x","type":"invoice.\u0000paid"}"#.to_owned(),
        r#"{"id":"evt_\u0000y","type":"invoice.paid"}"#.to_owned(),
        format!(r#"{{"id":"{long_id}","type":"{}"}}"#, "t".repeat(5000)),
        r#"{"id":"evt_\r\nx-injected: 1","type":"a\u0000"}"#.to_owned(),
    ];
    let mut first_ids = Vec::new();
    for body in &events {
        let resp = send(body.clone()).await.unwrap();
        assert_eq!(resp.status(), 204, "{body}: {:?}", resp.text().await);
        assert!(resp.headers().get("x-hookd-duplicate").is_none(), "{body}");
        first_ids.push(resp.headers()["x-hookd-msg-id"].clone());
    }
    // A provider retry of each is acknowledged as the same message and not stored again.
    for (body, first) in events.iter().zip(&first_ids) {
        let resp = send(body.clone()).await.unwrap();
        assert_eq!(resp.status(), 204, "{body}");
        assert_eq!(resp.headers()["x-hookd-duplicate"], "true", "{body}");
        assert_eq!(&resp.headers()["x-hookd-msg-id"], first, "{body}");
    }
    // Each event is forwarded once, byte for byte, with a provider event id a header can
    // carry.
    let got = rx.wait_for("/stripe", events.len(), WAIT).await;
    for body in &events {
        let fwd = got
            .iter()
            .find(|r| r.body == body.as_bytes())
            .unwrap_or_else(|| panic!("{body} was not forwarded"));
        let provider_id = fwd.headers["x-hookd-provider-event-id"].to_str().unwrap();
        assert!(provider_id.starts_with("\\sha256:"), "{provider_id}");
    }
    // And stored once: the source's application holds one message per event.
    let (s, msgs) = app.get(&format!("/app/{}/msg", fwd_app_uid(id))).await;
    assert_eq!(s, 200, "{msgs}");
    assert_eq!(
        msgs["data"].as_array().unwrap().len(),
        events.len(),
        "{msgs}"
    );
}

/// The uid of the internal application holding a source's events.
fn fwd_app_uid(source_id: &str) -> String {
    hookd_server::api::ingest::source::app_uid(&SourceId::parse(source_id).unwrap())
}

async fn null_on_a_field_that_is_not_nullable_is_422(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, _) = setup(&app, &rx).await;
    let refused: &[(String, &str)] = &[
        (format!("/app/{a}"), "name"),
        (format!("/app/{a}"), "metadata"),
        (format!("/app/{a}/endpoint/{ep}"), "url"),
        (format!("/app/{a}/endpoint/{ep}"), "description"),
        (format!("/app/{a}/endpoint/{ep}"), "disabled"),
        (format!("/app/{a}/endpoint/{ep}"), "metadata"),
        (format!("/app/{a}/endpoint/{ep}"), "version"),
        (format!("/event-type/{EVENT}"), "description"),
        (format!("/event-type/{EVENT}"), "archived"),
        (format!("/event-type/{EVENT}"), "deprecated"),
    ];
    for (path, field) in refused {
        let (s, v) = app.call("PATCH", path, Some(json!({ *field: null }))).await;
        assert_eq!(s, 422, "PATCH {path} {field}: null: {v}");
        assert_eq!(loc(&v), ["body", field], "{v}");
    }
    let (_, ep_now) = app.get(&format!("/app/{a}/endpoint/{ep}")).await;
    assert_eq!(ep_now["url"], rx.url("/rules"), "{ep_now}");
    let (_, app_now) = app.get(&format!("/app/{a}")).await;
    assert_eq!(app_now["name"], "rules", "{app_now}");

    // Fields Svix's model makes nullable still clear with null.
    let cleared: &[(String, Value)] = &[
        (
            format!("/app/{a}"),
            json!({"uid": null, "throttleRate": null}),
        ),
        (
            format!("/app/{a}/endpoint/{ep}"),
            json!({"uid": null, "channels": null, "filterTypes": null, "throttleRate": null}),
        ),
        (
            format!("/event-type/{EVENT}"),
            json!({"schemas": null, "featureFlag": null}),
        ),
    ];
    for (path, body) in cleared {
        let (s, v) = app.call("PATCH", path, Some(body.clone())).await;
        assert_eq!(s, 200, "PATCH {path} {body}: {v}");
    }
    let (_, app_now) = app.get(&format!("/app/{a}")).await;
    assert_eq!(app_now["uid"], Value::Null, "{app_now}");
}

async fn a_uid_shaped_like_an_id_is_refused(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, _) = setup(&app, &rx).await;
    let app_like = AppId::generate().to_string();
    let ep_like = EndpointId::generate().to_string();
    let msg_like = MsgId::generate().to_string();
    let src_like = SourceId::generate().to_string();
    let url = rx.url("/rules");
    let cases: Vec<(&str, String, Value, &str)> = vec![
        ("POST", "/app".into(), json!({"name": "x", "uid": a}), "uid"),
        (
            "POST",
            "/app".into(),
            json!({"name": "x", "uid": app_like}),
            "uid",
        ),
        (
            "PATCH",
            format!("/app/{a}"),
            json!({"uid": app_like}),
            "uid",
        ),
        // PUT on an unknown id-shaped path would create an app with it as its uid.
        (
            "PUT",
            format!("/app/{app_like}"),
            json!({"name": "x"}),
            "uid",
        ),
        (
            "POST",
            format!("/app/{a}/endpoint"),
            json!({"url": url, "uid": ep}),
            "uid",
        ),
        (
            "PATCH",
            format!("/app/{a}/endpoint/{ep}"),
            json!({"uid": ep_like}),
            "uid",
        ),
        (
            "PUT",
            format!("/app/{a}/endpoint/{ep_like}"),
            json!({"url": url}),
            "uid",
        ),
        (
            "POST",
            format!("/app/{a}/msg"),
            json!({"eventType": EVENT, "payload": {}, "eventId": msg_like}),
            "eventId",
        ),
        (
            "POST",
            "/ingest/api/v1/source".into(),
            json!({"name": "s", "uid": src_like, "type": "github", "config": {"secret": "x"}}),
            "uid",
        ),
    ];
    for (method, path, body, field) in &cases {
        let (s, v) = app.call(method, path, Some(body.clone())).await;
        assert_eq!(s, 422, "{method} {path} {body}: {v}");
        assert_eq!(loc(&v), ["body", field], "{v}");
        let msg = v["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.contains("shape of an id"), "{msg}");
    }
    // Another resource's prefix, or a prefix without an id's shape, is an ordinary uid.
    for uid in [ep_like.as_str(), "app_not-an-id", "app_"] {
        let (s, v) = app.post("/app", json!({"name": "ok", "uid": uid})).await;
        assert_eq!(s, 201, "{uid}: {v}");
    }
}

async fn endpoint_urls_need_a_written_host_and_a_port(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, _) = setup(&app, &rx).await;
    let (src, _) = app.create_source("github", "x").await;
    let src = src.as_str();
    for bad in [
        "http:///path",
        "https:///",
        "http:/127.0.0.1/x",
        "http:127.0.0.1/x",
        "http://127.0.0.1:0/x",
        "https://example.com:0",
    ] {
        for (method, path) in [
            ("POST", format!("/app/{a}/endpoint")),
            ("PUT", format!("/app/{a}/endpoint/{ep}")),
            ("PATCH", format!("/app/{a}/endpoint/{ep}")),
            ("POST", format!("/ingest/api/v1/source/{src}/endpoint")),
        ] {
            let (s, v) = app.call(method, &path, Some(json!({ "url": bad }))).await;
            assert_eq!(s, 422, "{method} {path} {bad}: {v}");
            assert_eq!(loc(&v), ["body", "url"], "{v}");
        }
    }
    let (_, now) = app.get(&format!("/app/{a}/endpoint/{ep}")).await;
    assert_eq!(now["url"], rx.url("/rules"), "{now}");
}

async fn send_example_of_an_unknown_event_type_is_422(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (a, ep, _) = setup(&app, &rx).await;
    let path = format!("/app/{a}/endpoint/{ep}/send-example");
    let (s, v) = app.post(&path, json!({"eventType": "no.such.type"})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(loc(&v), ["body", "eventType"]);
    let msg = v["detail"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("does not exist"), "{msg}");
    // The same words as a subscription to an unknown type.
    let (s, sub) = app
        .post(
            &format!("/app/{a}/endpoint"),
            json!({"url": rx.url("/x"), "filterTypes": ["no.such.type"]}),
        )
        .await;
    assert_eq!(s, 422, "{sub}");
    assert_eq!(
        sub["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .replace("filterTypes", "eventType"),
        msg
    );
    let (_, msgs) = app.get(&format!("/app/{a}/msg")).await;
    assert_eq!(msgs["data"].as_array().unwrap().len(), 1, "{msgs}");
    // A known type still works.
    let (s, v) = app.post(&path, json!({"eventType": EVENT})).await;
    assert_eq!(s, 200, "{v}");
}
