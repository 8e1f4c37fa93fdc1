//! How long properties validation takes on large inputs, end to end (`kcl-bootstrap --check`,
//! warm Java version cache). Not a pass/fail timing: it prints the figures. Run with
//!
//! ```sh
//! cargo test --release -p kcl-bootstrap --test validation_speed -- --ignored --nocapture
//! KCL_BOOTSTRAP_TEST_BIN=/path/to/other/kcl-bootstrap cargo test ...   # another build, same inputs
//! ```
//!
//! Each case runs `KCL_BENCH_RUNS` times (default 5); a run is killed after `KCL_BENCH_LIMIT_SECS`
//! (default 120), so a quadratic build cannot hang it. The target is a 10 MB file in under 2 s.

mod common;
use common::*;
use std::time::Duration;

const V: &str = "9.9.9-test";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (name, file contents) of each case, all valid apart from warnings.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // 10 MB of distinct unknown keys with ordinary values (about 190,000 lines).
    let mut ten_mb = GOOD_PROPERTIES.to_string();
    let mut i = 0;
    while ten_mb.len() < 10_000_000 {
        ten_mb.push_str(&format!(
            "app.custom.setting.{i:07} = some ordinary value for this key\n"
        ));
        i += 1;
    }
    out.push(("10 MB, distinct keys", ten_mb.into_bytes()));
    // 10 MB, one key set again and again (the duplicate-key rule).
    let mut dups = GOOD_PROPERTIES.to_string();
    let mut n = 0;
    while dups.len() < 10_000_000 {
        dups.push_str(&format!("app.same.key = value number {n:09}\n"));
        n += 1;
    }
    out.push(("10 MB, one key repeated", dups.into_bytes()));
    // 160,000 keys, short ones that each go through the typo search.
    let mut many = GOOD_PROPERTIES.to_string();
    for i in 0..160_000 {
        many.push_str(&format!("k{i:06}x = {i}\n"));
    }
    out.push(("160,000 short keys", many.into_bytes()));
    // One key of 1 MiB.
    let mut huge_key = GOOD_PROPERTIES.to_string();
    huge_key.push_str(&"k".repeat(1 << 20));
    huge_key.push_str(" = x\n");
    out.push(("one 1 MiB key", huge_key.into_bytes()));
    out
}

#[test]
#[ignore = "benchmark: prints timings; run explicitly with --ignored --nocapture"]
fn validation_speed() {
    let runs = env_number("KCL_BENCH_RUNS", 5).max(1) as usize;
    let limit = Duration::from_secs(env_number("KCL_BENCH_LIMIT_SECS", 120));
    let (_, w) = warm_world(1, V);
    // Fill the Java version cache so that runs measure validation, not `java -version`.
    let warm = run_bounded(w.cmd().arg("--check"), limit);
    warm.expect_code(0);
    println!("binary: {}", bin().display());
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>10}  (seconds, {runs} runs)",
        "case", "size MB", "median", "min", "max"
    );
    for (name, bytes) in cases() {
        std::fs::write(&w.properties, &bytes).unwrap();
        let mut times = Vec::new();
        let mut note = String::new();
        for _ in 0..runs {
            let r = run_bounded(w.cmd().arg("--check").arg("-q"), limit);
            if r.timed_out {
                note = format!("killed after {} s", limit.as_secs());
                break;
            }
            if r.code != Some(0) {
                note = format!("exit {:?}: {}", r.code, r.err.lines().last().unwrap_or(""));
                break;
            }
            times.push(r.elapsed.as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let size = bytes.len() as f64 / 1e6;
        match (times.first(), times.last()) {
            (Some(min), Some(max)) if note.is_empty() => println!(
                "{name:<26} {size:>10.1} {:>10.3} {min:>10.3} {max:>10.3}",
                times[times.len() / 2]
            ),
            _ => println!("{name:<26} {size:>10.1} {note}"),
        }
    }
}
