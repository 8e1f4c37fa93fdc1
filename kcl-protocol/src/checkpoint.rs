//! Checkpointing: the [`Checkpointer`] handed to callbacks, its typed [`CheckpointError`], and a
//! [`RetryPolicy`] with exponential backoff.
//!
//! A checkpoint is synchronous: the child writes a checkpoint request, the daemon writes it to the
//! lease table (a DynamoDB conditional update) and answers with a reply naming the Java exception,
//! if any. The checkpointer returns when the reply has arrived.

use std::io;
use std::time::{Duration, Instant};

pub use crate::retry::RetryPolicy;

use crate::record::{Record, SequenceNumber};
use crate::watermark::{Position, Watermark};

/// Why a checkpoint failed.
///
/// The first six variants are the daemon's answer, named after the Java exception it caught
/// (`ThrottlingException` and so on). [`Protocol`](Self::Protocol) and [`Io`](Self::Io) are
/// failures on the child's side of the pipe. What to do about each is in its variant's docs; the
/// messages only say what happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// `ThrottlingException`: the lease table's provisioned throughput was exceeded. Retry with
    /// backoff ([`RetryPolicy`]).
    #[error("checkpoint throttled by the lease table (ThrottlingException)")]
    Throttling,
    /// `ShutdownException`: this worker no longer holds the lease (another worker took it, for
    /// example in KCL 3's load balancing). Not a processor failure: return it with `?` or ignore
    /// it, the library acknowledges the action either way and keeps the child running until the
    /// daemon ends it; the next owner processes the records after the last successful checkpoint.
    /// Later checkpoints of this child fail with it at once.
    #[error("checkpoint refused: this worker no longer holds the lease (ShutdownException)")]
    Shutdown,
    /// `InvalidStateException`: the lease table is missing (deleted while the worker runs: the
    /// daemon's DynamoDB `ResourceNotFoundException`), or a checkpoint where the daemon has no
    /// checkpointer (during `initialize` and `leaseLost`, which the typed API rules out). Not
    /// retryable; returned with `?`, the [failure policy](crate#failure-policy) applies, because
    /// no shard of the worker can make progress without the table.
    #[error("checkpoint failed: the lease table is in an unexpected state (InvalidStateException)")]
    InvalidState,
    /// `KinesisClientLibDependencyException`: DynamoDB or another dependency failed; usually
    /// transient, so retrying is reasonable.
    #[error(
        "checkpoint failed: a dependency such as DynamoDB failed (KinesisClientLibDependencyException)"
    )]
    Dependency,
    /// `IllegalArgumentException`: the position is not a sequence number, is below the last
    /// checkpoint, or is above the largest sequence number delivered so far. A bug in the caller.
    #[error(
        "checkpoint rejected: the position is malformed, below the last checkpoint, or beyond the last delivered record (IllegalArgumentException)"
    )]
    IllegalArgument,
    /// Any other exception name the daemon reported.
    #[error("checkpoint failed in the daemon with {0}")]
    Other(String),
    /// The daemon answered with something other than a checkpoint reply. The message is not lost:
    /// the library handles it after the current callback returns.
    #[error("protocol error while waiting for a checkpoint reply: {0}")]
    Protocol(String),
    /// Writing the request or reading the reply failed (for example the daemon closed the pipe).
    #[error("I/O error while checkpointing")]
    Io(#[from] io::Error),
    /// Refused by the library, not sent: a [`Watermark`] is in use and this checkpoint would pass
    /// records that are not marked done yet (the count). Leave checkpointing to the engine, which
    /// checkpoints the watermark after every batch and at shutdown and shard end.
    #[error("checkpoint refused by the library: it would pass {0} records not marked done")]
    Outstanding(u64),
}

impl CheckpointError {
    /// Maps the daemon's `error` string (a Java exception's simple class name) to a variant.
    pub fn from_daemon_name(name: &str) -> Self {
        match name {
            "ThrottlingException" => Self::Throttling,
            "ShutdownException" => Self::Shutdown,
            "InvalidStateException" => Self::InvalidState,
            "KinesisClientLibDependencyException" => Self::Dependency,
            "IllegalArgumentException" => Self::IllegalArgument,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The daemon's exception name for the first six variants; `None` for local failures.
    pub fn daemon_name(&self) -> Option<&str> {
        Some(match self {
            Self::Throttling => "ThrottlingException",
            Self::Shutdown => "ShutdownException",
            Self::InvalidState => "InvalidStateException",
            Self::Dependency => "KinesisClientLibDependencyException",
            Self::IllegalArgument => "IllegalArgumentException",
            Self::Other(name) => name,
            Self::Protocol(_) | Self::Io(_) | Self::Outstanding(_) => return None,
        })
    }

    /// Whether trying the same checkpoint again later can succeed: throttling and dependency
    /// failures. Everything else fails again the same way.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttling | Self::Dependency)
    }
}

/// How the checkpointer reaches the daemon: implemented by the engine's connection.
pub(crate) trait CheckpointTransport {
    /// Sends one checkpoint request and waits for the daemon's reply.
    fn request_checkpoint(
        &mut self,
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
    ) -> Result<(), CheckpointError>;
}

/// What happened to checkpoints during one callback; the engine reads it afterwards.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CheckpointLog {
    /// A "latest" checkpoint succeeded during `shardEnded` (that is the SHARD_END checkpoint).
    pub(crate) shard_end_succeeded: bool,
    /// Until when outstanding records are waited for, once someone started waiting (the async
    /// adapter waits on the processor's runtime, then the engine waits until the same time).
    pub(crate) settle_deadline: Option<Instant>,
}

impl CheckpointLog {
    /// Adds what a later attempt of the same callback did.
    pub(crate) fn merge(&mut self, later: CheckpointLog) {
        self.shard_end_succeeded |= later.shard_end_succeeded;
        self.settle_deadline = self.settle_deadline.or(later.settle_deadline);
    }
}

/// What a checkpointer works on: the engine's pipes, the state that lasts across callbacks, and
/// the callback it is handed to.
pub(crate) struct Scope<'a> {
    pub(crate) transport: &'a mut dyn CheckpointTransport,
    pub(crate) lease: &'a mut LeaseState,
    /// The child's watermark, once the processor asked for it.
    pub(crate) watermark: &'a mut Option<Watermark>,
    pub(crate) callback: Callback,
    /// Delivery indices of the batch being handled, `first..end` (empty outside
    /// `process_records`: both are the next batch's first index).
    pub(crate) deliveries: (u64, u64),
    /// How long `shutdown_requested` and `shard_ended` wait for outstanding records (read here
    /// only by the async adapter; the engine has it from its configuration).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) settle_wait: Duration,
}

/// Whether a checkpoint request comes from the processor (and must not pass outstanding records)
/// or from the engine (which decided that already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Processor,
    Engine,
}

/// What the child knows about its lease, across callbacks.
///
/// The daemon answers `ShutdownException` when this worker no longer holds the lease
/// (`checkpoint/dynamodb/DynamoDBCheckpointer.java` in the KCL core module, `setCheckpoint`: the
/// lease is not among the held leases, or the conditional update failed because another worker
/// took it). For this child that is final: its checkpointer carries the lease's concurrency token
/// (`checkpoint/ShardRecordProcessorCheckpointer.java`, `advancePosition`), which the lease renewer
/// never accepts again once the lease was lost (`leases/dynamodb/DynamoDBLeaseRenewer.java`,
/// `updateLease`); a lease taken back gets a new shard consumer, and so a new child
/// (`coordinator/Scheduler.java`, `createOrGetShardConsumer`). So after the first refusal the
/// library stops asking.
#[derive(Debug, Default)]
pub(crate) struct LeaseState {
    gone: bool,
}

impl LeaseState {
    /// Whether the daemon refused a checkpoint with `ShutdownException`.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone
    }
}

/// The callbacks that get a checkpointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callback {
    ProcessRecords,
    ShutdownRequested,
    /// Here "latest" (`sequenceNumber: null`) means `SHARD_END`.
    ShardEnded,
}

/// Checkpoints the shard's progress in the lease table. Handed to the callbacks that may
/// checkpoint; see [`Processor`](crate::Processor).
///
/// Every method blocks until the daemon's reply arrives. A checkpoint records that every record up
/// to and including the given position is done; after a restart, processing resumes after it.
///
/// Once the daemon has refused a checkpoint with `ShutdownException` (the lease moved to another
/// worker), every later call fails at once with [`CheckpointError::Shutdown`] without asking the
/// daemon again; see the [failure policy](crate#failure-policy) for what the library does with it.
pub struct Checkpointer<'a> {
    scope: Scope<'a>,
    log: CheckpointLog,
}

impl<'a> Checkpointer<'a> {
    pub(crate) fn new(scope: Scope<'a>) -> Self {
        Checkpointer {
            scope,
            log: CheckpointLog::default(),
        }
    }

    pub(crate) fn log(&self) -> CheckpointLog {
        self.log
    }

    /// Checkpoints at the latest record delivered so far; in `shard_ended`, at `SHARD_END`.
    ///
    /// This is the form the daemon requires at shard end (`sequenceNumber: null`).
    pub fn checkpoint(&mut self) -> Result<(), CheckpointError> {
        self.send(None, Origin::Processor)
    }

    /// Checkpoints at a sequence number (sub-sequence 0).
    pub fn checkpoint_at(
        &mut self,
        sequence_number: &SequenceNumber,
    ) -> Result<(), CheckpointError> {
        self.send(Some((sequence_number, None)), Origin::Processor)
    }

    /// Checkpoints at a sequence number and sub-sequence number (a user record inside a KPL
    /// aggregate).
    pub fn checkpoint_at_sub_sequence(
        &mut self,
        sequence_number: &SequenceNumber,
        sub_sequence_number: u64,
    ) -> Result<(), CheckpointError> {
        self.send(
            Some((sequence_number, Some(sub_sequence_number))),
            Origin::Processor,
        )
    }

    /// Checkpoints at a record: its sequence and sub-sequence number.
    pub fn checkpoint_at_record(&mut self, record: &Record) -> Result<(), CheckpointError> {
        self.send(
            Some((record.sequence_number(), Some(record.sub_sequence_number()))),
            Origin::Processor,
        )
    }

    /// This child's [`Watermark`], for deferred checkpoints: mark records done from any thread or
    /// task, and the engine checkpoints for you (see the [`watermark`](crate::watermark) module).
    ///
    /// The first call starts tracking: every record of the current batch (in `process_records`)
    /// and of every later batch is then outstanding until marked done. Later calls return the same
    /// watermark.
    pub fn watermark(&mut self) -> Watermark {
        let (first, end) = self.scope.deliveries;
        self.scope
            .watermark
            .get_or_insert_with(|| Watermark::new(first, end))
            .clone()
    }

    /// Whether the processor asked for the [`watermark`](Self::watermark) (then the engine makes
    /// the checkpoints, `SHARD_END` included).
    pub(crate) fn watermark_in_use(&self) -> bool {
        self.scope.watermark.is_some()
    }

    /// In `shutdown_requested` and `shard_ended` with a watermark: the watermark and until when to
    /// wait for its outstanding records (fixed by the first call, so that whoever waits first sets
    /// the bound for everyone).
    #[cfg(feature = "tokio")]
    pub(crate) fn settle_deadline(&mut self) -> Option<(Watermark, Instant)> {
        if self.scope.callback == Callback::ProcessRecords {
            return None;
        }
        let watermark = self.scope.watermark.clone()?;
        let deadline = *self
            .log
            .settle_deadline
            .get_or_insert_with(|| Instant::now() + self.scope.settle_wait);
        Some((watermark, deadline))
    }

    /// Checkpoints the watermark if it moved since its last checkpoint, retrying as `retry` says.
    /// Nothing to do is `Ok`.
    pub(crate) fn checkpoint_watermark(
        &mut self,
        retry: &RetryPolicy,
    ) -> Result<(), CheckpointError> {
        let Some(watermark) = self.scope.watermark.clone() else {
            return Ok(());
        };
        let Some((low, position)) = watermark.target() else {
            return Ok(());
        };
        retry.retry(|| {
            self.send(
                Some((
                    &position.sequence_number,
                    Some(position.sub_sequence_number),
                )),
                Origin::Engine,
            )
        })?;
        watermark.checkpointed(low);
        tracing::debug!(
            sequence_number = %position.sequence_number,
            sub_sequence_number = position.sub_sequence_number,
            "checkpointed the watermark"
        );
        Ok(())
    }

    /// The `SHARD_END` checkpoint on the processor's behalf (the engine's safety net), retrying as
    /// `retry` says. Only after the engine decided what to do about outstanding records.
    pub(crate) fn checkpoint_shard_end(
        &mut self,
        retry: &RetryPolicy,
    ) -> Result<(), CheckpointError> {
        retry.retry(|| self.send(None, Origin::Engine))
    }

    fn send(
        &mut self,
        position: Option<(&SequenceNumber, Option<u64>)>,
        origin: Origin,
    ) -> Result<(), CheckpointError> {
        let sequence_number = position.map(|(sequence_number, _)| sequence_number.as_str());
        let sub_sequence_number = position.and_then(|(_, sub)| sub);
        if self.scope.lease.gone {
            tracing::debug!(
                requested = ?sequence_number,
                "not asking the daemon: it already refused a checkpoint because the lease is gone"
            );
            return Err(CheckpointError::Shutdown);
        }
        if let (Origin::Processor, Some(watermark)) = (origin, &self.scope.watermark) {
            let requested = position.map(|(sequence_number, sub)| Position {
                sequence_number: sequence_number.clone(),
                sub_sequence_number: sub.unwrap_or(0),
            });
            watermark
                .permits(requested.as_ref())
                .map_err(CheckpointError::Outstanding)?;
        }
        let result = self
            .scope
            .transport
            .request_checkpoint(sequence_number, sub_sequence_number);
        match &result {
            Ok(()) => {
                if self.scope.callback == Callback::ShardEnded && sequence_number.is_none() {
                    self.log.shard_end_succeeded = true;
                }
            }
            Err(CheckpointError::Shutdown) => {
                self.scope.lease.gone = true;
                // The one log line of a lost lease (later refusals are answered locally).
                tracing::warn!(
                    shard_id = crate::engine::current_shard_id().unwrap_or_default(),
                    "the daemon refused a checkpoint: another worker holds this shard's lease now \
                     (ShutdownException); not a processor failure: the library acknowledges every \
                     action until the daemon ends this child, and the next owner resumes from the \
                     last successful checkpoint"
                );
            }
            Err(_) => {}
        }
        result
    }

    /// Whether the daemon has refused a checkpoint of this child because the lease is gone; every
    /// checkpoint then fails at once with [`CheckpointError::Shutdown`].
    pub fn lease_gone(&self) -> bool {
        self.scope.lease.gone
    }
}

impl std::fmt::Debug for Checkpointer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("callback", &self.scope.callback)
            .field("watermark", &self.scope.watermark)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daemon_error_name_maps_and_round_trips() {
        for (name, retryable) in [
            ("ThrottlingException", true),
            ("ShutdownException", false),
            ("InvalidStateException", false),
            ("KinesisClientLibDependencyException", true),
            ("IllegalArgumentException", false),
            ("NullPointerException", false),
        ] {
            let error = CheckpointError::from_daemon_name(name);
            assert_eq!(error.daemon_name(), Some(name));
            assert_eq!(error.is_retryable(), retryable, "{name}");
        }
        assert!(matches!(
            CheckpointError::from_daemon_name("NullPointerException"),
            CheckpointError::Other(n) if n == "NullPointerException"
        ));
    }
}
