//! hookd-ingest's one integration test binary: published vectors, per-provider
//! refusals, handshakes and property tests.

mod common;
mod handshakes;
mod props;
mod refusals;
mod vectors;
