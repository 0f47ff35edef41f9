//! Test doubles for the engine tests: an in-memory store and a scriptable receiver.

pub mod harness;
pub mod receiver;
pub mod store;
