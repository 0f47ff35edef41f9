//! Traces end to end: hookd exports its spans over OTLP/HTTP (JSON) to a collector, here
//! the test kit's recording receiver, whose request bodies are decoded back into spans.
//! A producer's `traceparent` is the parent of the API request span, the commit is its
//! child, each delivery attempt a child of the context kept with the message, and the
//! consumer receives a `traceparent` naming the attempt; a failed attempt is an error.
//! With tracing off, the producer's `traceparent` is passed on as it came (and nothing is
//! sent without one). An ingest request has its span, and the receive token appears in no
//! span.

use crate::support::{spawn_app_with, spawn_on, Backend, TestApp, TOKEN};
use hookd_core::crypto::hmac_sha256;
use hookd_testkit::{Answer, Received, Receiver};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

on_both_backends!(
    spans_connect_the_producer_hookd_and_the_consumer,
    without_tracing_the_producers_traceparent_is_passed_on_as_it_came,
    an_ingest_request_has_a_span_that_never_names_its_token,
);

/// Spans still queued at shutdown are sent before `run` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_left_at_shutdown_are_flushed() {
    let collector = Receiver::start().await;
    let endpoint = collector.base.clone();
    let app = spawn_app_with(|c| c.otlp_endpoint = Some(endpoint)).await;
    let rx = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint_to(&app_id, &rx.url("/in")).await;
    let msg_id = send_traced(&app, &app_id, None).await;
    rx.wait_for("/in", 1, WAIT).await;
    app.stop().await;
    // No wait: everything was exported by the time the server stopped.
    let spans = decode(&collector.received("/v1/traces"));
    assert!(
        spans
            .iter()
            .any(|s| s.name == "delivery attempt" && s.attr("hookd.msg.id") == &*msg_id),
        "{spans:?}"
    );
    assert!(spans
        .iter()
        .any(|s| s.name == "POST /api/v1/app/{app_id}/msg"));
}

/// A collector that refuses every export costs nothing but the spans: they are tried
/// three times, then dropped and counted, and messages keep being accepted and delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_collector_drops_and_counts_spans_and_holds_nothing_up() {
    let collector = Receiver::start().await;
    collector.set_fallback(Answer::status(503));
    let endpoint = collector.base.clone();
    let app = spawn_app_with(|c| c.otlp_endpoint = Some(endpoint)).await;
    let rx = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint_to(&app_id, &rx.url("/in")).await;
    send_traced(&app, &app_id, None).await;
    rx.wait_for("/in", 1, WAIT).await;
    // One batch, tried three times in all.
    collector
        .wait_until("three tries of a batch", WAIT, |got| got.len() >= 3)
        .await;
    let dropped = "hookd_trace_spans_dropped_total{reason=\"export_failed\"}";
    hookd_testkit::poll_until("the dropped spans counted", WAIT, || async {
        app.scrape().await.get(dropped) >= 1.0
    })
    .await;
    assert_eq!(
        app.scrape().await.get("hookd_trace_spans_exported_total"),
        0.0
    );
    send_traced(&app, &app_id, None).await;
    rx.wait_for("/in", 2, WAIT).await;
}

/// A span as the collector received it.
#[derive(Clone, Debug)]
struct SpanRec {
    trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: String,
    kind: i64,
    attrs: BTreeMap<String, Value>,
    /// `status.code`: 0 unset, 1 OK, 2 ERROR.
    status: i64,
}

impl SpanRec {
    fn attr(&self, key: &str) -> &Value {
        self.attrs.get(key).unwrap_or(&Value::Null)
    }
}

/// Decodes every OTLP/JSON export request the collector got.
fn decode(got: &[Received]) -> Vec<SpanRec> {
    let mut spans = Vec::new();
    for r in got.iter().filter(|r| r.path == "/v1/traces") {
        assert_eq!(r.headers["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&r.body).expect("an OTLP/JSON body");
        for rs in body["resourceSpans"].as_array().expect("resourceSpans") {
            let resource = &rs["resource"]["attributes"];
            assert!(
                resource
                    .as_array()
                    .unwrap()
                    .contains(&json!({"key": "service.name", "value": {"stringValue": "hookd"}})),
                "{resource}"
            );
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    spans.push(span_of(s));
                }
            }
        }
    }
    spans
}

fn span_of(s: &Value) -> SpanRec {
    let text = |k: &str| {
        s[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {s}"))
            .to_owned()
    };
    let attrs = s["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let v = &a["value"];
            let value = if let Some(t) = v.get("stringValue") {
                t.clone()
            } else if let Some(n) = v.get("intValue") {
                // int64 travels as a decimal string in OTLP/JSON.
                json!(n.as_str().unwrap().parse::<i64>().unwrap())
            } else {
                v["boolValue"].clone()
            };
            (a["key"].as_str().unwrap().to_owned(), value)
        })
        .collect();
    let start: u128 = text("startTimeUnixNano").parse().unwrap();
    let end: u128 = text("endTimeUnixNano").parse().unwrap();
    assert!(end >= start && start > 1_600_000_000_000_000_000, "{s}");
    SpanRec {
        trace_id: text("traceId"),
        span_id: text("spanId"),
        parent: s["parentSpanId"].as_str().map(str::to_owned),
        name: text("name"),
        kind: s["kind"].as_i64().unwrap(),
        attrs,
        status: s["status"]["code"].as_i64().unwrap_or(0),
    }
}

/// Waits until the collector's spans satisfy `done`; returns them all.
async fn spans_when(
    collector: &Receiver,
    what: &str,
    done: impl Fn(&[SpanRec]) -> bool,
) -> Vec<SpanRec> {
    collector
        .wait_until(what, WAIT, |got| done(&decode(got)))
        .await;
    decode(&collector.received("/v1/traces"))
}

/// Sends a message with `traceparent` (if any); its id.
async fn send_traced(app: &TestApp, app_id: &str, traceparent: Option<&str>) -> String {
    let mut req = app
        .client
        .post(app.url(&format!("/app/{app_id}/msg")))
        .bearer_auth(TOKEN)
        .json(&json!({"eventType": "order.paid", "payload": {"n": 1}}));
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let v: Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

fn traceparent_of(r: &Received) -> Option<&str> {
    r.headers.get("traceparent").map(|v| v.to_str().unwrap())
}

fn attempts<'a>(spans: &'a [SpanRec], endpoint: &str) -> Vec<&'a SpanRec> {
    spans
        .iter()
        .filter(|s| s.name == "delivery attempt" && s.attr("hookd.endpoint.id") == endpoint)
        .collect()
}

async fn spans_connect_the_producer_hookd_and_the_consumer(backend: Backend) {
    let collector = Receiver::start().await;
    let endpoint = collector.base.clone();
    let Some(app) = spawn_on(backend, |c| c.otlp_endpoint = Some(endpoint)).await else {
        return;
    };
    let rx = Receiver::start().await;
    rx.set_default("/fail", Answer::status(500));
    let app_id = app.create_app().await;
    let ok = app.create_endpoint_to(&app_id, &rx.url("/ok")).await;
    let failing = app.create_endpoint_to(&app_id, &rx.url("/fail")).await;

    let msg_id = send_traced(&app, &app_id, Some(&format!("00-{TRACE}-{PARENT}-01"))).await;
    let delivered = rx.wait_for("/ok", 1, WAIT).await;
    rx.wait_for("/fail", 1, WAIT).await;

    let spans = spans_when(&collector, "the request, commit and both attempts", |s| {
        s.iter().any(|s| s.name == "commit")
            && s.iter().any(|s| s.name.starts_with("POST /api/v1/app/"))
            && !attempts(s, &ok).is_empty()
            && !attempts(s, &failing).is_empty()
    })
    .await;

    let request = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/app/{app_id}/msg")
        .expect("the API request span");
    assert_eq!(request.trace_id, TRACE);
    assert_eq!(request.parent.as_deref(), Some(PARENT));
    assert_eq!(request.kind, 2, "SERVER");
    assert_eq!(request.attr("http.request.method"), "POST");
    assert_eq!(request.attr("http.route"), "/api/v1/app/{app_id}/msg");
    assert_eq!(request.attr("http.response.status_code"), 202);
    assert!(request.attr("hookd.request_id").is_string());

    let commit = spans.iter().find(|s| s.name == "commit").unwrap();
    assert_eq!(commit.trace_id, TRACE);
    assert_eq!(commit.parent.as_deref(), Some(&*request.span_id));
    assert_eq!(commit.kind, 1, "INTERNAL");
    assert_eq!(commit.attr("hookd.msg.id"), &*msg_id);
    assert_eq!(commit.status, 1);

    // The attempt is a child of the context kept with the message: the request span.
    let attempt = attempts(&spans, &ok)[0];
    assert_eq!(attempt.trace_id, TRACE);
    assert_eq!(attempt.parent.as_deref(), Some(&*request.span_id));
    assert_eq!(attempt.kind, 3, "CLIENT");
    assert_eq!(attempt.status, 1);
    assert_eq!(attempt.attr("hookd.app.id"), &*app_id);
    assert_eq!(attempt.attr("hookd.msg.id"), &*msg_id);
    assert_eq!(attempt.attr("hookd.attempt"), 1);
    assert_eq!(attempt.attr("http.response.status_code"), 200);
    assert_eq!(attempt.attr("server.address"), "127.0.0.1");
    for s in &spans {
        for v in s.attrs.values() {
            let text = v.to_string();
            assert!(
                !text.contains("/ok") && !text.contains("/fail"),
                "a URL path in {s:?}"
            );
        }
    }
    // The consumer's trace continues from the attempt.
    assert_eq!(
        traceparent_of(&delivered[0]),
        Some(&*format!("00-{TRACE}-{}-01", attempt.span_id))
    );

    let failed = attempts(&spans, &failing)[0];
    assert_eq!(failed.status, 2, "ERROR");
    assert_eq!(failed.attr("http.response.status_code"), 500);
    assert_eq!(failed.parent.as_deref(), Some(&*request.span_id));

    // A retry (from the store, through a claim) keeps the message's context as parent.
    rx.wait_for("/fail", 2, WAIT).await;
    let spans = spans_when(&collector, "the retry's span", |s| {
        attempts(s, &failing).len() >= 2
    })
    .await;
    for a in attempts(&spans, &failing) {
        assert_eq!(a.trace_id, TRACE);
        assert_eq!(a.parent.as_deref(), Some(&*request.span_id));
    }
    let retried = &rx.received("/fail")[1];
    assert!(traceparent_of(retried)
        .unwrap()
        .starts_with(&format!("00-{TRACE}-")));

    // A request without a traceparent (or with an invalid one) starts a trace of its own.
    let (s, _) = app.get(&format!("/app/{app_id}")).await;
    assert_eq!(s, 200);
    let spans = spans_when(&collector, "the GET's span", |s| {
        s.iter().any(|s| s.name == "GET /api/v1/app/{app_id}")
    })
    .await;
    let get = spans
        .iter()
        .find(|s| s.name == "GET /api/v1/app/{app_id}")
        .unwrap();
    assert_eq!(get.parent, None);
    assert_ne!(get.trace_id, TRACE);

    let page = app.scrape().await;
    assert!(page.get("hookd_trace_spans_exported_total") >= 4.0);
    assert_eq!(
        page.get("hookd_trace_spans_dropped_total{reason=\"queue_full\"}"),
        0.0
    );
}

async fn without_tracing_the_producers_traceparent_is_passed_on_as_it_came(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint_to(&app_id, &rx.url("/in")).await;
    let producer = format!("00-{TRACE}-{PARENT}-01");

    let traced = send_traced(&app, &app_id, Some(&producer)).await;
    let plain = send_traced(&app, &app_id, None).await;
    // Invalid (upper case): ignored, the message is accepted all the same.
    let invalid = send_traced(&app, &app_id, Some(&producer.to_uppercase())).await;
    let got = rx.wait_for("/in", 3, WAIT).await;
    let by_id = |id: &str| got.iter().find(|r| r.msg_id == id).unwrap();
    assert_eq!(traceparent_of(by_id(&traced)), Some(&*producer));
    assert_eq!(traceparent_of(by_id(&plain)), None);
    assert_eq!(traceparent_of(by_id(&invalid)), None);

    // A resend carries the kept context too.
    let ep = &app.get(&format!("/app/{app_id}/endpoint")).await.1["data"][0]["id"];
    let (s, v) = app
        .post(
            &format!(
                "/app/{app_id}/msg/{traced}/endpoint/{}/resend",
                ep.as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert!(s == 202 || s == 204, "{s} {v}");
    let got = rx.wait_for("/in", 4, WAIT).await;
    assert_eq!(got[3].msg_id, traced);
    assert_eq!(traceparent_of(&got[3]), Some(&*producer));
}

async fn an_ingest_request_has_a_span_that_never_names_its_token(backend: Backend) {
    let collector = Receiver::start().await;
    let endpoint = collector.base.clone();
    let Some(app) = spawn_on(backend, |c| c.otlp_endpoint = Some(endpoint)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (source_id, ingest_url) = app.create_source("github", "gh-s3cret").await;
    let token = ingest_url.rsplit('/').next().unwrap().to_owned();
    let (s, ep) = app
        .post(
            &format!("/ingest/api/v1/source/{source_id}/endpoint"),
            json!({"url": rx.url("/gh")}),
        )
        .await;
    assert_eq!(s, 201, "{ep}");

    let body = r#"{"ref":"refs/heads/main"}"#;
    let sig: String = hmac_sha256(b"gh-s3cret", &[body.as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let send = |sig: String| {
        app.client
            .post(&ingest_url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", "d-1")
            .header("x-hub-signature-256", format!("sha256={sig}"))
            .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
            .body(body)
            .send()
    };
    assert_eq!(send(sig).await.unwrap().status().as_u16(), 204);
    assert_eq!(send("00".repeat(32)).await.unwrap().status().as_u16(), 401);
    let forwarded = rx.wait_for("/gh", 1, WAIT).await;

    let spans = spans_when(&collector, "both ingest spans and the attempt", |s| {
        s.iter()
            .filter(|s| s.name == "POST /ingest/{token}")
            .count()
            == 2
            && s.iter().any(|s| s.name == "delivery attempt")
    })
    .await;
    let ingest: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "POST /ingest/{token}")
        .collect();
    let accepted = ingest
        .iter()
        .find(|s| s.attr("hookd.ingest.outcome") == "accepted")
        .expect("the accepted request's span");
    assert_eq!(accepted.kind, 2);
    assert_eq!(accepted.trace_id, TRACE);
    assert_eq!(accepted.parent.as_deref(), Some(PARENT));
    assert_eq!(accepted.attr("hookd.ingest.provider"), "github");
    assert_eq!(accepted.attr("hookd.ingest.source_id"), &*source_id);
    assert_eq!(accepted.attr("http.route"), "/ingest/{token}");
    assert_eq!(accepted.attr("http.response.status_code"), 204);
    let refused = ingest
        .iter()
        .find(|s| s.attr("http.response.status_code") == 401)
        .expect("the refused request's span");
    assert_ne!(refused.attr("hookd.ingest.outcome"), "accepted");
    assert!(refused.attr("hookd.ingest.outcome").is_string());

    // The forwarded event continues the provider's trace from hookd's attempt.
    let attempt = spans.iter().find(|s| s.name == "delivery attempt").unwrap();
    assert_eq!(attempt.parent.as_deref(), Some(&*accepted.span_id));
    assert_eq!(
        traceparent_of(&forwarded[0]),
        Some(&*format!("00-{TRACE}-{}-01", attempt.span_id))
    );

    // The receive token is a secret: in no span name or attribute, nor any export.
    for r in collector.received("/v1/traces") {
        assert!(
            !String::from_utf8_lossy(&r.body).contains(&token),
            "the receive token was exported"
        );
    }
}
