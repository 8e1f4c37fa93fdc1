//! The click-stream consumer's record processor: buffer, upload to S3, then checkpoint.
//!
//! The data-safety rules, in the order they matter:
//! * a checkpoint is made only after the upload of every record up to it succeeded, at the last
//!   record of the uploaded buffer;
//! * `shardEnded` uploads what is buffered, then checkpoints `SHARD_END`;
//! * `shutdownRequested` uploads what is buffered, then checkpoints (the next owner starts after
//!   it);
//! * `leaseLost` never checkpoints: it drops the buffer, and the next owner reads those records
//!   again from the last checkpoint;
//! * an upload that still fails after [`UploadRetry`]'s attempts is returned as an error, so
//!   kcl-protocol's failure policy applies: nothing past the last checkpoint is lost, the records
//!   are delivered again.
//!
//! Delivery is at-least-once: after a restart the records since the last checkpoint are uploaded
//! again (same key, same content when the buffer boundaries repeat).

use std::time::{Duration, Instant};

use kcl_protocol::asynchronous::AsyncProcessor;
use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, InitializeInput, LeaseLostInput, ProcessRecordsInput,
    RetryPolicy, ShardEndedInput, ShutdownRequestedInput,
};

use crate::buffer::{Batch, ShardBuffer};
use crate::sink::{ObjectSink, UploadRetry};

/// The consumer's knobs (all have the official sample's defaults).
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Prepended to every object key (empty by default).
    pub key_prefix: String,
    /// Upload a buffer once it holds this many bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Upload a buffer once its oldest record is this old (default 60 s). Checked whenever the
    /// daemon calls `processRecords`; set `callProcessRecordsEvenForEmptyRecordList = true` in
    /// the properties so that a quiet shard is flushed too.
    pub max_age: Duration,
    /// Retries of a failed upload.
    pub upload_retry: UploadRetry,
    /// Retries of a throttled checkpoint.
    pub checkpoint_retry: RetryPolicy,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            key_prefix: String::new(),
            max_bytes: 1024 * 1024,
            max_age: Duration::from_secs(60),
            upload_retry: UploadRetry::default(),
            checkpoint_retry: RetryPolicy::default(),
        }
    }
}

/// Buffers one shard's records and uploads them to an [`ObjectSink`] (S3 in the binary).
#[derive(Debug)]
pub struct ClickstreamProcessor<S> {
    sink: S,
    settings: ConsumerSettings,
    buffer: ShardBuffer,
    shard_id: String,
    uploaded_records: u64,
    uploaded_objects: u64,
}

impl<S: ObjectSink> ClickstreamProcessor<S> {
    /// A processor that uploads to `sink` according to `settings`.
    pub fn new(sink: S, settings: ConsumerSettings) -> Self {
        ClickstreamProcessor {
            buffer: ShardBuffer::new(settings.max_bytes, settings.max_age),
            sink,
            settings,
            shard_id: String::new(),
            uploaded_records: 0,
            uploaded_objects: 0,
        }
    }

    /// The sink (for tests that inspect what was uploaded).
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Records uploaded so far by this processor.
    pub fn uploaded_records(&self) -> u64 {
        self.uploaded_records
    }

    /// Objects uploaded so far by this processor.
    pub fn uploaded_objects(&self) -> u64 {
        self.uploaded_objects
    }

    /// Records buffered and not uploaded yet.
    pub fn buffered_records(&self) -> usize {
        self.buffer.len()
    }

    /// Uploads the buffer, if anything is in it; returns the uploaded batch.
    async fn upload(&mut self) -> Result<Option<Batch>, BoxError> {
        let Some(batch) = self.buffer.take() else {
            return Ok(None);
        };
        let key = batch.key(&self.settings.key_prefix, &self.shard_id);
        self.settings
            .upload_retry
            .put(&mut self.sink, &key, &batch.body)
            .await?;
        self.uploaded_records += batch.records as u64;
        self.uploaded_objects += 1;
        tracing::info!(
            key,
            records = batch.records,
            bytes = batch.body.len(),
            "uploaded"
        );
        Ok(Some(batch))
    }

    /// Uploads the buffer and checkpoints at its last record.
    async fn flush(&mut self, checkpointer: &mut Checkpointer<'_>) -> Result<(), BoxError> {
        let Some(batch) = self.upload().await? else {
            return Ok(());
        };
        let result = self.settings.checkpoint_retry.retry(|| {
            checkpointer.checkpoint_at_sub_sequence(&batch.last, batch.last_sub_sequence)
        });
        match result {
            Ok(()) => Ok(()),
            // The lease moved on: the object is stored, and the next owner starts from the
            // previous checkpoint (so some records reach S3 twice, which at-least-once allows).
            Err(CheckpointError::Shutdown) => {
                tracing::warn!("checkpoint refused: the lease is being given up");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl<S: ObjectSink> AsyncProcessor for ClickstreamProcessor<S> {
    async fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        self.shard_id = input.shard_id().to_owned();
        match input.checkpoint() {
            Some(checkpoint) => tracing::info!(%checkpoint, "initialized"),
            None => tracing::info!("initialized (no checkpoint yet)"),
        }
        Ok(())
    }

    async fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        if self.shard_id.is_empty() {
            self.shard_id = input.shard_id().to_owned();
        }
        for record in input.records() {
            let line = ShardBuffer::encode(record);
            if !self.buffer.fits(line.len()) {
                self.flush(checkpointer).await?;
            }
            self.buffer.push_line(record, &line, Instant::now());
        }
        if self.buffer.is_due(Instant::now()) {
            self.flush(checkpointer).await?;
        }
        Ok(())
    }

    async fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        let dropped = self.buffer.clear();
        tracing::info!(
            dropped,
            uploaded = self.uploaded_records,
            "lease lost; buffered records are left to the next owner"
        );
        Ok(())
    }

    async fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // SHARD_END covers every record, so the upload is enough; no checkpoint in between.
        self.upload().await?;
        self.settings
            .checkpoint_retry
            .retry(|| checkpointer.checkpoint())?;
        tracing::info!(
            uploaded = self.uploaded_records,
            "shard ended; checkpointed SHARD_END"
        );
        Ok(())
    }

    async fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.flush(checkpointer).await?;
        tracing::info!(
            uploaded = self.uploaded_records,
            "shutdown requested; flushed"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcl_protocol::asynchronous::BlockOn;
    use kcl_protocol::testing::{CheckpointReply, FakeDaemon, TestRecord};

    use crate::object::{decode_body, parse_object_key};

    const SHARD: &str = "shardId-000000000007";

    /// An in-memory stand-in for S3 that can be told to fail.
    #[derive(Debug, Default)]
    struct MemorySink {
        objects: Vec<(String, Vec<u8>)>,
        failures_left: u32,
        calls: u32,
    }

    impl ObjectSink for MemorySink {
        async fn put(&mut self, key: &str, body: &[u8]) -> Result<(), BoxError> {
            self.calls += 1;
            if self.failures_left > 0 {
                self.failures_left -= 1;
                return Err("InternalError: We encountered an internal error".into());
            }
            self.objects.push((key.to_owned(), body.to_vec()));
            Ok(())
        }
    }

    impl MemorySink {
        fn failing(failures: u32) -> Self {
            MemorySink {
                failures_left: failures,
                ..Self::default()
            }
        }

        /// (key, sequence numbers stored in it) per object.
        fn contents(&self) -> Vec<(String, Vec<String>)> {
            self.objects
                .iter()
                .map(|(key, body)| {
                    let seqs = decode_body(body)
                        .unwrap()
                        .into_iter()
                        .map(|r| r.sequence_number)
                        .collect();
                    (key.clone(), seqs)
                })
                .collect()
        }
    }

    fn settings(max_bytes: usize, max_age: Duration) -> ConsumerSettings {
        let quick = UploadRetry {
            attempts: 3,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        };
        ConsumerSettings {
            key_prefix: String::new(),
            max_bytes,
            max_age,
            upload_retry: quick,
            checkpoint_retry: RetryPolicy::default().initial_backoff(Duration::ZERO),
        }
    }

    fn processor(
        sink: MemorySink,
        settings: ConsumerSettings,
    ) -> BlockOn<ClickstreamProcessor<MemorySink>> {
        BlockOn::new(ClickstreamProcessor::new(sink, settings)).unwrap()
    }

    fn click(seq: &str) -> TestRecord {
        TestRecord::new(
            seq,
            format!(r#"{{"resource":"resource-{seq}","referrer":"http://www.bing.com"}}"#),
        )
        .partition_key(format!("resource-{seq}"))
    }

    fn checkpoint(seq: &str) -> (Option<String>, Option<u64>) {
        (Some(seq.to_owned()), Some(0))
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn full_buffers_are_uploaded_then_checkpointed_at_their_last_record() {
        // Each encoded click is ~150 bytes: a 400-byte limit holds two of them.
        let mut p = processor(MemorySink::default(), settings(400, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2"), click("3")])
            .process_records([click("4"), click("5")])
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        let objects = p.processor().sink().contents();
        assert_eq!(
            objects,
            [
                (format!("{SHARD}/1-2"), vec!["1".to_owned(), "2".to_owned()]),
                (format!("{SHARD}/3-4"), vec!["3".to_owned(), "4".to_owned()]),
            ]
        );
        assert_eq!(transcript.checkpoints(), [checkpoint("2"), checkpoint("4")]);
        assert_eq!(
            p.processor().buffered_records(),
            1,
            "record 5 waits for more"
        );
    }

    #[test]
    fn nothing_is_checkpointed_while_records_are_only_buffered() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2")])
            .process_records([])
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert!(transcript.checkpoints().is_empty());
        assert!(p.processor().sink().objects.is_empty());
    }

    #[test]
    fn an_old_buffer_is_flushed_even_by_an_empty_batch() {
        // max_age 0: everything is due at once, including on the empty batch a quiet shard gets
        // with callProcessRecordsEvenForEmptyRecordList.
        let mut p = processor(MemorySink::default(), settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("10"), click("11")])
            .process_records([])
            .process_records([click("12")])
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            transcript.checkpoints(),
            [checkpoint("11"), checkpoint("12")]
        );
        let keys: Vec<_> = p
            .processor()
            .sink()
            .contents()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [format!("{SHARD}/10-11"), format!("{SHARD}/12-12")]);
    }

    #[test]
    fn shutdown_requested_flushes_and_checkpoints() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("5"), click("6")])
            .shutdown_requested()
            .lease_lost()
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [checkpoint("6")]);
        assert_eq!(p.processor().sink().contents()[0].0, format!("{SHARD}/5-6"));
        assert_eq!(
            transcript.statuses(),
            [
                "initialize",
                "processRecords",
                "shutdownRequested",
                "leaseLost"
            ]
        );
    }

    #[test]
    fn shard_end_uploads_then_checkpoints_shard_end() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("7")])
            .shard_ended()
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [(None, None)], "SHARD_END only");
        assert_eq!(
            p.processor().sink().contents(),
            [(format!("{SHARD}/7-7"), vec!["7".to_owned()])]
        );
    }

    #[test]
    fn lease_lost_never_uploads_or_checkpoints() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2")])
            .lease_lost()
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert!(transcript.checkpoints().is_empty());
        assert!(p.processor().sink().objects.is_empty());
        assert_eq!(
            p.processor().buffered_records(),
            0,
            "the buffer is left to the next owner"
        );
    }

    #[test]
    fn a_flaky_upload_is_retried_and_then_checkpointed() {
        let mut p = processor(MemorySink::failing(2), settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("3")])
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(p.processor().sink().calls, 3);
        assert_eq!(transcript.checkpoints(), [checkpoint("3")]);
    }

    #[test]
    fn an_upload_that_keeps_failing_is_an_error_and_never_checkpointed() {
        let mut p = processor(MemorySink::failing(100), settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("3"), click("4")])
            .run(&mut p);
        assert!(
            !transcript.completed(),
            "the failure policy stops the child: {transcript}"
        );
        assert!(
            transcript.checkpoints().is_empty(),
            "no checkpoint without a stored object"
        );
        let result = transcript.processor_result().unwrap();
        let message = result.as_ref().unwrap_err().to_string();
        assert!(message.contains("failed 3 times"), "{message}");
        assert_eq!(
            p.processor().sink().calls,
            3,
            "three attempts, then give up"
        );
        assert_eq!(transcript.statuses(), ["initialize"]);
    }

    #[test]
    fn a_throttled_checkpoint_is_retried() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("8")])
            .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [checkpoint("8"), checkpoint("8")]);
    }

    #[test]
    fn a_shutdown_exception_on_checkpoint_keeps_the_child_running() {
        let mut p = processor(MemorySink::default(), settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("8")])
            .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
            .lease_lost()
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            transcript.statuses(),
            ["initialize", "processRecords", "leaseLost"]
        );
    }

    #[test]
    fn keys_carry_the_prefix_and_parse_back() {
        let mut s = settings(1 << 20, Duration::ZERO);
        s.key_prefix = "demo/run-1/".into();
        let mut p = processor(MemorySink::default(), s);
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("100"), click("205")])
            .run(&mut p);
        assert!(transcript.completed(), "{transcript}");
        let key = &p.processor().sink().objects[0].0;
        assert_eq!(key, &format!("demo/run-1/{SHARD}/100-205"));
        let parsed = parse_object_key("demo/run-1/", key).unwrap();
        assert_eq!(
            (parsed.shard_id.as_str(), parsed.last.as_str()),
            (SHARD, "205")
        );
    }
}
