//! The delivery engine end to end: a real engine, a real HTTP receiver on 127.0.0.1 and
//! a real SQLite store. Tests await requests and store commits; none sleeps to synchronise.

#[path = "engine/proxy.rs"]
mod proxy;
#[path = "engine/sqlite.rs"]
mod sqlite;
mod support;

use hookd_core::model::DeliveryStatus;
use hookd_core::signing::verify;
use hookd_core::Timestamp;
use hookd_delivery::EngineConfig;
use hookd_testkit::receiver::Answer;
use std::time::Duration;
use support::harness::{config, Harness, PAYLOAD};

fn header<'a>(r: &'a hookd_testkit::receiver::Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn delivers_the_payload_signed_with_standard_and_svix_headers() {
    let h = Harness::start(EngineConfig {
        svix_headers: true,
        ..config(true, &[])
    })
    .await;
    let ep = h.endpoint(h.receiver.url("/hook")).await;
    let msg = h.send(&ep).await;

    let got = h.receiver.next().await;
    assert_eq!(got.body, PAYLOAD.as_bytes());
    assert_eq!(header(&got, "webhook-id"), msg.as_str());
    assert_eq!(header(&got, "content-type"), "application/json");
    assert_eq!(header(&got, "x-tenant"), "acme");
    assert!(header(&got, "user-agent").starts_with("hookd/"));
    let ts: i64 = header(&got, "webhook-timestamp").parse().unwrap();
    let sig = header(&got, "webhook-signature");
    let now = Timestamp::now().as_secs();
    verify(
        &[ep.secret.verifying_key()],
        msg.as_str(),
        &ts.to_string(),
        &got.body,
        sig,
        now,
        60,
    )
    .unwrap();
    assert_eq!(header(&got, "svix-signature"), sig);
    assert_eq!(header(&got, "svix-id"), msg.as_str());

    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Success);
    assert_eq!(dest.attempt_count, 1);
    let attempts = h.store.attempts(&msg, &ep.id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_status_code, 200);
    assert_eq!(attempts[0].response, "ok");
    assert_eq!(attempts[0].url, ep.url);
}

#[tokio::test]
async fn a_failure_is_retried_on_schedule_until_it_succeeds() {
    let h = Harness::start(config(true, &[50, 50])).await;
    let ep = h.endpoint(h.receiver.url("/flaky")).await;
    h.receiver.respond_once("/flaky", Answer::status(500));
    let msg = h.send_via_poller(&ep).await;

    let first = h.receiver.next().await;
    let second = h.receiver.next().await;
    assert_eq!(header(&first, "webhook-id"), header(&second, "webhook-id"));
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Success);
    assert_eq!(dest.attempt_count, 2);
    let attempts = h.store.attempts(&msg, &ep.id).await;
    let codes: Vec<_> = attempts.iter().map(|a| a.response_status_code).collect();
    assert_eq!(codes, [500, 200]);
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [DeliveryStatus::Fail, DeliveryStatus::Success]);
}

#[tokio::test]
async fn retry_after_replaces_the_scheduled_delay() {
    let h = Harness::start(config(true, &[50])).await;
    let ep = h.endpoint(h.receiver.url("/busy")).await;
    h.receiver
        .respond_once("/busy", Answer::status(429).header("retry-after", "1"));
    let msg = h.send(&ep).await;

    let first = h.receiver.next().await;
    let second = h.receiver.next().await;
    let gap = second.arrived_at - first.arrived_at;
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Success);
    // The 429 was a failed attempt followed by a retry, not the end of the delivery.
    let attempts = h.store.attempts(&msg, &ep.id).await;
    let codes: Vec<u16> = attempts.iter().map(|a| a.response_status_code).collect();
    assert_eq!(codes, [429, 200]);
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_stops_retrying() {
    let h = Harness::start(config(true, &[50, 50])).await;
    let ep = h.endpoint(h.receiver.url("/gone")).await;
    h.receiver.set_default("/gone", Answer::status(410));
    let msg = h.send(&ep).await;

    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Fail);
    assert_eq!(h.store.attempts(&msg, &ep.id).await.len(), 1);
    assert!(h.store.endpoint(&ep.id).await.disabled);

    // The next message is settled without a request: the cache was invalidated.
    let next = h.send(&ep).await;
    let dest = h.store.settled(&next, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Fail);
    assert!(h.store.attempts(&next, &ep.id).await.is_empty());
    let _first = h.receiver.next().await;
    assert!(h.receiver.try_next().is_none());
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let h = Harness::start(config(true, &[])).await;
    let ep = h.endpoint(h.receiver.url("/moved")).await;
    let target = h.receiver.url("/elsewhere");
    h.receiver
        .set_default("/moved", Answer::status(302).header("location", target));
    let msg = h.send(&ep).await;

    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Fail);
    let attempts = h.store.attempts(&msg, &ep.id).await;
    assert_eq!(attempts[0].response_status_code, 302);
    assert_eq!(h.receiver.next().await.path, "/moved");
    assert!(h.receiver.try_next().is_none(), "redirect was followed");
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list() {
    let h = Harness::start(config(false, &[])).await;
    let port = h.receiver.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://localhost:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
    ] {
        let ep = h.endpoint(url.clone()).await;
        let msg = h.send(&ep).await;
        let dest = h.store.settled(&msg, &ep.id).await;
        assert_eq!(dest.status, DeliveryStatus::Fail, "{url}");
        let attempt = &h.store.attempts(&msg, &ep.id).await[0];
        assert_eq!(attempt.response_status_code, 0);
        assert!(
            attempt
                .response
                .contains("is not allowed (SSRF protection)"),
            "{url}: {}",
            attempt.response
        );
    }
    assert!(h.receiver.try_next().is_none());
}

#[tokio::test]
async fn transport_failures_are_recorded_as_readable_text() {
    let h = Harness::start(EngineConfig {
        request_timeout: Duration::from_millis(300),
        ..config(true, &[])
    })
    .await;
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = h.endpoint(format!("http://127.0.0.1:{closed_port}/")).await;
    let stuck = h.endpoint(h.receiver.url("/stuck")).await;
    h.receiver.set_default("/stuck", Answer::status(200).held());
    let (a, b) = (h.send(&refused).await, h.send(&stuck).await);

    h.store.settled(&a, &refused.id).await;
    h.store.settled(&b, &stuck.id).await;
    let refused_attempt = &h.store.attempts(&a, &refused.id).await[0];
    assert_eq!(refused_attempt.response, "connection refused");
    assert_eq!(refused_attempt.response_status_code, 0);
    let stuck_attempt = &h.store.attempts(&b, &stuck.id).await[0];
    assert_eq!(stuck_attempt.response, "request timed out after 300ms");
    assert_eq!(stuck_attempt.status, DeliveryStatus::Fail);
}

#[tokio::test]
async fn a_slow_endpoint_does_not_delay_a_fast_one() {
    let h = Harness::start(EngineConfig {
        max_inflight_per_endpoint: 2,
        max_inflight: 4,
        ..config(true, &[])
    })
    .await;
    let slow = h.endpoint(h.receiver.url("/slow")).await;
    let fast = h.endpoint(h.receiver.url("/fast")).await;
    h.receiver.set_default("/slow", Answer::status(200).held());
    let slow_msgs: Vec<_> = h.send_many(&slow, 6).await;
    let fast_msgs: Vec<_> = h.send_many(&fast, 20).await;

    // Every fast delivery completes while the slow endpoint holds its requests.
    for msg in &fast_msgs {
        assert_eq!(
            h.store.settled(msg, &fast.id).await.status,
            DeliveryStatus::Success
        );
    }
    let mut slow_started = 0;
    while let Some(r) = h.receiver.try_next() {
        slow_started += usize::from(r.path == "/slow");
    }
    assert!(
        slow_started <= 2,
        "{slow_started} concurrent requests to the slow endpoint"
    );
    for m in &slow_msgs {
        let dest = h.store.destination(m, &slow.id).await;
        assert_eq!(dest.status, DeliveryStatus::Pending);
    }

    h.receiver.open_gate();
    for msg in &slow_msgs {
        assert_eq!(
            h.store.settled(msg, &slow.id).await.status,
            DeliveryStatus::Success
        );
    }
}

#[tokio::test]
async fn held_work_keeps_its_lease_and_is_delivered_exactly_once() {
    let lease = Duration::from_millis(600);
    let h = Harness::start(EngineConfig {
        lease,
        max_inflight_per_endpoint: 1,
        ..config(true, &[])
    })
    .await;
    let ep = h.endpoint(h.receiver.url("/held")).await;
    h.receiver.set_default("/held", Answer::status(200).held());
    let msgs: Vec<_> = h.send_many(&ep, 3).await;
    let first_expiry = h
        .store
        .destination(&msgs[2], &ep.id)
        .await
        .next_attempt_at
        .unwrap();
    h.receiver.next().await;

    // One request is in flight and two are queued behind it, all well past their first
    // lease: the renewer keeps every row claimed, so the poller never takes them again.
    let renewed_past = first_expiry.plus_millis(2 * lease.as_millis() as i64);
    h.store
        .wait_until("the leases were renewed twice over", async || {
            for m in &msgs {
                let dest = h.store.destination(m, &ep.id).await;
                if dest.next_attempt_at.is_none_or(|t| t <= renewed_past) {
                    return false;
                }
            }
            true
        })
        .await;
    h.receiver.open_gate();
    for msg in &msgs {
        assert_eq!(
            h.store.settled(msg, &ep.id).await.status,
            DeliveryStatus::Success
        );
        assert_eq!(h.store.attempts(msg, &ep.id).await.len(), 1);
    }
    let mut extra = 0;
    while h.receiver.try_next().is_some() {
        extra += 1;
    }
    assert_eq!(extra, 2, "three requests in all, one per message");
}

#[tokio::test]
async fn publishing_admits_the_delivery_as_claimed_by_this_node() {
    let h = Harness::start(config(true, &[])).await;
    let ep = h.endpoint(h.receiver.url("/held")).await;
    h.receiver.set_default("/held", Answer::status(200).held());
    let msg = h.send(&ep).await;
    // Sent straight from the write path, and while its reply is held the stored row is
    // still the one written: claimed by this node, without a claim query.
    h.receiver.next().await;
    let written = h.store.destination(&msg, &ep.id).await;
    assert!(
        written.lease_owner.is_some(),
        "written as claimed: {written:?}"
    );
    h.receiver.open_gate();
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Success);
}

#[tokio::test]
async fn shutdown_lets_in_flight_deliveries_finish() {
    let h = Harness::start(config(true, &[])).await;
    let ep = h.endpoint(h.receiver.url("/held")).await;
    h.receiver.set_default("/held", Answer::status(200).held());
    let msg = h.send(&ep).await;
    h.receiver.next().await;

    h.shutdown.cancel();
    let closed = h.engine.closed();
    tokio::pin!(closed);
    assert!(
        futures_poll_once(&mut closed).await.is_none(),
        "closed before in-flight finished"
    );
    h.receiver.open_gate();
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("engine closed");
    assert_eq!(
        h.store.destination(&msg, &ep.id).await.status,
        DeliveryStatus::Success
    );
    // Nothing is admitted once shutdown began: a new message is written unclaimed.
    let after = h.message();
    h.engine.publish(&after, &[&ep]).await.unwrap();
    assert_eq!(
        h.store.destination(&after.id, &ep.id).await.lease_owner,
        None
    );
}

/// Polls a future once: `Some` if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn https_only_refuses_plain_http_without_sending() {
    let h = Harness::start(EngineConfig {
        https_only: true,
        ..config(true, &[])
    })
    .await;
    let ep = h.endpoint(h.receiver.url("/plain")).await;
    let msg = h.send(&ep).await;
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Fail);
    let attempt = &h.store.attempts(&msg, &ep.id).await[0];
    assert_eq!(attempt.response_status_code, 0);
    assert!(
        attempt.response.contains("https_only"),
        "{}",
        attempt.response
    );
    assert!(
        h.receiver.try_next().is_none(),
        "nothing reached the receiver"
    );
}
