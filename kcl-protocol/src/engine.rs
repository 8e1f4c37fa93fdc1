//! The lockstep loop: read one daemon message, call the processor, acknowledge, repeat until
//! stdin ends. The failure policy, the legacy KCL 1.x mapping and the SHARD_END safety net live
//! here; configuration in [`runtime`](crate::runtime), the pipes in
//! [`connection`](crate::connection), the wire format in [`wire`](crate::wire).

use std::io::{BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::checkpoint::{
    Callback, CheckpointError, CheckpointLog, Checkpointer, LeaseState, RetryPolicy, Scope,
};
use crate::connection::Connection;
use crate::failure::{Chain, Failure, describe, panic_message};
use crate::memory;
use crate::processor::{
    BoxError, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor, ShardEndedInput,
    ShutdownRequestedInput,
};
use crate::report::{Acknowledged, Reporter};
use crate::runtime::{Error, FailurePolicy, Runner};
use crate::step::Step;
use crate::watchdog::{Watchdog, WatchdogHandle};
use crate::watermark::Watermark;
use crate::wire::{Excerpt, LeadingNewline, Parsed, parse_line};

static SHARD_ID: OnceLock<String> = OnceLock::new();

/// The shard this process handles, once `initialize` has arrived (one child handles one shard).
pub(crate) fn current_shard_id() -> Option<&'static str> {
    SHARD_ID.get().map(String::as_str)
}

/// What a callback may use of the engine: the pipes, and what lasts across callbacks.
struct Pipes<'e, R, W> {
    connection: &'e mut Connection<R, W>,
    lease: &'e mut LeaseState,
    watermark: &'e mut Option<Watermark>,
    /// The next batch's first delivery index (where a watermark made outside a batch starts).
    deliveries: u64,
    settle_wait: Duration,
}

impl<R: BufRead, W: Write> Pipes<'_, R, W> {
    fn checkpointer(&mut self, callback: Callback) -> Checkpointer<'_> {
        self.checkpointer_for(callback, (self.deliveries, self.deliveries))
    }

    fn checkpointer_for(&mut self, callback: Callback, deliveries: (u64, u64)) -> Checkpointer<'_> {
        Checkpointer::new(Scope {
            transport: self.connection,
            lease: self.lease,
            watermark: self.watermark,
            callback,
            deliveries,
            settle_wait: self.settle_wait,
        })
    }
}

/// The result of calling one callback.
struct Called {
    failure: Option<Failure>,
    log: CheckpointLog,
}

pub(crate) struct Engine<'c, P, R, W> {
    config: &'c Runner,
    processor: P,
    connection: Connection<R, W>,
    batch: ProcessRecordsInput,
    lease: LeaseState,
    /// The processor's watermark, once it asked for one.
    watermark: Option<Watermark>,
    shard_id: String,
    span: tracing::Span,
    ended: bool,
    watchdog: Option<WatchdogHandle>,
    /// Owns the watchdog thread (stopped when the engine ends).
    _watchdog: Option<Watchdog>,
    /// Reports each callback to a supervisor, when one asked for it.
    report: Reporter,
}

impl<'c, P: Processor, R: BufRead, W: Write> Engine<'c, P, R, W> {
    /// With `daemon_timeout` (the daemon's `timeoutInSeconds`), a [`Watchdog`] warns about
    /// callbacks that come close to it; `report` sends a report after each callback.
    pub(crate) fn new(
        config: &'c Runner,
        processor: P,
        reader: R,
        writer: W,
        leading_newline: LeadingNewline,
        daemon_timeout: Option<Duration>,
        report: Reporter,
    ) -> Self {
        let watchdog = daemon_timeout.and_then(Watchdog::start);
        let watched = watchdog.as_ref().map(Watchdog::handle);
        let mut connection = Connection::new(reader, writer, leading_newline, watched.clone());
        if report.is_active() {
            connection.count_checkpoint_outcomes();
        }
        Engine {
            config,
            processor,
            connection,
            report,
            watchdog: watched,
            _watchdog: watchdog,
            batch: ProcessRecordsInput::default(),
            lease: LeaseState::default(),
            watermark: None,
            shard_id: String::new(),
            span: tracing::Span::none(),
            ended: false,
        }
    }

    pub(crate) fn run(mut self) -> Result<(), Error> {
        loop {
            // Every log line of the engine and of the callbacks carries the shard id.
            let span = self.span.clone();
            let _entered = span.enter();
            let Some(step) = self.next_step()? else {
                if self.ended {
                    tracing::debug!("stdin closed after the lease ended; exiting");
                } else {
                    tracing::info!(
                        "stdin closed before leaseLost/shardEnded (the daemon stopped); exiting"
                    );
                }
                return Ok(());
            };
            let action = step.awaited_status();
            if let Some(watchdog) = &self.watchdog
                && let Some(action) = action
            {
                watchdog.arm(action);
            }
            self.report.begin(action);
            let handled = self.handle(step);
            let acknowledged = match handled {
                Ok(()) => Acknowledged::Yes,
                Err(_) => Acknowledged::No,
            };
            let outcomes = self.connection.checkpoint_outcomes();
            self.report
                .finish(&self.shard_id, &self.batch, outcomes, acknowledged);
            handled?;
        }
    }

    /// Reads lines until one needs handling; `None` at end of input.
    fn next_step(&mut self) -> Result<Option<Step>, Error> {
        let Some(line) = self.connection.next_line().map_err(Error::Read)? else {
            return Ok(None);
        };
        let line_len = line.len();
        let step = match parse_line(line, Some(&mut self.batch)) {
            Parsed::Blank => Step::Skip,
            Parsed::Garbage { reason } => {
                tracing::error!(
                    "skipping a line that is not a daemon message ({reason}): {}",
                    Excerpt(line)
                );
                Step::Skip
            }
            Parsed::Malformed { action, reason } => {
                let error = Error::Protocol {
                    action,
                    reason,
                    line: Excerpt(line).to_string(),
                };
                tracing::error!(
                    "{error}; exiting without acknowledging it, so that no record is lost"
                );
                return Err(error);
            }
            Parsed::Message(message) => Step::from_message(message),
        };
        if let Step::ProcessRecords = step {
            // The line is parsed into the batch: what a catch-up batch left behind can go.
            let line_released = self.connection.release_excess(line_len);
            let mut released = line_released | self.batch.release_excess_slots();
            if line_released {
                released |= self.batch.release_oversized_buffers();
            }
            if released {
                tracing::debug!(records = self.batch.records().len(), "released memory");
                memory::return_freed_memory();
            }
        }
        Ok(Some(step))
    }

    fn handle(&mut self, step: Step) -> Result<(), Error> {
        match step {
            Step::Skip => Ok(()),
            Step::StrayReply => {
                tracing::warn!(
                    "ignoring a checkpoint reply that arrived with no checkpoint pending"
                );
                Ok(())
            }
            Step::Unknown(action) => {
                tracing::error!(
                    "the daemon sent an unknown action {action:?}; acknowledging it so the daemon \
                     does not wait forever (is this library older than the daemon?)"
                );
                self.acknowledge(&action)
            }
            Step::Initialize(input) => self.initialize(input),
            Step::ProcessRecords => {
                if let Some(watermark) = &self.watermark {
                    let (first, end) = self.batch.deliveries();
                    watermark.deliver(first, end);
                }
                let retry = &self.config.callback_retry;
                let called = self.call("processRecords", retry, |processor, pipes, batch| {
                    let mut checkpointer =
                        pipes.checkpointer_for(Callback::ProcessRecords, batch.deliveries());
                    let result = processor.process_records(batch, &mut checkpointer);
                    (result, checkpointer.log())
                });
                self.settle("processRecords", called.failure)?;
                if let Err(error) = self.checkpoint_watermark(Callback::ProcessRecords) {
                    self.settle("processRecords", Some(Failure::Error(Box::new(error))))?;
                }
                self.acknowledge("processRecords")
            }
            Step::ShutdownRequested => {
                let input = ShutdownRequestedInput::new(self.shard_id.clone());
                let retry = &self.config.callback_retry;
                let called = self.call("shutdownRequested", retry, |processor, pipes, _| {
                    let mut checkpointer = pipes.checkpointer(Callback::ShutdownRequested);
                    let result = processor.shutdown_requested(&input, &mut checkpointer);
                    (result, checkpointer.log())
                });
                // After a failure there is nothing to wait for: checkpoint what is done.
                if called.failure.is_none() {
                    self.wait_for_watermark(&called.log);
                }
                if let Err(error) = self.checkpoint_watermark(Callback::ShutdownRequested) {
                    let failure = Failure::Error(Box::new(error));
                    self.acknowledge_anyway(
                        "checkpointing the watermark in shutdownRequested",
                        &failure,
                        "records after the last checkpoint are delivered again to the lease's \
                         next owner",
                    );
                }
                if let Some(failure) = called.failure {
                    self.acknowledge_anyway(
                        "shutdownRequested",
                        &failure,
                        "records not checkpointed are delivered again to the lease's next owner, \
                         so nothing is lost",
                    );
                }
                self.acknowledge("shutdownRequested")
            }
            Step::LeaseLost { status } => {
                let input = LeaseLostInput::new(self.shard_id.clone());
                // Never retried: the lease is gone, there is nothing a second attempt could save.
                let called = self.call("leaseLost", &RetryPolicy::none(), |processor, _, _| {
                    (processor.lease_lost(&input), CheckpointLog::default())
                });
                if let Some(failure) = called.failure {
                    tracing::error!(
                        "leaseLost failed: {}; acknowledging anyway: the lease is gone, nothing can be lost",
                        describe(&failure)
                    );
                }
                self.ended = true;
                self.acknowledge(status)
            }
            Step::ShardEnded { status } => self.shard_ended(status),
        }
    }

    fn initialize(&mut self, input: InitializeInput) -> Result<(), Error> {
        self.shard_id = input.shard_id().to_owned();
        self.batch.set_shard_id(input.shard_id());
        if SHARD_ID.set(self.shard_id.clone()).is_err()
            && current_shard_id() != Some(input.shard_id())
        {
            tracing::debug!("another engine in this process already named a shard");
        }
        self.span = tracing::info_span!("shard", id = %self.shard_id);
        let _entered = self.span.clone().entered();
        tracing::debug!(checkpoint = ?input.checkpoint(), "initialize");
        let retry = &self.config.callback_retry;
        let called = self.call("initialize", retry, |processor, _, _| {
            (processor.initialize(&input), CheckpointLog::default())
        });
        self.settle("initialize", called.failure)?;
        self.acknowledge("initialize")
    }

    fn shard_ended(&mut self, status: &'static str) -> Result<(), Error> {
        let input = ShardEndedInput::new(self.shard_id.clone());
        let retry = &self.config.callback_retry;
        let called = self.call("shardEnded", retry, |processor, pipes, _| {
            let mut checkpointer = pipes.checkpointer(Callback::ShardEnded);
            let result = processor.shard_ended(&input, &mut checkpointer);
            (result, checkpointer.log())
        });
        let failed = called.failure.is_some();
        // With SkipBatch a failure is acknowledged, so the SHARD_END checkpoint is still needed.
        self.settle("shardEnded", called.failure)?;
        let deferred = self.watermark.is_some();
        // (After a failure acknowledged with SkipBatch: SHARD_END without waiting.)
        if deferred && !failed && !called.log.shard_end_succeeded && !self.lease.is_gone() {
            // SHARD_END says every record is done: only once the watermark has nothing outstanding.
            if !self.wait_for_watermark(&called.log) {
                // Keep what is done, then let the failure policy decide.
                if let Err(error) = self.checkpoint_watermark(Callback::ShardEnded) {
                    self.settle("shardEnded", Some(Failure::Error(Box::new(error))))?;
                }
                let outstanding = self.watermark.as_ref().map_or(0, Watermark::outstanding);
                let failure = Failure::Error(
                    format!(
                        "{outstanding} records are still not marked done after waiting {:?}; \
                         a SHARD_END checkpoint would pass them",
                        self.config.watermark_wait
                    )
                    .into(),
                );
                self.settle("shardEnded", Some(failure))?;
            }
        }
        // After a refused checkpoint the lease is gone: the next owner makes the SHARD_END checkpoint.
        if !called.log.shard_end_succeeded && !self.lease.is_gone() {
            if !failed && !deferred {
                tracing::warn!(
                    "shard_ended returned Ok without a successful SHARD_END checkpoint \
                     (checkpointer.checkpoint()); making it now, or the shard's children would never start"
                );
            }
            let mut pipes = Pipes {
                connection: &mut self.connection,
                lease: &mut self.lease,
                watermark: &mut self.watermark,
                deliveries: self.batch.next_delivery(),
                settle_wait: self.config.watermark_wait,
            };
            match pipes
                .checkpointer(Callback::ShardEnded)
                .checkpoint_shard_end(&self.config.shard_end_retry)
            {
                Ok(()) => {}
                // Logged by the checkpointer; the new owner of the lease finishes the shard.
                Err(CheckpointError::Shutdown) => {}
                Err(error) => {
                    let failure = Failure::Error(Box::new(error));
                    self.settle("shardEnded", Some(failure))?;
                }
            }
        }
        self.ended = true;
        self.acknowledge(status)
    }

    /// Calls a callback with panic catching, calling it again after an `Err` as `retry_policy`
    /// allows.
    fn call(
        &mut self,
        action: &'static str,
        retry_policy: &RetryPolicy,
        mut callback: impl FnMut(
            &mut P,
            &mut Pipes<'_, R, W>,
            &ProcessRecordsInput,
        ) -> (Result<(), BoxError>, CheckpointLog),
    ) -> Called {
        let mut log = CheckpointLog::default();
        let mut attempt = 1;
        loop {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut pipes = Pipes {
                    connection: &mut self.connection,
                    lease: &mut self.lease,
                    watermark: &mut self.watermark,
                    deliveries: self.batch.next_delivery(),
                    settle_wait: self.config.watermark_wait,
                };
                callback(&mut self.processor, &mut pipes, &self.batch)
            }));
            match outcome {
                Ok((result, attempt_log)) => {
                    log.merge(attempt_log);
                    match result {
                        Ok(()) => return Called { failure: None, log },
                        // Once the lease is gone a second attempt cannot checkpoint anything.
                        Err(error)
                            if attempt < retry_policy.attempts() && !self.lease.is_gone() =>
                        {
                            let wait = retry_policy.backoff_after(attempt);
                            tracing::warn!(
                                attempt,
                                ?wait,
                                "{action} failed: {}; calling it again",
                                Chain(error.as_ref())
                            );
                            std::thread::sleep(wait);
                            attempt += 1;
                            self.report.note_retry();
                        }
                        Err(error) => {
                            let failure = Failure::Error(error);
                            self.report.note_failure(&failure);
                            return Called {
                                failure: Some(failure),
                                log,
                            };
                        }
                    }
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    tracing::error!("{action} panicked: {message}");
                    let failure = Failure::Panic(message);
                    self.report.note_failure(&failure);
                    return Called {
                        failure: Some(failure),
                        log,
                    };
                }
            }
        }
    }

    /// Applies the failure policy: `Err` to stop without acknowledging, `Ok` to acknowledge.
    fn settle(&self, action: &'static str, failure: Option<Failure>) -> Result<(), Error> {
        let Some(failure) = failure else {
            return Ok(());
        };
        if self.lease.is_gone() {
            // Not acknowledging protects records only while this worker holds the lease; now the
            // next owner re-reads everything after the last checkpoint anyway, and exiting would
            // only stop every other shard of the worker.
            self.acknowledge_anyway(
                action,
                &failure,
                "the lease is gone, the next owner resumes from the last successful checkpoint",
            );
            return Ok(());
        }
        let policy = match failure {
            Failure::Error(_) => self.config.on_error,
            Failure::Panic(_) => self.config.on_panic,
        };
        match policy {
            FailurePolicy::Exit => {
                let error = match failure {
                    Failure::Error(source) => Error::Callback {
                        action,
                        shard_id: self.shard_id.clone(),
                        source,
                    },
                    Failure::Panic(message) => Error::Panic {
                        action,
                        shard_id: self.shard_id.clone(),
                        message,
                    },
                };
                tracing::error!(
                    "{}. Exiting without acknowledging (FailurePolicy::Exit): the daemon restarts \
                     from the last checkpoint and no record is lost",
                    Chain(&error)
                );
                Err(error)
            }
            FailurePolicy::SkipBatch => {
                tracing::error!(
                    "{action} failed: {}; acknowledging anyway (FailurePolicy::SkipBatch): \
                     this batch is skipped and is lost once a later checkpoint passes it",
                    describe(&failure)
                );
                Ok(())
            }
        }
    }

    /// Waits (bounded) until the watermark has nothing outstanding, after `shutdown_requested` or
    /// `shard_ended`; returns whether nothing is (also without a watermark).
    fn wait_for_watermark(&self, log: &CheckpointLog) -> bool {
        let Some(watermark) = &self.watermark else {
            return true;
        };
        if self.lease.is_gone() {
            return true;
        }
        let deadline = log
            .settle_deadline
            .unwrap_or_else(|| Instant::now() + self.config.watermark_wait);
        if watermark.wait_until_settled(deadline) {
            return true;
        }
        tracing::warn!(
            outstanding = watermark.outstanding(),
            "records are still not marked done after waiting {:?}; checkpointing only up to the \
             first of them",
            self.config.watermark_wait
        );
        false
    }

    /// Checkpoints the watermark if it moved (a refused lease is not an error here: logged once by
    /// the checkpointer, and nothing more can be checkpointed).
    fn checkpoint_watermark(&mut self, callback: Callback) -> Result<(), CheckpointError> {
        if self.watermark.is_none() || self.lease.is_gone() {
            return Ok(());
        }
        let mut pipes = Pipes {
            connection: &mut self.connection,
            lease: &mut self.lease,
            watermark: &mut self.watermark,
            deliveries: self.batch.next_delivery(),
            settle_wait: self.config.watermark_wait,
        };
        match pipes
            .checkpointer(callback)
            .checkpoint_watermark(&self.config.watermark_retry)
        {
            Err(CheckpointError::Shutdown) => Ok(()),
            other => other,
        }
    }

    /// Logs a failure that is acknowledged whatever the policy, saying `why` nothing is lost.
    fn acknowledge_anyway(&self, action: &str, failure: &Failure, why: &str) {
        if self.lease.is_gone() && failure.is_lease_refusal() {
            // The refusal itself, returned with `?`: already logged once, at WARN.
            tracing::debug!("{action} returned the refused checkpoint; acknowledging it");
        } else {
            tracing::error!(
                "{action} failed: {}; acknowledging anyway: {why}",
                describe(failure)
            );
        }
    }

    fn acknowledge(&mut self, action: &str) -> Result<(), Error> {
        self.connection.acknowledge(action).map_err(Error::Write)?;
        if let Some(watchdog) = &self.watchdog {
            watchdog.disarm();
        }
        Ok(())
    }
}
