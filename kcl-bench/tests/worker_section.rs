//! The whole-worker section from a small results file: the start-up target on the Scheduler's
//! start and on the worker loop's net time (both KCL sleeps subtracted), a stall run that ended
//! with the daemon halting the JVM, a run under a memory limit, Native Memory Tracking, and the
//! shard-count table.

use kcl_bench::worker_results::Experiment;
use kcl_bench::worker_section::{SectionInput, render};
use serde_json::{Value, json};

fn run(variant: &str, to_scheduler: f64, to_initialize: f64, drain: Option<f64>) -> Value {
    json!({
        "to_scheduler_run_s": to_scheduler / 4.0, "shard_sync_idle_s": 1.0,
        "child": "kcl", "variant": variant, "round": 1,
        "timed_out": drain.is_none(), "shards_done": if drain.is_some() { 8 } else { 3 }, "shards": 8,
        "jvm_peak_rss_kib": 200 * 1024, "jvm_peak_pss_kib": 190 * 1024, "jvm_cpu_s": 3.0,
        "children_peak_rss_kib": 40 * 1024, "children_peak_pss_kib": 16 * 1024, "children_cpu_s": 0.02,
        "to_first_initialize_s": to_initialize, "to_scheduler_s": to_scheduler, "lease_wait_s": 4.0,
        "to_checkpointed_s": drain.map(|d| to_initialize + d), "drain_s": drain, "sampler_cpu_s": 0.5,
    })
}

fn experiment(name: &str, variants: Value, runs: Vec<Value>) -> Experiment {
    serde_json::from_value(json!({
        "name": name, "shards": 8, "records": 10000, "record_bytes": 1024, "rounds": 1,
        "children": ["kcl"], "child_labels": {"kcl": "kcl-protocol (ours)"}, "variants": variants,
        "started_utc": "2026-12-02 18:40 UTC", "load_before": "0.10 0.20 0.30", "load_after": "1.00 0.50 0.40",
        "cpus": 2, "java": "openjdk 17", "time_limit_secs": 120.0, "produce_s": 2.0, "runs": runs,
        "targets": name == "headline",
    }))
    .expect("a valid experiment")
}

fn section() -> String {
    let headline = experiment(
        "headline",
        json!([{"name": "plain", "args": ["--jvm-defaults=none"]}, {"name": "tuned", "args": []}]),
        // Net start-up (less the 4 s lease wait and the 1 s shard-sync idle): plain 12 - 5 = 7 s to
        // the worker loop, tuned 7 - 5 = 2 s; to Scheduler.run 3 s against 1.75 s.
        vec![
            run("plain", 12.0, 16.0, Some(10.0)),
            run("tuned", 7.0, 11.0, Some(9.5)),
        ],
    );
    let mut stall_run = run("maxActiveThreads-9", 7.0, 11.0, None);
    stall_run["exit_status"] = json!(1);
    stall_run["exited_after_s"] = json!(65.2);
    stall_run["status_timeouts"] = json!(2);
    let stall = experiment(
        "maxActiveThreads",
        json!([{"name": "unbounded", "args": []},
               {"name": "maxActiveThreads-9", "args": ["--set", "maxActiveThreads=9"]}]),
        vec![run("unbounded", 7.0, 11.0, Some(9.0)), stall_run],
    );
    let mut limited = experiment(
        "limit-256",
        json!([{"name": "plain", "args": ["--jvm-defaults=none"]}, {"name": "tuned", "args": []}]),
        vec![run("plain", 12.0, 16.0, Some(10.0)), {
            let mut killed = run("tuned", 7.0, 11.0, None);
            killed["exit_status"] = json!(-9);
            killed["exited_after_s"] = json!(30.4);
            killed
        }],
    );
    limited.memory_limit_mib = Some(256);
    for (r, (heap, peak, oom)) in limited.runs.iter_mut().zip([(64, 250, 0), (64, 256, 1)]) {
        r.jvm_max_heap_kib = Some(heap * 1024);
        r.cgroup_peak_kib = Some(peak * 1024);
        r.cgroup_oom_kills = Some(oom);
    }
    let mut nmt = experiment(
        "nmt",
        json!([{"name": "plain-nmt", "args": []}, {"name": "tuned-nmt", "args": []}]),
        vec![
            run("plain-nmt", 12.0, 16.0, Some(10.0)),
            run("tuned-nmt", 7.0, 11.0, Some(9.5)),
        ],
    );
    for (r, (heap, class)) in nmt.runs.iter_mut().zip([(320, 38), (60, 30)]) {
        r.nmt_committed_kib = Some(
            [
                ("Total", heap + class + 10),
                ("Java Heap", heap),
                ("Class", class),
                ("Code", 10),
                ("Tiny", 1),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v * 1024))
            .collect(),
        );
        // "Tiny" is under 0.05 MiB on the first variant: left out.
        r.nmt_committed_kib
            .as_mut()
            .unwrap()
            .insert("Tiny".into(), 10);
    }
    let mut larger = experiment(
        "larger",
        json!([{"name": "plain", "args": ["--jvm-defaults=none"]}, {"name": "tuned", "args": []}]),
        vec![
            run("plain", 12.0, 16.0, Some(30.0)),
            run("tuned", 7.0, 11.0, None),
        ],
    );
    larger.shards = 48;
    render(&SectionInput {
        experiments: &[headline, stall, limited, nmt, larger],
        command: "scripts/bench --worker",
        chart: None,
        baseline_variant: "plain",
        variants_note: "",
    })
}

#[test]
fn the_start_up_target_is_judged_on_the_schedulers_start_and_net_worker_loop() {
    let text = section();
    // Scheduler.run 3 / 1.75 = 1.71x; worker loop 7 / 2 = 3.50x; the first initialize
    // (16 - 5) / (11 - 5) = 1.83x, shown beside them.
    assert!(
        text.contains(
            "| 200 MiB: met | 1.71x: **not met** | 3.50x: met | 1.83x | 9.5 s vs 10.0 s: met |"
        ),
        "{text}"
    );
    // Only the experiment marked for it is judged.
    assert_eq!(text.matches("#### Issue 9's targets").count(), 1, "{text}");
}

#[test]
fn a_memory_limited_run_shows_the_heap_the_cgroup_and_the_kill() {
    let text = section();
    assert!(text.contains("limited to **256 MiB**"), "{text}");
    assert!(
        text.contains("| kcl-protocol (ours) | tuned | 64 | 200 | 256 | 1 | **not drained**: 3 of 8 shards; the kernel's OOM killer ended the JVM (signal 9) after 30 s |"),
        "{text}"
    );
    assert!(
        text.contains("| kcl-protocol (ours) | plain | 64 | 200 | 250 | 0 | drained in 10.0 s |"),
        "{text}"
    );
}

#[test]
fn native_memory_tracking_is_a_table_of_categories_largest_first() {
    let text = section();
    let table = text
        .split("| category | plain-nmt | tuned-nmt |")
        .nth(1)
        .expect("an NMT table");
    let rows: Vec<&str> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(
        rows,
        [
            "| Total | 368.0 | 100.0 |",
            "| Java Heap | 320.0 | 60.0 |",
            "| Class | 38.0 | 30.0 |",
            "| Code | 10.0 | 10.0 |",
        ],
        "{text}"
    );
}

#[test]
fn the_shard_count_table_names_the_largest_count_that_drained() {
    let text = section();
    // 8 shards: the headline's plain and tuned drained (the stall experiment's variants and the
    // limited and NMT runs are not in it); 48: tuned did not.
    assert!(text.contains("| 8 | headline | tuned |"), "{text}");
    assert!(!text.contains("| 8 | maxActiveThreads |"), "{text}");
    assert!(!text.contains("| 8 | limit-256 |"), "{text}");
    assert!(text.contains("| 48 | larger | tuned | 200 | 3.0 | – | **not drained**: 3 of 48 shards at the time limit |"), "{text}");
    assert!(
        text.contains("every run above drained within its limit: **8**."),
        "{text}"
    );
}

#[test]
fn a_stall_run_says_how_it_ended_and_lists_its_variants() {
    let text = section();
    assert!(
        text.contains("not drained: 3 of 8 shards at their last record; the JVM halted itself with status 1 after 65 s (1 of 1 runs; 2 `Timedout to get status message`"),
        "{text}"
    );
    assert!(
        text.contains("- `maxActiveThreads-9`: `--set maxActiveThreads=9`"),
        "{text}"
    );
}
