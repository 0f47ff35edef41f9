//! `/metrics` end to end: each metric moves when its event happens (messages sent,
//! deliveries that succeed, fail, time out, are refused or exhaust their retries, a 410,
//! a receiver that stays down, ingest requests stored, repeated and refused), the page
//! stays small with 10,000 endpoints, and `metrics_listen` / `metrics_token` move and
//! guard it.

use crate::support::{spawn_app_with, spawn_on, Backend, TestApp, TOKEN};
use hookd_core::crypto::hmac_sha256;
use hookd_testkit::wait::wait_for_value;
use hookd_testkit::{Answer, Receiver, Recheck, Scrape};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

on_both_backends!(
    counters_move_with_deliveries_and_their_outcomes,
    a_receiver_that_stays_down_shows_in_the_queue_gauges,
);

/// The page once `done` holds for it (polled: the page is another task's state).
async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    scrape_within(app, what, WAIT, done).await
}

async fn scrape_within(
    app: &TestApp,
    what: &str,
    limit: Duration,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    wait_for_value(what, limit, Recheck::poll(), || async {
        let page = app.scrape().await;
        done(&page).then_some(page)
    })
    .await
}

fn outcome(name: &str) -> String {
    format!("hookd_deliveries_total{{outcome=\"{name}\"}}")
}

async fn counters_move_with_deliveries_and_their_outcomes(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.metrics_queue_interval = Duration::ZERO;
        c.request_timeout = Duration::from_millis(500);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    rx.set_default("/fail", Answer::status(500));
    rx.set_default("/gone", Answer::status(410));
    let mut held = Answer::ok();
    held.held = true;
    rx.set_default("/slow", held);
    let before = app.scrape().await;

    let app_id = app.create_app().await;
    let ok = app.create_endpoint_to(&app_id, &rx.url("/ok")).await;
    let n = 5;
    for i in 0..n {
        app.send(&app_id, json!({"eventType": "e.ok", "payload": {"i": i}}))
            .await;
    }
    rx.wait_for("/ok", n, WAIT).await;
    let page = scrape_until(&app, "five successes", |p| {
        p.get(&outcome("success")) - before.get(&outcome("success")) >= n as f64
    })
    .await;
    let moved = |series: &str| page.get(series) - before.get(series);
    assert_eq!(moved("hookd_messages_accepted_total"), n as f64);
    assert_eq!(moved(&outcome("success")), n as f64);
    assert_eq!(
        moved(
            "hookd_http_requests_total{route=\"/api/v1/app/{app_id}/msg\",method=\"POST\",status=\"2xx\"}"
        ),
        n as f64
    );
    assert_eq!(
        moved(
            "hookd_http_request_duration_seconds_count{route=\"/api/v1/app/{app_id}/msg\",method=\"POST\"}"
        ),
        n as f64
    );
    assert_eq!(moved("hookd_attempt_duration_seconds_count"), n as f64);
    assert_eq!(moved("hookd_delivery_latency_seconds_count"), n as f64);
    let db = match backend {
        Backend::Sqlite => "{backend=\"sqlite\"}",
        Backend::Postgres => "{backend=\"postgres\"}",
    };
    assert!(moved(&format!("hookd_db_commit_batch_size_count{db}")) >= 1.0);
    assert!(moved(&format!("hookd_db_commit_seconds_count{db}")) >= 1.0);
    assert!(moved(&format!("hookd_db_pool_wait_seconds_count{db}")) >= 1.0);
    assert!(page.get(&format!("hookd_db_pool_connections{db}")) >= 1.0);
    assert!(page.get("process_resident_memory_bytes") > 1e6);
    assert!(page.get("process_open_fds") > 0.0);
    assert!(page.has("process_cpu_seconds_total"));
    assert_eq!(page.get("hookd_queue_read_ok"), 1.0);
    // Requests are counted by route template: no id appears in their labels.
    for (series, _) in page.series("hookd_http_requests_total") {
        assert!(
            !series.contains(&app_id) && !series.contains(&ok),
            "{series}"
        );
    }

    // Failures of each kind. The retry schedule (two retries 0.2 s apart) ends each of
    // these after three attempts: retries exhausted.
    app.create_endpoint_to(&app_id, &rx.url("/fail")).await;
    app.create_endpoint_to(&app_id, "http://127.0.0.1:1/refused")
        .await;
    // Outside the allowed networks (loopback only here): refused by the SSRF guard.
    app.create_endpoint_to(&app_id, "http://10.255.255.1/blocked")
        .await;
    app.create_endpoint_to(&app_id, &rx.url("/slow")).await;
    app.send(&app_id, json!({"eventType": "e.bad", "payload": {}}))
        .await;
    // The held request to /slow is in flight for 0.5 s per attempt.
    scrape_until(&app, "a request in flight", |p| {
        p.get("hookd_node_in_flight") >= 1.0 && p.get("hookd_node_held") >= 1.0
    })
    .await;
    let page = scrape_until(&app, "four deliveries exhausted", |p| {
        p.get("hookd_retries_exhausted_total") - before.get("hookd_retries_exhausted_total") >= 4.0
    })
    .await;
    let moved = |series: &str| page.get(series) - before.get(series);
    assert_eq!(moved(&outcome("http_error")), 3.0);
    assert_eq!(moved(&outcome("transport_error")), 3.0);
    assert_eq!(moved(&outcome("ssrf_refused")), 3.0);
    assert_eq!(moved(&outcome("timeout")), 3.0);
    assert_eq!(moved("hookd_retries_exhausted_total"), 4.0);
    // The fifth endpoint (/ok) got this message too.
    assert_eq!(moved(&outcome("success")), n as f64 + 1.0);
    rx.open_gate();

    // 410 Gone disables the endpoint: counted, and the disabled gauge shows it.
    let gone_app = app.create_app().await;
    app.create_endpoint_to(&gone_app, &rx.url("/gone")).await;
    app.send(&gone_app, json!({"eventType": "e.gone", "payload": {}}))
        .await;
    let page = scrape_until(&app, "an endpoint disabled by 410", |p| {
        p.get("hookd_endpoints_disabled_total{reason=\"gone\"}")
            - before.get("hookd_endpoints_disabled_total{reason=\"gone\"}")
            >= 1.0
    })
    .await;
    assert_eq!(page.get("hookd_endpoints_disabled"), 1.0);
}

async fn a_receiver_that_stays_down_shows_in_the_queue_gauges(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.metrics_queue_interval = Duration::ZERO;
        // The first retry comes a minute later: the delivery waits, scheduled.
        c.retry_schedule = vec![Duration::from_secs(60)];
    })
    .await
    else {
        return;
    };
    let app_id = app.create_app().await;
    let down = app
        .create_endpoint_to(&app_id, "http://127.0.0.1:1/down")
        .await;
    app.send(&app_id, json!({"eventType": "e", "payload": {}}))
        .await;
    let page = scrape_until(&app, "the delivery waiting for its retry", |p| {
        p.get("hookd_queue_deliveries{state=\"scheduled\"}") == 1.0
    })
    .await;
    assert_eq!(page.get("hookd_queue_deliveries{state=\"due\"}"), 0.0);
    assert_eq!(page.get("hookd_queue_deliveries{state=\"in_flight\"}"), 0.0);
    let endpoint_age = format!(
        "hookd_endpoint_oldest_undelivered_age_seconds{{app_id=\"{app_id}\",endpoint_id=\"{down}\"}}"
    );
    assert!(page.has(&endpoint_age), "{}", page.text);
    // The ages grow while the receiver stays down.
    let first = page.get("hookd_queue_oldest_undelivered_age_seconds");
    let later = scrape_until(&app, "the oldest undelivered age to grow", |p| {
        p.get("hookd_queue_oldest_undelivered_age_seconds") > first + 0.2
    })
    .await;
    assert!(later.get(&endpoint_age) > page.get(&endpoint_age));
    assert_eq!(
        later.get("hookd_queue_oldest_due_age_seconds"),
        0.0,
        "nothing is due"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_requests_are_counted_by_provider_and_code() {
    let app = spawn_app_with(|_| {}).await;
    let (_, url) = app.create_source("github", "gh-s3cret").await;
    let body = r#"{"zen":"ok"}"#;
    let sig: String = hmac_sha256(b"gh-s3cret", &[body.as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let post = |signature: String| {
        let client = app.client.clone();
        let url = url.clone();
        async move {
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-github-event", "push")
                .header("x-github-delivery", "delivery-1")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post(format!("sha256={sig}")).await, 204);
    assert_eq!(post(format!("sha256={sig}")).await, 204, "the retry");
    assert_eq!(post(format!("sha256={}", "0".repeat(64))).await, 401);
    let unknown = app
        .client
        .post(format!("{}/ingest/not-a-token", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let page = app.scrape().await;
    assert_eq!(
        page.get("hookd_ingest_received_total{provider=\"github\"}"),
        2.0
    );
    assert_eq!(
        page.get("hookd_ingest_duplicates_total{provider=\"github\"}"),
        1.0
    );
    let refused = page.series("hookd_ingest_refused_total");
    assert_eq!(
        refused,
        [
            (
                "hookd_ingest_refused_total{provider=\"github\",code=\"bad_signature\"}",
                1.0
            ),
            (
                "hookd_ingest_refused_total{provider=\"unknown\",code=\"unknown_receive_url\"}",
                1.0
            ),
        ],
        "{}",
        page.text
    );
    assert!(!page.text.contains("not-a-token") && !page.text.contains("gh-s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_moves_the_page_and_metrics_token_guards_it() {
    use hookd_server::config::{Config, Layer};
    let port = hookd_testkit::free_port();
    let given = Layer {
        metrics_listen: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        metrics_token: Some("metrics-token-0123456789".into()),
        ..Default::default()
    };
    let resolved = Config::resolve(Layer::default(), given).unwrap();
    let app = spawn_app_with(|c| {
        c.metrics_listen = resolved.metrics_listen;
        c.metrics_token = resolved.metrics_token.clone();
    })
    .await;
    let (s, _) = app.call_root("GET", "/metrics", None).await;
    assert_eq!(s, 404, "not on the API listener");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let get = |token: Option<&'static str>| {
        let mut req = app.client.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            // The listener may still be starting.
            wait_for_value("the metrics listener", WAIT, Recheck::poll(), || {
                let req = req.try_clone().unwrap();
                async move { req.send().await.ok() }
            })
            .await
        }
    };
    assert_eq!(get(None).await.status().as_u16(), 401);
    assert_eq!(
        get(Some("wrong-token-0123456789")).await.status().as_u16(),
        401
    );
    let ok = get(Some("metrics-token-0123456789")).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert!(ok
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let page = Scrape::parse(&ok.text().await.unwrap());
    assert!(page.has("hookd_messages_accepted_total"));
    assert_eq!(
        get(Some(TOKEN)).await.status().as_u16(),
        200,
        "the admin token"
    );
    let (s, _) = app.call_root("GET", "/nothing-here", None).await;
    assert_eq!(s, 404);
}

/// The page's size does not follow the number of endpoints: 10,000 endpoints, each with
/// an undelivered message, add only the `metrics_top_endpoints` series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_endpoints_keep_the_page_small() {
    const ENDPOINTS: usize = 10_000;
    /// The stated bound (README, Metrics): the page stays under 64 KiB here.
    const MAX_PAGE: usize = 64 * 1024;
    let app = spawn_app_with(|c| {
        c.metrics_queue_interval = Duration::ZERO;
        c.retry_schedule = vec![Duration::from_secs(3600)];
    })
    .await;
    let app_id = app.create_app().await;
    let ids: Vec<String> = create_endpoints(&app, &app_id, ENDPOINTS).await;
    assert_eq!(ids.len(), ENDPOINTS);
    // One message to 10,000 endpoints is one large write: on a busy machine it may miss
    // the store's call deadline (503, retry later). Retried with its eventId, so a first
    // try that was written after all answers 409 instead of writing it twice.
    let limit = Duration::from_secs(90);
    let body = json!({"eventType": "e", "eventId": "fan-out-10k", "payload": {}});
    wait_for_value(
        "the message to be accepted",
        limit,
        Recheck::poll(),
        || async {
            let (s, v) = app.post(&format!("/app/{app_id}/msg"), body.clone()).await;
            match s {
                202 | 409 => Some(()),
                503 => None,
                _ => panic!("sending the message: {s} {v}"),
            }
        },
    )
    .await;
    // 10,000 first attempts (refused at once) on a machine that may be busy: a minute.
    let page = scrape_within(&app, "every delivery waiting for its retry", limit, |p| {
        p.get("hookd_queue_deliveries{state=\"scheduled\"}") == ENDPOINTS as f64
    })
    .await;
    let named = page.series("hookd_endpoint_oldest_undelivered_age_seconds");
    assert_eq!(named.len(), 10, "metrics_top_endpoints");
    assert!(
        page.text.len() < MAX_PAGE,
        "the page is {} bytes",
        page.text.len()
    );
}

/// Creates `n` endpoints to a closed port, 32 requests at a time; their ids.
async fn create_endpoints(app: &TestApp, app_id: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..n {
        if pending.len() == 32 {
            ids.push(pending.join_next().await.unwrap().unwrap());
        }
        let api = (**app).clone();
        let app_id = app_id.to_owned();
        pending.spawn(async move {
            api.create_endpoint_to(&app_id, &format!("http://127.0.0.1:1/e{i}"))
                .await
        });
    }
    while let Some(id) = pending.join_next().await {
        ids.push(id.unwrap());
    }
    ids
}

/// Every metric the shipped alert rules and Grafana dashboard (`deploy/`) name is one the
/// server declares, so neither watches a series that never exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_alerts_and_the_dashboard_name_is_served() {
    let app = spawn_app_with(|_| {}).await;
    let declared = app.scrape().await.names();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for file in [
        "prometheus/hookd-alerts.yml",
        "prometheus/hookd-alerts.test.yml",
        "grafana/hookd-dashboard.json",
    ] {
        let text = std::fs::read_to_string(deploy.join(file)).unwrap();
        let named = metric_names(&text);
        assert!(named.len() >= 3, "{file} names {named:?}");
        for name in named {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| declared.contains(*b)))
                .unwrap_or(&name);
            assert!(
                declared.contains(base),
                "{file} names {name}, which /metrics does not declare"
            );
        }
    }
}

/// The `hookd_*` and `process_*` metric names in `text`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut names = std::collections::BTreeSet::new();
    for prefix in ["hookd_", "process_"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(prefix) {
            let start = from + at;
            let boundary = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .map_or(text.len(), |n| start + n);
            if boundary {
                names.insert(text[start..end].to_owned());
            }
            from = end;
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleaners_deletions_are_counted() {
    let app = spawn_app_with(|c| {
        c.cleaner_interval = Duration::from_millis(200);
        c.idempotency_ttl = Duration::from_millis(100);
    })
    .await;
    let created = app
        .client
        .post(app.url("/app"))
        .bearer_auth(TOKEN)
        .header("idempotency-key", "clean-me-1")
        .json(&json!({"name": "cleaned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let series = "hookd_cleaner_deleted_total{kind=\"idempotency_keys\"}";
    let page = scrape_until(&app, "the expired key deleted", |p| p.get(series) >= 1.0).await;
    assert_eq!(
        page.get("hookd_cleaner_deleted_total{kind=\"attempts\"}"),
        0.0
    );
}

/// A pool too small for the requests at hand makes them wait, and the waits are counted.
#[tokio::test]
async fn waits_for_a_pooled_connection_are_counted_on_postgres() {
    let Some(app) = spawn_on(Backend::Postgres, |c| c.database_pool_size = 1).await else {
        return;
    };
    let app_id = app.create_app().await;
    const WAITS: &str = "hookd_db_pool_waits_total{backend=\"postgres\"}";
    let before = app.scrape().await.get(WAITS);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let api = (*app).clone();
        let path = format!("/app/{app_id}");
        calls.spawn(async move { api.get(&path).await.0 });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let after = app.scrape().await;
    assert!(
        after.get(WAITS) > before,
        "32 requests at once on a pool of one connection, and no wait counted:\n{}",
        after.text
    );
    assert_eq!(
        after.get("hookd_db_pool_connections{backend=\"postgres\"}"),
        1.0
    );
}

/// An endpoint whose place in the node is full (32 requests in flight, 2,000 queued: the
/// engine's bounds) leaves its other deliveries due and unclaimed in the database: the
/// queue shows them as due, and their oldest age grows until the receiver answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_left_due_show_their_age() {
    const OLDEST_DUE: &str = "hookd_queue_oldest_due_age_seconds";
    let app = spawn_app_with(|c| {
        c.metrics_queue_interval = Duration::ZERO;
        c.request_timeout = Duration::from_secs(120);
    })
    .await;
    let rx = Receiver::start().await;
    let mut held = Answer::ok();
    held.held = true;
    rx.set_default("/held", held);
    let app_id = app.create_app().await;
    app.create_endpoint_to(&app_id, &rx.url("/held")).await;
    let n = 2_100;
    let mut sends = tokio::task::JoinSet::new();
    for chunk in 0..16 {
        let api = (*app).clone();
        let app_id = app_id.clone();
        sends.spawn(async move {
            for i in (chunk..n).step_by(16) {
                api.send(&app_id, json!({"eventType": "e", "payload": {"i": i}}))
                    .await;
            }
        });
    }
    while let Some(done) = sends.join_next().await {
        done.unwrap();
    }
    let page = scrape_until(&app, "deliveries left due", |p| {
        p.get("hookd_queue_deliveries{state=\"due\"}") > 0.0 && p.get(OLDEST_DUE) > 0.0
    })
    .await;
    let first = page.get(OLDEST_DUE);
    scrape_until(&app, "the oldest due age to grow", |p| {
        p.get(OLDEST_DUE) > first + 0.2
    })
    .await;
    rx.open_gate();
    rx.wait_for("/held", n, Duration::from_secs(120)).await;
    let page = scrape_until(&app, "nothing left due", |p| {
        p.get("hookd_queue_deliveries{state=\"due\"}") == 0.0
    })
    .await;
    assert_eq!(page.get(OLDEST_DUE), 0.0);
}
