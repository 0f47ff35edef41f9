//! What an operator reads at the default level (`HOOKD_LOG=info`): a line per failed
//! delivery attempt (ids, attempt number, host, status or error, next retry), per message
//! whose retries are exhausted, per refused API request and per refused ingest request;
//! the admin token's source at start-up; and, when enabled, the access log. None of them
//! may carry a URL path, a payload or a token.

use crate::support::{github, sqlite_url, Node, TOKEN};
use hookd_testkit::receiver::delivered;
use hookd_testkit::{free_port, poll_until, Answer, Api, Receiver};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// A `hookd serve` on its own SQLite database, logging at `info` to `log`.
async fn start(dir: &Path, env: &[(&str, &str)], log: &Path) -> Node {
    let db = sqlite_url(dir);
    let mut env = env.to_vec();
    env.push(("HOOKD_LOG", "info"));
    Node::start_logging(&db, dir, &env, log).await
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until a line of `log` holds every one of `parts`, and returns it.
async fn line_with(log: &Path, parts: &[&str]) -> String {
    let find = || {
        read(log)
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_owned)
    };
    poll_until(
        &format!("the log has a line with {parts:?}"),
        Duration::from_secs(20),
        || std::future::ready(find().is_some()),
    )
    .await;
    find().expect("just found")
}

/// Sends a message whose payload holds `marker`; its id.
async fn send(api: &Api, app: &str, event_type: &str, marker: &str) -> String {
    let (s, msg) = api
        .call(
            "POST",
            &format!("/app/{app}/msg"),
            Some(json!({"eventType": event_type, "payload": {"note": marker}})),
        )
        .await;
    assert_eq!(s, 202, "{msg}");
    msg["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_failed_attempt_logs_its_ids_host_status_and_next_retry_but_no_path_or_payload() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(dir.path(), &[], &log).await;
    let api = node.api();
    let receiver = Receiver::start().await;
    receiver.first_of_each_message(Answer::status(500));
    let app = api.create_named_app("logs").await;
    let endpoint = api
        .create_endpoint_to(
            &app,
            &receiver.url("/hook/path-marker-3141?q=query-marker-2718"),
        )
        .await;
    let msg = send(&api, &app, "invoice.paid", "payload-marker-1618").await;

    let line = line_with(&log, &["delivery attempt failed", &msg]).await;
    let host = receiver.url("");
    let host = host.trim_start_matches("http://");
    for part in [
        "WARN",
        app.as_str(),
        endpoint.as_str(),
        "attempt=1",
        "status=500",
        host,
        "next_retry=",
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
    assert!(!line.contains("none ("), "a retry follows: {line}");
    // The retry succeeds; nothing of the URL's path or query, nor the payload, was logged.
    receiver
        .wait_until("the retry delivers", Duration::from_secs(20), |got| {
            delivered(got).len() == 1
        })
        .await;
    let text = read(&log);
    for secret in [
        "path-marker-3141",
        "query-marker-2718",
        "payload-marker-1618",
    ] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}

#[tokio::test]
async fn exhausted_retries_log_the_error_kind_and_that_no_retry_follows() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(dir.path(), &[("HOOKD_RETRY_SCHEDULE", "0.2")], &log).await;
    let api = node.api();
    // Nothing listens on this port: every attempt is refused.
    let closed = format!("http://127.0.0.1:{}/closed", free_port());
    let app = api.create_named_app("logs").await;
    api.create_endpoint_to(&app, &closed).await;
    let msg = send(&api, &app, "invoice.paid", "p").await;

    let first = line_with(&log, &["delivery attempt failed", &msg, "attempt=1"]).await;
    assert!(
        first.contains("error.kind=\"connection_refused\""),
        "{first}"
    );
    assert!(first.contains("connection refused"), "{first}");
    let last = line_with(&log, &["delivery attempt failed", &msg, "attempt=2"]).await;
    assert!(last.contains("retries exhausted"), "{last}");
    line_with(&log, &["no retry follows", &msg]).await;
    assert!(!read(&log).contains("/closed"), "the URL path was logged");
}

#[tokio::test]
async fn a_wrong_token_logs_one_refusal_with_the_route_template_and_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(dir.path(), &[], &log).await;
    let app = node.api().create_named_app("logs").await;
    let status = reqwest::Client::new()
        .get(format!(
            "{}/app/{app}/msg?secret=query-marker-42",
            node.base
        ))
        .bearer_auth("wrong-token-marker-0123456789")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    let line = line_with(&log, &["refused an API request"]).await;
    for part in [
        "WARN",
        "method=GET",
        "/api/v1/app/{app_id}/msg",
        "authentication_failed",
        "invalid bearer token",
        "client=\"127.0.0.1:",
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
    let text = read(&log);
    assert!(!text.contains("wrong-token-marker"), "{text}");
    assert!(!text.contains("query-marker-42"), "{text}");
    assert_eq!(text.matches("refused an API request").count(), 1, "{text}");

    // A flood of bad tokens: at most a line a second, with the count left out.
    let started = std::time::Instant::now();
    let client = reqwest::Client::new();
    for _ in 0..50 {
        let r = client
            .get(format!("{}/app", node.base))
            .bearer_auth("wrong-token-marker-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let seconds = started.elapsed().as_secs() as usize;
    let lines = read(&log).matches("refused an API request").count();
    assert!(lines <= 1 + seconds + 1, "{lines} lines in {seconds}s");
}

#[tokio::test]
async fn an_unsigned_ingest_request_logs_its_source_and_code_and_the_access_log_hides_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(dir.path(), &[("HOOKD_ACCESS_LOG", "true")], &log).await;
    let api = node.api();
    let receiver = Receiver::start().await;
    let source = github::Source::create(&api, &receiver.url("/in")).await;
    let response = reqwest::Client::new()
        .post(source.url(&api))
        .header("x-request-id", "req-marker-77")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-request-id"], "req-marker-77");
    let answer: serde_json::Value = response.json().await.unwrap();
    let code = answer["code"].as_str().unwrap();

    let refusal = line_with(&log, &["refused an ingest request"]).await;
    assert!(refusal.contains("WARN"), "{refusal}");
    assert!(refusal.contains(&source.id), "{refusal}");
    assert!(refusal.contains(&format!("code=\"{code}\"")), "{refusal}");
    let access = line_with(&log, &["req-marker-77"]).await;
    for part in [
        "method=POST",
        "route=\"/ingest/{token}\"",
        "status=401",
        "duration_ms=",
    ] {
        assert!(access.contains(part), "{part:?} missing from: {access}");
    }
    // Other requests get a generated id, and their route template.
    let generated = reqwest::Client::new()
        .get(format!("{}/health", node.base))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    let health = line_with(&log, &[&id]).await;
    assert!(health.contains("route=\"/api/v1/health\""), "{health}");
    assert!(
        !read(&log).contains(&source.token),
        "the receive token was logged"
    );
}

#[tokio::test]
async fn start_up_says_where_the_admin_token_comes_from_and_that_a_stored_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    std::fs::write(
        dir.path().join("admin-token"),
        "stored-token-marker-0123456789",
    )
    .unwrap();
    let _node = start(dir.path(), &[], &log).await;

    let line = line_with(&log, &["admin token:"]).await;
    assert!(line.contains("HOOKD_ADMIN_TOKEN"), "{line}");
    let ignored = line_with(&log, &["is ignored"]).await;
    assert!(ignored.contains("WARN"), "{ignored}");
    let text = read(&log);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains("stored-token-marker"), "{text}");
}

#[tokio::test]
async fn without_a_given_token_start_up_names_the_stored_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    std::fs::write(dir.path().join("admin-token"), TOKEN).unwrap();
    // No HOOKD_ADMIN_TOKEN (an empty value removes it).
    let _node = start(dir.path(), &[("HOOKD_ADMIN_TOKEN", "")], &log).await;
    let line = line_with(&log, &["admin token:"]).await;
    assert!(line.contains("stored"), "{line}");
    assert!(!read(&log).contains("is ignored"));
}

#[tokio::test]
async fn a_message_that_matches_no_endpoint_is_accepted_and_says_so_at_info() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(dir.path(), &[], &log).await;
    let api = node.api();
    let app = api.create_named_app("logs").await;
    let msg = send(&api, &app, "nobody.listens", "p").await;
    let line = line_with(&log, &["matches no endpoint", &msg]).await;
    for part in ["INFO", app.as_str(), "nobody.listens"] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_same_fields() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let node = start(
        dir.path(),
        &[
            ("HOOKD_LOG_FORMAT", "json"),
            ("HOOKD_RETRY_SCHEDULE", "0.2"),
        ],
        &log,
    )
    .await;
    let api = node.api();
    let closed = format!("http://127.0.0.1:{}/closed", free_port());
    let app = api.create_named_app("logs").await;
    let endpoint = api.create_endpoint_to(&app, &closed).await;
    let msg = send(&api, &app, "invoice.paid", "payload-marker-json").await;

    let line = line_with(&log, &["delivery attempt failed", &msg, "\"attempt\":1"]).await;
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON object");
    assert_eq!(event["level"], "WARN", "{line}");
    assert_eq!(
        event["fields"]["error.kind"], "connection_refused",
        "{line}"
    );
    assert!(event["fields"]["message"]
        .as_str()
        .unwrap()
        .starts_with("delivery attempt failed"));
    assert!(event["timestamp"].is_string(), "{line}");
    // The ids come from the enclosing `delivery` span.
    let spans = event["spans"].as_array().expect("the span list");
    let delivery = spans
        .iter()
        .find(|s| s["name"] == "delivery")
        .expect("{line}");
    assert_eq!(delivery["app.id"], app.as_str());
    assert_eq!(delivery["endpoint.id"], endpoint.as_str());
    // Every line of the log is a JSON object, and none holds the payload or the path.
    line_with(&log, &["no retry follows", &msg]).await;
    let text = read(&log);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v.is_object(), "{l}");
    }
    assert!(!text.contains("payload-marker-json") && !text.contains("/closed"));
}
