//! End-to-end tests: the real server on port 0 with a temporary SQLite database (and, in
//! `failure`, PostgreSQL too when `HOOKD_TEST_POSTGRES_URL` is set), driven
//! over HTTP, delivering to a real receiver on loopback.

mod support;

mod api;
mod databases;
mod delivery;
mod failure;
