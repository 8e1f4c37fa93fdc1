//! Medians and spreads of the whole-worker runs, per (child kind, JVM variant).

use crate::report::median;
use crate::worker_results::{Experiment, Run};

const KIB_PER_MIB: f64 = 1024.0;

/// The median of some runs' values and their lowest and highest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Median.
    pub median: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

impl Stat {
    /// The statistic of the values that exist; None when none does.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Stat> {
        let mut values: Vec<f64> = values.into_iter().flatten().collect();
        if values.is_empty() {
            return None;
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Stat {
            median: median(&mut values),
            min,
            max,
        })
    }
}

/// One row of the whole-worker table.
#[derive(Debug, Clone)]
pub struct WorkerSummary {
    /// Child kind.
    pub child: String,
    /// JVM variant.
    pub variant: String,
    /// Runs that finished, and all runs.
    pub finished: usize,
    /// All runs of this row.
    pub runs: usize,
    /// Fewest shards checkpointed at their last record in a run that timed out.
    pub stalled_shards_done: Option<usize>,
    /// Shards of the stream.
    pub shards: usize,
    /// A run's JVM halted by itself before the drain: its exit status and when (seconds).
    pub halted: Option<(i32, f64)>,
    /// The most `Timedout to get status message` lines of a run.
    pub status_timeouts: usize,
    /// The JVM's peak RSS, MiB.
    pub jvm_rss_mib: Option<Stat>,
    /// The JVM's peak PSS, MiB.
    pub jvm_pss_mib: Option<Stat>,
    /// The JVM's CPU, seconds.
    pub jvm_cpu_s: Option<Stat>,
    /// Peak of the children's summed RSS, MiB.
    pub children_rss_mib: Option<Stat>,
    /// Peak of the children's summed PSS, MiB.
    pub children_pss_mib: Option<Stat>,
    /// The children's summed CPU, seconds.
    pub children_cpu_s: Option<Stat>,
    /// JVM start to the first child's `initialize`, the KCL's lease wait subtracted.
    pub to_initialize_net_s: Option<Stat>,
    /// JVM start to the Scheduler's run() (no KCL wait is before it).
    pub to_scheduler_run_s: Option<Stat>,
    /// JVM start to the scheduler's worker loop, the KCL's waits subtracted.
    pub to_scheduler_net_s: Option<Stat>,
    /// The KCL's initial random lease wait.
    pub lease_wait_s: Option<Stat>,
    /// The KCL's sleep after the first shard sync.
    pub shard_sync_idle_s: Option<Stat>,
    /// JVM start to every shard checkpointed at its last record, the lease wait subtracted.
    pub to_checkpointed_net_s: Option<Stat>,
    /// First child start to every shard checkpointed.
    pub drain_s: Option<Stat>,
    /// kinesis-local's average cores during the drain.
    pub kinesis_cores: Option<Stat>,
    /// kinesis-local's busiest 1 s window during the drain, cores.
    pub kinesis_peak_cores: Option<Stat>,
    /// moto's average cores during the drain.
    pub moto_cores: Option<Stat>,
    /// The JVM's average cores during the drain.
    pub jvm_drain_cores: Option<Stat>,
    /// The children's average cores during the drain.
    pub children_drain_cores: Option<Stat>,
    /// The machine's busy cores during the drain.
    pub machine_cores: Option<Stat>,
    /// The sampler's own CPU per run, seconds.
    pub sampler_cpu_s: Option<Stat>,
    /// The JVM's MaxHeapSize, MiB.
    pub max_heap_mib: Option<Stat>,
    /// The memory cgroup's peak charge, MiB.
    pub cgroup_peak_mib: Option<Stat>,
    /// The most OOM kills of a run.
    pub cgroup_oom_kills: Option<u64>,
}

impl WorkerSummary {
    /// How a run that ended by itself ended: the daemon halting the JVM (a status), or a signal
    /// (Python's Popen gives -N), the kernel's OOM killer's when the cgroup counted a kill.
    pub fn how_it_ended(&self) -> Option<String> {
        let (status, after) = self.halted?;
        Some(if status >= 0 {
            format!("the JVM halted itself with status {status} after {after:.0} s")
        } else if self.cgroup_oom_kills.is_some_and(|kills| kills > 0) {
            format!(
                "the kernel's OOM killer ended the JVM (signal {}) after {after:.0} s",
                -status
            )
        } else {
            format!("the JVM was ended by signal {} after {after:.0} s", -status)
        })
    }
}

/// A time less the KCL's own sleeps before it: the random first-lease wait (always measured, or
/// the time is not net) and the first shard sync's idle (absent from a log that lacks its lines:
/// nothing to subtract).
fn net(value: Option<f64>, run: &Run) -> Option<f64> {
    Some(value? - run.lease_wait_s? - run.shard_sync_idle_s.unwrap_or(0.0))
}

fn mib(kib: u64) -> Option<f64> {
    Some(kib as f64 / KIB_PER_MIB)
}

/// One row per (variant, child) in the experiment's order; finished runs give the figures, a row
/// whose runs all timed out gives only its memory and CPU.
pub fn summarize(experiment: &Experiment) -> Vec<WorkerSummary> {
    let mut rows = Vec::new();
    for variant in &experiment.variants {
        for child in &experiment.children {
            let runs: Vec<&Run> = experiment
                .runs
                .iter()
                .filter(|r| &r.child == child && r.variant == variant.name)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let drain = |pick: &dyn Fn(&crate::worker_results::DuringDrain) -> Option<f64>| {
                Stat::of(runs.iter().map(|r| r.during_drain.as_ref().and_then(pick)))
            };
            rows.push(WorkerSummary {
                child: child.clone(),
                variant: variant.name.clone(),
                finished: runs.iter().filter(|r| !r.timed_out).count(),
                runs: runs.len(),
                stalled_shards_done: runs
                    .iter()
                    .filter(|r| r.timed_out)
                    .map(|r| r.shards_done)
                    .min(),
                shards: experiment.shards,
                halted: runs
                    .iter()
                    .find_map(|r| Some((r.exit_status?, r.exited_after_s?))),
                status_timeouts: runs.iter().map(|r| r.status_timeouts).max().unwrap_or(0),
                jvm_rss_mib: Stat::of(runs.iter().map(|r| mib(r.jvm_peak_rss_kib))),
                jvm_pss_mib: Stat::of(runs.iter().map(|r| mib(r.jvm_peak_pss_kib))),
                jvm_cpu_s: Stat::of(runs.iter().map(|r| Some(r.jvm_cpu_s))),
                children_rss_mib: Stat::of(runs.iter().map(|r| mib(r.children_peak_rss_kib))),
                children_pss_mib: Stat::of(runs.iter().map(|r| mib(r.children_peak_pss_kib))),
                children_cpu_s: Stat::of(runs.iter().map(|r| Some(r.children_cpu_s))),
                to_initialize_net_s: Stat::of(runs.iter().map(|r| net(r.to_first_initialize_s, r))),
                to_scheduler_run_s: Stat::of(runs.iter().map(|r| r.to_scheduler_run_s)),
                to_scheduler_net_s: Stat::of(runs.iter().map(|r| net(r.to_scheduler_s, r))),
                lease_wait_s: Stat::of(runs.iter().map(|r| r.lease_wait_s)),
                shard_sync_idle_s: Stat::of(runs.iter().map(|r| r.shard_sync_idle_s)),
                to_checkpointed_net_s: Stat::of(runs.iter().map(|r| net(r.to_checkpointed_s, r))),
                drain_s: Stat::of(runs.iter().map(|r| r.drain_s)),
                kinesis_cores: drain(&|d| d.kinesis_local),
                kinesis_peak_cores: drain(&|d| d.kinesis_local_peak),
                moto_cores: drain(&|d| d.moto),
                jvm_drain_cores: drain(&|d| d.jvm),
                children_drain_cores: drain(&|d| d.children),
                machine_cores: drain(&|d| d.machine),
                sampler_cpu_s: Stat::of(runs.iter().map(|r| Some(r.sampler_cpu_s))),
                max_heap_mib: Stat::of(runs.iter().map(|r| r.jvm_max_heap_kib.and_then(mib))),
                cgroup_peak_mib: Stat::of(runs.iter().map(|r| r.cgroup_peak_kib.and_then(mib))),
                cgroup_oom_kills: runs.iter().filter_map(|r| r.cgroup_oom_kills).max(),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_some_values() {
        let stat = Stat::of([Some(3.0), None, Some(1.0), Some(2.0)]).unwrap();
        assert_eq!(
            stat,
            Stat {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(Stat::of([None]), None);
    }
}
