//! Applications and event types: CRUD, uid lookup, conflicts, paging.

use crate::fixtures::*;
use hookd_store::{Store, StoreError};

pub async fn check_app_crud_and_lookup_by_id_or_uid(store: &dyn Store) {
    let mut app = app(Some("acme"));
    store.create_app(&app).await.unwrap();
    assert_eq!(store.get_app(app.id.as_str()).await.unwrap(), app);
    assert_eq!(store.get_app("acme").await.unwrap(), app);

    app.uid = Some("acme-2".into());
    app.name = "renamed".into();
    app.rate_limit = None;
    app.metadata.clear();
    app.updated_at = t(5);
    store.update_app(&app).await.unwrap();
    assert_eq!(store.get_app("acme-2").await.unwrap(), app);
    assert!(matches!(
        store.get_app("acme").await,
        Err(StoreError::NotFound)
    ));

    store.delete_app(&app.id).await.unwrap();
    assert!(matches!(
        store.get_app(app.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_app(&app.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_app(&app).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn check_app_uid_is_unique_on_create_and_update(store: &dyn Store) {
    store.create_app(&app(Some("taken"))).await.unwrap();
    let err = store.create_app(&app(Some("taken"))).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("uid")), "{err:?}");

    let mut other = app(Some("free"));
    store.create_app(&other).await.unwrap();
    other.uid = Some("taken".into());
    let err = store.update_app(&other).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("uid")), "{err:?}");
    assert_eq!(store.get_app("free").await.unwrap().id, other.id);

    // Apps without a uid never conflict with each other.
    store.create_app(&app(None)).await.unwrap();
    store.create_app(&app(None)).await.unwrap();
}

pub async fn check_app_pages_walk_both_directions_with_cursors(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let app = app_at(t(i * 10), None);
        store.create_app(&app).await.unwrap();
        ids.push(app.id.to_string());
    }
    let walk = |descending: bool| async move {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let req = if descending {
                desc(2, cursor.as_deref())
            } else {
                asc(2, cursor.as_deref())
            };
            let page = store.list_apps(&req).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 2);
            seen.extend(page.items.iter().map(|a| a.id.to_string()));
            cursor = seen.last().cloned();
            if !page.has_more {
                break;
            }
        }
        (seen, pages)
    };
    let (forward, pages) = walk(false).await;
    assert_eq!(forward, ids);
    assert_eq!(pages, 3);
    let (backward, _) = walk(true).await;
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(backward, reversed);

    let exact = store.list_apps(&asc(5, None)).await.unwrap();
    assert_eq!(exact.items.len(), 5);
    assert!(!exact.has_more);
    let after_last = store.list_apps(&asc(5, Some(&ids[4]))).await.unwrap();
    assert!(after_last.items.is_empty() && !after_last.has_more);
}

pub async fn check_event_type_crud_conflict_and_archived_hiding(store: &dyn Store) {
    for name in ["a.created", "b.archived", "c.deleted", "d.updated"] {
        let mut et = event_type(name);
        et.archived = name == "b.archived";
        store.create_event_type(&et).await.unwrap();
    }
    let err = store
        .create_event_type(&event_type("a.created"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("name")), "{err:?}");

    let names = |p: hookd_store::Page<hookd_core::model::EventType>| {
        p.items.into_iter().map(|e| e.name).collect::<Vec<_>>()
    };
    let visible = store.list_event_types(&all(), false).await.unwrap();
    assert_eq!(names(visible), ["a.created", "c.deleted", "d.updated"]);
    let everything = store.list_event_types(&all(), true).await.unwrap();
    assert_eq!(everything.items.len(), 4);

    let page = store
        .list_event_types(&desc(2, Some("d.updated")), true)
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(names(page), ["c.deleted", "b.archived"]);

    let mut et = store.get_event_type("d.updated").await.unwrap();
    assert_eq!(et, event_type("d.updated"));
    et.description = "new".into();
    et.deprecated = true;
    et.schemas = None;
    et.feature_flag = Some("beta".into());
    et.updated_at = t(9);
    store.update_event_type(&et).await.unwrap();
    assert_eq!(store.get_event_type("d.updated").await.unwrap(), et);

    store.delete_event_type("c.deleted").await.unwrap();
    assert!(matches!(
        store.get_event_type("c.deleted").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_event_type("c.deleted").await,
        Err(StoreError::NotFound)
    ));
    let missing = event_type("never.created");
    assert!(matches!(
        store.update_event_type(&missing).await,
        Err(StoreError::NotFound)
    ));
}
