//! Runs the real `basic-consumer` binary through kcl-protocol's fake daemon, over pipes: the
//! protocol on stdout, the record log on stderr.

use std::process::Command;

use kcl_protocol::testing::{FakeDaemon, TestRecord};

#[test]
fn basic_consumer_logs_records_to_stderr_and_checkpoints_over_stdout() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_basic-consumer"));
    command.env("RUST_LOG", "info");
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
