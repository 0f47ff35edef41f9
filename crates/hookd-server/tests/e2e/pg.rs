//! PostgreSQL for end-to-end tests: a schema of its own on the server named by
//! `HOOKD_TEST_POSTGRES_URL`, dropped when the test ends (passed or failed).

use tokio_postgres::NoTls;

/// An isolated schema; `url` confines hookd to it through `search_path`.
pub struct PgSchema {
    base_url: String,
    name: String,
    pub url: String,
}

impl PgSchema {
    /// A fresh schema, or `None` (after saying the test is skipped) when no test server is
    /// configured.
    pub async fn create(test: &str) -> Option<Self> {
        let base_url = match std::env::var("HOOKD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                eprintln!("skipped {test} on PostgreSQL: HOOKD_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let name = format!("hookd_e2e_{:016x}", rand::random::<u64>());
        admin(&base_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("creating a test schema");
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-csearch_path%3D{name}&application_name={name}");
        Some(Self {
            base_url,
            name,
            url,
        })
    }
}

impl Drop for PgSchema {
    /// Drops the schema from a thread with its own runtime: this may run while the test's
    /// runtime is shutting down, or during a panic.
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                // A lock the stopping server still holds must not hang the test: give up
                // after a few seconds and say so.
                let dropped = admin(&url)
                    .await
                    .batch_execute(&format!(
                        "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                    ))
                    .await;
                if let Err(e) = dropped {
                    eprintln!("leaving test schema {name} behind: {e}");
                }
            });
        })
        .join();
    }
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(conn);
    client
}
