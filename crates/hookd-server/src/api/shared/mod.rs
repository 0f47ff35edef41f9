//! What several areas of the API use from one another, kept out of their handler files
//! so that imports go one way: the areas (`message`, `endpoint`, `ingest`) import from
//! here, and nothing here imports an area but [`app`](crate::api::app), the root
//! resource every other one lives under.
//!
//! - [`fan_out`]: a new message's application and endpoints, from the fan-out cache.
//! - [`message`]: a message's JSON shape ([`MessageOut`](message::MessageOut)) and its
//!   payload's default expiry.

pub mod fan_out;
pub mod message;
