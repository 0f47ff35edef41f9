//! How a workload's requests are released to its `concurrency` sender tasks: all of them
//! as fast as the tasks go (`--messages`), or open-loop at a fixed rate (`--rate
//! --duration`). Shared by the message API senders ([`crate::sender`]) and the ingest
//! senders ([`crate::ingest`]); what one request does is the caller's `job`.

use anyhow::bail;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

// A request is `job(worker, index, due)`: it sends request `index` on sender task
// `worker`; `due` is when it was meant to start (its scheduled moment at a fixed rate, the
// moment a task took it otherwise). It returns when its acknowledgement was read, or
// `None` when it never was; an `Err` ends the run.

/// What the release loop did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Released {
    /// When the last acknowledgement was read.
    pub last_ack: Option<Instant>,
    /// Requests never released because the deadline came first (fixed rate only).
    pub not_released: u64,
}

/// Requests a fixed-rate run sends.
pub fn paced_total(rate: f64, duration: Duration) -> u64 {
    (rate * duration.as_secs_f64()).ceil() as u64
}

/// Runs requests `0..total` as fast as `concurrency` tasks can.
pub async fn all<J, F>(total: u64, concurrency: usize, job: J) -> anyhow::Result<Released>
where
    J: Fn(usize, u64, Instant) -> F + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<Option<Instant>>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let job = job.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut last = None;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok(last);
                }
                last = last.max(job(worker, index, Instant::now()).await?);
            }
        });
    }
    Ok(Released {
        last_ack: join(workers).await?,
        not_released: 0,
    })
}

/// Runs `rate` requests per second for `duration` (released open-loop: a slow answer
/// does not delay the next release), spread over `concurrency` tasks; nothing is
/// released after `deadline`.
pub async fn fixed<J, F>(
    rate: f64,
    duration: Duration,
    concurrency: usize,
    deadline: Instant,
    job: J,
) -> anyhow::Result<Released>
where
    J: Fn(usize, u64, Instant) -> F + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<Option<Instant>>> + Send + 'static,
{
    let total = paced_total(rate, duration);
    let job = Arc::new(job);
    let (tx, rx) = mpsc::channel::<(u64, Instant)>(concurrency.max(16));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let job = job.clone();
        let rx = rx.clone();
        workers.spawn(async move {
            let mut last = None;
            loop {
                let next = rx.lock().await.recv().await;
                let Some((index, due)) = next else {
                    return Ok(last);
                };
                last = last.max(job(worker, index, due).await?);
            }
        });
    }
    // Release requests by elapsed time rather than by tick count, so a late tick is
    // caught up at once instead of stretching the run.
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut released = 0u64;
    'pace: while released < total && Instant::now() < deadline {
        ticks.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
        while released < due {
            let scheduled = start + Duration::from_secs_f64(released as f64 / rate);
            if tx.send((released, scheduled)).await.is_err() {
                // Every worker is gone: one of them failed; `join` reports why.
                break 'pace;
            }
            released += 1;
        }
    }
    drop(tx);
    Ok(Released {
        last_ack: join(workers).await?,
        not_released: total - released,
    })
}

/// Waits for every task; the first failure aborts the others and is returned.
async fn join(
    mut workers: JoinSet<anyhow::Result<Option<Instant>>>,
) -> anyhow::Result<Option<Instant>> {
    let mut last = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(at)) => last = last.max(at),
            Ok(Err(err)) => {
                workers.abort_all();
                return Err(err);
            }
            Err(err) => {
                workers.abort_all();
                bail!("a sender task failed: {err}");
            }
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn paced_total_rounds_up() {
        assert_eq!(paced_total(1000.0, Duration::from_secs(10)), 10_000);
        assert_eq!(paced_total(2.5, Duration::from_secs(1)), 3);
    }

    #[tokio::test]
    async fn every_index_runs_exactly_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let released = all(100, 7, move |_, index, _| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(index);
                Ok(Some(Instant::now()))
            }
        })
        .await
        .unwrap();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert!(released.last_ack.is_some());
    }

    #[tokio::test]
    async fn a_fixed_rate_schedules_each_request_at_its_own_moment() {
        let dues = Arc::new(Mutex::new(Vec::new()));
        let log = dues.clone();
        let far = Instant::now() + Duration::from_secs(60);
        let released = fixed(
            1000.0,
            Duration::from_millis(20),
            4,
            far,
            move |_, i, due| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push((i, due));
                    Ok(None)
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(released.not_released, 0);
        let mut dues = dues.lock().unwrap().clone();
        dues.sort_unstable_by_key(|d| d.0);
        assert_eq!(dues.len(), 20);
        let step = dues[10].1 - dues[9].1;
        assert!(step >= Duration::from_micros(999) && step <= Duration::from_micros(1001));
    }

    #[tokio::test]
    async fn a_failing_request_ends_the_run() {
        let out = all(10, 2, |_, i, _| async move {
            if i == 3 {
                bail!("refused")
            }
            Ok(None)
        })
        .await;
        assert!(out.is_err());
    }
}
