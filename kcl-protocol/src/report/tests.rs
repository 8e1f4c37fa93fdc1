//! The reports a real engine sends over a real socket, against the fake daemon.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::encode::{FailureKind, Report};
use super::outcomes::CheckpointOutcomes;
use super::{Acknowledged, truncate};
use crate::checkpoint::CheckpointError;
use crate::testing::{CheckpointReply, FakeDaemon, TestRecord};
use crate::{BoxError, Checkpointer, FailurePolicy, ProcessRecordsInput, Processor, Runner};

/// A bound receiver in a directory of its own (removed when dropped).
struct Receiver {
    socket: UnixDatagram,
    dir: PathBuf,
}

impl Receiver {
    fn bind(name: &str) -> Receiver {
        let dir = std::env::temp_dir().join(format!("kcl-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = UnixDatagram::bind(dir.join("s")).unwrap();
        socket.set_nonblocking(true).unwrap();
        Receiver { socket, dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("s")
    }

    /// Every datagram queued so far, parsed.
    fn drain(&self) -> Vec<Value> {
        let mut buffer = vec![0; 65536];
        let mut reports = Vec::new();
        while let Ok(length) = self.socket.recv(&mut buffer) {
            reports.push(serde_json::from_slice(&buffer[..length]).unwrap());
        }
        reports
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Checkpoints at the last record of each batch (retrying throttling without a pause); fails the
/// batch whose first record's data is `fail`.
struct Checkpointing;

impl Processor for Checkpointing {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        if input.records().first().map(|r| r.data()) == Some(b"fail") {
            return Err("the sink refused the batch".into());
        }
        let last = input.records().last().ok_or("empty batch")?;
        let retry = crate::RetryPolicy::default().initial_backoff(Duration::ZERO);
        retry.retry(|| checkpointer.checkpoint_at_record(last))?;
        Ok(())
    }
}

#[test]
fn each_callback_is_reported_with_its_records_lag_duration_and_checkpoints() {
    let receiver = Receiver::bind("lifecycle");
    let transcript = FakeDaemon::new("shardId-000000000007")
        .process_records_behind(
            [
                TestRecord::new("1", "hello"),
                TestRecord::new("2", "world!"),
            ],
            Some(1500),
        )
        .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
        .process_records_behind([TestRecord::new("3", "x")], Some(0))
        .shard_ended()
        .run_with(
            Runner::new().report_socket(Some(receiver.path())),
            Checkpointing,
        );
    assert!(transcript.completed(), "{transcript}");
    let reports = receiver.drain();
    let actions: Vec<&str> = reports
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "initialize",
            "processRecords",
            "processRecords",
            "shardEnded"
        ]
    );
    for (index, report) in reports.iter().enumerate() {
        assert_eq!(report["version"], 1);
        assert_eq!(report["pid"], std::process::id());
        assert_eq!(report["seq"], index as u64 + 1);
        assert_eq!(report["shard_id"], "shardId-000000000007");
        assert_eq!(report["acknowledged"], true);
        assert!(report["duration_micros"].is_u64(), "{report}");
        assert_eq!(report["failure"], Value::Null);
    }
    let first = &reports[1];
    assert_eq!(first["records"], 2);
    assert_eq!(first["bytes"], 11);
    assert_eq!(first["millis_behind_latest"], 1500);
    assert_eq!(
        first["checkpoints"],
        serde_json::json!({"ok": 1, "ThrottlingException": 1})
    );
    assert_eq!(reports[2]["millis_behind_latest"], 0);
    assert_eq!(reports[2]["checkpoints"], serde_json::json!({"ok": 1}));
    // Outside processRecords: no records, and the SHARD_END checkpoint of the default shard_ended.
    assert_eq!(reports[0]["records"], 0);
    assert_eq!(reports[0]["millis_behind_latest"], Value::Null);
    assert_eq!(reports[3]["checkpoints"], serde_json::json!({"ok": 1}));
}

#[test]
fn a_failure_is_reported_with_its_message_and_whether_the_action_was_acknowledged() {
    for (policy, acknowledged) in [
        (FailurePolicy::SkipBatch, true),
        (FailurePolicy::Exit, false),
    ] {
        let receiver = Receiver::bind(&format!("failure-{acknowledged}"));
        let transcript = FakeDaemon::new("shardId-1")
            .process_records([TestRecord::new("1", "fail")])
            .run_with(
                Runner::new()
                    .on_error(policy)
                    .retry_failed_callbacks(
                        crate::RetryPolicy::default()
                            .max_attempts(2)
                            .initial_backoff(Duration::ZERO),
                    )
                    .report_socket(Some(receiver.path())),
                Checkpointing,
            );
        assert_eq!(
            transcript.processor_result().unwrap().is_ok(),
            acknowledged,
            "{transcript}"
        );
        let reports = receiver.drain();
        let batch = &reports[1];
        assert_eq!(batch["action"], "processRecords");
        assert_eq!(batch["retries"], 1);
        assert_eq!(batch["failure"]["kind"], "error");
        assert_eq!(batch["failure"]["message"], "the sink refused the batch");
        assert_eq!(batch["acknowledged"], acknowledged);
    }
}

#[test]
fn without_a_receiver_or_with_a_full_queue_the_callbacks_run_as_usual() {
    // No socket at that path: every send is dropped, nothing fails.
    let missing = std::env::temp_dir().join("kcl-report-no-such-dir/s");
    let transcript = FakeDaemon::new("shardId-1")
        .process_records([TestRecord::new("1", "a")])
        .shard_ended()
        .run_with(Runner::new().report_socket(Some(missing)), Checkpointing);
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.processor_result().unwrap().is_ok());

    // A receiver that never reads: its queue fills, later reports are dropped, and the child does
    // not wait (the fake daemon's 30 s line timeout would end the run otherwise).
    let receiver = Receiver::bind("full");
    let mut daemon = FakeDaemon::new("shardId-1");
    let batches = 3000;
    for index in 1..=batches {
        daemon = daemon.process_records([TestRecord::new(&index.to_string(), "data")]);
    }
    let transcript = daemon.run_with(
        Runner::new().report_socket(Some(receiver.path())),
        Checkpointing,
    );
    assert!(transcript.completed(), "{transcript}");
    let received = receiver.drain();
    assert!(
        !received.is_empty() && received.len() < batches + 1,
        "expected a full queue to drop reports, received {}",
        received.len()
    );
    // What arrived is the start of the sequence: the rest was dropped, none reordered.
    for (index, report) in received.iter().enumerate() {
        assert_eq!(report["seq"], index as u64 + 1);
    }
}

#[test]
fn a_refused_checkpoint_is_an_outcome_not_a_failure() {
    let receiver = Receiver::bind("refused");
    let transcript = FakeDaemon::new("shardId-1")
        .process_records([TestRecord::new("1", "a")])
        .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
        .lease_lost()
        .run_with(
            Runner::new().report_socket(Some(receiver.path())),
            Checkpointing,
        );
    assert!(transcript.completed(), "{transcript}");
    let reports = receiver.drain();
    assert_eq!(
        reports[1]["checkpoints"],
        serde_json::json!({"ShutdownException": 1})
    );
    assert_eq!(reports[1]["failure"], Value::Null);
    assert_eq!(reports[2]["action"], "leaseLost");
}

/// The fixtures of REPORTS.md are what the encoder writes, byte for byte.
#[test]
fn the_documented_fixtures_are_what_the_encoder_writes() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let mut throttled = CheckpointOutcomes::default();
    throttled.note(&Err(CheckpointError::Throttling));
    throttled.note(&Ok(()));
    let mut other = CheckpointOutcomes::default();
    other.note(&Err(CheckpointError::Other("NullPointerException".into())));
    other.note(&Err(CheckpointError::Other("NullPointerException".into())));
    let none = CheckpointOutcomes::default();
    let base = Report {
        pid: 4242,
        seq: 17,
        shard_id: "shardId-000000000003",
        action: "processRecords",
        records: 250,
        bytes: 64000,
        millis_behind_latest: Some(1200),
        duration_micros: 3150,
        checkpoints: &throttled,
        retries: 0,
        failure: None,
        acknowledged: Acknowledged::Yes,
    };
    let cases = [
        ("process-records.json", base),
        (
            "initialize.json",
            Report {
                seq: 1,
                action: "initialize",
                records: 0,
                bytes: 0,
                millis_behind_latest: None,
                duration_micros: 40,
                checkpoints: &none,
                ..base
            },
        ),
        (
            "failure.json",
            Report {
                seq: 18,
                records: 3,
                bytes: 96,
                millis_behind_latest: Some(0),
                checkpoints: &other,
                retries: 2,
                failure: Some((FailureKind::Panic, "index out of bounds: \"len\" is 3")),
                acknowledged: Acknowledged::No,
                ..base
            },
        ),
    ];
    for (name, report) in cases {
        let mut encoded = Vec::new();
        report.encode(&mut encoded);
        let expected = std::fs::read_to_string(fixtures.join(name)).unwrap();
        assert_eq!(
            String::from_utf8(encoded).unwrap(),
            expected.trim_end(),
            "{name}"
        );
    }
}

#[test]
fn long_messages_are_cut_on_a_character_boundary() {
    let mut text = "é".repeat(300);
    truncate(&mut text, 511);
    assert_eq!(text.len(), 510);
    let mut short = "ok".to_owned();
    truncate(&mut short, 511);
    assert_eq!(short, "ok");
}
