//! Crash recovery with the real binary: `kill -9` the server while deliveries are in
//! flight, start it again on the same data, and every accepted message still arrives.

mod support;

use std::collections::HashSet;
use std::time::Duration;
use support::{eventually, Api, Behaviour, Node, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hookd.db").display());
    // Answers after a short delay, so that many requests are in flight at the kill.
    let rx = Receiver::start(Behaviour {
        delay: Duration::from_millis(20),
        ..Behaviour::default()
    })
    .await;

    let server = Node::start(&db, dir.path(), &[]).await;
    let api = Api::new(&server);
    let app = api.create_app("crash").await;
    api.create_endpoint(&app, &rx.url("/hook")).await;
    let mut accepted = HashSet::new();
    for i in 0..300 {
        accepted.insert(api.send(&app, i).await.expect("accepted"));
    }
    // Kill while deliveries are still arriving.
    eventually(
        "deliveries before the kill",
        Duration::from_secs(20),
        || {
            let n = rx.arrivals().len();
            async move { n >= 20 }
        },
    )
    .await;
    server.kill();
    let before = rx.arrivals().len();
    assert!(
        before < accepted.len(),
        "the kill happened mid-delivery ({before} arrived)"
    );

    let _server = Node::start(&db, dir.path(), &[]).await;
    eventually(
        "every accepted message arrived",
        Duration::from_secs(60),
        || {
            let got: HashSet<String> = rx.delivered().into_keys().map(|(m, _)| m).collect();
            let missing = accepted.difference(&got).count();
            async move { missing == 0 }
        },
    )
    .await;
}
