//! Boolean settings through the environment with the real binary: `HOOKD_HTTPS_ONLY`
//! takes `true`/`false` and their usual spellings (`1`, `off`), and the flag's switch form
//! did not change how the variable reads.

use crate::support::{sqlite_url, Node};
use serde_json::json;

/// The status of creating an `http://` endpoint on a node started with `env`.
async fn http_endpoint_status(env: &[(&str, &str)]) -> u16 {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let node = Node::start(&db, dir.path(), env).await;
    let api = node.api();
    let app = api.create_named_app("flags").await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/app/{app}/endpoint"),
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert!(status == 201 || status == 422, "{status} {body}");
    node.kill();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_only_reads_its_environment_variable_in_every_spelling() {
    assert_eq!(http_endpoint_status(&[]).await, 201);
    assert_eq!(
        http_endpoint_status(&[("HOOKD_HTTPS_ONLY", "true")]).await,
        422
    );
    assert_eq!(
        http_endpoint_status(&[("HOOKD_HTTPS_ONLY", "1")]).await,
        422
    );
    assert_eq!(
        http_endpoint_status(&[("HOOKD_HTTPS_ONLY", "false")]).await,
        201
    );
    assert_eq!(
        http_endpoint_status(&[("HOOKD_HTTPS_ONLY", "off")]).await,
        201
    );
}
