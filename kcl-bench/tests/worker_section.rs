//! The whole-worker section from a small results file: the start-up target on the scheduler's
//! net time, and a stall run that ended with the daemon halting the JVM.

use kcl_bench::worker_results::Experiment;
use kcl_bench::worker_section::{SectionInput, render};
use serde_json::{Value, json};

fn run(variant: &str, to_scheduler: f64, to_initialize: f64, drain: Option<f64>) -> Value {
    json!({
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
    }))
    .expect("a valid experiment")
}

fn section() -> String {
    let headline = experiment(
        "headline",
        json!([{"name": "plain", "args": ["--jvm-defaults=none"]}, {"name": "tuned", "args": []}]),
        // Net start-up (less the 4 s lease wait): plain 12 - 4 = 8 s to the scheduler, tuned 7 - 4 = 3 s.
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
    render(&SectionInput {
        experiments: &[headline, stall],
        command: "scripts/bench --worker",
        chart: None,
        baseline_variant: "plain",
        variants_note: "",
    })
}

#[test]
fn the_start_up_target_is_judged_on_the_schedulers_net_time() {
    let text = section();
    // 8 / 3 = 2.67x to the scheduler; to the first initialize 12 / 7 = 1.71x, shown beside it.
    assert!(
        text.contains("| 200 MiB: met | 2.67x: met | 1.71x | 9.5 s vs 10.0 s: met |"),
        "{text}"
    );
}

#[test]
fn a_stall_run_says_how_it_ended_and_lists_its_variants() {
    let text = section();
    assert!(
        text.contains("stalled: 3 of 8 shards at their last record; the JVM halted itself with status 1 after 65 s (1 of 1 runs; 2 `Timedout to get status message`"),
        "{text}"
    );
    assert!(
        text.contains("- `maxActiveThreads-9`: `--set maxActiveThreads=9`"),
        "{text}"
    );
}
