//! PostgreSQL fixtures for binary-level tests.
//!
//! - [`Schema`]: an isolated schema on the server named by `HOOKD_TEST_POSTGRES_URL`; the
//!   URL it hands to hookd selects it through `search_path` and tags every connection with
//!   the schema's name as `application_name`, so a test can find and kill them.
//! - [`PrivateServer`]: a throw-away PostgreSQL cluster (initdb in a temp dir, its own
//!   port) that a test may stop with `-m immediate` (a crash) and start again without
//!   disturbing the shared server.

use std::path::PathBuf;
use std::process::Command;
use tokio_postgres::NoTls;

/// The shared test server's URL, or `None` after printing why the test is skipped.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var("HOOKD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: HOOKD_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// `url` with extra query parameters.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(conn);
    client
}

/// An isolated schema, dropped with everything in it when the value is dropped.
pub struct Schema {
    admin_url: String,
    pub name: String,
    /// What hookd is given: the admin URL, confined to this schema.
    pub url: String,
}

impl Schema {
    pub async fn create(admin_url: &str) -> Schema {
        let name = format!("hookd_bin_{:016x}", rand_u64());
        connect(admin_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("creating a test schema");
        let url = with_params(
            admin_url,
            &format!("options=-csearch_path%3D{name}&application_name={name}"),
        );
        Schema {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    /// One number from a query run inside the schema.
    pub async fn count(&self, sql: &str) -> i64 {
        let client = connect(&with_params(
            &self.admin_url,
            &format!("options=-csearch_path%3D{}", self.name),
        ))
        .await;
        client.query_one(sql, &[]).await.expect(sql).get(0)
    }

    /// Kills every connection hookd holds to this schema (what a failover or a
    /// `pg_terminate_backend` by an operator does); returns how many.
    pub async fn terminate_connections(&self) -> i64 {
        connect(&self.admin_url)
            .await
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .expect("terminating connections")
            .get(0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // The test's runtime may be gone or busy: use a thread with its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                connect(&url)
                    .await
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
            })
        });
        let _ = done.join();
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A private PostgreSQL cluster on its own port.
pub struct PrivateServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// Runs the server's tools as this user (initdb refuses root).
    run_as: Option<String>,
}

impl PrivateServer {
    /// Creates and starts a cluster, or returns `None` (printing why) where PostgreSQL's
    /// server binaries are not installed.
    pub fn start(test: &str) -> Option<PrivateServer> {
        let Some(bin) = server_bindir() else {
            eprintln!("skipped {test}: PostgreSQL server binaries (initdb, pg_ctl) not found");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let run_as = is_root().then(|| "postgres".to_owned());
        if run_as.is_some() {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster directory");
        }
        let server = PrivateServer {
            bin,
            dir,
            port: super::free_port(),
            run_as,
        };
        let data = server.data_dir();
        server.tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        );
        server.up();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server the way a crash or power cut would (no shutdown checkpoint; the
    /// next start runs crash recovery).
    pub fn crash(&self) {
        let data = self.data_dir();
        self.tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Freezes every process of the server (the postmaster first, so it forks no new
    /// backend, then its children) with SIGSTOP: the server keeps its sockets open and
    /// answers nothing, as a hung host or a stalled VM would.
    pub fn freeze(&self) {
        let pids = self.processes().expect("the server runs");
        signal("STOP", &pids);
    }

    /// Resumes the processes [`PrivateServer::freeze`] stopped (children first).
    pub fn thaw(&self) {
        let mut pids = self.processes().expect("the server runs");
        pids.reverse();
        signal("CONT", &pids);
    }

    /// The postmaster's pid (first line of `postmaster.pid`), then its children's.
    fn processes(&self) -> Option<Vec<u32>> {
        let pid_file = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let postmaster: u32 = pid_file.lines().next()?.trim().parse().ok()?;
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after `)`.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        Some(pids)
    }

    fn tool(&self, name: &str, args: &[&str]) {
        let exe = self.bin.join(name);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().expect("running a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // A test that failed while the server was frozen must not leave it stopped.
        if let Some(pids) = self.processes() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .args(pids.iter().map(u32::to_string))
                .status();
        }
        let data = self.data_dir();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

/// `kill -<sig>` to every pid.
fn signal(sig: &str, pids: &[u32]) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{sig} {pids:?}");
}

/// Where `initdb` and `pg_ctl` live: `HOOKD_TEST_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/*/bin`, else `PATH`.
fn server_bindir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("HOOKD_TEST_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
