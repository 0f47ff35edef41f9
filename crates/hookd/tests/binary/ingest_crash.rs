//! The receiving route (`/ingest/{token}`) with the real binary: a `kill -9` while
//! providers are sending loses no acknowledged event, and two nodes on one PostgreSQL
//! database that both get every event (as from a provider behind a load balancer that
//! retries on the other node) store and forward each of them once.
//!
//! The provider is GitHub (`X-GitHub-Delivery` is the event id, `X-Hub-Signature-256` the
//! signature); see `support/github.rs`.

use crate::support::github::{self, check_forwarded, delivery_of, Ack, Delivery, Source};
use crate::support::{sqlite_url, Node};
use hookd_testkit::{poll_until, wait_until, Answer, PgSchema, Received, Receiver, Signal};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Concurrent senders, as a provider has several deliveries in flight.
const SENDERS: usize = 8;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `items` split round-robin into `SENDERS` batches.
fn batches<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    (0..SENDERS)
        .map(|t| items.iter().skip(t).step_by(SENDERS).cloned().collect())
        .collect()
}

/// Sends every delivery to `url`, `SENDERS` at a time; each one must be acknowledged.
async fn send_all(url: &str, deliveries: &[Delivery]) -> Vec<(Delivery, Ack)> {
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches(deliveries) {
        let url = url.to_owned();
        tasks.spawn(async move {
            let client = client();
            let mut out = Vec::new();
            for d in batch {
                let ack = github::send(&client, &url, &d)
                    .await
                    .unwrap_or_else(|e| panic!("delivery {} got no answer: {e}", d.id));
                out.push((d, ack));
            }
            out
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.extend(done.unwrap());
    }
    out
}

/// Successful forwarded requests, by `x-github-delivery`.
fn forwarded(got: &[Received]) -> HashMap<String, Vec<Received>> {
    let mut out: HashMap<String, Vec<Received>> = HashMap::new();
    for a in got.iter().filter(|a| a.delivered()) {
        out.entry(delivery_of(a).to_owned())
            .or_default()
            .push(a.clone());
    }
    out
}

/// Waits until every delivery in `acked` has been forwarded successfully.
async fn all_forwarded(rx: &Receiver, acked: &HashMap<String, Ack>, limit: Duration) {
    rx.wait_until("every acknowledged event was forwarded", limit, |got| {
        let got = forwarded(got);
        acked.keys().all(|d| got.contains_key(d))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_receiving_loses_no_acknowledged_event() {
    const EVENTS: usize = 600;
    const BEFORE_KILL: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    // Answers after a short delay, so forwarding is still under way at the kill.
    let rx = Receiver::start().await;
    rx.set_fallback(Answer::ok().delay(Duration::from_millis(20)));
    let server = Node::start(&db, dir.path(), &[]).await;
    let api = server.api();
    let source = Source::create(&api, &rx.url("/gh")).await;
    let deliveries: Vec<Delivery> = (0..EVENTS).map(Delivery::new).collect();
    let by_id: HashMap<String, Delivery> = deliveries
        .iter()
        .map(|d| (d.id.clone(), d.clone()))
        .collect();

    // Several senders go through the deliveries; the server dies under them.
    let (acked_count, acked_signal) = (Arc::new(AtomicUsize::new(0)), Signal::new());
    let mut senders = tokio::task::JoinSet::new();
    for batch in batches(&deliveries) {
        let (url, acked_count, acked_signal) =
            (source.url(&api), acked_count.clone(), acked_signal.clone());
        senders.spawn(async move {
            let client = client();
            let mut out = Vec::new();
            for d in batch {
                let answer = github::send(&client, &url, &d).await.ok();
                if answer.is_some() {
                    acked_count.fetch_add(1, Ordering::SeqCst);
                    acked_signal.raise();
                }
                out.push((d, answer));
            }
            out
        });
    }
    wait_until(
        "events acknowledged before the kill",
        Duration::from_secs(30),
        acked_signal.recheck(),
        || {
            let n = acked_count.load(Ordering::SeqCst);
            async move { n >= BEFORE_KILL }
        },
    )
    .await;
    server.kill();
    let mut acked: HashMap<String, Ack> = HashMap::new();
    let mut unanswered = Vec::new();
    while let Some(done) = senders.join_next().await {
        for (d, answer) in done.unwrap() {
            match answer {
                Some(ack) => {
                    assert!(!ack.duplicate, "first send of {} was a duplicate", d.id);
                    acked.insert(d.id.clone(), ack);
                }
                None => unanswered.push(d),
            }
        }
    }
    assert!(
        acked.len() >= BEFORE_KILL && !unanswered.is_empty(),
        "the kill came mid-stream ({} acknowledged, {} unanswered)",
        acked.len(),
        unanswered.len()
    );
    let forwarded_before = forwarded(&rx.all()).len();

    // Restarted on the same data. The provider sends again what got no answer: each is
    // acknowledged, as a duplicate if it had been stored before the kill.
    let server = Node::start(&db, dir.path(), &[]).await;
    let api = server.api();
    let url = source.url(&api);
    let mut stored_unanswered = 0;
    for (d, ack) in send_all(&url, &unanswered).await {
        stored_unanswered += usize::from(ack.duplicate);
        acked.insert(d.id, ack);
    }
    // A retry of an acknowledged event (a provider that missed the answer after all) is a
    // duplicate naming the message stored before the kill.
    let sample: Vec<Delivery> = deliveries
        .iter()
        .filter(|d| !unanswered.iter().any(|u| u.id == d.id))
        .take(20)
        .cloned()
        .collect();
    for (d, ack) in send_all(&url, &sample).await {
        assert_eq!(
            ack,
            Ack {
                msg_id: acked[&d.id].msg_id.clone(),
                duplicate: true
            },
            "retry of acknowledged delivery {}",
            d.id
        );
    }
    assert_eq!(acked.len(), EVENTS);

    all_forwarded(&rx, &acked, Duration::from_secs(90)).await;
    let got = forwarded(&rx.all());
    for (id, arrivals) in &got {
        let delivery = by_id
            .get(id)
            .unwrap_or_else(|| panic!("forwarded an unknown delivery {id}"));
        for a in arrivals {
            check_forwarded(&source, a, delivery, &acked[id].msg_id);
        }
    }
    // At least once to the receiver, but exactly once in the store.
    let stored = source.messages(&api).await;
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "a message listed twice");
    let acked_ids: HashSet<&String> = acked.values().map(|a| &a.msg_id).collect();
    assert_eq!(stored.len(), EVENTS, "one message per delivery id");
    assert_eq!(
        distinct, acked_ids,
        "the stored messages are those acknowledged"
    );
    assert!(source.rejections(&api).await.is_empty());
    let repeats: usize = got.values().map(|a| a.len() - 1).sum();
    eprintln!(
        "{} acknowledged before the kill, {} unanswered ({stored_unanswered} of them \
         stored before the kill), {forwarded_before} forwarded before the kill, \
         {repeats} forwarded more than once",
        EVENTS - unanswered.len(),
        unanswered.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_receive_the_same_events_once() {
    const EVENTS: usize = 200;
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    rx.set_fallback(Answer::ok().delay(Duration::from_millis(5)));
    let a = Node::start(schema.url(), dir.path(), &[]).await;
    let b = Node::start(schema.url(), dir.path(), &[]).await;
    let apis = [a.api(), b.api()];
    let source = Source::create(&apis[0], &rx.url("/gh")).await;
    // The same token on either node (GitHub's signature does not cover the URL).
    let urls = [source.url(&apis[0]), source.url(&apis[1])];
    let deliveries: Vec<Delivery> = (0..EVENTS).map(Delivery::new).collect();

    // Each event goes to both nodes at the same moment.
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches(&deliveries) {
        let urls = urls.clone();
        tasks.spawn(async move {
            let client = client();
            let mut out = Vec::new();
            for d in batch {
                let (x, y) = tokio::join!(
                    github::send(&client, &urls[0], &d),
                    github::send(&client, &urls[1], &d)
                );
                let (x, y) = (x.expect("node A answers"), y.expect("node B answers"));
                out.push((d, x, y));
            }
            out
        });
    }
    let mut acked: HashMap<String, Ack> = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        for (d, x, y) in done.unwrap() {
            assert_eq!(
                x.msg_id, y.msg_id,
                "both nodes name one message for {}",
                d.id
            );
            assert!(
                x.duplicate != y.duplicate,
                "exactly one node stored {} ({x:?}, {y:?})",
                d.id
            );
            acked.insert(d.id, x);
        }
    }
    assert_eq!(acked.len(), EVENTS);

    all_forwarded(&rx, &acked, Duration::from_secs(60)).await;
    // Once every destination is settled nothing more can be sent: the counts are final.
    poll_until(
        "every destination settled",
        Duration::from_secs(30),
        || async {
            schema
                .count("SELECT count(*) FROM message_destinations WHERE status <> 0")
                .await
                == 0
        },
    )
    .await;
    let got = forwarded(&rx.all());
    let dupes: Vec<(&String, usize)> = got
        .iter()
        .filter(|(_, a)| a.len() > 1)
        .map(|(d, a)| (d, a.len()))
        .collect();
    assert!(dupes.is_empty(), "forwarded more than once: {dupes:?}");
    assert_eq!(rx.all().len(), EVENTS, "no failed or extra forwards");
    for d in &deliveries {
        check_forwarded(&source, &got[&d.id][0], d, &acked[&d.id].msg_id);
    }
    for api in &apis {
        let stored = source.messages(api).await;
        assert_eq!(stored.len(), EVENTS, "one message per delivery id");
        let stored: HashSet<&String> = stored.iter().collect();
        let acked_ids: HashSet<&String> = acked.values().map(|a| &a.msg_id).collect();
        assert_eq!(
            stored, acked_ids,
            "the stored messages are those acknowledged"
        );
        assert!(source.rejections(api).await.is_empty());
    }
}
