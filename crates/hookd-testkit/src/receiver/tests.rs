//! The receiver against a real HTTP client.

use super::*;

const LIMIT: Duration = Duration::from_secs(10);

async fn post(url: &str, msg_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("webhook-id", msg_id)
        .body("{}")
        .send()
        .await
        .expect("the receiver answers")
}

#[tokio::test]
async fn answers_follow_the_script_then_the_message_rule_then_defaults() {
    let rx = Receiver::start().await;
    rx.script("/a", [Answer::status(429).retry_after(7)]);
    rx.set_default(
        "/a",
        Answer::status(203).header("x-kind", "default").body("hi"),
    );
    rx.set_fallback(Answer::status(202));
    rx.first_of_each_message(Answer::status(500));

    let first = post(&rx.url("/a"), "msg_1").await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    // Queued answers came first; this is msg_1's second request to /a.
    let default = post(&rx.url("/a"), "msg_1").await;
    assert_eq!(default.status(), 203);
    assert_eq!(default.headers()["x-kind"], "default");
    assert_eq!(default.text().await.unwrap(), "hi");
    assert_eq!(post(&rx.url("/a"), "msg_2").await.status(), 500);
    assert_eq!(post(&rx.url("/b"), "msg_1").await.status(), 500);
    assert_eq!(post(&rx.url("/b"), "msg_1").await.status(), 202);

    let got = rx.wait_for("/a", 3, LIMIT).await;
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 203, 500]);
    assert_eq!(got[0].msg_id, "msg_1");
    assert_eq!(&got[0].body[..], b"{}");
    let delivered = rx.delivered();
    assert_eq!(delivered[&("msg_1".to_owned(), "/a".to_owned())], 1);
    assert_eq!(delivered.len(), 2, "{delivered:?}");
}

#[tokio::test]
async fn a_held_request_is_recorded_at_once_and_answered_when_the_gate_opens() {
    let rx = Receiver::start().await;
    rx.set_default("/slow", Answer::ok().held());
    let url = rx.url("/slow");
    let sent = tokio::spawn(async move { post(&url, "msg_1").await.status() });
    let arrived = rx.next().await;
    assert_eq!(
        (arrived.path.as_str(), arrived.answered_at),
        ("/slow", None)
    );
    assert_eq!(rx.max_concurrent("/slow"), 1);
    assert!(rx.try_next().is_none());
    rx.open_gate();
    assert_eq!(sent.await.unwrap(), 200);
    rx.wait_until("the held request is answered", LIMIT, |got| {
        got[0].answered_at.is_some()
    })
    .await;
    assert_eq!(rx.delivered().len(), 1);
}

#[tokio::test]
async fn concurrent_requests_are_counted_per_path() {
    let rx = Receiver::start().await;
    rx.set_default("/c", Answer::ok().held());
    let sends: Vec<_> = (0..3)
        .map(|i| {
            let url = rx.url("/c");
            tokio::spawn(async move { post(&url, &format!("msg_{i}")).await })
        })
        .collect();
    rx.wait_for("/c", 3, LIMIT).await;
    rx.open_gate();
    for s in sends {
        assert_eq!(s.await.unwrap().status(), 200);
    }
    assert_eq!(rx.max_concurrent("/c"), 3);
    assert_eq!(rx.max_concurrent("/other"), 0);
}

#[tokio::test]
async fn a_delayed_answer_is_recorded_on_arrival_and_answered_after_the_delay() {
    let rx = Receiver::start().await;
    let delay = Duration::from_millis(200);
    rx.set_fallback(Answer::status(503).delay(delay));
    let url = rx.url("/d");
    let sent = tokio::spawn(async move { post(&url, "msg_1").await.status() });
    let arrived = &rx.wait_for("/d", 1, LIMIT).await[0];
    assert_eq!(arrived.answered_at, None);
    assert_eq!(sent.await.unwrap(), 503);
    let answered = &rx.received("/d")[0];
    let took = answered.answered_at.unwrap() - answered.arrived_at;
    assert!(took >= delay, "answered after {took:?}");
    assert!(rx.delivered().is_empty(), "a 503 is no delivery");
}

#[tokio::test(start_paused = true)]
async fn delays_and_deadlines_run_on_a_paused_clock() {
    let rx = Receiver::start().await;
    rx.set_default("/later", Answer::ok().delay(Duration::from_secs(3600)));
    let url = rx.url("/later");
    let started = Instant::now();
    let sent = tokio::spawn(async move { post(&url, "msg_1").await.status() });
    assert_eq!(sent.await.unwrap(), 200);
    let r = &rx.received("/later")[0];
    assert_eq!(
        r.answered_at.unwrap() - r.arrived_at,
        Duration::from_secs(3600)
    );
    assert!(started.elapsed() >= Duration::from_secs(3600));
}

#[tokio::test]
#[should_panic(expected = "/never received 0 of 1")]
async fn a_wait_for_requests_that_never_come_fails_at_its_deadline() {
    let rx = Receiver::start().await;
    rx.wait_for("/never", 1, Duration::from_millis(50)).await;
}
