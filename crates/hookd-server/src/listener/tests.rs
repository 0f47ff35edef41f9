//! Unit tests of the listener's pure parts; its behaviour on sockets is tested end to end
//! in `tests/e2e/listener.rs`.

use super::*;

impl Limits {
    /// The defaults, with a cap of two connections: what the unit tests of the listener's
    /// parts reason about.
    pub(super) fn for_tests() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 0,
            max_connections: 2,
        }
    }
}

#[test]
fn accept_backoff_grows_to_a_cap_and_resets() {
    let mut b = Backoff::default();
    let pauses: Vec<_> = (0..10).map(|_| b.next().as_millis()).collect();
    assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
    b.reset();
    assert_eq!(b.next(), Duration::from_millis(10));
}

#[test]
fn the_default_connection_cap_leaves_descriptors_for_the_rest() {
    assert_eq!(default_max_connections(Some(256)), 128);
    assert_eq!(default_max_connections(Some(1024)), 512);
    assert_eq!(default_max_connections(Some(4096)), 4096 - 640);
    assert_eq!(default_max_connections(Some(1 << 20)), 16_384);
    assert_eq!(default_max_connections(Some(u64::MAX)), 16_384);
    assert_eq!(default_max_connections(Some(10)), 16);
    assert_eq!(default_max_connections(None), 1024);
}

#[test]
fn raw_error_responses_are_whole_json_answers() {
    let text = String::from_utf8(error_response(431)).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert!(head.contains(&format!("content-length: {}", body.len())));
    assert!(head.contains("connection: close"));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["code"], "headers_too_large");
    assert!(v["detail"].is_string());
}
