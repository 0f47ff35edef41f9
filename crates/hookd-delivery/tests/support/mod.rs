//! Test doubles for the engine tests: an in-memory store, a scriptable receiver and a
//! recording CONNECT proxy.

pub mod harness;
pub mod proxy;
pub mod receiver;
pub mod store;
