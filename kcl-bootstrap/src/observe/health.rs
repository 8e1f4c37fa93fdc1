//! The daemon's state as the supervisor sees it, and the verdicts of `/healthz` and `/readyz`.
//!
//! `/healthz` is 200 while the daemon runs or is being restarted within the restart policy, and
//! no shard has a problem ([`ShardProblem`]); otherwise 503 with a one-line reason naming the
//! shards. `/readyz` is 200 once the daemon's scheduler has started its worker loop (its log line)
//! or a child has initialised, until the daemon exits.

use std::time::Duration;

use super::shards::ShardProblem;
use crate::cli::show_duration;

/// The daemon (JVM) process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DaemonState {
    NotStarted,
    Running,
    /// Exited; the supervisor starts it again after its backoff.
    Restarting,
    /// Exited for good: why (the supervisor's words).
    Stopped(String),
}

/// A probe's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass(String),
    Fail(String),
}

/// At most this many shards are named in one reason line.
const NAMED_SHARDS: usize = 5;

pub(crate) fn health(daemon: &DaemonState, problems: &[ShardProblem], bound: Duration) -> Verdict {
    match daemon {
        DaemonState::NotStarted => {
            return Verdict::Fail("the daemon has not been started yet".to_owned());
        }
        DaemonState::Stopped(why) => {
            return Verdict::Fail(format!("the daemon is not running: {why}"));
        }
        DaemonState::Restarting => {
            return Verdict::Pass("ok: the daemon exited and is being restarted".to_owned());
        }
        DaemonState::Running => {}
    }
    if problems.is_empty() {
        return Verdict::Pass("ok".to_owned());
    }
    let mut parts: Vec<String> = problems
        .iter()
        .take(NAMED_SHARDS)
        .map(|problem| describe(problem, bound))
        .collect();
    if problems.len() > NAMED_SHARDS {
        parts.push(format!("and {} more", problems.len() - NAMED_SHARDS));
    }
    Verdict::Fail(parts.join("; "))
}

fn describe(problem: &ShardProblem, bound: Duration) -> String {
    match problem {
        ShardProblem::Stalled {
            shard_id,
            millis_behind,
            since,
        } => format!(
            "shard {shard_id} stalled: {millis_behind} ms behind at its last batch, no batch for {} \
             (--stall-after {})",
            seconds(*since),
            show_duration(bound)
        ),
        ShardProblem::Unserved { shard_id, since } => format!(
            "shard {shard_id}: this worker holds its lease but no child has run for it for {} \
             (--stall-after {})",
            seconds(*since),
            show_duration(bound)
        ),
    }
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

pub(crate) fn readiness(daemon: &DaemonState, started: bool) -> Verdict {
    match (daemon, started) {
        (DaemonState::Running, true) => Verdict::Pass("ready".to_owned()),
        (DaemonState::Running, false) => {
            Verdict::Fail("not ready: the daemon's scheduler has not started yet".to_owned())
        }
        (DaemonState::NotStarted, _) => {
            Verdict::Fail("not ready: the daemon has not been started yet".to_owned())
        }
        (DaemonState::Restarting, _) => {
            Verdict::Fail("not ready: the daemon is being restarted".to_owned())
        }
        (DaemonState::Stopped(why), _) => {
            Verdict::Fail(format!("not ready: the daemon is not running: {why}"))
        }
    }
}
