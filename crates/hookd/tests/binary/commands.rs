//! The operator commands besides `serve`: `hookd config check` (the resolved settings,
//! secrets redacted; non-zero on an invalid one), `hookd migrate` (on SQLite and on
//! PostgreSQL, two at once), and `hookd status` (the queue as the database has it, read
//! beside a running node).

use crate::support::{sqlite_url, Node, MAIN_KEY};
use hookd_testkit::{free_port, PgSchema};
use serde_json::{json, Value};
use std::process::{Command, Output};

fn hookd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookd"));
    cmd.args(args)
        .env("HOOKD_LOG", "warn")
        .env_remove("HOOKD_ADMIN_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("hookd runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn config_check_prints_the_settings_with_secrets_redacted_and_fails_on_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let secret_token = "config-check-admin-token-4242";
    let ok = hookd(
        &["config", "check"],
        &[
            ("HOOKD_DATABASE_URL", &db),
            ("HOOKD_ADMIN_TOKEN", secret_token),
            ("HOOKD_MAIN_KEY", MAIN_KEY),
            ("HOOKD_RETRY_SCHEDULE", "1,2,3"),
        ],
    );
    assert!(ok.status.success(), "{ok:?}");
    let out = text(&ok.stdout);
    assert!(out.contains("configuration is valid"), "{out}");
    assert!(out.contains("retry_schedule"), "{out}");
    assert!(out.contains("<redacted>"), "{out}");
    assert!(
        !out.contains(secret_token) && !out.contains(MAIN_KEY),
        "{out}"
    );

    let bad = hookd(
        &["config", "check"],
        &[
            ("HOOKD_DATABASE_URL", &db),
            ("HOOKD_RETRY_SCHEDULE", "soon"),
        ],
    );
    assert!(!bad.status.success(), "{bad:?}");
    let err = text(&bad.stderr);
    assert!(err.contains("retry schedule must be"), "{err}");
}

#[test]
fn migrate_brings_a_fresh_sqlite_database_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let env = [
        ("HOOKD_DATABASE_URL", db.as_str()),
        ("HOOKD_DATA_DIR", data_dir),
    ];
    for _ in 0..2 {
        let out = hookd(&["migrate"], &env);
        assert!(out.status.success(), "{out:?}");
        let said = text(&out.stdout);
        assert!(said.contains("up to date"), "{said}");
        assert!(said.starts_with("schema version "), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrates_at_once_on_postgresql_both_succeed() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let url = schema.url().to_owned();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                hookd(
                    &["migrate"],
                    &[("HOOKD_DATABASE_URL", &url), ("HOOKD_MAIN_KEY", MAIN_KEY)],
                )
            })
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(text(&out.stdout).contains("up to date"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_queue_beside_a_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    // The first retry comes an hour later: the delivery waits, scheduled.
    let node = Node::start(&db, dir.path(), &[("HOOKD_RETRY_SCHEDULE", "3600")]).await;
    let api = node.api();
    let app = api.create_named_app("status").await;
    let closed = format!("http://127.0.0.1:{}/closed", free_port());
    let endpoint = api.create_endpoint_to(&app, &closed).await;
    api.send(&app, json!({"eventType": "e", "payload": {}}))
        .await;
    api.wait_for(
        &format!("/app/{app}/attempt/endpoint/{endpoint}"),
        std::time::Duration::from_secs(20),
        |page| page["data"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;

    let env = [
        ("HOOKD_DATABASE_URL", db.as_str()),
        ("HOOKD_DATA_DIR", dir.path().to_str().unwrap()),
    ];
    let out = hookd(&["status", "--json"], &env);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"]["current"], true, "{report}");
    let queue = &report["queue"];
    assert_eq!(queue["scheduled"], 1, "{report}");
    assert_eq!(queue["due"], 0, "{report}");
    assert!(
        queue["oldestUndeliveredAgeSecs"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert_eq!(
        queue["worstEndpoints"][0]["endpointId"],
        endpoint.as_str(),
        "{report}"
    );
    assert_eq!(
        queue["worstEndpoints"][0]["appId"],
        app.as_str(),
        "{report}"
    );

    let out = hookd(&["status"], &env);
    assert!(out.status.success(), "{out:?}");
    let said = text(&out.stdout);
    assert!(said.contains("0 due, 1 scheduled, 0 in flight"), "{said}");
    assert!(said.contains(&endpoint), "{said}");
    // The node is unaffected: it still answers.
    assert_eq!(api.health().await, Some(200));
}
