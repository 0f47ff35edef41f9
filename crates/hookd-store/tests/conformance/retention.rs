//! Idempotency keys and data retention: reservations, stored responses, take-over of
//! lapsed reservations, expunged content, and the cleaner's bounded purges.

use crate::fixtures::*;
use crate::pg_schema::{PgSchema, SchemaStore};
use hookd_core::model::DeliveryStatus;
use hookd_core::Timestamp;
use hookd_store::AppStore;
use hookd_store::EndpointStore;
use hookd_store::MessageStore;
use hookd_store::QueueStore;
use hookd_store::RetentionStore;
use hookd_store::{
    AttemptFilter, DeliveryOutcome, IdempotencyClaim, IdempotencyReservation, Store, StoreError,
};

fn claim(key: &str, token: &str, now: Timestamp) -> IdempotencyClaim {
    IdempotencyClaim {
        key: key.into(),
        fingerprint: format!("fp-{key}"),
        token: token.into(),
        now,
        locked_until: now.plus_millis(60_000),
        expires_at: now.plus_millis(86_400_000),
    }
}

pub async fn check_idempotency_key_is_reserved_once_then_replays_its_response(store: &dyn Store) {
    let first = claim("k1", "tok-a", t(0));
    assert_eq!(
        store.reserve_idempotency_key(&first).await.unwrap(),
        IdempotencyReservation::Reserved
    );
    // A retry while the first runs sees the reservation, without a response.
    let IdempotencyReservation::Existing(held) = store
        .reserve_idempotency_key(&claim("k1", "tok-b", t(10)))
        .await
        .unwrap()
    else {
        panic!("a held key was reserved twice");
    };
    assert_eq!(held.fingerprint, "fp-k1");
    assert_eq!(held.response, None);
    assert_eq!(held.locked_until, t(60_000));

    // Only the holder's token completes it.
    assert!(!store
        .complete_idempotency_key("k1", "tok-b", 202, b"{}")
        .await
        .unwrap());
    let body = br#"{"id":"msg_1","payload":{"a":"\u00e9"}}"#;
    assert!(store
        .complete_idempotency_key("k1", "tok-a", 202, body)
        .await
        .unwrap());
    let IdempotencyReservation::Existing(done) = store
        .reserve_idempotency_key(&claim("k1", "tok-c", t(70_000)))
        .await
        .unwrap()
    else {
        panic!("a completed key was reserved again");
    };
    assert_eq!(done.response, Some((202, body.to_vec())));
    assert_eq!(
        store.get_idempotency_key("k1", t(20)).await.unwrap(),
        Some(done)
    );
    // Other keys are untouched.
    assert_eq!(store.get_idempotency_key("k2", t(20)).await.unwrap(), None);
}

pub async fn check_lapsed_released_and_expired_keys_are_taken_again(store: &dyn Store) {
    // A reservation whose request died lapses at `locked_until`; a retry then takes it and
    // the dead holder can no longer complete it.
    store
        .reserve_idempotency_key(&claim("dead", "tok-a", t(0)))
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_idempotency_key(&claim("dead", "tok-b", t(60_000)))
            .await
            .unwrap(),
        IdempotencyReservation::Reserved
    );
    assert!(!store
        .complete_idempotency_key("dead", "tok-a", 200, b"late")
        .await
        .unwrap());

    // A released reservation frees the key at once.
    store
        .release_idempotency_key("dead", "tok-b")
        .await
        .unwrap();
    assert_eq!(store.get_idempotency_key("dead", t(1)).await.unwrap(), None);
    assert_eq!(
        store
            .reserve_idempotency_key(&claim("dead", "tok-c", t(1)))
            .await
            .unwrap(),
        IdempotencyReservation::Reserved
    );
    // Releasing with another token, or a completed key, changes nothing.
    store
        .release_idempotency_key("dead", "tok-x")
        .await
        .unwrap();
    assert!(store
        .complete_idempotency_key("dead", "tok-c", 201, b"{}")
        .await
        .unwrap());
    store
        .release_idempotency_key("dead", "tok-c")
        .await
        .unwrap();
    assert!(store
        .get_idempotency_key("dead", t(2))
        .await
        .unwrap()
        .is_some());

    // A completed key is forgotten at `expires_at`, and may then be used afresh.
    let expiry = t(1).plus_millis(86_400_000);
    assert_eq!(
        store.get_idempotency_key("dead", expiry).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_idempotency_key(&claim("dead", "tok-d", expiry))
            .await
            .unwrap(),
        IdempotencyReservation::Reserved
    );
}

pub async fn check_concurrent_reservations_of_one_key_have_one_winner(store: &dyn Store) {
    let c: Vec<IdempotencyClaim> = (0..6)
        .map(|i| claim("race", &format!("tok-{i}"), t(0)))
        .collect();
    let (a, b, c0, d, e, f) = tokio::join!(
        store.reserve_idempotency_key(&c[0]),
        store.reserve_idempotency_key(&c[1]),
        store.reserve_idempotency_key(&c[2]),
        store.reserve_idempotency_key(&c[3]),
        store.reserve_idempotency_key(&c[4]),
        store.reserve_idempotency_key(&c[5]),
    );
    let winners = [a, b, c0, d, e, f]
        .into_iter()
        .map(Result::unwrap)
        .filter(|r| *r == IdempotencyReservation::Reserved)
        .count();
    assert_eq!(winners, 1);
}

pub async fn check_expired_idempotency_keys_are_purged_in_batches(store: &dyn Store) {
    for i in 0..5 {
        let mut c = claim(&format!("old-{i}"), "tok", t(0));
        c.expires_at = t(10);
        store.reserve_idempotency_key(&c).await.unwrap();
    }
    store
        .reserve_idempotency_key(&claim("fresh", "tok", t(0)))
        .await
        .unwrap();
    let mut purged = Vec::new();
    loop {
        let n = store.purge_idempotency_keys(t(100), 2).await.unwrap();
        purged.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(purged, [2, 2, 1, 0]);
    assert!(store
        .get_idempotency_key("fresh", t(100))
        .await
        .unwrap()
        .is_some());
}

pub async fn check_payload_expiry_is_stored_and_content_can_be_expunged(store: &dyn Store) {
    let a = app(None);
    store.create_app(&a).await.unwrap();
    let mut msg = message(&a.id, "invoice.paid");
    msg.payload_expires_at = Some(t(5_000));
    store.create_message(&msg, &[]).await.unwrap();
    assert_eq!(
        store.get_message(&a.id, msg.id.as_str()).await.unwrap(),
        msg
    );

    // Another app cannot expunge it.
    let other = hookd_core::ids::AppId::generate();
    assert!(matches!(
        store.expunge_message_content(&other, &msg.id).await,
        Err(StoreError::NotFound)
    ));
    store.expunge_message_content(&a.id, &msg.id).await.unwrap();
    let got = store.get_message(&a.id, msg.id.as_str()).await.unwrap();
    assert_eq!(got.payload, None);
    assert_eq!(got.payload_expires_at, None);
    assert_eq!(got.event_type, msg.event_type);
    let missing = hookd_core::ids::MsgId::generate();
    assert!(matches!(
        store.expunge_message_content(&a.id, &missing).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn check_expired_payloads_are_purged_unless_a_delivery_still_needs_them(
    store: &dyn Store,
) {
    let a = app(None);
    store.create_app(&a).await.unwrap();
    let ep = endpoint(&a.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let with_expiry = |at: i64, expires: i64| {
        let mut m = message_at(&a.id, "e", t(at));
        m.payload_expires_at = Some(t(expires));
        m
    };
    let expired: Vec<_> = (0..3).map(|i| with_expiry(i, 100)).collect();
    for m in &expired {
        store.create_message(m, &[]).await.unwrap();
    }
    let pending = with_expiry(10, 100);
    let pending_dest = dest(&pending, &ep.id, t(0));
    store
        .create_message(&pending, std::slice::from_ref(&pending_dest))
        .await
        .unwrap();
    let kept = with_expiry(20, 10_000);
    store.create_message(&kept, &[]).await.unwrap();

    // Bounded batches; the message with a pending delivery is skipped.
    assert_eq!(store.purge_expired_payloads(t(1_000), 2).await.unwrap(), 2);
    assert_eq!(store.purge_expired_payloads(t(1_000), 2).await.unwrap(), 1);
    assert_eq!(store.purge_expired_payloads(t(1_000), 2).await.unwrap(), 0);
    let payload = |id: &hookd_core::ids::MsgId| {
        let id = id.clone();
        let app = a.id.clone();
        async move { store.get_message(&app, id.as_str()).await.unwrap().payload }
    };
    for m in &expired {
        assert_eq!(payload(&m.id).await, None);
    }
    assert!(payload(&pending.id).await.is_some());
    assert!(payload(&kept.id).await.is_some());

    // Once its delivery settles, it goes too.
    store
        .record_outcome(&DeliveryOutcome {
            msg_id: pending.id.clone(),
            endpoint_id: ep.id.clone(),
            app_id: a.id.clone(),
            attempt: Some(attempt(&pending_dest, DeliveryStatus::Success, 200, t(50))),
            status: DeliveryStatus::Success,
            attempt_count: 1,
            next_attempt_at: None,
        })
        .await
        .unwrap();
    assert_eq!(store.purge_expired_payloads(t(1_000), 2).await.unwrap(), 1);
    assert_eq!(payload(&pending.id).await, None);
    assert!(payload(&kept.id).await.is_some());
}

pub async fn check_attempts_are_expunged_and_purged_by_age(store: &dyn Store) {
    let a = app(None);
    store.create_app(&a).await.unwrap();
    let ep = endpoint(&a.id, None);
    store.create_endpoint(&ep).await.unwrap();
    let msg = message(&a.id, "e");
    let d = dest(&msg, &ep.id, t(0));
    store
        .create_message(&msg, std::slice::from_ref(&d))
        .await
        .unwrap();
    let attempts: Vec<_> = (0..4)
        .map(|i| attempt(&d, DeliveryStatus::Fail, 500, t(i * 1_000)))
        .collect();
    for (i, at) in attempts.iter().enumerate() {
        store
            .record_outcome(&DeliveryOutcome {
                msg_id: msg.id.clone(),
                endpoint_id: ep.id.clone(),
                app_id: a.id.clone(),
                attempt: Some(at.clone()),
                status: DeliveryStatus::Pending,
                attempt_count: i as u32 + 1,
                next_attempt_at: Some(t(10_000)),
            })
            .await
            .unwrap();
    }

    // Expunging a response body keeps the attempt.
    store
        .expunge_attempt_content(&a.id, &msg.id, &attempts[3].id)
        .await
        .unwrap();
    let got = store
        .get_attempt(&a.id, &msg.id, &attempts[3].id)
        .await
        .unwrap();
    assert_eq!(got.response, "");
    assert_eq!(got.response_status_code, 500);
    let other = hookd_core::ids::AppId::generate();
    assert!(matches!(
        store
            .expunge_attempt_content(&other, &msg.id, &attempts[3].id)
            .await,
        Err(StoreError::NotFound)
    ));

    // Attempts created before t(2500): the first three, two per batch.
    assert_eq!(store.purge_attempts(t(2_500), 2).await.unwrap(), 2);
    assert_eq!(store.purge_attempts(t(2_500), 2).await.unwrap(), 1);
    assert_eq!(store.purge_attempts(t(2_500), 2).await.unwrap(), 0);
    let left = store
        .list_attempts(&a.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    let ids: Vec<_> = left.items.iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids, [attempts[3].id.clone()]);
    // The delivery itself is untouched.
    let dests = store.list_destinations(&a.id, &msg.id).await.unwrap();
    assert_eq!(dests[0].attempt_count, 4);
}

/// Two nodes' cleaners on one PostgreSQL schema at once: every old attempt is deleted
/// exactly once, neither waits on the other's locks, and the newer attempt stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_cleaners_on_one_schema_share_the_purge() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (schema.open().await, schema.open().await);
    let app = app(None);
    a.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    a.create_endpoint(&ep).await.unwrap();
    let msg = message(&app.id, "e");
    let d = dest(&msg, &ep.id, t(0));
    a.create_message(&msg, std::slice::from_ref(&d))
        .await
        .unwrap();
    let outcome = |i: i64| DeliveryOutcome {
        msg_id: msg.id.clone(),
        endpoint_id: ep.id.clone(),
        app_id: app.id.clone(),
        attempt: Some(attempt(&d, DeliveryStatus::Fail, 500, t(i))),
        status: DeliveryStatus::Pending,
        attempt_count: 1,
        next_attempt_at: Some(t(100_000)),
    };
    let old: Vec<_> = (0..1_000).map(outcome).collect();
    a.record_outcomes(&old).await.unwrap();
    a.record_outcome(&outcome(50_000)).await.unwrap();

    let purge = |store: std::sync::Arc<hookd_store::postgres::PostgresStore>| async move {
        let mut total = 0;
        loop {
            let n = store.purge_attempts(t(10_000), 50).await.unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    };
    let (na, nb) = tokio::join!(purge(a.clone()), purge(b.clone()));
    assert_eq!(na + nb, 1_000);
    let left = a
        .list_attempts(&app.id, &AttemptFilter::default(), &all())
        .await
        .unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].created_at, t(50_000));
}
