//! The receiver of forwarded events: ingest endpoint `k` is the path `/i/<k>`.
//!
//! Each forward is checked the way an internal service would check it, and then some:
//! hookd's Standard Webhooks signature with that endpoint's secret, the body
//! byte-identical to what the provider sent (regenerated from the event's index), the
//! provider's id and own headers carried along, the source named. Only a forward passing
//! all of it is recorded as arrived; the answer is 200 either way, so a faulty forward is
//! counted once rather than retried.

use super::ledger::{Fault, Ledger};
use super::provider::Workload;
use crate::receiver::{serve, status, unix_now, TOLERANCE_SECS};
use anyhow::Context;
use bytes::Bytes;
use hookd_core::signing::{verify, EndpointSecret};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running receiver; stops accepting connections when dropped.
pub struct ForwardReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_loop: JoinHandle<()>,
}

struct Shared {
    ledger: Arc<Ledger>,
    workload: Workload,
    /// Set once the source and its endpoints exist (their URLs need our port first).
    target: OnceLock<Target>,
}

/// What forwards must match.
struct Target {
    /// `x-hookd-source-id` of every forward.
    source_id: String,
    /// Ingest endpoint secrets, by endpoint index.
    secrets: Vec<EndpointSecret>,
}

impl ForwardReceiver {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(ledger: Arc<Ledger>, workload: Workload) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the forwarding receiver")?;
        let addr = listener
            .local_addr()
            .context("reading the receiver's address")?;
        let shared = Arc::new(Shared {
            ledger,
            workload,
            target: OnceLock::new(),
        });
        let served = shared.clone();
        let accept_loop = tokio::spawn(serve(listener, move |req| {
            let shared = served.clone();
            async move { handle(&shared, req).await }
        }));
        Ok(Self {
            addr,
            shared,
            accept_loop,
        })
    }

    /// The URL of ingest endpoint `index`.
    pub fn url(&self, index: u32) -> String {
        format!("http://{}/i/{index}", self.addr)
    }

    /// Installs the source id and the endpoints' secrets, in endpoint order.
    pub fn set_target(
        &self,
        source_id: String,
        secrets: Vec<EndpointSecret>,
    ) -> anyhow::Result<()> {
        self.shared
            .target
            .set(Target { source_id, secrets })
            .map_err(|_| anyhow::anyhow!("the receiver's target was already set"))
    }
}

impl Drop for ForwardReceiver {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let endpoint = req
        .uri()
        .path()
        .strip_prefix("/i/")
        .and_then(|i| i.parse::<u32>().ok());
    let (Some(endpoint), Some(target)) = (endpoint, shared.target.get()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(secret) = target.secrets.get(endpoint as usize) else {
        return status(StatusCode::NOT_FOUND);
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    match check(shared, target, secret, &parts.headers, &body) {
        Ok((index, webhook_id)) => {
            shared
                .ledger
                .arrive(index, endpoint, webhook_id, Instant::now());
        }
        Err(fault) => shared.ledger.count(fault),
    }
    status(StatusCode::OK)
}

/// Checks one forward; returns the event's index and hookd's `webhook-id`.
fn check<'h>(
    shared: &Shared,
    target: &Target,
    secret: &EndpointSecret,
    headers: &'h HeaderMap,
    body: &[u8],
) -> Result<(u64, &'h str), Fault> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(webhook_id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return Err(Fault::BadSignature);
    };
    verify(
        &[secret.verifying_key()],
        webhook_id,
        timestamp,
        body,
        signature,
        unix_now(),
        TOLERANCE_SECS,
    )
    .map_err(|_| Fault::BadSignature)?;

    let workload = &shared.workload;
    let provider = workload.provider();
    let Some(event_id) = header(provider.forwarded_id_header()) else {
        let problem = format!("no {}", provider.forwarded_id_header());
        shared.ledger.note(Fault::BadHeader, problem);
        return Err(Fault::BadHeader);
    };
    let index = workload.index_of(event_id).ok_or(Fault::Unknown)?;
    if body != workload.body(index).as_slice() {
        return Err(Fault::BadBody);
    }
    let expected = [
        ("x-hookd-source-id", Some(target.source_id.as_str())),
        ("x-hookd-provider-event-id", Some(event_id)),
        ("content-type", Some(provider.content_type())),
    ];
    for (name, want) in expected.iter().chain(provider.forwarded_headers()) {
        let problem = match (header(name), want) {
            (Some(got), Some(want)) if got != *want => format!("{name}: {got:?}, not {want:?}"),
            (None, _) => format!("no {name}"),
            _ => continue,
        };
        shared.ledger.note(Fault::BadHeader, problem);
        return Err(Fault::BadHeader);
    }
    Ok((index, webhook_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::provider::Provider;
    use hyper::header::HeaderValue;

    /// A receiver's state for a GitHub run, and a forward of event 7 as hookd makes it.
    fn setup() -> (Shared, Target, HeaderMap, Vec<u8>) {
        let workload = Workload::new(Provider::Github, "s3cret".into(), 256, unix_now());
        let secret = EndpointSecret::generate();
        let body = workload.body(7);
        let mut headers = workload.headers(7, &body, unix_now());
        headers.remove("user-agent");
        let now = unix_now();
        let mut set = |name: &'static str, value: String| {
            headers.insert(name, HeaderValue::try_from(value).unwrap());
        };
        set("webhook-id", "msg_1".into());
        set("webhook-timestamp", now.to_string());
        set("webhook-signature", secret.sign("msg_1", now, &body));
        set("x-hookd-source-id", "src_1".into());
        set("x-hookd-provider-event-id", workload.event_id(7));
        let shared = Shared {
            ledger: Arc::new(Ledger::new(10, 1)),
            workload,
            target: OnceLock::new(),
        };
        let target = Target {
            source_id: "src_1".into(),
            secrets: vec![secret],
        };
        (shared, target, headers, body)
    }

    #[test]
    fn a_faithful_forward_gives_its_index_and_hookds_message_id() {
        let (shared, target, headers, body) = setup();
        let got = check(&shared, &target, &target.secrets[0], &headers, &body);
        assert_eq!(got.map_err(|f| f.name()), Ok((7, "msg_1")));
    }

    #[test]
    fn each_kind_of_unfaithful_forward_is_told_apart() {
        let (shared, target, headers, body) = setup();
        let secret = &target.secrets[0];
        let fault = |headers: &HeaderMap, body: &[u8]| {
            check(&shared, &target, secret, headers, body)
                .map(|_| ())
                .unwrap_err()
                .name()
        };

        let other = EndpointSecret::generate();
        let got = check(&shared, &target, &other, &headers, &body).unwrap_err();
        assert_eq!(got.name(), "bad_signature", "another endpoint's secret");

        // Re-signed so that only the body differs from what the provider sent.
        let mut altered = body.clone();
        altered[20] ^= 1;
        let mut resigned = headers.clone();
        let ts: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let sig = secret.sign("msg_1", ts, &altered);
        resigned.insert("webhook-signature", HeaderValue::try_from(sig).unwrap());
        assert_eq!(fault(&resigned, &altered), "bad_body");

        for (name, value) in [
            ("x-github-event", Some("ping")),
            ("x-github-event", None),
            ("x-hub-signature-256", None),
            ("x-hookd-source-id", Some("src_2")),
            ("x-hookd-provider-event-id", None),
            ("content-type", Some("text/plain")),
            ("x-github-delivery", None),
        ] {
            let mut changed = headers.clone();
            match value {
                Some(v) => changed.insert(name, HeaderValue::from_static(v)),
                None => changed.remove(name),
            };
            assert_eq!(fault(&changed, &body), "bad_header", "{name} = {value:?}");
        }
        assert!(shared.ledger.notes().contains_key("bad_header"));

        let mut foreign = headers.clone();
        let id = "ffffffff-0000-4000-8000-000000000007";
        foreign.insert("x-github-delivery", HeaderValue::from_static(id));
        assert_eq!(fault(&foreign, &body), "unknown", "another run's delivery");
    }
}
