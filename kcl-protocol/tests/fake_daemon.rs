//! The public testing aid, used the way a user would: in-process runs of plain and async
//! processors through scripted actions and checkpoint replies.

use std::time::Duration;

use kcl_protocol::asynchronous::{AsyncProcessor, BlockOn};
use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, Exchange, FakeDaemon, TestRecord};
use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, Error, ExtendedSequenceNumber, InitializeInput,
    ProcessRecordsInput, Processor, RetryPolicy, Runner, ShutdownRequestedInput,
};

#[derive(Default)]
struct Collecting {
    started_at: Option<ExtendedSequenceNumber>,
    seen: Vec<(String, Vec<u8>)>,
    shutdown_checkpoint: Option<Result<(), String>>,
}

impl Processor for Collecting {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        self.started_at = input.checkpoint().cloned();
        Ok(())
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        for record in input.records() {
            self.seen
                .push((record.sequence_number().to_string(), record.data().to_vec()));
        }
        let policy = RetryPolicy::default().initial_backoff(Duration::ZERO);
        policy.retry(|| checkpointer.checkpoint())?;
        Ok(())
    }

    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.shutdown_checkpoint = Some(checkpointer.checkpoint().map_err(|e| e.to_string()));
        Ok(())
    }
}

#[test]
fn scripted_replies_drive_retries_and_the_processor_can_be_inspected() {
    let mut processor = Collecting::default();
    let start: ExtendedSequenceNumber = "41/0".parse().unwrap();
    let transcript = FakeDaemon::with_checkpoint("shardId-000000000009", &start)
        .process_records([TestRecord::new("42", "a"), TestRecord::new("43", "b")])
        .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
        .reply_to_next_checkpoint(CheckpointReply::error(
            "KinesisClientLibDependencyException",
        ))
        .shutdown_requested()
        .reply_to_next_checkpoint(CheckpointReply::Success)
        .lease_lost()
        .run(&mut processor);
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.processor_result().unwrap().is_ok());
    assert_eq!(processor.started_at, Some(start));
    assert_eq!(
        processor.seen,
        [
            ("42".to_owned(), b"a".to_vec()),
            ("43".to_owned(), b"b".to_vec())
        ]
    );
    assert_eq!(transcript.checkpoints().len(), 4, "{transcript}");
    assert_eq!(processor.shutdown_checkpoint, Some(Ok(())));
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "shutdownRequested",
            "leaseLost"
        ]
    );
    // The transcript holds the exact daemon lines.
    assert!(matches!(
        &transcript.exchanges()[0],
        Exchange::Sent(line) if line == r#"{"action":"initialize","shardId":"shardId-000000000009","sequenceNumber":"41","subSequenceNumber":0}"#
    ));
}

#[test]
fn a_non_retryable_checkpoint_error_with_the_default_policy_stops_the_processor() {
    // InvalidStateException: the lease table is missing. (ShutdownException, a lost lease, is not
    // a failure: tests/lease_loss.rs.)
    let transcript = FakeDaemon::new("s")
        .process_records([TestRecord::new("1", "x")])
        .reply_to_next_checkpoint(CheckpointReply::error("InvalidStateException"))
        .lease_lost()
        .run(Collecting::default());
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        }
    );
    match transcript.processor_result() {
        Some(Err(Error::Callback { action, source, .. })) => {
            assert_eq!(*action, "processRecords");
            assert!(matches!(
                source.downcast_ref::<CheckpointError>(),
                Some(CheckpointError::InvalidState)
            ));
        }
        other => panic!("unexpected result {other:?}"),
    }
}

#[test]
fn callback_retries_call_the_processor_again() {
    struct FlakyTwice {
        calls: u32,
    }
    impl Processor for FlakyTwice {
        fn process_records(
            &mut self,
            _input: &ProcessRecordsInput,
            _checkpointer: &mut Checkpointer<'_>,
        ) -> Result<(), BoxError> {
            self.calls += 1;
            if self.calls <= 2 {
                Err("downstream unavailable".into())
            } else {
                Ok(())
            }
        }
    }
    let mut processor = FlakyTwice { calls: 0 };
    let runtime = Runner::new().retry_failed_callbacks(
        RetryPolicy::default()
            .max_attempts(3)
            .initial_backoff(Duration::from_millis(1)),
    );
    let transcript = FakeDaemon::new("s")
        .process_records([TestRecord::new("1", "x")])
        .run_with(runtime, &mut processor);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(processor.calls, 3);

    // One attempt fewer and the default policy stops the child.
    let mut processor = FlakyTwice { calls: 0 };
    let runtime = Runner::new().retry_failed_callbacks(
        RetryPolicy::default()
            .max_attempts(2)
            .initial_backoff(Duration::ZERO),
    );
    let transcript = FakeDaemon::new("s")
        .process_records([TestRecord::new("1", "x")])
        .run_with(runtime, &mut processor);
    assert!(!transcript.completed());
    assert_eq!(processor.calls, 2);
}

#[test]
fn a_status_for_the_wrong_action_is_reported_as_the_daemon_would_fail_it() {
    let transcript = FakeDaemon::empty()
        .raw(
            r#"{"action":"initialize","shardId":"s"}"#,
            Some("processRecords"),
        )
        .run(Collecting::default());
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::WrongStatus {
            expected: "processRecords".into(),
            got: Some("initialize".into())
        }
    );
}

struct AsyncCounter {
    total: usize,
}

impl AsyncProcessor for AsyncCounter {
    async fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.total += input.records().len();
        checkpointer.checkpoint_at_record(input.records().last().unwrap())?;
        Ok(())
    }
}

#[test]
fn async_processors_run_on_the_same_engine() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut adapted = BlockOn::with_runtime(AsyncCounter { total: 0 }, runtime);
    let transcript = FakeDaemon::new("s")
        .process_records([TestRecord::new("1", "x"), TestRecord::new("2", "y")])
        .process_records([TestRecord::new("3", "z")])
        .shard_ended()
        .run(&mut adapted);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(adapted.processor().total, 3);
    assert_eq!(
        transcript.checkpoints(),
        [
            (Some("2".to_owned()), Some(0)),
            (Some("3".to_owned()), Some(0)),
            (None, None)
        ]
    );
}
