//! The property test: arbitrary Unicode text and arbitrary bytes, sent
//! as path ids, query values and body string fields through the API and as bodies and
//! event ids through every provider's receive URL with a correct signature, never get a
//! 5xx, on both backends. A correctly signed event is always taken (2xx) whatever it
//! carries, except where the provider's own scheme cannot sign it (see
//! [`super::receive::signed`]).

use super::receive::{self, Source};
use super::{fixture, run, Fixture, Probe, BODY_LIMIT, EVENT};
use crate::support::{spawn_on, Backend, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

on_both_backends!(arbitrary_text_and_bytes_never_get_a_5xx);

/// Cases per backend (`PROPTEST_CASES` overrides); each sends a dozen requests.
const CASES: u32 = 64;

/// Text of any characters, with a bias towards those that break things.
fn text() -> impl Strategy<Value = String> {
    let nasty = prop::sample::select(vec![
        '\0',
        '%',
        '/',
        '\\',
        '?',
        '#',
        '.',
        ' ',
        '\n',
        '\r',
        '"',
        '\u{7f}',
        '\u{feff}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{10ffff}',
        '\u{202e}',
        'é',
        '😀',
    ]);
    let ch = prop_oneof![3 => any::<char>(), 1 => nasty];
    prop::collection::vec(ch, 0..24).prop_map(String::from_iter)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

/// Every byte but the unreserved ones, percent-encoded: `s` as one path segment or value.
fn pct(s: &[u8]) -> String {
    s.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The requests of one case.
fn probes(fx: &Fixture, sources: &[Source], s: &str, b: &[u8], provider: usize) -> Vec<Probe> {
    let (a, ep) = (&fx.app_id, &fx.endpoint_id);
    let (ps, pb) = (pct(s.as_bytes()), pct(b));
    let mut out = vec![
        Probe::new("path id", "GET", format!("/app/{ps}")),
        Probe::new("path id", "GET", format!("/app/{a}/endpoint/{ps}")),
        Probe::new("path bytes", "DELETE", format!("/app/{a}/msg/{pb}/content")),
        Probe::new("query", "GET", format!("/app?iterator={ps}&limit=2")),
        Probe::new(
            "query",
            "GET",
            format!("/app/{a}/msg?channel={ps}&event_types={pb}&before={ps}"),
        ),
        Probe::new("body", "POST", "/app".into())
            .json(json!({"name": s, "uid": s, "metadata": {s: s}}).to_string()),
        Probe::new("body", "PATCH", format!("/app/{a}/endpoint/{ep}"))
            .json(json!({"description": s, "channels": [s]}).to_string()),
        Probe::new("body", "POST", format!("/app/{a}/msg")).json(
            json!({"eventType": EVENT, "payload": {"k": s, s: [s]}, "tags": [s]}).to_string(),
        ),
        Probe::new("body", "POST", format!("/app/{a}/msg"))
            .json(json!({"eventType": s, "eventId": s, "payload": {}}).to_string()),
        Probe::new("body bytes", "POST", "/event-type".into()).json(b.to_vec()),
    ];
    let source = &sources[provider % sources.len()];
    let event = json!({"id": s, "type": s, "event_id": s, "event_type": s, "event": {"type": s}});
    out.push(receive::signed(source, b, "arbitrary bytes"));
    out.push(receive::signed(
        source,
        event.to_string().as_bytes(),
        "arbitrary id",
    ));
    out
}

async fn arbitrary_text_and_bytes_never_get_a_5xx(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| c.max_body_bytes = BODY_LIMIT).await else {
        return;
    };
    let fx = fixture(&app).await;
    let sources = receive::sources(&app, &fx).await;
    let runtime = tokio::runtime::Handle::current();
    let tried = std::sync::atomic::AtomicUsize::new(0);
    let check = |app: &TestApp, case: Vec<Probe>| {
        tried.fetch_add(case.len(), std::sync::atomic::Ordering::Relaxed);
        runtime.block_on(run(app, case))
    };
    // The runner is synchronous: it runs on this worker thread, taken out of the
    // runtime's pool for the while, and drives each case's requests on the runtime.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let outcome = tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&(text(), bytes(), 0..sources.len()), |(s, b, provider)| {
            let failures = check(&app, probes(&fx, &sources, &s, &b, provider));
            prop_assert!(failures.is_empty(), "{}", failures.join("\n"));
            Ok(())
        })
    });
    println!(
        "property test on {backend:?}: {} requests tried over {cases} cases",
        tried.into_inner()
    );
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
