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
mod tests;
