//! Crash recovery with the real binary: `kill -9` the server while deliveries are in
//! flight, start it again on the same data, and every accepted message still arrives.

use crate::support::{sqlite_url, Node};
use hookd_testkit::receiver::{answered, delivered};
use hookd_testkit::{Answer, Receiver};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    // Answers after a short delay, so that many requests are in flight at the kill.
    let rx = Receiver::start().await;
    rx.set_fallback(Answer::ok().delay(Duration::from_millis(20)));

    let server = Node::start(&db, dir.path(), &[]).await;
    let api = server.api();
    let app = api.create_named_app("crash").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;
    let mut accepted = HashSet::new();
    for i in 0..300 {
        accepted.insert(api.try_send_event(&app, i).await.expect("accepted"));
    }
    // Kill while deliveries are still being answered.
    rx.wait_until(
        "deliveries before the kill",
        Duration::from_secs(20),
        |got| answered(got) >= 20,
    )
    .await;
    server.kill();
    let before = answered(&rx.all());
    assert!(
        before < accepted.len(),
        "the kill happened mid-delivery ({before} arrived)"
    );

    let _server = Node::start(&db, dir.path(), &[]).await;
    rx.wait_until(
        "every accepted message arrived",
        Duration::from_secs(60),
        |got| {
            let got: HashSet<String> = delivered(got).into_keys().map(|(m, _)| m).collect();
            accepted.is_subset(&got)
        },
    )
    .await;
}
