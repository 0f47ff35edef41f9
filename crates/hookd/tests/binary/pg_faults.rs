//! PostgreSQL faults under load: connections killed by the server, and a server that
//! crashes and comes back. hookd reports unhealthy and answers 503 (never hangs) while
//! the database is gone, reconnects by itself, and delivers every message it accepted.

use crate::support::load::{all_arrived, Sender};
use crate::support::Node;
use hookd_testkit::receiver::answered;
use hookd_testkit::{poll_until, Answer, PgSchema, PrivateServer, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_under_load_lose_nothing() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    rx.set_fallback(Answer::ok().delay(Duration::from_millis(2)));
    let node = Node::start(schema.url(), dir.path(), &[("HOOKD_LEASE", "3")]).await;
    let api = node.api();
    let app = api.create_named_app("faults").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;

    let senders: Vec<Sender> = (0..4)
        .map(|k| Sender::start(api.clone(), app.clone(), k * 1_000_000))
        .collect();
    let mut killed = 0;
    for _ in 0..5 {
        rx.wait_until("traffic flows", Duration::from_secs(30), |got| {
            answered(got) > killed * 50 + 50
        })
        .await;
        killed += usize::try_from(schema.terminate_connections().await).unwrap();
    }
    assert!(killed >= 5, "connections were killed ({killed})");
    let mut accepted = Vec::new();
    for s in senders {
        accepted.extend(s.finish().await.accepted);
    }
    // Recovered: healthy again, and new messages are accepted.
    poll_until("healthy again", Duration::from_secs(30), || async {
        api.health().await == Some(200)
    })
    .await;
    accepted.push(
        api.try_send_event(&app, 7)
            .await
            .expect("accepted after recovery"),
    );
    all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_and_restart_answers_503_then_recovers_without_loss() {
    let Some(pg) = PrivateServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let node = Node::start(
        &pg.url(),
        dir.path(),
        &[
            ("HOOKD_LEASE", "3"),
            ("HOOKD_DATABASE_STATEMENT_TIMEOUT", "2"),
        ],
    )
    .await;
    let api = node.api();
    let app = api.create_named_app("restart").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;

    let sender = Sender::start(api.clone(), app.clone(), 0);
    rx.wait_until("traffic flows", Duration::from_secs(30), |got| {
        answered(got) > 100
    })
    .await;
    pg.crash();

    // While the database is down: unhealthy, and a message is refused quickly, not hung.
    poll_until(
        "unhealthy while the database is down",
        Duration::from_secs(20),
        || async { api.health().await == Some(503) },
    )
    .await;
    let asked = Instant::now();
    let (status, body) = api
        .try_call(
            "POST",
            &format!("/app/{app}/msg"),
            serde_json::json!({"eventType": "test.event", "payload": {}}),
        )
        .await
        .expect("an answer while the database is down");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "answered in {:?}",
        asked.elapsed()
    );

    pg.up();
    poll_until(
        "healthy after the restart",
        Duration::from_secs(30),
        || async { api.health().await == Some(200) },
    )
    .await;
    let after = Arc::new(Mutex::new(Vec::new()));
    for i in 0..20 {
        let id = api
            .try_send_event(&app, 10_000_000 + i)
            .await
            .expect("accepted after restart");
        after.lock().unwrap().push(id);
    }
    let sent = sender.finish().await;
    let mut accepted = sent.accepted.clone();
    accepted.extend(after.lock().unwrap().iter().cloned());
    assert!(
        sent.refused_total() > 0,
        "some messages were refused during the outage"
    );
    all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
}
