//! Runs the real `basic-consumer` binary through kcl-protocol's fake daemon, over pipes: the
//! protocol on stdout, the record log on stderr.

use std::process::Command;

use kcl_protocol::testing::{FakeDaemon, TestRecord};

/// Runs the consumer on one batch of two records with `RUST_LOG` = `log_filter`.
fn run_one_batch(log_filter: &str) -> kcl_protocol::testing::Transcript {
    let mut command = Command::new(env!("CARGO_BIN_EXE_basic-consumer"));
    command.env("RUST_LOG", log_filter);
    FakeDaemon::new("shardId-000000000002")
        .process_records([
            TestRecord::new("11", r#"{"sensor":"sensor-4"}"#).partition_key("sensor-4"),
            TestRecord::new("12", r#"{"sensor":"sensor-9"}"#).partition_key("sensor-9"),
        ])
        .shutdown_requested()
        .lease_lost()
        .run_binary(command)
        .expect("start basic-consumer")
}

#[test]
fn basic_consumer_logs_one_line_per_batch_and_records_only_at_debug() {
    let info = run_one_batch("info");
    assert!(info.completed(), "{info}");
    let stderr = info.stderr();
    let batch_lines: Vec<&str> = stderr.lines().filter(|l| l.contains(" batch ")).collect();
    assert_eq!(batch_lines.len(), 1, "one summary line per batch: {stderr}");
    assert!(
        batch_lines[0].contains("records=2") && batch_lines[0].contains("last=12"),
        "the summary counts the batch: {stderr}"
    );
    assert!(
        !stderr.contains("sensor-9"),
        "no record data at INFO: {stderr}"
    );

    let debug = run_one_batch("info,kcl_sample_basic=debug");
    assert!(debug.completed(), "{debug}");
    let stderr = debug.stderr();
    assert!(
        stderr.contains("sensor-4") && stderr.contains("sensor-9"),
        "each record at DEBUG: {stderr}"
    );
}

#[test]
fn basic_consumer_logs_records_to_stderr_and_checkpoints_over_stdout() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_basic-consumer"));
    command.env("RUST_LOG", "info,kcl_sample_basic=debug");
    let transcript = FakeDaemon::new("shardId-000000000002")
        .process_records([
            TestRecord::new("11", r#"{"sensor":"sensor-4"}"#).partition_key("sensor-4"),
            TestRecord::new("12", r#"{"sensor":"sensor-9"}"#).partition_key("sensor-9"),
        ])
        .shutdown_requested()
        .lease_lost()
        .run_binary(command)
        .expect("start basic-consumer");
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
    assert_eq!(
        transcript.checkpoints(),
        [(Some("12".to_owned()), Some(0)), (None, None)]
    );
    assert!(transcript.exit_status().unwrap().success(), "{transcript}");
    let stderr = transcript.stderr();
    assert!(
        stderr.contains("sensor-9"),
        "the record log goes to stderr: {stderr}"
    );
    assert!(
        stderr.contains("shardId-000000000002"),
        "shard id on log lines: {stderr}"
    );
}
