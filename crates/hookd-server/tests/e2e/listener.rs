//! The listener against raw TCP clients: slow and silent heads, idle keep-alive
//! connections, slow bodies, the connection cap, hyper's parse errors, `Expect:
//! 100-continue` with an oversized body, and graceful shutdown. Timeouts are configured
//! short (a fraction of a second) so each test takes about a second.

use crate::support::{spawn_app_with, spawn_on, Backend, TestApp, TOKEN};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for anything the server should do at once.
const PROMPT: Duration = Duration::from_secs(5);

fn addr(app: &TestApp) -> String {
    app.base
        .trim_start_matches("http://")
        .trim_end_matches("/api/v1")
        .to_owned()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(addr(app)).await.unwrap()
}

/// A response as read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

/// The first response in `buf` (head and `content-length` body) and its size in bytes;
/// `None` while it is incomplete.
fn parse_response(buf: &[u8]) -> Option<(Raw, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let body = buf.get(head_end..head_end + len)?;
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    Some((Raw { status, head, body }, head_end + len))
}

/// Reads one response within [`PROMPT`] (and nothing after it).
async fn read_response(stream: &mut TcpStream) -> Raw {
    tokio::time::timeout(PROMPT, async {
        let mut buf = Vec::new();
        loop {
            if let Some((raw, size)) = parse_response(&buf) {
                assert_eq!(size, buf.len(), "more than one response: {buf:?}");
                return raw;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before a whole response: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("no response in time")
}

/// True once the server has closed the connection (EOF or reset), within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    matches!(
        tokio::time::timeout(within, stream.read(&mut chunk)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn assert_error(raw: &Raw, status: u16, code: &str) {
    assert_eq!(raw.status, status, "{raw:?}");
    assert_eq!(raw.body["code"], code, "{raw:?}");
    assert!(raw.body["detail"].is_string(), "{raw:?}");
    assert!(
        raw.head.to_ascii_lowercase().contains("application/json"),
        "{raw:?}"
    );
}

const HEALTH: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nhost: hookd\r\n\r\n";

/// Writes `pieces`, one every `gap`, while reading whatever the server answers until it
/// closes (within [`PROMPT`]); returns the answer and when it was complete.
async fn trickle<'a>(
    stream: &mut TcpStream,
    pieces: impl Iterator<Item = &'a [u8]>,
    gap: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let (mut read, mut write) = stream.split();
    let send = async {
        for piece in pieces {
            if write.write_all(piece).await.is_err() {
                break;
            }
            tokio::time::sleep(gap).await;
        }
    };
    let answer = async {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(PROMPT, read.read_to_end(&mut buf)).await;
        (
            String::from_utf8_lossy(&buf).into_owned(),
            started.elapsed(),
        )
    };
    tokio::select! {
        answer = answer => answer,
        () = send => panic!("the server never cut the connection"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_head_gets_408_and_is_closed_after_head_timeout() {
    let app = spawn_app_with(|c| c.head_timeout = Duration::from_millis(500)).await;
    let mut slow = connect(&app).await;
    // A byte every 100 ms: never idle long, never done.
    let head = b"GET /api/v1/health HTTP/1.1\r\nhost: hookd\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (text, elapsed) = trickle(&mut slow, head.chunks(1), Duration::from_millis(100)).await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_head_timeout() {
    let app = spawn_app_with(|c| c.head_timeout = Duration::from_millis(400)).await;
    let mut silent = connect(&app).await;
    let started = Instant::now();
    assert!(closed_within(&mut silent, PROMPT).await);
    assert!(started.elapsed() >= Duration::from_millis(350));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_closes_after_idle_timeout_and_an_active_one_stays() {
    let app = spawn_app_with(|c| {
        c.head_timeout = Duration::from_secs(5);
        c.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let mut idle = connect(&app).await;
    idle.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut idle).await.status, 200);
    let idle_since = Instant::now();
    let idle_closed = tokio::spawn(async move {
        let closed = closed_within(&mut idle, PROMPT).await;
        (closed, idle_since.elapsed())
    });

    // Meanwhile another connection keeps asking, every 200 ms for 1.4 s, on one socket.
    let mut active = connect(&app).await;
    for _ in 0..7 {
        active.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(&mut active).await.status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (closed, after) = idle_closed.await.unwrap();
    assert!(closed, "the idle connection was closed");
    assert!(
        after >= Duration::from_millis(550) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    active.write_all(HEALTH).await.unwrap();
    assert_eq!(
        read_response(&mut active).await.status,
        200,
        "the active one is still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_does_not_read_is_dropped_after_idle_timeout() {
    let app = spawn_app_with(|c| c.idle_timeout = Duration::from_millis(500)).await;
    let app_id = app.create_app().await;
    // About 7 MB of messages: more than the server's socket may buffer (4 MB at most).
    let big = "x".repeat(900_000);
    for i in 0..8 {
        app.send(
            &app_id,
            json!({"eventType": "big", "eventId": format!("big-{i}"), "payload": {"d": big}}),
        )
        .await;
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut s = socket.connect(addr(&app).parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /api/v1/app/{app_id}/msg?limit=8 HTTP/1.1\r\nhost: hookd\r\n\
         authorization: Bearer {TOKEN}\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    // Not reading: the server's writes stall, and after idle_timeout it gives up. What
    // was already in the socket still arrives, then the end, short of the whole body.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PROMPT, s.read_to_end(&mut buf))
        .await
        .expect("the server closed the connection");
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a content-length");
    assert!(declared > 7_000_000, "{declared}");
    assert!(buf.len() - head_end < declared, "the whole body arrived");
}

/// A POST head declaring `len` body bytes.
fn post_head(path: &str, len: usize) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: hookd\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    )
    .into_bytes()
}

/// The same with `expect: 100-continue`.
fn expecting_head(path: &str, len: usize) -> Vec<u8> {
    let mut head = post_head(path, len);
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"expect: 100-continue\r\n\r\n");
    head
}

/// Sends an expecting head and waits for `100 Continue`: the request is with a handler.
async fn start_request(app: &TestApp, len: usize) -> TcpStream {
    let mut s = connect(app).await;
    s.write_all(&expecting_head("/api/v1/app", len))
        .await
        .unwrap();
    let cont = read_response(&mut s).await;
    assert_eq!(cont.status, 100, "{cont:?}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_cut_with_408() {
    let app = spawn_app_with(|c| c.body_timeout = Duration::from_millis(500)).await;
    let mut client = connect(&app).await;
    client
        .write_all(&post_head("/api/v1/app", 100))
        .await
        .unwrap();
    client.write_all(b"{\"name\":").await.unwrap();
    let started = Instant::now();
    let raw = read_response(&mut client).await;
    assert_error(&raw, 408, "request_timeout");
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert!(raw.head.contains("connection: close"), "{raw:?}");
    assert!(closed_within(&mut client, PROMPT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_slower_than_body_min_rate_is_cut_with_408() {
    let app = spawn_app_with(|c| {
        c.body_timeout = Duration::from_millis(500);
        c.body_min_rate = 2_000;
    })
    .await;
    let mut client = connect(&app).await;
    client
        .write_all(&post_head("/api/v1/app", 100_000))
        .await
        .unwrap();
    // 100 bytes every 100 ms (1,000 B/s): no pause is too long, the average is too low.
    let (text, elapsed) = trickle(
        &mut client,
        std::iter::repeat_n(&[b' '; 100][..], 100),
        Duration::from_millis(100),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    // Allowed: 0.5 s + received / 2000 B/s, i.e. about 1 s at 1000 B/s.
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_at_a_good_pace_is_read_whole() {
    let app = spawn_app_with(|c| {
        c.body_timeout = Duration::from_millis(400);
        c.body_min_rate = 100;
    })
    .await;
    // 420 bytes (JSON padded with spaces) in four pieces 200 ms apart: about 500 B/s, and
    // each pause shorter than body_timeout.
    let body = format!("{}{}", json!({"name": "paced app"}), " ".repeat(400));
    let mut client = connect(&app).await;
    client
        .write_all(&post_head("/api/v1/app", body.len()))
        .await
        .unwrap();
    for piece in body.as_bytes().chunks(body.len().div_ceil(4)) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.write_all(piece).await.unwrap();
    }
    let raw = read_response(&mut client).await;
    assert_eq!(raw.status, 201, "{raw:?}");
    assert_eq!(raw.body["name"], "paced app");
}

async fn connection_cap_evicts_the_longest_waiting(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.max_connections = Some(8);
        c.head_timeout = Duration::from_secs(30);
    })
    .await
    else {
        return;
    };
    // 20 connections that never finish a head, the first 10 silent, the rest slowloris.
    let mut waiting = Vec::new();
    for i in 0..20 {
        let mut s = connect(&app).await;
        if i >= 10 {
            s.write_all(b"GET /api/v1/health HTTP/1.1\r\nx-slow: a")
                .await
                .unwrap();
        }
        waiting.push(s);
    }
    // New clients are served at once, health and the API alike.
    let started = Instant::now();
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let app_id = app.create_app().await;
    let (status, _) = app.get(&format!("/app/{app_id}")).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < PROMPT);
    // Room was made by closing the oldest waiting ones, not the newest.
    assert!(
        closed_within(&mut waiting[0], PROMPT).await,
        "oldest evicted"
    );
    let mut newest = waiting.pop().unwrap();
    assert!(!closed_within(&mut newest, Duration::from_millis(200)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_one_gets_503_json() {
    let app = spawn_app_with(|c| {
        c.max_connections = Some(2);
        c.body_timeout = Duration::from_secs(10);
    })
    .await;
    let body = json!({"name": "late"}).to_string();
    // Two requests whose handlers wait for their bodies: both connections busy.
    let mut busy = vec![
        start_request(&app, body.len()).await,
        start_request(&app, body.len()).await,
    ];
    let mut s = connect(&app).await;
    let _ = s.write_all(HEALTH).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PROMPT, s.read_to_end(&mut buf)).await;
    let refused = String::from_utf8_lossy(&buf);
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(refused.contains("\"code\":\"unavailable\""), "{refused}");
    // The busy ones are unharmed and finish.
    for s in &mut busy {
        s.write_all(body.as_bytes()).await.unwrap();
        assert_eq!(read_response(s).await.status, 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_errors_from_hyper_carry_the_json_error_body() {
    let app = spawn_app_with(|_| {}).await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"GET /api/v1/health HTTP/1.1\r\nno colon here\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GARBAGE\x01 / HTTP/1.1\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            format!(
                "GET /api/v1/{} HTTP/1.1\r\nhost: hookd\r\n\r\n",
                "a".repeat(70_000)
            )
            .into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            format!(
                "GET /api/v1/health HTTP/1.1\r\nhost: hookd\r\nx-big: {}\r\n\r\n",
                "b".repeat(200_000)
            )
            .into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            format!(
                "GET /api/v1/health HTTP/1.1\r\n{}\r\n",
                (0..150)
                    .map(|i| format!("x-h{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let mut s = connect(&app).await;
        // A server may answer (and close) before taking all of an oversized head.
        let _ = s.write_all(&request).await;
        let raw = read_response(&mut s).await;
        assert_error(&raw, status, code);
        assert!(closed_within(&mut s, PROMPT).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_pipelined_after_a_good_one_gets_its_own_json_error() {
    let app = spawn_app_with(|_| {}).await;
    let mut s = connect(&app).await;
    let mut both = HEALTH.to_vec();
    both.extend_from_slice(b"GET /api/v1/health HTTP/1.1\r\nbroken header\r\n\r\n");
    s.write_all(&both).await.unwrap();
    // The server closes after the error: both answers are all there is to read.
    let mut buf = Vec::new();
    tokio::time::timeout(PROMPT, s.read_to_end(&mut buf))
        .await
        .expect("closed after the error")
        .unwrap();
    let (first, size) = parse_response(&buf).expect("a first response");
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.body.is_object(), "{first:?}");
    let (second, rest) = parse_response(&buf[size..]).expect("a second response");
    assert_error(&second, 400, "bad_request");
    assert_eq!(size + rest, buf.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversized_body_gets_413_at_once_without_100_continue() {
    let app = spawn_app_with(|_| {}).await;
    let big = 10 * 1024 * 1024;
    for head in [
        expecting_head("/api/v1/app", big),
        post_head("/api/v1/app", big),
    ] {
        let mut s = connect(&app).await;
        s.write_all(&head).await.unwrap();
        // The first response line read is the 413: no `100 Continue` before it.
        let raw = read_response(&mut s).await;
        assert_error(&raw, 413, "payload_too_large");
    }
    // Within the limit, Expect still gets 100 Continue and then the answer.
    let body = json!({"name": "expected"}).to_string();
    let mut s = start_request(&app, body.len()).await;
    s.write_all(body.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_lets_a_request_in_flight_finish() {
    let app = spawn_app_with(|c| {
        c.body_timeout = Duration::from_secs(10);
        c.head_timeout = Duration::from_secs(2);
    })
    .await;
    // A head that never ends: shutdown waits for it no longer than head_timeout.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\nx-slow: a")
        .await
        .unwrap();
    let address = addr(&app);
    let body = json!({"name": "in flight"}).to_string();
    let mut idle = connect(&app).await;
    idle.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut idle).await.status, 200);
    let mut in_flight = start_request(&app, body.len()).await;

    let stopped = tokio::spawn(app.stop());
    assert!(closed_within(&mut idle, PROMPT).await, "idle closed");
    in_flight.write_all(body.as_bytes()).await.unwrap();
    let raw = read_response(&mut in_flight).await;
    assert_eq!(raw.status, 201, "{raw:?}");
    tokio::time::timeout(PROMPT, stopped)
        .await
        .expect("shutdown is bounded by head_timeout")
        .unwrap();
    assert_error(&read_response(&mut slow).await, 408, "request_timeout");
    assert!(closed_within(&mut slow, PROMPT).await, "slowloris closed");
    assert!(TcpStream::connect(address).await.is_err(), "not accepting");
}

on_both_backends!(connection_cap_evicts_the_longest_waiting);
