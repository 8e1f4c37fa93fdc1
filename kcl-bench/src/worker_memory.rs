//! The whole-worker section's memory tables: a worker under a memory cgroup's limit, the JVM's
//! Native Memory Tracking breakdown, and the drain against the shard count.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::worker_results::Experiment;
use crate::worker_summary::{Stat, summarize};

const KIB_PER_MIB: f64 = 1024.0;

fn mib_cell(stat: Option<Stat>) -> String {
    stat.map_or("–".to_string(), |s| format!("{:.0}", s.median))
}

fn count_cell(count: Option<u64>) -> String {
    count.map_or("–".to_string(), |c| c.to_string())
}

/// What became of a row's runs: drained, or how they ended.
fn outcome(row: &crate::worker_summary::WorkerSummary) -> String {
    if row.finished == row.runs {
        return match row.drain_s {
            Some(drain) => format!("drained in {:.1} s", drain.median),
            None => "drained".to_string(),
        };
    }
    let done = row.stalled_shards_done.unwrap_or(0);
    match row.how_it_ended() {
        Some(ended) => format!("**not drained**: {done} of {} shards; {ended}", row.shards),
        None => format!(
            "**not drained**: {done} of {} shards at the time limit",
            row.shards
        ),
    }
}

/// For an experiment run under a memory limit: the heap the JVM chose from it, what the cgroup
/// was charged, and whether the kernel had to reclaim or kill.
pub fn limit_table(out: &mut String, experiment: &Experiment) {
    let Some(limit) = experiment.memory_limit_mib else {
        return;
    };
    let _ = writeln!(
        out,
        "Under the {limit} MiB limit (the cgroup's charge counts RSS and page cache):\n"
    );
    let _ = writeln!(
        out,
        "| children | JVM | JVM max heap MiB (its choice) | JVM peak RSS MiB | cgroup peak MiB | OOM kills | outcome |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
    for row in summarize(experiment) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            experiment
                .child_labels
                .get(&row.child)
                .map_or(row.child.as_str(), String::as_str),
            row.variant,
            mib_cell(row.max_heap_mib),
            mib_cell(row.jvm_rss_mib),
            mib_cell(row.cgroup_peak_mib),
            count_cell(row.cgroup_oom_kills),
            outcome(&row),
        );
    }
    let _ = writeln!(out);
}

/// Medians of each Native Memory Tracking category's committed memory, per variant, largest
/// first (by the first variant), for an experiment whose runs tracked it.
pub fn nmt_table(out: &mut String, experiment: &Experiment) {
    let mut by_variant: Vec<(&str, BTreeMap<&str, Stat>)> = Vec::new();
    for variant in &experiment.variants {
        let runs: Vec<&BTreeMap<String, u64>> = experiment
            .runs
            .iter()
            .filter(|r| r.variant == variant.name)
            .filter_map(|r| r.nmt_committed_kib.as_ref())
            .collect();
        if runs.is_empty() {
            continue;
        }
        let categories: std::collections::BTreeSet<&str> = runs
            .iter()
            .flat_map(|r| r.keys().map(String::as_str))
            .collect();
        let stats = categories
            .into_iter()
            .filter_map(|c| {
                let stat = Stat::of(
                    runs.iter()
                        .map(|r| r.get(c).map(|kib| *kib as f64 / KIB_PER_MIB)),
                )?;
                Some((c, stat))
            })
            .collect();
        by_variant.push((variant.name.as_str(), stats));
    }
    let Some((_, first)) = by_variant.first() else {
        return;
    };
    let mut order: Vec<(&str, f64)> = first.iter().map(|(c, s)| (*c, s.median)).collect();
    order.sort_by(|a, b| {
        // Total first, then the largest.
        (b.0 == "Total")
            .cmp(&(a.0 == "Total"))
            .then(b.1.total_cmp(&a.1))
    });
    let _ = writeln!(
        out,
        "Native Memory Tracking (`-XX:NativeMemoryTracking=summary`, `jcmd PID VM.native_memory summary` once every shard was checkpointed): committed MiB, median of the runs. NMT's own bookkeeping is a category of its own; RSS is lower than the committed total where committed pages were never touched.\n"
    );
    let mut header = String::from("| category |");
    let mut rule = String::from("|---|");
    for (name, _) in &by_variant {
        let _ = write!(header, " {name} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (category, _) in order {
        let mut line = format!("| {category} |");
        for (_, stats) in &by_variant {
            let value = stats
                .get(category)
                .map_or("–".to_string(), |s| format!("{:.1}", s.median));
            let _ = write!(line, " {value} |");
        }
        if first.get(category).is_some_and(|s| s.median >= 0.05) || category == "Total" {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out);
}

/// The JVM variants the shard-count table compares: plain `java` and kcl-bootstrap's defaults,
/// on the `java` of PATH (another Java, NMT or a thread limit is an experiment of its own).
const SCALE_VARIANTS: [&str; 2] = ["plain", "tuned"];

/// The drain against the shard count, over the experiments that ran the kcl-protocol child on the
/// two standard variants without a memory limit (one row per experiment and variant), and the
/// largest count at which every run drained.
pub fn scale_table(out: &mut String, experiments: &[Experiment]) {
    let mut rows = Vec::new();
    for experiment in experiments.iter().filter(|e| e.memory_limit_mib.is_none()) {
        let standard = |name: &str| {
            SCALE_VARIANTS.contains(&name)
                && experiment.variants.iter().any(|v| {
                    v.name == name && !v.args.iter().any(|a| a.starts_with("--java") || a == "-j")
                })
        };
        for row in summarize(experiment) {
            if row.child == "kcl" && standard(&row.variant) {
                rows.push((experiment.shards, experiment.name.as_str(), row));
            }
        }
    }
    let counts: std::collections::BTreeSet<usize> = rows.iter().map(|(n, _, _)| *n).collect();
    if counts.len() < 2 {
        return;
    }
    rows.sort_by_key(|(n, _, _)| *n);
    let _ = writeln!(
        out,
        "### The shard count: the kcl-protocol child, every experiment above\n"
    );
    let _ = writeln!(
        out,
        "| shards | experiment | JVM | JVM peak RSS MiB | JVM CPU s | kinesis-local busiest 1 s (cores) | outcome |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|---|");
    for (shards, name, row) in &rows {
        let _ = writeln!(
            out,
            "| {shards} | {name} | {} | {} | {} | {} | {} |",
            row.variant,
            mib_cell(row.jvm_rss_mib),
            row.jvm_cpu_s
                .map_or("–".into(), |s| format!("{:.1}", s.median)),
            row.kinesis_peak_cores
                .map_or("–".into(), |s| format!("{:.2}", s.median)),
            outcome(row),
        );
    }
    let all_drained = |n: usize| {
        rows.iter()
            .filter(|(count, _, _)| *count == n)
            .all(|(_, _, row)| row.finished == row.runs)
    };
    let largest = counts.iter().rev().find(|n| all_drained(**n));
    let _ = match largest {
        Some(n) => writeln!(
            out,
            "\nThe largest shard count at which every run above drained within its limit: **{n}**.\n"
        ),
        None => writeln!(
            out,
            "\nNo shard count had every run drain within its limit.\n"
        ),
    };
}
