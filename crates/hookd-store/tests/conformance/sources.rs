//! Ingest sources: CRUD, lookup by id or uid, uid conflicts, token rotation with a grace
//! period, paging.

use crate::fixtures::*;
use hookd_core::ids::SourceId;
use hookd_core::model::{IngestSource, PreviousToken};
use hookd_core::Timestamp;
use hookd_store::{PageRequest, Store, StoreError};

pub fn source(uid: Option<&str>, at: Timestamp) -> IngestSource {
    IngestSource {
        id: SourceId::generate_at(at),
        uid: uid.map(str::to_owned),
        name: "payments".into(),
        source_type: "github".into(),
        config: serde_json::json!({"secret": "gh-very-secret-value"}),
        metadata: [("team".to_owned(), "billing".to_owned())].into(),
        token: format!("tok{}", SourceId::generate_at(at).as_str()),
        previous_token: None,
        created_at: at,
        updated_at: at,
    }
}

pub async fn check_source_crud_and_lookup_by_id_or_uid(store: &dyn Store) {
    let mut src = source(Some("gh"), t(0));
    store.create_source(&src).await.unwrap();
    assert_eq!(store.get_source(src.id.as_str()).await.unwrap(), src);
    assert_eq!(store.get_source("gh").await.unwrap(), src);

    src.uid = None;
    src.name = "renamed".into();
    src.source_type = "stripe".into();
    src.config = serde_json::json!({"secret": "whsec_other"});
    src.metadata.clear();
    src.updated_at = t(5);
    store.update_source(&src).await.unwrap();
    assert_eq!(store.get_source(src.id.as_str()).await.unwrap(), src);
    assert!(matches!(
        store.get_source("gh").await,
        Err(StoreError::NotFound)
    ));

    store.delete_source(&src.id).await.unwrap();
    assert!(matches!(
        store.get_source(src.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_source(&src.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_source(&src).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn check_source_uid_is_unique_on_create_and_update(store: &dyn Store) {
    store
        .create_source(&source(Some("taken"), t(0)))
        .await
        .unwrap();
    assert!(matches!(
        store.create_source(&source(Some("taken"), t(1))).await,
        Err(StoreError::Conflict("uid"))
    ));
    let mut other = source(Some("free"), t(2));
    store.create_source(&other).await.unwrap();
    other.uid = Some("taken".into());
    assert!(matches!(
        store.update_source(&other).await,
        Err(StoreError::Conflict("uid"))
    ));
}

pub async fn check_source_token_rotation_keeps_the_previous_token_until_it_expires(
    store: &dyn Store,
) {
    let mut src = source(None, t(0));
    store.create_source(&src).await.unwrap();
    let old = src.token.clone();
    src.previous_token = Some(PreviousToken {
        token: old.clone(),
        expires_at: t(86_400_000),
    });
    src.token = "a-new-token".into();
    src.updated_at = t(10);
    store.update_source(&src).await.unwrap();
    let stored = store.get_source(src.id.as_str()).await.unwrap();
    assert_eq!(stored.token, "a-new-token");
    assert_eq!(stored.previous_token.as_ref().unwrap().token, old);
    assert_eq!(stored.previous_token.unwrap().expires_at, t(86_400_000));
}

pub async fn check_source_pages_walk_in_id_order(store: &dyn Store) {
    let sources: Vec<_> = (0..5).map(|i| source(None, t(i))).collect();
    for s in &sources {
        store.create_source(s).await.unwrap();
    }
    let first = store
        .list_sources(&PageRequest {
            limit: 3,
            after: None,
            descending: false,
        })
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.items, sources[..3]);
}
