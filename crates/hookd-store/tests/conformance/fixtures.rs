//! Builders for test records: the hookd-core records come from the test kit (complete,
//! valid, at fixed times); the store's own types (main keys, page requests) are built here.

pub use hookd_testkit::fixtures::*;

use hookd_store::secrets::{Keyring, MainKey};
use hookd_store::PageRequest;

/// The main key of the suite's stores: every check runs with secrets sealed at rest.
pub fn test_keyring() -> Keyring {
    Keyring::new(main_key(1), Vec::new())
}

/// A fixed main key per `n` (for rotation tests).
pub fn main_key(n: u8) -> MainKey {
    use base64::Engine;
    MainKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([n; 32])).unwrap()
}

pub fn asc(limit: u32, after: Option<&str>) -> PageRequest {
    PageRequest {
        limit,
        after: after.map(str::to_owned),
        descending: false,
    }
}

pub fn desc(limit: u32, after: Option<&str>) -> PageRequest {
    PageRequest {
        descending: true,
        ..asc(limit, after)
    }
}

/// A page big enough to hold everything a test creates.
pub fn all() -> PageRequest {
    asc(10_000, None)
}
