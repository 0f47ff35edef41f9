//! The in-memory store keeps the flow-control contract of the real backends (checked on
//! both of them by hookd-store's conformance suite), so engine tests can rely on it.

use crate::support::harness::claimed;
use crate::support::store::MemStore;
use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::{DeliveryStatus, Endpoint, MessageDestination, Metadata, TriggerType};
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use hookd_store::DeliveryOutcome;
use hookd_store::FlowStore;
use hookd_store::QueueStore;
use std::collections::BTreeMap;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + ms)
}

fn endpoint(app: &AppId, fifo: bool) -> Endpoint {
    Endpoint {
        id: EndpointId::generate(),
        app_id: app.clone(),
        uid: None,
        url: "https://receiver.example.com/hook".into(),
        description: String::new(),
        version: 1,
        rate_limit: None,
        max_concurrency: None,
        fifo,
        disabled: false,
        event_types: None,
        channels: None,
        metadata: Metadata::new(),
        secret: EndpointSecret::generate(),
        previous_secrets: Vec::new(),
        headers: BTreeMap::new(),
        created_at: t(0),
        updated_at: t(0),
    }
}

/// A pending destination of message `i` (ids follow `i`), due at `due`.
fn put(store: &MemStore, ep: &Endpoint, i: i64, due: i64) -> MsgId {
    let dest = MessageDestination {
        msg_id: MsgId::generate_at(t(i)),
        endpoint_id: ep.id.clone(),
        app_id: ep.app_id.clone(),
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        next_attempt_at: Some(t(due)),
        last_attempt_at: None,
        trigger: TriggerType::Scheduled,
        lease_owner: None,
    };
    store.put_destination(claimed(dest.clone()));
    dest.msg_id
}

fn msgs(claims: &[hookd_store::ClaimedDelivery]) -> Vec<MsgId> {
    claims.iter().map(|c| c.dest.msg_id.clone()).collect()
}

#[tokio::test]
async fn mem_store_keeps_fifo_rows_from_the_generic_claim_and_in_order() {
    let store = MemStore::new();
    let app = AppId::generate();
    let fifo = endpoint(&app, true);
    let plain = endpoint(&app, false);
    store.put_endpoint(fifo.clone());
    store.put_endpoint(plain.clone());
    let m0 = put(&store, &fifo, 0, 50);
    let m1 = put(&store, &fifo, 1, 0);
    let p = put(&store, &plain, 2, 0);
    assert!(store.is_flow_marked(&m0, &fifo.id) && !store.is_flow_marked(&p, &plain.id));
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(0)));
    let generic = store
        .claim_due(t(100), 10, t(5_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(msgs(&generic), [p]);

    let claim = |now| store.claim_flow(&fifo.id, true, t(now), 10, t(now + 100), "n");
    assert!(
        claim(10).await.unwrap().is_empty(),
        "head not due holds back m1"
    );
    let head = claim(50).await.unwrap();
    assert_eq!(msgs(&head), std::slice::from_ref(&m0));
    assert!(
        claim(60).await.unwrap().is_empty(),
        "leased head holds back m1"
    );
    let done = DeliveryOutcome {
        msg_id: m0,
        endpoint_id: fifo.id.clone(),
        app_id: app.clone(),
        attempt: None,
        status: DeliveryStatus::Success,
        attempt_count: 1,
        next_attempt_at: None,
    };
    store.record_outcome(&done).await.unwrap();
    assert_eq!(msgs(&claim(70).await.unwrap()), std::slice::from_ref(&m1));

    // No longer flow-controlled: the pending row goes back to the generic claim.
    store.put_endpoint(Endpoint {
        fifo: false,
        ..fifo.clone()
    });
    assert!(!store.is_flow_marked(&m1, &fifo.id));
    let generic = store
        .claim_due(t(1_000), 10, t(2_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(msgs(&generic), [m1]);
}

#[tokio::test]
async fn mem_store_gives_each_flow_endpoint_one_owner_at_a_time() {
    let store = MemStore::new();
    let app = AppId::generate();
    let mut throttled = endpoint(&app, false);
    throttled.rate_limit = Some(3);
    store.put_endpoint(throttled.clone());
    store.put_endpoint(endpoint(&app, false));
    let held = store
        .acquire_flow_endpoints("a", t(0), t(100), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].endpoint_id.clone(), held[0].rate_limit),
        (throttled.id.clone(), Some(3))
    );
    assert!(store
        .acquire_flow_endpoints("b", t(100), t(200), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .acquire_flow_endpoints("b", t(101), t(200), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.release_flow_endpoints("b").await.unwrap();
    assert_eq!(
        store
            .acquire_flow_endpoints("a", t(102), t(300), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
