//! The databases a test runs on: SQLite (the test's data directory) always, and PostgreSQL
//! in a schema of its own when `HOOKD_TEST_POSTGRES_URL` is set. The schema is dropped with
//! everything in it when the [`TestDb`] is dropped.

use hookd_server::config::{Config, Database};
use hookd_testkit::PgSchema;

pub struct TestDb {
    pub name: &'static str,
    /// `None`: the SQLite database in the test's data directory.
    postgres: Option<PgSchema>,
}

impl TestDb {
    /// Points `config` at this database.
    pub fn apply(&self, config: &mut Config) {
        if let Some(pg) = &self.postgres {
            config.database_url = Some(Database::Postgres(pg.url().to_owned()));
        }
    }
}

/// SQLite, then PostgreSQL if configured.
pub async fn test_databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb {
        name: "sqlite",
        postgres: None,
    }];
    if let Some(schema) = PgSchema::create().await {
        dbs.push(TestDb {
            name: "postgres",
            postgres: Some(schema),
        });
    }
    dbs
}
