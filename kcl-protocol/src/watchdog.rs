//! Making the daemon's `timeoutInSeconds` visible before it strikes.
//!
//! With `timeoutInSeconds` set, the daemon waits that long for each message from the child; if
//! none arrives it logs one line and calls `Runtime.halt(1)`: the whole JVM dies, every shard with
//! it, and the child never gets to say why (`MultiLangProtocol.waitForStatusMessage` and
//! `futureMethod` in the KCL multilang module). The timer starts when the daemon begins to wait:
//! after writing an action, and again after answering each checkpoint request.
//!
//! The daemon does not tell the child the value, so the launcher passes it in the environment
//! variable [`TIMEOUT_VARIABLE`] (integer seconds), which the JVM passes on to every child.
//! [`Runner::run`](crate::Runner::run) reads it; when it is set, a [`Watchdog`] thread logs one
//! WARN, with the shard id and the action, when a callback has kept the daemon waiting for more
//! than 80% of the timeout. Without the variable nothing runs.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable with the daemon's `timeoutInSeconds`.
pub const TIMEOUT_VARIABLE: &str = "KCL_TIMEOUT_IN_SECONDS";

/// The daemon's timeout as the launcher passed it: `None` when the variable is not set, or (with
/// one WARN) when it is not a positive integer number of seconds.
pub(crate) fn timeout_from_environment() -> Option<Duration> {
    let value = std::env::var_os(TIMEOUT_VARIABLE)?;
    match parse_timeout(&value.to_string_lossy()) {
        Some(timeout) => Some(timeout),
        None => {
            // Logged once: the environment is read once per process.
            tracing::warn!(
                value = ?value,
                "ignoring {TIMEOUT_VARIABLE}: not a positive integer number of seconds"
            );
            None
        }
    }
}

fn parse_timeout(text: &str) -> Option<Duration> {
    match text.trim().parse::<u64>() {
        Ok(0) | Err(_) => None,
        Ok(seconds) => Some(Duration::from_secs(seconds)),
    }
}

/// The share of the timeout after which a callback is reported.
const WARN_AT_PERCENT: u32 = 80;

/// Watches the callbacks on a thread of its own; stopped when dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the engine (and the checkpoint round trip) tell the watchdog; cheap to clone.
#[derive(Clone)]
pub(crate) struct WatchdogHandle {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Only stopping is signalled: arming needs no wake-up (see `watch`).
    stopped: Condvar,
}

struct State {
    /// The action the daemon waits on, and since when (for the current read).
    armed: Option<Armed>,
    stop: bool,
}

struct Armed {
    action: &'static str,
    since: Instant,
    warned: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Watchdog {
    /// Starts watching against `timeout`; `None` if no thread could be started (then nothing is
    /// watched, which is logged).
    pub(crate) fn start(timeout: Duration) -> Option<Watchdog> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                armed: None,
                stop: false,
            }),
            stopped: Condvar::new(),
        });
        let watched = Arc::clone(&shared);
        let shard_id = crate::engine::current_shard_id;
        match std::thread::Builder::new()
            .name("kcl-timeout-watchdog".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(&watched, timeout, shard_id))
        {
            Ok(thread) => Some(Watchdog {
                shared,
                thread: Some(thread),
            }),
            Err(error) => {
                tracing::warn!("cannot start the timeout watchdog thread ({error}); not watching");
                None
            }
        }
    }

    pub(crate) fn handle(&self) -> WatchdogHandle {
        WatchdogHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.stopped.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl WatchdogHandle {
    /// The daemon now waits for the child to finish `action` (its timer starts).
    pub(crate) fn arm(&self, action: &'static str) {
        self.shared.lock().armed = Some(Armed {
            action,
            since: Instant::now(),
            warned: false,
        });
    }

    /// The daemon answered a checkpoint request and waits again, with a fresh timer.
    pub(crate) fn restart(&self) {
        if let Some(armed) = &mut self.shared.lock().armed {
            armed.since = Instant::now();
            armed.warned = false;
        }
    }

    /// The child acknowledged the action: nothing to watch until the next one.
    pub(crate) fn disarm(&self) {
        self.shared.lock().armed = None;
    }
}

/// The watchdog thread. It sleeps until the earliest moment a warning can be due: the arming time
/// plus the threshold, or (when nothing is armed) one threshold. Anything armed during a sleep is
/// armed later than the sleep began, so its warning cannot be due before the thread wakes: the
/// engine never has to wake the thread, and arming costs one uncontended lock.
fn watch(shared: &Shared, timeout: Duration, shard_id: fn() -> Option<&'static str>) {
    let threshold = timeout * WARN_AT_PERCENT / 100;
    let mut state = shared.lock();
    while !state.stop {
        let now = Instant::now();
        let sleep = match &mut state.armed {
            Some(armed) if !armed.warned => {
                let waited = now.saturating_duration_since(armed.since);
                if waited >= threshold {
                    armed.warned = true;
                    tracing::warn!(
                        shard_id = shard_id().unwrap_or_default(),
                        action = armed.action,
                        "{} has kept the daemon waiting for {:.1} s, more than {WARN_AT_PERCENT}% of \
                         its timeoutInSeconds ({timeout:?}): when the timeout passes without a \
                         message from this child the daemon halts the whole JVM (Runtime.halt), \
                         every shard with it",
                        armed.action,
                        waited.as_secs_f64(),
                    );
                    threshold
                } else {
                    threshold - waited
                }
            }
            _ => threshold,
        };
        state = shared
            .stopped
            .wait_timeout(state, sleep)
            .unwrap_or_else(|poison| poison.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_whole_seconds_are_a_timeout() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout(" 5\n"), Some(Duration::from_secs(5)));
        for bad in ["0", "", "abc", "-1", "1.5", "10s"] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }
}
