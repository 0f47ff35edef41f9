//! Endpoints on loopback and private addresses with the real binary: such an endpoint is
//! accepted (201) and the log warns, naming the endpoint id, the host and the setting that
//! allows it, never the URL's path or query; `HOOKD_ALLOWED_NETWORKS=loopback` silences
//! the warning because deliveries there are allowed.

use crate::support::{sqlite_url, Node};
use hookd_testkit::poll_until;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Starts a node logging to `dir/hookd.log` with `HOOKD_ALLOWED_NETWORKS=allowed`.
async fn node(dir: &Path, allowed: &str) -> (Node, std::path::PathBuf) {
    let db = sqlite_url(dir);
    let log = dir.join("hookd.log");
    let node = Node::start_logging(&db, dir, &[("HOOKD_ALLOWED_NETWORKS", allowed)], &log).await;
    (node, log)
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_on_a_refused_address_is_accepted_with_a_warning_naming_host_and_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (node, log) = node(dir.path(), "").await;
    let api = node.api();
    let app = api.create_named_app("localhost").await;
    // The path and query stand for credentials a URL may carry: never logged.
    let literal = api
        .create_endpoint_to(&app, "http://127.0.0.1:9/path-marker?token=query-marker")
        .await;
    let public = api
        .create_endpoint_to(&app, "http://93.184.216.34/public")
        .await;
    let (s, v) = api
        .call(
            "PATCH",
            &format!("/app/{app}/endpoint/{public}"),
            Some(json!({"url": "http://localhost:9/moved-marker"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let warned = |id: &str, host: &str, addr: &str| {
        let (id, host, addr) = (id.to_owned(), host.to_owned(), addr.to_owned());
        let log = log.clone();
        move || {
            let text = read(&log);
            let hit = text.lines().any(|l| {
                l.contains("WARN")
                    && l.contains(&format!("endpoint.id={id}"))
                    && l.contains(&format!("url.host={host}"))
                    && l.contains(&format!("destination address {addr} is not allowed"))
                    && l.contains("HOOKD_ALLOWED_NETWORKS=loopback")
            });
            async move { hit }
        }
    };
    poll_until(
        "the literal endpoint is warned about",
        Duration::from_secs(10),
        warned(&literal, "127.0.0.1", "127.0.0.1"),
    )
    .await;
    poll_until(
        "the endpoint moved to localhost is warned about",
        Duration::from_secs(10),
        warned(&public, "localhost", "127.0.0.1"),
    )
    .await;
    let text = read(&log);
    // Created on a public address: no warning then, one only after the move.
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(&format!("endpoint.id={public}")))
            .count(),
        1,
        "{text}"
    );
    for secret in ["path-marker", "query-marker", "moved-marker"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
    node.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_networks_loopback_accepts_localhost_endpoints_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (node, log) = node(dir.path(), "loopback").await;
    let api = node.api();
    let app = api.create_named_app("loopback").await;
    let v4 = api.create_endpoint_to(&app, "http://127.0.0.1:9/a").await;
    let v6 = api.create_endpoint_to(&app, "http://[::1]:9/b").await;
    let named = api.create_endpoint_to(&app, "http://localhost:9/c").await;
    // A refused address still warns, so the absence of the others' warnings means something.
    let private = api.create_endpoint_to(&app, "http://10.1.2.3/d").await;
    poll_until(
        "the private endpoint is warned about",
        Duration::from_secs(10),
        || {
            let hit = read(&log).contains(&format!("endpoint.id={private}"));
            async move { hit }
        },
    )
    .await;
    let text = read(&log);
    assert!(text.contains("HOOKD_ALLOWED_NETWORKS=private"), "{text}");
    for id in [v4, v6, named] {
        assert!(!text.contains(&id), "{id} warned about:\n{text}");
    }
    node.kill();
}
