//! hookd's test kit: what the crates' integration tests share, written once.
//!
//! Layout:
//! - `receiver`: [`Receiver`], a real HTTP endpoint on loopback (port 0) whose answers are
//!   scripted per path (status, headers, `Retry-After`, body, delay, held until released)
//!   and which records every request; its waits wake on each arrival.
//! - `wait`: [`wait_until`] and friends: wait for a condition up to a deadline, re-checked
//!   on a signal where one exists, polled only where nothing can signal. The module doc
//!   says which is which.
//! - `postgres`: [`PgSchema`], a schema of its own per test on the server named by
//!   `HOOKD_TEST_POSTGRES_URL`, dropped afterwards; [`PrivateServer`], a throw-away
//!   PostgreSQL cluster that a test may crash, freeze and restart.
//! - `fixtures`: complete, valid hookd-core records (application, event type, endpoint,
//!   message, destination, attempt) at fixed points in time.
//! - `api`: [`Api`], a small client of the management API (bearer token, JSON in and out),
//!   and of `/metrics` ([`Api::scrape`]).
//! - `scrape`: [`Scrape`], a `/metrics` page read back into series and values.
//!
//! The kit is dev-only (`publish = false`, only ever a dev-dependency) and depends on
//! hookd-core alone among hookd's crates: the store's, server's and binary's tests depend
//! on it, so it cannot depend on them. What needs their types (a store opened in a
//! schema, a server started on port 0) stays with those tests.

pub mod api;
pub mod fixtures;
pub mod postgres;
pub mod receiver;
pub mod scrape;
pub mod wait;

pub use api::Api;
pub use postgres::{PgSchema, PrivateServer};
pub use receiver::{Answer, Received, Receiver};
pub use scrape::Scrape;
pub use wait::{poll_until, wait_until, Recheck, Signal};

/// A TCP port free on 127.0.0.1 right now, for a process that must be told its port
/// (one started in-process binds port 0 itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// The running test's name, as the test harness names its thread ("this test" elsewhere),
/// for messages such as "skipped …".
pub(crate) fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" && !name.starts_with("tokio-") => name.to_owned(),
        _ => "this test".to_owned(),
    }
}
