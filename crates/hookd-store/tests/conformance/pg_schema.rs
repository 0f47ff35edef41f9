//! A store in a PostgreSQL schema of the test's own: the schema comes from the test kit
//! ([`PgSchema`], dropped when the test ends); this adds what only the store's tests
//! need, its options and an open store.

pub use hookd_testkit::postgres::with_params;
pub use hookd_testkit::PgSchema;

use hookd_store::postgres::{PostgresOptions, PostgresStore};
use std::sync::Arc;
use std::time::Duration;

/// Stores in a test schema.
pub trait SchemaStore {
    /// Options for a store in this schema: a small pool, short timeouts, secrets sealed
    /// under the suite's main key.
    fn options(&self) -> PostgresOptions;

    /// A store in this schema (the first one applies the migrations).
    async fn open(&self) -> Arc<PostgresStore>;
}

impl SchemaStore for PgSchema {
    fn options(&self) -> PostgresOptions {
        PostgresOptions {
            url: self.url().to_owned(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(2),
            keyring: Some(crate::fixtures::test_keyring()),
            ..PostgresOptions::default()
        }
    }

    async fn open(&self) -> Arc<PostgresStore> {
        Arc::new(PostgresStore::connect(&self.options()).await.unwrap())
    }
}
