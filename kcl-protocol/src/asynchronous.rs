//! Async processors (feature `tokio`), for processors that call async clients such as the AWS SDK
//! for Rust.
//!
//! The protocol stays strictly one action at a time, so an async processor needs no second
//! engine: [`BlockOn`] adapts an [`AsyncProcessor`] to [`Processor`] by running each callback to
//! completion on a tokio runtime, and the ordinary engine drives it. Tasks the processor spawns
//! keep running on that runtime between callbacks (on a multi-thread runtime) or while a callback
//! awaits (on the default current-thread runtime).
//!
//! Checkpointing stays synchronous: a checkpoint is one short round trip on the protocol pipes and
//! blocks the callback's task while it waits, which is what the protocol requires anyway.
//!
//! ```no_run
//! use kcl_protocol::asynchronous::AsyncProcessor;
//! use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput};
//!
//! struct Uploader;
//!
//! impl AsyncProcessor for Uploader {
//!     async fn process_records(
//!         &mut self,
//!         input: &ProcessRecordsInput,
//!         checkpointer: &mut Checkpointer<'_>,
//!     ) -> Result<(), BoxError> {
//!         for record in input.records() {
//!             upload(record.data()).await?;
//!         }
//!         checkpointer.checkpoint()?;
//!         Ok(())
//!     }
//! }
//!
//! async fn upload(_bytes: &[u8]) -> Result<(), BoxError> { Ok(()) }
//!
//! fn main() -> Result<(), kcl_protocol::Error> {
//!     kcl_protocol::asynchronous::run(Uploader)
//! }
//! ```

use crate::checkpoint::{Checkpointer, RetryPolicy};
use crate::processor::{
    BoxError, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor, ShardEndedInput,
    ShutdownRequestedInput,
};
use crate::runtime::{Error, Runner};

/// The async version of [`Processor`], with the same callbacks, defaults and failure policy.
///
/// The futures need not be `Send`: each one runs to completion on the engine's thread.
#[allow(async_fn_in_trait)] // The futures are driven by `block_on` on one thread; no `Send` needed.
pub trait AsyncProcessor {
    /// See [`Processor::initialize`].
    async fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        let _ = input;
        Ok(())
    }

    /// See [`Processor::process_records`].
    async fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError>;

    /// See [`Processor::lease_lost`].
    async fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        let _ = input;
        Ok(())
    }

    /// See [`Processor::shard_ended`]; the default checkpoints at `SHARD_END`, retrying throttling.
    async fn shard_ended(
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

    /// See [`Processor::shutdown_requested`]; the default does nothing.
    async fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let _ = (input, checkpointer);
        Ok(())
    }
}

/// Adapts an [`AsyncProcessor`] to [`Processor`] by blocking on each callback with a tokio
/// runtime. Pass it to [`Runner::run`] for a custom configuration, or to the fake daemon in tests.
#[derive(Debug)]
pub struct BlockOn<P> {
    processor: P,
    runtime: tokio::runtime::Runtime,
}

impl<P: AsyncProcessor> BlockOn<P> {
    /// Uses a new current-thread runtime with every driver this build of tokio has (I/O, time).
    pub fn new(processor: P) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self::with_runtime(processor, runtime))
    }

    /// Uses the given runtime (e.g. a multi-thread runtime, so spawned tasks keep running between
    /// callbacks).
    pub fn with_runtime(processor: P, runtime: tokio::runtime::Runtime) -> Self {
        BlockOn { processor, runtime }
    }

    /// The wrapped processor.
    pub fn processor(&self) -> &P {
        &self.processor
    }

    /// The wrapped processor, mutably.
    pub fn processor_mut(&mut self) -> &mut P {
        &mut self.processor
    }

    /// The runtime the callbacks run on (e.g. to spawn background tasks).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Unwraps the processor.
    pub fn into_inner(self) -> P {
        self.processor
    }
}

impl<P> BlockOn<P> {
    /// Waits for records outstanding on the processor's watermark while the runtime keeps running
    /// the processor's tasks (on a current-thread runtime they run only inside `block_on`). The
    /// engine then checkpoints what is done; it does not wait past the same deadline. Not after a
    /// failed callback: then the failure policy decides, at once.
    fn settle_watermark(&self, checkpointer: &mut Checkpointer<'_>) {
        if let Some((watermark, deadline)) = checkpointer.settle_deadline() {
            self.runtime.block_on(watermark.settled(deadline));
        }
    }
}

impl<P: AsyncProcessor> Processor for BlockOn<P> {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        self.runtime.block_on(self.processor.initialize(input))
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.runtime
            .block_on(self.processor.process_records(input, checkpointer))
    }

    fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        self.runtime.block_on(self.processor.lease_lost(input))
    }

    fn shard_ended(
        &mut self,
        input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let result = self
            .runtime
            .block_on(self.processor.shard_ended(input, checkpointer));
        if result.is_ok() {
            self.settle_watermark(checkpointer);
        }
        result
    }

    fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let result = self
            .runtime
            .block_on(self.processor.shutdown_requested(input, checkpointer));
        if result.is_ok() {
            self.settle_watermark(checkpointer);
        }
        result
    }
}

/// Runs an async processor over stdin and stdout with the default [`Runner`] on a new
/// current-thread tokio runtime, until the daemon closes stdin.
pub fn run<P: AsyncProcessor>(processor: P) -> Result<(), Error> {
    let adapted = BlockOn::new(processor).map_err(Error::AsyncRuntime)?;
    Runner::new().run(adapted)
}
