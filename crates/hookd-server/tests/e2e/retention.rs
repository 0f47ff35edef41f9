//! Idempotency keys and data retention over a real socket, on SQLite and PostgreSQL:
//! retried POSTs replay the first response, payloads and attempt bodies can be expunged,
//! and the cleaner removes what has expired.

use crate::support::{spawn_on, Backend, TestApp, TOKEN};
use hookd_testkit::{poll_until, Answer, Receiver};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_retried_message_create_replays_the_first_response_and_stores_one_message,
    a_reused_key_with_another_request_gets_422,
    concurrent_retries_run_the_request_once,
    bad_keys_are_refused_and_other_methods_ignore_the_header,
    keys_expire_after_the_configured_time,
    expunged_message_content_reads_back_empty_and_pending_deliveries_settle,
    attempt_content_can_be_expunged,
    payload_retention_period_is_validated,
    the_cleaner_deletes_attempts_past_their_retention,
);

/// Status, headers and raw body of a POST with an idempotency key.
async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = app
        .client
        .post(app.url(path))
        .bearer_auth(TOKEN)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

async fn message_count(app: &TestApp, a: &str) -> usize {
    let (s, v) = app.get(&format!("/app/{a}/msg?limit=250")).await;
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().unwrap().len()
}

async fn a_retried_message_create_replays_the_first_response_and_stores_one_message(
    backend: Backend,
) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/hook")}))
        .await;
    let body = json!({"eventType": "invoice.paid", "payload": {"n": 1, "s": "é"}});
    let path = format!("/app/{a}/msg");
    let (s1, h1, b1) = post_with_key(&app, &path, "create-1", &body).await;
    assert_eq!(s1, 202, "{b1}");
    assert!(h1.get("idempotent-replayed").is_none());
    let (s2, h2, b2) = post_with_key(&app, &path, "create-1", &body).await;
    assert_eq!(s2, 202);
    assert_eq!(b2, b1, "the replay is byte-identical");
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(h2["content-type"], "application/json");

    assert_eq!(message_count(&app, &a).await, 1);
    rx.wait_for("/hook", 1, Duration::from_secs(10)).await;
    // Another key is another message.
    let (s3, _, b3) = post_with_key(&app, &path, "create-2", &body).await;
    assert_eq!(s3, 202);
    assert_ne!(b3, b1);
    assert_eq!(message_count(&app, &a).await, 2);
}

async fn a_reused_key_with_another_request_gets_422(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let a = app.create_app().await;
    let path = format!("/app/{a}/msg");
    let body = json!({"eventType": "e", "payload": {"n": 1}});
    let (s, _, _) = post_with_key(&app, &path, "k", &body).await;
    assert_eq!(s, 202);
    for (path, body) in [
        (path.clone(), json!({"eventType": "e", "payload": {"n": 2}})),
        ("/app".to_owned(), body.clone()),
    ] {
        let (s, _, text) = post_with_key(&app, &path, "k", &body).await;
        assert_eq!(s, 422, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["code"], "idempotency_key_reused");
        assert_eq!(v["detail"][0]["loc"], json!(["header", "idempotency-key"]));
    }
    assert_eq!(message_count(&app, &a).await, 1);
    // Client errors are stored too: the same bad request gets the same 422 again.
    let bad = json!({"eventType": "e", "payload": "not an object"});
    let (s1, _, b1) = post_with_key(&app, &path, "bad", &bad).await;
    let (s2, h2, b2) = post_with_key(&app, &path, "bad", &bad).await;
    assert_eq!((s1, s2), (422, 422));
    assert_eq!(b1, b2);
    assert_eq!(h2["idempotent-replayed"], "true");
}

async fn concurrent_retries_run_the_request_once(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let a = app.create_app().await;
    let path = format!("/app/{a}/msg");
    let body = json!({"eventType": "e", "payload": {"n": 1}});
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let req = app
            .client
            .post(app.url(&path))
            .bearer_auth(TOKEN)
            .header("idempotency-key", "same")
            .json(&body);
        tries.spawn(async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        });
    }
    let mut created = None;
    while let Some(result) = tries.join_next().await {
        let (status, text) = result.unwrap();
        match status {
            202 => {
                // Every 202 is the one response, replayed.
                assert_eq!(created.get_or_insert_with(|| text.clone()), &text);
            }
            // Retries wait for the first request's answer; 409 only after 5 s.
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(created.is_some());
    assert_eq!(message_count(&app, &a).await, 1);
}

async fn bad_keys_are_refused_and_other_methods_ignore_the_header(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let a = app.create_app().await;
    let path = format!("/app/{a}/msg");
    let body = json!({"eventType": "e", "payload": {}});
    for key in ["", &"k".repeat(257), "with space"] {
        let (s, _, text) = post_with_key(&app, &path, key, &body).await;
        assert_eq!(s, 422, "{key:?}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["code"], "validation");
    }
    assert_eq!(message_count(&app, &a).await, 0);
    // GET and PUT with a key behave as without one.
    for _ in 0..2 {
        let resp = app
            .client
            .put(app.url(&format!("/app/{a}")))
            .bearer_auth(TOKEN)
            .header("idempotency-key", "put-key")
            .json(&json!({"name": "renamed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("idempotent-replayed").is_none());
    }
    // Without credentials the key is never looked at: 401 first.
    let resp = app
        .client
        .post(app.url(&path))
        .header("idempotency-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn keys_expire_after_the_configured_time(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.idempotency_ttl = Duration::from_millis(300);
        c.cleaner_interval = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let a = app.create_app().await;
    let path = format!("/app/{a}/msg");
    let (s, _, _) = post_with_key(
        &app,
        &path,
        "short",
        &json!({"eventType": "e", "payload": {}}),
    )
    .await;
    assert_eq!(s, 202);
    // Reused with another body: refused until the key expires, then a new message.
    // The key expires by the server's wall clock, which signals nothing: poll.
    let other = json!({"eventType": "e", "payload": {"other": true}});
    poll_until("the key expired", Duration::from_secs(10), || async {
        let (s, _, text) = post_with_key(&app, &path, "short", &other).await;
        if s != 202 {
            assert_eq!(s, 422, "{text}");
        }
        s == 202
    })
    .await;
    assert_eq!(message_count(&app, &a).await, 2);
}

async fn expunged_message_content_reads_back_empty_and_pending_deliveries_settle(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.retry_schedule = vec![Duration::from_millis(300); 5];
        c.retry_jitter = 0.0;
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    rx.set_default("/down", Answer::status(500));
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/down")}))
        .await;
    let msg = app
        .send(&a, json!({"eventType": "e", "payload": {"secret": "s3"}}))
        .await;
    rx.wait_for("/down", 1, Duration::from_secs(10)).await;

    let resp = app
        .client
        .delete(app.url(&format!("/app/{a}/msg/{msg}/content")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (s, v) = app.get(&format!("/app/{a}/msg/{msg}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["payload"], json!({}));
    assert_eq!(v["eventType"], "e");

    // The retry has nothing left to send: the delivery settles as failed, no request made.
    let sent_before = rx.received("/down").len();
    app.wait_for(
        &format!("/app/{a}/msg/{msg}/endpoint"),
        Duration::from_secs(10),
        |v| v["data"][0]["id"] == ep.as_str() && v["data"][0]["status"] == 2,
    )
    .await;
    assert!(rx.received("/down").len() <= sent_before + 1);

    let (s, v) = app
        .call("DELETE", &format!("/app/{a}/msg/msg_missing/content"), None)
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["code"], "not_found");
}

async fn attempt_content_can_be_expunged(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/ok")})).await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    let list = app
        .wait_for(
            &format!("/app/{a}/attempt/msg/{msg}"),
            Duration::from_secs(10),
            |v| v["data"].as_array().is_some_and(|d| !d.is_empty()),
        )
        .await;
    let attempt = list["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/app/{a}/msg/{msg}/attempt/{attempt}");
    let (s, _) = app.call("DELETE", &format!("{path}/content"), None).await;
    assert_eq!(s, 204);
    let (s, v) = app.get(&path).await;
    assert_eq!(s, 200);
    assert_eq!(v["response"], "");
    assert_eq!(v["responseStatusCode"], 200);
    let (s, v) = app
        .call(
            "DELETE",
            &format!("/app/{a}/msg/{msg}/attempt/atmpt_missing/content"),
            None,
        )
        .await;
    assert_eq!(s, 404, "{v}");
}

async fn payload_retention_period_is_validated(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let a = app.create_app().await;
    for days in [4, 91, -1] {
        let (s, v) = app
            .post(
                &format!("/app/{a}/msg"),
                json!({"eventType": "e", "payload": {}, "payloadRetentionPeriod": days}),
            )
            .await;
        assert_eq!(s, 422, "{days}: {v}");
        assert_eq!(
            v["detail"][0]["loc"],
            json!(["body", "payloadRetentionPeriod"])
        );
    }
    for days in [5, 90] {
        app.send(
            &a,
            json!({"eventType": "e", "payload": {"d": days}, "payloadRetentionPeriod": days}),
        )
        .await;
    }
    for bad in [
        json!({"eventType": "e", "payload": {}, "payloadRetentionHours": 0}),
        json!({"eventType": "e", "payload": {}, "payloadRetentionHours": 2161}),
        json!({"eventType": "e", "payload": {}, "payloadRetentionHours": 5,
               "payloadRetentionPeriod": 5}),
    ] {
        let (s, v) = app.post(&format!("/app/{a}/msg"), bad).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            v["detail"][0]["loc"],
            json!(["body", "payloadRetentionHours"])
        );
    }
    app.send(
        &a,
        json!({"eventType": "e", "payload": {}, "payloadRetentionHours": 1}),
    )
    .await;
}

async fn the_cleaner_deletes_attempts_past_their_retention(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.attempt_retention = Some(Duration::from_millis(200));
        c.cleaner_interval = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/ok")})).await;
    let msg = app
        .send(&a, json!({"eventType": "e", "payload": {"k": 1}}))
        .await;
    rx.wait_for("/ok", 1, Duration::from_secs(10)).await;
    app.wait_for(
        &format!("/app/{a}/attempt/msg/{msg}"),
        Duration::from_secs(10),
        |v| v["data"].as_array().is_some_and(Vec::is_empty),
    )
    .await;
    // The message itself and its (unexpired) payload stay.
    let (s, v) = app.get(&format!("/app/{a}/msg/{msg}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["payload"], json!({"k": 1}));
}
