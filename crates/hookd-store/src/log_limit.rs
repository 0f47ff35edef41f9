//! [`RateLimitedLog`]: one log line per interval for errors that repeat with one cause (a
//! database outage, a full disk), with how many were left out, instead of one per failed
//! call. A storm of identical lines would otherwise fill the very disk that is full.

use std::sync::atomic::{AtomicU64, Ordering};

/// Admits at most one log line per second. Use one static per cause.
pub struct RateLimitedLog {
    /// The second (since the epoch) of the last admitted line.
    last: AtomicU64,
    /// Lines refused since the last admitted one.
    suppressed: AtomicU64,
}

impl RateLimitedLog {
    pub const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one)` if a line may be logged now.
    pub fn admit(&self) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last.load(Ordering::Relaxed);
        if now > last
            && self
                .last
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::AcqRel))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Default for RateLimitedLog {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimitedLog;

    #[test]
    fn one_line_per_second_with_the_count_left_out() {
        let log = RateLimitedLog::new();
        assert_eq!(log.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(log.admit(), None);
        }
        // The next second's first line reports the five left out.
        log.last.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(log.admit(), Some(5));
    }
}
