//! Messages and attempts: atomic create with destinations, lookups, list filters.

use crate::fixtures::*;
use hookd_core::model::{Application, DeliveryStatus, Endpoint};
use hookd_core::Timestamp;
use hookd_store::{AttemptFilter, DeliveryOutcome, MessageFilter, Store, StoreError};

async fn app_with_endpoints(store: &dyn Store, n: usize) -> (Application, Vec<Endpoint>) {
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let mut eps = Vec::new();
    for i in 0..n {
        let ep = endpoint_at(&app.id, t(i as i64), None);
        store.create_endpoint(&ep).await.unwrap();
        eps.push(ep);
    }
    (app, eps)
}

pub async fn check_message_is_stored_with_its_destinations(store: &dyn Store) {
    let (app, eps) = app_with_endpoints(store, 2).await;
    let mut msg = message(&app.id, "invoice.paid");
    msg.event_id = Some("evt-1".into());
    msg.channels = Some(strings(&["eu", "vip"]));
    msg.tags = Some(strings(&["t1"]));
    let mut claimed = dest(&msg, &eps[1].id, t(30_000));
    claimed.lease_owner = Some("node-a".into());
    let dests = vec![dest(&msg, &eps[0].id, t(0)), claimed];
    store.create_message(&msg, &dests).await.unwrap();

    // The payload comes back byte for byte (whitespace and non-ASCII kept).
    assert_eq!(
        store.get_message(&app.id, msg.id.as_str()).await.unwrap(),
        msg
    );
    assert_eq!(store.get_message(&app.id, "evt-1").await.unwrap(), msg);
    let other = hookd_core::ids::AppId::generate();
    assert!(matches!(
        store.get_message(&other, msg.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.list_destinations(&app.id, &msg.id).await.unwrap(),
        dests
    );
    assert!(store
        .list_destinations(&other, &msg.id)
        .await
        .unwrap()
        .is_empty());
}

/// The `traceparent` kept with a message (API or ingest) comes back with it, with every
/// claim of its deliveries, and with none when there is none.
pub async fn check_trace_context_is_kept_with_the_message_and_its_claims(store: &dyn Store) {
    use hookd_core::model::IngestForward;
    use hookd_core::trace::TraceContext;
    let (app, eps) = app_with_endpoints(store, 1).await;
    let ctx =
        TraceContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let mut traced = message_at(&app.id, "a", t(1));
    traced.trace = ctx;
    let plain = message_at(&app.id, "b", t(2));
    let mut ingested = message_at(&app.id, "c", t(3));
    ingested.trace = ctx;
    store
        .create_message(&traced, &[dest(&traced, &eps[0].id, t(0))])
        .await
        .unwrap();
    store
        .create_message(&plain, &[dest(&plain, &eps[0].id, t(0))])
        .await
        .unwrap();
    let forward = IngestForward {
        source_id: String::new(),
        provider_event_id: None,
        content_type: None,
        headers: Vec::new(),
        base64: false,
    };
    store
        .create_ingest_message(
            &ingested,
            &[dest(&ingested, &eps[0].id, t(0))],
            &forward,
            None,
        )
        .await
        .unwrap();

    for (msg, want) in [(&traced, ctx), (&plain, None), (&ingested, ctx)] {
        let got = store.get_message(&app.id, msg.id.as_str()).await.unwrap();
        assert_eq!(got.trace, want);
    }
    let claims = store
        .claim_due(t(10), 10, t(1_000), "node-a", &[])
        .await
        .unwrap();
    assert_eq!(claims.len(), 3);
    for c in &claims {
        let want = if c.dest.msg_id == plain.id { None } else { ctx };
        assert_eq!(c.trace, want, "{}", c.dest.msg_id);
    }
}

pub async fn check_event_id_conflict_writes_nothing(store: &dyn Store) {
    let (app, eps) = app_with_endpoints(store, 1).await;
    let mut first = message(&app.id, "a");
    first.event_id = Some("dup".into());
    store.create_message(&first, &[]).await.unwrap();

    let mut second = message(&app.id, "a");
    second.event_id = Some("dup".into());
    let dests = [dest(&second, &eps[0].id, t(0))];
    let err = store.create_message(&second, &dests).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("eventId")), "{err:?}");
    assert!(matches!(
        store.get_message(&app.id, second.id.as_str()).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .list_destinations(&app.id, &second.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), None);

    // The same event id in another app is fine.
    let (app2, _) = app_with_endpoints(store, 0).await;
    let mut third = message(&app2.id, "a");
    third.event_id = Some("dup".into());
    store.create_message(&third, &[]).await.unwrap();
}

pub async fn check_message_list_filters(store: &dyn Store) {
    let (app, _) = app_with_endpoints(store, 0).await;
    let specs: [(&str, Option<&[&str]>, i64); 4] = [
        ("a", Some(&["eu"]), 10),
        ("b", Some(&["us", "eu"]), 20),
        ("a", None, 30),
        ("c", Some(&["us"]), 40),
    ];
    let mut msgs = Vec::new();
    for (ty, channels, at) in specs {
        let mut m = message_at(&app.id, ty, t(at));
        m.channels = channels.map(strings);
        store.create_message(&m, &[]).await.unwrap();
        msgs.push(m);
    }
    let app_id = &app.id;
    let ids = |filter: MessageFilter| async move {
        let page = store.list_messages(app_id, &filter, &all()).await.unwrap();
        page.items.into_iter().map(|m| m.id).collect::<Vec<_>>()
    };
    let pick = |idx: &[usize]| idx.iter().map(|&i| msgs[i].id.clone()).collect::<Vec<_>>();

    assert_eq!(ids(MessageFilter::default()).await, pick(&[0, 1, 2, 3]));
    let types = MessageFilter {
        event_types: strings(&["a", "c"]),
        ..Default::default()
    };
    assert_eq!(ids(types).await, pick(&[0, 2, 3]));
    let eu = MessageFilter {
        channel: Some("eu".into()),
        ..Default::default()
    };
    assert_eq!(ids(eu).await, pick(&[0, 1]));
    let window = MessageFilter {
        after: Some(t(10)),
        before: Some(t(40)),
        ..Default::default()
    };
    assert_eq!(ids(window).await, pick(&[1, 2]));
    let combined = MessageFilter {
        event_types: strings(&["b", "c"]),
        channel: Some("us".into()),
        after: Some(t(20)),
        ..Default::default()
    };
    assert_eq!(ids(combined).await, pick(&[3]));

    let (no_filter, newest_two) = (MessageFilter::default(), desc(2, None));
    let bare = store
        .list_messages(&app.id, &no_filter, &newest_two)
        .await
        .unwrap();
    assert!(bare.has_more);
    assert!(bare.items.iter().all(|m| m.payload.is_none()));
    assert_eq!(bare.items[0].id, msgs[3].id);
    assert_eq!(bare.items[0].channels, msgs[3].channels);
    let full = MessageFilter {
        with_content: true,
        ..Default::default()
    };
    let full = store
        .list_messages(&app.id, &full, &desc(2, None))
        .await
        .unwrap();
    assert_eq!(full.items[0], msgs[3]);
}

pub async fn check_attempt_list_filters(store: &dyn Store) {
    let (app, eps) = app_with_endpoints(store, 2).await;
    let mut m_a = message_at(&app.id, "a", t(0));
    m_a.channels = Some(strings(&["eu"]));
    let m_b = message_at(&app.id, "b", t(1));
    let mut attempts = Vec::new();
    // (message, endpoint, status, code, time)
    let plan = [
        (&m_a, 0, DeliveryStatus::Fail, 500, 100),
        (&m_a, 0, DeliveryStatus::Success, 200, 200),
        (&m_a, 1, DeliveryStatus::Success, 204, 300),
        (&m_b, 0, DeliveryStatus::Fail, 0, 400),
    ];
    for m in [&m_a, &m_b] {
        let dests: Vec<_> = eps.iter().map(|e| dest(m, &e.id, t(0))).collect();
        store.create_message(m, &dests).await.unwrap();
    }
    for (m, ep, status, code, at) in plan {
        let a = attempt(&dest(m, &eps[ep].id, t(0)), status, code, t(at));
        store.record_outcome(&outcome(&a)).await.unwrap();
        attempts.push(a);
    }
    let app_id = &app.id;
    let ids = |f: AttemptFilter| async move {
        let page = store.list_attempts(app_id, &f, &all()).await.unwrap();
        page.items.into_iter().map(|a| a.id).collect::<Vec<_>>()
    };
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&i| attempts[i].id.clone())
            .collect::<Vec<_>>()
    };

    assert_eq!(ids(AttemptFilter::default()).await, pick(&[0, 1, 2, 3]));
    let by_msg = AttemptFilter {
        msg_id: Some(m_a.id.clone()),
        ..Default::default()
    };
    assert_eq!(ids(by_msg).await, pick(&[0, 1, 2]));
    let by_ep = AttemptFilter {
        endpoint_id: Some(eps[1].id.clone()),
        ..Default::default()
    };
    assert_eq!(ids(by_ep).await, pick(&[2]));
    let failed = AttemptFilter {
        status: Some(DeliveryStatus::Fail),
        ..Default::default()
    };
    assert_eq!(ids(failed).await, pick(&[0, 3]));
    let ok_codes = AttemptFilter {
        status_code_range: Some((200, 299)),
        ..Default::default()
    };
    assert_eq!(ids(ok_codes).await, pick(&[1, 2]));
    let no_response = AttemptFilter {
        status_code_range: Some((0, 99)),
        ..Default::default()
    };
    assert_eq!(ids(no_response).await, pick(&[3]));
    let type_b = AttemptFilter {
        event_types: strings(&["b"]),
        ..Default::default()
    };
    assert_eq!(ids(type_b).await, pick(&[3]));
    let eu = AttemptFilter {
        channel: Some("eu".into()),
        ..Default::default()
    };
    assert_eq!(ids(eu).await, pick(&[0, 1, 2]));
    let window = AttemptFilter {
        after: Some(t(100)),
        before: Some(t(400)),
        ..Default::default()
    };
    assert_eq!(ids(window).await, pick(&[1, 2]));

    let (no_filter, newest) = (AttemptFilter::default(), desc(1, None));
    let page = store
        .list_attempts(&app.id, &no_filter, &newest)
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(page.items, vec![attempts[3].clone()]);

    let got = store
        .get_attempt(&app.id, &m_a.id, &attempts[0].id)
        .await
        .unwrap();
    assert_eq!(got, attempts[0]);
    let wrong_msg = store.get_attempt(&app.id, &m_b.id, &attempts[0].id).await;
    assert!(matches!(wrong_msg, Err(StoreError::NotFound)));
}

/// A final outcome carrying `a`.
pub fn outcome(a: &hookd_core::model::Attempt) -> DeliveryOutcome {
    DeliveryOutcome {
        msg_id: a.msg_id.clone(),
        endpoint_id: a.endpoint_id.clone(),
        app_id: a.app_id.clone(),
        attempt: Some(a.clone()),
        status: a.status,
        attempt_count: 1,
        next_attempt_at: None::<Timestamp>,
    }
}

pub async fn check_concurrent_messages_keep_their_own_outcome(store: &dyn Store) {
    let (app, eps) = app_with_endpoints(store, 1).await;
    // Twelve messages at once (written together where the backend batches them); three
    // share an event id, so exactly one of those may be written.
    let msgs: Vec<_> = (0..12)
        .map(|i| {
            let mut m = message(&app.id, "a");
            m.event_id = Some(if i % 4 == 0 {
                "same".into()
            } else {
                format!("ev-{i}")
            });
            m
        })
        .collect();
    let ep = &eps[0].id;
    let writes = msgs.iter().map(|m| async move {
        let dests = [dest(m, ep, t(0))];
        (m, store.create_message(m, &dests).await)
    });
    let results = futures_join_all(writes).await;
    let mut conflicts = 0;
    for (m, result) in &results {
        let dests = store.list_destinations(&app.id, &m.id).await.unwrap();
        match result {
            Ok(()) => assert_eq!(dests.len(), 1, "a written message has its destination"),
            Err(StoreError::Conflict("eventId")) => {
                conflicts += 1;
                assert!(dests.is_empty(), "a refused message left a destination");
                assert_eq!(m.event_id.as_deref(), Some("same"));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(conflicts, 2);
}

/// Polls every future concurrently and returns their outputs in order.
pub async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
