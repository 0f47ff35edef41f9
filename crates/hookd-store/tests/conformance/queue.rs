//! The delivery queue: claims, leases, outcomes, requeue, next due time.

use crate::fixtures::*;
use crate::messages::outcome;
use hookd_core::ids::EndpointId;
use hookd_core::model::{
    Application, DeliveryStatus, DisabledReason, Endpoint, Message, TriggerType,
};
use hookd_store::{AttemptFilter, DeliveryOutcome, Store};

/// An app with `n` endpoints and one message per endpoint, each due at `t(i * 10)`.
pub async fn queued(store: &dyn Store, n: usize) -> (Application, Vec<Endpoint>, Vec<Message>) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let (mut eps, mut msgs) = (Vec::new(), Vec::new());
    for i in 0..n {
        let ep = endpoint_at(&app.id, t(i as i64), None);
        store.create_endpoint(&ep).await.unwrap();
        let msg = message_at(&app.id, &format!("type.{i}"), t(i as i64));
        store
            .create_message(&msg, &[dest(&msg, &ep.id, t(i as i64 * 10))])
            .await
            .unwrap();
        eps.push(ep);
        msgs.push(msg);
    }
    (app, eps, msgs)
}

/// The one destination of a message fanned out to a single endpoint.
async fn only_destination(
    store: &dyn Store,
    app: &hookd_core::ids::AppId,
    msg: &hookd_core::ids::MsgId,
) -> hookd_core::model::MessageDestination {
    store.list_destinations(app, msg).await.unwrap().remove(0)
}

pub fn endpoint_ids(claims: &[hookd_store::ClaimedDelivery]) -> Vec<EndpointId> {
    claims.iter().map(|c| c.dest.endpoint_id.clone()).collect()
}

/// The claimed endpoints in id order (rows due at the same time come in any order).
fn sorted_endpoint_ids(claims: &[hookd_store::ClaimedDelivery]) -> Vec<EndpointId> {
    let mut ids = endpoint_ids(claims);
    ids.sort();
    ids
}

pub async fn check_claim_returns_only_due_rows_oldest_first(store: &dyn Store) {
    let (_, eps, msgs) = queued(store, 4).await;
    let claims = store
        .claim_due(t(20), 10, t(1_000), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(
        endpoint_ids(&claims),
        [eps[0].id.clone(), eps[1].id.clone(), eps[2].id.clone()]
    );
    let first = &claims[0];
    assert_eq!(first.event_type, "type.0");
    assert_eq!(first.payload, msgs[0].payload);
    assert_eq!(first.dest.next_attempt_at, Some(t(1_000)));
    assert_eq!(first.dest.lease_owner.as_deref(), Some("node-a"));
    assert_eq!(first.dest.status, DeliveryStatus::Pending);
    // The stored rows carry the lease too.
    let stored = store
        .list_destinations(&eps[0].app_id, &msgs[0].id)
        .await
        .unwrap();
    assert_eq!(stored, vec![first.dest.clone()]);
}

pub async fn check_claim_respects_exclude_and_limit(store: &dyn Store) {
    let (_, eps, _) = queued(store, 4).await;
    let exclude = [eps[0].id.clone(), eps[2].id.clone()];
    let claims = store
        .claim_due(t(100), 1, t(1_000), "n", &exclude)
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&claims), [eps[1].id.clone()]);
    let claims = store
        .claim_due(t(100), 10, t(1_000), "n", &exclude)
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&claims), [eps[3].id.clone()]);
    let claims = store
        .claim_due(t(100), 10, t(1_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(
        endpoint_ids(&claims),
        [eps[0].id.clone(), eps[2].id.clone()]
    );
}

pub async fn check_claimed_rows_come_back_only_after_the_lease_expires(store: &dyn Store) {
    let (_, eps, _) = queued(store, 2).await;
    let claims = store
        .claim_due(t(50), 10, t(500), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 2);
    assert!(store
        .claim_due(t(499), 10, t(900), "node-b", &[])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(500)));
    let again = store
        .claim_due(t(500), 10, t(900), "node-b", &[])
        .await
        .unwrap();
    assert_eq!(sorted_endpoint_ids(&again), sorted_endpoint_ids(&claims));
    assert!(again
        .iter()
        .all(|c| c.dest.lease_owner.as_deref() == Some("node-b")));
    assert_eq!(eps.len(), 2);
}

pub async fn check_record_outcome_updates_the_destination_and_adds_the_attempt(store: &dyn Store) {
    let (app, _, msgs) = queued(store, 1).await;
    let claim = store
        .claim_due(t(0), 1, t(100), "n", &[])
        .await
        .unwrap()
        .remove(0);

    // A failed attempt with a retry scheduled.
    let failed = attempt(&claim.dest, DeliveryStatus::Fail, 503, t(5));
    let retry = DeliveryOutcome {
        attempt_count: 1,
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(t(60)),
        ..outcome(&failed)
    };
    store.record_outcome(&retry).await.unwrap();
    let d = only_destination(store, &app.id, &msgs[0].id).await;
    assert_eq!(
        (
            d.status,
            d.attempt_count,
            d.next_attempt_at,
            d.last_attempt_at,
            d.lease_owner
        ),
        (DeliveryStatus::Pending, 1, Some(t(60)), Some(t(5)), None)
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(60)));

    // A success settles it: no longer due.
    let ok = attempt(&claim.dest, DeliveryStatus::Success, 200, t(61));
    store
        .record_outcome(&DeliveryOutcome {
            attempt_count: 2,
            ..outcome(&ok)
        })
        .await
        .unwrap();
    let d = only_destination(store, &app.id, &msgs[0].id).await;
    assert_eq!(
        (d.status, d.attempt_count, d.next_attempt_at),
        (DeliveryStatus::Success, 2, None)
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert!(store
        .claim_due(t(10_000), 10, t(20_000), "n", &[])
        .await
        .unwrap()
        .is_empty());
    let logged = store
        .list_attempts(&app.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    assert_eq!(logged.items, vec![failed, ok]);

    // Settled without a request: the last attempt time is kept.
    let settle = DeliveryOutcome {
        attempt: None,
        status: DeliveryStatus::Fail,
        ..retry
    };
    store.record_outcome(&settle).await.unwrap();
    let d = only_destination(store, &app.id, &msgs[0].id).await;
    assert_eq!(
        (d.status, d.last_attempt_at),
        (DeliveryStatus::Fail, Some(t(61)))
    );
}

pub async fn check_requeue_upserts_and_keeps_the_attempt_count(store: &dyn Store) {
    let (app, eps, msgs) = queued(store, 2).await;
    let claim = store
        .claim_due(t(0), 1, t(100), "n", &[])
        .await
        .unwrap()
        .remove(0);
    let a = attempt(&claim.dest, DeliveryStatus::Fail, 500, t(3));
    store
        .record_outcome(&DeliveryOutcome {
            attempt_count: 4,
            ..outcome(&a)
        })
        .await
        .unwrap();

    let mut resend = dest(&msgs[0], &eps[0].id, t(200));
    resend.trigger = TriggerType::Manual;
    store.requeue(&resend).await.unwrap();
    let d = only_destination(store, &app.id, &msgs[0].id).await;
    assert_eq!(
        (
            d.status,
            d.attempt_count,
            d.next_attempt_at,
            d.trigger,
            d.lease_owner
        ),
        (
            DeliveryStatus::Pending,
            4,
            Some(t(200)),
            TriggerType::Manual,
            None
        )
    );
    assert_eq!(d.last_attempt_at, Some(t(3)));

    // A message never fanned out to an endpoint gets a new row.
    let mut fresh = dest(&msgs[1], &eps[0].id, t(300));
    fresh.lease_owner = Some("n".into());
    store.requeue(&fresh).await.unwrap();
    let rows = store.list_destinations(&app.id, &msgs[1].id).await.unwrap();
    assert!(rows.contains(&fresh), "{rows:?}");
}

pub async fn check_release_all_leases_makes_claimed_rows_due_now(store: &dyn Store) {
    let (_, _, _) = queued(store, 3).await;
    let claims = store
        .claim_due(t(10), 10, t(5_000), "crashed", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 2);
    assert_eq!(store.release_all_leases(t(15)).await.unwrap(), 2);
    assert_eq!(store.release_all_leases(t(15)).await.unwrap(), 0);
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(15)));
    let again = store
        .claim_due(t(15), 10, t(900), "fresh", &[])
        .await
        .unwrap();
    assert_eq!(sorted_endpoint_ids(&again), sorted_endpoint_ids(&claims));
}

pub async fn check_next_due_at_is_the_earliest_pending_row(store: &dyn Store) {
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let (app, eps, _) = queued(store, 3).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(0)));
    let msg = message(&app.id, "x");
    let mut done = dest(&msg, &eps[0].id, t(-100));
    done.status = DeliveryStatus::Success;
    store.create_message(&msg, &[done]).await.unwrap();
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(t(0)),
        "settled rows are ignored"
    );
}

pub async fn check_renew_leases_extends_only_the_owners_pending_rows(store: &dyn Store) {
    let (_, eps, msgs) = queued(store, 3).await;
    let mine = store
        .claim_due(t(10), 2, t(100), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let key = |i: usize| (msgs[i].id.clone(), eps[i].id.clone());
    // Row 2 is not leased yet; row 0 is settled before the renewal.
    let settled = attempt(&mine[0].dest, DeliveryStatus::Success, 200, t(20));
    store
        .record_outcome(&DeliveryOutcome {
            attempt_count: 1,
            ..outcome(&settled)
        })
        .await
        .unwrap();
    let keys = [key(0), key(1), key(2)];
    assert_eq!(
        store.renew_leases("node-b", &keys, t(900)).await.unwrap(),
        0,
        "another owner renews nothing"
    );
    assert_eq!(
        store.renew_leases("node-a", &keys, t(900)).await.unwrap(),
        1
    );
    assert_eq!(store.renew_leases("node-a", &[], t(900)).await.unwrap(), 0);
    // The renewed row stays claimed past its first expiry; the unleased one is due.
    let later = store
        .claim_due(t(500), 10, t(1_000), "node-b", &[])
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&later), [eps[2].id.clone()]);
    let after_expiry = store
        .claim_due(t(900), 10, t(1_000), "node-b", &[])
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&after_expiry), [eps[1].id.clone()]);
}

pub async fn check_concurrent_claims_never_overlap(store: &dyn Store) {
    let (_, eps, _) = queued(store, 40).await;
    let claim = |owner: &'static str| store.claim_due(t(10_000), 3, t(20_000), owner, &[]);
    let mut seen = Vec::new();
    loop {
        let rounds = futures_join(claim("a"), claim("b"), claim("c")).await;
        let got: Vec<_> = rounds.into_iter().flat_map(|r| r.unwrap()).collect();
        if got.is_empty() {
            break;
        }
        seen.extend(endpoint_ids(&got));
    }
    seen.sort();
    let mut expected: Vec<_> = eps.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected, "every row claimed exactly once");
}

/// Runs three futures concurrently (tokio's `join!` without the macro's borrow quirks).
async fn futures_join<T>(
    a: impl std::future::Future<Output = T>,
    b: impl std::future::Future<Output = T>,
    c: impl std::future::Future<Output = T>,
) -> Vec<T> {
    let (a, b, c) = tokio::join!(a, b, c);
    vec![a, b, c]
}

pub async fn check_record_outcomes_writes_a_batch_like_single_outcomes(store: &dyn Store) {
    let (app, eps, msgs) = queued(store, 4).await;
    let claims = store
        .claim_due(t(100), 10, t(1_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 4);
    let dest = |i: usize| {
        claims
            .iter()
            .find(|c| c.dest.endpoint_id == eps[i].id)
            .unwrap()
            .dest
            .clone()
    };
    let failed = attempt(&dest(0), DeliveryStatus::Fail, 503, t(200));
    let ok = attempt(&dest(1), DeliveryStatus::Success, 200, t(201));
    let gone = attempt(&dest(3), DeliveryStatus::Success, 200, t(202));
    // Endpoint 3 is deleted before the batch: its outcome is dropped, the rest written.
    store.delete_endpoint(&app.id, &eps[3].id).await.unwrap();
    let batch = [
        DeliveryOutcome {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(t(5_000)),
            ..outcome(&failed)
        },
        outcome(&ok),
        DeliveryOutcome {
            attempt: None,
            status: DeliveryStatus::Fail,
            attempt_count: 0,
            ..outcome(&attempt(&dest(2), DeliveryStatus::Fail, 0, t(203)))
        },
        outcome(&gone),
    ];
    store.record_outcomes(&batch).await.unwrap();
    store.record_outcomes(&[]).await.unwrap();

    let state = |i: usize| {
        let (app, msg) = (app.id.clone(), msgs[i].id.clone());
        async move {
            let d = store.list_destinations(&app, &msg).await.unwrap().remove(0);
            (
                d.status,
                d.attempt_count,
                d.next_attempt_at,
                d.last_attempt_at,
                d.lease_owner,
            )
        }
    };
    assert_eq!(
        state(0).await,
        (
            DeliveryStatus::Pending,
            1,
            Some(t(5_000)),
            Some(t(200)),
            None
        )
    );
    assert_eq!(
        state(1).await,
        (DeliveryStatus::Success, 1, None, Some(t(201)), None)
    );
    assert_eq!(state(2).await, (DeliveryStatus::Fail, 0, None, None, None));
    let logged = store
        .list_attempts(&app.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    assert_eq!(logged.items, vec![failed, ok]);
}

pub async fn check_endpoint_stats_count_destinations_per_status_in_a_window(store: &dyn Store) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let (ep, other) = (endpoint(&app.id, None), endpoint(&app.id, None));
    store.create_endpoint(&ep).await.unwrap();
    store.create_endpoint(&other).await.unwrap();
    let statuses = [
        DeliveryStatus::Success,
        DeliveryStatus::Success,
        DeliveryStatus::Fail,
        DeliveryStatus::Pending,
    ];
    for (i, status) in statuses.iter().enumerate() {
        let msg = message_at(&app.id, "x", t(i as i64 * 1_000));
        let mut mine = dest(&msg, &ep.id, t(0));
        mine.status = *status;
        let theirs = dest(&msg, &other.id, t(0));
        store.create_message(&msg, &[mine, theirs]).await.unwrap();
    }
    let stats = |since: Option<i64>, until: Option<i64>| {
        let (app, ep) = (app.id.clone(), ep.id.clone());
        async move {
            store
                .endpoint_stats(&app, &ep, since.map(t), until.map(t))
                .await
                .unwrap()
        }
    };
    let all = stats(None, None).await;
    assert_eq!(
        (all.success, all.fail, all.pending, all.sending),
        (2, 1, 1, 0)
    );
    let later = stats(Some(1_000), None).await;
    assert_eq!((later.success, later.fail, later.pending), (1, 1, 1));
    let window = stats(Some(1_000), Some(3_000)).await;
    assert_eq!((window.success, window.fail, window.pending), (1, 1, 0));
    let stranger = store
        .endpoint_stats(&app.id, &EndpointId::generate(), None, None)
        .await
        .unwrap();
    assert_eq!(stranger, hookd_store::EndpointStats::default());
}

/// When a message was accepted, as the queue statistics read it (from its id).
fn accepted(msg: &Message) -> hookd_core::Timestamp {
    let millis = hookd_core::ids::id_millis(msg.id.as_str()).unwrap();
    hookd_core::Timestamp::from_millis(millis as i64)
}

pub async fn check_queue_stats_count_pending_rows_by_state(store: &dyn Store) {
    assert_eq!(
        store.queue_stats(t(0), 10).await.unwrap(),
        hookd_store::QueueStats::default(),
        "an empty queue"
    );
    // Four endpoints, one message each, due at t(0), t(10), t(20), t(30).
    let (app, eps, msgs) = queued(store, 4).await;
    // A fifth, flow-controlled endpoint with one message: its row is marked.
    let mut paced = endpoint_at(&app.id, t(5), None);
    paced.rate_limit = Some(5);
    store.create_endpoint(&paced).await.unwrap();
    let flow_msg = message_at(&app.id, "type.flow", t(5));
    store
        .create_message(&flow_msg, &[dest(&flow_msg, &paced.id, t(0))])
        .await
        .unwrap();
    // At t(15) the first two are due; one of them is claimed (in flight).
    let claimed = store
        .claim_due(t(15), 1, t(1_000), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&claimed), [eps[0].id.clone()]);
    // The last one is delivered: settled rows are not in the queue.
    let done = DeliveryOutcome {
        msg_id: msgs[3].id.clone(),
        endpoint_id: eps[3].id.clone(),
        app_id: app.id.clone(),
        attempt: None,
        status: DeliveryStatus::Success,
        attempt_count: 1,
        next_attempt_at: None,
    };
    store.record_outcome(&done).await.unwrap();
    store
        .set_endpoint_disabled(&app.id, &eps[2].id, Some(DisabledReason::Manual))
        .await
        .unwrap();

    let stats = store.queue_stats(t(15), 2).await.unwrap();
    assert_eq!(
        (
            stats.due,
            stats.scheduled,
            stats.in_flight,
            stats.flow_controlled
        ),
        (1, 1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        stats.oldest_due_at,
        Some(t(10)),
        "eps[1]'s row, due at t(10)"
    );
    assert_eq!(stats.oldest_accepted_at, Some(accepted(&msgs[0])));
    assert_eq!(stats.disabled_endpoints, 1);
    assert_eq!(
        stats.nodes,
        [hookd_store::NodeLeases {
            node: "node-a".into(),
            deliveries: 1,
            flow_endpoints: 0,
        }],
        "the live lease of the claimed row"
    );
    assert!(
        store
            .queue_stats(t(1_000), 2)
            .await
            .unwrap()
            .nodes
            .is_empty(),
        "expired at t(1000)"
    );
    // The two endpoints with the oldest undelivered messages, oldest first.
    let worst: Vec<_> = stats.worst.iter().map(|e| e.endpoint_id.clone()).collect();
    let mut expected = vec![
        (accepted(&msgs[0]), eps[0].id.clone()),
        (accepted(&msgs[1]), eps[1].id.clone()),
        (accepted(&msgs[2]), eps[2].id.clone()),
        (accepted(&flow_msg), paced.id.clone()),
    ];
    expected.sort();
    let expected: Vec<_> = expected.into_iter().take(2).map(|(_, id)| id).collect();
    assert_eq!(worst, expected);
    let first = &stats.worst[0];
    assert_eq!(first.app_id, app.id);
    assert_eq!(
        first.due + first.scheduled + first.in_flight + first.flow_controlled,
        1
    );
}

pub async fn check_a_claim_says_which_rows_it_took_over(store: &dyn Store) {
    queued(store, 2).await;
    let first = store
        .claim_due(t(50), 10, t(500), "node-a", &[])
        .await
        .unwrap();
    assert!(first.iter().all(|c| !c.taken_over), "nobody held them");
    // node-a's lease runs out; node-a claims one back (its own: no takeover) and node-b
    // the other (a takeover).
    let own = store
        .claim_due(t(500), 1, t(900), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(own.len(), 1);
    assert!(!own[0].taken_over);
    let taken = store
        .claim_due(t(500), 10, t(900), "node-b", &[])
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken_over);
}

pub async fn check_a_fresh_store_has_every_migration(store: &dyn Store) {
    let v = store.schema_version().await.unwrap();
    assert!(v.is_current(), "{v:?}");
    assert!(v.known >= 10, "{v:?}");
}
