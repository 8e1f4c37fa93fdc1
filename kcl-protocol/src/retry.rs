//! [`RetryPolicy`]: exponential backoff for checkpoints (and for callbacks the engine calls again).

use std::time::Duration;

use crate::checkpoint::CheckpointError;

/// Retries an operation with exponential backoff.
///
/// [`retry`](Self::retry) retries only errors that are [retryable](CheckpointError::is_retryable)
/// (throttling, dependency failures). The same policy type configures how often the library calls a
/// failing callback again ([`Runner::retry_failed_callbacks`](crate::Runner::retry_failed_callbacks)).
///
/// ```no_run
/// # use kcl_protocol::{Checkpointer, CheckpointError, RetryPolicy};
/// # use std::time::Duration;
/// # fn f(checkpointer: &mut Checkpointer<'_>) -> Result<(), CheckpointError> {
/// let policy = RetryPolicy::default().max_attempts(10).initial_backoff(Duration::from_millis(50));
/// policy.retry(|| checkpointer.checkpoint())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, backoff 200 ms doubling up to 5 s (about 6 s of waiting in the worst case).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once and never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Total attempts including the first (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the second attempt; it doubles before each later one.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest wait between two attempts.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Runs `operation` until it succeeds, fails with an error that is not retryable, or the
    /// attempts run out; returns the last result.
    pub fn retry<T>(
        &self,
        mut operation: impl FnMut() -> Result<T, CheckpointError>,
    ) -> Result<T, CheckpointError> {
        let mut attempt = 1;
        loop {
            match operation() {
                Err(error) if error.is_retryable() && attempt < self.max_attempts => {
                    let wait = self.backoff_after(attempt);
                    tracing::warn!(attempt, ?wait, "{error}; retrying");
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_stops_on_success_and_on_non_retryable_errors() {
        let policy = RetryPolicy::default()
            .max_attempts(5)
            .initial_backoff(Duration::ZERO);
        let mut calls = 0;
        let result = policy.retry(|| {
            calls += 1;
            if calls < 3 {
                Err(CheckpointError::Throttling)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.unwrap(), 3);

        let mut calls = 0;
        let result: Result<(), _> = policy.retry(|| {
            calls += 1;
            Err(CheckpointError::Shutdown)
        });
        assert!(matches!(result, Err(CheckpointError::Shutdown)));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let result: Result<(), _> = policy.retry(|| {
            calls += 1;
            Err(CheckpointError::Throttling)
        });
        assert!(matches!(result, Err(CheckpointError::Throttling)));
        assert_eq!(calls, 5);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        let waits: Vec<_> = (1..=4)
            .map(|a| policy.backoff_after(a).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
