//! What the binary-level tests share beyond the test kit: `hookd serve` processes
//! ([`Node`], whose [`Node::api`] is the kit's API client), load that keeps sending
//! (`load`), and an ingest source of the GitHub type with requests signed like GitHub's
//! (`github`).

pub mod github;
pub mod load;

use hookd_testkit::{free_port, poll_until, Api};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const TOKEN: &str = "binary-test-admin-token-0123";
/// The main key every test node shares (nodes of one PostgreSQL database must).
pub const MAIN_KEY: &str = "aG9va2QtdGVzdC1tYWluLWtleS0wMTIzNDU2Nzg5YWI=";

/// The URL of a SQLite database `hookd.db` in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hookd.db").display())
}

/// A running `hookd serve`; killed with SIGKILL when dropped.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:{port}/api/v1`.
    pub base: String,
    /// `http://127.0.0.1:{port}`: where `/ingest/...` lives.
    pub root: String,
}

impl Node {
    /// Starts a node on `database_url` and waits until it reports healthy. `env` adds or
    /// overrides `HOOKD_*` variables; an empty value removes one (`HOOKD_ADMIN_TOKEN`).
    pub async fn start(database_url: &str, data_dir: &Path, env: &[(&str, &str)]) -> Node {
        Self::spawn(database_url, data_dir, env, Stdio::inherit()).await
    }

    async fn spawn(
        database_url: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Node {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookd"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("HOOKD_DATABASE_URL", database_url)
            .env("HOOKD_DATA_DIR", data_dir)
            .env("HOOKD_ADMIN_TOKEN", TOKEN)
            .env("HOOKD_MAIN_KEY", MAIN_KEY)
            .env("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8")
            .env("HOOKD_RETRY_SCHEDULE", "0.5,0.5,1,1,1")
            .env("HOOKD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let node = Node {
            child: cmd.spawn().expect("hookd binary starts"),
            base: format!("http://127.0.0.1:{port}/api/v1"),
            root: format!("http://127.0.0.1:{port}"),
        };
        let api = node.api();
        poll_until("hookd reports healthy", Duration::from_secs(30), || async {
            api.health().await == Some(200)
        })
        .await;
        node
    }

    /// Like [`Node::start`], with the log (stderr, no colours) written to `log`.
    pub async fn start_logging(
        database_url: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Node {
        let file = std::fs::File::create(log).expect("creating the node's log file");
        let mut env = env.to_vec();
        env.push(("NO_COLOR", "1"));
        Self::spawn(database_url, data_dir, &env, Stdio::from(file)).await
    }

    /// The node's management API.
    pub fn api(&self) -> Api {
        Api::new(&self.root, TOKEN)
    }

    /// The process id, for reading `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
