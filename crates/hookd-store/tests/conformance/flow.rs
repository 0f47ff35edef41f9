//! Flow-controlled endpoints (throttle, concurrency cap, FIFO): their destinations are
//! marked and left to `claim_flow` by the node owning the endpoint.

use crate::fixtures::*;
use crate::messages::outcome;
use crate::queue::endpoint_ids;
use hookd_core::ids::MsgId;
use hookd_core::model::{Application, DeliveryStatus, Endpoint, Message, MessageDestination};
use hookd_store::{ClaimedDelivery, DeliveryOutcome, FlowEndpoint, Store};

/// An app with one flow-controlled endpoint (a FIFO one if `fifo`, else throttled) and
/// one plain endpoint.
async fn flow_app(store: &dyn Store, fifo: bool) -> (Application, Endpoint, Endpoint) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut paced = endpoint_at(&app.id, t(0), None);
    if fifo {
        paced.fifo = true;
    } else {
        paced.rate_limit = Some(5);
    }
    store.create_endpoint(&paced).await.unwrap();
    let plain = endpoint_at(&app.id, t(1), None);
    store.create_endpoint(&plain).await.unwrap();
    (app, paced, plain)
}

/// Message `i` (created at `t(i)`, so ids follow `i`) to each of `eps`, due at `due`.
async fn send(
    store: &dyn Store,
    app: &Application,
    i: i64,
    eps: &[&Endpoint],
    due: i64,
) -> Message {
    let msg = message_at(&app.id, &format!("type.{i}"), t(i));
    let dests: Vec<_> = eps.iter().map(|ep| dest(&msg, &ep.id, t(due))).collect();
    store.create_message(&msg, &dests).await.unwrap();
    msg
}

fn msg_ids(claims: &[ClaimedDelivery]) -> Vec<MsgId> {
    claims.iter().map(|c| c.dest.msg_id.clone()).collect()
}

fn ids(msgs: &[&Message]) -> Vec<MsgId> {
    msgs.iter().map(|m| m.id.clone()).collect()
}

async fn destination(store: &dyn Store, msg: &Message, ep: &Endpoint) -> MessageDestination {
    let all = store.list_destinations(&msg.app_id, &msg.id).await.unwrap();
    all.into_iter().find(|d| d.endpoint_id == ep.id).unwrap()
}

fn flow_endpoint(ep: &Endpoint) -> FlowEndpoint {
    FlowEndpoint {
        app_id: ep.app_id.clone(),
        endpoint_id: ep.id.clone(),
        rate_limit: ep.rate_limit,
        max_concurrency: ep.max_concurrency,
        fifo: ep.fifo,
    }
}

pub async fn check_flow_settings_round_trip_and_list_the_endpoint(store: &dyn Store) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut ep = endpoint(&app.id, None);
    ep.max_concurrency = Some(3);
    ep.fifo = true;
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    assert_eq!(
        store.all_endpoints(&app.id).await.unwrap(),
        vec![ep.clone()]
    );
    let held = store
        .acquire_flow_endpoints("node-a", t(0), t(100), 10)
        .await
        .unwrap();
    assert_eq!(held, vec![flow_endpoint(&ep)]);

    // New settings reach the owner at its next renewal, without losing the endpoint.
    ep.fifo = false;
    ep.rate_limit = Some(20);
    store.update_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    let held = store
        .acquire_flow_endpoints("node-a", t(50), t(150), 10)
        .await
        .unwrap();
    assert_eq!(held, vec![flow_endpoint(&ep)]);

    // No longer flow-controlled: off the list.
    ep.rate_limit = None;
    ep.max_concurrency = None;
    store.update_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    for owner in ["node-a", "node-b"] {
        let held = store
            .acquire_flow_endpoints(owner, t(60), t(160), 10)
            .await
            .unwrap();
        assert!(held.is_empty(), "{owner} holds {held:?}");
    }
}

pub async fn check_marked_rows_never_come_from_claim_due(store: &dyn Store) {
    let (app, paced, plain) = flow_app(store, false).await;
    let m0 = send(store, &app, 0, &[&paced, &plain], 5).await;
    let m1 = send(store, &app, 1, &[&paced], 2).await;
    // The generic claim and its wake-up time see only the plain endpoint's row.
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(5)));
    let claims = store
        .claim_due(t(1_000), 100, t(2_000), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&claims), std::slice::from_ref(&plain.id));
    assert_eq!(msg_ids(&claims), ids(&[&m0]));
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(2_000)));
    // The paced rows wait for their endpoint's owner, untouched.
    assert_eq!(
        destination(store, &m0, &paced).await,
        dest(&m0, &paced.id, t(5))
    );
    assert_eq!(
        destination(store, &m1, &paced).await,
        dest(&m1, &paced.id, t(2))
    );
    let claims = store
        .claim_flow(&paced.id, false, t(1_000), 100, t(2_000), "node-a")
        .await
        .unwrap();
    assert_eq!(msg_ids(&claims), ids(&[&m0, &m1]));
    // Nothing of the plain endpoint comes through its claim.
    let none = store
        .claim_flow(&plain.id, false, t(3_000), 100, t(4_000), "node-a")
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub async fn check_claim_flow_takes_due_rows_in_message_order_up_to_the_limit(store: &dyn Store) {
    let (app, paced, _) = flow_app(store, false).await;
    // Due times run against message order: the claim follows message order.
    let mut msgs = Vec::new();
    for (i, due) in [(0, 40), (1, 30), (2, 500), (3, 20), (4, 10)] {
        msgs.push(send(store, &app, i, &[&paced], due).await);
    }
    let first = store
        .claim_flow(&paced.id, false, t(100), 2, t(1_000), "node-a")
        .await
        .unwrap();
    assert_eq!(msg_ids(&first), ids(&[&msgs[0], &msgs[1]]));
    let c = &first[0];
    assert_eq!(c.event_type, "type.0");
    assert_eq!(c.payload, msgs[0].payload);
    assert_eq!(c.dest.next_attempt_at, Some(t(1_000)));
    assert_eq!(c.dest.lease_owner.as_deref(), Some("node-a"));
    assert_eq!(destination(store, &msgs[0], &paced).await, c.dest);
    // Leased rows are not due; the row not yet due (message 2) is passed over.
    let rest = store
        .claim_flow(&paced.id, false, t(100), 10, t(1_000), "node-a")
        .await
        .unwrap();
    assert_eq!(msg_ids(&rest), ids(&[&msgs[3], &msgs[4]]));
    let zero = store
        .claim_flow(&paced.id, false, t(600), 0, t(1_000), "node-a")
        .await
        .unwrap();
    assert!(zero.is_empty());
    let late = store
        .claim_flow(&paced.id, false, t(600), 10, t(1_000), "node-a")
        .await
        .unwrap();
    assert_eq!(msg_ids(&late), ids(&[&msgs[2]]));
    // A lease that ran out makes its row due again, still in message order.
    let again = store
        .claim_flow(&paced.id, false, t(1_001), 10, t(2_000), "node-b")
        .await
        .unwrap();
    assert_eq!(
        msg_ids(&again),
        ids(&[&msgs[0], &msgs[1], &msgs[2], &msgs[3], &msgs[4]])
    );
}

pub async fn check_fifo_head_holds_back_the_rows_behind_it(store: &dyn Store) {
    let (app, fifo, _) = flow_app(store, true).await;
    let m0 = send(store, &app, 0, &[&fifo], 50).await;
    let m1 = send(store, &app, 1, &[&fifo], 0).await;
    let m2 = send(store, &app, 2, &[&fifo], 0).await;
    let claim = |now: i64| store.claim_flow(&fifo.id, true, t(now), 10, t(now + 100), "n");
    // The head is not due yet: nothing goes, although the rows behind it are due.
    assert!(claim(10).await.unwrap().is_empty());
    // Due: the head alone, whatever the limit.
    let head = claim(50).await.unwrap();
    assert_eq!(msg_ids(&head), ids(&[&m0]));
    // Leased: nothing.
    assert!(claim(60).await.unwrap().is_empty());
    // Failed, retry due at t(300): nothing until then, then the head again.
    let a = attempt(&head[0].dest, DeliveryStatus::Fail, 500, t(70));
    let retry = DeliveryOutcome {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(t(300)),
        ..outcome(&a)
    };
    store.record_outcome(&retry).await.unwrap();
    assert!(claim(200).await.unwrap().is_empty());
    let head = claim(300).await.unwrap();
    assert_eq!(msg_ids(&head), ids(&[&m0]));
    // Succeeded: the next message goes.
    let a = attempt(&head[0].dest, DeliveryStatus::Success, 200, t(310));
    store.record_outcome(&outcome(&a)).await.unwrap();
    assert_eq!(msg_ids(&claim(320).await.unwrap()), ids(&[&m1]));
    // Exhausted (failed for good) settles the head too.
    let d = destination(store, &m1, &fifo).await;
    let a = attempt(&d, DeliveryStatus::Fail, 500, t(330));
    store.record_outcome(&outcome(&a)).await.unwrap();
    assert_eq!(msg_ids(&claim(340).await.unwrap()), ids(&[&m2]));
}

pub async fn check_update_endpoint_re_marks_pending_rows_both_ways(store: &dyn Store) {
    let (app, _, _) = flow_app(store, false).await;
    let mut ep = endpoint_at(&app.id, t(2), None);
    store.create_endpoint(&ep).await.unwrap();
    let m0 = send(store, &app, 0, &[&ep], 0).await;
    let m1 = send(store, &app, 1, &[&ep], 0).await;
    // m0 is settled, m1 pending: switching flow control on moves only m1.
    let claims = store.claim_due(t(0), 1, t(10), "n", &[]).await.unwrap();
    assert_eq!(msg_ids(&claims), ids(&[&m0]));
    let a = attempt(&claims[0].dest, DeliveryStatus::Success, 200, t(1));
    store.record_outcome(&outcome(&a)).await.unwrap();

    ep.max_concurrency = Some(2);
    store.update_endpoint(&ep).await.unwrap();
    assert!(store
        .claim_due(t(100), 10, t(200), "n", &[])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let claims = store
        .claim_flow(&ep.id, false, t(100), 10, t(200), "n")
        .await
        .unwrap();
    assert_eq!(msg_ids(&claims), ids(&[&m1]));

    // Switching it off hands the (leased) row back to the generic claim, where it is due
    // once its lease ends.
    ep.max_concurrency = None;
    store.update_endpoint(&ep).await.unwrap();
    assert!(store
        .claim_flow(&ep.id, false, t(300), 10, t(400), "n")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(200)));
    let claims = store.claim_due(t(300), 10, t(400), "n", &[]).await.unwrap();
    assert_eq!(msg_ids(&claims), ids(&[&m1]));
    // The settled row was never touched.
    assert_eq!(
        destination(store, &m0, &ep).await.status,
        DeliveryStatus::Success
    );
}

pub async fn check_one_owner_per_endpoint_until_its_lease_ends(store: &dyn Store) {
    let (app, a, _) = flow_app(store, false).await;
    let (_, b, _) = flow_app(store, true).await;
    let mut c = endpoint_at(&app.id, t(5), None);
    c.max_concurrency = Some(1);
    store.create_endpoint(&c).await.unwrap();
    let mut all = [flow_endpoint(&a), flow_endpoint(&b), flow_endpoint(&c)];
    all.sort_by(|x, y| x.endpoint_id.cmp(&y.endpoint_id));

    // At most `max` newly taken per call; renewals do not count.
    let first = store
        .acquire_flow_endpoints("one", t(0), t(100), 2)
        .await
        .unwrap();
    assert_eq!(first, all[..2]);
    let second = store
        .acquire_flow_endpoints("two", t(0), t(100), 10)
        .await
        .unwrap();
    assert_eq!(second, all[2..]);
    assert!(store
        .acquire_flow_endpoints("three", t(50), t(150), 10)
        .await
        .unwrap()
        .is_empty());
    // "one" renews until t(300); "two" does not, so its endpoint is free after t(100).
    let renewed = store
        .acquire_flow_endpoints("one", t(90), t(300), 0)
        .await
        .unwrap();
    assert_eq!(renewed, all[..2]);
    assert!(store
        .acquire_flow_endpoints("three", t(100), t(400), 10)
        .await
        .unwrap()
        .is_empty());
    let taken = store
        .acquire_flow_endpoints("three", t(101), t(400), 10)
        .await
        .unwrap();
    assert_eq!(taken, all[2..]);
    let left = store
        .acquire_flow_endpoints("two", t(102), t(400), 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // Released endpoints are free at once.
    store.release_flow_endpoints("one").await.unwrap();
    let moved = store
        .acquire_flow_endpoints("two", t(103), t(400), 10)
        .await
        .unwrap();
    assert_eq!(moved, all[..2]);
    // Releasing what one does not hold changes nothing.
    store.release_flow_endpoints("one").await.unwrap();
    let kept = store
        .acquire_flow_endpoints("two", t(104), t(400), 10)
        .await
        .unwrap();
    assert_eq!(kept, all[..2]);
}

pub async fn check_deleting_an_endpoint_or_app_unlists_it(store: &dyn Store) {
    let (app, paced, _) = flow_app(store, false).await;
    let (other, fifo, _) = flow_app(store, true).await;
    let held = store
        .acquire_flow_endpoints("n", t(0), t(100), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    store.delete_endpoint(&app.id, &paced.id).await.unwrap();
    let held = store
        .acquire_flow_endpoints("n", t(1), t(100), 10)
        .await
        .unwrap();
    assert_eq!(held, vec![flow_endpoint(&fifo)]);
    store.delete_app(&other.id).await.unwrap();
    assert!(store
        .acquire_flow_endpoints("n", t(2), t(100), 10)
        .await
        .unwrap()
        .is_empty());
    // An endpoint created again later is listed afresh.
    let mut again = endpoint_at(&app.id, t(3), None);
    again.fifo = true;
    store.create_endpoint(&again).await.unwrap();
    let held = store
        .acquire_flow_endpoints("m", t(4), t(100), 10)
        .await
        .unwrap();
    assert_eq!(held, vec![flow_endpoint(&again)]);
}

pub async fn check_requeue_marks_rows_per_endpoint(store: &dyn Store) {
    let (app, paced, plain) = flow_app(store, false).await;
    let msg = send(store, &app, 0, &[&plain], 0).await;
    let claims = store.claim_due(t(0), 10, t(10), "n", &[]).await.unwrap();
    let a = attempt(&claims[0].dest, DeliveryStatus::Fail, 500, t(1));
    store.record_outcome(&outcome(&a)).await.unwrap();
    // A resend to the paced endpoint (a new row) and to the plain one (an upsert).
    store.requeue(&dest(&msg, &paced.id, t(20))).await.unwrap();
    store.requeue(&dest(&msg, &plain.id, t(20))).await.unwrap();
    let claims = store.claim_due(t(50), 10, t(100), "n", &[]).await.unwrap();
    assert_eq!(endpoint_ids(&claims), std::slice::from_ref(&plain.id));
    let claims = store
        .claim_flow(&paced.id, false, t(50), 10, t(100), "n")
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&claims), std::slice::from_ref(&paced.id));
    // Once the endpoint is no longer paced, a resend of a settled row is unmarked again.
    let a = attempt(&claims[0].dest, DeliveryStatus::Success, 200, t(60));
    store.record_outcome(&outcome(&a)).await.unwrap();
    let mut unpaced = paced.clone();
    unpaced.rate_limit = None;
    store.update_endpoint(&unpaced).await.unwrap();
    store.requeue(&dest(&msg, &paced.id, t(70))).await.unwrap();
    let claims = store.claim_due(t(80), 10, t(100), "n", &[]).await.unwrap();
    assert_eq!(endpoint_ids(&claims), std::slice::from_ref(&paced.id));
}
