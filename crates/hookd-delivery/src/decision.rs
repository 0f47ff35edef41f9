//! What happens after an attempt: the destination's next state, as a pure function of the
//! attempt's result, its trigger and the retry schedule. Also `Retry-After` parsing.
//!
//! Rules:
//! - 2xx settles `Success`. Anything else (3xx included) is a failure.
//! - A manual resend never schedules retries and leaves the scheduled-attempt count alone.
//! - `410 Gone` settles `Fail` at once (the caller also disables the endpoint).
//! - Otherwise the schedule decides whether a retry follows. A `Retry-After` on the response
//!   replaces the schedule's delay (it does not add attempts), clamped to
//!   `[1 s, max_retry_after]`: receivers may ask for sooner or later, but never a hot loop.

use hookd_core::model::{DeliveryStatus, TriggerType};
use hookd_core::retry::RetrySchedule;
use hookd_core::Timestamp;
use std::time::{Duration, SystemTime};

/// The shortest delay a `Retry-After` can ask for.
pub(crate) const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What an attempt returned, reduced to what the decision needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AttemptResult {
    /// The HTTP status, or `None` when no response arrived.
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// The destination's next state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Next {
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    pub next_attempt_at: Option<Timestamp>,
}

/// Decides the next state after an attempt made at `now`.
pub(crate) fn decide(
    result: &AttemptResult,
    trigger: TriggerType,
    attempts_before: u32,
    schedule: &RetrySchedule,
    max_retry_after: Duration,
    now: Timestamp,
) -> Next {
    let attempt_count = match trigger {
        TriggerType::Scheduled => attempts_before.saturating_add(1),
        TriggerType::Manual => attempts_before,
    };
    let settle = |status| Next {
        status,
        attempt_count,
        next_attempt_at: None,
    };
    if result.succeeded() {
        return settle(DeliveryStatus::Success);
    }
    if trigger == TriggerType::Manual || result.gone() {
        return settle(DeliveryStatus::Fail);
    }
    match schedule.next_delay(attempt_count) {
        None => settle(DeliveryStatus::Fail),
        Some(scheduled) => {
            let delay = match result.retry_after {
                Some(asked) => asked.clamp(MIN_RETRY_AFTER, max_retry_after.max(MIN_RETRY_AFTER)),
                None => scheduled,
            };
            let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            Next {
                status: DeliveryStatus::Pending,
                attempt_count,
                next_attempt_at: Some(now.plus_millis(ms)),
            }
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (a date in the past means
/// "now"). `None` for anything else.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    fn schedule() -> RetrySchedule {
        RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(60)], 0.0)
    }

    fn run(
        status: Option<u16>,
        retry_after: Option<u64>,
        trigger: TriggerType,
        before: u32,
    ) -> Next {
        let result = AttemptResult {
            status,
            retry_after: retry_after.map(Duration::from_secs),
        };
        decide(
            &result,
            trigger,
            before,
            &schedule(),
            Duration::from_secs(600),
            NOW,
        )
    }

    fn pending(count: u32, after_ms: i64) -> Next {
        Next {
            status: DeliveryStatus::Pending,
            attempt_count: count,
            next_attempt_at: Some(NOW.plus_millis(after_ms)),
        }
    }

    fn settled(status: DeliveryStatus, count: u32) -> Next {
        Next {
            status,
            attempt_count: count,
            next_attempt_at: None,
        }
    }

    #[test]
    fn success_settles_and_counts_scheduled_attempts_only() {
        use DeliveryStatus::*;
        assert_eq!(
            run(Some(200), None, TriggerType::Scheduled, 0),
            settled(Success, 1)
        );
        assert_eq!(
            run(Some(204), None, TriggerType::Manual, 3),
            settled(Success, 3)
        );
    }

    #[test]
    fn failures_follow_the_schedule_until_exhausted() {
        use DeliveryStatus::*;
        assert_eq!(
            run(Some(500), None, TriggerType::Scheduled, 0),
            pending(1, 5_000)
        );
        assert_eq!(
            run(None, None, TriggerType::Scheduled, 1),
            pending(2, 60_000)
        );
        assert_eq!(
            run(Some(302), None, TriggerType::Scheduled, 2),
            settled(Fail, 3)
        );
        assert_eq!(
            run(Some(199), None, TriggerType::Scheduled, 2),
            settled(Fail, 3)
        );
    }

    #[test]
    fn manual_resends_and_gone_never_retry() {
        use DeliveryStatus::*;
        assert_eq!(
            run(Some(500), None, TriggerType::Manual, 1),
            settled(Fail, 1)
        );
        assert_eq!(
            run(Some(410), None, TriggerType::Scheduled, 0),
            settled(Fail, 1)
        );
    }

    #[test]
    fn retry_after_replaces_the_delay_within_bounds() {
        use DeliveryStatus::*;
        assert_eq!(
            run(Some(429), Some(30), TriggerType::Scheduled, 0),
            pending(1, 30_000)
        );
        assert_eq!(
            run(Some(503), Some(0), TriggerType::Scheduled, 0),
            pending(1, 1_000)
        );
        assert_eq!(
            run(Some(503), Some(99_999), TriggerType::Scheduled, 0),
            pending(1, 600_000)
        );
        // It never adds attempts beyond the schedule.
        assert_eq!(
            run(Some(429), Some(30), TriggerType::Scheduled, 2),
            settled(Fail, 3)
        );
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
