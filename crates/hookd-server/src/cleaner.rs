//! The retention cleaner: expunges expired payloads, deletes attempts older than the
//! configured retention, forgets expired idempotency keys and ingest de-duplication
//! entries, and deletes old entries of the ingest rejection log.
//!
//! Each node runs one (see [`spawn`]); `hookd prune` runs one pass ([`clean_once`]). Work is
//! done in batches of [`BATCH`] rows, one short transaction each, yielding between batches,
//! so the cleaner never holds SQLite's writer or PostgreSQL row locks for long and live
//! traffic goes first. On PostgreSQL, nodes' cleaners skip rows another is purging, so
//! running one per node is safe and never makes them wait on each other.
//!
//! A payload whose message still has a pending or in-flight delivery is kept until that
//! delivery settles (the store skips it), so retention never turns a retry into a failure.

use anyhow::{bail, Context};
use hookd_core::liveness::Heartbeat;
use hookd_core::Timestamp;
use hookd_store::{Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows changed per transaction at most.
pub const BATCH: u32 = 1000;

/// What one pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub payloads: u64,
    pub attempts: u64,
    pub idempotency_keys: u64,
    /// Expired ingest de-duplication entries and old rejections.
    pub ingest_records: u64,
}

/// One full pass at `now`: every expired payload (but those still needed), every attempt
/// created before `attempts_before` (if given), every expired idempotency key and ingest
/// de-duplication entry, and every ingest rejection received before `rejections_before`,
/// batch by batch until none is left or `stop` is cancelled. Each batch is progress on
/// `heartbeat`, if given, so a long pass is not taken for a stall.
pub async fn clean_once(
    store: &dyn Store,
    now: Timestamp,
    attempts_before: Option<Timestamp>,
    rejections_before: Timestamp,
    stop: &CancellationToken,
    heartbeat: Option<&Heartbeat>,
) -> StoreResult<Removed> {
    let payloads = drain(stop, heartbeat, || store.purge_expired_payloads(now, BATCH)).await?;
    let attempts = match attempts_before {
        Some(before) => drain(stop, heartbeat, || store.purge_attempts(before, BATCH)).await?,
        None => 0,
    };
    let idempotency_keys =
        drain(stop, heartbeat, || store.purge_idempotency_keys(now, BATCH)).await?;
    let ingest_records = drain(stop, heartbeat, || {
        store.purge_ingest_records(now, rejections_before, BATCH)
    })
    .await?;
    Ok(Removed {
        payloads,
        attempts,
        idempotency_keys,
        ingest_records,
    })
}

/// Runs `purge` until a batch comes back short, yielding between batches.
async fn drain<F, Fut>(
    stop: &CancellationToken,
    heartbeat: Option<&Heartbeat>,
    mut purge: F,
) -> StoreResult<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<u64>>,
{
    let mut total = 0;
    loop {
        let n = purge().await?;
        if let Some(h) = heartbeat {
            h.progress();
        }
        total += n;
        if n < u64::from(BATCH) || stop.is_cancelled() {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Starts the node's cleaner: a pass every `interval` until `stop` is cancelled. Failures
/// (e.g. the database is down) are logged and retried at the next round.
pub fn spawn(
    store: Arc<dyn Store>,
    interval: Duration,
    attempt_retention: Option<Duration>,
    rejection_retention: Duration,
    metrics: Arc<crate::metrics::ServerMetrics>,
    heartbeat: Arc<Heartbeat>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let next_round = move || Some(Timestamp::now().plus_millis(millis(interval)));
    heartbeat.settle(next_round());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let now = Timestamp::now();
            let before = attempt_retention.map(|r| now.plus_millis(-millis(r)));
            let rejections_before = now.plus_millis(-millis(rejection_retention));
            let pass = clean_once(
                store.as_ref(),
                now,
                before,
                rejections_before,
                &stop,
                Some(&heartbeat),
            );
            match pass.await {
                Ok(r) if r != Removed::default() => {
                    heartbeat.settle(next_round());
                    metrics.cleaned(&r);
                    tracing::info!(
                        payloads = r.payloads,
                        attempts = r.attempts,
                        idempotency_keys = r.idempotency_keys,
                        ingest_records = r.ingest_records,
                        "retention cleaner removed expired data"
                    )
                }
                Ok(_) => heartbeat.settle(next_round()),
                Err(e) => tracing::warn!(error = %e, "retention cleaner round failed"),
            }
        }
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Parses an age such as `30d`, `12h`, `90m` or `45s` (a whole number and a unit).
pub fn parse_age(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not an age such as 30d, 12h, 90m or 45s"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{text:?} is not an age such as 30d, 12h, 90m or 45s (units: s, m, h, d)"),
    };
    n.checked_mul(unit_secs)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .with_context(|| format!("{text:?} is too long an age"))
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_parse_with_units_and_bad_ones_are_refused() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(90 * 60));
        assert_eq!(parse_age("0s").unwrap(), Duration::ZERO);
        for bad in ["", "30", "d", "30w", "-1d", "1.5d", "99999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad:?} accepted");
        }
    }
}
