//! What the supervisor knows about each shard: its child (alive or ended), its last batch and
//! lag, whether this worker holds its lease, and when its series expire.
//!
//! **The expiry rule.** A shard's series (every metric with its `shard_id`) stay while its child
//! is alive or this worker holds its lease. Once the child has ended (it reported `leaseLost`,
//! `shardEnded` or `shutdown`, it exited without acknowledging, its process is gone, or the
//! daemon exited) and the lease is not held, they stay for [`SERIES_RETENTION`] more, so that a
//! final value is scraped at least a few times, and then disappear. A child for the shard that
//! starts meanwhile (the lease came back) keeps them, counters continuing. A moved lease thus
//! leaves no stale gauge for more than five minutes; a counter that disappears and comes back
//! later starts again at 0, which Prometheus's `rate` and `increase` read as a reset.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::report::ChildReport;

/// How long the series of a shard whose child ended stay (five scrapes at Prometheus's default
/// 1-minute interval).
pub(crate) const SERIES_RETENTION: Duration = Duration::from_secs(300);

/// Shards tracked at most (a worker runs one child process per shard: far fewer in practice);
/// reports for more are counted as rejected, so a broken sender cannot exhaust memory.
const MAX_SHARDS: usize = 10_000;

/// Checkpoint-result and failed-action label values kept per shard (the daemon knows six
/// exception names; the rest is bounded the same way).
const MAX_LABEL_VALUES_PER_SHARD: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    Alive,
    Ended { at: Instant },
}

#[derive(Debug, Clone)]
struct Child {
    /// `None` for a child known only from the daemon's log (not a kcl-protocol child).
    pid: Option<u32>,
    state: ChildState,
    last_seq: u64,
}

#[derive(Debug, Default)]
struct Shard {
    child: Option<Child>,
    last_batch: Option<Instant>,
    millis_behind: Option<u64>,
    results: BTreeSet<String>,
    actions: BTreeSet<String>,
    /// Since when this worker holds the lease with no live child.
    unserved_since: Option<Instant>,
}

impl Shard {
    fn alive(&self) -> bool {
        matches!(&self.child, Some(child) if child.state == ChildState::Alive)
    }
}

/// `value` if `known` has it or room for it, else `other`.
fn bounded(known: &mut BTreeSet<String>, value: String) -> String {
    if known.contains(&value) || known.len() + 1 < MAX_LABEL_VALUES_PER_SHARD {
        known.insert(value.clone());
        return value;
    }
    known.insert(OTHER.to_owned());
    OTHER.to_owned()
}

const OTHER: &str = "other";

/// A shard whose series expired: the label values to remove.
#[derive(Debug)]
pub(crate) struct Expired {
    pub(crate) shard_id: String,
    pub(crate) results: BTreeSet<String>,
    pub(crate) actions: BTreeSet<String>,
}

/// A problem with one shard, for `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShardProblem {
    /// Behind at its last batch, and no batch since for longer than the bound.
    Stalled {
        shard_id: String,
        millis_behind: u64,
        since: Duration,
    },
    /// Held by this worker without a live child for longer than the bound.
    Unserved { shard_id: String, since: Duration },
}

#[derive(Debug, Default)]
pub(crate) struct Shards {
    table: BTreeMap<String, Shard>,
    /// The leases the scheduler last said it holds.
    held: BTreeSet<String>,
}

impl Shards {
    /// Adds a report; returns how many reports of its child were lost before it, or `None` when
    /// it was refused (too many shards).
    /// Label values beyond the per-shard bound are renamed `other` in `report`.
    pub(crate) fn record(&mut self, report: &mut ChildReport, now: Instant) -> Option<u64> {
        if !self.table.contains_key(&report.shard_id) && self.table.len() >= MAX_SHARDS {
            return None;
        }
        let shard = self.table.entry(report.shard_id.clone()).or_default();
        let lost = match &mut shard.child {
            Some(child) if child.pid == Some(report.pid) => {
                let lost = report.seq.saturating_sub(child.last_seq + 1);
                child.last_seq = child.last_seq.max(report.seq);
                lost
            }
            other => {
                // A new child for the shard: reports before its first one that arrived were lost.
                *other = Some(Child {
                    pid: Some(report.pid),
                    state: ChildState::Alive,
                    last_seq: report.seq,
                });
                report.seq.saturating_sub(1)
            }
        };
        if let Some(child) = &mut shard.child {
            child.state = if report.ends_the_child() {
                ChildState::Ended { at: now }
            } else {
                ChildState::Alive
            };
        }
        if report.action == "processRecords" {
            shard.last_batch = Some(now);
            if report.millis_behind_latest.is_some() {
                shard.millis_behind = report.millis_behind_latest;
            }
        }
        // Label values beyond the bound are counted under "other", so that every series of the
        // shard is known here and expiry can remove it.
        let checkpoints = std::mem::take(&mut report.checkpoints);
        for (result, count) in checkpoints {
            let result = bounded(&mut shard.results, result);
            *report.checkpoints.entry(result).or_default() += count;
        }
        // Actions are the daemon's six names; a failure under any beyond the bound is not counted.
        if report.failure.is_some()
            && !shard.actions.contains(&report.action)
            && shard.actions.len() >= MAX_LABEL_VALUES_PER_SHARD
        {
            report.failure = None;
        }
        if report.failure.is_some() {
            shard.actions.insert(report.action.clone());
        }
        Some(lost)
    }

    /// The daemon created a shard consumer: a child starts (seen without kcl-protocol, too), and
    /// the shard is held. The scheduler creates consumers only for the leases of its current
    /// assignments (KCL 3.1.3 `Scheduler.runProcessLoop`), but logs that list through a throttle
    /// whose first line comes a minute after start: without this, a worker's first minute showed
    /// "0 leases held" beside four children (`scripts/demo`'s status table).
    pub(crate) fn consumer_created(&mut self, shard_id: &str) {
        if !self.table.contains_key(shard_id) && self.table.len() >= MAX_SHARDS {
            return;
        }
        self.held.insert(shard_id.to_owned());
        let shard = self.table.entry(shard_id.to_owned()).or_default();
        if !shard.alive() {
            shard.child = Some(Child {
                pid: None,
                state: ChildState::Alive,
                last_seq: 0,
            });
        }
    }

    /// The scheduler's list of the leases it holds.
    pub(crate) fn set_held(&mut self, leases: Vec<String>) {
        self.held = leases.into_iter().take(MAX_SHARDS).collect();
    }

    /// The daemon exited: its children end with it, and it holds no lease any more.
    pub(crate) fn daemon_exited(&mut self, now: Instant) {
        for shard in self.table.values_mut() {
            if let Some(child) = &mut shard.child
                && child.state == ChildState::Alive
            {
                child.state = ChildState::Ended { at: now };
            }
        }
        self.held.clear();
    }

    /// Checks the children's processes (`alive` says whether a pid runs), starts and stops the
    /// "held without a child" clocks, and returns the shards whose series expired.
    pub(crate) fn tick(&mut self, now: Instant, alive: &dyn Fn(u32) -> bool) -> Vec<Expired> {
        for shard_id in &self.held {
            if !self.table.contains_key(shard_id) && self.table.len() < MAX_SHARDS {
                self.table.insert(shard_id.clone(), Shard::default());
            }
        }
        let mut expired = Vec::new();
        self.table.retain(|shard_id, shard| {
            if let Some(child) = &mut shard.child
                && child.state == ChildState::Alive
                && let Some(pid) = child.pid
                && !alive(pid)
            {
                child.state = ChildState::Ended { at: now };
            }
            let held = self.held.contains(shard_id);
            if held && !shard.alive() {
                shard.unserved_since.get_or_insert(now);
            } else {
                shard.unserved_since = None;
            }
            let keep = held
                || match &shard.child {
                    None => false,
                    Some(Child {
                        state: ChildState::Alive,
                        ..
                    }) => true,
                    Some(Child {
                        state: ChildState::Ended { at },
                        ..
                    }) => now.saturating_duration_since(*at) < SERIES_RETENTION,
                };
            if !keep {
                expired.push(Expired {
                    shard_id: shard_id.clone(),
                    results: std::mem::take(&mut shard.results),
                    actions: std::mem::take(&mut shard.actions),
                });
            }
            keep
        });
        expired
    }

    /// Shards stalled or held without a child for longer than `bound`.
    pub(crate) fn problems(&self, now: Instant, bound: Duration) -> Vec<ShardProblem> {
        let mut problems = Vec::new();
        for (shard_id, shard) in &self.table {
            if shard.alive()
                && let (Some(last), Some(millis_behind)) = (shard.last_batch, shard.millis_behind)
                && millis_behind > 0
                && now.saturating_duration_since(last) > bound
            {
                problems.push(ShardProblem::Stalled {
                    shard_id: shard_id.clone(),
                    millis_behind,
                    since: now.saturating_duration_since(last),
                });
            }
            if let Some(since) = shard.unserved_since
                && now.saturating_duration_since(since) > bound
            {
                problems.push(ShardProblem::Unserved {
                    shard_id: shard_id.clone(),
                    since: now.saturating_duration_since(since),
                });
            }
        }
        problems
    }

    /// Each shard with a known child, and whether that child is alive.
    pub(crate) fn children(&self) -> impl Iterator<Item = (&str, bool)> {
        self.table
            .iter()
            .filter(|(_, shard)| shard.child.is_some())
            .map(|(shard_id, shard)| (shard_id.as_str(), shard.alive()))
    }

    /// Children alive, and leases held.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let alive = self.table.values().filter(|shard| shard.alive()).count();
        (alive, self.held.len())
    }
}
