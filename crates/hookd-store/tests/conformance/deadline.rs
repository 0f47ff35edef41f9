//! The call deadline: a database that does not answer (a lock held elsewhere stands in for
//! a frozen server) gives `Unavailable` within the deadline on both backends, the store
//! keeps working once it answers again, and a write whose caller gave up before it started
//! is never made. The frozen and partitioned server themselves are tested at binary level
//! (`crates/hookd/tests/binary/db_deadline.rs`).

use crate::fixtures::*;
use crate::pg_schema::{PgSchema, SchemaStore};
use hookd_store::postgres::{PostgresOptions, PostgresStore};
use hookd_store::sqlite::SqliteStore;
use hookd_store::AppStore;
use hookd_store::MessageStore;
use hookd_store::{Store, StoreError, StoreResult};
use hookd_testkit::poll_until;
use std::time::Duration;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_millis(500);
/// The deadline plus generous scheduling slack on a busy 2-core machine.
const BOUND: Duration = Duration::from_secs(3);

/// Runs `call` and asserts it is `Unavailable`, answered within [`BOUND`].
async fn unavailable_in_time<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = StoreResult<T>>,
) {
    let started = Instant::now();
    let result = call.await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{what}: expected Unavailable, got {result:?}"
    );
    assert!(
        started.elapsed() < BOUND,
        "{what}: answered in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_call_past_the_deadline_is_unavailable_and_its_connection_is_not_reused() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    // One pooled connection: had the stuck one gone back to the pool, the health check
    // below would queue behind its blocked statement.
    let store = PostgresStore::connect(&PostgresOptions {
        pool_size: 1,
        statement_timeout: Duration::from_secs(60),
        call_timeout: LIMIT,
        ..schema.options()
    })
    .await
    .unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut admin = schema.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.batch_execute(&format!(
        "LOCK TABLE {0}.applications, {0}.messages IN ACCESS EXCLUSIVE MODE",
        schema.name()
    ))
    .await
    .unwrap();

    unavailable_in_time("a read", store.get_app(app.id.as_str())).await;
    // The group-commit path: the caller waits on a batch whose statement is blocked.
    let msg = message(&app.id, "e");
    unavailable_in_time("a message create", store.create_message(&msg, &[])).await;
    store.health().await.expect("a fresh connection answers");
    // The server abandons the statements of the discarded connections (it checks that
    // its client is still there): nothing of them waits for the lock any more.
    let watcher = schema.admin().await;
    poll_until(
        "no abandoned statement waits for the lock",
        Duration::from_secs(10),
        || async {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&schema.name()],
                )
                .await
                .unwrap()
                .get(0);
            waiting == 0
        },
    )
    .await;

    tx.rollback().await.unwrap();
    // The create answered 503 was abandoned, not committed once the lock was released.
    assert!(matches!(
        store.get_message(&app.id, msg.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_app(app.id.as_str()).await.unwrap().id, app.id);
    store
        .create_message(&message(&app.id, "e"), &[])
        .await
        .expect("writes work again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_write_past_the_deadline_is_unavailable_and_is_not_made_later() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("hookd.db");
    let mut store = SqliteStore::open_encrypted(&path, test_keyring()).unwrap();
    store.set_call_timeout(LIMIT);
    // Another connection holds the write lock: the writer waits for it (busy timeout).
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let first = app(Some("first"));
    unavailable_in_time("the write in the stuck batch", store.create_app(&first)).await;
    let queued = app(Some("queued"));
    unavailable_in_time("a write queued behind it", store.create_app(&queued)).await;
    // Reads do not need the write lock.
    assert!(matches!(
        store.get_app("nope").await,
        Err(StoreError::NotFound)
    ));
    // Health tells: its probe write does not get through either.
    unavailable_in_time("health", store.health()).await;

    blocker.execute_batch("ROLLBACK").unwrap();
    store
        .health()
        .await
        .expect("healthy once writes get through");
    let after = app(Some("after"));
    store.create_app(&after).await.expect("writes work again");
    // Its caller was told 503 before the writer took it: it never happens.
    assert!(matches!(
        store.get_app("queued").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_app("after").await.unwrap().id, after.id);
}
