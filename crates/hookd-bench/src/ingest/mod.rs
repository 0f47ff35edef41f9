//! `--ingest`: the ingest gateway (issue 6) measured end to end, the way a provider and
//! an internal service see it.
//!
//! One run: the forwarding receiver starts; hookd starts (or `--target` is used); an
//! ingest source of the provider's type is created with a fresh secret, and `--endpoints`
//! ingest endpoints pointing at the receiver, whose secrets the receiver then checks
//! with. Events are sent to the source's receive URL, provider-signed, as fast as
//! possible (`--messages`) or at a fixed rate (`--duration`); the run then waits up to
//! `--drain` for every accepted event to be forwarded to every endpoint, stops the
//! server and reports.
//!
//! - [`provider`]: the provider imitations (bodies, ids, signatures); pure.
//! - [`send`]: the senders, replays and the answers' bookkeeping.
//! - [`forward`]: the receiver of forwarded events and its checks.
//! - [`ledger`]: what was acknowledged and forwarded, and every fault.
//! - [`report`]: the figures.

mod forward;
mod ledger;
mod provider;
mod report;
mod send;

pub use provider::Provider;
pub use report::IngestReport;

use crate::api::Api;
use crate::cli::{IngestPlan, Mode, Pace, Plan};
use crate::pace::{self, paced_total, Released};
use crate::procfs;
use crate::receiver::unix_now;
use crate::report::Latency;
use crate::run::{in_schema, servers};
use anyhow::Context;
use forward::ForwardReceiver;
use hookd_core::signing::EndpointSecret;
use ledger::{Fault, Ledger};
use provider::Workload;
use report::IngestParams;
use send::{IngestSendStats, IngestSender};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs an ingest `plan` and reports.
pub async fn run(plan: &Plan, ingest: &IngestPlan) -> anyhow::Result<IngestReport> {
    in_schema(plan, |database_url| drive(plan, ingest, database_url)).await
}

/// The parts of `IngestSourceOut` the bench reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceOut {
    id: String,
    ingest_url: String,
}

#[derive(Deserialize)]
struct IdOut {
    id: String,
}

#[derive(Deserialize)]
struct SecretOut {
    key: String,
}

async fn drive(
    plan: &Plan,
    ingest: &IngestPlan,
    database_url: Option<String>,
) -> anyhow::Result<IngestReport> {
    let events = match plan.pace {
        Pace::Count(n) => n,
        Pace::Fixed { rate, duration } => paced_total(rate, duration),
    };
    let provider = ingest.provider;
    let workload = Workload::new(
        provider,
        provider.generate_secret(),
        plan.payload_bytes,
        unix_now(),
    );
    let ledger = Arc::new(Ledger::new(events, plan.endpoints));
    let receiver = ForwardReceiver::start(ledger.clone(), workload.clone()).await?;
    let (cluster, bases, token) = servers(plan, database_url, Vec::new()).await?;
    let api = Api::new(bases, &token, plan.concurrency)?;
    let urls = setup(&api, &receiver, &workload, plan.endpoints)
        .await
        .context("setting up the ingest source and its endpoints")?;

    let t0 = Instant::now();
    let sender = Arc::new(IngestSender::new(
        api,
        urls,
        workload,
        ledger.clone(),
        ingest.replay_fraction,
        t0 + plan.timeout,
    ));
    let progress = (!plan.quiet).then(|| tokio::spawn(report_progress(ledger.clone(), t0)));
    let job = {
        let sender = sender.clone();
        move |worker, index, due| {
            let sender = sender.clone();
            async move { sender.send_one(worker, index, due).await }
        }
    };
    let released = match plan.pace {
        Pace::Count(n) => pace::all(n, plan.concurrency, job).await,
        Pace::Fixed { rate, duration } => {
            pace::fixed(rate, duration, plan.concurrency, t0 + plan.timeout, job).await
        }
    };
    let released: Released = match released {
        Ok(released) => released,
        Err(err) => {
            if let Some(p) = progress {
                p.abort();
            }
            return Err(err);
        }
    };
    let stats = sender.stats(released);
    let drain_deadline = Instant::now() + ingest.drain;
    let mut timed_out = false;
    while !ledger.drained() {
        if Instant::now() >= drain_deadline {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(p) = progress {
        p.abort();
    }
    let elapsed = t0.elapsed();
    let bench_cpu = procfs::cpu_seconds(None);
    let server = match cluster {
        Some(cluster) => Some(cluster.stop().await?),
        None => None,
    };
    drop(receiver);
    let mut report = report(plan, ingest, events, &ledger, &stats, t0);
    report.elapsed_s = elapsed.as_secs_f64();
    report.timed_out = timed_out;
    report.peak_rss_mib = server.map(|s| s.peak_rss_kib as f64 / 1024.0);
    report.server_cpu_s = server.map(|s| s.cpu_seconds);
    report.bench_cpu_s = bench_cpu;
    if let Some(reason) = &stats.last_retry_reason {
        if !plan.quiet {
            eprintln!("hookd-bench: last send retry was for: {reason}");
        }
    }
    Ok(report)
}

/// Creates the source and its ingest endpoints, hands the source id and the endpoint
/// secrets to the receiver, and returns the receive URL on each server.
async fn setup(
    api: &Api,
    receiver: &ForwardReceiver,
    workload: &Workload,
    endpoints: u32,
) -> anyhow::Result<Vec<String>> {
    let source: SourceOut = api
        .post_json(
            "/ingest/api/v1/source",
            serde_json::json!({
                "name": "hookd-bench",
                "type": workload.provider().source_type(),
                "config": { "secret": workload.secret() },
            })
            .to_string(),
        )
        .await?;
    let mut secrets = Vec::with_capacity(endpoints as usize);
    for i in 0..endpoints {
        let path = format!("/ingest/api/v1/source/{}/endpoint", source.id);
        let body = serde_json::json!({ "url": receiver.url(i), "description": "hookd-bench" });
        let ep: IdOut = api.post_json(&path, body.to_string()).await?;
        let secret: SecretOut = api.get_json(&format!("{path}/{}/secret", ep.id)).await?;
        secrets.push(
            EndpointSecret::parse(&secret.key)
                .with_context(|| format!("the secret of ingest endpoint {}", ep.id))?,
        );
    }
    receiver.set_target(source.id, secrets)?;
    // The receive URL names the server by `public_url`; every server takes the same path.
    let path = receive_path(&source.ingest_url)
        .with_context(|| format!("no /ingest/ path in ingestUrl {}", source.ingest_url))?;
    Ok(api.bases().iter().map(|b| format!("{b}{path}")).collect())
}

/// `/ingest/{token}` of a receive URL (after any path prefix of `public_url`).
fn receive_path(ingest_url: &str) -> Option<&str> {
    let after_scheme = ingest_url.split_once("://").map_or(ingest_url, |(_, r)| r);
    let path = &after_scheme[after_scheme.find('/')?..];
    Some(&path[path.rfind("/ingest/")?..])
}

/// Prints accepted and forwarded counts, and their rates, once a second.
async fn report_progress(ledger: Arc<Ledger>, t0: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut prev = ledger.progress();
    loop {
        ticks.tick().await;
        let p = ledger.progress();
        eprintln!(
            "[{:>5.1}s] accepted {:>9} ({:>6}/s)  forwarded {:>9} ({:>6}/s)",
            t0.elapsed().as_secs_f64(),
            p.accepted,
            p.accepted - prev.accepted,
            p.forwarded,
            p.forwarded - prev.forwarded,
        );
        prev = p;
    }
}

/// The report from the ledger; the caller fills in the clocks and the process figures.
fn report(
    plan: &Plan,
    ingest: &IngestPlan,
    events: u64,
    ledger: &Ledger,
    stats: &IngestSendStats,
    t0: Instant,
) -> IngestReport {
    let s = ledger.summarize();
    let per_s = |count: u64, until: Option<Instant>| match until {
        Some(t) if t > t0 => count as f64 / t.duration_since(t0).as_secs_f64(),
        _ => 0.0,
    };
    let (mode, database, nodes) = match &plan.mode {
        Mode::Spawn {
            database_url,
            nodes,
            ..
        } => (
            "spawn",
            Some(if database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            }),
            *nodes,
        ),
        Mode::Target { .. } => ("target", None, 1),
    };
    let (rate, duration_s) = match plan.pace {
        Pace::Fixed { rate, duration } => (Some(rate), Some(duration.as_secs_f64())),
        Pace::Count(_) => (None, None),
    };
    IngestReport {
        params: IngestParams {
            kind: "ingest",
            mode,
            database,
            nodes,
            provider: ingest.provider.source_type(),
            events,
            endpoints: plan.endpoints,
            concurrency: plan.concurrency,
            payload_bytes: plan.payload_bytes,
            rate,
            duration_s,
            replay_fraction: ingest.replay_fraction,
        },
        accepted: s.accepted,
        accepted_per_s: per_s(s.accepted, stats.last_accept.max(s.last_ack)),
        ack_latency_ms: Latency::from_sorted_us(&s.ack_us),
        non_204: ledger
            .statuses()
            .into_iter()
            .map(|(status, n)| (status.to_string(), n))
            .collect(),
        refused: ledger.faults(Fault::Refused),
        unsent: stats.unsent,
        send_retries: stats.retries,
        forwarded: s.forwarded,
        forwarded_per_s: per_s(s.forwarded, s.last_forward),
        forward_latency_ms: Latency::from_sorted_us(&s.forward_us),
        lost: s.lost,
        duplicates: ledger.faults(Fault::Duplicate),
        double_stored: s.double_stored,
        bad_signatures: ledger.faults(Fault::BadSignature),
        bad_bodies: ledger.faults(Fault::BadBody),
        bad_headers: ledger.faults(Fault::BadHeader),
        unknown_forwards: ledger.faults(Fault::Unknown),
        unconfirmed_forwards: s.unconfirmed_forwards,
        replays: stats.replays,
        replays_acknowledged: ledger.faults(Fault::ReplayAcknowledged),
        replay_failures: ledger.faults(Fault::ReplayWrong),
        false_duplicates: ledger.faults(Fault::FalseDuplicate),
        notes: ledger.notes(),
        peak_rss_mib: None,
        server_cpu_s: None,
        bench_cpu_s: None,
        elapsed_s: 0.0,
        timed_out: false,
    }
}

#[cfg(test)]
mod tests {
    use super::receive_path;

    #[test]
    fn the_receive_path_is_taken_from_any_public_url() {
        assert_eq!(
            receive_path("http://127.0.0.1:8071/ingest/abc"),
            Some("/ingest/abc")
        );
        assert_eq!(
            receive_path("https://hooks.example.com/ingest/t-1_x"),
            Some("/ingest/t-1_x")
        );
        assert_eq!(
            receive_path("https://example.com/hooks/ingest/t"),
            Some("/ingest/t")
        );
        assert_eq!(receive_path("https://hooks.example.com/other/x"), None);
        assert_eq!(receive_path("http://ingest/x"), None);
        assert_eq!(receive_path("https://hooks.example.com"), None);
    }
}
