//! Deletes: what goes with an app or an endpoint, and outcomes that arrive too late.

use crate::fixtures::*;
use crate::messages::outcome;
use crate::queue::{endpoint_ids, queued};
use hookd_core::model::DeliveryStatus;
use hookd_store::{AttemptFilter, DeliveryOutcome, MessageFilter, Store, StoreError};

pub async fn check_outcome_for_a_deleted_endpoint_is_dropped(store: &dyn Store) {
    let (app, eps, msgs) = queued(store, 2).await;
    let claims = store
        .claim_due(t(100), 10, t(1_000), "n", &[])
        .await
        .unwrap();
    store.delete_endpoint(&app.id, &eps[0].id).await.unwrap();
    // Its pending delivery is gone...
    assert!(store
        .list_destinations(&app.id, &msgs[0].id)
        .await
        .unwrap()
        .is_empty());
    // ...and a late outcome neither fails nor leaves an attempt behind.
    let late = attempt(&claims[0].dest, DeliveryStatus::Success, 200, t(5));
    store.record_outcome(&outcome(&late)).await.unwrap();
    let logged = store
        .list_attempts(&app.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    assert!(logged.items.is_empty());
    // The other endpoint's delivery is untouched.
    assert_eq!(
        store
            .list_destinations(&app.id, &msgs[1].id)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn check_delete_app_removes_everything_under_it(store: &dyn Store) {
    let (app, _, msgs) = queued(store, 2).await;
    let (kept, kept_eps, kept_msgs) = queued(store, 1).await;
    let not_kept = [kept_eps[0].id.clone()];
    let claim = store
        .claim_due(t(0), 1, t(100), "n", &not_kept)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(claim.dest.app_id, app.id);
    let a = attempt(&claim.dest, DeliveryStatus::Fail, 500, t(1));
    let retry = DeliveryOutcome {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(t(5)),
        ..outcome(&a)
    };
    store.record_outcome(&retry).await.unwrap();

    store.delete_app(&app.id).await.unwrap();
    assert!(store.all_endpoints(&app.id).await.unwrap().is_empty());
    let listed = store
        .list_messages(&app.id, &MessageFilter::default(), &all())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert!(store
        .list_destinations(&app.id, &msgs[0].id)
        .await
        .unwrap()
        .is_empty());
    let logged = store
        .list_attempts(&app.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    assert!(logged.items.is_empty());
    assert!(matches!(
        store.get_attempt(&app.id, &msgs[0].id, &a.id).await,
        Err(StoreError::NotFound)
    ));

    // Only the other app's work remains.
    let remaining = store
        .claim_due(t(10_000), 10, t(20_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(endpoint_ids(&remaining), [kept_eps[0].id.clone()]);
    assert_eq!(remaining[0].dest.msg_id, kept_msgs[0].id);
    assert_eq!(store.get_app(kept.id.as_str()).await.unwrap(), kept);
}
