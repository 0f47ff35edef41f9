//! Text no database column can hold: U+0000. PostgreSQL's `text` refuses it (SQLite would
//! take it), so it is refused at the API edge, the same way on both backends, before it
//! reaches the store:
//! - a path parameter holding it names nothing: 404 (no id or uid can contain it);
//! - a query parameter holding it: 422 naming the parameter;
//! - a string (or object key) of a JSON body holding it: 422 with the path to the field
//!   (`["body", "metadata", "k"]`), except inside [`VERBATIM_FIELDS`].
//!
//! The extractors of [`super::extract`] call these checks; handlers never see such text.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Top-level body fields kept as the JSON sent: a message's `payload` is stored as text
/// with its escapes (`\u0000` stays six characters), and delivered byte for byte.
pub const VERBATIM_FIELDS: &[&str] = &["payload"];

/// What a request is told when its text holds a NUL.
pub const MSG: &str = "contains a NUL character (\\u0000), which cannot be stored";

/// The path (below the body) to the first string or key of the JSON `body` holding a NUL,
/// skipping [`VERBATIM_FIELDS`]; `None` when there is none. `body` is JSON already
/// accepted by the handler's type.
pub fn in_json_body(body: &[u8]) -> Option<Vec<String>> {
    // In JSON text a NUL can only be written as this escape; most bodies have none, and a
    // vectorised search finds that out at a small fraction of the cost of parsing them.
    memchr::memmem::find(body, b"\\u0000")?;
    let mut de = serde_json::Deserializer::from_slice(body);
    // A body this walk cannot read (a lone surrogate in a field the handler ignores, say)
    // holds no NUL the handler would store.
    Walk { top: true }.deserialize(&mut de).ok().flatten()
}

/// Finds the first NUL below one JSON value; the found path is built on the way out.
struct Walk {
    /// Whether this is the body itself, whose [`VERBATIM_FIELDS`] are not walked.
    top: bool,
}

type Found = Option<Vec<String>>;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = Found;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Found, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_str<E>(self, v: &str) -> Result<Found, E> {
        Ok(v.contains('\0').then(Vec::new))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let mut found = None;
        let mut index = 0usize;
        // Every element is read, also after a find: the parser checks the array's end.
        while found.is_none() {
            match seq.next_element_seed(Walk { top: false })? {
                Some(Some(mut path)) => {
                    path.insert(0, index.to_string());
                    found = Some(path);
                }
                Some(None) => index += 1,
                None => return Ok(None),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if found.is_some() || (self.top && VERBATIM_FIELDS.contains(&key.as_str())) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let below = map.next_value_seed(Walk { top: false })?;
            if key.contains('\0') {
                found = Some(vec![key]);
            } else if let Some(mut path) = below {
                path.insert(0, key);
                found = Some(path);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::in_json_body;

    #[test]
    fn finds_the_first_nul_and_its_path() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (r#"{"name":"a"}"#, None),
            (r#"{"name":"a\u0000b"}"#, Some(&["name"])),
            (
                r#"{"metadata":{"x":"1","k":"\u0000"}}"#,
                Some(&["metadata", "k"]),
            ),
            (
                r#"{"metadata":{"\u0000":"v"}}"#,
                Some(&["metadata", "\u{0}"]),
            ),
            (
                r#"{"channels":["a","b\u0000",1],"name":"\u0000"}"#,
                Some(&["channels", "1"]),
            ),
            (
                r#"{"a":[[{"b":["\u0000"]}]]}"#,
                Some(&["a", "0", "0", "b", "0"]),
            ),
            // An escaped backslash followed by "u0000" is no NUL.
            (r#"{"name":"\\u0000"}"#, None),
            // A message's payload is kept as sent, NULs included; its siblings are not.
            (r#"{"payload":{"a":"\u0000"},"eventType":"x"}"#, None),
            (
                r#"{"payload":{"a":"\u0000"},"eventType":"x\u0000"}"#,
                Some(&["eventType"]),
            ),
            (
                r#"{"application":{"payload":"\u0000"}}"#,
                Some(&["application", "payload"]),
            ),
        ];
        for (body, want) in cases {
            let got = in_json_body(body.as_bytes());
            let want = want.map(|p| p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{body}");
        }
    }
}
