//! A full disk under the SQLite data directory (a small tmpfs filled by a filler file):
//! writes answer `503 storage_full` (never 500), health reports it, the cause is logged at
//! a bounded rate, memory stays bounded, and once space returns writes resume by
//! themselves and every accepted message is delivered.
//!
//! Mounting needs root: without it the test is skipped, unless `HOOKD_REQUIRE_ROOT_TESTS=1`
//! (set by `.ci/run`), which makes it fail instead.

use crate::support::load::{all_arrived, Sender};
use crate::support::{sqlite_url, Node};
use hookd_testkit::receiver::answered;
use hookd_testkit::{poll_until, Receiver};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::time::Instant;

/// Size of the data directory's file system: room for the database and its WAL.
const FS_SIZE: &str = "24m";
/// How long writes keep failing before space is freed.
const FULL_FOR: Duration = Duration::from_secs(6);

/// A tmpfs mounted on a temp dir; unmounted (lazily, so a crashed test cannot keep it)
/// when dropped, even on failure.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (after saying why) when the test may not mount.
    fn mount(test: &str) -> Option<SmallDisk> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            assert!(
                std::env::var("HOOKD_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
                "{test} needs root (to mount a tmpfs) and HOOKD_REQUIRE_ROOT_TESTS=1"
            );
            eprintln!("skipped {test}: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FS_SIZE}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs on {}",
            dir.path().display()
        );
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `path` (a file of zeros until the write fails).
fn fill(path: &Path) -> PathBuf {
    let filler = path.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_err()
        {
            break;
        }
    }
    // Whatever is left is smaller than a chunk: take it byte by byte.
    while file.write_all(&[0]).and_then(|()| file.sync_all()).is_ok() {}
    filler
}

/// The resident set of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_storage_full_then_resumes_without_loss() {
    let test = "a_full_disk_answers_503_storage_full_then_resumes_without_loss";
    let Some(disk) = SmallDisk::mount(test) else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("hookd.log");
    let rx = Receiver::start().await;
    let db = sqlite_url(disk.path());
    let node = Node::start_logging(&db, disk.path(), &[("HOOKD_LEASE", "3")], &log).await;
    let api = node.api();
    let app = api.create_named_app("full").await;
    api.create_endpoint_to(&app, &rx.url("/hook")).await;
    let senders: Vec<Sender> = (0..4)
        .map(|k| Sender::start(api.clone(), app.clone(), k * 1_000_000))
        .collect();
    rx.wait_until("traffic flows", Duration::from_secs(30), |got| {
        answered(got) > 100
    })
    .await;
    let rss_before = rss_kib(node.pid());

    let filler = fill(disk.path());
    let log_lines_before = std::fs::read_to_string(&log).unwrap().lines().count();
    let full_at = Instant::now();
    poll_until(
        "health reports the full disk",
        Duration::from_secs(10),
        || async {
            let (status, body) = api.call("GET", "/health", None).await;
            status == 503 && body["components"]["database"] == "storage_full"
        },
    )
    .await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/app/{app}/msg"),
            Some(serde_json::json!({"eventType": "test.event", "payload": {}})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("storage_full")),
        "{body}"
    );
    assert!(body["detail"].is_string(), "{body}");
    let mut rss_max = rss_before;
    while full_at.elapsed() < FULL_FOR {
        rss_max = rss_max.max(rss_kib(node.pid()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let full_secs = full_at.elapsed().as_secs() + 1;
    let log_text = std::fs::read_to_string(&log).unwrap();
    let log_lines = log_text.lines().count() - log_lines_before;

    std::fs::remove_file(&filler).unwrap();
    let freed_at = Instant::now();
    poll_until(
        "healthy again once space returns",
        Duration::from_secs(10),
        || async { api.health().await == Some(200) },
    )
    .await;
    let resumed_in = freed_at.elapsed();
    let mut accepted = Vec::new();
    for i in 0..20 {
        accepted.push(
            api.try_send_event(&app, 10_000_000 + i)
                .await
                .expect("accepted once space returned"),
        );
    }
    let mut refused = std::collections::BTreeMap::new();
    for s in senders {
        let sent = s.finish().await;
        for (k, n) in sent.refused {
            *refused.entry(k).or_insert(0) += n;
        }
        accepted.extend(sent.accepted);
    }
    eprintln!(
        "full for {full_secs} s: refusals {refused:?}, {log_lines} log lines, RSS {rss_before} -> \
         max {rss_max} KiB; writes resumed {resumed_in:?} after space returned"
    );
    assert!(
        refused.get("503 storage_full").copied().unwrap_or(0) > 0,
        "writes were refused as storage_full: {refused:?}"
    );
    assert!(
        refused
            .keys()
            .all(|k| k == "503 storage_full" || k == "503 unavailable"),
        "only 503s while the disk was full: {refused:?}"
    );
    // One line a second per cause (API refusals, the writer's failed batches, health, the
    // engine's failed claims and records), not one per failed request.
    assert!(
        log_lines <= 10 * full_secs as usize,
        "{log_lines} log lines in {full_secs} s"
    );
    assert!(
        rss_max < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {rss_max} KiB"
    );
    all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
    drop(node);
}
