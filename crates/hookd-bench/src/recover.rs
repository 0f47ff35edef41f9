//! `--recover N`: an endpoint recovery running under the live workload.
//!
//! Before the workload starts, N messages go to one extra endpoint (its own channel, its
//! own small receiver) that answers 500 until every one of them has failed for good. The
//! receiver then answers 200, a recovery of that endpoint is started, and the ordinary
//! workload runs while it works: the run's latency figures are live traffic during a
//! recovery (compare with the same run without `--recover`). At the end the bench waits
//! for the recovery to finish and reports how long it took and whether it overlapped the
//! workload.

use crate::api::{Api, SendOutcome};
use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The recovered endpoint's channel (the workload's endpoints use `c<i>`).
const CHANNEL: &str = "recover";

/// What `--recover` adds to the report.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    /// Failed messages the recovery had to re-send.
    pub messages: u64,
    /// What the task reported as re-sent.
    pub messages_sent: u64,
    /// Deliveries the recovered endpoint got after the recovery started.
    pub delivered: u64,
    /// From the recover call to the task's `finished` (polled every 100 ms).
    pub task_s: f64,
    /// From the recover call to the last recovered delivery.
    pub delivered_s: f64,
    /// Whether the recovery was still running when the workload's last delivery arrived.
    pub overlapped_workload: bool,
}

/// The sink of the recovered endpoint: fails while `failing`, counts successes.
struct Sink {
    failing: AtomicBool,
    ok: AtomicU64,
    last_ok: std::sync::Mutex<Option<Instant>>,
}

/// A recovery started before the workload.
pub struct Recovery {
    sink: Arc<Sink>,
    accept: tokio::task::JoinHandle<()>,
    /// Polls the task while the workload runs: when it finished, and what it re-sent.
    watch: tokio::task::JoinHandle<anyhow::Result<(Instant, u64)>>,
    messages: u64,
    started: Instant,
}

impl Drop for Recovery {
    fn drop(&mut self) {
        self.accept.abort();
        self.watch.abort();
    }
}

/// Polls the task every 100 ms until it is finished.
async fn watch(api: Api, task: String, deadline: Instant) -> anyhow::Result<(Instant, u64)> {
    loop {
        let (status, sent) = api.task(&task).await?;
        if status == "finished" {
            return Ok((Instant::now(), sent));
        }
        if Instant::now() >= deadline {
            bail!("the recovery did not finish before the timeout ({sent} sent)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_sink(sink: Arc<Sink>) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the recovery receiver")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let sink = sink.clone();
                    async move {
                        let code = if sink.failing.load(Ordering::Acquire) {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            sink.ok.fetch_add(1, Ordering::AcqRel);
                            *sink.last_ok.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(Instant::now());
                            StatusCode::OK
                        };
                        let mut res = Response::new(Full::new(Bytes::new()));
                        *res.status_mut() = code;
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((url, accept))
}

/// Sends `n` messages that fail for good, then starts the recovery.
pub async fn prepare(
    api: &Api,
    app: &str,
    n: u64,
    concurrency: usize,
    deadline: Instant,
    quiet: bool,
) -> anyhow::Result<Recovery> {
    let sink = Arc::new(Sink {
        failing: AtomicBool::new(true),
        ok: AtomicU64::new(0),
        last_ok: std::sync::Mutex::new(None),
    });
    let (url, accept) = start_sink(sink.clone()).await?;
    let endpoint = api.create_endpoint(app, &url, CHANNEL).await?;
    let since = hookd_core::Timestamp::now().plus_millis(-1000).to_rfc3339();
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let (api, app, next) = (api.clone(), app.to_owned(), next.clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok(());
                }
                let body = format!(
                    r#"{{"eventType":"{}","payload":{{"recover":{i}}},"channels":["{CHANNEL}"]}}"#,
                    crate::routing::EVENT_TYPE
                );
                loop {
                    match api
                        .send_message(worker, &app, Bytes::from(body.clone()))
                        .await
                    {
                        SendOutcome::Accepted(_) => break,
                        SendOutcome::Retry(_) if Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        SendOutcome::Retry(why) | SendOutcome::Refused(why) => {
                            bail!("sending a message to recover: {why}")
                        }
                    }
                }
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.context("a recovery sender panicked")??;
    }
    if !quiet {
        eprintln!(
            "hookd-bench: {n} messages sent to the endpoint to recover; waiting for them to fail"
        );
    }
    loop {
        let fail = api.endpoint_stats(app, &endpoint).await?.fail;
        if fail >= n {
            break;
        }
        if Instant::now() >= deadline {
            bail!("only {fail} of {n} messages failed before the timeout");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sink.failing.store(false, Ordering::Release);
    let started = Instant::now();
    let task = api.recover(app, &endpoint, &since).await?;
    if !quiet {
        eprintln!("hookd-bench: recovery {task} started; running the workload");
    }
    let watch = tokio::spawn(watch(
        api.clone(),
        task,
        started + Duration::from_secs(3600),
    ));
    Ok(Recovery {
        sink,
        accept,
        watch,
        messages: n,
        started,
    })
}

impl Recovery {
    /// Waits for the task to finish and every recovered delivery to arrive.
    pub async fn finish(
        mut self,
        workload_done: Instant,
        deadline: Instant,
    ) -> anyhow::Result<RecoveryReport> {
        let watching = tokio::time::timeout_at(deadline.into(), &mut self.watch).await;
        let (finished_at, sent) = match watching {
            Ok(joined) => joined.context("the recovery watcher panicked")??,
            Err(_) => bail!("the recovery did not finish before the timeout"),
        };
        while self.sink.ok.load(Ordering::Acquire) < self.messages && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let last =
            (*self.sink.last_ok.lock().unwrap_or_else(|p| p.into_inner())).unwrap_or(finished_at);
        Ok(RecoveryReport {
            messages: self.messages,
            messages_sent: sent,
            delivered: self.sink.ok.load(Ordering::Acquire),
            task_s: finished_at.duration_since(self.started).as_secs_f64(),
            delivered_s: last.duration_since(self.started).as_secs_f64(),
            overlapped_workload: last > workload_done,
        })
    }
}
