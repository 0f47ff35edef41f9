//! Flow control end to end: `throttleRate` spaces deliveries, `maxConcurrency` caps
//! requests in flight, `fifo` sends message n+1 only after message n settled, and none of
//! it holds up an endpoint that uses none of it.

use crate::support::{spawn_app, spawn_app_with};
use hookd_testkit::{Answer, Receiver};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The `i` of each request's payload, in arrival order.
fn arrival_order(rx: &Receiver, path: &str) -> Vec<u64> {
    let mut got = rx.received(path);
    got.sort_by_key(|r| r.arrived_at);
    got.iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn throttle_rate_spaces_deliveries_without_holding_up_other_endpoints() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/paced"), "throttleRate": 5}))
        .await;
    app.create_endpoint(&a, json!({"url": rx.url("/free")}))
        .await;
    let (s, v) = app.get(&format!("/app/{a}/endpoint/{ep}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["throttleRate"], 5);
    assert_eq!(v["rateLimit"], 5);

    for i in 0..10 {
        app.send(&a, json!({"eventType": "e", "payload": {"i": i}}))
            .await;
    }
    rx.wait_for("/free", 10, WAIT).await;
    assert!(
        rx.received("/paced").len() < 5,
        "the unthrottled endpoint got all ten while the throttled one was still pacing"
    );
    let mut got = rx.wait_for("/paced", 10, WAIT).await;
    got.sort_by_key(|r| r.arrived_at);
    // One send slot every 200 ms; allow a little timer slack per gap.
    for pair in got.windows(2) {
        let gap = pair[1].arrived_at - pair[0].arrived_at;
        assert!(
            gap >= Duration::from_millis(180),
            "deliveries {gap:?} apart under a throttle of 5/s"
        );
    }
}

#[tokio::test]
async fn max_concurrency_caps_requests_in_flight() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.set_default(
        "/capped",
        Answer::status(200).delay(Duration::from_millis(150)),
    );
    rx.set_default(
        "/open",
        Answer::status(200).delay(Duration::from_millis(150)),
    );
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/capped"), "maxConcurrency": 2}))
        .await;
    app.create_endpoint(&a, json!({"url": rx.url("/open")}))
        .await;
    let (_, v) = app.get(&format!("/app/{a}/endpoint/{ep}")).await;
    assert_eq!(v["maxConcurrency"], 2);

    for i in 0..12 {
        app.send(&a, json!({"eventType": "e", "payload": {"i": i}}))
            .await;
    }
    rx.wait_for("/capped", 12, WAIT).await;
    rx.wait_for("/open", 12, WAIT).await;
    assert_eq!(
        rx.max_concurrent("/capped"),
        2,
        "the cap is used, never exceeded"
    );
    assert!(
        rx.max_concurrent("/open") > 2,
        "an endpoint without a cap is not limited by another's"
    );
}

#[tokio::test]
async fn fifo_sends_the_next_message_only_after_the_previous_one_settled() {
    let app = spawn_app_with(|c| {
        c.retry_schedule = vec![Duration::from_millis(100); 2];
        c.retry_jitter = 0.0;
    })
    .await;
    let rx = Receiver::start().await;
    // Served strictly in order, the requests get: message 0 fails twice then succeeds,
    // message 1 succeeds, message 2 fails all three of its attempts (exhausted), the rest
    // succeed.
    let (fail, ok) = (Answer::status(500), Answer::status(200));
    rx.script(
        "/ordered",
        [
            fail.clone(),
            fail.clone(),
            ok.clone(),
            ok,
            fail.clone(),
            fail.clone(),
            fail,
        ],
    );
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/ordered"), "fifo": true}))
        .await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            app.send(&a, json!({"eventType": "e", "payload": {"i": i}}))
                .await,
        );
    }
    rx.wait_for("/ordered", 10, WAIT).await;
    let order = arrival_order(&rx, "/ordered");
    assert_eq!(order.len(), 10, "{order:?}");
    assert_eq!(order, [0, 0, 0, 1, 2, 2, 2, 3, 4, 5]);
    let (_, v) = app.get(&format!("/app/{a}/msg/{}/endpoint", ids[2])).await;
    assert_eq!(
        v["data"][0]["status"], 2,
        "message 2 exhausted its retries: {v}"
    );
}

#[tokio::test]
async fn flow_settings_are_validated_and_can_be_cleared() {
    let app = spawn_app().await;
    let a = app.create_app().await;
    let url = "https://example.com/hook";
    for (body, field) in [
        (json!({"url": url, "maxConcurrency": 0}), "maxConcurrency"),
        (
            json!({"url": url, "maxConcurrency": 1001}),
            "maxConcurrency",
        ),
        (json!({"url": url, "throttleRate": 70000}), "throttleRate"),
        (json!({"url": url, "fifo": "yes"}), "fifo"),
    ] {
        let (s, v) = app.post(&format!("/app/{a}/endpoint"), body).await;
        assert_eq!(s, 422, "{field}: {v}");
        assert!(v.to_string().contains(field), "{field}: {v}");
    }
    let (ep, _) = app
        .create_endpoint(
            &a,
            json!({"url": url, "throttleRate": 3, "maxConcurrency": 4, "fifo": true}),
        )
        .await;
    let path = format!("/app/{a}/endpoint/{ep}");
    let (s, v) = app
        .call(
            "PATCH",
            &path,
            Some(json!({"throttleRate": null, "maxConcurrency": null, "fifo": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["throttleRate"], Value::Null);
    assert_eq!(v["maxConcurrency"], Value::Null);
    assert_eq!(v["fifo"], false);
}
