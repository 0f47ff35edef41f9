//! PostgreSQL faults under load: connections killed by the server, and a server that
//! crashes and comes back. hookd reports unhealthy and answers 503 (never hangs) while
//! the database is gone, reconnects by itself, and delivers every message it accepted.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::load::{all_arrived, Sender};
use support::postgres::{test_url, PrivateServer, Schema};
use support::{eventually, Api, Behaviour, Node, Receiver};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_under_load_lose_nothing() {
    let Some(url) = test_url("connections_killed_under_load_lose_nothing") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour {
        delay: Duration::from_millis(2),
        ..Behaviour::default()
    })
    .await;
    let node = Node::start(&schema.url, dir.path(), &[("HOOKD_LEASE", "3")]).await;
    let api = Api::new(&node);
    let app = api.create_app("faults").await;
    api.create_endpoint(&app, &rx.url("/hook")).await;

    let senders: Vec<Sender> = (0..4)
        .map(|k| Sender::start(api.clone(), app.clone(), k * 1_000_000))
        .collect();
    let mut killed = 0;
    for _ in 0..5 {
        eventually("traffic flows", Duration::from_secs(30), || {
            let n = rx.arrivals().len();
            async move { n > killed * 50 + 50 }
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
    eventually("healthy again", Duration::from_secs(30), || async {
        api.health().await == Some(200)
    })
    .await;
    accepted.push(api.send(&app, 7).await.expect("accepted after recovery"));
    all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_and_restart_answers_503_then_recovers_without_loss() {
    let test = "a_database_crash_and_restart_answers_503_then_recovers_without_loss";
    let Some(pg) = PrivateServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::default()).await;
    let node = Node::start(
        &pg.url(),
        dir.path(),
        &[
            ("HOOKD_LEASE", "3"),
            ("HOOKD_DATABASE_STATEMENT_TIMEOUT", "2"),
        ],
    )
    .await;
    let api = Api::new(&node);
    let app = api.create_app("restart").await;
    api.create_endpoint(&app, &rx.url("/hook")).await;

    let sender = Sender::start(api.clone(), app.clone(), 0);
    eventually("traffic flows", Duration::from_secs(30), || {
        let n = rx.arrivals().len();
        async move { n > 100 }
    })
    .await;
    pg.crash();

    // While the database is down: unhealthy, and a message is refused quickly, not hung.
    eventually(
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
    eventually(
        "healthy after the restart",
        Duration::from_secs(30),
        || async { api.health().await == Some(200) },
    )
    .await;
    let after = Arc::new(Mutex::new(Vec::new()));
    for i in 0..20 {
        let id = api
            .send(&app, 10_000_000 + i)
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
