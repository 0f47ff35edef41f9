//! Endpoints: CRUD scoped to their app, uid lookup and conflicts, paging.

use crate::fixtures::*;
use hookd_core::model::DisabledReason;
use hookd_core::signing::EndpointSecret;
use hookd_store::{Store, StoreError};

pub async fn check_endpoint_crud_is_scoped_to_its_app(store: &dyn Store) {
    let (app1, app2) = (app(Some("one")), app(Some("two")));
    store.create_app(&app1).await.unwrap();
    store.create_app(&app2).await.unwrap();

    let mut ep = endpoint(&app1.id, Some("main"));
    ep.channels = Some(strings(&["eu"]));
    ep.metadata.insert("k".into(), "v".into());
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    assert_eq!(store.get_endpoint(&app1.id, "main").await.unwrap(), ep);
    // Another app sees nothing, by id or by uid.
    assert!(matches!(
        store.get_endpoint(&app2.id, ep.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_endpoint(&app2.id, "main").await,
        Err(StoreError::NotFound)
    ));

    ep.url = "https://other.example.com/".into();
    ep.uid = None;
    ep.event_types = None;
    ep.secret = EndpointSecret::generate();
    ep.version = 2;
    ep.updated_at = t(7);
    store.update_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap(),
        ep
    );

    // The reason is kept while disabled, and only then.
    store
        .set_endpoint_disabled(&app1.id, &ep.id, Some(DisabledReason::Gone))
        .await
        .unwrap();
    let got = store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap();
    assert!(got.disabled);
    assert_eq!(got.disabled_reason, Some(DisabledReason::Gone));
    store
        .set_endpoint_disabled(&app1.id, &ep.id, None)
        .await
        .unwrap();
    let mut got = store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap();
    assert_eq!((got.disabled, got.disabled_reason), (false, None));
    got.set_disabled_by_user(true);
    store.update_endpoint(&got).await.unwrap();
    let mut got = store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap();
    assert_eq!(got.disabled_reason, Some(DisabledReason::Manual));
    got.disabled = false;
    store.update_endpoint(&got).await.unwrap();
    let got = store.get_endpoint(&app1.id, ep.id.as_str()).await.unwrap();
    assert_eq!(
        (got.disabled, got.disabled_reason),
        (false, None),
        "a reason without the flag"
    );
    store
        .set_endpoint_disabled(&app1.id, &ep.id, Some(DisabledReason::Manual))
        .await
        .unwrap();
    assert!(matches!(
        store.set_endpoint_disabled(&app2.id, &ep.id, None).await,
        Err(StoreError::NotFound)
    ));

    assert!(matches!(
        store.delete_endpoint(&app2.id, &ep.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_endpoint(&app1.id, &ep.id).await.unwrap();
    assert!(matches!(
        store.get_endpoint(&app1.id, ep.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_endpoint(&ep).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn check_endpoint_uid_is_unique_within_an_app_only(store: &dyn Store) {
    let (app1, app2) = (app(None), app(None));
    store.create_app(&app1).await.unwrap();
    store.create_app(&app2).await.unwrap();
    store
        .create_endpoint(&endpoint(&app1.id, Some("x")))
        .await
        .unwrap();
    store
        .create_endpoint(&endpoint(&app2.id, Some("x")))
        .await
        .unwrap();
    let err = store
        .create_endpoint(&endpoint(&app1.id, Some("x")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("uid")), "{err:?}");

    let mut other = endpoint(&app1.id, Some("y"));
    store.create_endpoint(&other).await.unwrap();
    other.uid = Some("x".into());
    let err = store.update_endpoint(&other).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("uid")), "{err:?}");
}

pub async fn check_endpoint_lists_page_and_fan_out_sees_all(store: &dyn Store) {
    let app1 = app(None);
    store.create_app(&app1).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut ep = endpoint_at(&app1.id, t(i), None);
        ep.disabled = i == 1;
        store.create_endpoint(&ep).await.unwrap();
        ids.push(ep.id);
    }
    let other = app(None);
    store.create_app(&other).await.unwrap();
    store
        .create_endpoint(&endpoint(&other.id, None))
        .await
        .unwrap();

    let first = store
        .list_endpoints(&app1.id, &desc(2, None))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.items[0].id, ids[2]);
    assert_eq!(first.items[1].id, ids[1]);
    let rest = store
        .list_endpoints(&app1.id, &desc(2, Some(ids[1].as_str())))
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, ids[0]);

    let fan_out = store.all_endpoints(&app1.id).await.unwrap();
    let fan_out_ids: Vec<_> = fan_out.into_iter().map(|e| e.id).collect();
    assert_eq!(
        fan_out_ids, ids,
        "every endpoint, disabled included, in id order"
    );
}
