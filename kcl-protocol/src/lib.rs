//! Write Amazon Kinesis Client Library (KCL) record processors in Rust.
//!
//! The KCL's Java *MultiLangDaemon* leases the shards of a Kinesis stream and starts one child
//! process per shard lease, named by `executableName` in its properties file. It drives the child
//! with line-delimited JSON over the child's stdin and stdout. This crate is that child's side:
//! you implement [`Processor`], call [`run`] from `main`, and the library does the protocol.
//!
//! ```no_run
//! use kcl_protocol::{BoxError, Checkpointer, InitializeInput, ProcessRecordsInput, Processor};
//!
//! #[derive(Default)]
//! struct CountingProcessor {
//!     shard_id: String,
//!     bytes: u64,
//! }
//!
//! impl Processor for CountingProcessor {
//!     fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
//!         self.shard_id = input.shard_id().to_owned();
//!         tracing::info!(checkpoint = ?input.checkpoint(), "starting");
//!         Ok(())
//!     }
//!
//!     fn process_records(
//!         &mut self,
//!         input: &ProcessRecordsInput,
//!         checkpointer: &mut Checkpointer<'_>,
//!     ) -> Result<(), BoxError> {
//!         for record in input.records() {
//!             // `data()` is already decoded from base64.
//!             self.bytes += record.data().len() as u64;
//!             tracing::debug!(key = record.partition_key(), seq = %record.sequence_number());
//!         }
//!         // Checkpoint once the batch is safely handled; retry throttling with backoff. A
//!         // checkpoint refused because the lease moved to another worker is not a failure, so
//!         // `?` is fine (see the failure policy below).
//!         if let Some(last) = input.records().last() {
//!             kcl_protocol::RetryPolicy::default().retry(|| checkpointer.checkpoint_at_record(last))?;
//!         }
//!         Ok(())
//!     }
//!
//!     // `shard_ended` defaults to the required SHARD_END checkpoint, `shutdown_requested` to
//!     // nothing (unprocessed records are delivered again), `lease_lost` to nothing.
//! }
//!
//! fn main() -> Result<(), kcl_protocol::Error> {
//!     // Logs go to stderr (never stdout), with the shard id on every line.
//!     kcl_protocol::logging::init().expect("logging is set up once");
//!     kcl_protocol::run(CountingProcessor::default())
//! }
//! ```
//!
//! Build it with `cargo build --release` and name the binary in the daemon's properties file,
//! e.g. `executableName = target/release/counting-processor` (the daemon splits this value on
//! spaces and runs it without a shell, relative to its working directory).
//!
//! # What the library takes care of
//!
//! - **The wire format**, byte-exact: one status per action, checkpoint requests with exactly the
//!   fields the daemon accepts, lenient parsing of everything the daemon may send (see
//!   `src/wire/mod.rs` for every accepted and skipped line form).
//! - **Stray output**: on Unix, [`run`] keeps a private copy of stdout for the protocol and points
//!   file descriptor 1 at stderr, so a `println!` anywhere in the process cannot corrupt the
//!   protocol ([`Runner::stdout`]).
//! - **Graceful shutdown**: SIGINT and SIGTERM are ignored by default, so a Ctrl-C in the terminal
//!   or a supervisor's signal to the process group does not kill the child before the daemon has
//!   run `shutdownRequested` → checkpoint → `leaseLost`; stdin EOF ends the child
//!   ([`SignalHandling`]).
//! - **Shard end**: the daemon needs a `SHARD_END` checkpoint in `shardEnded` or the shard's
//!   children never start. The default [`Processor::shard_ended`] makes it, and if an override
//!   forgets, the library makes it with a warning.
//! - **KCL 1.x daemons**: `shutdown` with reason `TERMINATE` calls [`Processor::shard_ended`],
//!   with `ZOMBIE` [`Processor::lease_lost`]; both are acknowledged as `shutdown`.
//! - **Cost per shard**: one child runs per shard, so the engine is built to be cheap: one
//!   reusable line buffer read without intermediate copies, borrowed JSON parsing, record buffers
//!   reused from batch to batch with base64 decoded (SIMD) straight into them, no allocation per
//!   record once warmed up, and no logging per record. What a catch-up batch made it allocate
//!   (up to 10,000 records, a 15 MB line) is given back at the next ordinary batch, pages included
//!   (`malloc_trim` on glibc). `kcl-bench` measures it against a hand-written serde_json + base64
//!   child and the official SDKs.
//! - **Malformed input**: a line that is not a daemon message is logged on stderr and skipped; a
//!   message with an action this library does not know is logged and acknowledged with a status
//!   for that action (forward compatibility; the daemon never waits forever); a known action whose
//!   fields do not fit (e.g. invalid base64) stops the child with [`Error::Protocol`] *without*
//!   acknowledging, so no record is lost. Nothing panics.
//!
//! # Failure policy
//!
//! Data safety first. What happens when a callback returns `Err` or panics:
//!
//! | callback | `Err` (after [`Runner::retry_failed_callbacks`]) | panic |
//! | --- | --- | --- |
//! | `initialize`, `process_records`, `shard_ended` | [`FailurePolicy`] set by [`Runner::on_error`] | [`FailurePolicy`] set by [`Runner::on_panic`] (never retried) |
//! | `shutdown_requested` | logged, acknowledged | logged, acknowledged |
//! | `lease_lost` | logged, acknowledged | logged, acknowledged |
//! | any callback, once the daemon refused a checkpoint with `ShutdownException` (the lease is gone) | the refusal itself (returned with `?` or not): logged once at WARN, acknowledged; any other error: logged, acknowledged | logged, acknowledged |
//!
//! - [`FailurePolicy::Exit`] (the default for both): the failure is logged with the shard id, the
//!   action is **not** acknowledged, and [`run`] returns the error, so `main` exits non-zero. The
//!   daemon sees the child end without a status and calls `System.exit(1)`: **the whole worker
//!   JVM stops, every shard with it**. Run the daemon under a supervisor (systemd, ECS, Kubernetes)
//!   that restarts it; every shard then resumes from its last checkpoint, and the failed batch is
//!   delivered again. Nothing is lost.
//! - [`FailurePolicy::SkipBatch`]: the failure is logged and the action acknowledged as if it had
//!   succeeded. The worker keeps running, but the failed batch is skipped: once a later checkpoint
//!   moves past it, those records are never delivered again. This is what the official Python and
//!   Ruby libraries always do; here it is an explicit choice.
//! - `shutdown_requested` and `lease_lost` failures are always acknowledged: not checkpointing
//!   loses nothing (the next owner starts from the last checkpoint), while exiting would stop the
//!   whole worker in the middle of a graceful shutdown.
//! - **A lease lost in the middle of a batch is not a failure.** Under KCL 3 leases move between
//!   workers in normal load balancing; a checkpoint after the move is refused with
//!   [`CheckpointError::Shutdown`]. Whatever the callback then returns, the library logs the
//!   refusal once at WARN with the shard id, acknowledges the action and keeps the child running
//!   until the daemon sends `leaseLost` (or `shutdown`) or closes stdin. Later checkpoints of the
//!   child fail at once with the same error, without asking the daemon
//!   ([`Checkpointer::lease_gone`]), and a failing callback is no longer called again. Nothing can
//!   be lost: the next owner starts from the last successful checkpoint. Exiting instead would make
//!   the daemon call `System.exit(1)` and stop every shard of the worker because one lease moved.
//! - [`CheckpointError::InvalidState`] is a failure like any other: the daemon sends it when the
//!   lease table is missing, which stops every shard's progress (where the daemon also sends it,
//!   without a checkpointer in `initialize` and `leaseLost`, the typed API cannot checkpoint).
//! - Panics are caught (`catch_unwind`) and logged with the shard id and the panic message; they
//!   are never skipped silently.
//!
//! # Deferred checkpoints
//!
//! A processor that hands records to background work (an uploader, a batcher, worker tasks)
//! finishes them after `process_records` returned, when the daemon no longer accepts a checkpoint.
//! It takes the child's [`Watermark`] from the checkpointer ([`Checkpointer::watermark`]), gives
//! every record's [`Ticket`] to the work, and marks the ticket done from whatever thread or task
//! finishes it. The engine checkpoints the highest record below which every delivered record is
//! done, after every batch and, after a bounded wait ([`Runner::watermark_wait`]), at shutdown
//! and shard end (`SHARD_END` only once everything is done). See the [`watermark`] module.
//!
//! | engine checkpoint for the watermark | outcome |
//! | --- | --- |
//! | throttled or a dependency failed | retried ([`Runner::watermark_retry`]); if it still fails, a failure of the callback it was made in (policy applies; `shutdown_requested` acknowledged) |
//! | refused with `ShutdownException` | as in any callback: logged once, acknowledged |
//! | records still outstanding at shard end after the wait | a failure of `shard_ended`: with `Exit` not acknowledged (what is done is checkpointed first); with `SkipBatch` `SHARD_END` is made anyway |
//!
//! # The daemon's timeout
//!
//! With `timeoutInSeconds` set in the properties file, the daemon halts the whole JVM
//! (`Runtime.halt(1)`, every shard with it) when a child keeps it waiting that long for a message,
//! and the child never gets a word in. The launcher (`kcl-bootstrap`) passes the value to the
//! children in the environment variable `KCL_TIMEOUT_IN_SECONDS` ([`TIMEOUT_VARIABLE`], whole
//! seconds); [`run`] then logs one WARN, with the shard id and the action, when a callback has kept
//! the daemon waiting for more than 80% of it (a checkpoint restarts the daemon's timer, as it does
//! in the daemon). A value that is not a positive integer is ignored with one WARN; without the
//! variable nothing runs. [`Runner::daemon_timeout`] sets it explicitly.
//!
//! # Reports to a supervisor
//!
//! Under `kcl-bootstrap --supervise --metrics-addr`, the environment variable
//! `KCL_SUPERVISOR_SOCKET` ([`REPORT_SOCKET_VARIABLE`]) names a Unix datagram socket, and [`run`]
//! sends one small JSON report after each callback (shard, action, records, bytes,
//! `millisBehindLatest`, duration, checkpoint outcomes, retries, failure; the format is in the
//! crate's `REPORTS.md`), from which the supervisor serves per-shard Prometheus metrics and health
//! probes for the whole worker. Sending never blocks and never fails a callback (a report that does
//! not fit is dropped); without the variable nothing is sent. [`Runner::report_socket`] sets it in
//! code.
//!
//! # Testing a processor
//!
//! With the `testing` feature, `testing::FakeDaemon` drives a processor in-process (or a processor
//! binary over pipes) through scripted actions and checkpoint replies, including errors such as
//! `ThrottlingException`, and returns what the processor sent. No Java, no AWS.
//!
//! # Features
//!
//! - `logging` (default): [`logging::init`] and [`logging::init_to_file`].
//! - `tokio`: `asynchronous::AsyncProcessor` for processors that call async clients (the AWS SDK
//!   for Rust), run by the same engine on a tokio runtime.
//! - `testing`: the `testing::FakeDaemon`.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checkpoint;
mod connection;
mod engine;
mod failure;
pub mod logging;
mod memory;
mod processor;
mod record;
mod report;
mod retry;
mod runtime;
mod stdio;
mod step;
mod watchdog;
pub mod watermark;
mod wire;

#[cfg(feature = "tokio")]
pub mod asynchronous;
#[cfg(feature = "ddb-streams")]
pub mod ddb;
// The unit tests use the daemon's side of the format (`testing::daemon_side`) with or without the
// feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use checkpoint::{CheckpointError, Checkpointer, RetryPolicy};
pub use processor::{
    BoxError, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor, ShardEndedInput,
    ShutdownRequestedInput,
};
pub use record::{ExtendedSequenceNumber, InvalidSequenceNumber, Record, SequenceNumber};
pub use report::REPORT_SOCKET_VARIABLE;
pub use runtime::{Error, FailurePolicy, Runner};
pub use stdio::{SignalHandling, StdoutGuard};
pub use watchdog::TIMEOUT_VARIABLE;
pub use watermark::{Ticket, Watermark};
pub use wire::LeadingNewline;

/// Runs `processor` over stdin and stdout with the default [`Runner`], until the daemon closes
/// stdin; then returns `Ok(())`.
///
/// Before the first message it points stdout at stderr (keeping a private handle for the
/// protocol) and ignores SIGINT and SIGTERM; see [`Runner`] to change either.
pub fn run<P: Processor>(processor: P) -> Result<(), Error> {
    Runner::new().run(processor)
}

/// Runs `processor` over any reader and writer with the default [`Runner`], until `reader` ends.
/// No stdio or signal set-up: for tests and custom transports.
pub fn run_with_io<P: Processor, R: std::io::BufRead, W: std::io::Write>(
    processor: P,
    reader: R,
    writer: W,
) -> Result<(), Error> {
    Runner::new().run_with_io(processor, reader, writer)
}
