//! OpenAPI schemas of the core types the API shows: the prefixed ids and [`Timestamp`].
//! Each is a named component of the server's document, so its format is described once.

use crate::ids::BODY_LEN;
use crate::Timestamp;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// An id: `{prefix}_` and [`BODY_LEN`] base62 characters, time-ordered.
pub(crate) fn id_schema(prefix: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "A hookd id: `{prefix}_` followed by {BODY_LEN} base62 characters, ordered by creation time."
        )))
        .pattern(Some(format!("^{prefix}_[0-9A-Za-z]{{{BODY_LEN}}}$")))
        .examples([format!("{prefix}_2pYJ6rK1mQ3vN8sT0wXzA4")])
        .into()
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 date and time, in UTC with milliseconds."))
            .examples(["2026-12-01T10:00:00.123Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}
