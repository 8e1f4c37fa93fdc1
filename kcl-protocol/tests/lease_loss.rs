//! Refused checkpoints in every callback that has a checkpointer, for plain and async processors,
//! through the fake daemon: `ShutdownException` (the lease moved to another worker) is never a
//! processor failure; `InvalidStateException` (the lease table is missing) is one.

use kcl_protocol::asynchronous::{AsyncProcessor, BlockOn};
use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, FakeDaemon, Transcript};
use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, ProcessRecordsInput, Processor, ShardEndedInput,
    ShutdownRequestedInput,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callback {
    ProcessRecords,
    ShutdownRequested,
    ShardEnded,
}

/// Checkpoints twice in `at` (only once when the first error is returned with `?`), and notes
/// what each checkpoint returned.
#[derive(Debug)]
struct Refusing {
    at: Callback,
    propagate: bool,
    results: Vec<String>,
    lease_gone_seen: Vec<bool>,
}

impl Refusing {
    fn new(at: Callback, propagate: bool) -> Self {
        Refusing {
            at,
            propagate,
            results: Vec::new(),
            lease_gone_seen: Vec::new(),
        }
    }

    fn checkpoint(
        &mut self,
        here: Callback,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        if here != self.at {
            return Ok(());
        }
        for _ in 0..2 {
            let result = checkpointer.checkpoint();
            self.results.push(match &result {
                Ok(()) => "ok".to_owned(),
                Err(error) => error.daemon_name().unwrap_or("local").to_owned(),
            });
            self.lease_gone_seen.push(checkpointer.lease_gone());
            if self.propagate {
                result?;
            }
        }
        Ok(())
    }
}

impl Processor for Refusing {
    fn process_records(
        &mut self,
        _input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.checkpoint(Callback::ProcessRecords, checkpointer)
    }
    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.checkpoint(Callback::ShutdownRequested, checkpointer)
    }
    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.checkpoint(Callback::ShardEnded, checkpointer)
    }
}

/// The same processor, async: each callback awaits before checkpointing.
struct AsyncRefusing(Refusing);

impl AsyncProcessor for AsyncRefusing {
    async fn process_records(
        &mut self,
        _input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        tokio::task::yield_now().await;
        self.0.checkpoint(Callback::ProcessRecords, checkpointer)
    }
    async fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        tokio::task::yield_now().await;
        self.0.checkpoint(Callback::ShutdownRequested, checkpointer)
    }
    async fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        tokio::task::yield_now().await;
        self.0.checkpoint(Callback::ShardEnded, checkpointer)
    }
}

/// Two batches, then the callback under test (and `leaseLost` after `shutdownRequested`, as the
/// daemon does). The first checkpoint request is answered with `error`, later ones succeed.
fn script(at: Callback, error: &str) -> FakeDaemon {
    let daemon = FakeDaemon::new("shardId-000000000004")
        .process_records([kcl_protocol::testing::TestRecord::new("1", "a")])
        .reply_to_next_checkpoint(CheckpointReply::error(error))
        .process_records([kcl_protocol::testing::TestRecord::new("2", "b")]);
    match at {
        Callback::ProcessRecords => daemon.lease_lost(),
        Callback::ShutdownRequested => daemon.shutdown_requested().lease_lost(),
        Callback::ShardEnded => daemon.shard_ended(),
    }
}

/// Runs one case both as a plain and as an async processor; returns both runs.
fn run_both(at: Callback, propagate: bool, error: &str) -> [(Transcript, Refusing); 2] {
    let mut plain = Refusing::new(at, propagate);
    let sync_run = script(at, error).run(&mut plain);
    let mut adapted = BlockOn::new(AsyncRefusing(Refusing::new(at, propagate))).unwrap();
    let async_run = script(at, error).run(&mut adapted);
    [(sync_run, plain), (async_run, adapted.into_inner().0)]
}

fn all_statuses(at: Callback) -> Vec<&'static str> {
    let mut statuses = vec!["initialize", "processRecords", "processRecords"];
    statuses.extend(match at {
        Callback::ProcessRecords => ["leaseLost"].as_slice(),
        Callback::ShutdownRequested => &["shutdownRequested", "leaseLost"],
        Callback::ShardEnded => &["shardEnded"],
    });
    statuses
}

const CALLBACKS: [Callback; 3] = [
    Callback::ProcessRecords,
    Callback::ShutdownRequested,
    Callback::ShardEnded,
];

#[test]
fn a_lease_refused_in_any_callback_is_acknowledged_and_never_asked_again() {
    for at in CALLBACKS {
        for propagate in [false, true] {
            for (run, (transcript, processor)) in run_both(at, propagate, "ShutdownException")
                .into_iter()
                .enumerate()
            {
                let case = format!("{at:?}, propagate {propagate}, run {run} (0 sync, 1 async)");
                assert!(transcript.completed(), "{case}: {transcript}");
                assert!(
                    matches!(transcript.processor_result(), Some(Ok(()))),
                    "{case}: {transcript}"
                );
                assert_eq!(transcript.statuses(), all_statuses(at), "{case}");
                // One request reached the daemon; every later checkpoint (the second in the same
                // callback, those of the next batch, the library's SHARD_END) failed at once.
                assert_eq!(transcript.checkpoints().len(), 1, "{case}: {transcript}");
                let refusals = if propagate { 1 } else { 2 };
                let expected_results = match at {
                    // Both batches checkpoint; only the first request was sent.
                    Callback::ProcessRecords => vec!["ShutdownException"; 2 * refusals],
                    _ => vec!["ShutdownException"; refusals],
                };
                assert_eq!(processor.results, expected_results, "{case}");
                assert!(processor.lease_gone_seen.iter().all(|&gone| gone), "{case}");
            }
        }
    }
}

#[test]
fn invalid_state_is_a_failure_where_the_failure_policy_applies() {
    for at in CALLBACKS {
        for propagate in [false, true] {
            for (run, (transcript, processor)) in run_both(at, propagate, "InvalidStateException")
                .into_iter()
                .enumerate()
            {
                let case = format!("{at:?}, propagate {propagate}, run {run} (0 sync, 1 async)");
                // InvalidStateException does not make later checkpoints fail at once.
                assert!(
                    !processor.lease_gone_seen.iter().any(|&gone| gone),
                    "{case}"
                );
                assert_eq!(processor.results[0], "InvalidStateException", "{case}");
                if !propagate {
                    // Ignored by the processor: nothing failed.
                    assert!(transcript.completed(), "{case}: {transcript}");
                    assert_eq!(processor.results[1], "ok", "{case}");
                    continue;
                }
                match at {
                    // shutdownRequested failures are always acknowledged.
                    Callback::ShutdownRequested => {
                        assert!(transcript.completed(), "{case}: {transcript}")
                    }
                    // FailurePolicy::Exit: not acknowledged, run returns the error.
                    Callback::ProcessRecords | Callback::ShardEnded => {
                        let waiting_for = match at {
                            Callback::ProcessRecords => "processRecords",
                            _ => "shardEnded",
                        };
                        assert_eq!(
                            transcript.outcome(),
                            &DaemonOutcome::ChildExited {
                                waiting_for: waiting_for.into()
                            },
                            "{case}: {transcript}"
                        );
                        match transcript.processor_result() {
                            Some(Err(kcl_protocol::Error::Callback { source, .. })) => {
                                assert!(matches!(
                                    source.downcast_ref::<CheckpointError>(),
                                    Some(CheckpointError::InvalidState)
                                ));
                            }
                            other => panic!("{case}: unexpected result {other:?}"),
                        }
                    }
                }
            }
        }
    }
}
