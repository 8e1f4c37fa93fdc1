//! The whole-worker benchmark's results file: what `kcl-bench/worker/worker_bench.py` appends, one
//! experiment (a shard count, a volume, its runs) at a time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One `worker_bench.py` invocation: a stream, a volume and every run on it.
#[derive(Debug, Clone, Deserialize)]
pub struct Experiment {
    /// Shown as the experiment's heading.
    pub name: String,
    /// Shards of the stream.
    pub shards: usize,
    /// Records put into the stream before any worker started.
    pub records: usize,
    /// Bytes of data per record.
    pub record_bytes: usize,
    /// Rounds asked for.
    pub rounds: usize,
    /// Child kinds in run order (`kcl`, `python`, `node`).
    pub children: Vec<String>,
    /// Child kind to its label.
    pub child_labels: BTreeMap<String, String>,
    /// JVM variants: a name and the extra kcl-bootstrap arguments.
    pub variants: Vec<Variant>,
    /// When it started.
    pub started_utc: String,
    /// `/proc/loadavg` before and after.
    pub load_before: String,
    /// `/proc/loadavg` at the end.
    pub load_after: Option<String>,
    /// CPUs of the machine.
    pub cpus: usize,
    /// `java -version`'s first line.
    pub java: String,
    /// A run that had not drained after this long was stopped.
    pub time_limit_secs: f64,
    /// One unmeasured run per JVM variant came first (stopped with SIGTERM, so the JVM's exit work,
    /// e.g. writing kcl-bootstrap's AppCDS archive, ran).
    #[serde(default)]
    pub warmup: bool,
    /// Seconds the records took to put.
    pub produce_s: Option<f64>,
    /// Each worker ran in a memory cgroup with this limit.
    #[serde(default)]
    pub memory_limit_mib: Option<u64>,
    /// Issue 9's targets are checked on this experiment (its headline configuration).
    #[serde(default)]
    pub targets: bool,
    /// Every run, in run order.
    pub runs: Vec<Run>,
}

/// A JVM variant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Variant {
    /// Its name in the report.
    pub name: String,
    /// Extra kcl-bootstrap arguments.
    pub args: Vec<String>,
    /// `java -version`'s first line for the java it runs.
    #[serde(default)]
    pub java: Option<String>,
}

/// One worker run. Times are seconds from the spawn of `kcl-bootstrap -e` (the JVM's start).
#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    /// Child kind.
    pub child: String,
    /// JVM variant name.
    pub variant: String,
    /// Round, from 1.
    pub round: usize,
    /// The run hit the time limit before every shard was checkpointed at its last record.
    pub timed_out: bool,
    /// Shards checkpointed at their last record when the run ended.
    pub shards_done: usize,
    /// Shards of the stream.
    pub shards: usize,
    /// The JVM's peak RSS, KiB.
    pub jvm_peak_rss_kib: u64,
    /// The JVM's peak PSS, KiB.
    pub jvm_peak_pss_kib: u64,
    /// The JVM's CPU (user + system), seconds.
    pub jvm_cpu_s: f64,
    /// Peak of the children's summed RSS, KiB.
    pub children_peak_rss_kib: u64,
    /// Peak of the children's summed PSS, KiB.
    pub children_peak_pss_kib: u64,
    /// The children's CPU, summed, seconds.
    pub children_cpu_s: f64,
    /// To the first child's start (the daemon writes `initialize` to it at once).
    pub to_first_initialize_s: Option<f64>,
    /// To the Scheduler's first line ("Initializing LeaseCoordinator attempt 1"): its run() has
    /// begun, the JVM's start-up and the daemon's configuration are behind it.
    #[serde(default)]
    pub to_scheduler_run_s: Option<f64>,
    /// To the daemon's "Initialization complete. Starting worker loop." line.
    pub to_scheduler_s: Option<f64>,
    /// The KCL's initial random lease wait, as its log shows it.
    pub lease_wait_s: Option<f64>,
    /// The KCL's sleep after the first shard sync created leases (shardSyncIntervalMillis), as
    /// its log shows it.
    #[serde(default)]
    pub shard_sync_idle_s: Option<f64>,
    /// To every shard checkpointed at its last record.
    pub to_checkpointed_s: Option<f64>,
    /// First child start to every shard checkpointed.
    pub drain_s: Option<f64>,
    /// The sampler's own CPU, seconds.
    pub sampler_cpu_s: f64,
    /// The JVM's exit status when it ended by itself before the drain (stall runs only).
    #[serde(default)]
    pub exit_status: Option<i32>,
    /// When it did, seconds from its start.
    #[serde(default)]
    pub exited_after_s: Option<f64>,
    /// Times the daemon gave up waiting for a child's status (`Timedout to get status message`).
    #[serde(default)]
    pub status_timeouts: usize,
    /// Cores used during the drain, per process of interest.
    pub during_drain: Option<DuringDrain>,
    /// The JVM's MaxHeapSize (its own choice, from the machine's or the cgroup's memory), KiB.
    #[serde(default)]
    pub jvm_max_heap_kib: Option<u64>,
    /// Native Memory Tracking at the end of the drain: category to committed KiB.
    #[serde(default)]
    pub nmt_committed_kib: Option<BTreeMap<String, u64>>,
    /// The memory cgroup's peak charge (RSS and page cache), KiB.
    #[serde(default)]
    pub cgroup_peak_kib: Option<u64>,
    /// Processes the kernel's OOM killer killed in the cgroup.
    #[serde(default)]
    pub cgroup_oom_kills: Option<u64>,
}

/// Average cores used from the first child's start to the last checkpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct DuringDrain {
    /// kinesis-local (one Node.js process).
    #[serde(rename = "kinesis-local_cores")]
    pub kinesis_local: Option<f64>,
    /// kinesis-local's busiest window of at least 1 s.
    #[serde(rename = "kinesis-local_peak_1s_cores")]
    pub kinesis_local_peak: Option<f64>,
    /// moto (DynamoDB: leases and checkpoints).
    #[serde(rename = "moto_cores")]
    pub moto: Option<f64>,
    /// The JVM.
    #[serde(rename = "jvm_cores")]
    pub jvm: Option<f64>,
    /// The children, summed.
    #[serde(rename = "children_cores")]
    pub children: Option<f64>,
    /// The whole machine (busy time of all CPUs).
    #[serde(rename = "machine_cores")]
    pub machine: Option<f64>,
}

/// Reads a results file.
pub fn load(path: &Path) -> Result<Vec<Experiment>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
