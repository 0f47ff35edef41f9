//! End-to-end tests: the real server on port 0 with a temporary SQLite database (and, where
//! a test says so, PostgreSQL from `HOOKD_TEST_POSTGRES_URL`), driven over HTTP, delivering
//! to a real receiver on loopback.

mod pg;
mod support;

mod access;
mod api;
mod databases;
mod delivery;
mod failure;
mod flow;
mod ingest_api;
mod ingest_receive;
mod retention;
mod signing;
