//! Process-level tests: a real processor binary (`tests/bin/conformance_processor.rs`)
//! driven over OS pipes by the fake daemon, as the Java daemon drives it. Unix only (the stdout
//! guard and signal handling are Unix features).
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, FakeDaemon, TestRecord, Transcript};

fn processor(modes: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kcl-test-processor"));
    command.env("KCL_TEST_MODE", modes).env("RUST_LOG", "info");
    command
}

fn script() -> FakeDaemon {
    FakeDaemon::new("shardId-000000000007")
        .process_records([
            TestRecord::new("100", "first").partition_key("a"),
            TestRecord::new("101", "second").partition_key("b"),
        ])
        .process_records([TestRecord::new("102", "third")])
        .shard_ended()
        .timeout(Duration::from_secs(20))
}

fn run(daemon: FakeDaemon, command: Command) -> Transcript {
    daemon
        .run_binary(command)
        .expect("start the processor binary")
}

#[test]
fn println_cannot_corrupt_the_protocol() {
    let transcript = run(script(), processor("println,checkpoint"));
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.exit_status().unwrap().success(), "{transcript}");
    // Not one stray line reached the protocol pipe: the daemon had nothing to skip.
    assert_eq!(transcript.skipped(), Vec::<&str>::new(), "{transcript}");
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "processRecords",
            "shardEnded"
        ]
    );
    assert_eq!(
        transcript.checkpoints(),
        [
            (Some("101".to_owned()), Some(0)),
            (Some("102".to_owned()), Some(0)),
            (None, None)
        ]
    );
    // The prints went to stderr instead, where the daemon logs them.
    assert!(
        transcript
            .stderr()
            .contains("stray println from process_records"),
        "{transcript}"
    );
}

#[test]
fn without_the_guard_stray_output_reaches_the_daemon_but_leading_newlines_keep_messages_whole() {
    let transcript = run(script(), processor("println,no-guard"));
    // The stray lines arrive on the protocol pipe (the daemon would log and skip them) ...
    assert!(
        transcript
            .skipped()
            .iter()
            .any(|line| line.contains("stray println")),
        "{transcript}"
    );
    // ... and an unterminated print does not swallow the next message, thanks to the leading
    // newline the runtime writes when stdout is shared.
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.exit_status().unwrap().success());
}

#[test]
fn a_failing_batch_exits_non_zero_without_acknowledging() {
    let transcript = run(script(), processor("error"));
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    assert_eq!(transcript.statuses(), ["initialize"]);
    assert_eq!(
        transcript.exit_status().unwrap().code(),
        Some(1),
        "{transcript}"
    );
    assert!(
        transcript
            .stderr()
            .contains("scripted failure on 2 records"),
        "{transcript}"
    );
    assert!(
        transcript.stderr().contains("shardId-000000000007"),
        "{transcript}"
    );
}

#[test]
fn a_panic_is_caught_logged_with_the_shard_and_exits_non_zero() {
    let transcript = run(script(), processor("panic"));
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    assert_eq!(
        transcript.exit_status().unwrap().code(),
        Some(1),
        "{transcript}"
    );
    let stderr = transcript.stderr();
    assert!(stderr.contains("processRecords panicked"), "{transcript}");
    assert!(
        stderr.contains("scripted panic on 2 records"),
        "{transcript}"
    );
    assert!(stderr.contains("shardId-000000000007"), "{transcript}");
}

#[test]
fn skip_batch_acknowledges_failures_and_keeps_running() {
    for mode in ["error,skip-batch", "panic,skip-batch"] {
        let transcript = run(script(), processor(mode));
        assert!(transcript.completed(), "{mode}: {transcript}");
        assert!(
            transcript.exit_status().unwrap().success(),
            "{mode}: {transcript}"
        );
        assert!(
            transcript.stderr().contains("FailurePolicy::SkipBatch"),
            "{mode}: {transcript}"
        );
    }
}

#[test]
fn sigterm_and_sigint_are_ignored_by_default_and_the_child_ends_at_eof() {
    for mode in ["sigterm,checkpoint", "sigint,checkpoint"] {
        let transcript = run(script(), processor(mode));
        assert!(transcript.completed(), "{mode}: {transcript}");
        assert!(
            transcript.exit_status().unwrap().success(),
            "{mode}: {transcript}"
        );
        assert_eq!(transcript.checkpoints().len(), 3, "{mode}: {transcript}");
    }
}

#[test]
fn with_inherited_signal_handling_sigterm_kills_the_child() {
    let transcript = run(script(), processor("sigterm,inherit-signals"));
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    assert_eq!(
        transcript.exit_status().unwrap().signal(),
        Some(libc_sigterm())
    );
}

fn libc_sigterm() -> i32 {
    15
}

#[test]
fn graceful_shutdown_sequence_then_eof_exits_zero() {
    let daemon = FakeDaemon::new("shardId-000000000001")
        .process_records([TestRecord::new("1", "x")])
        .shutdown_requested()
        .lease_lost();
    let transcript = run(daemon, processor(""));
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "shutdownRequested",
            "leaseLost"
        ]
    );
    assert_eq!(transcript.exit_status().unwrap().code(), Some(0));
}

#[test]
fn stdin_eof_at_any_point_exits_zero() {
    // The daemon (or the JVM) goes away right after initialize.
    let transcript = run(FakeDaemon::new("s"), processor(""));
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.exit_status().unwrap().code(), Some(0));
}

#[test]
fn legacy_kcl1_daemon_and_checkpoint_errors_over_pipes() {
    let daemon = FakeDaemon::new("shardId-000000000002")
        .process_records([TestRecord::new("5", "x")])
        .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
        .legacy_shutdown("TERMINATE");
    let transcript = run(daemon, processor("checkpoint"));
    // The processor does not retry its own checkpoint: the error propagates with `?` and the
    // default failure policy stops the child without acknowledging the batch.
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    assert!(
        transcript.stderr().contains("ThrottlingException"),
        "{transcript}"
    );

    let daemon = FakeDaemon::new("shardId-000000000002")
        .process_records([TestRecord::new("5", "x")])
        .legacy_shutdown("TERMINATE");
    let transcript = run(daemon, processor("checkpoint"));
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        transcript.statuses(),
        ["initialize", "processRecords", "shutdown"]
    );
    assert_eq!(transcript.checkpoints().last(), Some(&(None, None)));
}

#[test]
fn the_async_example_runs_over_pipes() {
    let daemon = FakeDaemon::new("shardId-000000000003")
        .process_records([TestRecord::new("9", vec![0u8; 1000])])
        .lease_lost();
    let transcript = run(
        daemon,
        Command::new(env!("CARGO_BIN_EXE_kcl-test-async-processor")),
    );
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.checkpoints(), [(None, None)]);
    assert!(
        transcript.stderr().contains("uploaded bytes=1000"),
        "{transcript}"
    );
    assert!(transcript.exit_status().unwrap().success());
}

#[test]
fn processes_the_processor_starts_do_not_inherit_the_protocol_pipe() {
    let transcript = run(FakeDaemon::new("s"), processor("list-fds"));
    assert!(transcript.completed(), "{transcript}");
    // The listing works (it shows the inherited stderr), and the protocol pipe is not in it: the
    // library's private copy of stdout is close-on-exec.
    assert!(
        transcript
            .stderr()
            .contains("child sees stderr: true; child sees the protocol pipe: false"),
        "{transcript}"
    );
}

#[test]
fn a_lease_lost_mid_batch_is_acknowledged_and_the_child_exits_zero_at_eof() {
    // The processor returns the refused checkpoint with `?` (`checkpoint` mode), as the samples
    // teach. The default failure policy (Exit) must not apply: the child acknowledges, keeps
    // serving the daemon, does not ask again, and exits 0 when stdin closes.
    let daemon = FakeDaemon::new("shardId-000000000011")
        .process_records([TestRecord::new("20", "x")])
        .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
        .process_records([TestRecord::new("21", "y")])
        .lease_lost()
        .timeout(Duration::from_secs(20));
    let transcript = run(daemon, processor("checkpoint"));
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "processRecords",
            "leaseLost"
        ]
    );
    assert_eq!(
        transcript.checkpoints(),
        [(Some("20".to_owned()), Some(0))],
        "the second batch's checkpoint must fail without a request: {transcript}"
    );
    assert_eq!(
        transcript.exit_status().unwrap().code(),
        Some(0),
        "{transcript}"
    );
    let stderr = transcript.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("ShutdownException"))
        .collect();
    assert_eq!(warnings.len(), 1, "one WARN line: {transcript}");
    assert!(warnings[0].contains("shardId-000000000011"), "{transcript}");
    assert!(!stderr.contains("ERROR"), "no error logged: {transcript}");
}

#[test]
fn the_daemons_timeout_from_the_environment_makes_slow_callbacks_visible() {
    let daemon = || {
        FakeDaemon::new("shardId-000000000012")
            .process_records([TestRecord::new("30", "x")])
            .timeout(Duration::from_secs(20))
    };
    let mut command = processor("slow");
    command.env("KCL_TIMEOUT_IN_SECONDS", "1");
    let transcript = run(daemon(), command);
    assert!(transcript.completed(), "{transcript}");
    let warnings: Vec<&str> = transcript
        .stderr()
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("kept the daemon waiting"))
        .collect();
    assert_eq!(warnings.len(), 1, "{transcript}");
    assert!(warnings[0].contains("shardId-000000000012"), "{transcript}");
    assert!(warnings[0].contains("processRecords"), "{transcript}");

    // A value that is not a positive whole number of seconds is ignored, with one warning.
    for value in ["abc", "0"] {
        let mut command = processor("");
        command.env("KCL_TIMEOUT_IN_SECONDS", value);
        let transcript = run(daemon(), command);
        assert!(transcript.completed(), "{value}: {transcript}");
        assert_eq!(
            transcript
                .stderr()
                .matches("ignoring KCL_TIMEOUT_IN_SECONDS")
                .count(),
            1,
            "{value}: {transcript}"
        );
    }
}
