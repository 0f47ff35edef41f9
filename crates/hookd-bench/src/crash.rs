//! `--crash`: a monitor that owns the cluster while the run lasts and `kill -9`s a random
//! node each time the run's progress crosses one of K random thresholds, restarting it on
//! the same data before going on.

use crate::registry::Registry;
use crate::server::Cluster;
use anyhow::bail;
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The `--crash` monitor: owns the cluster while the run lasts and kills a node each
/// time progress crosses one of K random thresholds.
pub struct Crasher {
    /// Ends with the cluster and the number of crashes done.
    task: JoinHandle<anyhow::Result<(Option<Cluster>, u32)>>,
    /// Set when the run is over: no more crashes.
    stop: Arc<AtomicBool>,
}

impl Crasher {
    /// No crashes: just holds the cluster.
    pub fn idle(cluster: Option<Cluster>) -> Self {
        Self {
            task: tokio::spawn(async move { Ok((cluster, 0)) }),
            stop: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Kills a random node `crashes` times at random points of the run: progress is
    /// half sending, half delivering, so crashes land in both phases.
    pub fn start(
        mut cluster: Cluster,
        crashes: u32,
        registry: Arc<Registry>,
        messages: u64,
        quiet: bool,
    ) -> Self {
        let mut rng = rand::thread_rng();
        let mut plan: Vec<(f64, usize)> = (0..crashes)
            .map(|_| {
                (
                    rng.gen_range(0.05..0.9),
                    rng.gen_range(0..cluster.node_count()),
                )
            })
            .collect();
        plan.sort_by(|a, b| a.0.total_cmp(&b.0));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let fanout = f64::from(registry.routing().fanout());
            let mut done = 0;
            for (threshold, node) in plan {
                loop {
                    if stopped.load(Ordering::Relaxed) {
                        return Ok((Some(cluster), done));
                    }
                    let p = registry.progress();
                    let fraction =
                        (p.accepted as f64 + p.delivered as f64 / fanout) / (2.0 * messages as f64);
                    if fraction >= threshold {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                if !quiet {
                    eprintln!(
                        "hookd-bench: kill -9 node {node} at {:.0}% progress",
                        threshold * 100.0
                    );
                }
                cluster.crash(node).await?;
                done += 1;
            }
            Ok((Some(cluster), done))
        });
        Self { task, stop }
    }

    /// Whether every planned crash is done (or the monitor failed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops crashing and hands back the cluster.
    pub async fn finish(self) -> anyhow::Result<(Option<Cluster>, u32)> {
        self.stop.store(true, Ordering::Relaxed);
        match self.task.await {
            Ok(result) => result,
            Err(err) => bail!("the crash task failed: {err}"),
        }
    }
}
