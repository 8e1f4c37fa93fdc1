//! The whole worker as the supervisor sees it: children's reports and the supervisor's events in,
//! metrics and probe verdicts out. Time is passed in, so that tests control it.

use std::time::{Duration, Instant, SystemTime};

use super::daemon_lines::DaemonLine;
use super::health::{self, DaemonState, Verdict};
use super::metrics::Metrics;
use super::report::ChildReport;
use super::shards::Shards;

/// What the supervisor tells the observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WorkerEvent {
    /// The JVM was started (again).
    DaemonStarted,
    /// The daemon's scheduler started its worker loop.
    SchedulerStarted,
    /// A line of the daemon's own that says something about leases or the scheduler.
    DaemonLine(DaemonLine),
    /// The JVM exited (how, in the supervisor's words); unless [`WorkerEvent::Restarting`]
    /// follows, it stays down.
    DaemonExited(String),
    /// The supervisor starts the JVM again after its back-off.
    Restarting,
    /// The supervisor gave up restarting it.
    GaveUp(String),
}

pub(crate) struct Worker {
    metrics: Metrics,
    shards: Shards,
    daemon: DaemonState,
    /// The scheduler started, or a child initialised, since the daemon last started.
    started: bool,
    /// Whether the daemon ran before (a start after that is a restart).
    ran_before: bool,
    stall_after: Duration,
}

impl Worker {
    pub(crate) fn new(stall_after: Duration) -> Worker {
        let worker = Worker {
            metrics: Metrics::new(),
            shards: Shards::default(),
            daemon: DaemonState::NotStarted,
            started: false,
            ran_before: false,
            stall_after,
        };
        worker.metrics.set_daemon_up(false);
        worker
    }

    /// One datagram from the report socket, received at `now` (`wall`: the same instant in Unix
    /// time).
    pub(crate) fn datagram(&mut self, datagram: &[u8], now: Instant, wall: SystemTime) {
        let Some(mut report) = ChildReport::parse(datagram) else {
            self.metrics.rejected_report();
            return;
        };
        let Some(lost) = self.shards.record(&mut report, now) else {
            self.metrics.rejected_report();
            return;
        };
        if lost > 0 {
            self.metrics.lost_reports(lost);
        }
        if report.action == "initialize" {
            self.started = true;
        }
        let unix = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        self.metrics.record(&report, unix);
        self.update_counts();
    }

    pub(crate) fn event(&mut self, event: WorkerEvent, now: Instant) {
        match event {
            WorkerEvent::DaemonStarted => {
                if self.ran_before {
                    self.metrics.daemon_restarted();
                }
                self.ran_before = true;
                self.daemon = DaemonState::Running;
                self.started = false;
                self.metrics.set_daemon_up(true);
            }
            WorkerEvent::SchedulerStarted => self.started = true,
            WorkerEvent::DaemonExited(how) => {
                self.daemon = DaemonState::Stopped(how);
                self.started = false;
                self.shards.daemon_exited(now);
                self.metrics.set_daemon_up(false);
            }
            WorkerEvent::Restarting => self.daemon = DaemonState::Restarting,
            WorkerEvent::GaveUp(why) => self.daemon = DaemonState::Stopped(why),
            WorkerEvent::DaemonLine(line) => match line {
                DaemonLine::Assignments(leases) => self.shards.set_held(leases),
                DaemonLine::SchedulerStarted => self.started = true,
                DaemonLine::ConsumerCreated(shard_id) => self.shards.consumer_created(&shard_id),
                DaemonLine::Other => return,
            },
        }
        self.update_counts();
    }

    /// Checks children's processes and expires series; call about once a second.
    pub(crate) fn tick(&mut self, now: Instant, alive: &dyn Fn(u32) -> bool) {
        for expired in self.shards.tick(now, alive) {
            self.metrics
                .forget_shard(&expired.shard_id, &expired.results, &expired.actions);
        }
        self.update_counts();
    }

    fn update_counts(&self) {
        let (alive, held) = self.shards.counts();
        self.metrics.set_children(alive, held);
        for (shard_id, up) in self.shards.children() {
            self.metrics.set_child_up(shard_id, up);
        }
    }

    pub(crate) fn health(&self, now: Instant) -> Verdict {
        let problems = self.shards.problems(now, self.stall_after);
        health::health(&self.daemon, &problems, self.stall_after)
    }

    pub(crate) fn readiness(&self) -> Verdict {
        health::readiness(&self.daemon, self.started)
    }

    pub(crate) fn exposition(&self) -> String {
        self.metrics.encode()
    }
}
