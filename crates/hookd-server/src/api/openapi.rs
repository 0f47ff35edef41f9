//! The API's OpenAPI 3.1 document, generated from the code, and the routes that serve it.
//!
//! - Each handler carries its operation (`#[utoipa::path]`: path, method, parameters, body,
//!   success responses) and each request or response type its schema (`ToSchema`, read
//!   from the same serde attributes that shape the JSON), so the document changes with the
//!   code. Where hookd mirrors Svix, the operation ids, tags, parameter and schema names
//!   are Svix's (`v1.application.list`, `ApplicationOut`, `ListResponse_ApplicationOut_`).
//! - [`Conventions`] adds what every operation shares, once: the bearer token, the
//!   `idempotency-key` header on POSTs, and the error responses (`HttpErrorOut`, and
//!   `HTTPValidationError` for 422) with the statuses [`ApiError`] can answer.
//! - [`document`] is the JSON, built once per process; `GET /api/v1/openapi.json` serves
//!   it, `hookd openapi` prints it, and `docs/openapi.json` is a committed copy that a test
//!   keeps equal to it.
//! - `GET /docs` is a reference page rendered here from the same document: plain HTML and
//!   one inline stylesheet, no script, nothing fetched from elsewhere, so it works offline.
//!
//! [`ApiError`]: crate::api::http::error::ApiError

use crate::api::http::error::{HttpErrorOut, ValidationErrorOut};
use crate::api::http::pagination::Ordering;
use crate::api::{app, endpoint, event_type, health, ingest, message, portal, scrape};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use sha2::Digest as _;
use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, HttpMethod, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookd API",
        description = "The HTTP API of hookd, a self-hosted webhooks service. Where hookd mirrors \
            Svix (applications, event types, endpoints, messages, attempts, app-portal access), \
            paths, fields and status codes are Svix's, so the official Svix SDKs work unchanged; \
            the ingest gateway, readiness and metrics are hookd's own.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        app::list, app::create, app::get, app::upsert, app::patch, app::delete,
        event_type::list, event_type::create, event_type::get, event_type::upsert,
        event_type::patch, event_type::delete,
        endpoint::list, endpoint::create, endpoint::get, endpoint::upsert, endpoint::patch,
        endpoint::delete,
        endpoint::secret::get, endpoint::secret::rotate, endpoint::stats::stats, endpoint::stats::series,
        endpoint::send_example::send_example,
        endpoint::headers::get, endpoint::headers::update, endpoint::headers::patch,
        endpoint::recovery::recover, endpoint::recovery::list, endpoint::recovery::get,
        message::create, message::list, message::get, message::expunge_content, message::precheck,
        message::attempt::list_by_endpoint, message::attempt::list_by_msg,
        message::attempt::get, message::attempt::expunge_content,
        message::attempt::list_destinations, message::attempt::resend,
        portal::app_portal_access,
        ingest::source::list, ingest::source::create, ingest::source::get,
        ingest::source::update, ingest::source::delete, ingest::source::rotate_token,
        ingest::rejection::list,
        ingest::endpoint::list, ingest::endpoint::create, ingest::endpoint::get,
        ingest::endpoint::upsert, ingest::endpoint::delete, ingest::endpoint::secret,
        ingest::endpoint::rotate_secret, ingest::endpoint::headers,
        ingest::endpoint::update_headers, ingest::endpoint::patch_headers,
        ingest::receive::receive,
        health::health, health::ready, health::ping, openapi_json, docs_page,
        scrape::metrics,
    ),
    components(schemas(HttpErrorOut, ValidationErrorOut, Ordering)),
    modifiers(&Conventions),
    tags(
        (name = "Application", description = "Applications: one per customer of yours; everything else lives under one."),
        (name = "Event Type", description = "The kinds of events you send, with their schemas."),
        (name = "Endpoint", description = "Where an application's messages are delivered."),
        (name = "Message", description = "Events sent to an application, fanned out to its endpoints."),
        (name = "Message Attempt", description = "Each delivery attempt of a message to an endpoint."),
        (name = "Background Task", description = "Long-running work, such as a recovery."),
        (name = "Authentication", description = "Tokens for the consumer app portal."),
        (name = "Ingest", description = "hookd's ingest gateway: sources that receive providers' webhooks, verify and forward them."),
        (name = "Health", description = "Liveness, readiness and metrics, without the API token."),
    ),
)]
struct ApiDoc;

/// The document as pretty JSON (with a final newline, as committed), built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut json = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        json.push('\n');
        json
    })
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "Health",
    operation_id = "hookd.openapi.get", summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

/// `GET /docs`.
#[utoipa::path(get, path = "/docs", tag = "Health",
    operation_id = "hookd.docs.get", summary = "The API reference page",
    responses((status = 200, description = "This document as an HTML page", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Response {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    let (page, policy) = PAGE.get_or_init(|| {
        let digest = sha2::Sha256::digest(reference::STYLE.as_bytes());
        let policy = format!(
            "default-src 'none'; style-src 'sha256-{}'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        (reference::render(document()), policy)
    });
    (
        [
            (header::CONTENT_SECURITY_POLICY, policy.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(page.as_str()),
    )
        .into_response()
}

/// What every operation shares, added once instead of on each handler.
struct Conventions;

/// Routes without the bearer token: they answer before authentication.
fn is_public(path: &str) -> bool {
    path.starts_with("/api/v1/health")
        || path == "/api/v1/openapi.json"
        || path == "/docs"
        || path == "/metrics"
        || path == "/ingest/{token}"
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "HTTPBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token, or an app-portal token limited to one application, \
                         in `Authorization: Bearer ...`.",
                    ))
                    .build(),
            ),
        );
        let bearer = SecurityRequirement::new("HTTPBearer", Vec::<String>::new());
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = is_public(path);
            for (method, operation) in operations(item) {
                if !public {
                    operation.security = Some(vec![bearer.clone()]);
                    if method == HttpMethod::Post && !path.starts_with("/ingest/{") {
                        add_idempotency_key(operation);
                    }
                }
                add_errors(operation, public);
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

fn add_idempotency_key(operation: &mut Operation) {
    let parameter = ParameterBuilder::new()
        .name("idempotency-key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A retry with the same key gets the first request's response instead of running \
             again (kept for `idempotency_ttl`).",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(256)),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(parameter));
}

/// The error statuses [`crate::api::http::error::ApiError`] answers, with their bodies.
fn add_errors(operation: &mut Operation, public: bool) {
    let has_body = operation.request_body.is_some();
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if has_body {
        errors.push(("400", "The body is not JSON, or could not be read"));
    }
    if !public {
        errors.extend([
            ("401", "No token, or a wrong one"),
            ("403", "The token does not reach this route"),
        ]);
    }
    if !public {
        errors.extend([
            ("404", "The addressed resource does not exist"),
            (
                "409",
                "A unique key is taken, or a request with this idempotency-key is still running",
            ),
        ]);
    }
    if has_body {
        errors.push(("413", "The body is larger than the server accepts"));
    }
    errors.push((
        "503",
        "Storage is unavailable, full or shutting down; nothing was written, retry later",
    ));
    for (status, description) in errors {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name(HttpErrorOut::name()))),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(response.into());
    }
    if !public {
        let response = ResponseBuilder::new()
            .description("A value was refused; `detail[].loc` names it")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name(ValidationErrorOut::name()))),
            )
            .build();
        operation
            .responses
            .responses
            .entry("422".to_owned())
            .or_insert(response.into());
    }
}

mod reference {
    //! The `/docs` page: the document rendered as HTML, here, once. Every text taken from
    //! the document is escaped; the one stylesheet is inline and allowed by its hash in
    //! the page's Content-Security-Policy, which allows nothing else (no script at all).

    use serde_json::{Map, Value};
    use std::fmt::Write;

    pub const STYLE: &str =
        "body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:0 auto;\
padding:1rem 2rem;color:#1d2430}h1{margin-bottom:0}h2{border-bottom:2px solid #d8dee8;\
padding-bottom:.2rem;margin-top:2.5rem}h3{margin:1.8rem 0 .3rem;font-size:1.05rem}\
code,.path{font-family:ui-monospace,monospace}.m{display:inline-block;min-width:4.2rem;\
text-align:center;border-radius:4px;color:#fff;font-weight:600;font-size:.8rem;\
padding:.1rem .3rem;margin-right:.5rem}.get{background:#2f6fbf}.post{background:#2e8b57}\
.put{background:#b8860b}.patch{background:#8a5fb8}.delete{background:#c0392b}\
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border:1px solid #d8dee8;\
padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f5f9}\
nav ul{columns:2}.muted{color:#5b6578}a{color:#1f5fa8}";

    pub fn render(document: &str) -> String {
        let doc: Value = serde_json::from_str(document).expect("the document is JSON");
        let mut out = String::with_capacity(256 * 1024);
        let title = text(&doc["info"]["title"]);
        let _ = write!(
            out,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head><body><header><h1>{title}</h1>\
             <p class=\"muted\">Version {} &middot; OpenAPI {} &middot; \
             <a href=\"/api/v1/openapi.json\">openapi.json</a></p><p>{}</p></header>",
            text(&doc["info"]["version"]),
            text(&doc["openapi"]),
            text(&doc["info"]["description"]),
        );
        let tags = doc["tags"].as_array().cloned().unwrap_or_default();
        let operations = operations(&doc);
        out.push_str("<nav><h2>Contents</h2><ul>");
        for tag in &tags {
            let name = tag["name"].as_str().unwrap_or_default();
            let _ = write!(
                out,
                "<li><a href=\"#tag-{}\">{}</a></li>",
                anchor(name),
                esc(name)
            );
        }
        out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav><main>");
        for tag in &tags {
            let name = tag["name"].as_str().unwrap_or_default();
            let _ = write!(
                out,
                "<section><h2 id=\"tag-{}\">{}</h2><p>{}</p>",
                anchor(name),
                esc(name),
                text(&tag["description"])
            );
            for (method, path, op) in operations.iter().filter(|(_, _, op)| has_tag(op, name)) {
                operation(&mut out, method, path, op);
            }
            out.push_str("</section>");
        }
        out.push_str("<section><h2 id=\"schemas\">Schemas</h2>");
        if let Some(schemas) = doc["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                schema_section(&mut out, name, schema);
            }
        }
        out.push_str("</section></main></body></html>");
        out
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for method in ["get", "post", "put", "patch", "delete", "head"] {
                    if let Some(op) = item.get(method) {
                        out.push((method.to_owned(), path.clone(), op.clone()));
                    }
                }
            }
        }
        out
    }

    fn has_tag(op: &Value, tag: &str) -> bool {
        op["tags"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t == tag))
    }

    fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
        let id = op["operationId"].as_str().unwrap_or(path);
        let _ = write!(
            out,
            "<h3 id=\"op-{}\"><span class=\"m {method}\">{}</span><span class=\"path\">{}</span></h3>\
             <p><strong>{}</strong> <span class=\"muted\">(<code>{}</code>{})</span></p>",
            anchor(id),
            method.to_uppercase(),
            esc(path),
            text(&op["summary"]),
            esc(id),
            if op.get("security").is_some() { ", bearer token" } else { ", no token" },
        );
        if let Some(description) = op["description"].as_str() {
            let _ = write!(out, "<p>{}</p>", prose(description));
        }
        if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
            out.push_str(
                "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
            );
            for p in params {
                let required = if p["required"] == true {
                    " (required)"
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    text(&p["name"]),
                    text(&p["in"]),
                    type_of(&p["schema"]),
                    text(&p["description"]),
                );
            }
            out.push_str("</table>");
        }
        if let Some(content) = op["requestBody"]["content"].as_object() {
            for (media, body) in content {
                let _ = write!(
                    out,
                    "<p>Body (<code>{}</code>): {}</p>",
                    esc(media),
                    type_of(&body["schema"])
                );
            }
        }
        if let Some(responses) = op["responses"].as_object() {
            out.push_str("<table><tr><th>Status</th><th>Body</th><th>When</th></tr>");
            for (status, response) in responses {
                let body = response["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map(|c| type_of(&c["schema"]))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{body}</td><td>{}</td></tr>",
                    esc(status),
                    text(&response["description"])
                );
            }
            out.push_str("</table>");
        }
    }

    fn schema_section(out: &mut String, name: &str, schema: &Value) {
        let _ = write!(out, "<h3 id=\"schema-{}\">{}</h3>", anchor(name), esc(name));
        if let Some(description) = schema["description"].as_str() {
            let _ = write!(out, "<p>{}</p>", prose(description));
        }
        let mut objects = vec![schema];
        if let Some(all) = schema["allOf"].as_array() {
            let _ = write!(
                out,
                "<p>All of: {}</p>",
                all.iter().map(type_of).collect::<Vec<_>>().join(", ")
            );
            objects.extend(all.iter());
        }
        let empty = Map::new();
        for object in objects {
            let properties = object["properties"].as_object().unwrap_or(&empty);
            if properties.is_empty() {
                continue;
            }
            let required: Vec<&str> = object["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
            for (field, property) in properties {
                let mark = if required.contains(&field.as_str()) {
                    " (required)"
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    type_of(property),
                    text(&property["description"])
                );
            }
            out.push_str("</table>");
        }
        if object_is_plain(schema) {
            let _ = write!(out, "<p>Type: {}</p>", type_of(schema));
        }
    }

    fn object_is_plain(schema: &Value) -> bool {
        schema.get("properties").is_none() && schema.get("allOf").is_none()
    }

    /// A schema's type in a few words, with links to named schemas.
    fn type_of(schema: &Value) -> String {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            return format!("<a href=\"#schema-{}\">{}</a>", anchor(name), esc(name));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(items) = schema[key].as_array() {
                return items.iter().map(type_of).collect::<Vec<_>>().join(" or ");
            }
        }
        if let Some(values) = schema["enum"].as_array() {
            let values: Vec<String> = values.iter().map(|v| esc(&v.to_string())).collect();
            return format!("one of <code>{}</code>", values.join(", "));
        }
        let kinds: Vec<&str> = match &schema["type"] {
            Value::String(kind) => vec![kind.as_str()],
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let words: Vec<String> = kinds
            .iter()
            .map(|kind| match *kind {
                "array" => format!("array of {}", type_of(&schema["items"])),
                "object" if schema["additionalProperties"].is_object() => {
                    format!("map of {}", type_of(&schema["additionalProperties"]))
                }
                other => match schema["format"].as_str() {
                    Some(format) => format!("{} ({})", esc(other), esc(format)),
                    None => esc(other),
                },
            })
            .collect();
        if words.is_empty() {
            "any".to_owned()
        } else {
            words.join(" or ")
        }
    }

    fn text(value: &Value) -> String {
        prose(value.as_str().unwrap_or_default())
    }

    /// Escaped text whose `backticked` spans become `<code>`.
    pub fn prose(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 16);
        let ticks = s.matches('`').count();
        for (i, part) in s.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(&esc(part));
            } else if i < ticks {
                let _ = write!(out, "<code>{}</code>", esc(part));
            } else {
                // No closing backtick: the text as written.
                let _ = write!(out, "`{}", esc(part));
            }
        }
        out
    }

    fn anchor(name: &str) -> String {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    }

    /// HTML-escapes text for element content and quoted attribute values.
    pub fn esc(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    fn doc() -> Value {
        serde_json::from_str(document()).unwrap()
    }

    /// `(method, path, operation)` of every operation in `doc`.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method != "parameters" {
                    out.push((method.clone(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// `docs/openapi.json` is the document the code generates. After changing the API,
    /// regenerate it with `cargo run -p hookd -- openapi > docs/openapi.json`.
    #[test]
    fn committed_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == document(),
            "docs/openapi.json differs from the document the code generates; regenerate it \
             with `cargo run -p hookd -- openapi > docs/openapi.json` and review the diff"
        );
    }

    #[test]
    fn document_is_openapi_3_1_and_self_consistent() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        // Every `$ref` names a schema that exists, and every schema is used.
        let mut refs = BTreeSet::new();
        fn walk(value: &Value, refs: &mut BTreeSet<String>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("$ref", Value::String(r)) => {
                                refs.insert(r.clone());
                            }
                            _ => walk(v, refs),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        walk(&doc, &mut refs);
        let schemas: BTreeSet<String> = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("#/components/schemas/{k}"))
            .collect();
        assert_eq!(refs, schemas, "dangling or unused schemas");
        let mut ids = BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            let tags = op["tags"].as_array().cloned().unwrap_or_default();
            assert_eq!(tags.len(), 1, "{method} {path} has one tag");
            // The path's placeholders are exactly its path parameters.
            let placeholders: BTreeSet<&str> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(placeholders, in_path, "{method} {path}: path parameters");
            let success = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .any(|status| status.starts_with('2'));
            assert!(success, "{method} {path} documents no success");
        }
    }

    /// Where hookd mirrors Svix, the document says so with Svix's names: the same paths,
    /// methods, operation ids, path and query parameter names, success statuses and the
    /// names of their schemas, whose required fields hookd's schemas all have. Read
    /// against `../shared/reference/svix-openapi.json` (beside the repository); skipped
    /// without it unless `HOOKD_REQUIRE_VECTORS=1`.
    #[test]
    fn shared_routes_use_svix_names() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/svix-openapi.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            assert!(
                std::env::var("HOOKD_REQUIRE_VECTORS").as_deref() != Ok("1"),
                "{path} is missing"
            );
            eprintln!("skipped: {path} is missing");
            return;
        };
        let svix: Value = serde_json::from_str(&text).unwrap();
        let hookd = doc();
        // Svix operations hookd does not serve, and why.
        let absent: BTreeMap<(&str, &str), &str> = BTreeMap::from([
            (
                ("post", "/api/v1/auth/logout"),
                "portal tokens are stateless; they expire",
            ),
            (
                ("get", "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg"),
                "not built yet (issue 17: the rest of the SDK's routes)",
            ),
            (
                ("head", "/api/v1/health"),
                "HEAD is answered for every GET route, not listed",
            ),
            (
                ("head", "/api/v1/health/ping"),
                "HEAD is answered for every GET route, not listed",
            ),
        ]);
        // Success statuses where hookd answers differently, and why.
        let status_differs: BTreeMap<(&str, &str), &str> = BTreeMap::from([
            (
                ("get", "/api/v1/health"),
                "200 with the components' states, instead of an empty 204",
            ),
            (
                (
                    "post",
                    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
                ),
                "200 with the new key, instead of an empty 204",
            ),
        ]);
        // Request bodies under another name, and why.
        let body_differs: BTreeMap<(&str, &str), &str> = BTreeMap::from([
            (
                ("put", "/api/v1/app/{app_id}/endpoint/{endpoint_id}"),
                "one body (EndpointIn) for create and replace",
            ),
            (
                ("put", "/api/v1/event-type/{event_type_name}"),
                "one body (EventTypeIn) for create and replace",
            ),
        ]);
        let schema_ref = |content: &Value| -> Option<String> {
            let schema = &content["application/json"]["schema"];
            let r = schema["$ref"]
                .as_str()
                .or_else(|| schema["oneOf"][0]["$ref"].as_str())?;
            Some(r.rsplit('/').next().unwrap().to_owned())
        };
        let resolve = |p: &Value| -> Value {
            match p["$ref"].as_str() {
                Some(r) => svix["components"]["parameters"][r.rsplit('/').next().unwrap()].clone(),
                None => p.clone(),
            }
        };
        let mut compared = 0;
        let mut schema_names = BTreeSet::new();
        for (path, item) in svix["paths"].as_object().unwrap() {
            let shared_params: Vec<Value> = item["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(resolve).collect())
                .unwrap_or_default();
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let key = (method.as_str(), path.as_str());
                let Some(ours) = hookd["paths"][path].get(method) else {
                    assert!(
                        absent.contains_key(&key),
                        "hookd does not document {method} {path}"
                    );
                    continue;
                };
                assert!(
                    !absent.contains_key(&key),
                    "{method} {path} is no longer absent"
                );
                compared += 1;
                let id = op["operationId"].as_str().unwrap_or_default();
                // Svix's older ids (`patch_application`) are not the SDK's; skip those.
                if id.starts_with("v1.") {
                    assert_eq!(ours["operationId"], id, "{method} {path}: operationId");
                }
                let names = |params: Vec<Value>| -> BTreeSet<(String, String)> {
                    params
                        .iter()
                        .map(|p| {
                            (
                                p["in"].as_str().unwrap().to_owned(),
                                p["name"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect()
                };
                let theirs: Vec<Value> = op["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().map(resolve).collect())
                    .unwrap_or_default();
                let theirs = names([shared_params.clone(), theirs].concat());
                let our_params = names(ours["parameters"].as_array().cloned().unwrap_or_default());
                let missing: Vec<_> = theirs.difference(&our_params).collect();
                assert!(
                    missing.is_empty(),
                    "{method} {path}: parameters missing: {missing:?}"
                );
                for (status, response) in op["responses"].as_object().unwrap() {
                    if !status.starts_with('2') {
                        continue;
                    }
                    let Some(our_response) = ours["responses"].get(status) else {
                        assert!(
                            status_differs.contains_key(&key),
                            "{method} {path}: no {status}"
                        );
                        continue;
                    };
                    let theirs = schema_ref(&response["content"]);
                    assert_eq!(
                        theirs,
                        schema_ref(&our_response["content"]),
                        "{method} {path} {status}: response schema"
                    );
                    schema_names.extend(theirs);
                }
                let theirs = schema_ref(&op["requestBody"]["content"]);
                if !body_differs.contains_key(&key) {
                    assert_eq!(
                        theirs,
                        schema_ref(&ours["requestBody"]["content"]),
                        "{method} {path}: request body"
                    );
                    schema_names.extend(theirs);
                }
            }
        }
        assert!(compared >= 35, "only {compared} operations compared");
        // A schema of the same name has every field Svix requires (an SDK parses it).
        for name in &schema_names {
            let theirs = &svix["components"]["schemas"][name];
            let ours = &hookd["components"]["schemas"][name];
            let mut our_fields: BTreeSet<&str> = BTreeSet::new();
            for object in
                std::iter::once(ours).chain(ours["allOf"].as_array().into_iter().flatten())
            {
                let object = match object["$ref"].as_str() {
                    Some(r) => &hookd["components"]["schemas"][r.rsplit('/').next().unwrap()],
                    None => object,
                };
                if let Some(props) = object["properties"].as_object() {
                    our_fields.extend(props.keys().map(String::as_str));
                }
            }
            for field in theirs["required"].as_array().into_iter().flatten() {
                let field = field.as_str().unwrap();
                assert!(
                    our_fields.contains(field),
                    "{name} lacks Svix's required field {field}"
                );
            }
        }
    }

    #[test]
    fn reference_page_escapes_and_links_everything() {
        let page = reference::render(document());
        assert!(page.starts_with("<!doctype html>"));
        for (_, _, op) in operations(&doc()) {
            let id = op["operationId"].as_str().unwrap();
            assert!(page.contains(&reference::esc(id)), "the page lacks {id}");
        }
        assert!(!page.contains("<script"), "the page has no script");
        assert_eq!(
            reference::esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            reference::prose("a `<b>` c `d"),
            "a <code>&lt;b&gt;</code> c `d"
        );
    }
}
