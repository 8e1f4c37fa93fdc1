//! The supervisor's event feed (`supervise::events`) turned into [`WorkerEvent`]s.
//!
//! The feed's rule is that an observer returns quickly and never blocks the daemon's output
//! readers: every line is classified here without the lock, and the worker's lock is taken only
//! for the few lines that matter (the scheduler's lease list once a minute, its start, a new shard
//! consumer) and for the daemon's starts and exits. The lock's other users hold it for one report
//! or one exposition.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::daemon_lines::DaemonLine;
use super::worker::{Worker, WorkerEvent};
use crate::supervise::events::{Event, Observer};
use crate::supervise::lines::Source;

pub(crate) struct Feed {
    worker: Arc<Mutex<Worker>>,
}

impl Feed {
    pub(crate) fn new(worker: Arc<Mutex<Worker>>) -> Feed {
        Feed { worker }
    }

    fn send(&self, event: WorkerEvent) {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        worker.event(event, Instant::now());
    }
}

/// What an event means for the endpoint, if anything.
pub(crate) fn translate(event: &Event<'_>) -> Option<WorkerEvent> {
    Some(match event {
        Event::DaemonStarted { .. } => WorkerEvent::DaemonStarted,
        Event::SchedulerStarted { .. } => WorkerEvent::SchedulerStarted,
        // The daemon's lines are recognised as its own only with kcl-bootstrap's logback pattern;
        // with another they pass as unattributed lines. Only a child's parsed line (it names its
        // shard) is surely not the daemon's.
        Event::Line { line, .. } if !(line.source() == Source::Child && line.shard().is_some()) => {
            match DaemonLine::parse(line.message()) {
                DaemonLine::Other => return None,
                meaningful => WorkerEvent::DaemonLine(meaningful),
            }
        }
        Event::DaemonExited {
            pid,
            ran_for,
            stop_requested,
            status,
        } => {
            let why = if *stop_requested {
                ", asked to stop"
            } else {
                ""
            };
            WorkerEvent::DaemonExited(format!(
                "the daemon (pid {pid}) exited after {:.0}s ({status}{why})",
                ran_for.as_secs_f64()
            ))
        }
        Event::Restarting { .. } => WorkerEvent::Restarting,
        Event::GaveUp { restarts } => WorkerEvent::GaveUp(format!(
            "the supervisor gave up restarting the daemon after {restarts} restarts"
        )),
        _ => return None,
    })
}

impl Observer for Feed {
    fn observe(&self, event: &Event<'_>) {
        if let Some(event) = translate(event) {
            self.send(event);
        }
    }
}
