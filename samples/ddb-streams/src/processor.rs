//! The consumer's processor: one DEBUG line per change, one INFO line per batch with the counts
//! of inserts, updates and deletes, a checkpoint after every batch.

use kcl_protocol::ddb::{EventName, StreamRecord};
use kcl_protocol::{
    BoxError, Checkpointer, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor,
    RetryPolicy, ShardEndedInput, ShutdownRequestedInput,
};

/// Changes seen so far, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCounts {
    /// New items.
    pub inserts: u64,
    /// Updated items.
    pub modifies: u64,
    /// Deleted items.
    pub removes: u64,
    /// Records that were not stream records (logged and skipped).
    pub unreadable: u64,
}

/// Logs and counts the changes of one stream shard and checkpoints after every batch, at shard
/// end and on a shutdown request.
#[derive(Debug, Default)]
pub struct ChangeProcessor {
    counts: ChangeCounts,
    retry: RetryPolicy,
}

impl ChangeProcessor {
    /// A processor with the default checkpoint retry policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn counts(&self) -> ChangeCounts {
        self.counts
    }
}

impl Processor for ChangeProcessor {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        tracing::info!(shard = input.shard_id(), "initialized");
        Ok(())
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        for record in input.records() {
            match StreamRecord::try_from(record) {
                Ok(change) => {
                    match change.event_name {
                        EventName::Insert => self.counts.inserts += 1,
                        EventName::Modify => self.counts.modifies += 1,
                        EventName::Remove => self.counts.removes += 1,
                    }
                    tracing::debug!(
                        event = ?change.event_name,
                        keys = ?change.keys,
                        new = ?change.new_image,
                        old = ?change.old_image,
                        sequence_number = %change.sequence_number,
                        "change"
                    );
                }
                Err(error) => {
                    // A record we cannot read is logged and skipped rather than retried forever.
                    self.counts.unreadable += 1;
                    tracing::warn!(sequence_number = %record.sequence_number(), "{error}");
                }
            }
        }
        if let Some(last) = input.records().last() {
            let c = self.counts;
            tracing::info!(
                records = input.records().len(),
                inserts = c.inserts,
                modifies = c.modifies,
                removes = c.removes,
                "batch"
            );
            self.retry
                .retry(|| checkpointer.checkpoint_at_record(last))?;
        }
        Ok(())
    }

    fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        tracing::info!("lease lost");
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // DynamoDB closes stream shards about every 4 hours; the children start after this.
        tracing::info!("shard ended; checkpointing SHARD_END");
        self.retry.retry(|| checkpointer.checkpoint())?;
        Ok(())
    }

    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.retry.retry(|| checkpointer.checkpoint())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcl_protocol::testing::{FakeDaemon, TestRecord};

    fn change(seq: &str, event: &str) -> TestRecord {
        let data = format!(
            r#"{{"eventName":"{event}","dynamodb":{{"Keys":{{"pk":{{"S":"a"}}}},"SequenceNumber":"{seq}"}}}}"#
        );
        TestRecord::new(seq, data).partition_key(seq)
    }

    #[test]
    fn counts_each_kind_skips_what_it_cannot_read_and_checkpoints_the_batch() {
        let transcript = FakeDaemon::new("shardId-00000001541626099285-f35f62ef")
            .process_records([
                change("11", "INSERT"),
                change("12", "MODIFY"),
                TestRecord::new("13", "not json").partition_key("13"),
                change("14", "REMOVE"),
            ])
            .shutdown_requested()
            .run(ChangeProcessor::new());
        assert!(transcript.completed(), "{transcript}");
        let checkpoints = transcript.checkpoints();
        assert_eq!(checkpoints[0].0.as_deref(), Some("14"), "{checkpoints:?}");
    }
}
