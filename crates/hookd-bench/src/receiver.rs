//! The built-in webhook receiver: a hyper HTTP/1.1 server (keep-alive) on 127.0.0.1:0.
//!
//! Endpoint `i` is the path `/e/<i>`. Every request is verified against that endpoint's
//! secret and recorded in the [`Registry`]; the answer is 200, or 500 for a first attempt
//! chosen by `--fail-rate`, after `--slow-ms` for slow endpoints, and not before the
//! backlog gate opens with `--backlog`. Per-request work is a header parse, one HMAC and
//! one sharded-map update, so the receiver stays far below the server's cost.

use crate::registry::{Arrival, Registry};
use anyhow::Context;
use bytes::Bytes;
use hookd_core::signing::{verify, EndpointSecret};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Accepted clock difference between the signer and the receiver, in seconds.
pub const TOLERANCE_SECS: u64 = 300;

/// How the receiver behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Endpoints `0..slow_endpoints` answer after `slow_delay`.
    pub slow_endpoints: u32,
    /// How long a slow endpoint waits before answering.
    pub slow_delay: Duration,
    /// Hold every answer until [`Receiver::release`].
    pub backlog: bool,
}

/// A running receiver; stops accepting connections when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    gate: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
}

struct Shared {
    registry: Arc<Registry>,
    behaviour: Behaviour,
    /// Set once the endpoints exist (their URLs need our port first).
    secrets: OnceLock<Vec<EndpointSecret>>,
    /// `true` once held answers may go out.
    gate: watch::Receiver<bool>,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(registry: Arc<Registry>, behaviour: Behaviour) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver")?;
        let addr = listener
            .local_addr()
            .context("reading the receiver's address")?;
        let (gate, gate_rx) = watch::channel(!behaviour.backlog);
        let shared = Arc::new(Shared {
            registry,
            behaviour,
            secrets: OnceLock::new(),
            gate: gate_rx,
        });
        let served = shared.clone();
        let accept_loop = tokio::spawn(serve(listener, move |req| {
            let shared = served.clone();
            async move { handle(&shared, req).await }
        }));
        Ok(Self {
            addr,
            shared,
            gate,
            accept_loop,
        })
    }

    /// The URL of endpoint `index`.
    pub fn url(&self, index: u32) -> String {
        format!("http://{}/e/{index}", self.addr)
    }

    /// Installs the endpoints' secrets, in endpoint order.
    pub fn set_secrets(&self, secrets: Vec<EndpointSecret>) -> anyhow::Result<()> {
        self.shared
            .secrets
            .set(secrets)
            .map_err(|_| anyhow::anyhow!("the receiver's secrets were already set"))
    }

    /// Lets held answers (`--backlog`) go out, and answers immediately from now on.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Serves HTTP/1.1 keep-alive connections from `listener` until dropped (aborted),
/// answering every request with `handler`. Shared with the ingest mode's receiver.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Typically EMFILE under a burst; back off instead of spinning.
                eprintln!("hookd-bench: receiver accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            // A server closing a kept-alive connection (or being killed) ends up here.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(endpoint) = endpoint_index(req.uri().path()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(secret) = shared.secrets.get().and_then(|s| s.get(endpoint as usize)) else {
        return status(StatusCode::NOT_FOUND);
    };
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(msg_id), Some(timestamp), Some(signature)) = (
        header("webhook-id").map(str::to_owned),
        header("webhook-timestamp").map(str::to_owned),
        header("webhook-signature").map(str::to_owned),
    ) else {
        shared.registry.bad_signature();
        return status(StatusCode::BAD_REQUEST);
    };
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    if verify(
        &[secret.verifying_key()],
        &msg_id,
        &timestamp,
        &body,
        &signature,
        unix_now(),
        TOLERANCE_SECS,
    )
    .is_err()
    {
        shared.registry.bad_signature();
        return status(StatusCode::BAD_REQUEST);
    }
    if !*shared.gate.borrow() {
        let mut gate = shared.gate.clone();
        // The sender side lives as long as the run; if it is gone, just answer.
        let _ = gate.wait_for(|open| *open).await;
    }
    match shared.registry.arrive(&msg_id, endpoint, Instant::now()) {
        Arrival::FailOnce => status(StatusCode::INTERNAL_SERVER_ERROR),
        Arrival::First | Arrival::Duplicate => {
            if endpoint < shared.behaviour.slow_endpoints {
                tokio::time::sleep(shared.behaviour.slow_delay).await;
            }
            status(StatusCode::OK)
        }
    }
}

/// `/e/<i>` → `i`.
fn endpoint_index(path: &str) -> Option<u32> {
    path.strip_prefix("/e/")?.parse().ok()
}

/// An empty answer with `code`.
pub fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = code;
    res
}

/// The wall clock in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::endpoint_index;

    #[test]
    fn endpoint_paths_parse() {
        assert_eq!(endpoint_index("/e/0"), Some(0));
        assert_eq!(endpoint_index("/e/17"), Some(17));
        assert_eq!(endpoint_index("/e/"), None);
        assert_eq!(endpoint_index("/x/1"), None);
    }
}
