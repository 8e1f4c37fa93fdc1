//! The restart budget: at most `max_restarts` restarts within a sliding `window`, each after a
//! delay that doubles with every restart still inside the window, up to a cap. A daemon that has
//! run well for longer than the window starts again from the first delay.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The limits, from `--max-restarts`, `--restart-window`, `--restart-delay` and
/// `--restart-delay-max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestartLimits {
    max_restarts: u32,
    window: Duration,
    delay: Duration,
    delay_max: Duration,
}

impl RestartLimits {
    /// At most `max_restarts` within `window`, the first after `delay`, none after more than
    /// `delay_max` (raised to `delay` if smaller).
    pub(crate) fn new(
        max_restarts: u32,
        window: Duration,
        delay: Duration,
        delay_max: Duration,
    ) -> RestartLimits {
        RestartLimits {
            max_restarts,
            window,
            delay,
            delay_max: delay_max.max(delay),
        }
    }

    /// Restarts allowed within the window.
    pub(crate) fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    /// The sliding window.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }
}

/// The restarts made so far.
#[derive(Debug)]
pub(crate) struct RestartBudget {
    limits: RestartLimits,
    restarts: VecDeque<Instant>,
}

impl RestartBudget {
    /// No restarts yet.
    pub(crate) fn new(limits: RestartLimits) -> RestartBudget {
        RestartBudget {
            limits,
            restarts: VecDeque::new(),
        }
    }

    /// Takes a restart at `now` and returns the delay before it, or `None` when
    /// `max_restarts` were already made within the window.
    pub(crate) fn take(&mut self, now: Instant) -> Option<Duration> {
        while let Some(first) = self.restarts.front() {
            if now.saturating_duration_since(*first) >= self.limits.window {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        if self.restarts.len() >= self.limits.max_restarts as usize {
            return None;
        }
        self.restarts.push_back(now);
        let doublings = u32::try_from(self.restarts.len() - 1).unwrap_or(u32::MAX);
        let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
        Some(
            self.limits
                .delay
                .saturating_mul(factor)
                .min(self.limits.delay_max),
        )
    }

    /// Restarts within the window at the last [`RestartBudget::take`].
    pub(crate) fn in_window(&self) -> usize {
        self.restarts.len()
    }

    /// The limits.
    pub(crate) fn limits(&self) -> RestartLimits {
        self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_restarts: u32) -> RestartLimits {
        RestartLimits::new(
            max_restarts,
            Duration::from_secs(600),
            Duration::from_secs(1),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn delays_double_up_to_the_cap_then_the_budget_is_spent() {
        let mut budget = RestartBudget::new(limits(6));
        let start = Instant::now();
        let delays: Vec<Option<u64>> = (0..7)
            .map(|i| {
                budget
                    .take(start + Duration::from_secs(i * 20))
                    .map(|d| d.as_secs())
            })
            .collect();
        assert_eq!(
            delays,
            [Some(1), Some(2), Some(4), Some(8), Some(10), Some(10), None]
        );
        assert_eq!(budget.in_window(), 6);
    }

    #[test]
    fn restarts_leave_the_window_and_the_delay_starts_over() {
        let mut budget = RestartBudget::new(limits(2));
        let start = Instant::now();
        assert_eq!(budget.take(start), Some(Duration::from_secs(1)));
        assert_eq!(
            budget.take(start + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(budget.take(start + Duration::from_secs(2)), None);
        // Ten minutes after the first two, the budget is whole again.
        let later = start + Duration::from_secs(602);
        assert_eq!(budget.take(later), Some(Duration::from_secs(1)));
        assert_eq!(budget.in_window(), 1);
    }

    #[test]
    fn zero_restarts_means_none() {
        assert_eq!(RestartBudget::new(limits(0)).take(Instant::now()), None);
    }
}
