//! Deferred checkpoints for pipelines: a [`Watermark`] shared by every thread or task that
//! finishes records, and one [`Ticket`] per record that must be marked done.
//!
//! The daemon accepts a checkpoint only while a callback runs, but a pipeline (an uploader, a
//! batcher, worker tasks behind a channel) finishes a record long after `process_records`
//! returned. So the processor marks records done wherever it finishes them, and the engine
//! checkpoints for it at the next opportunity the protocol gives: at the end of every
//! `process_records`, and in `shutdown_requested` and `shard_ended` after waiting (bounded, see
//! [`Runner::watermark_wait`](crate::Runner::watermark_wait)) for what is still outstanding.
//!
//! ```
//! use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor, Ticket};
//! use std::sync::mpsc;
//!
//! struct Pipeline {
//!     work: mpsc::Sender<(Vec<u8>, Ticket)>,
//! }
//!
//! impl Processor for Pipeline {
//!     fn process_records(
//!         &mut self,
//!         input: &ProcessRecordsInput,
//!         checkpointer: &mut Checkpointer<'_>,
//!     ) -> Result<(), BoxError> {
//!         let watermark = checkpointer.watermark();
//!         for record in input.records() {
//!             // A worker thread calls `ticket.done()` once the record is safely handled.
//!             self.work.send((record.data().to_vec(), watermark.track(record)))?;
//!         }
//!         Ok(()) // No checkpoint here: the engine checkpoints the watermark.
//!     }
//! }
//! # let (work, done) = mpsc::channel::<(Vec<u8>, Ticket)>();
//! # std::thread::spawn(move || for (_, ticket) in done { ticket.done() });
//! # let _ = Pipeline { work };
//! ```
//!
//! # What is checkpointed
//!
//! Once a processor has asked for the watermark, every record delivered from the batch it asked
//! in onwards is *outstanding* until it is marked done: one by one ([`Ticket::done`]), or with
//! everything delivered before it ([`Ticket::done_up_to`]). The engine checkpoints the record
//! below which every delivered record is done — never past an outstanding record, whatever the
//! order records are marked in — and at most once per callback (throttling is retried with
//! [`Runner::watermark_retry`](crate::Runner::watermark_retry)). A ticket dropped without being
//! marked holds the watermark back, which is the safe side: its record and everything after it
//! are delivered again to the lease's next owner.
//!
//! While records are outstanding the library refuses a checkpoint of the processor's own that
//! would pass them ([`CheckpointError::Outstanding`](crate::CheckpointError::Outstanding)); the
//! default `shard_ended` leaves the `SHARD_END` checkpoint to the engine, which makes it once every
//! record is done.
//!
//! Cost: a ticket is an `Arc` and a copy of the record's sequence number; marking takes a mutex
//! that only the engine shares, briefly, once per callback. Memory is proportional to the records
//! marked done out of order (ahead of an outstanding one).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;
#[cfg(any(test, feature = "tokio"))]
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use crate::record::{Record, SequenceNumber};

/// The delivery index of a record not delivered by an engine (built with `Record::new`).
pub(crate) const NOT_DELIVERED: u64 = u64::MAX;

/// A position to checkpoint at: a record's sequence number and sub-sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) sequence_number: SequenceNumber,
    pub(crate) sub_sequence_number: u64,
}

/// The shared record of which delivered records are done: cheap to clone, `Send + Sync`.
///
/// Obtained with [`Checkpointer::watermark`](crate::Checkpointer::watermark); every clone is the
/// same watermark. See the [module docs](crate::watermark).
#[derive(Clone)]
pub struct Watermark {
    shared: Arc<Shared>,
}

/// One delivered record's place in the [`Watermark`]; mark it done when the record is handled.
///
/// `Clone + Send + Sync`, so it can travel with the record's data to any thread or task. Marking
/// twice, or marking a record already covered by [`done_up_to`](Self::done_up_to), does nothing.
#[derive(Clone)]
pub struct Ticket {
    shared: Arc<Shared>,
    index: u64,
    position: Position,
}

struct Shared {
    state: Mutex<State>,
    /// Notified when nothing is outstanding any more.
    settled: Condvar,
}

struct State {
    /// Tracked records have delivery indices `start..delivered`.
    start: u64,
    delivered: u64,
    /// Every tracked record below `low` is done.
    low: u64,
    /// The position of record `low - 1`, once `low > start`.
    low_position: Option<Position>,
    /// `low` when the engine last checkpointed successfully.
    checkpointed: u64,
    /// Records done out of order, above an outstanding one.
    ahead: BTreeMap<u64, Position>,
    /// Futures waiting until nothing is outstanding.
    wakers: Vec<Waker>,
}

impl State {
    fn outstanding(&self) -> u64 {
        self.delivered - self.low - self.ahead.len() as u64
    }

    /// Moves `low` over the records done out of order that are now contiguous with it.
    fn absorb(&mut self) {
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.low {
                break;
            }
            self.low_position = Some(entry.remove());
            self.low += 1;
        }
    }

    fn mark(&mut self, index: u64, position: &Position, up_to: bool) {
        // Below `low`: done already (or delivered before the watermark existed). At or above
        // `delivered`: not a record of this child.
        if index < self.low || index >= self.delivered {
            return;
        }
        if up_to {
            self.low = index + 1;
            self.low_position = Some(position.clone());
            self.ahead = self.ahead.split_off(&self.low);
        } else if index == self.low {
            self.low += 1;
            self.low_position = Some(position.clone());
        } else {
            self.ahead.insert(index, position.clone());
            return;
        }
        self.absorb();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that passes
        // an outstanding record (every update moves `low` last), so a poisoned lock is still used.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Wakes every waiter if nothing is outstanding.
    fn notify_if_settled(&self, state: &mut State) {
        if state.outstanding() == 0 {
            self.settled.notify_all();
            for waker in state.wakers.drain(..) {
                waker.wake();
            }
        }
    }
}

impl Watermark {
    /// A watermark tracking the records with delivery indices `first..end` (the batch being
    /// handled; empty outside `process_records`) and every record delivered after them.
    pub(crate) fn new(first: u64, end: u64) -> Self {
        Watermark {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    start: first,
                    delivered: end,
                    low: first,
                    low_position: None,
                    checkpointed: first,
                    ahead: BTreeMap::new(),
                    wakers: Vec::new(),
                }),
                settled: Condvar::new(),
            }),
        }
    }

    /// A ticket for `record`, one of the records delivered to this child.
    ///
    /// A record the engine did not deliver (built with `Record::new`) gets a ticket that marks
    /// nothing; so does a record delivered before the watermark was first asked for (it is not
    /// tracked). Clones of delivered records keep their place.
    pub fn track(&self, record: &Record) -> Ticket {
        Ticket {
            shared: Arc::clone(&self.shared),
            index: record.delivery(),
            position: Position {
                sequence_number: record.sequence_number().clone(),
                sub_sequence_number: record.sub_sequence_number(),
            },
        }
    }

    /// How many delivered records are not done yet.
    pub fn outstanding(&self) -> u64 {
        self.shared.lock().outstanding()
    }

    /// Adds a batch with delivery indices `first..end` (called before `process_records`).
    pub(crate) fn deliver(&self, first: u64, end: u64) {
        let mut state = self.shared.lock();
        // Batches are contiguous; a gap (which the engine never leaves) would stay outstanding.
        if first >= state.start && end > state.delivered {
            state.delivered = end;
        }
    }

    /// Where to checkpoint now, if the watermark moved since the last successful checkpoint: the
    /// value to pass to [`checkpointed`](Self::checkpointed) afterwards, and the position.
    pub(crate) fn target(&self) -> Option<(u64, Position)> {
        let state = self.shared.lock();
        match &state.low_position {
            Some(position) if state.low > state.checkpointed => Some((state.low, position.clone())),
            _ => None,
        }
    }

    /// Records that the checkpoint returned by [`target`](Self::target) succeeded.
    pub(crate) fn checkpointed(&self, low: u64) {
        let mut state = self.shared.lock();
        state.checkpointed = state.checkpointed.max(low);
    }

    /// Whether a checkpoint of the processor's own at `requested` (`None`: the latest record)
    /// passes no outstanding record; `Err` holds how many are outstanding.
    pub(crate) fn permits(&self, requested: Option<&Position>) -> Result<(), u64> {
        let state = self.shared.lock();
        let outstanding = state.outstanding();
        if outstanding == 0 {
            return Ok(());
        }
        match (requested, &state.low_position) {
            (Some(requested), Some(low)) if !later(requested, low) => Ok(()),
            _ => Err(outstanding),
        }
    }

    /// Blocks until nothing is outstanding or `deadline` passes; returns whether nothing is.
    pub(crate) fn wait_until_settled(&self, deadline: Instant) -> bool {
        let mut state = self.shared.lock();
        loop {
            if state.outstanding() == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .settled
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
    }

    /// Resolves once nothing is outstanding (`true`) or `deadline` passes (`false`), without
    /// blocking the executor: for async processors, whose tasks must keep running meanwhile.
    #[cfg(any(test, feature = "tokio"))]
    pub(crate) fn settled(&self, deadline: Instant) -> Settled {
        Settled {
            watermark: self.clone(),
            deadline,
            timer_started: false,
        }
    }
}

/// Whether `a` is a later position than `b` (sequence numbers compare numerically).
fn later(a: &Position, b: &Position) -> bool {
    (&a.sequence_number, a.sub_sequence_number) > (&b.sequence_number, b.sub_sequence_number)
}

impl Ticket {
    /// Marks this record done.
    pub fn done(&self) {
        self.mark(false);
    }

    /// Marks this record and every record delivered before it done.
    pub fn done_up_to(&self) {
        self.mark(true);
    }

    /// The record's sequence number.
    pub fn sequence_number(&self) -> &SequenceNumber {
        &self.position.sequence_number
    }

    /// The record's sub-sequence number.
    pub fn sub_sequence_number(&self) -> u64 {
        self.position.sub_sequence_number
    }

    fn mark(&self, up_to: bool) {
        if self.index == NOT_DELIVERED {
            return;
        }
        let mut state = self.shared.lock();
        state.mark(self.index, &self.position, up_to);
        self.shared.notify_if_settled(&mut state);
    }
}

/// The future of [`Watermark::settled`].
#[cfg(any(test, feature = "tokio"))]
pub(crate) struct Settled {
    watermark: Watermark,
    deadline: Instant,
    timer_started: bool,
}

#[cfg(any(test, feature = "tokio"))]
impl Future for Settled {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let shared = Arc::clone(&self.watermark.shared);
        let mut state = shared.lock();
        if state.outstanding() == 0 {
            return Poll::Ready(true);
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Poll::Ready(false);
        }
        if !state.wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        drop(state);
        if !self.timer_started {
            // No timer of an executor: the runtime may have none enabled. A thread that sleeps
            // until the deadline wakes the future once; waits are rare (shutdown, shard end).
            self.timer_started = true;
            let wait = self.deadline - now;
            let shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name("kcl-watermark-wait".into())
                .spawn(move || {
                    std::thread::sleep(wait);
                    let mut state = shared.lock();
                    for waker in state.wakers.drain(..) {
                        waker.wake();
                    }
                });
            if spawned.is_err() {
                // Without a thread the deadline cannot wake the future: stop waiting now.
                return Poll::Ready(false);
            }
        }
        Poll::Pending
    }
}

impl fmt::Debug for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Watermark")
            .field("outstanding", &state.outstanding())
            .field("done_ahead", &state.ahead.len())
            .field("position", &state.low_position)
            .finish()
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("sequence_number", &self.position.sequence_number)
            .field("sub_sequence_number", &self.position.sub_sequence_number)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
