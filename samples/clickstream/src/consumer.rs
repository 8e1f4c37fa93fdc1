//! The click-stream consumer's record processor: buffer, upload to S3 in the background, and let
//! kcl-protocol checkpoint what is uploaded.
//!
//! The processor keeps receiving while buffers upload: a full (or old) buffer goes to an
//! uploader task, which uploads buffers one at a time, in order, and then marks the buffer's last
//! record done on kcl-protocol's [`Watermark`] ([`Ticket::done_up_to`]: uploads finish in order,
//! so everything before it is uploaded too). The library checkpoints the watermark after every
//! batch, and after waiting for the rest at shutdown and shard end. The data-safety rules, in the
//! order they matter:
//! * a record is checkpointed only once the object holding it, and every object before it, is
//!   stored: the watermark never passes a record that is not marked done;
//! * `shardEnded` uploads what is buffered, waits for the uploads, and leaves the `SHARD_END`
//!   checkpoint to the library, which makes it once every record is done;
//! * `shutdownRequested` does the same, and the library checkpoints the last uploaded record
//!   (the next owner starts after it);
//! * `leaseLost` drops the buffer and stops uploading: the next owner reads those records again
//!   from the last checkpoint;
//! * an upload that still fails after [`UploadRetry`]'s attempts stops the uploader, and the next
//!   callback returns its error, so kcl-protocol's failure policy applies: nothing past the last
//!   checkpoint is lost, the records are delivered again.
//!
//! Delivery is at-least-once: after a restart the records since the last checkpoint are uploaded
//! again (same key, same content when the buffer boundaries repeat).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kcl_protocol::asynchronous::AsyncProcessor;
use kcl_protocol::{
    BoxError, Checkpointer, InitializeInput, LeaseLostInput, ProcessRecordsInput, ShardEndedInput,
    ShutdownRequestedInput, Ticket, Watermark,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::buffer::ShardBuffer;
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
    /// Full buffers waiting for the uploader before `process_records` waits for it (default 2).
    pub queued_uploads: usize,
    /// How long `shutdown_requested` and `shard_ended` wait for the uploads still to do
    /// (default 15 s; keep it below the daemon's `shutdownGraceMillis`).
    pub final_wait: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            key_prefix: String::new(),
            max_bytes: 1024 * 1024,
            max_age: Duration::from_secs(60),
            upload_retry: UploadRetry::default(),
            queued_uploads: 2,
            final_wait: Duration::from_secs(15),
        }
    }
}

/// What the uploader shares with the processor.
#[derive(Debug, Default)]
struct Progress {
    uploaded_records: AtomicU64,
    uploaded_objects: AtomicU64,
    /// Why the uploader stopped, if an upload failed for good.
    failure: Mutex<Option<String>>,
}

/// One buffer on its way to the sink, with the ticket of its last record.
struct Upload {
    key: String,
    body: Vec<u8>,
    records: usize,
    last: Ticket,
}

/// The uploader task and its queue.
struct Uploader {
    queue: mpsc::Sender<Upload>,
    task: JoinHandle<()>,
}

/// Buffers one shard's records and uploads them to an [`ObjectSink`] (S3 in the binary).
pub struct ClickstreamProcessor<S> {
    /// Moved into the uploader task when it starts.
    sink: Option<S>,
    settings: ConsumerSettings,
    buffer: ShardBuffer,
    /// The ticket of the buffer's last record.
    last_ticket: Option<Ticket>,
    watermark: Option<Watermark>,
    uploader: Option<Uploader>,
    progress: Arc<Progress>,
    shard_id: String,
}

impl<S: ObjectSink> ClickstreamProcessor<S> {
    /// A processor that uploads to `sink` according to `settings`.
    pub fn new(sink: S, settings: ConsumerSettings) -> Self {
        ClickstreamProcessor {
            buffer: ShardBuffer::new(settings.max_bytes, settings.max_age),
            sink: Some(sink),
            settings,
            last_ticket: None,
            watermark: None,
            uploader: None,
            progress: Arc::default(),
            shard_id: String::new(),
        }
    }

    /// Records uploaded so far by this processor.
    pub fn uploaded_records(&self) -> u64 {
        self.progress.uploaded_records.load(Ordering::Relaxed)
    }

    /// Objects uploaded so far by this processor.
    pub fn uploaded_objects(&self) -> u64 {
        self.progress.uploaded_objects.load(Ordering::Relaxed)
    }

    /// Records buffered and not handed to the uploader yet.
    pub fn buffered_records(&self) -> usize {
        self.buffer.len()
    }

    /// The uploader's failure, as an error for the current callback.
    fn check_uploads(&self) -> Result<(), BoxError> {
        match &*self
            .progress
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some(failure) => Err(failure.clone().into()),
            None => Ok(()),
        }
    }

    /// Starts the uploader on the current runtime, once.
    fn uploader(&mut self) -> Result<&Uploader, BoxError> {
        if self.uploader.is_none() {
            let sink = self.sink.take().ok_or("the uploader was stopped")?;
            let (queue, pending) = mpsc::channel(self.settings.queued_uploads.max(1));
            let task = tokio::spawn(upload_in_order(
                sink,
                self.settings.upload_retry,
                pending,
                Arc::clone(&self.progress),
            ));
            self.uploader = Some(Uploader { queue, task });
        }
        Ok(self.uploader.as_ref().expect("started above"))
    }

    /// Hands the buffer, if anything is in it, to the uploader (waiting while its queue is full).
    async fn flush(&mut self) -> Result<(), BoxError> {
        let Some(batch) = self.buffer.take() else {
            return Ok(());
        };
        let last = self
            .last_ticket
            .take()
            .ok_or("a buffered record without a ticket")?;
        let upload = Upload {
            key: batch.key(&self.settings.key_prefix, &self.shard_id),
            body: batch.body,
            records: batch.records,
            last,
        };
        let queue = self.uploader()?.queue.clone();
        if queue.send(upload).await.is_err() {
            // The uploader stopped: it failed (the error says why).
            self.check_uploads()?;
            return Err("the uploader stopped".into());
        }
        Ok(())
    }

    /// Uploads what is buffered and waits (up to the final wait) until every upload is done;
    /// returns the uploader's failure, if any. No upload follows: the lease ends after this.
    async fn finish_uploads(&mut self) -> Result<(), BoxError> {
        self.flush().await?;
        if let Some(Uploader { queue, task }) = self.uploader.take() {
            // Closing the queue lets the uploader finish what is queued, then end.
            drop(queue);
            match tokio::time::timeout(self.settings.final_wait, task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(format!("the uploader failed: {error}").into()),
                Err(_) => tracing::warn!(
                    "uploads still running after {:?}; the library checkpoints what is done",
                    self.settings.final_wait
                ),
            }
        }
        self.check_uploads()
    }
}

/// The uploader task: one buffer at a time, in order, each marked done once stored.
async fn upload_in_order<S: ObjectSink>(
    mut sink: S,
    retry: UploadRetry,
    mut pending: mpsc::Receiver<Upload>,
    progress: Arc<Progress>,
) {
    while let Some(upload) = pending.recv().await {
        if let Err(error) = retry.put(&mut sink, &upload.key, &upload.body).await {
            tracing::error!("{error}; no further upload");
            *progress.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
            return;
        }
        // Uploads finish in order, so every record up to this one is stored.
        upload.last.done_up_to();
        progress
            .uploaded_records
            .fetch_add(upload.records as u64, Ordering::Relaxed);
        progress.uploaded_objects.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            key = upload.key,
            records = upload.records,
            bytes = upload.body.len(),
            "uploaded"
        );
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
        // An upload that failed for good fails this batch: the failure policy applies.
        self.check_uploads()?;
        if self.shard_id.is_empty() {
            self.shard_id = input.shard_id().to_owned();
        }
        let watermark = self
            .watermark
            .get_or_insert_with(|| checkpointer.watermark())
            .clone();
        for record in input.records() {
            let line = ShardBuffer::encode(record);
            if !self.buffer.fits(line.len()) {
                self.flush().await?;
            }
            self.buffer.push_line(record, &line, Instant::now());
            self.last_ticket = Some(watermark.track(record));
        }
        if self.buffer.is_due(Instant::now()) {
            self.flush().await?;
        }
        // No checkpoint here: the library checkpoints what the uploader has marked done.
        Ok(())
    }

    async fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        let dropped = self.buffer.clear();
        if let Some(uploader) = self.uploader.take() {
            uploader.task.abort();
        }
        tracing::info!(
            dropped,
            uploaded = self.uploaded_records(),
            "lease lost; buffered records are left to the next owner"
        );
        Ok(())
    }

    async fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        _checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // SHARD_END covers every record: the library makes it once all of them are uploaded.
        self.finish_uploads().await?;
        tracing::info!(
            uploaded = self.uploaded_records(),
            "shard ended; everything uploaded"
        );
        Ok(())
    }

    async fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        _checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.finish_uploads().await?;
        tracing::info!(
            uploaded = self.uploaded_records(),
            "shutdown requested; everything uploaded"
        );
        Ok(())
    }
}

impl<S> std::fmt::Debug for ClickstreamProcessor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickstreamProcessor")
            .field("shard_id", &self.shard_id)
            .field("buffered", &self.buffer.len())
            .field("watermark", &self.watermark)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcl_protocol::asynchronous::BlockOn;
    use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, FakeDaemon, TestRecord};
    use kcl_protocol::{RetryPolicy, Runtime};

    use crate::object::{decode_body, parse_object_key};

    const SHARD: &str = "shardId-000000000007";

    /// An in-memory stand-in for S3 that can be told to fail; clones share the objects, so the
    /// test keeps one while the uploader owns another.
    #[derive(Debug, Clone, Default)]
    struct MemorySink {
        state: Arc<Mutex<SinkState>>,
    }

    #[derive(Debug, Default)]
    struct SinkState {
        objects: Vec<(String, Vec<u8>)>,
        failures_left: u32,
        calls: u32,
    }

    impl ObjectSink for MemorySink {
        async fn put(&mut self, key: &str, body: &[u8]) -> Result<(), BoxError> {
            let mut state = self.state.lock().unwrap();
            state.calls += 1;
            if state.failures_left > 0 {
                state.failures_left -= 1;
                return Err("InternalError: We encountered an internal error".into());
            }
            state.objects.push((key.to_owned(), body.to_vec()));
            Ok(())
        }
    }

    impl MemorySink {
        fn failing(failures: u32) -> Self {
            let sink = MemorySink::default();
            sink.state.lock().unwrap().failures_left = failures;
            sink
        }

        fn calls(&self) -> u32 {
            self.state.lock().unwrap().calls
        }

        /// (key, sequence numbers stored in it) per object.
        fn contents(&self) -> Vec<(String, Vec<String>)> {
            self.state
                .lock()
                .unwrap()
                .objects
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
            queued_uploads: 2,
            final_wait: Duration::from_secs(10),
        }
    }

    /// As the binary runs it: a multi-thread runtime, so uploads go on between callbacks.
    fn processor(
        sink: &MemorySink,
        settings: ConsumerSettings,
    ) -> BlockOn<ClickstreamProcessor<MemorySink>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        BlockOn::with_runtime(ClickstreamProcessor::new(sink.clone(), settings), runtime)
    }

    fn runtime() -> Runtime {
        Runtime::new()
            .watermark_retry(RetryPolicy::default().initial_backoff(Duration::ZERO))
            .watermark_wait(Duration::from_secs(10))
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

    /// Every checkpoint is at the last record of an object stored by then (objects are stored in
    /// order), the checkpoints ascend, and the last one is `last`.
    fn assert_checkpoints_follow_uploads(
        checkpoints: &[(Option<String>, Option<u64>)],
        sink: &MemorySink,
        last: &str,
    ) {
        let object_ends: Vec<String> = sink
            .contents()
            .into_iter()
            .map(|(_, seqs)| seqs.last().unwrap().clone())
            .collect();
        let mut previous = 0usize;
        for (seq, sub) in checkpoints {
            let seq = seq.as_deref().expect("a record, not SHARD_END");
            assert_eq!(*sub, Some(0));
            let at = object_ends
                .iter()
                .position(|end| end == seq)
                .unwrap_or_else(|| panic!("checkpoint {seq} is not an object's last record"));
            assert!(at + 1 >= previous, "checkpoints ascend: {checkpoints:?}");
            previous = at + 1;
        }
        assert_eq!(checkpoints.last(), Some(&checkpoint(last)));
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn full_buffers_upload_in_the_background_and_are_checkpointed_once_stored() {
        // Each encoded click is ~150 bytes: a 400-byte limit holds two of them.
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(400, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2"), click("3")])
            .process_records([click("4"), click("5")])
            .process_records([])
            .shutdown_requested()
            .lease_lost()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(
            sink.contents(),
            [
                (format!("{SHARD}/1-2"), vec!["1".to_owned(), "2".to_owned()]),
                (format!("{SHARD}/3-4"), vec!["3".to_owned(), "4".to_owned()]),
                (format!("{SHARD}/5-5"), vec!["5".to_owned()]),
            ]
        );
        // Checkpoints come when uploads are done (after some batch, or after the shutdown
        // request's wait), never before, and reach the last record.
        assert_checkpoints_follow_uploads(&transcript.checkpoints(), &sink, "5");
        assert_eq!(p.processor().uploaded_records(), 5);
    }

    #[test]
    fn nothing_is_checkpointed_while_records_are_only_buffered() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2")])
            .process_records([])
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert!(transcript.checkpoints().is_empty());
        assert!(sink.contents().is_empty());
        assert_eq!(p.processor().buffered_records(), 2);
    }

    #[test]
    fn an_old_buffer_is_flushed_even_by_an_empty_batch() {
        // max_age 0: everything is due at once, including on the empty batch a quiet shard gets
        // with callProcessRecordsEvenForEmptyRecordList.
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("10"), click("11")])
            .process_records([])
            .process_records([click("12")])
            .shutdown_requested()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        let keys: Vec<_> = sink.contents().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [format!("{SHARD}/10-11"), format!("{SHARD}/12-12")]);
        assert_checkpoints_follow_uploads(&transcript.checkpoints(), &sink, "12");
    }

    #[test]
    fn shutdown_requested_uploads_waits_and_the_library_checkpoints() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("5"), click("6")])
            .shutdown_requested()
            .lease_lost()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [checkpoint("6")]);
        assert_eq!(sink.contents()[0].0, format!("{SHARD}/5-6"));
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
    fn shard_end_uploads_then_the_library_checkpoints_shard_end() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("7")])
            .shard_ended()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [(None, None)], "SHARD_END only");
        assert_eq!(
            sink.contents(),
            [(format!("{SHARD}/7-7"), vec!["7".to_owned()])]
        );
    }

    #[test]
    fn lease_lost_never_uploads_or_checkpoints() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, HOUR));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("1"), click("2")])
            .lease_lost()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert!(transcript.checkpoints().is_empty());
        assert!(sink.contents().is_empty());
        assert_eq!(
            p.processor().buffered_records(),
            0,
            "the buffer is left to the next owner"
        );
    }

    #[test]
    fn a_flaky_upload_is_retried_and_then_checkpointed() {
        let sink = MemorySink::failing(2);
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("3")])
            .shutdown_requested()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(sink.calls(), 3);
        assert_eq!(transcript.checkpoints(), [checkpoint("3")]);
    }

    #[test]
    fn an_upload_that_keeps_failing_is_an_error_and_never_checkpointed() {
        let sink = MemorySink::failing(100);
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("3"), click("4")])
            .shard_ended()
            .run_with(runtime(), &mut p);
        assert_eq!(
            transcript.outcome(),
            &DaemonOutcome::ChildExited {
                waiting_for: "shardEnded".into()
            },
            "the failure policy stops the child: {transcript}"
        );
        assert!(
            transcript.checkpoints().is_empty(),
            "no checkpoint without a stored object, no SHARD_END"
        );
        let error = transcript.processor_result().unwrap().as_ref().unwrap_err();
        let cause = std::error::Error::source(error).unwrap().to_string();
        assert!(cause.contains("failed 3 times"), "{cause}");
        assert_eq!(sink.calls(), 3, "three attempts, then give up");
    }

    #[test]
    fn a_failed_upload_fails_the_next_batch() {
        let sink = MemorySink::failing(100);
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("3")])
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        // Wait until the uploader gave up, then the next batch reports it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while p.processor().check_uploads().is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let transcript = FakeDaemon::empty()
            .process_records([click("4")])
            .run_with(runtime(), &mut p);
        assert_eq!(
            transcript.outcome(),
            &DaemonOutcome::ChildExited {
                waiting_for: "processRecords".into()
            },
            "{transcript}"
        );
        assert!(transcript.checkpoints().is_empty());
    }

    #[test]
    fn a_throttled_checkpoint_is_retried() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("8")])
            .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
            .shutdown_requested()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        assert_eq!(transcript.checkpoints(), [checkpoint("8"), checkpoint("8")]);
    }

    #[test]
    fn a_shutdown_exception_on_checkpoint_keeps_the_child_running() {
        let sink = MemorySink::default();
        let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("8")])
            .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
            .shutdown_requested()
            .lease_lost()
            .run_with(runtime(), &mut p);
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
        assert_eq!(transcript.checkpoints(), [checkpoint("8")], "asked once");
    }

    #[test]
    fn keys_carry_the_prefix_and_parse_back() {
        let mut s = settings(1 << 20, Duration::ZERO);
        s.key_prefix = "demo/run-1/".into();
        let sink = MemorySink::default();
        let mut p = processor(&sink, s);
        let transcript = FakeDaemon::new(SHARD)
            .process_records([click("100"), click("205")])
            .shutdown_requested()
            .run_with(runtime(), &mut p);
        assert!(transcript.completed(), "{transcript}");
        let key = &sink.contents()[0].0;
        assert_eq!(key, &format!("demo/run-1/{SHARD}/100-205"));
        let parsed = parse_object_key("demo/run-1/", key).unwrap();
        assert_eq!(
            (parsed.shard_id.as_str(), parsed.last.as_str()),
            (SHARD, "205")
        );
    }
}
