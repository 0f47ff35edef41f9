//! Tests of the real `hookd` binary, one module per area, all in one test binary (one link
//! of the binary's dependencies instead of one per file). Each starts `hookd` processes
//! (`support::Node`) on SQLite in a temp dir or PostgreSQL in a schema of its own, drives
//! them over HTTP, and checks what a receiver got, what the database holds and what the
//! log says. The receiver, the schema, the private PostgreSQL server and the waits come
//! from the test kit (`hookd-testkit`).
//!
//! Another process tells the test nothing: waits on a node's API, log or rows poll with a
//! deadline; waits on the receiver wake on its arrivals. Time runs on the real clock here
//! (retry timing, leases, throttles are the other process's), so nothing is paused.

mod support;

mod cluster;
mod commands;
mod crash;
mod db_deadline;
mod disk_full;
mod docs;
mod flags;
mod ingest_crash;
mod listener_limits;
mod localhost;
mod log_markers;
mod main_key;
mod operator_logs;
mod pg_faults;
mod prune;
mod quickstart;
mod stall;
mod version;
