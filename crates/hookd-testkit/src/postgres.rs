//! PostgreSQL for tests.
//!
//! - [`PgSchema`]: a schema of its own on the server named by `HOOKD_TEST_POSTGRES_URL`, so
//!   tests run in parallel on one database without seeing each other. Its URL confines a
//!   client to the schema through `search_path` and tags every connection with the
//!   schema's name as `application_name`, so a test can find (and kill) them. Dropped with
//!   everything in it when the test ends, passed or failed.
//! - [`PrivateServer`] (in `postgres/private.rs`): a throw-away cluster on its own port
//!   that a test may crash, freeze and restart without disturbing the shared server.

mod private;

pub use private::PrivateServer;

use tokio_postgres::NoTls;

/// Names the shared test server; PostgreSQL tests say they are skipped without it.
pub const URL_VAR: &str = "HOOKD_TEST_POSTGRES_URL";

/// An isolated schema on the shared test server.
pub struct PgSchema {
    base_url: String,
    name: String,
    url: String,
}

impl PgSchema {
    /// A fresh schema, or `None` after printing that the calling test is skipped when
    /// `HOOKD_TEST_POSTGRES_URL` is not set. The test is named by its thread, as the test
    /// harness names it.
    pub async fn create() -> Option<PgSchema> {
        let base_url = match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let test = crate::current_test();
                eprintln!("skipped {test} on PostgreSQL: {URL_VAR} is not set");
                return None;
            }
        };
        let name = format!("hookd_test_{:016x}", rand::random::<u64>());
        connect(&base_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("creating a test schema");
        let url = with_params(
            &base_url,
            &[
                ("options", &format!("-csearch_path%3D{name}")),
                ("application_name", &name),
            ],
        );
        Some(PgSchema {
            base_url,
            name,
            url,
        })
    }

    /// The schema's name, also the `application_name` of connections made from [`url`](Self::url).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What hookd is given: the server's URL, confined to this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's URL as configured, for connections outside the schema.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A plain connection to the server, outside the schema (and any pool).
    pub async fn admin(&self) -> tokio_postgres::Client {
        connect(&self.base_url).await
    }

    /// A connection inside the schema, not tagged with its name (so
    /// [`terminate_connections`](Self::terminate_connections) spares it).
    pub async fn client(&self) -> tokio_postgres::Client {
        let options = format!("-csearch_path%3D{}", self.name);
        connect(&with_params(&self.base_url, &[("options", &options)])).await
    }

    /// One number from a query run inside the schema.
    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    /// Kills every connection made from [`url`](Self::url) (what a failover or an
    /// operator's `pg_terminate_backend` does); returns how many.
    pub async fn terminate_connections(&self) -> i64 {
        self.admin()
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

impl Drop for PgSchema {
    /// Drops the schema from a thread with its own runtime: this may run while the test's
    /// runtime is shutting down, or during a panic.
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, NoTls)
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(conn);
                // A lock a stopping server still holds must not hang the test: give up
                // after a few seconds and say so.
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                    ))
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("leaving test schema {} behind: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

/// `url` with query parameters appended (values already percent-encoded).
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

/// A connection to `url`, driven on the current runtime until the client is dropped.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here only ends this helper connection.
        let _ = conn.await;
    });
    client
}
