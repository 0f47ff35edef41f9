//! Extractors whose rejections are [`ApiError`]s (JSON, stable codes) instead of axum's
//! plain-text ones.
//!
//! - [`ApiJson`]: a JSON body. Not JSON → 400 `invalid_json`; JSON of the wrong shape →
//!   422 `validation` naming the field; over the body limit → 413 `payload_too_large`.
//!   The content type is not enforced, so `curl -d` works as well as the SDKs.
//! - [`OptionalJson`]: the same for a body that may be left out (empty: the defaults).
//! - [`ApiQuery`]: query parameters; bad ones → 422 naming the parameter.
//! - [`ApiPath`]: path parameters.
//!
//! All three refuse text holding a NUL (see [`super::nul_check`]) before a handler runs.

use super::error::ApiError;
use super::nul_check;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out: an empty (or blank) body is `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidJson(format!("could not read the request body: {rejection}"))
    }
}

/// Parses a JSON body, naming the offending field on a shape error or on a string holding
/// a NUL.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_json_shape(bytes)?;
    if let Some(path) = nul_check::in_json_body(bytes) {
        let mut loc = vec!["body".to_owned()];
        loc.extend(path);
        return Err(ApiError::Validation {
            loc,
            msg: nul_check::MSG.into(),
        });
    }
    Ok(value)
}

fn parse_json_shape<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let msg = strip_position(&inner.to_string());
            return Err(match inner.classify() {
                Category::Data => {
                    let field = match msg.strip_prefix("missing field `") {
                        Some(rest) => rest.trim_end_matches('`').to_owned(),
                        None if path != "." => path,
                        None => String::new(),
                    };
                    let mut loc = vec!["body".to_owned()];
                    if !field.is_empty() {
                        loc.push(field);
                    }
                    ApiError::Validation { loc, msg }
                }
                Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => {
                    ApiError::InvalidJson("the request body is empty; expected JSON".into())
                }
                _ => ApiError::InvalidJson(format!("the request body is not valid JSON: {msg}")),
            });
        }
    };
    de.end().map_err(|e| {
        ApiError::InvalidJson(format!(
            "the request body is not valid JSON: {}",
            strip_position(&e.to_string())
        ))
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the field path says more to an API user.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Query parameters. Unknown parameters are ignored (the SDKs send some hookd does not use).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A NUL comes in a URI only percent-encoded.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
                if let Some((param, _)) = pairs
                    .iter()
                    .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                {
                    return Err(ApiError::query(param, nul_check::MSG));
                }
            }
        }
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let (param, msg) = match text.split_once(": ") {
                    Some((param, msg)) if !param.contains(' ') => (param, msg),
                    _ => ("", text),
                };
                Err(ApiError::Validation {
                    loc: ["query", param]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| s.to_string())
                        .collect(),
                    msg: msg.to_owned(),
                })
            }
        }
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // No id or uid holds a NUL: such a path names nothing. A NUL comes in a path only
        // percent-encoded, so the parameters are looked at only when the path has one.
        if parts.uri.path().contains("%00") {
            let params = RawPathParams::from_request_parts(parts, state).await;
            let holder = params.ok().and_then(|p| {
                p.iter()
                    .find(|(_, v)| v.contains('\0'))
                    .map(|(k, _)| k.to_owned())
            });
            if let Some(param) = holder {
                return Err(ApiError::NotFound(format!(
                    "not found: the path's {param} {}",
                    nul_check::MSG
                )));
            }
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::Validation {
                loc: vec!["path".into()],
                msg: rejection.body_text(),
            }),
        }
    }
}

/// For PATCH bodies: tells "absent" (`None`) from "explicitly null" (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// For PATCH fields that may be left out but are not nullable in Svix's model (an
/// application's `name`, an endpoint's `url`): an explicit `null` is refused (422 naming
/// the field) rather than ignored. Use with `#[serde(default, deserialize_with = "not_null")]`.
pub fn not_null<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    match <Option<T> as serde::Deserialize>::deserialize(de)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(
            "may not be null; leave the field out to keep its value",
        )),
    }
}

/// Parses a time query parameter: RFC 3339, or an offset-less date-time taken as UTC (what
/// some SDKs send for naive datetimes).
pub fn parse_time(
    param: &str,
    value: Option<&str>,
) -> Result<Option<hookd_core::Timestamp>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    hookd_core::Timestamp::parse_rfc3339(value)
        .or_else(|| hookd_core::Timestamp::parse_rfc3339(&format!("{value}Z")))
        .map(Some)
        .ok_or_else(|| ApiError::query(param, format!("{param} must be an RFC 3339 date-time")))
}

/// Splits a comma-separated list parameter (how the SDKs send lists), dropping blanks.
pub fn split_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        event_type: String,
        payload: Box<RawValue>,
        #[serde(default)]
        channels: Option<Vec<String>>,
    }

    fn loc(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation { loc, .. } => loc,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn keeps_raw_payload_bytes() {
        let body = br#"{"eventType":"a.b","payload":{"z": 1,  "a":[1.50]}}"#;
        let parsed: Body = parse_json(body).unwrap();
        assert_eq!(parsed.event_type, "a.b");
        assert_eq!(parsed.payload.get(), r#"{"z": 1,  "a":[1.50]}"#);
        assert!(parsed.channels.is_none());
    }

    #[test]
    fn names_the_field_on_shape_errors() {
        let missing = parse_json::<Body>(br#"{"payload":{}}"#).unwrap_err();
        assert_eq!(loc(missing), ["body", "eventType"]);
        let wrong =
            parse_json::<Body>(br#"{"eventType":"a","payload":{},"channels":[1]}"#).unwrap_err();
        assert_eq!(loc(wrong), ["body", "channels[0]"]);
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        for body in [
            &b""[..],
            b"{",
            b"nope",
            br#"{"eventType":"a","payload":{}} x"#,
        ] {
            let err = parse_json::<Body>(body).unwrap_err();
            assert!(matches!(err, ApiError::InvalidJson(_)), "{body:?}: {err:?}");
        }
    }
}
