//! Requests no HTTP client library sends, written byte by byte over a socket: CR, LF and
//! NUL in headers, raw bytes in the request line, conflicting or lying lengths, bad
//! chunking. Each must get an answer that is no 5xx (or a closed connection), in time.

use super::{judge, Expect, Fixture, CLIENT_TIMEOUT};
use crate::support::{TestApp, TOKEN};

/// Requests written byte by byte, which no client library sends: (label, bytes).
fn raw_requests(fx: &Fixture, auth: &str) -> Vec<(String, Vec<u8>)> {
    let app = format!("/api/v1/app/{}", fx.app_id);
    let head = |line: &str, extra: &[u8]| {
        let mut r = format!("{line}\r\nhost: h\r\n{auth}\r\nconnection: close\r\n").into_bytes();
        r.extend_from_slice(extra);
        r.extend_from_slice(b"\r\n");
        r
    };
    // A request line holding bytes a `&str` cannot.
    let head_bytes = |line: &[&[u8]]| {
        let mut r = line.concat();
        r.extend_from_slice(
            format!("\r\nhost: h\r\n{auth}\r\nconnection: close\r\n\r\n").as_bytes(),
        );
        r
    };
    let get = format!("GET {app} HTTP/1.1");
    let post = "POST /api/v1/app HTTP/1.1".to_owned();
    vec![
        ("bare CR in a value".into(), head(&get, b"x-a: a\rb\r\n")),
        ("bare LF in a value".into(), head(&get, b"x-a: a\nb\r\n")),
        ("NUL in a value".into(), head(&get, b"x-a: a\0b\r\n")),
        ("space in a name".into(), head(&get, b"x a: b\r\n")),
        ("no colon".into(), head(&get, b"x-a\r\n")),
        ("obs-fold".into(), head(&get, b"x-a: a\r\n b\r\n")),
        (
            "obs-text token".into(),
            head(&get, b"authorization: Bearer \xff\xfe\r\n"),
        ),
        (
            "raw byte in path".into(),
            head_bytes(&[b"GET ", app.as_bytes(), b"\xff HTTP/1.1"]),
        ),
        (
            "NUL in path".into(),
            head_bytes(&[b"GET /api/v1/app/a\0b HTTP/1.1"]),
        ),
        (
            "space in path".into(),
            head(&format!("GET {app} x HTTP/1.1"), b""),
        ),
        (
            "bad method".into(),
            head(&format!("G@T {app} HTTP/1.1"), b""),
        ),
        ("asterisk".into(), head("GET * HTTP/1.1", b"")),
        (
            "absolute form".into(),
            head(&format!("GET http://evil{app} HTTP/1.1"), b""),
        ),
        ("http/1.0".into(), head(&format!("GET {app} HTTP/1.0"), b"")),
        ("http/9".into(), head(&format!("GET {app} HTTP/9.9"), b"")),
        (
            "long header".into(),
            head(&get, format!("x-a: {}\r\n", "h".repeat(200_000)).as_bytes()),
        ),
        (
            "long uri".into(),
            head(&format!("GET {app}/{} HTTP/1.1", "u".repeat(100_000)), b""),
        ),
        (
            "two lengths".into(),
            [
                head(
                    &post,
                    b"content-length: 2\r\ntransfer-encoding: chunked\r\n",
                ),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "negative length".into(),
            head(&post, b"content-length: -1\r\n"),
        ),
        (
            "length not a number".into(),
            head(&post, b"content-length: abc\r\n"),
        ),
        (
            "length twice".into(),
            [
                head(&post, b"content-length: 2\r\ncontent-length: 3\r\n"),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "bad chunk".into(),
            [
                head(&post, b"transfer-encoding: chunked\r\n"),
                b"zz\r\n{}\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "chunked, identity".into(),
            [
                head(&post, b"transfer-encoding: chunked, identity\r\n"),
                b"2\r\n{}\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "injected idempotency key".into(),
            [
                head(
                    &post,
                    b"idempotency-key: a\r\nx-injected: 1\r\ncontent-length: 2\r\n",
                ),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "body shorter than its length".into(),
            [head(&post, b"content-length: 100\r\n"), b"{}".to_vec()].concat(),
        ),
        (
            "LF line ends".into(),
            format!("GET {app} HTTP/1.1\nhost: h\n{auth}\nconnection: close\n\n").into_bytes(),
        ),
        (
            "NUL in a receive header".into(),
            head(
                "POST /ingest/no-such-token HTTP/1.1",
                b"x-hub-signature-256: a\0b\r\ncontent-length: 0\r\n",
            ),
        ),
    ]
}

/// Writes `request`, closes the writing half, and reads the answer to its end; returns
/// (status, body), or `None` when the server closed without answering.
async fn raw_exchange(addr: &str, request: &[u8]) -> Result<Option<(u16, Vec<u8>)>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        // The server may answer and close before all of it is written.
        let _ = conn.write_all(request).await;
        let _ = conn.shutdown().await;
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .map_err(|_| "no answer in time (a hang)".to_owned())??;
    if answer.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", &text[..text.len().min(100)]))?;
    let body_at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    Ok(Some((status, answer[body_at..].to_vec())))
}

/// Sends every raw request; returns (how many, what went wrong).
pub(crate) async fn run(app: &TestApp, fx: &Fixture) -> (usize, Vec<String>) {
    let addr = app
        .base
        .strip_prefix("http://")
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let requests = raw_requests(fx, &format!("authorization: Bearer {TOKEN}"));
    let mut failures = Vec::new();
    for (label, request) in &requests {
        match raw_exchange(&addr, request).await {
            Err(why) => failures.push(format!("raw [{label}]: {why}")),
            // Closing a connection it cannot parse is an answer, not a hang.
            Ok(None) => {}
            Ok(Some((status, body))) => {
                // hyper's own answers to heads it cannot parse (400, 414, 431) carry the
                // JSON body too: the listener replaces them.
                if let Some(why) = judge(status, &body, Expect::NoServerError) {
                    failures.push(format!("raw [{label}]: {why}"));
                }
            }
        }
    }
    (requests.len(), failures)
}
