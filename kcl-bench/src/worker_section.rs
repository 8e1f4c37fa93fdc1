//! The whole-worker section of `BENCHMARKS.md`: one table per experiment (memory, CPU, times),
//! what bounded the drain, and the JVM variants against issue 9's targets.

use std::fmt::Write as _;

use crate::sections::{WORKER_BEGIN, WORKER_END};
use crate::worker_results::Experiment;
use crate::worker_summary::{Stat, WorkerSummary, summarize};

/// Issue 9's target for the JVM's peak RSS with our defaults (8 shards, 10,000 x 1 KB), MiB.
const JVM_RSS_TARGET_MIB: f64 = 250.0;
/// Issue 9's start-up target: at least this many times faster than plain `java`.
const STARTUP_SPEEDUP_TARGET: f64 = 2.0;
/// A single-threaded Node.js emulator at this many cores or more is saturated (its event loop
/// thread is busy all the time; GC threads add a little on top).
const SATURATED_CORES: f64 = 0.85;

/// What the section needs besides the results.
pub struct SectionInput<'a> {
    /// The experiments, headline first.
    pub experiments: &'a [Experiment],
    /// The command that produced them.
    pub command: &'a str,
    /// The chart's path relative to `BENCHMARKS.md`.
    pub chart: Option<&'a str>,
    /// The JVM variant that is plain `java` (the baseline of the target checks).
    pub baseline_variant: &'a str,
    /// A note on what the variants are (e.g. which kcl-bootstrap branch provides the defaults).
    pub variants_note: &'a str,
}

fn cell(stat: Option<Stat>, decimals: usize) -> String {
    match stat {
        None => "–".to_string(),
        Some(s) if (s.max - s.min).abs() < f64::EPSILON => format!("{:.*}", decimals, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}–{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

fn label<'a>(experiment: &'a Experiment, child: &'a str) -> &'a str {
    experiment
        .child_labels
        .get(child)
        .map_or(child, String::as_str)
}

/// What bounded the drain of one row, from the cores each part used during it.
fn bound(row: &WorkerSummary, cpus: usize) -> String {
    let kinesis_peak = row.kinesis_peak_cores.map_or(0.0, |s| s.median);
    let machine = row.machine_cores.map_or(0.0, |s| s.median);
    if kinesis_peak >= SATURATED_CORES {
        format!(
            "kinesis-local (busiest second {kinesis_peak:.2} cores: its one thread is saturated)"
        )
    } else if machine >= 0.9 * cpus as f64 {
        format!("the machine ({machine:.2} of {cpus} cores busy)")
    } else if row.jvm_drain_cores.is_some_and(|s| s.median >= 0.9) {
        "the JVM".to_string()
    } else {
        "nothing saturated: the daemon's own pace (idleTimeBetweenReadsInMillis 250, maxRecords 1000 per GetRecords)"
            .to_string()
    }
}

fn experiment_tables(out: &mut String, experiment: &Experiment) {
    let rows = summarize(experiment);
    let _ = writeln!(
        out,
        "### {}: {} shards, {} records of {} B\n",
        experiment.name, experiment.shards, experiment.records, experiment.record_bytes
    );
    let _ = writeln!(
        out,
        "Started {}; load average before `{}`, after `{}`; {} CPUs; {}; {} round(s); records put in {} s before the first worker started{}.\n",
        experiment.started_utc,
        experiment.load_before,
        experiment.load_after.as_deref().unwrap_or("?"),
        experiment.cpus,
        java_of(experiment),
        experiment.rounds,
        experiment
            .produce_s
            .map_or("?".into(), |s| format!("{s:.1}")),
        experiment
            .memory_limit_mib
            .map_or(String::new(), |limit| format!(
                "; every worker (the JVM and its children) in a memory cgroup limited to **{limit} MiB**"
            )),
    );
    let _ = writeln!(
        out,
        "| children | JVM | JVM peak RSS MiB | JVM peak PSS MiB | JVM CPU s | children peak RSS MiB (sum) | children peak PSS MiB (sum) | children CPU s | to Scheduler.run s | to worker loop s (net) | to 1st initialize s (net) | lease wait s | first shard-sync idle s | to all checkpointed s (net) | drain s |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in &rows {
        let ended = row
            .how_it_ended()
            .unwrap_or_else(|| format!("stopped at the {:.0} s limit", experiment.time_limit_secs));
        let stalled = match row.stalled_shards_done {
            Some(done) => format!(
                " **not drained: {done} of {} shards at their last record; {ended} ({} of {} runs; {} `Timedout to get status message` in the daemon log)**",
                row.shards,
                row.runs - row.finished,
                row.runs,
                row.status_timeouts
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} |",
            label(experiment, &row.child),
            row.variant,
            cell(row.jvm_rss_mib, 0),
            cell(row.jvm_pss_mib, 0),
            cell(row.jvm_cpu_s, 1),
            cell(row.children_rss_mib, 0),
            cell(row.children_pss_mib, 0),
            cell(row.children_cpu_s, 2),
            cell(row.to_scheduler_run_s, 2),
            cell(row.to_scheduler_net_s, 1),
            cell(row.to_initialize_net_s, 1),
            cell(row.lease_wait_s, 1),
            cell(row.shard_sync_idle_s, 2),
            cell(row.to_checkpointed_net_s, 1),
            stalled,
            cell(row.drain_s, 1),
        );
    }
    let _ = writeln!(
        out,
        "\nWhat bounds the drain (average cores from the first child's start to the last checkpoint; kinesis-local also its busiest 1 s window):\n"
    );
    let _ = writeln!(
        out,
        "| children | JVM | kinesis-local cores | kinesis-local busiest 1 s | moto cores | JVM cores | children cores | machine busy cores (of {}) | bound by |",
        experiment.cpus
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(experiment, &row.child),
            row.variant,
            cell(row.kinesis_cores, 2),
            cell(row.kinesis_peak_cores, 2),
            cell(row.moto_cores, 2),
            cell(row.jvm_drain_cores, 2),
            cell(row.children_drain_cores, 2),
            cell(row.machine_cores, 2),
            bound(row, experiment.cpus),
        );
    }
    let _ = writeln!(out);
}

/// How many times faster `tuned` is than `plain` (medians), when both were measured.
fn speedup_of(plain: Option<Stat>, tuned: Option<Stat>) -> Option<f64> {
    match (plain, tuned) {
        (Some(p), Some(t)) if t.median > 0.0 => Some(p.median / t.median),
        _ => None,
    }
}

fn targets(out: &mut String, experiment: &Experiment, baseline: &str) {
    let rows = summarize(experiment);
    let base: Vec<&WorkerSummary> = rows.iter().filter(|r| r.variant == baseline).collect();
    let others: Vec<&WorkerSummary> = rows.iter().filter(|r| r.variant != baseline).collect();
    if !experiment.targets || base.is_empty() || others.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "#### Issue 9's targets ({}): each JVM variant against `{baseline}` with the same children\n",
        experiment.name
    );
    let _ = writeln!(
        out,
        "| children | JVM | JVM peak RSS ≤ {JVM_RSS_TARGET_MIB:.0} MiB | start-up: JVM start to Scheduler.run ≥ {STARTUP_SPEEDUP_TARGET:.0}x faster | start-up: to the worker loop (net) ≥ {STARTUP_SPEEDUP_TARGET:.0}x faster | to 1st initialize (net), for comparison | drain no worse |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for row in others {
        let Some(plain) = base.iter().find(|b| b.child == row.child) else {
            continue;
        };
        let verdict = |met: bool| if met { "met" } else { "**not met**" };
        let speedup_cell = |value: Option<f64>| {
            value.map_or("–".into(), |v| {
                format!("{v:.2}x: {}", verdict(v >= STARTUP_SPEEDUP_TARGET))
            })
        };
        let rss = row.jvm_rss_mib.map(|s| s.median);
        // The start-up measure, both ways it allows: JVM start to the Scheduler running
        // (its run() begun), and to its worker loop less the KCL's sleeps before it (the random
        // first-lease wait, the first shard sync's idle). The first `initialize` comes after the
        // loop's first lease assignment and dispatch (leaseAssignmentIntervalMillis,
        // shardConsumerDispatchPollIntervalMillis: 3–4 s in the headline logs), which no JVM option changes.
        let run_speedup = speedup_of(plain.to_scheduler_run_s, row.to_scheduler_run_s);
        let loop_speedup = speedup_of(plain.to_scheduler_net_s, row.to_scheduler_net_s);
        let initialize_speedup = speedup_of(plain.to_initialize_net_s, row.to_initialize_net_s);
        let drain = match (plain.drain_s, row.drain_s) {
            // "No worse": the median inside or below the baseline's spread.
            (Some(p), Some(r)) => Some((r.median, p.median, r.median <= p.max)),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label(experiment, &row.child),
            row.variant,
            rss.map_or("–".into(), |v| format!(
                "{v:.0} MiB: {}",
                verdict(v <= JVM_RSS_TARGET_MIB)
            )),
            speedup_cell(run_speedup),
            speedup_cell(loop_speedup),
            initialize_speedup.map_or("–".into(), |v| format!("{v:.2}x")),
            drain.map_or("–".into(), |(r, p, ok)| format!(
                "{r:.1} s vs {p:.1} s: {}",
                verdict(ok)
            )),
        );
    }
    let _ = writeln!(out);
}

/// The Java the experiment ran: its variants' when they name one, else `java` on PATH.
fn java_of(experiment: &Experiment) -> String {
    let mut javas: Vec<&str> = experiment
        .variants
        .iter()
        .filter_map(|v| v.java.as_deref())
        .collect();
    javas.dedup();
    if javas.is_empty() {
        experiment.java.clone()
    } else {
        javas.join(" / ")
    }
}

fn variant_list(out: &mut String, title: &str, experiment: &Experiment) {
    let _ = writeln!(out, "{title} (extra kcl-bootstrap arguments):\n");
    for variant in &experiment.variants {
        let args = if variant.args.is_empty() {
            "(none)".to_string()
        } else {
            format!("`{}`", variant.args.join(" "))
        };
        let _ = writeln!(out, "- `{}`: {args}", variant.name);
    }
    let _ = writeln!(out);
}

/// Renders the section, markers included.
pub fn render(input: &SectionInput<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{WORKER_BEGIN}");
    let _ = writeln!(
        out,
        "## The whole worker: the real daemon on the local stack (issue 9)\n"
    );
    let _ = writeln!(
        out,
        "<!-- Generated by `{}` (kcl-bench/worker/worker_bench.py, kcl-bench/src/worker_section.rs). Do not edit by hand: rerun the command. -->\n",
        input.command
    );
    let _ = writeln!(
        out,
        "One worker, `kcl-bootstrap -p FILE -e` (jars from its own cache), against kinesis-local and moto on 127.0.0.1 (`scripts/local-stack up`, free ports). \
The records are put into the stream before any worker starts; every run is a fresh application (its own lease table) reading the stream from TRIM_HORIZON, \
so every variant reads the same contents. Runs alternate order round by round. Every child does the same work: decode every record, sum the lengths, \
checkpoint at the last record of each batch.\n"
    );
    let _ = writeln!(
        out,
        "Sampled every 150 ms: RSS and PSS from `/proc/PID/smaps_rollup`, CPU from `/proc/PID/stat`, for the JVM and for the sum over its children (peak of the sum). \
Times run from the spawn of `kcl-bootstrap -e` (which exec's the JVM): to the first child's start (the daemon writes `initialize` to a child as soon as it has started it), \
to the Scheduler's first line (`Initializing LeaseCoordinator attempt 1`: its run() has begun, so the JVM's start-up and the daemon's configuration are over), \
to the daemon's `Initialization complete. Starting worker loop.`, and to every shard's checkpoint in the lease table equal to its last sequence number (polled every 250 ms). \
*(net)* subtracts the KCL's own sleeps, each measured from the log: the random 1–30 s first-lease wait (first `Lease table is still empty` to `is initiating the lease sync`) \
and the first shard sync's idle (ShardSyncTask sleeps shardSyncIntervalMillis, 1,000 ms in properties/local.properties and 60,000 by default, after creating the leases: \
HierarchicalShardSyncer's `Newly created leases`, a logger the benchmark's logback turns on for every variant, to the Scheduler's `Initializing MigrationStateMachine`). \
The drain runs from the first child's start to the last checkpoint. Cells: median (lowest–highest).\n"
    );
    if !input.variants_note.is_empty() {
        let _ = writeln!(out, "{}\n", input.variants_note);
    }
    if let Some(first) = input.experiments.first() {
        variant_list(&mut out, "JVM variants", first);
    }
    if let Some(chart) = input.chart {
        let _ = writeln!(out, "![whole-worker benchmark]({chart})\n");
    }
    let first_variants = input.experiments.first().map(|e| &e.variants);
    for experiment in input.experiments {
        experiment_tables(&mut out, experiment);
        if Some(&experiment.variants) != first_variants {
            variant_list(&mut out, "Its JVM variants", experiment);
        }
        crate::worker_memory::limit_table(&mut out, experiment);
        crate::worker_memory::nmt_table(&mut out, experiment);
        targets(&mut out, experiment, input.baseline_variant);
    }
    crate::worker_memory::scale_table(&mut out, input.experiments);
    let _ = writeln!(out, "{WORKER_END}");
    out
}
