//! Flow control across PostgreSQL nodes: marked rows still wake other nodes, an endpoint
//! leaving flow control while messages arrive leaves none of them stranded, and two nodes
//! claiming a FIFO endpoint at once never overlap or overtake.

use crate::fixtures::*;
use crate::messages::outcome;
use crate::pg_schema::{PgSchema, SchemaStore};
use hookd_core::ids::MsgId;
use hookd_core::model::{DeliveryStatus, Endpoint};
use hookd_store::AppStore;
use hookd_store::EndpointStore;
use hookd_store::FlowStore;
use hookd_store::MessageStore;
use hookd_store::QueueStore;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_marked_destinations_still_raise_the_due_signal() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let signal = a.due_signal().expect("PostgreSQL stores have a due signal");
    let app = app(None);
    b.create_app(&app).await.unwrap();
    let mut ep = endpoint(&app.id, None);
    ep.fifo = true;
    b.create_endpoint(&ep).await.unwrap();
    let msg = message(&app.id, "invoice.paid");
    b.create_message(&msg, &[dest(&msg, &ep.id, t(0))])
        .await
        .unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(10), signal.notified()).await;
    assert!(woke.is_ok(), "no signal for a marked destination");
    let claims = a
        .claim_flow(&ep.id, true, t(0), 1, t(100), "a")
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
}

/// Writes `n` messages to `ep` as concurrently as the batcher allows.
async fn burst(store: &Arc<hookd_store::postgres::PostgresStore>, ep: &Endpoint, n: i64) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, ep) = (store.clone(), ep.clone());
            tokio::spawn(async move {
                let msg = message_at(&ep.app_id, "burst", t(i));
                store
                    .create_message(&msg, &[dest(&msg, &ep.id, t(0))])
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leaving_flow_control_during_a_burst_strands_no_destination() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let app = app(None);
    a.create_app(&app).await.unwrap();
    for round in 0..10 {
        let mut ep = endpoint_at(&app.id, t(round), None);
        ep.rate_limit = Some(10);
        a.create_endpoint(&ep).await.unwrap();
        let unlisted = Endpoint {
            rate_limit: None,
            ..ep.clone()
        };
        let (_, updated) = tokio::join!(burst(&a, &ep, 200), b.update_endpoint(&unlisted));
        updated.unwrap();
        // Whatever each write saw, every pending row is now the generic claim's.
        let marked = a
            .claim_flow(&ep.id, false, t(1_000), 1_000, t(2_000), "n")
            .await
            .unwrap();
        assert!(
            marked.is_empty(),
            "round {round}: {} rows stranded",
            marked.len()
        );
        let claimed = a
            .claim_due(t(1_000), 1_000, t(2_000), "n", &[])
            .await
            .unwrap();
        assert_eq!(claimed.len(), 200, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_claiming_a_fifo_endpoint_never_overlap_or_overtake() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let app = app(None);
    a.create_app(&app).await.unwrap();
    let mut ep = endpoint(&app.id, None);
    ep.fifo = true;
    a.create_endpoint(&ep).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..40 {
        let msg = message_at(&app.id, "fifo", t(i));
        a.create_message(&msg, &[dest(&msg, &ep.id, t(0))])
            .await
            .unwrap();
        sent.push(msg.id);
    }
    // Each node claims and settles as fast as it can; the lease never runs out. A claim is
    // logged before it is settled, so the log shows the order the endpoint would see.
    let log = Arc::new(std::sync::Mutex::new(Vec::<MsgId>::new()));
    let worker = |store: Arc<hookd_store::postgres::PostgresStore>, owner: &'static str| {
        let (ep, log) = (ep.id.clone(), log.clone());
        tokio::spawn(async move {
            for _ in 0..5_000 {
                if log.lock().unwrap().len() >= 40 {
                    return;
                }
                let claims = store
                    .claim_flow(&ep, true, t(10), 10, t(1_000_000), owner)
                    .await
                    .unwrap();
                assert!(claims.len() <= 1);
                for c in claims {
                    log.lock().unwrap().push(c.dest.msg_id.clone());
                    let a = attempt(&c.dest, DeliveryStatus::Success, 200, t(20));
                    store.record_outcome(&outcome(&a)).await.unwrap();
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let (from_a, from_b) = tokio::join!(worker(a.clone(), "a"), worker(b.clone(), "b"));
    from_a.unwrap();
    from_b.unwrap();
    assert_eq!(*log.lock().unwrap(), sent, "every message once, in order");
}
