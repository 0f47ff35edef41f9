//! A private PostgreSQL cluster: `initdb` in a temp dir, its own port, and the faults a
//! test may play on it (a crash, a freeze) without touching the shared test server.

use std::path::PathBuf;
use std::process::Command;

/// A private PostgreSQL cluster on its own port.
pub struct PrivateServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// Runs the server's tools as this user (initdb refuses root).
    run_as: Option<String>,
}

impl PrivateServer {
    /// Creates and starts a cluster, or returns `None` after printing that the calling test
    /// is skipped where PostgreSQL's server binaries are not installed.
    pub fn start() -> Option<PrivateServer> {
        let Some(bin) = server_bindir() else {
            let test = crate::current_test();
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
            port: crate::free_port(),
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

    /// A command running the server's tool `name`, as `run_as` when set.
    fn command(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&exe);
                c
            }
            None => Command::new(&exe),
        }
    }

    fn tool(&self, name: &str, args: &[&str]) {
        let out = self
            .command(name)
            .args(args)
            .output()
            .expect("running a PostgreSQL tool");
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
        let _ = self
            .command("pg_ctl")
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
