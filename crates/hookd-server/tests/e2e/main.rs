//! End-to-end tests: the real server on port 0 with a temporary SQLite database (and, where
//! a test says so, PostgreSQL from `HOOKD_TEST_POSTGRES_URL`), driven over HTTP, delivering
//! to a real receiver on loopback.

/// Generates one test per backend from an `async fn(Backend)` of the calling module.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(crate::support::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(crate::support::Backend::Postgres).await } )*
        }
    };
}

mod support;

mod access;
mod api;
mod databases;
mod delivery;
mod failure;
mod flow;
mod hostile;
mod ingest_api;
mod ingest_receive;
mod input_rules;
mod listener;
mod metrics;
mod openapi;
mod retention;
mod signing;
mod traces;
mod web;
