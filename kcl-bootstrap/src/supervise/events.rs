//! The supervisor's event feed, for observers such as metrics and health endpoints.
//!
//! An observer implements [`Observer`] and is handed to [`super::run`] in an [`Observers`] list.
//! Events arrive on the supervisor's threads (the main loop, and one reader thread per output
//! stream of the daemon), in the order each thread sees them; an observer must return quickly
//! and never block (copy what it needs, or send it to a channel of its own), since a slow
//! observer slows the reading of the daemon's output and, behind it, the daemon.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use super::lines::LogLine;

/// Something the supervisor saw or did.
#[derive(Debug)]
#[non_exhaustive]
// The fields are for observers; the supervisor itself has none yet (issue 11 adds them).
#[allow(dead_code)]
pub(crate) enum Event<'a> {
    /// The daemon's JVM was started; `run` counts from 1 and grows with each restart.
    DaemonStarted {
        /// The JVM's process id (also its process group id).
        pid: u32,
        /// Which start this is.
        run: u32,
    },
    /// The daemon logged that its scheduler finished initialising ("Initialization complete.
    /// Starting worker loop.", KCL's `Scheduler`); seen only when its logback configuration
    /// shows that logger at INFO, as the default one does.
    SchedulerStarted {
        /// The JVM's process id.
        pid: u32,
    },
    /// One line of the daemon's output (its own or a child's), parsed.
    Line {
        /// The JVM's process id.
        pid: u32,
        /// The line.
        line: &'a LogLine,
    },
    /// The daemon's JVM exited.
    DaemonExited {
        /// Its process id.
        pid: u32,
        /// Its status.
        status: ExitStatus,
        /// How long it ran.
        ran_for: Duration,
        /// Whether a signal to the supervisor had asked for the stop.
        stop_requested: bool,
    },
    /// The daemon will be started again after `delay`.
    Restarting {
        /// The run that will start.
        run: u32,
        /// The back-off before it.
        delay: Duration,
    },
    /// The restart budget is spent: the supervisor exits.
    GaveUp {
        /// Restarts made within the window.
        restarts: usize,
    },
}

/// Receives the supervisor's events; see the module documentation for the rules.
pub(crate) trait Observer: Send + Sync {
    /// Called once per event.
    fn observe(&self, event: &Event<'_>);
}

/// The observers of one supervisor (none by default), shared by its threads.
#[derive(Clone, Default)]
pub(crate) struct Observers(Arc<Vec<Arc<dyn Observer>>>);

impl Observers {
    /// A feed to these observers.
    #[allow(dead_code)] // The observability endpoints (issue 11) are its first users.
    pub(crate) fn new(observers: Vec<Arc<dyn Observer>>) -> Observers {
        Observers(Arc::new(observers))
    }

    /// Hands `event` to every observer, in order.
    pub(crate) fn emit(&self, event: &Event<'_>) {
        for observer in self.0.iter() {
            observer.observe(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<String>>);

    impl Observer for Recorder {
        fn observe(&self, event: &Event<'_>) {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }

    #[test]
    fn every_observer_sees_every_event_in_order() {
        let a = Arc::new(Recorder(Mutex::new(Vec::new())));
        let b = Arc::new(Recorder(Mutex::new(Vec::new())));
        let feed = Observers::new(vec![a.clone(), b.clone()]);
        feed.emit(&Event::DaemonStarted { pid: 7, run: 1 });
        feed.emit(&Event::SchedulerStarted { pid: 7 });
        for recorder in [&a, &b] {
            let seen = recorder.0.lock().unwrap();
            assert_eq!(seen.len(), 2);
            assert!(
                seen[0].starts_with("DaemonStarted") && seen[1].starts_with("SchedulerStarted")
            );
        }
        Observers::default().emit(&Event::GaveUp { restarts: 1 });
    }
}
