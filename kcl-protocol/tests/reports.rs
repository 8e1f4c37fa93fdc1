//! The supervisor's reports from a real processor binary: the socket is named only by the
//! environment variable, as `kcl-bootstrap --supervise --metrics-addr` names it (REPORTS.md).
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use kcl_protocol::REPORT_SOCKET_VARIABLE;
use kcl_protocol::testing::{FakeDaemon, TestRecord};

#[test]
fn the_socket_named_in_the_environment_gets_one_report_per_callback() {
    let dir = std::env::temp_dir().join(format!("kcl-reports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reports.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    receiver.set_nonblocking(true).unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_kcl-test-processor"));
    command
        .env("KCL_TEST_MODE", "checkpoint")
        .env(REPORT_SOCKET_VARIABLE, &path);
    let transcript = FakeDaemon::new("shardId-000000000009")
        .process_records_behind([TestRecord::new("5", "abc")], Some(42))
        .shard_ended()
        .timeout(Duration::from_secs(20))
        .run_binary(command)
        .expect("start the processor binary");
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.exit_status().unwrap().success(), "{transcript}");

    let mut buffer = vec![0; 65536];
    let mut reports = Vec::new();
    while let Ok(length) = receiver.recv(&mut buffer) {
        let report: serde_json::Value = serde_json::from_slice(&buffer[..length]).unwrap();
        reports.push(report);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let summary: Vec<(String, u64, u64)> = reports
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["records"].as_u64().unwrap(),
                r["millis_behind_latest"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("initialize".to_owned(), 0, u64::MAX),
            ("processRecords".to_owned(), 1, 42),
            ("shardEnded".to_owned(), 0, u64::MAX),
        ]
    );
    assert!(
        reports
            .iter()
            .all(|r| r["shard_id"] == "shardId-000000000009")
    );
    // The child's own pid: the supervisor tells live children by it.
    assert_ne!(reports[0]["pid"], std::process::id());
}

#[test]
fn without_the_variable_the_child_runs_as_before() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kcl-test-processor"));
    command
        .env("KCL_TEST_MODE", "checkpoint")
        .env_remove(REPORT_SOCKET_VARIABLE);
    let transcript = FakeDaemon::new("shardId-1")
        .process_records([TestRecord::new("5", "abc")])
        .shard_ended()
        .timeout(Duration::from_secs(20))
        .run_binary(command)
        .expect("start the processor binary");
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.exit_status().unwrap().success(), "{transcript}");
    assert!(!transcript.stderr().contains("supervisor"), "{transcript}");
}
