//! A PostgreSQL schema of its own for each test, so tests run in parallel on one database
//! without seeing each other; it is dropped when the test ends, passed or failed.

use hookd_store::postgres::{PostgresOptions, PostgresStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Where the test server is; PostgreSQL tests are skipped without it.
const URL_VAR: &str = "HOOKD_TEST_POSTGRES_URL";

/// A schema `hookd_t_<random>` on the test server. Stores opened from it have that
/// schema as their search path and as their `application_name` (so a test can find its
/// own server connections in `pg_stat_activity`).
pub struct TestSchema {
    base_url: String,
    name: String,
}

impl TestSchema {
    /// Creates a fresh schema, or says the test is skipped and returns `None` when no test
    /// server is configured.
    pub async fn create() -> Option<Self> {
        let base_url = match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                eprintln!("skipped: {URL_VAR} is not set");
                return None;
            }
        };
        let name = format!("hookd_t_{:016x}", rand::random::<u64>());
        let admin = admin(&base_url).await;
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Some(Self { base_url, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test server's URL as given, for connections outside the schema.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of a store living in this schema.
    pub fn url(&self) -> String {
        with_params(
            &self.base_url,
            &[
                ("options", &format!("-csearch_path%3D{}", self.name)),
                ("application_name", &self.name),
            ],
        )
    }

    /// Options for a store in this schema: a small pool, short timeouts.
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions {
            url: self.url(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(2),
            keyring: Some(crate::fixtures::test_keyring()),
            ..PostgresOptions::default()
        }
    }

    /// A store in this schema (the first one applies the migrations).
    pub async fn open(&self) -> Arc<PostgresStore> {
        Arc::new(PostgresStore::connect(&self.options()).await.unwrap())
    }

    /// A plain connection to the test server, outside the store (and its pool).
    pub async fn admin(&self) -> tokio_postgres::Client {
        admin(&self.base_url).await
    }
}

impl Drop for TestSchema {
    /// Drops the schema from a thread of its own with its own runtime: this may run while
    /// the test's runtime is shutting down, or during a panic.
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = admin(&url).await;
                admin
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

/// Appends query parameters to a URL (values already percent-encoded).
pub fn with_params(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    for (key, value) in params {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here only ends this helper connection.
        let _ = connection.await;
    });
    client
}
