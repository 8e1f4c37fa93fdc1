//! Kills a child that runs longer than its time limit, so a hung child cannot hang the benchmark.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Kills the child if the run takes longer than its time limit, so a hung child cannot hang the
/// benchmark.
pub struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<bool>,
}

impl Watchdog {
    /// Starts watching `pid`: SIGKILL once `limit` has passed, unless stopped first.
    pub fn start(pid: i32, limit: Duration) -> Watchdog {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (lock, condvar) = &*shared;
            let guard = lock.lock().unwrap_or_else(|poison| poison.into_inner());
            let (stopped, _) = condvar
                .wait_timeout_while(guard, limit, |stopped| !*stopped)
                .unwrap_or_else(|poison| poison.into_inner());
            if !*stopped {
                // SAFETY: kill has no memory-safety preconditions; the child is not reaped yet
                // (the driver stops the watchdog before wait4), so the pid is still ours.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return true;
            }
            false
        });
        Watchdog { stop, thread }
    }

    /// Stops the watchdog; true if it had killed the child.
    pub fn stop(self) -> bool {
        let (lock, condvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|poison| poison.into_inner()) = true;
        condvar.notify_all();
        self.thread.join().unwrap_or(false)
    }
}
