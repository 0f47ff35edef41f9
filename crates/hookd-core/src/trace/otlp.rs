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
use serde_json::{json, Map, Value as Json};

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

/// The request body for `spans`.
pub fn export_request(resource: &Resource, spans: &[SpanData]) -> Vec<u8> {
    let mut attributes = vec![
        attribute("service.name", &Value::from(resource.service_name.clone())),
        attribute(
            "service.version",
            &Value::from(resource.service_version.clone()),
        ),
    ];
    if let Some(id) = &resource.instance_id {
        attributes.push(attribute("service.instance.id", &Value::from(id.clone())));
    }
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": attributes },
            "scopeSpans": [{
                "scope": { "name": SCOPE, "version": resource.service_version },
                "spans": spans.iter().map(span).collect::<Vec<_>>(),
            }],
        }],
    });
    serde_json::to_vec(&body).expect("a JSON value serialises")
}

fn span(s: &SpanData) -> Json {
    let mut out = Map::new();
    out.insert(
        "traceId".into(),
        super::context::hex(&s.context.trace_id).into(),
    );
    out.insert(
        "spanId".into(),
        super::context::hex(&s.context.span_id).into(),
    );
    if let Some(parent) = &s.parent_span_id {
        out.insert("parentSpanId".into(), super::context::hex(parent).into());
    }
    out.insert("flags".into(), u32::from(s.context.flags).into());
    out.insert("name".into(), s.name.as_ref().into());
    out.insert("kind".into(), (s.kind as i64).into());
    out.insert(
        "startTimeUnixNano".into(),
        s.start_unix_nanos.to_string().into(),
    );
    out.insert(
        "endTimeUnixNano".into(),
        s.end_unix_nanos.to_string().into(),
    );
    out.insert(
        "attributes".into(),
        s.attributes
            .iter()
            .map(|(k, v)| attribute(k, v))
            .collect::<Vec<_>>()
            .into(),
    );
    let status = match &s.status {
        Status::Unset => json!({}),
        Status::Ok => json!({ "code": 1 }),
        Status::Error(message) => json!({ "code": 2, "message": message }),
    };
    out.insert("status".into(), status);
    Json::Object(out)
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Str(s) => json!({ "stringValue": s }),
        Value::Int(n) => json!({ "intValue": n.to_string() }),
        Value::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanKind, TraceContext};

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
            status: Status::Error("timeout".into()),
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
        assert_eq!(span["status"], json!({"code": 2, "message": "timeout"}));
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
