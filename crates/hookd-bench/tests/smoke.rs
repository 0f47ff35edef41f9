//! Smoke runs of the built `hookd-bench` against a `hookd` it spawns: small workloads
//! whose JSON line must show every accepted delivery arrived, correctly signed.
//! Timing figures are never asserted.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `hookd` binary of the same build profile, built (or brought up to date) once.
fn hookd_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile_dir = Path::new(env!("CARGO_BIN_EXE_hookd-bench"))
            .parent()
            .expect("the bench binary lives in a profile directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "hookd", "--profile", &profile])
            .status()
            .expect("running cargo build -p hookd");
        assert!(status.success(), "cargo build -p hookd failed");
        profile_dir.join(format!("hookd{}", std::env::consts::EXE_SUFFIX))
    })
}

/// Runs the bench with `--spawn --json --quiet` plus `args`; returns the exit code and
/// the JSON report from the last line of stdout.
fn bench(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookd-bench"))
        .arg("--spawn")
        .arg("--hookd-bin")
        .arg(hookd_bin())
        .args(["--json", "--quiet", "--timeout", "120"])
        .args(args)
        .output()
        .expect("running hookd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "no JSON on the last line ({e}); stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn fanout_run_delivers_every_pair_once_with_valid_signatures() {
    let (code, r) = bench(&["--messages", "300", "--endpoints", "3", "--fanout", "2"]);
    assert_eq!(r["accepted"], 300, "{r}");
    assert_eq!(r["delivered"], 600, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
    assert_eq!(r["bad_signatures"], 0, "{r}");
    assert_eq!(r["misrouted"], 0, "{r}");
    for key in ["p50", "p90", "p99", "max"] {
        assert!(r["latency_ms"][key].is_number(), "{key} in {r}");
    }
    assert!(r["accepted_per_s"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    assert!(r["peak_rss_mib"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    assert_eq!(code, 0);
}

#[test]
fn a_kill_9_mid_run_loses_no_accepted_message() {
    let (code, r) = bench(&["--messages", "2000", "--crash", "1"]);
    assert_eq!(r["crashes_done"], 1, "{r}");
    assert_eq!(r["accepted"], 2000, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["bad_signatures"], 0, "{r}");
    assert_eq!(code, 0);
}

#[test]
fn two_postgres_nodes_share_the_work() {
    let Some(url) = std::env::var("HOOKD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: HOOKD_TEST_POSTGRES_URL is not set");
        return;
    };
    let (code, r) = bench(&[
        "--database-url",
        &url,
        "--nodes",
        "2",
        "--messages",
        "500",
        "--endpoints",
        "2",
    ]);
    assert_eq!(r["database"], "postgres", "{r}");
    assert_eq!(r["delivered"], 500, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["bad_signatures"], 0, "{r}");
    assert_eq!(code, 0);
}

/// Asserts an ingest report shows every accepted event forwarded to every endpoint,
/// authentic, intact and once.
fn assert_ingest_clean(r: &Value, events: u64, endpoints: u64) {
    assert_eq!(r["kind"], "ingest", "{r}");
    assert_eq!(r["accepted"], events, "{r}");
    assert_eq!(r["forwarded"], events * endpoints, "{r}");
    for zero in [
        "lost",
        "double_stored",
        "bad_signatures",
        "bad_bodies",
        "bad_headers",
        "unknown_forwards",
        "refused",
        "replay_failures",
        "false_duplicates",
    ] {
        assert_eq!(r[zero], 0, "{zero} in {r}");
    }
    for key in ["p50", "p99", "max"] {
        assert!(r["ack_latency_ms"][key].is_number(), "{key} in {r}");
    }
}

#[test]
fn ingest_run_forwards_every_github_event_once_and_recognises_replays() {
    let (code, r) = bench(&[
        "--ingest",
        "--messages",
        "300",
        "--endpoints",
        "2",
        "--replay-fraction",
        "0.2",
        "--drain",
        "60",
    ]);
    assert_ingest_clean(&r, 300, 2);
    assert_eq!(r["provider"], "github", "{r}");
    let replays = r["replays"].as_u64().unwrap_or(0);
    assert!(replays > 20, "about 60 of 300 are replayed: {r}");
    assert_eq!(r["replays_acknowledged"], replays, "{r}");
    assert!(r["accepted_per_s"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    assert_eq!(code, 0);
}

#[test]
fn ingest_stripe_and_standard_webhooks_runs_at_a_fixed_rate_pass() {
    for provider in ["stripe", "standard-webhooks"] {
        let (code, r) = bench(&[
            "--ingest",
            "--provider",
            provider,
            "--rate",
            "200",
            "--duration",
            "1",
            "--drain",
            "60",
        ]);
        assert_ingest_clean(&r, 200, 1);
        assert_eq!(r["provider"], provider, "{r}");
        assert_eq!(r["rate"], 200.0, "{r}");
        assert_eq!(code, 0, "{provider}");
    }
}

#[test]
fn ingest_on_two_postgres_nodes_forwards_everything_once() {
    let Some(url) = std::env::var("HOOKD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: HOOKD_TEST_POSTGRES_URL is not set");
        return;
    };
    let (code, r) = bench(&[
        "--ingest",
        "--database-url",
        &url,
        "--nodes",
        "2",
        "--messages",
        "300",
        "--replay-fraction",
        "0.1",
        "--drain",
        "60",
    ]);
    assert_eq!(r["database"], "postgres", "{r}");
    assert_ingest_clean(&r, 300, 1);
    assert_eq!(code, 0);
}
