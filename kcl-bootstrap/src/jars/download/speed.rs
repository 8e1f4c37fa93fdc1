//! The minimum-progress rule: a body that keeps trickling (one byte just before each read
//! timeout) would never trip the idle timeout, so every read-timeout interval must also bring at
//! least `min_speed` bytes per second on average.

use std::time::{Duration, Instant};

/// A download that fell below the minimum speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooSlow {
    /// Bytes received in the interval.
    pub(crate) bytes: u64,
    /// The interval's length.
    pub(crate) over: Duration,
}

/// Tracks the bytes of the current interval.
#[derive(Debug)]
pub(crate) struct SpeedCheck {
    interval: Duration,
    min_speed: u64,
    started: Instant,
    bytes: u64,
}

impl SpeedCheck {
    /// Starts the first interval at `now`; `min_speed` 0 turns the rule off.
    pub(crate) fn new(now: Instant, interval: Duration, min_speed: u64) -> SpeedCheck {
        SpeedCheck {
            interval,
            min_speed,
            started: now,
            bytes: 0,
        }
    }

    /// Records `n` bytes received at `now`; fails when a finished interval was too slow.
    pub(crate) fn record(&mut self, now: Instant, n: u64) -> Result<(), TooSlow> {
        self.bytes += n;
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < self.interval {
            return Ok(());
        }
        let rate = self.bytes as f64 / elapsed.as_secs_f64();
        if self.min_speed > 0 && rate < self.min_speed as f64 {
            return Err(TooSlow {
                bytes: self.bytes,
                over: elapsed,
            });
        }
        self.started = now;
        self.bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_fails_a_steady_stream_passes() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // 1000 B/s wanted over 10 s intervals.
        let mut check = SpeedCheck::new(t0, 10 * s, 1000);
        for i in 1..=30u32 {
            assert!(check.record(t0 + i * s, 2000).is_ok(), "{i}");
        }
        let mut check = SpeedCheck::new(t0, 10 * s, 1000);
        for i in 1..10u32 {
            assert!(check.record(t0 + i * s, 100).is_ok(), "{i}");
        }
        assert_eq!(
            check.record(t0 + 10 * s, 100),
            Err(TooSlow {
                bytes: 1000,
                over: 10 * s
            })
        );
        // A read that returns late counts its whole delay.
        let mut check = SpeedCheck::new(t0, 10 * s, 1000);
        assert!(check.record(t0 + 25 * s, 20_000).is_err());
        // Zero turns the rule off.
        let mut check = SpeedCheck::new(t0, 10 * s, 0);
        assert!(check.record(t0 + 100 * s, 1).is_ok());
    }
}
