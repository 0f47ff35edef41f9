//! A database that stops answering without going away: its processes frozen (SIGSTOP), or
//! the network between hookd and it silently dropping everything (a proxy that stops
//! forwarding but keeps the connections open). TCP stays up in both cases, so only hookd's
//! own call deadline (`HOOKD_DATABASE_TIMEOUT`) can end a call: every API call and health
//! check answers `503 unavailable` within it, never hangs; once the database answers again
//! hookd recovers by itself and delivers every message it accepted.

use crate::support::load::{all_arrived, Sender};
use crate::support::Node;
use hookd_testkit::receiver::answered;
use hookd_testkit::{poll_until, Api, PgSchema, PrivateServer, Receiver};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// `HOOKD_DATABASE_TIMEOUT` of the node under test, in seconds.
const DEADLINE: &str = "2";
/// The deadline plus slack for a 2-core machine shared with other builds: no answer may
/// take longer.
const BOUND: Duration = Duration::from_secs(5);
/// How long the database stays unreachable: several deadlines.
const OUTAGE: Duration = Duration::from_secs(8);

/// Asks `method path` and returns the status and body, asserting the answer came within
/// [`BOUND`].
async fn timed(api: &Api, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let asked = Instant::now();
    let answer = api.call(method, path, body).await;
    assert!(
        asked.elapsed() < BOUND,
        "{method} {path} answered in {:?}",
        asked.elapsed()
    );
    answer
}

/// The shared body of both tests: traffic flows, `cut` makes the database unreachable,
/// every kind of call answers 503 within the bound for [`OUTAGE`], `restore` brings it
/// back, and hookd recovers without losing an accepted message.
async fn outage_answers_503_in_time_then_recovers(
    database_url: &str,
    cut: impl FnOnce(),
    restore: impl FnOnce(),
) {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let node = Node::start(
        database_url,
        dir.path(),
        &[("HOOKD_LEASE", "3"), ("HOOKD_DATABASE_TIMEOUT", DEADLINE)],
    )
    .await;
    let api = node.api();
    let app = api.create_named_app("deadline").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;
    let senders: Vec<Sender> = (0..2)
        .map(|k| Sender::start(api.clone(), app.clone(), k * 1_000_000))
        .collect();
    rx.wait_until("traffic flows", Duration::from_secs(30), |got| {
        answered(got) > 50
    })
    .await;

    cut();
    let cut_at = Instant::now();
    let mut rounds = 0;
    while cut_at.elapsed() < OUTAGE {
        // Every kind of call at once: each is bounded on its own.
        let msg = json!({"eventType": "test.event", "payload": {"during": rounds}});
        let (msgs, app_path) = (format!("/app/{app}/msg"), format!("/app/{app}"));
        let past_first_deadline = cut_at.elapsed() > Duration::from_secs(3);
        let (create, list, health, get) = tokio::join!(
            timed(&api, "POST", &msgs, Some(msg)),
            timed(&api, "GET", &msgs, None),
            timed(&api, "GET", "/health", None),
            timed(&api, "GET", &app_path, None),
        );
        for ((status, body), ok) in [(create, 202), (list, 200), (get, 200)] {
            // A call racing the cut may still have been answered in time.
            if status != ok || past_first_deadline {
                assert_eq!(
                    (status, body["code"].as_str()),
                    (503, Some("unavailable")),
                    "{body}"
                );
            }
        }
        if past_first_deadline {
            let (status, body) = health;
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["components"]["database"], "unavailable", "{body}");
        }
        rounds += 1;
    }
    assert!(
        rounds >= 2,
        "only {rounds} rounds of calls during the outage"
    );

    restore();
    poll_until(
        "healthy again by itself",
        Duration::from_secs(30),
        || async { api.health().await == Some(200) },
    )
    .await;
    let mut accepted = Vec::new();
    for i in 0..20 {
        accepted.push(
            api.try_send_event(&app, 10_000_000 + i)
                .await
                .expect("accepted after recovery"),
        );
    }
    for s in senders {
        let sent = s.finish().await;
        assert!(
            sent.slowest < BOUND,
            "a sender waited {:?} for an answer",
            sent.slowest
        );
        assert!(
            sent.refused.keys().all(|k| k == "503 unavailable"),
            "refusals: {:?}",
            sent.refused
        );
        assert!(sent.refused_total() > 0, "the outage refused nothing");
        accepted.extend(sent.accepted);
    }
    all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_answers_503_within_the_deadline_then_recovers_without_loss() {
    let Some(pg) = PrivateServer::start() else {
        return;
    };
    outage_answers_503_in_time_then_recovers(&pg.url(), || pg.freeze(), || pg.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_stops_forwarding_answers_503_within_the_deadline_then_recovers() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let config = tokio_postgres::Config::from_str(schema.base_url()).unwrap();
    let (host, port) = match (config.get_hosts().first(), config.get_ports().first()) {
        (Some(tokio_postgres::config::Host::Tcp(host)), Some(port)) => (host.clone(), *port),
        _ => panic!("HOOKD_TEST_POSTGRES_URL must name a TCP host and port"),
    };
    let upstream = format!("{host}:{port}");
    let proxy = Proxy::start(upstream.clone()).await;
    assert!(schema.url().contains(&upstream), "the URL names {upstream}");
    let via_proxy = schema.url().replacen(&upstream, &proxy.addr.to_string(), 1);
    outage_answers_503_in_time_then_recovers(
        &via_proxy,
        || proxy.forward(false),
        || proxy.forward(true),
    )
    .await;
}

/// A TCP proxy to PostgreSQL that can stop forwarding bytes (both ways, for connections
/// open and new) while keeping every connection open, like a network that drops
/// everything without a reset.
struct Proxy {
    addr: SocketAddr,
    forwarding: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (forwarding, watch) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, watch) = (upstream.clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_rd, client_wr) = client.into_split();
                    let (server_rd, server_wr) = server.into_split();
                    tokio::spawn(pump(client_rd, server_wr, watch.clone()));
                    tokio::spawn(pump(server_rd, client_wr, watch));
                });
            }
        });
        Proxy { addr, forwarding }
    }

    fn forward(&self, on: bool) {
        self.forwarding.send_replace(on);
    }
}

/// Copies `from` to `to` while forwarding is on; holds (neither reads nor writes) while
/// it is off. Ends when either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut forwarding: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if forwarding.wait_for(|on| *on).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read just as forwarding stopped wait for it to resume.
        if forwarding.wait_for(|on| *on).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
