//! The deadline on every store call. A database that stops answering (frozen processes,
//! a partitioned network, a stuck disk) never blocks a caller beyond it: the call gives up
//! and reports `StoreError::Unavailable`, which the API answers `503 unavailable`.
//!
//! What a call that timed out did is unknown to its caller: it may still commit. Both
//! backends skip the queued writes whose caller has gone before they start, so only a
//! write already on its way to the database when the deadline passed can commit after its
//! caller was told 503 (idempotency keys and `eventId` make the retry safe).

use crate::{StoreError, StoreResult};
use std::future::Future;
use std::time::Duration;

/// The deadline of a store call when none is configured.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `call`, or answers `Unavailable` once `limit` has passed (dropping `call`).
pub(crate) async fn within<T>(
    limit: Duration,
    what: &'static str,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "{what} did not answer within {:.1} s",
            limit.as_secs_f64()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_past_its_deadline_is_unavailable() {
        let started = std::time::Instant::now();
        let slow = within(Duration::from_millis(50), "the database", async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        match slow.await {
            Err(StoreError::Unavailable(why)) => {
                assert_eq!(why, "the database did not answer within 0.1 s")
            }
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        let quick = within(Duration::from_secs(2), "the database", async { Ok(7) });
        assert_eq!(quick.await.unwrap(), 7);
    }
}
