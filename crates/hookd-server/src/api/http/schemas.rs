//! Schemas of request fields whose rules are hookd's own (the patterns and bounds of
//! `hookd_core::validate`), for the OpenAPI document: a client or a fuzzer reading it
//! knows what will be accepted. Fields point here with `#[schema(schema_with = ...)]`.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

/// `[A-Za-z0-9-_.]`, 1 to 256 (`validate::uid`, `validate::event_type_name`).
const TOKEN: &str = r"^[A-Za-z0-9\-_.]{1,256}$";
/// `[A-Za-z0-9-_.:]`, 1 to 128 (`validate::channel`).
const CHANNEL: &str = r"^[A-Za-z0-9\-_.:]{1,128}$";

fn string(pattern: &str, nullable: bool) -> ObjectBuilder {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .pattern(Some(pattern))
}

fn list(item: ObjectBuilder, max: Option<usize>) -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(item)
        .max_items(max)
        .into()
}

/// An optional uid.
pub fn uid() -> RefOr<Schema> {
    string(TOKEN, true)
        .description(Some(
            "Your own unique id, usable wherever the id is: 1 to 256 of `A-Z a-z 0-9 - _ .`, \
             not shaped like an id.",
        ))
        .into()
}

/// A required event type name.
pub fn event_type_name() -> RefOr<Schema> {
    string(TOKEN, false)
        .description(Some("1 to 256 of `A-Z a-z 0-9 - _ .`."))
        .examples(["invoice.paid"])
        .into()
}

/// An optional list of event type names (an endpoint's subscription).
pub fn event_type_names() -> RefOr<Schema> {
    list(string(TOKEN, false), Some(1000))
}

/// An optional list of channels.
pub fn channels() -> RefOr<Schema> {
    list(
        string(CHANNEL, false),
        Some(hookd_core::validate::MAX_CHANNELS),
    )
}

/// A URL hookd delivers to.
pub fn url() -> RefOr<Schema> {
    url_with(false)
}

/// A URL hookd delivers to, in a PATCH (absent: unchanged).
pub fn url_patch() -> RefOr<Schema> {
    url_with(true)
}

fn url_with(nullable: bool) -> RefOr<Schema> {
    string(r"^https?://[^/?#@\s]+", nullable)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .max_length(Some(65_536))
        .description(Some(
            "An absolute `http` or `https` URL with a host, without credentials or fragment.",
        ))
        .examples(["https://example.com/webhooks"])
        .into()
}
