//! Failure handling: endpoint failure streaks (auto-disable) and endpoint recoveries.

use crate::fixtures::*;
use hookd_core::model::{DeliveryStatus, DisabledReason, MessageDestination, TriggerType};
use hookd_store::{EndpointResult, RecoveryTask, Store, TaskStatus};

fn result(ep: &hookd_core::model::Endpoint, ok: bool, at: hookd_core::Timestamp) -> EndpointResult {
    EndpointResult {
        app_id: ep.app_id.clone(),
        endpoint_id: ep.id.clone(),
        ok,
        at,
    }
}

pub async fn check_failure_streak_disables_an_endpoint_once_and_success_clears_it(
    store: &dyn Store,
) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    let other = endpoint(&app.id, Some("other"));
    store.create_endpoint(&ep).await.unwrap();
    store.create_endpoint(&other).await.unwrap();
    assert_eq!(
        store.endpoint_failing_since(&app.id, &ep.id).await.unwrap(),
        None
    );

    // The first failure opens the streak; later ones keep its start.
    let none = store
        .note_endpoint_results(&[result(&ep, false, t(100))], t(0))
        .await
        .unwrap();
    assert!(none.is_empty());
    store
        .note_endpoint_results(&[result(&ep, false, t(200))], t(0))
        .await
        .unwrap();
    assert_eq!(
        store.endpoint_failing_since(&app.id, &ep.id).await.unwrap(),
        Some(t(100))
    );

    // Once the streak is old enough, the endpoint is disabled, and reported only once.
    let disabled = store
        .note_endpoint_results(
            &[result(&ep, false, t(300)), result(&other, true, t(300))],
            t(150),
        )
        .await
        .unwrap();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].endpoint_id, ep.id);
    assert_eq!(disabled[0].failing_since, t(100));
    let got = store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap();
    assert!(got.disabled);
    assert_eq!(got.disabled_reason, Some(DisabledReason::Failing));
    assert!(
        !store
            .get_endpoint(&app.id, other.id.as_str())
            .await
            .unwrap()
            .disabled
    );
    let again = store
        .note_endpoint_results(&[result(&ep, false, t(400))], t(150))
        .await
        .unwrap();
    assert!(again.is_empty());

    // A success ends the streak (what re-enabling through the API records).
    store
        .note_endpoint_results(&[result(&ep, true, t(500))], t(150))
        .await
        .unwrap();
    assert_eq!(
        store.endpoint_failing_since(&app.id, &ep.id).await.unwrap(),
        None
    );
    // Results for an endpoint of another app change nothing.
    let mut stranger = result(&other, false, t(600));
    stranger.app_id = hookd_core::ids::AppId::generate();
    store
        .note_endpoint_results(&[stranger], t(1000))
        .await
        .unwrap();
    assert_eq!(
        store
            .endpoint_failing_since(&app.id, &other.id)
            .await
            .unwrap(),
        None
    );
}

/// A destination settled with `status` after `count` attempts.
fn settled(
    msg: &hookd_core::model::Message,
    ep: &hookd_core::ids::EndpointId,
    status: DeliveryStatus,
    count: u32,
) -> MessageDestination {
    MessageDestination {
        status,
        attempt_count: count,
        next_attempt_at: None,
        last_attempt_at: Some(msg.created_at),
        ..dest(msg, ep, msg.created_at)
    }
}

pub async fn check_recovery_requeues_failed_deliveries_in_batches_under_one_lease(
    store: &dyn Store,
) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    let other = endpoint(&app.id, Some("other"));
    store.create_endpoint(&ep).await.unwrap();
    store.create_endpoint(&other).await.unwrap();
    // Messages at t(0..10): even ones failed, odd ones succeeded; plus one failed message
    // before the window and one after, and failures of another endpoint.
    let mut failed_in_window = Vec::new();
    for i in -1..=10 {
        let msg = message_at(&app.id, "invoice.paid", t(i * 1000));
        let status = if i % 2 == 0 || i == -1 || i == 10 {
            DeliveryStatus::Fail
        } else {
            DeliveryStatus::Success
        };
        let dests = [
            settled(&msg, &ep.id, status, 3),
            settled(&msg, &other.id, DeliveryStatus::Fail, 3),
        ];
        store.create_message(&msg, &dests).await.unwrap();
        if status == DeliveryStatus::Fail && (0..10).contains(&i) {
            failed_in_window.push(msg.id.clone());
        }
    }
    assert_eq!(failed_in_window.len(), 5);

    let task = RecoveryTask::new(app.id.clone(), ep.id.clone(), t(0), Some(t(10_000)), t(50));
    store.create_recovery(&task).await.unwrap();
    assert_eq!(store.get_recovery(task.id.as_str()).await.unwrap(), task);

    // One node holds it; another finds nothing to claim until the lease expires.
    let held = store
        .claim_recovery("node-a", t(60), t(10_060))
        .await
        .unwrap()
        .expect("a running task");
    assert_eq!(held.id, task.id);
    assert!(store
        .claim_recovery("node-b", t(70), t(10_070))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .recovery_step(&task.id, "node-b", 2, t(80), t(10_080))
        .await
        .unwrap()
        .is_none());

    let mut last = None;
    for expected in [2, 4, 5] {
        let step = store
            .recovery_step(&task.id, "node-a", 2, t(100), t(10_100))
            .await
            .unwrap()
            .expect("still held");
        assert_eq!(step.recovered, expected);
        last = Some(step);
    }
    let done = last.unwrap();
    assert_eq!(done.status, TaskStatus::Finished);
    assert_eq!(done.cursor.as_ref(), failed_in_window.last());
    assert_eq!(store.get_recovery(task.id.as_str()).await.unwrap(), done);
    // A finished task is neither claimed nor stepped again.
    assert!(store
        .claim_recovery("node-b", t(20_000), t(30_000))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .recovery_step(&task.id, "node-a", 2, t(200), t(10_200))
        .await
        .unwrap()
        .is_none());

    // Exactly the failed deliveries in the window are due again, as manual resends that
    // keep their attempt count; nothing else moved.
    let mut requeued = Vec::new();
    for msg in store
        .list_messages(&app.id, &Default::default(), &all())
        .await
        .unwrap()
        .items
    {
        for d in store.list_destinations(&app.id, &msg.id).await.unwrap() {
            if d.status == DeliveryStatus::Pending {
                assert_eq!(d.endpoint_id, ep.id);
                assert_eq!(d.trigger, TriggerType::Manual);
                assert_eq!(d.attempt_count, 3);
                assert_eq!(d.next_attempt_at, Some(t(100)));
                assert_eq!(d.lease_owner, None);
                requeued.push(d.msg_id);
            }
        }
    }
    requeued.sort();
    assert_eq!(requeued, failed_in_window);
    let claimed = store
        .claim_due(t(100), 100, t(5_000), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);

    let listed = store.list_recoveries(&all()).await.unwrap();
    assert_eq!(listed.items, vec![done]);
}

pub async fn check_an_expired_recovery_lease_passes_to_another_node(store: &dyn Store) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    for i in 0..3 {
        let msg = message_at(&app.id, "invoice.paid", t(i));
        store
            .create_message(&msg, &[settled(&msg, &ep.id, DeliveryStatus::Fail, 1)])
            .await
            .unwrap();
    }
    let task = RecoveryTask::new(app.id.clone(), ep.id.clone(), t(0), None, t(10));
    store.create_recovery(&task).await.unwrap();
    store
        .claim_recovery("node-a", t(10), t(1_000))
        .await
        .unwrap()
        .unwrap();
    let step = store
        .recovery_step(&task.id, "node-a", 2, t(20), t(1_020))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((step.recovered, step.status), (2, TaskStatus::Running));
    // node-a dies; once the lease its last step renewed runs out, node-b resumes after
    // the cursor.
    assert!(store
        .claim_recovery("node-b", t(1_020), t(2_000))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .recovery_step(&task.id, "node-a", 2, t(1_010), t(2_010))
        .await
        .unwrap()
        .is_none());
    let step = store
        .recovery_step(&task.id, "node-b", 2, t(1_010), t(2_010))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((step.recovered, step.status), (3, TaskStatus::Finished));
}

/// Recovered deliveries are claimed the way the endpoint is served now: by its owner while
/// it is flow-controlled, by anyone once it no longer is (never stranded by an old mark).
pub async fn check_recovered_deliveries_follow_the_endpoints_flow_control(store: &dyn Store) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut ep = endpoint(&app.id, None);
    ep.rate_limit = Some(5);
    store.create_endpoint(&ep).await.unwrap();
    let first = message_at(&app.id, "invoice.paid", t(1_000));
    let second = message_at(&app.id, "invoice.paid", t(2_000));
    for msg in [&first, &second] {
        let dests = [settled(msg, &ep.id, DeliveryStatus::Fail, 3)];
        store.create_message(msg, &dests).await.unwrap();
    }
    let recover = |since: i64, until: i64, at: i64| {
        let task = RecoveryTask::new(
            app.id.clone(),
            ep.id.clone(),
            t(since),
            Some(t(until)),
            t(at),
        );
        async move {
            store.create_recovery(&task).await.unwrap();
            store
                .claim_recovery("node-a", t(at), t(at + 10_000))
                .await
                .unwrap()
                .expect("a running task");
            store
                .recovery_step(&task.id, "node-a", 10, t(at), t(at + 10_000))
                .await
                .unwrap()
                .expect("held");
        }
    };

    // Still throttled: only the endpoint's owner claims it.
    recover(0, 1_500, 5_000).await;
    assert!(store
        .claim_due(t(5_000), 10, t(9_000), "n", &[])
        .await
        .unwrap()
        .is_empty());
    let flow = store
        .claim_flow(&ep.id, false, t(5_000), 10, t(9_000), "n")
        .await
        .unwrap();
    assert_eq!(flow.len(), 1);
    assert_eq!(flow[0].dest.msg_id, first.id);

    // No longer throttled: the second message, marked when it was written, is recovered
    // unmarked, so the ordinary claim takes it.
    ep.rate_limit = None;
    store.update_endpoint(&ep).await.unwrap();
    recover(1_500, 3_000, 6_000).await;
    let due = store
        .claim_due(t(6_000), 10, t(9_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].dest.msg_id, second.id);
}
