//! The real binary under a low open-file limit (`prlimit --nofile=256:256`), flooded with
//! more silent and slowloris connections than it has descriptors: health and the API keep
//! answering at once, and the log holds no flood of `accept` errors.

use crate::support::{sqlite_url, MAIN_KEY, TOKEN};
use hookd_testkit::{free_port, poll_until};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The descriptors the server may have (soft and hard limit).
const NOFILE: u32 = 256;
/// Connections the test holds open: more than the server has descriptors.
const FLOOD: usize = 300;

/// `hookd serve` under `prlimit`, its log in a file; killed when dropped.
struct Limited {
    child: Child,
    addr: String,
    log: std::path::PathBuf,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Limited {
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Limited {
        let port = free_port();
        let log = dir.join("hookd.log");
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={NOFILE}:{NOFILE}"))
            .arg(env!("CARGO_BIN_EXE_hookd"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("HOOKD_DATABASE_URL", sqlite_url(dir))
            .env("HOOKD_DATA_DIR", dir)
            .env("HOOKD_ADMIN_TOKEN", TOKEN)
            .env("HOOKD_MAIN_KEY", MAIN_KEY)
            .env("HOOKD_LOG", "info")
            // Long enough that the timeouts do not clear the flood during the test: the
            // connection cap has to.
            .env("HOOKD_HEAD_TIMEOUT", "60")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let server = Limited {
            child: cmd.spawn().expect("prlimit (util-linux) runs hookd"),
            addr: format!("127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let health = format!("http://{}/api/v1/health", server.addr);
        poll_until("hookd reports healthy", Duration::from_secs(30), || {
            let req = client.get(&health).send();
            async move { req.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        server
    }

    /// The log so far, without colour codes.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap();
        let mut plain = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find('\x1b') {
            plain.push_str(&rest[..i]);
            rest = rest[i..].split_once('m').map_or("", |(_, after)| after);
        }
        plain.push_str(rest);
        plain
    }
}

/// Opens [`FLOOD`] connections: half silent, half sending a head that never ends.
async fn flood(addr: &str) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            let _ = s
                .write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: hookd\r\nx-slow: a")
                .await;
        }
        conns.push(s);
    }
    conns
}

/// One more byte on every slowloris connection still open.
async fn trickle(conns: &mut [TcpStream]) {
    for s in conns.iter_mut().skip(1).step_by(2) {
        let _ = s.write_all(b"a").await;
    }
}

/// Health and an authenticated API call, each on a new connection, answered within 3 s.
async fn still_serving(addr: &str, round: usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let health = client
        .get(format!("http://{addr}/api/v1/health"))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status(), 200);
    let created = client
        .post(format!("http://{addr}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "name": format!("round {round}") }))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(created.status(), 201);
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// How many connections the server has closed (EOF or reset) among `conns`.
async fn closed(conns: &mut [TcpStream]) -> usize {
    let mut n = 0;
    for s in conns.iter_mut() {
        let mut buf = [0u8; 256];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf)).await
        {
            n += 1;
        }
    }
    n
}

fn accept_error_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("accepting a connection failed"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_and_slowloris_connections_leaves_health_and_the_api_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = Limited::start(dir.path(), &[]).await;
    let mut conns = flood(&server.addr).await;
    for round in 0..5 {
        trickle(&mut conns).await;
        still_serving(&server.addr, round).await;
    }
    // The cap (half the descriptors by default) made room by closing the oldest waiting.
    let log = server.log();
    assert!(log.contains("max_connections=128"), "{log}");
    let evicted = closed(&mut conns).await;
    assert!(
        evicted >= FLOOD - 128 - 10,
        "only {evicted} connections closed"
    );
    assert_eq!(accept_error_lines(&log), 0, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_cap_above_the_descriptors_accept_errors_back_off_and_log_at_a_bounded_rate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Limited::start(dir.path(), &[("HOOKD_MAX_CONNECTIONS", "1000")]).await;
    let started = Instant::now();
    let mut conns = flood(&server.addr).await;
    for round in 0..5 {
        trickle(&mut conns).await;
        still_serving(&server.addr, round).await;
    }
    let seconds = started.elapsed().as_secs() as usize + 1;
    let log = server.log();
    let lines = accept_error_lines(&log);
    // The process ran out of descriptors (so accept failed) and freed some by closing
    // the longest-waiting connections; at most one line a second said so.
    assert!(lines >= 1, "{log}");
    assert!(lines <= seconds + 1, "{lines} lines in {seconds} s: {log}");
    assert!(log.contains("Too many open files"), "{log}");
    assert!(closed(&mut conns).await > 0);
}
