//! The databases a test runs on: SQLite (the test's data directory) always, and PostgreSQL
//! in a schema of its own when `HOOKD_TEST_POSTGRES_URL` is set. The schema is dropped with
//! everything in it when the [`TestDb`] is dropped.

use hookd_server::config::{Config, Database};

pub struct TestDb {
    pub name: &'static str,
    /// `None`: the SQLite database in the test's data directory.
    postgres: Option<PgSchema>,
}

impl TestDb {
    /// Points `config` at this database.
    pub fn apply(&self, config: &mut Config) {
        if let Some(pg) = &self.postgres {
            config.database = Database::Postgres(pg.url.clone());
        }
    }
}

/// SQLite, then PostgreSQL if configured.
pub async fn test_databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb {
        name: "sqlite",
        postgres: None,
    }];
    match std::env::var("HOOKD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => dbs.push(TestDb {
            name: "postgres",
            postgres: Some(PgSchema::create(&url).await),
        }),
        _ => eprintln!("PostgreSQL part skipped: HOOKD_TEST_POSTGRES_URL is not set"),
    }
    dbs
}

struct PgSchema {
    admin_url: String,
    name: String,
    url: String,
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test PostgreSQL");
    tokio::spawn(conn);
    client
}

impl PgSchema {
    async fn create(admin_url: &str) -> Self {
        let name = format!("hookd_e2e_{:016x}", rand::random::<u64>());
        connect(admin_url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("creating a test schema");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-csearch_path%3D{name}");
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; the cleanup gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let dropped = connect(&url)
                    .await
                    .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                    .await;
                if let Err(e) = dropped {
                    eprintln!("leaving test schema {name} behind: {e}");
                }
            });
        })
        .join();
    }
}
