//! End-to-end tests: the real server on port 0 with a temporary SQLite database, driven
//! over HTTP, delivering to a real receiver on loopback.

mod support;

mod api;
mod databases;
mod delivery;
mod failure;
