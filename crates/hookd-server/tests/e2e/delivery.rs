//! Delivery end to end: fan-out, filters, signatures, retries, Retry-After, 410, redirects,
//! SSRF refusal, resend, isolation of slow endpoints, and resumption after a restart.

use crate::support::{spawn_app, spawn_app_with};
use hookd_core::signing::{self, EndpointSecret};
use hookd_server::config::{Config, Layer};
use hookd_testkit::{Answer, Receiver};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

fn verify(secret: &str, r: &hookd_testkit::Received) {
    let h = |n: &str| r.headers.get(n).unwrap().to_str().unwrap().to_owned();
    let ts: i64 = h("webhook-timestamp").parse().unwrap();
    let now = hookd_core::Timestamp::now().as_secs();
    let secret = EndpointSecret::parse(secret).unwrap();
    signing::verify(
        &[secret.verifying_key()],
        &h("webhook-id"),
        &ts.to_string(),
        &r.body,
        &h("webhook-signature"),
        now,
        300,
    )
    .expect("signature verifies");
    assert_eq!(h("content-type"), "application/json");
}

#[tokio::test]
async fn fan_out_honours_event_type_filters_and_channels() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (s, v) = app
        .post(
            "/event-type",
            json!({"name": "invoice.paid", "description": "paid"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    for (path, body) in [
        ("/all", json!({})),
        ("/paid", json!({"filterTypes": ["invoice.paid"]})),
        ("/eu", json!({"channels": ["eu"]})),
        ("/disabled", json!({"disabled": true})),
    ] {
        let mut body = body;
        body["url"] = json!(rx.url(path));
        app.create_endpoint(&a, body).await;
    }
    app.send(
        &a,
        json!({"eventType": "invoice.paid", "payload": {"n": 1}}),
    )
    .await;
    app.send(
        &a,
        json!({"eventType": "invoice.sent", "payload": {"n": 2}, "channels": ["eu"]}),
    )
    .await;
    app.send(
        &a,
        json!({"eventType": "invoice.sent", "payload": {"n": 3}, "channels": ["us"]}),
    )
    .await;

    let all = rx.wait_for("/all", 3, WAIT).await;
    rx.wait_for("/paid", 1, WAIT).await;
    rx.wait_for("/eu", 1, WAIT).await;
    // Wait until every destination of every message is settled, then count arrivals.
    let (_, msgs) = app.get(&format!("/app/{a}/msg")).await;
    for m in msgs["data"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        app.wait_for(&format!("/app/{a}/msg/{id}/endpoint"), WAIT, |v| {
            v["data"]
                .as_array()
                .is_some_and(|d| d.iter().all(|e| e["status"] == 0))
        })
        .await;
    }
    assert_eq!(all.len(), 3);
    assert_eq!(rx.received("/paid").len(), 1);
    assert_eq!(rx.received("/eu").len(), 1);
    assert!(rx.received("/disabled").is_empty());
    let eu: serde_json::Value = serde_json::from_slice(&rx.received("/eu")[0].body).unwrap();
    assert_eq!(eu, json!({"n": 2}));
}

#[tokio::test]
async fn deliveries_are_signed_and_carry_the_exact_payload_bytes() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (_, s1) = app
        .create_endpoint(&a, json!({"url": rx.url("/one")}))
        .await;
    let supplied = EndpointSecret::generate();
    let (_, s2) = app
        .create_endpoint(
            &a,
            json!({"url": rx.url("/two"), "secret": supplied.expose()}),
        )
        .await;
    assert_eq!(s2, supplied.expose());

    // Unusual spacing and key order must survive byte for byte.
    let raw = r#"{"eventType":"user.created","payload":{ "z": 1,  "a": [1, 2.50, "é"] }}"#;
    let resp = app
        .client
        .post(app.url(&format!("/app/{a}/msg")))
        .bearer_auth(crate::support::TOKEN)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let msg: serde_json::Value = resp.json().await.unwrap();
    let msg_id = msg["id"].as_str().unwrap();

    let one = &rx.wait_for("/one", 1, WAIT).await[0];
    let two = &rx.wait_for("/two", 1, WAIT).await[0];
    verify(&s1, one);
    verify(&s2, two);
    assert_eq!(
        &one.body[..],
        r#"{ "z": 1,  "a": [1, 2.50, "é"] }"#.as_bytes()
    );
    assert_eq!(one.headers["webhook-id"], msg_id);
    assert_eq!(two.headers["webhook-id"], msg_id);
    assert!(one.headers.get("svix-id").is_none());
}

#[tokio::test]
async fn svix_headers_are_sent_when_configured() {
    let app = spawn_app_with(|c| c.svix_headers = true).await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/s")})).await;
    app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    let r = &rx.wait_for("/s", 1, WAIT).await[0];
    assert_eq!(r.headers["svix-id"], r.headers["webhook-id"]);
    assert_eq!(r.headers["svix-signature"], r.headers["webhook-signature"]);
    assert_eq!(r.headers["svix-timestamp"], r.headers["webhook-timestamp"]);
}

#[tokio::test]
async fn failures_are_retried_on_schedule_and_every_attempt_is_recorded() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script("/flaky", [Answer::status(500), Answer::status(503)]);
    rx.set_default("/down", Answer::status(500));
    let a = app.create_app().await;
    let (ep, secret) = app
        .create_endpoint(&a, json!({"url": rx.url("/flaky")}))
        .await;
    let (down, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/down")}))
        .await;
    let msg = app
        .send(&a, json!({"eventType": "e", "payload": {"x": 1}}))
        .await;

    let got = rx.wait_for("/flaky", 3, WAIT).await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(
        ids.iter().all(|i| i == msg.as_str()),
        "webhook-id stays the same across retries"
    );
    got.iter().for_each(|r| verify(&secret, r));

    let dests = app
        .wait_for(&format!("/app/{a}/msg/{msg}/endpoint"), WAIT, |v| {
            v["data"].as_array().is_some_and(|d| {
                d.len() == 2 && d.iter().all(|e| e["status"] == 0 || e["status"] == 2)
            })
        })
        .await;
    let status_of = |id: &str| {
        dests["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&ep), 0, "flaky endpoint ends in success");
    assert_eq!(
        status_of(&down),
        2,
        "always-failing endpoint ends in failure"
    );
    assert_eq!(
        rx.received("/down").len(),
        3,
        "first attempt plus two retries"
    );

    let (_, attempts) = app.get(&format!("/app/{a}/attempt/endpoint/{ep}")).await;
    let mut codes: Vec<_> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["responseStatusCode"].as_u64().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [200, 500, 503]);
    let (_, by_msg) = app.get(&format!("/app/{a}/attempt/msg/{msg}")).await;
    assert_eq!(by_msg["data"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn retry_after_delays_the_next_attempt() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script("/busy", [Answer::status(429).header("retry-after", "2")]);
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/busy")}))
        .await;
    app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    rx.wait_for("/busy", 1, WAIT).await;
    let first = Instant::now();
    rx.wait_for("/busy", 2, WAIT).await;
    // Without Retry-After the schedule would retry after ~0.2 s.
    assert!(
        first.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        first.elapsed()
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_stops_retries() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.set_default("/gone", Answer::status(410));
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/gone")}))
        .await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    app.wait_for(&format!("/app/{a}/endpoint/{ep}"), WAIT, |v| {
        v["disabled"] == true
    })
    .await;
    app.wait_for(&format!("/app/{a}/msg/{msg}/endpoint"), WAIT, |v| {
        v["data"][0]["status"] == 2
    })
    .await;
    assert_eq!(rx.received("/gone").len(), 1);
    // A disabled endpoint gets no new messages: at most a destination settled as failed
    // without a request (the API's endpoint cache may lag the engine by up to 1 s).
    let m2 = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    app.wait_for(&format!("/app/{a}/msg/{m2}/endpoint"), WAIT, |v| {
        v["data"]
            .as_array()
            .is_some_and(|d| d.iter().all(|e| e["status"] == 2))
    })
    .await;
    assert_eq!(rx.received("/gone").len(), 1);
}

#[tokio::test]
async fn redirects_are_failures_and_are_not_followed() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.set_default(
        "/moved",
        Answer::status(302).header("location", rx.url("/target")),
    );
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/moved")}))
        .await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    app.wait_for(&format!("/app/{a}/msg/{msg}/endpoint"), WAIT, |v| {
        v["data"][0]["status"] == 2
    })
    .await;
    assert_eq!(rx.received("/moved").len(), 3);
    assert!(rx.received("/target").is_empty());
    let (_, attempts) = app.get(&format!("/app/{a}/attempt/endpoint/{ep}")).await;
    assert!(attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["responseStatusCode"] == 302 && t["status"] == 2));
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let app = spawn_app_with(|c| c.allowed_networks.clear()).await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (ep, _) = app
        .create_endpoint(&a, json!({"url": rx.url("/local")}))
        .await;
    let (meta, _) = app
        .create_endpoint(
            &a,
            json!({"url": "http://169.254.169.254/latest/meta-data"}),
        )
        .await;
    let (named, _) = app
        .create_endpoint(&a, json!({"url": format!("http://localhost:{}/named", rx.base.rsplit(':').next().unwrap())}))
        .await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    app.wait_for(&format!("/app/{a}/msg/{msg}/endpoint"), WAIT, |v| {
        v["data"]
            .as_array()
            .is_some_and(|d| d.len() == 3 && d.iter().all(|e| e["status"] == 2))
    })
    .await;
    assert!(rx.all().is_empty(), "nothing reached the private receiver");
    for id in [ep, meta, named] {
        let (_, attempts) = app.get(&format!("/app/{a}/attempt/endpoint/{id}")).await;
        let first = &attempts["data"][0];
        assert_eq!(first["responseStatusCode"], 0);
        let text = first["response"].as_str().unwrap();
        assert!(text.contains("SSRF"), "{text}");
    }
}

#[tokio::test]
async fn an_ssrf_refusal_names_the_address_and_the_setting_that_allows_it() {
    let app = spawn_app_with(|c| c.allowed_networks.clear()).await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (ep, _) = app.create_endpoint(&a, json!({"url": rx.url("/l")})).await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    app.wait_for(&format!("/app/{a}/msg/{msg}/endpoint"), WAIT, |v| {
        v["data"][0]["status"] == 2
    })
    .await;
    let (_, attempts) = app.get(&format!("/app/{a}/attempt/endpoint/{ep}")).await;
    assert_eq!(
        attempts["data"][0]["response"],
        "destination address 127.0.0.1 is not allowed (SSRF protection); allow it with \
         HOOKD_ALLOWED_NETWORKS (e.g. HOOKD_ALLOWED_NETWORKS=loopback)"
    );
    assert!(rx.all().is_empty());
}

#[tokio::test]
async fn the_word_loopback_allows_ipv4_and_ipv6_loopback_receivers_and_localhost() {
    let loopback = Config::resolve(
        Layer::default(),
        Layer {
            allowed_networks: Some("loopback".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .allowed_networks;
    let app = spawn_app_with(|c| c.allowed_networks = loopback).await;
    let v4 = Receiver::start().await;
    let v6 = Receiver::start_on("[::1]:0").await;
    assert!(v6.base.starts_with("http://[::1]:"), "{}", v6.base);
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": v4.url("/v4")})).await;
    app.create_endpoint(&a, json!({"url": v6.url("/v6")})).await;
    let port = v4.base.rsplit(':').next().unwrap();
    let named = format!("http://localhost:{port}/named");
    app.create_endpoint(&a, json!({"url": named})).await;
    app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    v4.wait_for("/v4", 1, WAIT).await;
    v6.wait_for("/v6", 1, WAIT).await;
    v4.wait_for("/named", 1, WAIT).await;
}

#[tokio::test]
async fn resend_delivers_again_with_the_same_webhook_id() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (ep, _) = app.create_endpoint(&a, json!({"url": rx.url("/r")})).await;
    let msg = app.send(&a, json!({"eventType": "e", "payload": {}})).await;
    rx.wait_for("/r", 1, WAIT).await;
    let (s, _) = app
        .post(
            &format!("/app/{a}/msg/{msg}/endpoint/{ep}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(s, 202);
    let got = rx.wait_for("/r", 2, WAIT).await;
    assert_eq!(got[1].headers["webhook-id"], msg.as_str());
    let attempts = app
        .wait_for(&format!("/app/{a}/attempt/msg/{msg}"), WAIT, |v| {
            v["data"].as_array().is_some_and(|d| d.len() == 2)
        })
        .await;
    let triggers: Vec<_> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triggerType"].as_i64().unwrap())
        .collect();
    assert!(
        triggers.contains(&0) && triggers.contains(&1),
        "{triggers:?}"
    );
}

#[tokio::test]
async fn a_slow_endpoint_does_not_delay_a_fast_one() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.set_default("/slow", Answer::status(200).delay(Duration::from_secs(4)));
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/slow")}))
        .await;
    app.create_endpoint(&a, json!({"url": rx.url("/fast")}))
        .await;
    for i in 0..100 {
        app.send(&a, json!({"eventType": "e", "payload": {"i": i}}))
            .await;
    }
    rx.wait_for("/fast", 100, WAIT).await;
    assert!(
        rx.received("/slow").iter().all(|r| r.answered_at.is_none()),
        "the fast endpoint got everything while the slow one was still answering"
    );
}

#[tokio::test]
async fn accepted_messages_survive_a_restart_and_are_delivered() {
    let rx = Receiver::start().await;
    rx.set_default("/later", Answer::status(503));
    let app = spawn_app_with(|c| {
        c.retry_schedule = vec![Duration::from_secs(1); 5];
        c.retry_jitter = 0.0;
    })
    .await;
    let a = app.create_app().await;
    app.create_endpoint(&a, json!({"url": rx.url("/later")}))
        .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.send(&a, json!({"eventType": "e", "payload": {"i": i}}))
                .await,
        );
    }
    rx.wait_for("/later", 20, WAIT).await;
    let dir = app.stop().await;

    // Same data directory, receiver healthy now.
    rx.set_default("/later", Answer::status(200));
    let app = crate::support::restart_in(dir).await;
    for id in &ids {
        app.wait_for(&format!("/app/{a}/msg/{id}/endpoint"), WAIT, |v| {
            v["data"][0]["status"] == 0
        })
        .await;
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_signing_through_its_grace_period_only() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (ep, old) = app
        .create_endpoint(&a, json!({"url": rx.url("/rot")}))
        .await;
    let rotate = format!("/app/{a}/endpoint/{ep}/secret/rotate");
    let (s, out) = app.post(&rotate, json!({})).await;
    assert_eq!(s, 200, "{out}");
    let new = out["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (_, read) = app.get(&format!("/app/{a}/endpoint/{ep}/secret")).await;
    assert_eq!(read["key"], new.as_str());

    // Within the grace period every delivery carries both signatures.
    app.send(&a, json!({"eventType": "e", "payload": {"n": 1}}))
        .await;
    let got = rx.wait_for("/rot", 1, WAIT).await;
    let sig = got[0].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    verify(&old, &got[0]);
    verify(&new, &got[0]);

    // A rotation with no grace period retires the key at once; the one before it still
    // has its grace period, so two keys sign: the newest and the first.
    let supplied = EndpointSecret::generate().expose().to_owned();
    let (s, out) = app
        .post(&rotate, json!({"key": supplied, "gracePeriodSeconds": 0}))
        .await;
    assert_eq!((s, out["key"].as_str()), (200, Some(supplied.as_str())));
    app.send(&a, json!({"eventType": "e", "payload": {"n": 2}}))
        .await;
    let got = rx.wait_for("/rot", 2, WAIT).await;
    let sig = got[1].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    verify(&supplied, &got[1]);
    verify(&old, &got[1]);
    let retired = EndpointSecret::parse(&new).unwrap();
    let ts: i64 = got[1].headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = got[1].headers["webhook-id"].to_str().unwrap();
    assert!(signing::verify(
        &[retired.verifying_key()],
        id,
        &ts.to_string(),
        &got[1].body,
        sig,
        ts,
        300
    )
    .is_err());

    // Bad requests change nothing.
    for bad in [
        json!({"gracePeriodSeconds": 604_801}),
        json!({"key": "not-a-key"}),
    ] {
        let (s, body) = app.post(&rotate, bad).await;
        assert_eq!(s, 422, "{body}");
    }
    let (_, read) = app.get(&format!("/app/{a}/endpoint/{ep}/secret")).await;
    assert_eq!(read["key"], supplied.as_str());
    let (s, _) = app
        .post(
            &format!("/app/{a}/endpoint/ep_missing/secret/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn send_example_reaches_one_endpoint_and_stats_count_it() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.create_app().await;
    let (s, v) = app
        .post(
            "/event-type",
            json!({"name": "demo.created", "description": "demo",
                   "schemas": {"1": {"type": "object", "examples": [{"demo": 42}]}}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Filters would not match: send-example goes to this endpoint regardless, and only here.
    let (ep, secret) = app
        .create_endpoint(
            &a,
            json!({"url": rx.url("/ex"), "filterTypes": ["demo.created"]}),
        )
        .await;
    app.create_endpoint(&a, json!({"url": rx.url("/other")}))
        .await;
    let (s, msg) = app
        .post(
            &format!("/app/{a}/endpoint/{ep}/send-example"),
            json!({"eventType": "demo.created"}),
        )
        .await;
    assert_eq!(s, 200, "{msg}");
    assert_eq!(msg["payload"], json!({"demo": 42}));
    let got = rx.wait_for("/ex", 1, WAIT).await;
    verify(&secret, &got[0]);
    assert_eq!(got[0].body.as_ref(), br#"{"demo":42}"#);
    // A type without a schema: the default example payload.
    let (s, v) = app
        .post(
            "/event-type",
            json!({"name": "no.schema", "description": "no schema"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, msg) = app
        .post(
            &format!("/app/{a}/endpoint/{ep}/send-example"),
            json!({"eventType": "no.schema"}),
        )
        .await;
    assert_eq!(s, 200, "{msg}");
    assert_eq!(
        msg["payload"],
        json!({"example": true, "eventType": "no.schema"})
    );

    let stats = format!("/app/{a}/endpoint/{ep}/stats");
    let done = app.wait_for(&stats, WAIT, |v| v["success"] == 2).await;
    assert_eq!(
        done,
        json!({"success": 2, "pending": 0, "fail": 0, "sending": 0, "canceled": 0})
    );
    let (_, later) = app
        .get(&format!("{stats}?since=2999-01-01T00:00:00Z"))
        .await;
    assert_eq!(later["success"], 0);
    let (s, bad) = app.get(&format!("{stats}?since=yesterday")).await;
    assert_eq!(s, 422, "{bad}");
    // The series: the same counts, split in equal periods, oldest first.
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (since, until) = (
        fmt(now - time::Duration::hours(2)),
        fmt(now + time::Duration::hours(2)),
    );
    let (s, series) = app
        .get(&format!(
            "{stats}/series?since={since}&until={until}&buckets=4"
        ))
        .await;
    assert_eq!(s, 200, "{series}");
    let periods = series["data"].as_array().unwrap();
    assert_eq!(periods.len(), 4);
    let successes: Vec<u64> = periods
        .iter()
        .map(|p| p["success"].as_u64().unwrap())
        .collect();
    assert_eq!(successes, vec![0, 2, 0, 0], "{series}");
    assert_eq!(periods[0]["since"].as_str().unwrap()[..16], since[..16]);
    for w in periods.windows(2) {
        assert_eq!(w[0]["until"], w[1]["since"], "periods must touch");
    }
    let (s, default) = app.get(&format!("{stats}/series")).await;
    assert_eq!(s, 200, "{default}");
    assert_eq!(default["data"].as_array().unwrap().len(), 12);
    let total: u64 = default["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["success"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2, "the last 24 hours hold both messages");
    for bad in [
        format!("buckets=0&since={since}"),
        format!("buckets=49&since={since}"),
        format!("since={until}&until={since}"),
        "since=2020-01-01T00:00:00Z&until=2020-03-01T00:00:00Z".to_owned(),
        "until=soon".to_owned(),
    ] {
        let (s, v) = app.get(&format!("{stats}/series?{bad}")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("validation")),
            "{bad}: {v}"
        );
    }
    assert!(
        rx.received("/other").is_empty(),
        "send-example reached another endpoint"
    );
}
