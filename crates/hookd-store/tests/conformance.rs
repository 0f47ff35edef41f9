//! The storage conformance suite: the behaviour every `Store` backend must show.
//!
//! Each check is a plain `async fn check_…(store: &dyn Store)` in a submodule, and
//! `backend_tests!` runs every check on every backend, each on a fresh store. The SQLite-only
//! behaviour (lock file, reopen, group commit under load) is tested at the bottom of this
//! file; the PostgreSQL-only behaviour (several nodes, notifications, outages) in
//! `conformance/postgres_only.rs`. PostgreSQL tests need `HOOKD_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); without it they say so and pass.

#[path = "conformance/apps.rs"]
mod apps;
#[path = "conformance/cascades.rs"]
mod cascades;
#[path = "conformance/credentials_at_rest.rs"]
mod credentials_at_rest;
#[path = "conformance/deadline.rs"]
mod deadline;
#[path = "conformance/endpoints.rs"]
mod endpoints;
#[path = "conformance/failure.rs"]
mod failure;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "conformance/flow.rs"]
mod flow;
#[path = "conformance/ingest.rs"]
mod ingest;
#[path = "conformance/ingest_records.rs"]
mod ingest_records;
#[path = "conformance/messages.rs"]
mod messages;
#[path = "conformance/pg_schema.rs"]
mod pg_schema;
#[path = "conformance/postgres_flow.rs"]
mod postgres_flow;
#[path = "conformance/postgres_only.rs"]
mod postgres_only;
#[path = "conformance/queue.rs"]
mod queue;
#[path = "conformance/retention.rs"]
mod retention;
#[path = "conformance/secrets_at_rest.rs"]
mod secrets_at_rest;
#[path = "conformance/sources.rs"]
mod sources;

use fixtures::*;
use hookd_store::postgres::PostgresStore;
use hookd_store::sqlite::SqliteStore;
use hookd_store::AppStore;
use hookd_store::EndpointStore;
use hookd_store::FlowStore;
use hookd_store::MessageStore;
use hookd_store::QueueStore;
use hookd_store::{IngestDedup, IngestWrite, MessageFilter, Store};
use pg_schema::{PgSchema, SchemaStore};
use std::sync::Arc;
use tempfile::TempDir;

/// A fresh SQLite store in its own directory (nested, so `open` must create parents).
async fn open_sqlite() -> Option<(TempDir, Arc<SqliteStore>)> {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("data/hookd.db");
    let store = SqliteStore::open_encrypted(&path, test_keyring()).unwrap();
    Some((dir, Arc::new(store)))
}

/// A fresh PostgreSQL store in a schema of its own (dropped with the returned guard), or
/// `None` when no test server is configured.
async fn open_postgres() -> Option<(PgSchema, Arc<PostgresStore>)> {
    let schema = PgSchema::create().await?;
    let store = schema.open().await;
    Some((schema, store))
}

/// Generates, per backend, a module with one `#[tokio::test]` per check, each on a fresh
/// store from the backend's opener (an `async fn` returning `None` to skip).
macro_rules! backend_tests {
    ($($backend:ident => $open:path),+ ; $checks:tt) => {
        $( backend_tests!(@backend $backend, $open, $checks); )+
    };
    (@backend $backend:ident, $open:path, [$($module:ident::$check:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    // The guard (temp dir, schema) outlives the store: bindings drop in
                    // reverse order.
                    let Some((_guard, store)) = $open().await else {
                        return;
                    };
                    crate::$module::$check(store.as_ref()).await;
                }
            )*
        }
    };
}

backend_tests!(
    sqlite => crate::open_sqlite,
    postgres => crate::open_postgres;
    [
        apps::check_app_crud_and_lookup_by_id_or_uid,
        apps::check_app_uid_is_unique_on_create_and_update,
        apps::check_app_pages_walk_both_directions_with_cursors,
        apps::check_event_type_crud_conflict_and_archived_hiding,
        endpoints::check_endpoint_crud_is_scoped_to_its_app,
        endpoints::check_endpoint_uid_is_unique_within_an_app_only,
        endpoints::check_endpoint_lists_page_and_fan_out_sees_all,
        messages::check_message_is_stored_with_its_destinations,
        messages::check_event_id_conflict_writes_nothing,
        messages::check_concurrent_messages_keep_their_own_outcome,
        messages::check_message_list_filters,
        messages::check_trace_context_is_kept_with_the_message_and_its_claims,
        messages::check_attempt_list_filters,
        queue::check_claim_returns_only_due_rows_oldest_first,
        queue::check_queue_stats_count_pending_rows_by_state,
        queue::check_a_claim_says_which_rows_it_took_over,
        queue::check_a_fresh_store_has_every_migration,
        queue::check_claim_respects_exclude_and_limit,
        queue::check_claimed_rows_come_back_only_after_the_lease_expires,
        queue::check_record_outcome_updates_the_destination_and_adds_the_attempt,
        cascades::check_outcome_for_a_deleted_endpoint_is_dropped,
        queue::check_requeue_upserts_and_keeps_the_attempt_count,
        queue::check_release_all_leases_makes_claimed_rows_due_now,
        queue::check_next_due_at_is_the_earliest_pending_row,
        queue::check_renew_leases_extends_only_the_owners_pending_rows,
        queue::check_concurrent_claims_never_overlap,
        queue::check_record_outcomes_writes_a_batch_like_single_outcomes,
        queue::check_endpoint_stats_count_destinations_per_status_in_a_window,
        cascades::check_delete_app_removes_everything_under_it,
        flow::check_flow_settings_round_trip_and_list_the_endpoint,
        flow::check_marked_rows_never_come_from_claim_due,
        flow::check_claim_flow_takes_due_rows_in_message_order_up_to_the_limit,
        flow::check_fifo_head_holds_back_the_rows_behind_it,
        flow::check_update_endpoint_re_marks_pending_rows_both_ways,
        flow::check_one_owner_per_endpoint_until_its_lease_ends,
        flow::check_deleting_an_endpoint_or_app_unlists_it,
        flow::check_requeue_marks_rows_per_endpoint,
        retention::check_idempotency_key_is_reserved_once_then_replays_its_response,
        retention::check_lapsed_released_and_expired_keys_are_taken_again,
        retention::check_concurrent_reservations_of_one_key_have_one_winner,
        retention::check_expired_idempotency_keys_are_purged_in_batches,
        retention::check_payload_expiry_is_stored_and_content_can_be_expunged,
        retention::check_expired_payloads_are_purged_unless_a_delivery_still_needs_them,
        retention::check_attempts_are_expunged_and_purged_by_age,
        failure::check_failure_streak_disables_an_endpoint_once_and_success_clears_it,
        failure::check_recovery_requeues_failed_deliveries_in_batches_under_one_lease,
        failure::check_an_expired_recovery_lease_passes_to_another_node,
        failure::check_recovered_deliveries_follow_the_endpoints_flow_control,
        sources::check_source_crud_and_lookup_by_id_or_uid,
        sources::check_source_uid_is_unique_on_create_and_update,
        sources::check_source_token_rotation_keeps_the_previous_token_until_it_expires,
        sources::check_source_pages_walk_in_id_order,
        ingest::check_ingest_duplicate_within_the_window_returns_the_first_message,
        ingest::check_ingest_dedup_entry_expires_and_is_replaced,
        ingest::check_ingest_dedup_is_per_source_and_optional,
        ingest::check_concurrent_retries_of_one_event_store_it_once,
        ingest::check_ingest_event_id_conflict_writes_nothing_and_frees_the_entry,
        ingest::check_ingest_forward_comes_back_with_every_claim,
        ingest_records::check_rejections_are_listed_per_source_newest_first_and_paged,
        ingest_records::check_ingest_records_are_purged_by_age_in_batches,
        ingest_records::check_source_by_token_accepts_the_current_and_an_unexpired_previous_token,
        ingest_records::check_delete_source_removes_its_rejections_and_dedup_entries,
    ]
);

#[tokio::test]
async fn sqlite_second_open_of_the_same_file_fails_until_the_first_closes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hookd.db");
    let first = SqliteStore::open(&path).unwrap();
    let err = SqliteStore::open(&path)
        .err()
        .expect("second open must fail");
    assert!(
        format!("{err:#}").contains("in use by another hookd process"),
        "{err:#}"
    );
    first.close();
    let again = SqliteStore::open(&path).unwrap();
    again.health().await.unwrap();
}

#[tokio::test]
async fn sqlite_data_survives_close_and_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hookd.db");
    let store = SqliteStore::open(&path).unwrap();
    let app = app(Some("durable"));
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let msg = message(&app.id, "invoice.paid");
    let dests = [dest(&msg, &ep.id, t(0))];
    store.create_message(&msg, &dests).await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get_app("durable").await.unwrap(), app);
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    assert_eq!(
        store.get_message(&app.id, msg.id.as_str()).await.unwrap(),
        msg
    );
    assert_eq!(
        store.list_destinations(&app.id, &msg.id).await.unwrap(),
        dests
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_group_commit_accepts_2000_concurrent_messages() {
    let (_dir, store) = open_sqlite().await.unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let store: Arc<dyn Store> = store;

    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..2000)
        .map(|i| {
            let (store, app_id, ep_id) = (store.clone(), app.id.clone(), ep.id.clone());
            tokio::spawn(async move {
                let mut msg = message_at(&app_id, "load", t(i));
                msg.event_id = Some(format!("evt-{i}"));
                let dests = [dest(&msg, &ep_id, t(i))];
                store.create_message(&msg, &dests).await.map(|()| msg.id)
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.unwrap().unwrap());
    }
    let elapsed = started.elapsed();

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_messages(
                &app.id,
                &MessageFilter::default(),
                &asc(500, cursor.as_deref()),
            )
            .await
            .unwrap();
        listed.extend(page.items.into_iter().map(|m| m.id));
        cursor = listed.last().map(|id| id.to_string());
        if !page.has_more {
            break;
        }
    }
    created.sort();
    assert_eq!(listed, created);
    let claims = store
        .claim_due(t(10_000), 5_000, t(20_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 2000);
    // One fsync per message would take seconds; batches make it far quicker.
    assert!(elapsed.as_secs() < 20, "2000 messages took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_group_commit_takes_2000_concurrent_ingest_events_and_their_retries() {
    let (_dir, store) = open_sqlite().await.unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let store: Arc<dyn Store> = store;
    let source = hookd_core::ids::SourceId::generate_at(t(0));

    // 2000 events at once, each provider event id sent twice: one of each pair is stored.
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..2000)
        .map(|i| {
            let (store, app_id, ep_id) = (store.clone(), app.id.clone(), ep.id.clone());
            let entry = IngestDedup {
                source_id: source.clone(),
                event_id: format!("delivery-{}", i / 2),
                expires_at: t(1_000_000),
            };
            tokio::spawn(async move {
                let msg = message_at(&app_id, "github.push", t(i));
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
                (i / 2, msg.id, written)
            })
        })
        .collect();
    let mut stored = std::collections::HashMap::new();
    let mut duplicates = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (pair, id, IngestWrite::Created) => assert!(stored.insert(pair, id).is_none()),
            (pair, _, IngestWrite::Duplicate(first)) => duplicates.push((pair, first)),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!((stored.len(), duplicates.len()), (1000, 1000));
    for (pair, first) in duplicates {
        assert_eq!(stored[&pair], first, "a retry names the stored event");
    }
    let claims = store
        .claim_due(t(0), 5_000, t(20_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 1000);
    assert!(claims
        .iter()
        .all(|c| matches!(c.forward, Some(hookd_store::Forward::Meta(_)))));
    // One fsync per event would take seconds; batches make it far quicker.
    assert!(elapsed.as_secs() < 20, "2000 events took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_conflicting_job_rolls_back_alone_within_a_batch() {
    let (_dir, store) = open_sqlite().await.unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let store: Arc<dyn Store> = store;

    // 400 concurrent creates over 200 event ids: one of each pair must conflict.
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (store, app_id, ep_id) = (store.clone(), app.id.clone(), ep.id.clone());
            tokio::spawn(async move {
                let mut msg = message_at(&app_id, "load", t(i));
                msg.event_id = Some(format!("evt-{}", i / 2));
                store
                    .create_message(&msg, &[dest(&msg, &ep_id, t(0))])
                    .await
            })
        })
        .collect();
    let (mut ok, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(hookd_store::StoreError::Conflict("eventId")) => conflicts += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!((ok, conflicts), (200, 200));
    let listed = store
        .list_messages(&app.id, &MessageFilter::default(), &all())
        .await;
    assert_eq!(listed.unwrap().items.len(), 200);
    let claims = store.claim_due(t(0), 1_000, t(10), "n", &[]).await.unwrap();
    assert_eq!(
        claims.len(),
        200,
        "no destination of a conflicting message was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("hookd.db");
    let store = SqliteStore::open(&path).unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    for i in 0..1_000 {
        let msg = message(&app.id, &format!("type.{i}"));
        store
            .create_message(&msg, &[dest(&msg, &ep.id, t(0))])
            .await
            .unwrap();
    }
    // Far below the writer's own 64 MiB threshold: only the checkpointer thread moves
    // pages into the main file while the store is open. That thread reports nothing: poll.
    hookd_testkit::poll_until(
        "the main database file grew",
        std::time::Duration::from_secs(10),
        || std::future::ready(std::fs::metadata(&path).unwrap().len() > before),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_release_all_leases_also_frees_every_flow_endpoint() {
    let (_dir, store) = open_sqlite().await.unwrap();
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut ep = endpoint(&app.id, None);
    ep.max_concurrency = Some(4);
    store.create_endpoint(&ep).await.unwrap();
    let held = store
        .acquire_flow_endpoints("before-restart", t(0), t(1_000_000), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    // A single node starting again: the old owner is gone, whatever its lease said.
    store.release_all_leases(t(10)).await.unwrap();
    let held = store
        .acquire_flow_endpoints("after-restart", t(10), t(1_000), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
}
