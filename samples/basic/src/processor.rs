//! The basic consumer's record processor: one summary line per batch, each record at DEBUG,
//! checkpoint every batch.
//!
//! Kept deliberately small and cheap: the daemon runs one such child per shard. Records are logged
//! only at DEBUG (`RUST_LOG=kcl_sample_basic=debug`): at INFO a busy shard would put one log line
//! per record, with its data, into the worker's log.

use kcl_protocol::{
    BoxError, Checkpointer, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor,
    RetryPolicy, ShardEndedInput, ShutdownRequestedInput,
};

/// Logs one INFO line per batch (records, bytes, sequence range, `millisBehindLatest`) and each
/// record (partition key, sequence number, data as text) at DEBUG, to stderr through `tracing`,
/// and checkpoints at the last record of every batch, at shard end, and on a shutdown request.
#[derive(Debug, Default)]
pub struct BasicProcessor {
    records: u64,
    bytes: u64,
    retry: RetryPolicy,
}

impl BasicProcessor {
    /// A processor with the default checkpoint retry policy (throttling is retried with backoff).
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `retry` for every checkpoint instead of the default policy.
    pub fn with_retry_policy(retry: RetryPolicy) -> Self {
        BasicProcessor {
            retry,
            ..Self::default()
        }
    }

    /// How many records this processor has seen.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// How many bytes of record data this processor has seen.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Processor for BasicProcessor {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        match input.checkpoint() {
            Some(checkpoint) => tracing::info!(%checkpoint, "initialized"),
            None => tracing::info!("initialized (no checkpoint yet)"),
        }
        Ok(())
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let records = input.records();
        let mut batch_bytes = 0u64;
        for record in records {
            tracing::debug!(
                partition_key = record.partition_key(),
                sequence_number = %record.sequence_number(),
                data = %String::from_utf8_lossy(record.data()),
                "record"
            );
            batch_bytes += record.data().len() as u64;
        }
        self.bytes += batch_bytes;
        self.records += records.len() as u64;
        if let (Some(first), Some(last)) = (records.first(), records.last()) {
            tracing::info!(
                records = records.len(),
                bytes = batch_bytes,
                first = %first.sequence_number(),
                last = %last.sequence_number(),
                millis_behind_latest = ?input.millis_behind_latest(),
                "batch"
            );
        }
        // Everything in the batch is handled (logged), so the whole batch can be checkpointed.
        // Returning a refused checkpoint with `?` is fine: if the lease moved to another worker
        // (ShutdownException), kcl-protocol logs it once and keeps the child running until the
        // daemon ends it; other errors apply the failure policy.
        if let Some(last) = records.last() {
            self.retry
                .retry(|| checkpointer.checkpoint_at_record(last))?;
        }
        Ok(())
    }

    fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        // No checkpointer here: another worker holds the lease now.
        tracing::info!(records = self.records, "lease lost");
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // The daemon starts the child shards only after a SHARD_END checkpoint.
        tracing::info!(
            records = self.records,
            "shard ended; checkpointing SHARD_END"
        );
        self.retry.retry(|| checkpointer.checkpoint())?;
        Ok(())
    }

    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // Every delivered record was logged, so checkpoint at the latest one: the next owner
        // of the shard starts right after it.
        tracing::info!(records = self.records, "shutdown requested; checkpointing");
        self.retry.retry(|| checkpointer.checkpoint())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcl_protocol::testing::{CheckpointReply, FakeDaemon, TestRecord};
    use std::time::Duration;

    fn quick() -> BasicProcessor {
        BasicProcessor::with_retry_policy(RetryPolicy::default().initial_backoff(Duration::ZERO))
    }

    fn reading(seq: &str) -> TestRecord {
        TestRecord::new(seq, r#"{"time":1,"sensor":"sensor-1","reading":4.2}"#)
            .partition_key("sensor-1")
    }

    #[test]
    fn every_batch_is_checkpointed_at_its_last_record() {
        let mut processor = quick();
        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("1"), reading("2")])
            .process_records([])
            .process_records([reading("30")])
            .run(&mut processor);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            transcript.checkpoints(),
            [
                (Some("2".to_owned()), Some(0)),
                (Some("30".to_owned()), Some(0))
            ],
            "no checkpoint for the empty batch"
        );
        assert_eq!(processor.records(), 3);
        assert_eq!(processor.bytes(), 3 * 44);
    }

    #[test]
    fn shard_end_and_shutdown_request_checkpoint() {
        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("5")])
            .shard_ended()
            .run(quick());
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            transcript.checkpoints(),
            [(Some("5".to_owned()), Some(0)), (None, None)]
        );

        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("5")])
            .shutdown_requested()
            .lease_lost()
            .run(quick());
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            transcript.checkpoints(),
            [(Some("5".to_owned()), Some(0)), (None, None)]
        );
    }

    #[test]
    fn throttling_is_retried_and_other_errors_stop_the_child() {
        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("9")])
            .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
            .run(quick());
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints().len(), 2);

        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("9")])
            .reply_to_next_checkpoint(CheckpointReply::error("InvalidStateException"))
            .run(quick());
        assert!(!transcript.completed(), "{transcript}");
        assert!(transcript.processor_result().unwrap().is_err());
    }

    #[test]
    fn a_lease_lost_mid_batch_keeps_the_child_running() {
        // Another worker took the lease: the checkpoint is refused and returned with `?`, and the
        // child still acknowledges everything until the daemon ends it.
        let transcript = FakeDaemon::new("shardId-000000000000")
            .process_records([reading("9")])
            .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
            .process_records([reading("10")])
            .lease_lost()
            .run(quick());
        assert!(transcript.completed(), "{transcript}");
        assert!(transcript.processor_result().unwrap().is_ok());
        assert_eq!(
            transcript.statuses(),
            [
                "initialize",
                "processRecords",
                "processRecords",
                "leaseLost"
            ]
        );
        assert_eq!(transcript.checkpoints().len(), 1, "not asked again");
    }
}
