//! The benchmark at reduced size, as a correctness check in the normal test suite: every child
//! acknowledges every action with the right `responseFor`, checkpoints once per batch at the
//! batch's last record and once at shard end, decodes every byte, and exits 0. No timing is
//! asserted (timing is the benchmark command's job).
//!
//! The Rust children always run (cargo builds them for this test). The Python and Node SDK
//! children run only if `scripts/bench --install-anchors` has installed them; otherwise the test
//! says so on stderr.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kcl_bench::children::{ChildSpec, Locations};
use kcl_bench::driver::drive;
use kcl_bench::pipe_writes::WriteMode;
use kcl_bench::transcript::generate;
use kcl_bench::workload::Workload;

const TIME_LIMIT: Duration = Duration::from_secs(120);

fn rust_child(id: &'static str, program: &str) -> ChildSpec {
    ChildSpec {
        id,
        label: id.to_string(),
        program: PathBuf::from(program),
        args: Vec::new(),
        env: Vec::new(),
    }
}

fn run_all_smoke_workloads(child: &ChildSpec) {
    for (workload, write_mode) in Workload::smoke()
        .into_iter()
        .flat_map(|w| WriteMode::ALL.map(|mode| (w.clone(), mode)))
    {
        let transcript = generate(&workload);
        let measurement = drive(child, &workload, &transcript, TIME_LIMIT, write_mode)
            .unwrap_or_else(|error| {
                panic!(
                    "{} failed workload {} ({}): {error}",
                    child.id,
                    workload.id,
                    write_mode.id()
                )
            });
        assert_eq!(
            measurement.checkpoints,
            workload.batches() + 1,
            "{} on {}",
            child.id,
            workload.id
        );
        assert!(
            measurement.idle_rss_kib > 0,
            "idle RSS was not read for {}",
            child.id
        );
        assert!(measurement.peak_rss_kib >= measurement.idle_rss_kib);
    }
}

#[test]
fn the_kcl_protocol_child_passes_every_smoke_workload() {
    run_all_smoke_workloads(&rust_child("kcl", env!("CARGO_BIN_EXE_bench-child-kcl")));
}

#[test]
fn the_naive_child_passes_every_smoke_workload() {
    run_all_smoke_workloads(&rust_child(
        "naive",
        env!("CARGO_BIN_EXE_bench-child-naive"),
    ));
}

#[test]
fn the_reporting_kcl_child_passes_and_reports_every_action() {
    let drain = kcl_bench::reports::ReportDrain::start().unwrap();
    let mut child = rust_child("kcl-reports", env!("CARGO_BIN_EXE_bench-child-kcl"));
    child.env.push((
        kcl_bench::reports::REPORT_SOCKET_VARIABLE.into(),
        drain.path().as_os_str().to_owned(),
    ));
    run_all_smoke_workloads(&child);
    // One report per acknowledged action: initialize, each batch, shardEnded; every workload runs
    // once per write mode.
    let expected: u64 = Workload::smoke()
        .iter()
        .map(|w| (w.batches() as u64 + 2) * WriteMode::ALL.len() as u64)
        .sum();
    let received = drain.wait_for(expected);
    assert!(
        received > 0 && received <= expected,
        "received {received} reports, sent at most {expected}"
    );
}

#[test]
fn the_official_sdk_children_pass_if_installed() {
    let locations = Locations {
        repo_root: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
        bin_dir: PathBuf::from(env!("CARGO_BIN_EXE_bench-child-naive"))
            .parent()
            .unwrap()
            .to_path_buf(),
        baseline: None,
        report_socket: None,
    };
    for id in ["python", "node"] {
        match locations.child(id) {
            Ok(child) => {
                run_all_smoke_workloads(&child);
                eprintln!("smoke: {} passed", child.label);
            }
            Err(why) => eprintln!("smoke: {id} SDK child not run: {why}"),
        }
    }
}

#[test]
fn a_child_that_echoes_the_daemon_fails_the_run() {
    // `cat` sends the daemon's own initialize line back: the daemon ignores it and would wait
    // forever; the driver must report it instead of measuring.
    let Some(cat) = kcl_bench::children::find_on_path("cat") else {
        eprintln!("no `cat` on PATH; skipped");
        return;
    };
    let child = ChildSpec {
        id: "cat",
        label: "cat".into(),
        program: cat,
        args: Vec::new(),
        env: Vec::new(),
    };
    let workload = &Workload::smoke()[1];
    let error = drive(
        &child,
        workload,
        &generate(workload),
        TIME_LIMIT,
        WriteMode::JdkChunks,
    )
    .unwrap_err();
    assert!(error.message.contains("\"initialize\" message"), "{error}");
}

#[test]
fn a_child_that_never_checkpoints_fails_the_run() {
    // Acknowledges every action but never checkpoints: the checkpoint check must catch it.
    let Some(sh) = kcl_bench::children::find_on_path("sh") else {
        eprintln!("no `sh` on PATH; skipped");
        return;
    };
    let script = r#"while IFS= read -r line; do
  case "$line" in
    *'"action":"initialize"'*) echo '{"action":"status","responseFor":"initialize"}' ;;
    *'"action":"processRecords"'*) echo '{"action":"status","responseFor":"processRecords"}' ;;
    *'"action":"shardEnded"'*) echo '{"action":"status","responseFor":"shardEnded"}' ;;
  esac
done"#;
    let child = ChildSpec {
        id: "no-checkpoint",
        label: "no-checkpoint".into(),
        program: sh,
        args: vec![OsString::from("-c"), OsString::from(script)],
        env: Vec::new(),
    };
    let workload = &Workload::smoke()[1];
    let error = drive(
        &child,
        workload,
        &generate(workload),
        TIME_LIMIT,
        WriteMode::JdkChunks,
    )
    .unwrap_err();
    assert!(
        error.message.contains("0 checkpoint requests, expected 1"),
        "{error}"
    );
}

#[test]
fn the_command_runs_in_smoke_mode() {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_bench-child-naive"))
        .parent()
        .unwrap()
        .to_path_buf();
    let output = Command::new(env!("CARGO_BIN_EXE_kcl-bench"))
        .args(["--smoke", "--children", "kcl,naive", "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("kcl-protocol (ours)"), "{stdout}");
    assert!(stdout.contains("(c) 2 x 2000 x 1024 B"), "{stdout}");
}

#[test]
fn idle_memory_of_several_children_at_once_is_read() {
    let initialize = generate(&Workload::smoke()[0]).initialize;
    let child = rust_child("kcl", env!("CARGO_BIN_EXE_bench-child-kcl"));
    let measured = kcl_bench::idle::measure("kcl", &child.program, &[], &initialize, 3).unwrap();
    assert_eq!(measured.count, 3);
    assert!(measured.rss_kib > 0);
    assert!(measured.pss_kib <= measured.rss_kib, "{measured:?}");
    assert!(measured.private_kib <= measured.rss_kib, "{measured:?}");
    let floor = kcl_bench::idle::measure(
        "floor",
        Path::new(env!("CARGO_BIN_EXE_bench-idle-floor")),
        &[],
        &initialize,
        2,
    )
    .unwrap();
    assert!(floor.rss_kib > 0);
}
