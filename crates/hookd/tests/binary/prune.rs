//! `hookd prune` with the real binary: it reads the database settings as `serve` does, deletes
//! what is older than `--older-than` in bounded batches, and says what it removed.

use crate::support::{sqlite_url, Node, MAIN_KEY};
use hookd_testkit::{poll_until, Api, PgSchema, Receiver};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn prune(database_url: &str, data_dir: &Path, older_than: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(["prune", "--older-than", older_than])
        .env("HOOKD_DATABASE_URL", database_url)
        .env("HOOKD_DATA_DIR", data_dir)
        .env("HOOKD_MAIN_KEY", MAIN_KEY)
        .env("HOOKD_LOG", "warn")
        .output()
        .expect("hookd prune runs")
}

async fn attempts_of(api: &Api, app: &str, msg: &str) -> usize {
    let (s, v) = api
        .call("GET", &format!("/app/{app}/attempt/msg/{msg}"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().unwrap().len()
}

/// Delivers three messages, stops the server, prunes, and checks the attempts are gone
/// while the messages stay.
async fn prune_removes_old_attempts(database_url: &str, dir: &Path) {
    let rx = Receiver::start().await;
    let server = Node::start(database_url, dir, &[]).await;
    let api = server.api();
    let app = api.create_named_app("prune").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;
    let mut msgs = Vec::new();
    for i in 0..3 {
        msgs.push(api.try_send_event(&app, i).await.expect("accepted"));
    }
    for msg in &msgs {
        let (api, app, msg) = (api.clone(), app.clone(), msg.clone());
        poll_until("an attempt is recorded", Duration::from_secs(20), || {
            let (api, app, msg) = (api.clone(), app.clone(), msg.clone());
            async move { attempts_of(&api, &app, &msg).await == 1 }
        })
        .await;
    }
    server.kill();

    // Nothing is a day old yet.
    let out = prune(database_url, dir, "1d");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0 attempts older than 1d"), "{text}");

    let out = prune(database_url, dir, "0s");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 3 attempts older than 0s"), "{text}");

    // A bad age is refused with a reason.
    let out = prune(database_url, dir, "soon");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an age"),
        "{out:?}"
    );

    let server = Node::start(database_url, dir, &[]).await;
    let api = server.api();
    for msg in &msgs {
        assert_eq!(attempts_of(&api, &app, msg).await, 0);
        let (s, v) = api
            .call("GET", &format!("/app/{app}/msg/{msg}"), None)
            .await;
        assert_eq!(s, 200, "the message stays: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_on_sqlite_removes_old_attempts_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    prune_removes_old_attempts(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_on_postgres_removes_old_attempts_and_says_how_many() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    prune_removes_old_attempts(schema.url(), dir.path()).await;
}

#[test]
fn prune_refuses_a_locked_sqlite_database() {
    // `serve` holds the SQLite lock; prune must not run beside it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_url(dir.path());
        let _server = Node::start(&db, dir.path(), &[]).await;
        let out = prune(&db, dir.path(), "30d");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("in use by another hookd process"),
            "{out:?}"
        );
    });
}
