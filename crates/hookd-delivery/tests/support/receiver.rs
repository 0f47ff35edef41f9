//! A real HTTP receiver on 127.0.0.1, port 0. Each path has a script of responses that
//! tests switch mid-run; every request arrives on a channel, so tests await requests
//! instead of sleeping. A response can be held behind a gate to play a slow endpoint.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Wait until the receiver's gate opens before answering.
    pub held: bool,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            held: false,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn held(mut self) -> Self {
        self.held = true;
        self
    }
}

/// A request as it arrived.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
struct Script {
    /// Replies used once each, in order, before the default.
    queued: VecDeque<Reply>,
    default: Option<Reply>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    scripts: Arc<Mutex<HashMap<String, Script>>>,
    requests: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    gate: watch::Sender<bool>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scripts: Arc<Mutex<HashMap<String, Script>>> = Arc::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let (gate, _) = watch::channel(false);
        let (s, g) = (scripts.clone(), gate.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, tx, g) = (s.clone(), tx.clone(), g.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(req, s.clone(), tx.clone(), g.subscribe())
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    let _ = conn.await;
                });
            }
        });
        Self {
            addr,
            scripts,
            requests: tokio::sync::Mutex::new(rx),
            gate,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every request to `path` with `reply` (after any queued replies).
    pub fn respond(&self, path: &str, reply: Reply) {
        self.scripts
            .lock()
            .unwrap()
            .entry(path.into())
            .or_default()
            .default = Some(reply);
    }

    /// Answers the next request to `path` with `reply`, once.
    pub fn respond_once(&self, path: &str, reply: Reply) {
        let mut scripts = self.scripts.lock().unwrap();
        scripts
            .entry(path.into())
            .or_default()
            .queued
            .push_back(reply);
    }

    /// Lets held replies go.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    /// The next request, waiting up to 10 s.
    pub async fn next(&self) -> Received {
        let mut rx = self.requests.lock().await;
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a request arrived in time")
            .expect("receiver alive")
    }

    /// A request that already arrived, if any.
    pub async fn try_next(&self) -> Option<Received> {
        self.requests.lock().await.try_recv().ok()
    }
}

async fn handle(
    req: Request<Incoming>,
    scripts: Arc<Mutex<HashMap<String, Script>>>,
    tx: mpsc::UnboundedSender<Received>,
    mut gate: watch::Receiver<bool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = {
        let mut scripts = scripts.lock().unwrap();
        let script = scripts.entry(path.clone()).or_default();
        script.queued.pop_front().or_else(|| script.default.clone())
    }
    .unwrap_or_else(|| Reply::status(200));
    let _ = tx.send(Received {
        path,
        headers,
        body,
        at: Instant::now(),
    });
    if reply.held {
        let _ = gate.wait_for(|open| *open).await;
    }
    let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (name, value) in reply.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    Ok(resp)
}
