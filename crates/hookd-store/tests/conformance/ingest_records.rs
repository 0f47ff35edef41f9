//! What ingest sources keep besides events: the rejection log (paged, ordered, purged by
//! age), the de-duplication entries' purge, the lookup by receive token, and the cascade
//! when a source is deleted.

use crate::fixtures::*;
use crate::sources::source;
use hookd_core::ids::{RejectionId, SourceId};
use hookd_core::model::{IngestRejection, PreviousToken};
use hookd_core::Timestamp;
use hookd_store::{IngestDedup, IngestWrite, Store, StoreError};

fn rejection(src: &SourceId, at: Timestamp) -> IngestRejection {
    IngestRejection {
        id: RejectionId::generate_at(at),
        source_id: src.clone(),
        code: "bad_signature".into(),
        detail: "no signature matched".into(),
        headers: vec![
            ("x-hub-signature-256".into(), "sha256=00ff".into()),
            ("content-type".into(), "application/json".into()),
            ("x-github-event".into(), "push".into()),
        ],
        // Not UTF-8, and with a NUL: the body is kept as bytes.
        body: vec![b'{', 0xff, 0x00, 0xfe, b'}'],
        body_size: 1_048_577,
        received_at: at,
    }
}

/// Writes an ingest message for `src` with no destination, keyed `event_id` until
/// `expires_at`.
async fn remember(
    store: &dyn Store,
    src: &SourceId,
    event_id: &str,
    at: i64,
    expires_at: i64,
) -> IngestWrite {
    let msg = message_at(&hookd_core::ids::AppId::generate_at(t(0)), "e", t(at));
    let entry = IngestDedup {
        source_id: src.clone(),
        event_id: event_id.to_owned(),
        expires_at: t(expires_at),
    };
    store
        .create_ingest_message(
            &msg,
            &[],
            &hookd_core::model::IngestForward::default(),
            Some(&entry),
        )
        .await
        .unwrap()
}

fn ids(items: &[IngestRejection]) -> Vec<RejectionId> {
    items.iter().map(|r| r.id.clone()).collect()
}

pub async fn check_rejections_are_listed_per_source_newest_first_and_paged(store: &dyn Store) {
    let (src, other) = (SourceId::generate_at(t(0)), SourceId::generate_at(t(1)));
    let mine: Vec<_> = (0..5).map(|i| rejection(&src, t(i * 10))).collect();
    for r in &mine {
        store.record_ingest_rejection(r).await.unwrap();
    }
    store
        .record_ingest_rejection(&rejection(&other, t(25)))
        .await
        .unwrap();

    let newest = store
        .list_ingest_rejections(&src, &desc(2, None))
        .await
        .unwrap();
    assert_eq!(newest.items, vec![mine[4].clone(), mine[3].clone()]);
    assert!(newest.has_more);
    let cursor = mine[3].id.to_string();
    let next = store
        .list_ingest_rejections(&src, &desc(2, Some(&cursor)))
        .await
        .unwrap();
    assert_eq!(ids(&next.items), ids(&[mine[2].clone(), mine[1].clone()]));
    assert!(next.has_more);
    let cursor = mine[1].id.to_string();
    let last = store
        .list_ingest_rejections(&src, &desc(2, Some(&cursor)))
        .await
        .unwrap();
    assert_eq!(ids(&last.items), ids(&mine[..1]));
    assert!(!last.has_more);

    let oldest = store
        .list_ingest_rejections(&src, &asc(10, None))
        .await
        .unwrap();
    assert_eq!(oldest.items, mine);
    assert!(!oldest.has_more);
    let theirs = store.list_ingest_rejections(&other, &all()).await.unwrap();
    assert_eq!(theirs.items.len(), 1);
    let nobody = SourceId::generate_at(t(2));
    assert!(store
        .list_ingest_rejections(&nobody, &all())
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn check_ingest_records_are_purged_by_age_in_batches(store: &dyn Store) {
    let src = SourceId::generate_at(t(0));
    for (i, expires_at) in [10, 20, 1_000].into_iter().enumerate() {
        let written = remember(store, &src, &format!("e{i}"), 0, expires_at).await;
        assert_eq!(written, IngestWrite::Created);
    }
    let rejected: Vec<_> = [0, 5, 500].map(|at| rejection(&src, t(at))).to_vec();
    for r in &rejected {
        store.record_ingest_rejection(r).await.unwrap();
    }
    // At t(20): two entries have expired; rejections before t(100) go: two of them.
    let (now, before) = (t(20), t(100));
    assert_eq!(store.purge_ingest_records(now, before, 1).await.unwrap(), 2);
    assert_eq!(store.purge_ingest_records(now, before, 1).await.unwrap(), 2);
    assert_eq!(store.purge_ingest_records(now, before, 1).await.unwrap(), 0);

    let left = store.list_ingest_rejections(&src, &all()).await.unwrap();
    assert_eq!(left.items, rejected[2..]);
    assert!(matches!(
        remember(store, &src, "e2", 30, 2_000).await,
        IngestWrite::Duplicate(_)
    ));
    assert_eq!(
        store
            .purge_ingest_records(t(1_000), t(1_000), 10)
            .await
            .unwrap(),
        2
    );
}

pub async fn check_source_by_token_accepts_the_current_and_an_unexpired_previous_token(
    store: &dyn Store,
) {
    let mut src = source(Some("gh"), t(0));
    store.create_source(&src).await.unwrap();
    store.create_source(&source(None, t(1))).await.unwrap();
    assert_eq!(
        store.get_source_by_token(&src.token, t(0)).await.unwrap(),
        src
    );

    let old = std::mem::replace(&mut src.token, "rotated-token".into());
    src.previous_token = Some(PreviousToken {
        token: old.clone(),
        expires_at: t(1_000),
    });
    store.update_source(&src).await.unwrap();
    for (token, at) in [("rotated-token", 5_000), (old.as_str(), 999)] {
        assert_eq!(
            store.get_source_by_token(token, t(at)).await.unwrap(),
            src,
            "{token} at {at}"
        );
    }
    for (token, at) in [(old.as_str(), 1_000), ("no-such-token", 0), ("gh", 0)] {
        assert!(
            matches!(
                store.get_source_by_token(token, t(at)).await,
                Err(StoreError::NotFound)
            ),
            "{token} at {at}"
        );
    }
}

pub async fn check_delete_source_removes_its_rejections_and_dedup_entries(store: &dyn Store) {
    let (gone, kept) = (source(None, t(0)), source(None, t(1)));
    for s in [&gone, &kept] {
        store.create_source(s).await.unwrap();
        store
            .record_ingest_rejection(&rejection(&s.id, t(2)))
            .await
            .unwrap();
        assert_eq!(
            remember(store, &s.id, "evt", 0, 1_000).await,
            IngestWrite::Created
        );
    }
    store.delete_source(&gone.id).await.unwrap();

    let listed = store.list_ingest_rejections(&gone.id, &all()).await;
    assert!(listed.unwrap().items.is_empty());
    assert_eq!(
        store
            .list_ingest_rejections(&kept.id, &all())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(matches!(
        remember(store, &kept.id, "evt", 10, 1_000).await,
        IngestWrite::Duplicate(_)
    ));
    // The deleted source's entry went with it: the same event id is new again.
    assert_eq!(
        remember(store, &gone.id, "evt", 10, 1_000).await,
        IngestWrite::Created
    );
    // Left to purge: the kept source's entry and rejection, and the entry just written.
    assert_eq!(
        store
            .purge_ingest_records(t(1_000), t(1_000), 10)
            .await
            .unwrap(),
        3
    );
    assert!(matches!(
        store.delete_source(&gone.id).await,
        Err(StoreError::NotFound)
    ));
}
