//! What only PostgreSQL does: several stores (nodes) on one database, notifications
//! between them, concurrent migrations, outages, killed connections, timeouts and TLS.
//! Every wait is on a signal or polls with a deadline; nothing sleeps to let something
//! happen.

use crate::fixtures::*;
use crate::pg_schema::{with_params, PgSchema, SchemaStore};
use crate::queue::queued;
use hookd_store::postgres::{PostgresOptions, PostgresStore};
use hookd_store::AppStore;
use hookd_store::EndpointStore;
use hookd_store::IngestStore;
use hookd_store::MessageStore;
use hookd_store::QueueStore;
use hookd_store::{Store, StoreError, StoreResult};
use hookd_testkit::wait::{wait_for_value, Recheck};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a signal or a recovery may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// Waits for `signal`, failing the test after [`DEADLINE`].
async fn within(what: &str, signal: impl Future<Output = ()>) {
    if tokio::time::timeout(DEADLINE, signal).await.is_err() {
        panic!("{what} did not happen within {DEADLINE:?}");
    }
}

/// Retries `call` until it succeeds, failing the test after [`DEADLINE`]. Polling: the
/// server does not say when it is back.
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    wait_for_value(what, DEADLINE, Recheck::poll(), || {
        let result = call();
        async move {
            result
                .await
                .inspect_err(|e| eprintln!("{what}: retrying after {e}"))
                .ok()
        }
    })
    .await
}

fn assert_unavailable<T: std::fmt::Debug>(result: StoreResult<T>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_stores_on_one_schema_claim_concurrently_without_overlap_or_loss() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let (_, eps, _) = queued(a.as_ref(), 60).await;
    let claimer = |store: Arc<PostgresStore>, owner: &'static str| {
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let batch = store
                    .claim_due(t(10_000), 4, t(20_000), owner, &[])
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return claimed;
                }
                assert!(batch
                    .iter()
                    .all(|c| c.dest.lease_owner.as_deref() == Some(owner)));
                claimed.extend(batch.into_iter().map(|c| c.dest.endpoint_id));
            }
        })
    };
    let claimers = [
        claimer(a.clone(), "a1"),
        claimer(b.clone(), "b1"),
        claimer(a.clone(), "a2"),
        claimer(b.clone(), "b2"),
    ];
    let mut seen = Vec::new();
    for c in claimers {
        seen.extend(c.await.unwrap());
    }
    seen.sort();
    let mut expected: Vec<_> = eps.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected, "every row claimed exactly once");
    // The leases were written: nothing is due before they expire, everything after.
    assert!(b
        .claim_due(t(19_999), 100, t(30_000), "late", &[])
        .await
        .unwrap()
        .is_empty());
    let expired = a
        .claim_due(t(20_000), 100, t(30_000), "late", &[])
        .await
        .unwrap();
    assert_eq!(expired.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_due_signal_wakes_another_store_on_unclaimed_messages_and_requeues() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let signal = a.due_signal().expect("PostgreSQL stores have a due signal");
    let app = app(None);
    b.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    b.create_endpoint(&ep).await.unwrap();

    let msg = message(&app.id, "invoice.paid");
    b.create_message(&msg, &[dest(&msg, &ep.id, t(0))])
        .await
        .unwrap();
    within(
        "the signal after another store's message",
        signal.notified(),
    )
    .await;

    b.requeue(&dest(&msg, &ep.id, t(50))).await.unwrap();
    within(
        "the signal after another store's requeue",
        signal.notified(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_stores_ingesting_the_same_events_store_each_once() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let app = app(None);
    a.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    a.create_endpoint(&ep).await.unwrap();
    let source = hookd_core::ids::SourceId::generate_at(t(0));
    // Each node receives every event twice, the two nodes in opposite orders: whatever
    // lands in which batch on which node, every event is stored once, every retry names it
    // and no write fails.
    let sender = |store: Arc<PostgresStore>, reversed: bool| {
        let (app_id, ep_id, source) = (app.id.clone(), ep.id.clone(), source.clone());
        tokio::spawn(async move {
            let mut keys: Vec<usize> = (0..40).map(|i| i % 20).collect();
            if reversed {
                keys.reverse();
            }
            let writes = keys.into_iter().map(|k| {
                let (store, app_id, ep_id) = (store.clone(), app_id.clone(), ep_id.clone());
                let entry = hookd_store::IngestDedup {
                    source_id: source.clone(),
                    event_id: format!("delivery-{k}"),
                    expires_at: t(1_000_000),
                };
                tokio::spawn(async move {
                    let msg = message(&app_id, "github.push");
                    let dests = [dest(&msg, &ep_id, t(0))];
                    let written = store
                        .create_ingest_message(
                            &msg,
                            &dests,
                            &hookd_core::model::IngestForward::default(),
                            Some(&entry),
                        )
                        .await
                        .unwrap();
                    (k, msg.id, written)
                })
            });
            let mut out = Vec::new();
            for w in writes.collect::<Vec<_>>() {
                out.push(w.await.unwrap());
            }
            out
        })
    };
    let (from_a, from_b) = (sender(a.clone(), false), sender(b.clone(), true));
    let mut results = from_a.await.unwrap();
    results.extend(from_b.await.unwrap());
    let mut stored = std::collections::HashMap::new();
    for (k, id, written) in &results {
        if *written == hookd_store::IngestWrite::Created {
            assert!(
                stored.insert(*k, id.clone()).is_none(),
                "event {k} stored twice"
            );
        }
    }
    assert_eq!(stored.len(), 20);
    for (k, _, written) in &results {
        if let hookd_store::IngestWrite::Duplicate(first) = written {
            assert_eq!(&stored[k], first);
        }
    }
    let claims = a.claim_due(t(0), 1_000, t(10), "a", &[]).await.unwrap();
    assert_eq!(claims.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_due_signal_wakes_another_store_on_ingested_events() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let signal = a.due_signal().unwrap();
    let app = app(None);
    b.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    b.create_endpoint(&ep).await.unwrap();

    let msg = message(&app.id, "github.push");
    let entry = hookd_store::IngestDedup {
        source_id: hookd_core::ids::SourceId::generate_at(t(0)),
        event_id: "delivery-1".into(),
        expires_at: t(1_000),
    };
    let written = b
        .create_ingest_message(
            &msg,
            &[dest(&msg, &ep.id, t(0))],
            &hookd_core::model::IngestForward::default(),
            Some(&entry),
        )
        .await
        .unwrap();
    assert_eq!(written, hookd_store::IngestWrite::Created);
    within(
        "the signal after another store's ingested event",
        signal.notified(),
    )
    .await;
    let claims = a.claim_due(t(0), 10, t(100), "a", &[]).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(
        claims[0].forward,
        Some(hookd_store::Forward::Meta(std::sync::Arc::new(
            hookd_core::model::IngestForward::default()
        )))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_when_nodes_start_together_and_again() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let opts = schema.options();
    let (a, b, c) = tokio::join!(
        PostgresStore::connect(&opts),
        PostgresStore::connect(&opts),
        PostgresStore::connect(&opts)
    );
    let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let again = PostgresStore::connect(&opts).await.unwrap();
    let app = app(Some("migrated"));
    a.create_app(&app).await.unwrap();
    assert_eq!(again.get_app("migrated").await.unwrap(), app);
    let versions: Vec<i32> = schema
        .admin()
        .await
        .query(
            &format!("SELECT version FROM {}.hookd_schema_version", schema.name()),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    // One migration per file under sql/ (counted, so new migrations need no edit here).
    let sql_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/postgres/sql");
    let newest = std::fs::read_dir(sql_dir).unwrap().count() as i32;
    assert_eq!(versions, [newest], "one row, at the newest version");
}

/// A TCP relay in front of the test server, so a test can make the server unreachable.
struct Relay {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every relayed connection.
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                relays.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, accept }
    }

    /// Closes the port and every relayed connection: the server is gone.
    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

/// The test server's address, from its URL.
async fn server_addr(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(5432);
    let mut addrs = tokio::net::lookup_host(format!("{host}:{port}"))
        .await
        .unwrap();
    addrs.next().unwrap()
}

/// `url` with its host and port replaced.
fn via(url: &str, addr: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_host(Some(&addr.ip().to_string())).unwrap();
    parsed.set_port(Some(addr.port())).unwrap();
    parsed.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unreachable_server_is_unavailable_within_seconds() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let relay = Relay::start(server_addr(schema.base_url()).await).await;
    let relay_addr = relay.addr;
    let opts = PostgresOptions {
        url: via(schema.url(), relay_addr),
        connect_timeout: Duration::from_secs(1),
        acquire_timeout: Duration::from_secs(1),
        ..schema.options()
    };
    let store = PostgresStore::connect(&opts).await.unwrap();
    store.health().await.unwrap();

    relay.stop().await;
    let started = Instant::now();
    assert_unavailable(store.health().await);
    assert_unavailable(store.create_app(&app(None)).await);
    assert_unavailable(store.next_due_at().await);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // Starting against it fails as fast, without echoing the URL.
    let started = Instant::now();
    let err = PostgresStore::connect(&opts)
        .await
        .err()
        .expect("no server");
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = format!("{err:#}");
    assert!(!text.contains(&relay_addr.port().to_string()), "{text}");
    assert!(!text.contains("search_path"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_connections_are_replaced_and_listening_resumes() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let signal = a.due_signal().unwrap();
    let app = app(None);
    a.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    a.create_endpoint(&ep).await.unwrap();
    b.health().await.unwrap();

    let admin = schema.admin().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&schema.name()],
        )
        .await
        .unwrap()
        .get(0);
    // Both listeners and at least one pooled connection of each store.
    assert!(killed >= 4, "killed {killed} connections");

    eventually("a's health", || a.health()).await;
    eventually("b's health", || b.health()).await;
    assert_eq!(a.get_app(app.id.as_str()).await.unwrap(), app);
    // A's listener is back and says so (it may have missed notifications)...
    within(
        "the signal after the listener reconnected",
        signal.notified(),
    )
    .await;
    // ...and hears the other store again.
    let msg = message(&app.id, "invoice.paid");
    b.create_message(&msg, &[dest(&msg, &ep.id, t(0))])
        .await
        .unwrap();
    within("the signal after the reconnect", signal.notified()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_statement_past_the_statement_timeout_is_unavailable() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let store = PostgresStore::connect(&PostgresOptions {
        statement_timeout: Duration::from_millis(200),
        ..schema.options()
    })
    .await
    .unwrap();
    let mut admin = schema.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "LOCK TABLE {}.applications IN ACCESS EXCLUSIVE MODE",
        schema.name()
    ))
    .await
    .unwrap();
    let started = Instant::now();
    assert_unavailable(store.get_app("blocked").await);
    assert!(started.elapsed() < Duration::from_secs(5));
    tx.rollback().await.unwrap();
    assert!(matches!(
        store.get_app("blocked").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sslmode_require_rejects_a_certificate_that_does_not_verify() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let ssl: String = schema
        .admin()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    if ssl != "on" {
        eprintln!("skipped: the test server does not offer TLS");
        return;
    }
    // The test server's certificate is not signed by a public CA (nor for 127.0.0.1).
    let err = PostgresStore::connect(&PostgresOptions {
        url: with_params(schema.url(), &[("sslmode", "require")]),
        ..schema.options()
    })
    .await
    .err()
    .expect("an unverifiable certificate must be refused");
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    // Without `require`, the store falls back to plaintext and works.
    schema.open().await.health().await.unwrap();
}
