//! Finished spans as an OTLP `ExportTraceServiceRequest`, in the protobuf JSON mapping
//! OTLP/HTTP uses with `content-type: application/json`
//! (opentelemetry-proto `docs/specification.md`, "JSON Protobuf Encoding"):
//!
//! - field names in lowerCamelCase; enums (`kind`, `status.code`) as integers;
//! - `traceId` / `spanId` / `parentSpanId` as lowercase hex (not base64, unlike the
//!   generic protobuf JSON mapping);
//! - 64-bit integers (`startTimeUnixNano`, `endTimeUnixNano`, `intValue`) as decimal
//!   strings.
//!
//! One `resourceSpans` entry (hookd's resource) with one `scopeSpans` entry.

use super::{SpanData, Status, Value};
use std::io::Write as _;

/// The instrumentation scope name.
pub const SCOPE: &str = "hookd";

/// Who sends the spans: `service.name`, `service.version`, and `service.instance.id` when
/// the node has a name.
#[derive(Clone, Debug)]
pub struct Resource {
    pub service_name: String,
    pub service_version: String,
    pub instance_id: Option<String>,
}

/// The request body for `spans`. Written straight into bytes (strings escaped by
/// serde_json) rather than built as a JSON value first: about ten times faster, which
/// matters at thousands of spans a second.
pub fn export_request(resource: &Resource, spans: &[SpanData]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + spans.len() * 400);
    out.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    attribute(
        &mut out,
        "service.name",
        &Value::Str(resource.service_name.clone().into()),
    );
    out.push(b',');
    attribute(
        &mut out,
        "service.version",
        &Value::Str(resource.service_version.clone().into()),
    );
    if let Some(id) = &resource.instance_id {
        out.push(b',');
        attribute(
            &mut out,
            "service.instance.id",
            &Value::Str(id.clone().into()),
        );
    }
    out.extend_from_slice(b"]},\"scopeSpans\":[{\"scope\":{\"name\":");
    string(&mut out, SCOPE);
    out.extend_from_slice(b",\"version\":");
    string(&mut out, &resource.service_version);
    out.extend_from_slice(b"},\"spans\":[");
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        span(&mut out, s);
    }
    out.extend_from_slice(b"]}]}]}");
    out
}

fn span(out: &mut Vec<u8>, s: &SpanData) {
    out.extend_from_slice(b"{\"traceId\":\"");
    hex_into(out, &s.context.trace_id);
    out.extend_from_slice(b"\",\"spanId\":\"");
    hex_into(out, &s.context.span_id);
    out.push(b'"');
    if let Some(parent) = &s.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        hex_into(out, parent);
        out.push(b'"');
    }
    let _ = write!(out, ",\"flags\":{},\"name\":", u32::from(s.context.flags));
    string(out, &s.name);
    let _ = write!(
        out,
        ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[",
        s.kind as i64, s.start_unix_nanos, s.end_unix_nanos
    );
    for (i, (k, v)) in s.attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        attribute(out, k, v);
    }
    out.extend_from_slice(b"],\"status\":");
    match &s.status {
        Status::Unset => out.extend_from_slice(b"{}"),
        Status::Ok => out.extend_from_slice(b"{\"code\":1}"),
        Status::Error(message) => {
            out.extend_from_slice(b"{\"code\":2,\"message\":");
            string(out, message);
            out.push(b'}');
        }
    }
    out.push(b'}');
}

fn attribute(out: &mut Vec<u8>, key: &str, value: &Value) {
    out.extend_from_slice(b"{\"key\":");
    string(out, key);
    out.extend_from_slice(b",\"value\":");
    match value {
        Value::Str(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, s);
            out.push(b'}');
        }
        // int64 is a decimal string in the JSON mapping.
        Value::Int(n) => {
            let _ = write!(out, "{{\"intValue\":\"{n}\"}}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{{\"boolValue\":{b}}}");
        }
    }
    out.push(b'}');
}

/// A JSON string, escaped.
fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing into a Vec cannot fail");
}

fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanKind, TraceContext};
    use serde_json::{json, Value as Json};

    #[test]
    fn spans_are_encoded_in_the_otlp_json_mapping() {
        let ctx = TraceContext::parse_traceparent(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .unwrap();
        let spans = [SpanData {
            context: ctx,
            parent_span_id: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            name: "POST /api/v1/app/{app_id}/msg".into(),
            kind: SpanKind::Server,
            start_unix_nanos: 1_700_000_000_000_000_001,
            end_unix_nanos: 1_700_000_000_500_000_000,
            attributes: vec![
                ("http.route", Value::from("/api/v1/app/{app_id}/msg")),
                ("http.response.status_code", Value::Int(202)),
                ("hookd.duplicate", Value::Bool(false)),
            ],
            status: Status::Error("timed \"out\"\n\u{e9}".into()),
        }];
        let resource = Resource {
            service_name: "hookd".into(),
            service_version: "1.2.3".into(),
            instance_id: Some("node-a".into()),
        };
        let body: Json = serde_json::from_slice(&export_request(&resource, &spans)).unwrap();
        let rs = &body["resourceSpans"][0];
        assert_eq!(
            rs["resource"]["attributes"],
            json!([
                {"key": "service.name", "value": {"stringValue": "hookd"}},
                {"key": "service.version", "value": {"stringValue": "1.2.3"}},
                {"key": "service.instance.id", "value": {"stringValue": "node-a"}},
            ])
        );
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "hookd");
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(span["spanId"], "b7ad6b7169203331");
        assert_eq!(span["parentSpanId"], "0102030405060708");
        assert_eq!(span["name"], "POST /api/v1/app/{app_id}/msg");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000001");
        assert_eq!(span["endTimeUnixNano"], "1700000000500000000");
        assert_eq!(
            span["attributes"],
            json!([
                {"key": "http.route", "value": {"stringValue": "/api/v1/app/{app_id}/msg"}},
                {"key": "http.response.status_code", "value": {"intValue": "202"}},
                {"key": "hookd.duplicate", "value": {"boolValue": false}},
            ])
        );
        // Text is escaped: the body stays valid JSON whatever a message holds.
        assert_eq!(
            span["status"],
            json!({"code": 2, "message": "timed \"out\"\n\u{e9}"})
        );
    }

    #[test]
    fn a_root_span_has_no_parent_and_ok_is_code_1() {
        let t = crate::trace::Tracer::new(4);
        let mut s = t.start("commit", SpanKind::Internal, None).unwrap();
        s.set_ok();
        drop(s);
        let resource = Resource {
            service_name: "hookd".into(),
            service_version: "0".into(),
            instance_id: None,
        };
        let body: Json = serde_json::from_slice(&export_request(&resource, &t.take(4))).unwrap();
        let rs = &body["resourceSpans"][0];
        assert_eq!(rs["resource"]["attributes"].as_array().unwrap().len(), 2);
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert!(span.get("parentSpanId").is_none());
        assert_eq!(span["kind"], 1);
        assert_eq!(span["status"], json!({"code": 1}));
        assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    }
}
