//! One run from start to report: receiver up, server(s) up, application and endpoints
//! created, messages sent, deliveries awaited (through crashes, if asked), everything
//! stopped, figures collected.

use crate::api::Api;
use crate::cli::{Mode, Pace, Plan};
use crate::crash::Crasher;
use crate::pace::paced_total;
use crate::postgres::BenchSchema;
use crate::procfs;
use crate::receiver::{Behaviour, Receiver};
use crate::registry::Registry;
use crate::report::{Latency, Params, Report};
use crate::routing::{channel, Routing};
use crate::sender::{SendStats, Sender};
use crate::server::{Cluster, ServerStats, SpawnSpec};
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The SSRF allow-list a spawned server gets: the receiver listens on loopback.
const RECEIVER_NETWORKS: &str = "127.0.0.0/8";

/// Runs `plan` and reports.
pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    in_schema(plan, |database_url| drive(plan, database_url)).await
}

/// Runs `drive` with the database URL the spawned servers get: a fresh schema with
/// PostgreSQL (dropped whatever happens, Ctrl-C included), `None` otherwise.
pub async fn in_schema<T, F, Fut>(plan: &Plan, drive: F) -> anyhow::Result<T>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let schema = match &plan.mode {
        Mode::Spawn {
            database_url: Some(url),
            ..
        } => Some(BenchSchema::create(url).await?),
        _ => None,
    };
    // On Ctrl-C, dropping `drive` kills the spawned nodes (`kill_on_drop`) and removes the
    // temporary directory; the schema is dropped below either way.
    let result = tokio::select! {
        result = drive(schema.as_ref().map(BenchSchema::url)) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(schema) = schema {
        let name = schema.name().to_owned();
        if let Err(err) = schema.drop_schema().await {
            eprintln!("hookd-bench: leaving schema {name} behind: {err:#}");
        }
    }
    result
}

/// The servers under test: spawned (with `extra_env`) or the `--target`. Returns the
/// cluster to stop at the end (when spawned), each server's base URL and the token.
pub async fn servers(
    plan: &Plan,
    database_url: Option<String>,
    extra_env: Vec<(String, String)>,
) -> anyhow::Result<(Option<Cluster>, Vec<String>, String)> {
    Ok(match &plan.mode {
        Mode::Spawn { bin, nodes, .. } => {
            let spec = SpawnSpec {
                bin: bin.clone(),
                database_url,
                nodes: *nodes,
                extra_env,
            };
            let cluster = Cluster::start(spec, RECEIVER_NETWORKS).await?;
            let (bases, token) = (cluster.base_urls(), cluster.admin_token().to_owned());
            (Some(cluster), bases, token)
        }
        Mode::Target { url, token } => (None, vec![url.clone()], token.clone()),
    })
}

async fn drive(plan: &Plan, database_url: Option<String>) -> anyhow::Result<Report> {
    let routing = Routing::new(plan.endpoints, plan.fanout);
    let registry = Arc::new(Registry::new(routing, plan.fail_rate));
    let receiver = Receiver::start(
        registry.clone(),
        Behaviour {
            slow_endpoints: plan.slow_endpoints,
            slow_delay: plan.slow_delay,
            backlog: plan.backlog,
        },
    )
    .await?;

    let (cluster, bases, token) = servers(plan, database_url, spawn_env(plan)).await?;
    let api = Api::new(bases, &token, plan.concurrency)?;
    let app = setup(&api, &receiver, plan.endpoints)
        .await
        .context("setting up the application and its endpoints")?;
    let recovery = if plan.recover > 0 {
        let prep_deadline = Instant::now() + plan.timeout;
        Some(
            crate::recover::prepare(
                &api,
                &app,
                plan.recover,
                plan.concurrency,
                prep_deadline,
                plan.quiet,
            )
            .await
            .context("preparing the recovery")?,
        )
    } else {
        None
    };

    let messages = match plan.pace {
        Pace::Count(n) => n,
        Pace::Fixed { rate, duration } => paced_total(rate, duration),
    };
    let t0 = Instant::now();
    let deadline = t0 + plan.timeout;
    let sender = Arc::new(Sender::new(
        api,
        registry.clone(),
        app,
        routing,
        plan.payload_bytes,
        deadline,
    ));
    let sending: JoinHandle<anyhow::Result<SendStats>> = match plan.pace {
        Pace::Count(n) => tokio::spawn(sender.send_all(n, plan.concurrency)),
        Pace::Fixed { rate, duration } => {
            tokio::spawn(sender.send_paced(rate, duration, plan.concurrency))
        }
    };
    let progress = (!plan.quiet).then(|| tokio::spawn(report_progress(registry.clone(), t0)));
    let crashes = match (&plan.mode, cluster) {
        (Mode::Spawn { crashes, .. }, Some(cluster)) if *crashes > 0 => {
            Crasher::start(cluster, *crashes, registry.clone(), messages, plan.quiet)
        }
        (_, cluster) => Crasher::idle(cluster),
    };

    let outcome = wait_for_deliveries(plan, &registry, &receiver, sending, crashes, deadline).await;
    if let Some(p) = progress {
        p.abort();
    }
    let (stats, cluster, crashes_done, timed_out) = outcome?;
    let elapsed = t0.elapsed();
    let recovery = match recovery {
        Some(r) => Some(
            r.finish(t0 + elapsed, Instant::now() + plan.timeout)
                .await
                .context("waiting for the recovery")?,
        ),
        None => None,
    };
    let bench_cpu = procfs::cpu_seconds(None);
    let server = match cluster {
        Some(cluster) => Some(cluster.stop().await?),
        None => None,
    };
    drop(receiver);
    let mut report = report(
        plan,
        messages,
        &registry,
        &stats,
        server,
        crashes_done,
        Timing {
            t0,
            elapsed,
            timed_out,
            bench_cpu,
        },
    );
    report.recovery = recovery;
    Ok(report)
}

/// Creates the application and one endpoint per channel; hands the secrets to the receiver.
async fn setup(api: &Api, receiver: &Receiver, endpoints: u32) -> anyhow::Result<String> {
    let app = api.create_app("hookd-bench").await?;
    let mut secrets = Vec::with_capacity(endpoints as usize);
    for i in 0..endpoints {
        let ep = api
            .create_endpoint(&app, &receiver.url(i), &channel(i))
            .await?;
        secrets.push(api.endpoint_secret(&app, &ep).await?);
    }
    receiver.set_secrets(secrets)?;
    Ok(app)
}

/// `HOOKD_*` settings the workload needs from a spawned server.
fn spawn_env(plan: &Plan) -> Vec<(String, String)> {
    let crashes = matches!(plan.mode, Mode::Spawn { crashes, .. } if crashes > 0);
    let mut env = Vec::new();
    if plan.fail_rate > 0.0 || crashes {
        // Failed first attempts come back within seconds, not the default schedule's minutes.
        env.push(("HOOKD_RETRY_SCHEDULE".into(), "1,1,1,1,1".into()));
    } else if plan.recover > 0 {
        // The messages to recover must fail for good within seconds.
        env.push(("HOOKD_RETRY_SCHEDULE".into(), "1".into()));
    }
    if plan.backlog {
        // Held answers must not time out while the backlog builds.
        env.push(("HOOKD_REQUEST_TIMEOUT".into(), "3600".into()));
    }
    if crashes {
        // A killed node's claimed deliveries wait for their lease to run out; keep that short.
        env.push(("HOOKD_LEASE".into(), "5".into()));
    }
    env
}

/// Waits for the senders, opens the backlog gate, then waits until every accepted pair
/// arrived and every planned crash happened, or the deadline. Returns the send figures,
/// the cluster to stop, the crashes done and whether the deadline cut the wait short.
async fn wait_for_deliveries(
    plan: &Plan,
    registry: &Registry,
    receiver: &Receiver,
    sending: JoinHandle<anyhow::Result<SendStats>>,
    crashes: Crasher,
    deadline: Instant,
) -> anyhow::Result<(SendStats, Option<Cluster>, u32, bool)> {
    let stats = match sending.await.context("the sender task failed")? {
        Ok(stats) => stats,
        Err(err) => {
            crashes.finish().await.ok();
            return Err(err);
        }
    };
    receiver.release();
    let expected = registry.progress().accepted * u64::from(plan.fanout);
    let mut timed_out = false;
    loop {
        if crashes.is_finished() && registry.progress().delivered >= expected {
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (cluster, done) = crashes.finish().await?;
    Ok((stats, cluster, done, timed_out))
}

/// Prints accepted and delivered counts, and their rates, once a second.
async fn report_progress(registry: Arc<Registry>, t0: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut prev = registry.progress();
    loop {
        ticks.tick().await;
        let p = registry.progress();
        eprintln!(
            "[{:>5.1}s] accepted {:>9} ({:>6}/s)  delivered {:>9} ({:>6}/s)",
            t0.elapsed().as_secs_f64(),
            p.accepted,
            p.accepted - prev.accepted,
            p.delivered,
            p.delivered - prev.delivered,
        );
        prev = p;
    }
}

/// Clock readings of the run.
struct Timing {
    t0: Instant,
    elapsed: Duration,
    timed_out: bool,
    bench_cpu: Option<f64>,
}

fn report(
    plan: &Plan,
    messages: u64,
    registry: &Registry,
    stats: &SendStats,
    server: Option<ServerStats>,
    crashes_done: u32,
    timing: Timing,
) -> Report {
    let summary = registry.summarize(plan.slow_endpoints);
    let per_s = |count: u64, until: Option<Instant>| match until {
        Some(t) if t > timing.t0 => count as f64 / t.duration_since(timing.t0).as_secs_f64(),
        _ => 0.0,
    };
    let (mode, database, nodes, crash) = match &plan.mode {
        Mode::Spawn {
            database_url,
            nodes,
            crashes,
            ..
        } => (
            "spawn",
            Some(if database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            }),
            *nodes,
            *crashes,
        ),
        Mode::Target { .. } => ("target", None, 1, 0),
    };
    let (rate, duration_s) = match plan.pace {
        Pace::Fixed { rate, duration } => (Some(rate), Some(duration.as_secs_f64())),
        Pace::Count(_) => (None, None),
    };
    if let Some(reason) = &stats.last_retry_reason {
        if !plan.quiet {
            eprintln!("hookd-bench: last send retry was for: {reason}");
        }
    }
    Report {
        params: Params {
            mode,
            database,
            nodes,
            messages,
            endpoints: plan.endpoints,
            fanout: plan.fanout,
            concurrency: plan.concurrency,
            payload_bytes: plan.payload_bytes,
            rate,
            duration_s,
            slow_endpoints: plan.slow_endpoints,
            slow_ms: plan.slow_delay.as_millis() as u64,
            fail_rate: plan.fail_rate,
            backlog: plan.backlog,
            crash,
        },
        accepted: summary.accepted,
        delivered: summary.delivered,
        accepted_per_s: per_s(summary.accepted, stats.last_accept),
        delivered_per_s: per_s(summary.delivered, summary.last_arrival),
        latency_ms: Latency::from_sorted_us(&summary.latencies_us),
        latency_others_ms: (plan.slow_endpoints > 0)
            .then(|| Latency::from_sorted_us(&summary.fast_latencies_us)),
        lost: summary.lost,
        duplicates: summary.duplicates,
        bad_signatures: summary.bad_signatures,
        misrouted: summary.misrouted,
        unconfirmed_arrivals: summary.unconfirmed_arrivals,
        unsent: stats.unsent,
        send_retries: stats.retries,
        crashes_done,
        peak_rss_mib: server.map(|s| s.peak_rss_kib as f64 / 1024.0),
        server_cpu_s: server.map(|s| s.cpu_seconds),
        bench_cpu_s: timing.bench_cpu,
        elapsed_s: timing.elapsed.as_secs_f64(),
        timed_out: timing.timed_out,
        recovery: None,
    }
}
