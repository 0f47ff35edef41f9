//! The retry schedule: delays after the immediate first attempt, with jitter.

use rand::Rng;
use std::time::Duration;

/// Delays between attempts. Attempt 1 is immediate; attempt `n + 2` waits `delays[n]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    /// Fraction of each delay added or removed at random (0.2 = ±20 %), so retries of
    /// many messages failing together spread out.
    jitter: f64,
}

/// Why a schedule string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("retry schedule must be comma-separated non-negative seconds, e.g. \"5,300,1800\": {0}")]
pub struct ScheduleError(String);

impl Default for RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with ±20 % jitter.
    fn default() -> Self {
        let secs = [5, 300, 1800, 7200, 18000, 36000, 36000];
        Self::new(secs.iter().map(|s| Duration::from_secs(*s)).collect(), 0.2)
    }
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>, jitter: f64) -> Self {
        Self {
            delays,
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    /// Parses `HOOKD_RETRY_SCHEDULE`: comma-separated seconds (fractions allowed).
    pub fn parse(s: &str, jitter: f64) -> Result<Self, ScheduleError> {
        let mut delays = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let secs: f64 = part.parse().map_err(|_| ScheduleError(part.to_owned()))?;
            if !(0.0..=365.0 * 86400.0).contains(&secs) {
                return Err(ScheduleError(part.to_owned()));
            }
            delays.push(Duration::from_secs_f64(secs));
        }
        Ok(Self::new(delays, jitter))
    }

    /// Total attempts a message gets: the first plus one per delay.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// The delay before the next attempt after `attempts_made` scheduled attempts, or
    /// `None` when retries are exhausted.
    pub fn next_delay(&self, attempts_made: u32) -> Option<Duration> {
        let base = *self.delays.get(attempts_made.checked_sub(1)? as usize)?;
        if self.jitter == 0.0 || base.is_zero() {
            return Some(base);
        }
        let factor = rand::thread_rng().gen_range(1.0 - self.jitter..=1.0 + self.jitter);
        Some(base.mul_f64(factor))
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_has_eight_attempts_with_bounded_jitter() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        for _ in 0..100 {
            let d = s.next_delay(1).unwrap().as_secs_f64();
            assert!((4.0..=6.0).contains(&d), "{d}");
        }
        assert!(s.next_delay(8).is_none());
        assert!(s.next_delay(0).is_none());
    }

    #[test]
    fn parses_and_rejects_schedules() {
        let s = RetrySchedule::parse("1, 2,0.5", 0.0).unwrap();
        assert_eq!(s.next_delay(3), Some(Duration::from_millis(500)));
        assert!(RetrySchedule::parse("1,x", 0.0).is_err());
        assert!(RetrySchedule::parse("-1", 0.0).is_err());
    }
}
