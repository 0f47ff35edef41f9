//! The main key that encrypts endpoint secrets, at the binary level: `hookd keygen`, a
//! main key rotation across PostgreSQL nodes (secrets re-encrypted at start, deliveries
//! still signed with the same endpoint keys), and nodes with the wrong key or none
//! refusing to start with a clear error.

use crate::support::{Node, MAIN_KEY, TOKEN};
use hookd_core::signing::EndpointSecret;
use hookd_store::secrets::MainKey;
use hookd_testkit::{free_port, PgSchema, Receiver};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn keygen(flag: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(["keygen", flag])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn keygen_prints_valid_keys_of_each_kind() {
    let pair = keygen("--ed25519");
    assert_eq!(pair.len(), 2, "{pair:?}");
    let secret = EndpointSecret::parse(&pair[0]).unwrap();
    assert!(pair[0].starts_with("whsk_") && pair[1].starts_with("whpk_"));
    assert_eq!(secret.public_key().as_deref(), Some(pair[1].as_str()));
    let hmac = keygen("--hmac");
    assert!(hmac[0].starts_with("whsec_") && EndpointSecret::parse(&hmac[0]).is_ok());
    assert!(MainKey::from_base64(&keygen("--main-key")[0]).is_ok());
    assert_ne!(keygen("--main-key"), keygen("--main-key"));
}

/// Runs `hookd serve` expecting it to exit with an error; returns its stderr. Waits for
/// the exit itself (killing the process if it runs 30 s).
async fn start_fails(database_url: &str, data_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("HOOKD_DATABASE_URL", database_url)
        .env("HOOKD_DATA_DIR", data_dir)
        .env("HOOKD_ADMIN_TOKEN", TOKEN)
        .env_remove("HOOKD_MAIN_KEY")
        .env_remove("HOOKD_PREVIOUS_MAIN_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let exited = cmd.spawn().unwrap().wait_with_output();
    let out = tokio::time::timeout(Duration::from_secs(30), exited)
        .await
        .expect("hookd kept running with a wrong main key")
        .unwrap();
    assert!(!out.status.success(), "hookd should have refused to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_main_key_rotation_reencrypts_and_wrong_keys_are_refused() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let old = MainKey::from_base64(MAIN_KEY).unwrap();
    let new_text = keygen("--main-key").remove(0);
    let new = MainKey::from_base64(&new_text).unwrap();

    // No main key at all: PostgreSQL nodes must share one, so none is generated.
    let err = start_fails(schema.url(), dir.path(), &[]).await;
    assert!(err.contains("HOOKD_MAIN_KEY"), "{err}");

    let node = Node::start(schema.url(), dir.path(), &[]).await;
    let api = node.api();
    let app = api.create_named_app("rotation").await;
    let ep = api.create_endpoint_to(&app, &rx.url("/hook")).await;
    let secret_path = format!("/app/{app}/endpoint/{ep}/secret");
    let (_, before) = api.call("GET", &secret_path, None).await;
    let sealed_under = |key: &MainKey| {
        format!(
            "SELECT count(*) FROM endpoints WHERE secret LIKE 'enc1:{}:%' \
             AND previous_secrets LIKE 'enc1:{}:%'",
            key.id(),
            key.id()
        )
    };
    assert_eq!(schema.count(&sealed_under(&old)).await, 1);
    drop(node);

    // A node with another key refuses, naming the key id in use; nothing changed.
    let stranger_text = keygen("--main-key").remove(0);
    let err = start_fails(
        schema.url(),
        dir.path(),
        &[("HOOKD_MAIN_KEY", &stranger_text)],
    )
    .await;
    assert!(err.contains(old.id()) && err.contains("main key"), "{err}");
    assert!(
        !err.contains(&stranger_text) && !err.contains(MAIN_KEY),
        "{err}"
    );
    assert_eq!(schema.count(&sealed_under(&old)).await, 1);

    // Rotation: the new key with the old one as previous re-encrypts at start.
    let node = Node::start(
        schema.url(),
        dir.path(),
        &[
            ("HOOKD_MAIN_KEY", &new_text),
            ("HOOKD_PREVIOUS_MAIN_KEYS", MAIN_KEY),
        ],
    )
    .await;
    assert_eq!(schema.count(&sealed_under(&new)).await, 1);
    assert_eq!(schema.count(&sealed_under(&old)).await, 0);
    let api = node.api();
    let (_, after) = api.call("GET", &secret_path, None).await;
    assert_eq!(after, before, "the endpoint's own key is unchanged");
    let id = api.try_send_event(&app, 1).await.expect("accepted");
    rx.wait_until("delivered after rotation", Duration::from_secs(30), |got| {
        got.iter()
            .any(|r| r.msg_id == id && r.path == "/hook" && r.delivered())
    })
    .await;
    drop(node);

    // The old key can be dropped; a node still holding only the old key is refused.
    let node = Node::start(schema.url(), dir.path(), &[("HOOKD_MAIN_KEY", &new_text)]).await;
    let (_, again) = node.api().call("GET", &secret_path, None).await;
    assert_eq!(again, before);
    drop(node);
    let err = start_fails(schema.url(), dir.path(), &[("HOOKD_MAIN_KEY", MAIN_KEY)]).await;
    assert!(err.contains(new.id()), "{err}");
}
