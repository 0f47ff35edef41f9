//! Test support: `spawn_app` starts hookd in this process on port 0, on SQLite in a temp
//! dir or (with `spawn_on`) PostgreSQL in a schema of its own; the [`TestApp`] it returns
//! is the server's management API too. The receiver, the schema and the waits come from
//! the test kit (`hookd-testkit`).

use hookd_server::config::{Config, Database, Layer};
use hookd_testkit::{Api, PgSchema};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running hookd.
pub struct TestApp {
    api: Api,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    /// The PostgreSQL schema of a server started by [`spawn_on`], dropped after it.
    schema: Option<PgSchema>,
}

/// Starts hookd with a short retry schedule and loopback allowed, after `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    start(config, dir).await
}

/// Starts hookd again on the data directory of a stopped one.
pub async fn restart_in(dir: tempfile::TempDir) -> TestApp {
    let config = test_config(dir.path());
    start(config, dir).await
}

/// Starts hookd again on the data directory of a stopped one, after `tweak`.
pub async fn restart_in_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(dir.path());
    tweak(&mut config);
    start(config, dir).await
}

fn test_config(dir: &std::path::Path) -> Config {
    let flags = Layer {
        database_url: Some(format!("sqlite://{}", dir.join("hookd.db").display())),
        data_dir: Some(dir.to_path_buf()),
        admin_token: Some(TOKEN.into()),
        allowed_networks: Some("127.0.0.0/8,::1/128".into()),
        retry_schedule: Some("0.2,0.2".into()),
        request_timeout: Some(5.0),
        ..Default::default()
    };
    let mut config = Config::resolve(Layer::default(), flags).unwrap();
    config.poll_interval_ms = Duration::from_millis(20);
    config.shutdown_grace = Duration::from_secs(2);
    config
}

/// The database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    /// A schema of its own on `HOOKD_TEST_POSTGRES_URL`, dropped with the [`TestApp`].
    Postgres,
}

/// Starts hookd on `backend` after `tweak`; `None` (after saying so) when the backend is
/// PostgreSQL and no test server is configured.
pub async fn spawn_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    match backend {
        Backend::Sqlite => Some(spawn_app_with(tweak).await),
        Backend::Postgres => {
            let schema = PgSchema::create().await?;
            let url = schema.url().to_owned();
            let mut app = spawn_app_with(|c| {
                c.database_url = Some(Database::Postgres(url));
                tweak(c);
            })
            .await;
            app.schema = Some(schema);
            Some(app)
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The main key of servers on PostgreSQL (which has no data directory to keep one in).
const PG_MAIN_KEY: &str = "aG9va2QtZTJlLXRlc3QtbWFpbi1rZXktMDEyMzQ1Njc=";

async fn start(mut config: Config, dir: tempfile::TempDir) -> TestApp {
    if matches!(config.database(), Database::Postgres(_)) && config.main_key.is_none() {
        config.main_key = Some(hookd_store::secrets::MainKey::from_base64(PG_MAIN_KEY).unwrap());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(hookd_server::run(config, listener, shutdown.clone()));
    TestApp {
        api: Api::new(&root, TOKEN),
        shutdown,
        handle: Some(handle),
        dir: Some(dir),
        schema: None,
    }
}

impl TestApp {
    /// Stops the server gracefully and returns its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        self.handle.take().unwrap().await.unwrap().unwrap();
        self.dir.take().unwrap()
    }
}

/// The server's management API (`call`, `post`, `create_app`, `wait_for`, ...).
impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
