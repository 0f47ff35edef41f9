//! The engine over the real SQLite backend: the write path (publish: admit, commit as
//! claimed, hand over) and the poller's claim path, with a retry, end to end.

use crate::support::harness::{config, PAYLOAD};
use hookd_core::ids::{AppId, MsgId};
use hookd_core::model::{
    Application, Attempt, DeliveryStatus, Endpoint, IngestForward, Message, MessageDestination,
    Metadata, TriggerType,
};
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use hookd_delivery::Engine;
use hookd_store::sqlite::SqliteStore;
use hookd_store::AppStore;
use hookd_store::EndpointStore;
use hookd_store::IngestStore;
use hookd_store::MessageStore;
use hookd_store::{AttemptFilter, PageRequest};
use hookd_testkit::receiver::{Answer, Receiver};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn message(app: &AppId) -> Message {
    Message {
        id: MsgId::generate(),
        app_id: app.clone(),
        event_id: None,
        event_type: "invoice.paid".into(),
        payload: Some(PAYLOAD.into()),
        channels: None,
        tags: None,
        created_at: Timestamp::now(),
        payload_expires_at: None,
        trace: None,
    }
}

/// A stored application named `name`.
async fn stored_app(store: &SqliteStore, name: &str) -> Application {
    let now = Timestamp::now();
    let app = Application {
        id: AppId::generate(),
        uid: None,
        name: name.into(),
        rate_limit: None,
        metadata: Metadata::new(),
        created_at: now,
        updated_at: now,
    };
    store.create_app(&app).await.unwrap();
    app
}

/// The attempts of `msg`, oldest first.
async fn attempts(store: &SqliteStore, app: &AppId, msg: &MsgId) -> Vec<Attempt> {
    let page = PageRequest {
        limit: 10,
        after: None,
        descending: false,
    };
    let filter = AttemptFilter {
        msg_id: Some(msg.clone()),
        ..AttemptFilter::default()
    };
    store
        .list_attempts(app, &filter, &page)
        .await
        .unwrap()
        .items
}

async fn settled(store: &SqliteStore, app: &AppId, msg: &MsgId) -> MessageDestination {
    // Re-read after every committed write of the store, up to 10 s; no polling.
    let mut changes = store.changes();
    let wait = async {
        loop {
            changes.borrow_and_update();
            let dests = store.list_destinations(app, msg).await.unwrap();
            if dests[0].status != DeliveryStatus::Pending {
                return dests[0].clone();
            }
            changes.changed().await.expect("the store is open");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("settled in time")
}

#[tokio::test]
async fn delivers_and_retries_through_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("hookd.db")).unwrap());
    let receiver = Receiver::start().await;
    let app = stored_app(&store, "acme").await;
    let ep = Endpoint::new(
        &app.id,
        receiver.url("/hook"),
        EndpointSecret::generate(),
        Timestamp::now(),
    );
    store.create_endpoint(&ep).await.unwrap();
    let engine =
        Engine::start(store.clone(), config(true, &[50]), CancellationToken::new()).unwrap();

    // Published: committed as claimed by this node, then handed over without a claim
    // query.
    receiver.respond_once("/hook", Answer::status(500));
    let msg = message(&app.id);
    engine.publish(&msg, &[&ep]).await.unwrap();

    receiver.next().await;
    receiver.next().await; // the retry, found by the poller
    let done = settled(&store, &app.id, &msg.id).await;
    assert_eq!(done.status, DeliveryStatus::Success);
    assert_eq!(done.attempt_count, 2);
    let codes: Vec<_> = attempts(&store, &app.id, &msg.id)
        .await
        .iter()
        .map(|a| a.response_status_code)
        .collect();
    assert_eq!(codes, [500, 200]);

    // Written unclaimed and due now (as by a node that had no room): the poller claims it
    // (SQLite has no due signal; its poll interval here is 200 ms).
    let later = message(&app.id);
    let unclaimed = MessageDestination {
        msg_id: later.id.clone(),
        endpoint_id: ep.id.clone(),
        app_id: app.id.clone(),
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        next_attempt_at: Some(Timestamp::now()),
        last_attempt_at: None,
        trigger: TriggerType::Scheduled,
        lease_owner: None,
    };
    store.create_message(&later, &[unclaimed]).await.unwrap();
    assert_eq!(receiver.next().await.path, "/hook");
    assert_eq!(
        settled(&store, &app.id, &later.id).await.status,
        DeliveryStatus::Success
    );
}

/// An ingest event whose stored forwarding metadata no longer decodes is not sent without
/// it: its delivery fails with an attempt that says why.
#[tokio::test]
async fn unreadable_forward_metadata_fails_the_delivery_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookd.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let receiver = Receiver::start().await;
    let now = Timestamp::now();
    let app = stored_app(&store, "ingest").await;
    let ep = Endpoint::new(
        &app.id,
        receiver.url("/hook"),
        EndpointSecret::generate(),
        now,
    );
    store.create_endpoint(&ep).await.unwrap();
    // Written unclaimed with valid metadata, then damaged in the file before any node
    // claims it.
    let msg = message(&app.id);
    let dest = MessageDestination {
        msg_id: msg.id.clone(),
        endpoint_id: ep.id.clone(),
        app_id: app.id.clone(),
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        next_attempt_at: Some(now),
        last_attempt_at: None,
        trigger: TriggerType::Scheduled,
        lease_owner: None,
    };
    store
        .create_ingest_message(&msg, &[dest], &IngestForward::default(), None)
        .await
        .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE messages SET forward = '{\"sourceId\": 5}' WHERE id = ?1",
        [msg.id.as_str()],
    )
    .unwrap();
    drop(raw);

    let _engine =
        Engine::start(store.clone(), config(true, &[50]), CancellationToken::new()).unwrap();
    let done = settled(&store, &app.id, &msg.id).await;
    assert_eq!(done.status, DeliveryStatus::Fail);
    let attempts = attempts(&store, &app.id, &msg.id).await;
    assert_eq!(attempts.len(), 1, "one attempt records the failure");
    let attempt = &attempts[0];
    assert_eq!(attempt.response_status_code, 0);
    assert!(
        attempt.response.contains("does not decode"),
        "{}",
        attempt.response
    );
    assert!(receiver.try_next().is_none(), "nothing was sent");
}
