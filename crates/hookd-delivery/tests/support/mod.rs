//! What the engine tests share: the harness (an engine over a real SQLite store), a
//! scriptable receiver and a recording CONNECT proxy.

pub mod harness;
pub mod proxy;
