//! The watchdog on a real stall: a retry comes due while the database is frozen
//! (SIGSTOP), so the poller owes work it cannot claim. Past `HOOKD_STALL_AFTER` every
//! signal says so (the log, `/metrics`, health and readiness, and an operational webhook,
//! stored once the database answers again); after the thaw each says it recovered, and
//! the retry is delivered.

use crate::support::Node;
use hookd_testkit::{poll_until, Answer, PrivateServer, Received, Receiver};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const OPS_SECRET: &str = "whsec_c3RhbGwtdGVzdC1vcGVyYXRpb25hbC1zZWNyZXQ=";

fn log_has(log: &Path, parts: &[&str]) -> bool {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .any(|l| parts.iter().all(|p| l.contains(p)))
}

/// The operational webhooks of `event_type` among `got` (at `/ops`), as JSON.
fn ops_events(got: &[Received], event_type: &str) -> Vec<Value> {
    got.iter()
        .filter(|r| r.path == "/ops")
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter(|v| v["type"] == event_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_that_cannot_claim_due_work_is_reported_stalled_then_recovered() {
    let Some(pg) = PrivateServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let rx = Receiver::start().await;
    let node = Node::start_logging(
        &pg.url(),
        dir.path(),
        &[
            ("HOOKD_LOG", "info"),
            ("HOOKD_DATABASE_TIMEOUT", "1"),
            ("HOOKD_STALL_AFTER", "2"),
            ("HOOKD_RETRY_SCHEDULE", "2"),
            ("HOOKD_OPERATIONAL_WEBHOOK_URL", &rx.url("/ops")),
            ("HOOKD_OPERATIONAL_WEBHOOK_SECRET", OPS_SECRET),
        ],
        &log,
    )
    .await;
    let api = node.api();
    let app = api.create_named_app("stall").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;
    // The first attempt fails: its retry is due 2 s later.
    rx.script("/hook", [Answer::status(500)]);
    let msg = api
        .send(&app, json!({"eventType": "e", "payload": {}}))
        .await;
    rx.wait_for("/hook", 1, WAIT).await;
    api.wait_for(&format!("/app/{app}/attempt/msg/{msg}"), WAIT, |page| {
        page["data"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;

    pg.freeze();
    // The retry comes due, the poller cannot claim it: stalled once 2 s have passed.
    poll_until("the log says the poller stalled", WAIT, || async {
        log_has(&log, &["ERROR", "stalled", "part=\"poller\""])
    })
    .await;
    let page = api.scrape().await;
    assert_eq!(
        page.get("hookd_part_stalled{part=\"poller\"}"),
        1.0,
        "{}",
        page.text
    );
    assert!(page.get("hookd_stalls_total{part=\"poller\"}") >= 1.0);
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["components"]["poller"], "stalled", "{health}");
    let (status, ready) = api.get("/health/ready").await;
    assert_eq!(status, 503, "{ready}");

    pg.thaw();
    poll_until("healthy and ready again", WAIT, || async {
        let (health, _) = api.get("/health").await;
        let (ready, _) = api.get("/health/ready").await;
        health == 200 && ready == 200
    })
    .await;
    let page = api.scrape().await;
    assert_eq!(page.get("hookd_part_stalled{part=\"poller\"}"), 0.0);
    assert!(log_has(&log, &["recovered", "poller"]));
    // The retry is delivered, and the operator hears of the stall and the recovery.
    rx.wait_until("the retry delivered", WAIT, |got| {
        got.iter().any(|r| r.path == "/hook" && r.status == 200)
    })
    .await;
    rx.wait_until("both node events", WAIT, |got| {
        !ops_events(got, "hookd.node.recovered").is_empty()
    })
    .await;
    let stalled = ops_events(&rx.all(), "hookd.node.stalled");
    let poller: Vec<_> = stalled
        .iter()
        .filter(|e| e["data"]["part"] == "poller")
        .collect();
    assert!(!poller.is_empty(), "{stalled:?}");
    assert!(poller[0]["data"]["owedForSecs"].as_f64().unwrap() >= 2.0);
    assert!(poller[0]["data"]["nodeId"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
}
