//! `--spawn`: runs `hookd serve` as child processes on a fresh temporary directory, kills
//! and restarts them for `--crash`, and stops them at the end.
//!
//! Every node gets the same environment (database, admin token, SSRF allow-list for the
//! receiver on loopback) and keeps its port across restarts, so senders only see a
//! refused connection while it is down. Peak RSS and CPU time are read from `/proc`
//! just before each process is killed or stopped, since they vanish with it.

use crate::procfs;
use anyhow::{bail, Context};
use base64::prelude::{Engine as _, BASE64_STANDARD};
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long a node may take to answer its health check after starting.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The `hookd` binary.
    pub bin: PathBuf,
    /// `postgres://…` confined to the run's schema, or `None` for SQLite in the temp dir.
    pub database_url: Option<String>,
    /// Processes to run on the database.
    pub nodes: usize,
    /// Extra `HOOKD_*` variables the workload needs (retry schedule, timeouts).
    pub extra_env: Vec<(String, String)>,
}

/// Running `hookd serve` processes.
pub struct Cluster {
    bin: PathBuf,
    env: Vec<(String, String)>,
    /// Data directories and logs; removed when the cluster is dropped.
    dir: TempDir,
    nodes: Vec<Node>,
    admin_token: String,
    http: reqwest::Client,
    stats: ServerStats,
}

struct Node {
    place: Place,
    child: Child,
}

/// What a node keeps across restarts.
struct Place {
    addr: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
}

/// Figures about the server processes over the whole run.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerStats {
    /// Highest `VmHWM` of any process, in KiB.
    pub peak_rss_kib: u64,
    /// CPU seconds of every process that ran, summed.
    pub cpu_seconds: f64,
    /// `kill -9`s done.
    pub crashes: u32,
}

impl Cluster {
    /// Starts `spec.nodes` nodes and waits until each is healthy.
    pub async fn start(spec: SpawnSpec, receiver_networks: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("hookd-bench-")
            .tempdir()
            .context("creating the temporary data directory")?;
        let admin_token: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        // Every node of a cluster shares one main key (required with PostgreSQL).
        let main_key: [u8; 32] = rand::thread_rng().gen();
        let database_url = match spec.database_url {
            Some(url) => url,
            None => format!("sqlite://{}", dir.path().join("hookd.db").display()),
        };
        let mut env = vec![
            ("HOOKD_DATABASE_URL".to_owned(), database_url),
            ("HOOKD_ADMIN_TOKEN".to_owned(), admin_token.clone()),
            (
                "HOOKD_MAIN_KEY".to_owned(),
                BASE64_STANDARD.encode(main_key),
            ),
            (
                "HOOKD_ALLOWED_NETWORKS".to_owned(),
                receiver_networks.to_owned(),
            ),
            ("HOOKD_LOG".to_owned(), "warn".to_owned()),
        ];
        env.extend(spec.extra_env);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("building the health-check client")?;
        let mut cluster = Self {
            bin: spec.bin,
            env,
            dir,
            nodes: Vec::new(),
            admin_token,
            http,
            stats: ServerStats::default(),
        };
        for i in 0..spec.nodes {
            let place = Place {
                addr: free_port().context("finding a free port")?,
                data_dir: cluster.dir.path().join(format!("node-{i}")),
                log: cluster.dir.path().join(format!("hookd-{i}.log")),
            };
            std::fs::create_dir_all(&place.data_dir)
                .with_context(|| format!("creating {}", place.data_dir.display()))?;
            let child = cluster.launch(&place).await?;
            cluster.nodes.push(Node { place, child });
        }
        Ok(cluster)
    }

    /// The admin token the nodes accept.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// `http://addr` of each node.
    pub fn base_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("http://{}", n.place.addr))
            .collect()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `kill -9`s node `i`, then starts it again on the same port and data and waits
    /// until it is healthy.
    pub async fn crash(&mut self, i: usize) -> anyhow::Result<()> {
        self.sample(i);
        self.nodes[i]
            .child
            .kill()
            .await
            .with_context(|| format!("killing node {i}"))?;
        self.stats.crashes += 1;
        let child = self.launch(&self.nodes[i].place).await?;
        self.nodes[i].child = child;
        Ok(())
    }

    /// Stops every node (SIGTERM, then SIGKILL after a grace period) and returns the
    /// run's server figures.
    pub async fn stop(mut self) -> anyhow::Result<ServerStats> {
        for i in 0..self.nodes.len() {
            self.sample(i);
            let node = &mut self.nodes[i];
            if let Some(pid) = node.child.id() {
                let status = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status()
                    .await
                    .context("running kill")?;
                if !status.success() {
                    eprintln!("hookd-bench: kill -TERM {pid} failed: {status}");
                }
            }
            match tokio::time::timeout(STOP_GRACE, node.child.wait()).await {
                Ok(waited) => {
                    waited.with_context(|| format!("waiting for node {i} to stop"))?;
                }
                Err(_) => {
                    eprintln!(
                        "hookd-bench: node {i} did not stop within {STOP_GRACE:?}; killing it"
                    );
                    node.child.kill().await.context("killing a stuck node")?;
                }
            }
        }
        Ok(self.stats)
    }

    /// Records node `i`'s peak RSS and CPU time while it still exists.
    fn sample(&mut self, i: usize) {
        let Some(pid) = self.nodes[i].child.id() else {
            return;
        };
        if let Some(kib) = procfs::peak_rss_kib(pid) {
            self.stats.peak_rss_kib = self.stats.peak_rss_kib.max(kib);
        }
        if let Some(cpu) = procfs::cpu_seconds(Some(pid)) {
            self.stats.cpu_seconds += cpu;
        }
    }

    /// Starts a node's process in `place` and waits until its health check answers 200.
    async fn launch(&self, place: &Place) -> anyhow::Result<Child> {
        let log = open_log(&place.log)?;
        let log_err = log.try_clone().context("duplicating the log file handle")?;
        let mut child = Command::new(&self.bin)
            .arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HOOKD_LISTEN", place.addr.to_string())
            .env("HOOKD_DATA_DIR", &place.data_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let url = format!("http://{}/api/v1/health", place.addr);
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().context("checking on hookd")? {
                bail!(
                    "hookd exited during start-up ({status}); its log ends with:\n{}",
                    log_tail(&place.log)
                );
            }
            if let Ok(res) = self.http.get(&url).send().await {
                if res.status() == reqwest::StatusCode::OK {
                    return Ok(child);
                }
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "hookd was not healthy within {START_TIMEOUT:?}; its log ends with:\n{}",
                    log_tail(&place.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A loopback address with a port nobody listens on right now.
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn open_log(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last lines of a log, for start-up errors.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
