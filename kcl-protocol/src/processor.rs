//! The processor contract: the callbacks the daemon drives and the typed inputs they receive.
//!
//! One child process handles one shard lease. The daemon calls, strictly one at a time:
//!
//! ```text
//! initialize → process_records × n → [shutdown_requested] → lease_lost | shard_ended → (stdin EOF)
//! ```
//!
//! A [`Checkpointer`] is passed only where the daemon accepts a checkpoint (`process_records`,
//! `shard_ended`, `shutdown_requested`), so a checkpoint during `initialize` or `lease_lost` (which
//! the daemon would reject with `InvalidStateException`) does not compile.

use crate::checkpoint::{Checkpointer, RetryPolicy};
use crate::record::{ExtendedSequenceNumber, Record};
use crate::watermark::NOT_DELIVERED;

/// The error type callbacks return: any error that can cross threads. `?` converts most errors
/// into it, including [`CheckpointError`](crate::CheckpointError), `std::io::Error` and
/// `anyhow::Error`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A record processor for one shard. Implement this and pass it to [`run`](crate::run).
///
/// Every callback is fallible. What the library does with an `Err` or a panic is the
/// [failure policy](crate#failure-policy): by default the child exits without acknowledging, the
/// daemon restarts from the last checkpoint, and no record is lost.
pub trait Processor {
    /// Called once, before any records, with the shard id and the lease's current checkpoint.
    ///
    /// No checkpointer: the daemon rejects checkpoints during `initialize`.
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        let _ = input;
        Ok(())
    }

    /// Called for each batch of records. Checkpoint when the records are safely handled: records
    /// after the last checkpoint are delivered again after a restart or a lease move.
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError>;

    /// Called when another worker took the lease (or after `shutdown_requested`). The lease is no
    /// longer held, so there is no checkpointer; an error here is logged and acknowledged, because
    /// nothing can be lost any more.
    fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        let _ = input;
        Ok(())
    }

    /// Called when the shard is closed (after a split or merge) and every record was delivered.
    ///
    /// The daemon requires a checkpoint at `SHARD_END` here, or the shard's children never start.
    /// The default does exactly that: [`Checkpointer::checkpoint`], retrying throttling with
    /// [`RetryPolicy::default`]. If an override returns `Ok` without a successful `SHARD_END`
    /// checkpoint, the library makes it on the processor's behalf and logs a warning.
    ///
    /// With a [`Watermark`](crate::Watermark) the default leaves `SHARD_END` to the engine, which
    /// makes it once every delivered record is marked done (waiting up to
    /// [`Runner::watermark_wait`](crate::Runner::watermark_wait)).
    fn shard_ended(
        &mut self,
        input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let _ = input;
        // With a watermark the engine makes it, once every record is marked done.
        if !checkpointer.watermark_in_use() {
            RetryPolicy::default().retry(|| checkpointer.checkpoint())?;
        }
        Ok(())
    }

    /// Called when the worker shuts down gracefully (or, in KCL 3, hands the lease to another
    /// worker). The lease is still held, so this is the place to flush and checkpoint.
    ///
    /// The default does nothing: records not yet checkpointed are delivered again to the next
    /// owner (at-least-once). `lease_lost` follows.
    fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let _ = (input, checkpointer);
        Ok(())
    }
}

/// Forwarding impl, so a test can run `&mut processor` and inspect it afterwards.
impl<P: Processor + ?Sized> Processor for &mut P {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        (**self).initialize(input)
    }
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).process_records(input, checkpointer)
    }
    fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        (**self).lease_lost(input)
    }
    fn shard_ended(
        &mut self,
        input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).shard_ended(input, checkpointer)
    }
    fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).shutdown_requested(input, checkpointer)
    }
}

/// Forwarding impl for boxed processors (e.g. chosen at run time).
impl<P: Processor + ?Sized> Processor for Box<P> {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        (**self).initialize(input)
    }
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).process_records(input, checkpointer)
    }
    fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        (**self).lease_lost(input)
    }
    fn shard_ended(
        &mut self,
        input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).shard_ended(input, checkpointer)
    }
    fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        (**self).shutdown_requested(input, checkpointer)
    }
}

/// Input of [`Processor::initialize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitializeInput {
    shard_id: String,
    checkpoint: Option<ExtendedSequenceNumber>,
}

impl InitializeInput {
    /// Builds an input (for calling a processor directly in a test).
    pub fn new(shard_id: impl Into<String>, checkpoint: Option<ExtendedSequenceNumber>) -> Self {
        InitializeInput {
            shard_id: shard_id.into(),
            checkpoint,
        }
    }

    /// The shard this child handles, e.g. `shardId-000000000001`.
    pub fn shard_id(&self) -> &str {
        &self.shard_id
    }

    /// The lease's current checkpoint: a sentinel such as `TRIM_HORIZON` for a shard never
    /// checkpointed, a sequence number, or `None` when the daemon sent none.
    pub fn checkpoint(&self) -> Option<&ExtendedSequenceNumber> {
        self.checkpoint.as_ref()
    }
}

/// Input of [`Processor::process_records`]: one batch.
///
/// The library reuses this value and its records' buffers from batch to batch (no allocation per
/// record once warmed up); clone what must outlive the callback.
#[derive(Debug, Clone, Default)]
pub struct ProcessRecordsInput {
    shard_id: String,
    /// Slots; only the first `len` belong to the current batch, the rest keep their buffers.
    slots: Vec<Record>,
    len: usize,
    millis_behind_latest: Option<u64>,
    /// Delivery index of the first record of this batch, and of the first record of the next one.
    first_delivery: u64,
    next_delivery: u64,
}

impl ProcessRecordsInput {
    /// Builds an input (for calling a processor directly in a test).
    pub fn new(
        shard_id: impl Into<String>,
        records: Vec<Record>,
        millis_behind_latest: Option<u64>,
    ) -> Self {
        let len = records.len();
        ProcessRecordsInput {
            shard_id: shard_id.into(),
            slots: records,
            len,
            millis_behind_latest,
            // Records built by hand are not tracked by any watermark.
            first_delivery: NOT_DELIVERED,
            next_delivery: NOT_DELIVERED,
        }
    }

    /// The records of this batch, in shard order. May be empty if the daemon is configured with
    /// `callProcessRecordsEvenForEmptyRecordList`.
    pub fn records(&self) -> &[Record] {
        &self.slots[..self.len]
    }

    /// How far behind the tip of the shard this batch is, if the daemon knows.
    pub fn millis_behind_latest(&self) -> Option<u64> {
        self.millis_behind_latest
    }

    /// The shard this child handles.
    pub fn shard_id(&self) -> &str {
        &self.shard_id
    }

    // Filling, by the wire parser: `begin_batch`, then `next_slot` once per record, then `finish`.
    // A parse that fails half-way simply starts again with `begin_batch`.

    /// Names the shard (once, at `initialize`).
    pub(crate) fn set_shard_id(&mut self, shard_id: &str) {
        self.shard_id.clear();
        self.shard_id.push_str(shard_id);
    }

    /// Starts a new batch: no records, no `millisBehindLatest`. The slots keep their buffers.
    pub(crate) fn begin_batch(&mut self) {
        self.len = 0;
        self.millis_behind_latest = None;
    }

    /// The next record of the batch, emptied for filling: a reused slot when there is one.
    #[inline]
    pub(crate) fn next_slot(&mut self) -> &mut Record {
        if self.len == self.slots.len() {
            self.add_slot();
        }
        let slot = &mut self.slots[self.len];
        slot.reset();
        // Numbered from where the previous batch ended; a parse that starts again renumbers the
        // same way, and only `finish` moves on.
        slot.set_delivery(self.next_delivery.saturating_add(self.len as u64));
        self.len += 1;
        slot
    }

    /// Only while the engine warms up (or a batch is bigger than every one before).
    #[cold]
    fn add_slot(&mut self) {
        self.slots.push(Record::default());
    }

    /// Completes the batch that `next_slot` filled.
    pub(crate) fn finish(&mut self, millis_behind_latest: Option<u64>) {
        self.millis_behind_latest = millis_behind_latest;
        self.first_delivery = self.next_delivery;
        self.next_delivery = self.next_delivery.saturating_add(self.len as u64);
    }

    /// Gives back the slots (and their buffers) a much bigger batch left behind: after a catch-up
    /// batch of 10,000 records the next ordinary batch releases them. Keeps twice this batch's
    /// records plus [`SPARE_SLOTS`], so steady or slowly changing batch sizes never reallocate.
    /// Returns whether memory was released.
    #[inline]
    pub(crate) fn release_excess_slots(&mut self) -> bool {
        let keep = 2 * self.len + SPARE_SLOTS;
        if self.slots.len() <= keep {
            return false;
        }
        self.slots.truncate(keep);
        self.slots.shrink_to_fit();
        true
    }

    /// Gives back data buffers sized for much bigger records than the slots hold now (above
    /// 64 KiB and 4x the record, or any above 64 KiB in a spare slot). It walks every slot, so
    /// the engine calls it only when the batch's line was much shorter than an earlier one (the
    /// only way records can have become much smaller); steady batches never pay for the walk.
    /// Returns whether memory was released.
    pub(crate) fn release_oversized_buffers(&mut self) -> bool {
        let mut released = false;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            released |= slot.release_oversized_data(index >= self.len);
        }
        released
    }

    /// The delivery indices of this batch's records: `first..end`.
    pub(crate) fn deliveries(&self) -> (u64, u64) {
        (
            self.first_delivery,
            self.first_delivery.saturating_add(self.len as u64),
        )
    }

    /// The delivery index the next batch's first record will get.
    pub(crate) fn next_delivery(&self) -> u64 {
        self.next_delivery
    }
}

/// Slots kept beyond twice the current batch by [`ProcessRecordsInput::release_excess`].
const SPARE_SLOTS: usize = 64;

macro_rules! shard_only_input {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            shard_id: String,
        }

        impl $name {
            /// Builds an input (for calling a processor directly in a test).
            pub fn new(shard_id: impl Into<String>) -> Self {
                $name { shard_id: shard_id.into() }
            }

            /// The shard this child handles.
            pub fn shard_id(&self) -> &str {
                &self.shard_id
            }
        }
    };
}

shard_only_input!(
    /// Input of [`Processor::lease_lost`].
    LeaseLostInput
);
shard_only_input!(
    /// Input of [`Processor::shard_ended`].
    ShardEndedInput
);
shard_only_input!(
    /// Input of [`Processor::shutdown_requested`].
    ShutdownRequestedInput
);

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(batch: &mut ProcessRecordsInput, records: usize, data: &[u8]) {
        batch.begin_batch();
        for index in 0..records {
            let slot = batch.next_slot();
            slot.set_data_from_base64(data).unwrap();
            slot.set_sequence_number(&index.to_string()).unwrap();
        }
        batch.finish(None);
    }

    #[test]
    fn slots_a_big_batch_left_behind_are_released_at_the_next_small_one() {
        let mut batch = ProcessRecordsInput::default();
        fill(&mut batch, 10_000, b"eHh4eA==");
        assert!(!batch.release_excess_slots(), "the batch uses every slot");
        fill(&mut batch, 10, b"eXl5eQ==");
        assert!(batch.release_excess_slots());
        assert_eq!(batch.slots.len(), 2 * 10 + SPARE_SLOTS);
        assert!(batch.slots.capacity() < 1000);
        assert_eq!(batch.records().len(), 10);
        assert!(batch.records().iter().all(|r| r.data() == b"yyyy"));
        assert_eq!(batch.records()[9].sequence_number().as_str(), "9");
        assert!(!batch.release_excess_slots(), "once is enough");
        // Slots that held big records give their buffers back once they hold small ones, and
        // spare slots once nothing needs them.
        let big = base64_simd::STANDARD.encode_to_string(vec![7u8; 512 * 1024]);
        fill(&mut batch, 2, big.as_bytes());
        assert!(
            !batch.release_oversized_buffers(),
            "the big records need their buffers"
        );
        fill(&mut batch, 1, b"eA==");
        assert!(batch.release_oversized_buffers(), "now they do not");
        assert!(!batch.release_oversized_buffers(), "once is enough");
        assert_eq!(batch.records()[0].data(), b"x");
        // Delivery indices go on counting across batches.
        assert_eq!(batch.deliveries(), (10_012, 10_013));
    }

    #[test]
    fn steady_or_slowly_changing_batches_keep_their_slots() {
        let mut batch = ProcessRecordsInput::default();
        for records in [1000, 990, 1000, 600, 1000] {
            fill(&mut batch, records, b"eA==");
            assert!(!batch.release_excess_slots(), "{records}");
        }
    }
}
