//! Events received through ingest sources: de-duplication by the provider's event id,
//! and the forward metadata that comes back with every claim of their deliveries.

use crate::fixtures::*;
use crate::messages::{futures_join_all, outcome};
use crate::sources::source;
use hookd_core::ids::{MsgId, SourceId};
use hookd_core::model::{
    Application, DeliveryStatus, Endpoint, IngestForward, IngestSource, Message,
};
use hookd_core::Timestamp;
use hookd_store::{Forward, IngestDedup, IngestWrite, MessageFilter, Store, StoreError};
use std::sync::Arc;

/// What the ingest gateway would write as `forward`.
fn forward() -> IngestForward {
    IngestForward {
        source_id: "src_1".into(),
        provider_event_id: Some("delivery-1".into()),
        content_type: Some("application/json".into()),
        headers: vec![("x-github-event".into(), "push".into())],
        base64: false,
    }
}

/// How `forward()` reads back.
fn kept() -> Option<Forward> {
    Some(Forward::Meta(Arc::new(forward())))
}

/// A source, its internal app and one endpoint of it.
async fn ingest_app(store: &dyn Store) -> (IngestSource, Application, Endpoint) {
    let src = source(None, t(0));
    store.create_source(&src).await.unwrap();
    let mut app = app(None);
    app.uid = Some(format!("hookd-ingest-{}", src.id));
    store.create_app(&app).await.unwrap();
    let ep = endpoint(&app.id, None);
    store.create_endpoint(&ep).await.unwrap();
    (src, app, ep)
}

/// An event received at `at`, with a raw body kept byte for byte.
fn event(app: &Application, at: Timestamp) -> Message {
    let mut msg = message_at(&app.id, "github.push", at);
    msg.payload = Some(Arc::from("{\"ref\" : \"main\",\n  \"ok\":true }\r\n"));
    msg
}

fn key(src: &SourceId, event_id: &str, expires_at: Timestamp) -> IngestDedup {
    IngestDedup {
        source_id: src.clone(),
        event_id: event_id.to_owned(),
        expires_at,
    }
}

/// Writes an event received at `at` to `ep`, with a dedup entry kept for 100 ms.
async fn receive(
    store: &dyn Store,
    src: &IngestSource,
    app: &Application,
    ep: &Endpoint,
    event_id: &str,
    at: i64,
) -> (Message, IngestWrite) {
    let msg = event(app, t(at));
    let entry = key(&src.id, event_id, t(at + 100));
    let written = store
        .create_ingest_message(&msg, &[dest(&msg, &ep.id, t(at))], &forward(), Some(&entry))
        .await
        .unwrap();
    (msg, written)
}

/// Whether the message exists, with its destination.
async fn stored(store: &dyn Store, msg: &Message) -> bool {
    let dests = store.list_destinations(&msg.app_id, &msg.id).await.unwrap();
    match store.get_message(&msg.app_id, msg.id.as_str()).await {
        Ok(found) => {
            assert_eq!(&found, msg, "the event is stored exactly as given");
            assert_eq!(dests.len(), 1, "a stored event has its destination");
            true
        }
        Err(StoreError::NotFound) => {
            assert!(dests.is_empty(), "a refused event left a destination");
            false
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

pub async fn check_ingest_duplicate_within_the_window_returns_the_first_message(store: &dyn Store) {
    let (src, app, ep) = ingest_app(store).await;
    let (first, written) = receive(store, &src, &app, &ep, "delivery-1", 0).await;
    assert_eq!(written, IngestWrite::Created);
    assert!(stored(store, &first).await);
    assert_eq!(store.get_message_forward(&first.id).await.unwrap(), kept());

    // Retries until just before the entry expires (at t(100)) are duplicates.
    for at in [10, 99] {
        let (retry, written) = receive(store, &src, &app, &ep, "delivery-1", at).await;
        assert_eq!(written, IngestWrite::Duplicate(first.id.clone()));
        assert!(!stored(store, &retry).await, "a duplicate writes nothing");
        assert_eq!(store.get_message_forward(&retry.id).await.unwrap(), None);
    }
    let listed = store
        .list_messages(&app.id, &MessageFilter::default(), &all())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let claims = store
        .claim_due(t(1_000), 10, t(2_000), "n", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].dest.msg_id, first.id);
}

pub async fn check_ingest_dedup_entry_expires_and_is_replaced(store: &dyn Store) {
    let (src, app, ep) = ingest_app(store).await;
    let (first, _) = receive(store, &src, &app, &ep, "delivery-1", 0).await;
    // The entry expires at t(100): an event received then is new, and takes the entry.
    let (second, written) = receive(store, &src, &app, &ep, "delivery-1", 100).await;
    assert_eq!(written, IngestWrite::Created);
    assert!(stored(store, &second).await);
    let (_, written) = receive(store, &src, &app, &ep, "delivery-1", 150).await;
    assert_eq!(written, IngestWrite::Duplicate(second.id.clone()));
    assert!(stored(store, &first).await, "the first event stays");
}

pub async fn check_ingest_dedup_is_per_source_and_optional(store: &dyn Store) {
    let (src, app, ep) = ingest_app(store).await;
    let other = source(None, t(1));
    store.create_source(&other).await.unwrap();
    let (a, written_a) = receive(store, &src, &app, &ep, "shared-id", 0).await;
    let (b, written_b) = receive(store, &other, &app, &ep, "shared-id", 1).await;
    assert_eq!(
        (written_a, written_b),
        (IngestWrite::Created, IngestWrite::Created)
    );
    assert!(stored(store, &a).await && stored(store, &b).await);

    // Without a provider event id, every event is new.
    for at in [2, 3] {
        let msg = event(&app, t(at));
        let written = store
            .create_ingest_message(&msg, &[dest(&msg, &ep.id, t(at))], &forward(), None)
            .await
            .unwrap();
        assert_eq!(written, IngestWrite::Created);
        assert!(stored(store, &msg).await);
    }
}

pub async fn check_concurrent_retries_of_one_event_store_it_once(store: &dyn Store) {
    let (src, app, ep) = ingest_app(store).await;
    // At once (written together where the backend batches them): twelve retries of one
    // event, eight other events, and eight messages of the API.
    let msgs: Vec<_> = (0..28).map(|i| event(&app, t(i))).collect();
    let keys: Vec<_> = (0..28)
        .map(|i| match i {
            0..12 => Some(key(&src.id, "burst", t(10_000))),
            12..20 => Some(key(&src.id, &format!("single-{i}"), t(10_000))),
            _ => None,
        })
        .collect();
    let writes = msgs.iter().zip(&keys).map(|(m, entry)| {
        let dests = [dest(m, &ep.id, t(0))];
        async move {
            match entry {
                Some(entry) => store
                    .create_ingest_message(m, &dests, &forward(), Some(entry))
                    .await
                    .unwrap(),
                None => {
                    store.create_message(m, &dests).await.unwrap();
                    IngestWrite::Created
                }
            }
        }
    });
    let results = futures_join_all(writes).await;
    let created: Vec<&MsgId> = msgs[..12]
        .iter()
        .zip(&results)
        .filter(|(_, r)| **r == IngestWrite::Created)
        .map(|(m, _)| &m.id)
        .collect();
    assert_eq!(created.len(), 1, "{results:?}");
    let winner = created[0].clone();
    for r in &results[..12] {
        assert!(
            *r == IngestWrite::Created || *r == IngestWrite::Duplicate(winner.clone()),
            "{r:?}"
        );
    }
    assert!(results[12..].iter().all(|r| *r == IngestWrite::Created));
    let mut claimed: Vec<MsgId> = store
        .claim_due(t(0), 100, t(10), "n", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.dest.msg_id)
        .collect();
    claimed.sort();
    let mut expected: Vec<MsgId> = msgs[12..].iter().map(|m| m.id.clone()).collect();
    expected.push(winner);
    expected.sort();
    assert_eq!(claimed, expected);
}

pub async fn check_ingest_event_id_conflict_writes_nothing_and_frees_the_entry(store: &dyn Store) {
    let (src, app, ep) = ingest_app(store).await;
    let mut taken = message_at(&app.id, "invoice.paid", t(0));
    taken.event_id = Some("evt-1".into());
    store.create_message(&taken, &[]).await.unwrap();
    let mut msg = event(&app, t(1));
    msg.event_id = Some("evt-1".into());
    let entry = key(&src.id, "delivery-1", t(1_000));
    let refused = store
        .create_ingest_message(&msg, &[dest(&msg, &ep.id, t(0))], &forward(), Some(&entry))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict("eventId"))),
        "{refused:?}"
    );
    assert!(!stored(store, &msg).await);
    // The refused event took no entry: its retry is new.
    let (retry, written) = receive(store, &src, &app, &ep, "delivery-1", 2).await;
    assert_eq!(written, IngestWrite::Created);
    assert!(stored(store, &retry).await);
}

pub async fn check_ingest_forward_comes_back_with_every_claim(store: &dyn Store) {
    let (src, app, plain) = ingest_app(store).await;
    let mut paced = endpoint_at(&app.id, t(1), None);
    paced.rate_limit = Some(10);
    store.create_endpoint(&paced).await.unwrap();
    let ingested = event(&app, t(0));
    let dests = [
        dest(&ingested, &plain.id, t(0)),
        dest(&ingested, &paced.id, t(0)),
    ];
    let entry = key(&src.id, "delivery-1", t(1_000));
    store
        .create_ingest_message(&ingested, &dests, &forward(), Some(&entry))
        .await
        .unwrap();
    let normal = message_at(&app.id, "invoice.paid", t(1));
    store
        .create_message(&normal, &[dest(&normal, &plain.id, t(0))])
        .await
        .unwrap();

    let mut claims = store.claim_due(t(10), 10, t(20), "n", &[]).await.unwrap();
    claims.sort_by(|a, b| a.dest.msg_id.cmp(&b.dest.msg_id));
    assert_eq!(
        claims.len(),
        2,
        "the paced destination is left to its owner"
    );
    assert_eq!(claims[0].dest.msg_id, ingested.id);
    assert_eq!(claims[0].forward, kept());
    assert_eq!(
        claims[0].payload, ingested.payload,
        "the raw body, byte for byte"
    );
    assert_eq!(claims[1].dest.msg_id, normal.id);
    assert_eq!(claims[1].forward, None);

    store
        .acquire_flow_endpoints("n", t(10), t(1_000), 10)
        .await
        .unwrap();
    let flow = store
        .claim_flow(&paced.id, false, t(10), 10, t(20), "n")
        .await
        .unwrap();
    assert_eq!(flow.len(), 1);
    assert_eq!(flow[0].forward, kept());
    assert_eq!(flow[0].payload, ingested.payload);

    // A resend after the delivery failed carries it too.
    let failed = attempt(&claims[0].dest, DeliveryStatus::Fail, 500, t(15));
    let delivered = attempt(&claims[1].dest, DeliveryStatus::Success, 200, t(15));
    store
        .record_outcomes(&[outcome(&failed), outcome(&delivered)])
        .await
        .unwrap();
    let mut again = dest(&ingested, &plain.id, t(30));
    again.trigger = hookd_core::model::TriggerType::Manual;
    store.requeue(&again).await.unwrap();
    let resent = store.claim_due(t(30), 10, t(40), "n", &[]).await.unwrap();
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].forward, kept());

    assert_eq!(
        store.get_message_forward(&ingested.id).await.unwrap(),
        kept()
    );
    assert_eq!(store.get_message_forward(&normal.id).await.unwrap(), None);
    let unknown = MsgId::generate_at(t(5));
    assert_eq!(store.get_message_forward(&unknown).await.unwrap(), None);
}
