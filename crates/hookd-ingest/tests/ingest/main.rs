//! hookd-ingest's one integration test binary: published vectors, requests signed by the
//! providers' own libraries (oracles), per-provider refusals, handshakes and property tests.

mod common;
mod handshakes;
mod oracles;
mod props;
mod refusals;
mod vectors;
