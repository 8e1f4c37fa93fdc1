//! The lockstep loop: read one daemon message, call the processor, acknowledge, repeat until
//! stdin ends. The failure policy, the legacy KCL 1.x mapping and the SHARD_END safety net live
//! here; the wire format lives in [`wire`](crate::wire), stdio set-up in `stdio`.

use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::checkpoint::{
    CheckpointError, CheckpointLog, CheckpointTransport, Checkpointer, RetryPolicy,
};
use crate::processor::{
    BoxError, InitializeInput, LeaseLostInput, ProcessRecordsInput, Processor, ShardEndedInput,
    ShutdownRequestedInput,
};
use crate::record::ExtendedSequenceNumber;
use crate::stdio::{self, SignalHandling};
use crate::wire::{Excerpt, Inbound, LineReader, MessageWriter, Parsed, parse_line};

/// What the library does when a callback returns `Err` or panics (after any retries configured
/// with [`Runtime::retry_failed_callbacks`]). See the [crate docs](crate#failure-policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Log the failure with the shard id, do **not** acknowledge the action, and make
    /// [`run`](crate::run) return the error (so `main` exits non-zero).
    ///
    /// The daemon then sees the child's stdout close without a status and calls `System.exit(1)`:
    /// the whole worker (every shard) stops. Run it under a supervisor that restarts it; on restart
    /// every shard resumes from its last checkpoint. Nothing is lost, records after the last
    /// checkpoint are delivered again. This is the default.
    #[default]
    Exit,
    /// Log the failure with the shard id and acknowledge the action as if it had succeeded.
    ///
    /// The worker keeps running, but the failed batch is **skipped**: once a later checkpoint moves
    /// past it, its records are never delivered again. Choose this only if availability matters
    /// more than completeness. At shard end the library still makes the `SHARD_END` checkpoint so
    /// the shard's children can start.
    SkipBatch,
}

/// Configures and starts the engine: failure policy, retries, signal handling, the stdout guard.
///
/// [`run`](crate::run) is `Runtime::new().run(processor)`.
///
/// ```no_run
/// use kcl_protocol::{FailurePolicy, RetryPolicy, Runtime, SignalHandling};
/// # struct MyProcessor;
/// # impl kcl_protocol::Processor for MyProcessor {
/// #     fn process_records(&mut self, _: &kcl_protocol::ProcessRecordsInput, _: &mut kcl_protocol::Checkpointer<'_>) -> Result<(), kcl_protocol::BoxError> { Ok(()) }
/// # }
/// fn main() -> Result<(), kcl_protocol::Error> {
///     Runtime::new()
///         .on_error(FailurePolicy::Exit)
///         .retry_failed_callbacks(RetryPolicy::default().max_attempts(3))
///         .signal_handling(SignalHandling::Ignore)
///         .run(MyProcessor)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Runtime {
    on_error: FailurePolicy,
    on_panic: FailurePolicy,
    callback_retry: RetryPolicy,
    shard_end_retry: RetryPolicy,
    signals: SignalHandling,
    guard_stdout: bool,
    leading_newline: Option<bool>,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            on_error: FailurePolicy::Exit,
            on_panic: FailurePolicy::Exit,
            callback_retry: RetryPolicy::none(),
            shard_end_retry: RetryPolicy::default(),
            signals: SignalHandling::Ignore,
            guard_stdout: true,
            leading_newline: None,
        }
    }
}

impl Runtime {
    /// The defaults: exit on errors and panics, no callback retries, SIGINT/SIGTERM ignored,
    /// stdout guarded.
    pub fn new() -> Self {
        Self::default()
    }

    /// What a callback's `Err` does (default [`FailurePolicy::Exit`]). Applies to `initialize`,
    /// `process_records` and `shard_ended`; failures in `shutdown_requested` and `lease_lost` are
    /// always logged and acknowledged, because acknowledging them cannot lose records.
    pub fn on_error(mut self, policy: FailurePolicy) -> Self {
        self.on_error = policy;
        self
    }

    /// What a callback's panic does (default [`FailurePolicy::Exit`]: the processor's state is
    /// unknown after a panic). A panic is never retried.
    pub fn on_panic(mut self, policy: FailurePolicy) -> Self {
        self.on_panic = policy;
        self
    }

    /// Calls a callback that returned `Err` again, with backoff, before the failure policy applies
    /// (default [`RetryPolicy::none`]). The retry sees the same input; checkpoints made by the
    /// failed attempt stay made.
    pub fn retry_failed_callbacks(mut self, policy: RetryPolicy) -> Self {
        self.callback_retry = policy;
        self
    }

    /// Retries for the `SHARD_END` checkpoint the library makes when `shard_ended` returned `Ok`
    /// without making it (default [`RetryPolicy::default`]).
    pub fn shard_end_checkpoint_retry(mut self, policy: RetryPolicy) -> Self {
        self.shard_end_retry = policy;
        self
    }

    /// What to do with SIGINT and SIGTERM (Unix; default [`SignalHandling::Ignore`]).
    pub fn signal_handling(mut self, signals: SignalHandling) -> Self {
        self.signals = signals;
        self
    }

    /// Whether [`run`](Self::run) keeps a private copy of stdout for the protocol and points file
    /// descriptor 1 at stderr (Unix; default `true`), so that `println!` from any code ends up in
    /// the daemon's log instead of corrupting the protocol.
    pub fn guard_stdout(mut self, guard: bool) -> Self {
        self.guard_stdout = guard;
        self
    }

    /// Whether each message starts with a `\n` (which the daemon skips as an empty line).
    ///
    /// By default [`run`](Self::run) writes it only when the stdout guard is not active: then other
    /// code may leave an unterminated line on the pipe, and the newline keeps the next message from
    /// being glued to it (and dropped). With the guard, nothing else can write to the protocol
    /// pipe, so the extra line would only cost the daemon a read. [`run_with_io`](Self::run_with_io)
    /// writes none by default: the caller owns that writer.
    pub fn leading_newline(mut self, leading_newline: bool) -> Self {
        self.leading_newline = Some(leading_newline);
        self
    }

    /// Runs `processor` over the process's stdin and stdout until stdin ends.
    ///
    /// Sets up stdio first (the stdout guard and signal handling, see above). Returns `Ok(())`
    /// at stdin EOF, which is how the daemon ends every child.
    pub fn run<P: Processor>(self, processor: P) -> Result<(), Error> {
        let output = stdio::protocol_output(self.guard_stdout).map_err(Error::Setup)?;
        stdio::apply_signal_handling(self.signals).map_err(Error::Setup)?;
        let leading_newline = self.leading_newline.unwrap_or(!output.is_private());
        // The engine's line reader reads into its own buffer; large reads bypass stdin's buffer.
        let input = io::stdin().lock();
        Engine::new(&self, processor, input, output, leading_newline).run()
    }

    /// Runs `processor` over any reader and writer, with no stdio or signal set-up: for tests, or
    /// for a transport of your own. Returns `Ok(())` when `reader` ends.
    pub fn run_with_io<P: Processor, R: BufRead, W: Write>(
        self,
        processor: P,
        reader: R,
        writer: W,
    ) -> Result<(), Error> {
        let leading_newline = self.leading_newline.unwrap_or(false);
        Engine::new(&self, processor, reader, writer, leading_newline).run()
    }
}

/// Why [`run`](crate::run) stopped before stdin ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Setting up stdio failed (duplicating stdout, redirecting it, or changing signal handling).
    #[error("could not set up the protocol's stdio: {0}")]
    Setup(#[source] io::Error),
    /// Reading the daemon's messages from stdin failed.
    #[error("reading from the daemon (stdin) failed: {0}")]
    Read(#[source] io::Error),
    /// Writing to the daemon failed; it has probably exited.
    #[error("writing to the daemon (stdout) failed: {0}; the daemon has probably exited")]
    Write(#[source] io::Error),
    /// The daemon sent a known action whose fields do not fit (for example records with invalid
    /// base64). The child exits without acknowledging it, so that no record is lost.
    #[error(
        "the daemon sent a malformed {action:?} message ({reason}); exiting without acknowledging it \
         so that no record is lost. Line: {line}"
    )]
    Protocol {
        /// The action name.
        action: String,
        /// What did not fit.
        reason: String,
        /// The start of the line.
        line: String,
    },
    /// A callback returned an error and the [`FailurePolicy`] is `Exit`.
    #[error(
        "{action} failed for shard {shard_id}: {source}. Exiting without acknowledging \
         (FailurePolicy::Exit): the daemon restarts from the last checkpoint and no record is lost"
    )]
    Callback {
        /// The daemon's action name, e.g. `processRecords`.
        action: &'static str,
        /// The shard.
        shard_id: String,
        /// The processor's error.
        #[source]
        source: BoxError,
    },
    /// A callback panicked and the panic [`FailurePolicy`] is `Exit`.
    #[error(
        "{action} panicked for shard {shard_id}: {message}. Exiting without acknowledging \
         (FailurePolicy::Exit): the daemon restarts from the last checkpoint and no record is lost"
    )]
    Panic {
        /// The daemon's action name.
        action: &'static str,
        /// The shard.
        shard_id: String,
        /// The panic message.
        message: String,
    },
}

static SHARD_ID: OnceLock<String> = OnceLock::new();

/// The shard this process handles, once `initialize` has arrived (one child handles one shard).
pub(crate) fn current_shard_id() -> Option<&'static str> {
    SHARD_ID.get().map(String::as_str)
}

/// The pipes to the daemon. Implements the checkpoint round trip.
struct Connection<R, W> {
    reader: LineReader<R>,
    writer: MessageWriter<W>,
}

/// What the checkpoint round trip found in a line, owned so the line can be unread afterwards.
enum ReplyLine {
    Skip,
    Reply(Result<(), CheckpointError>),
    /// Another message: keep it for the engine.
    Unexpected(String),
}

impl<R: BufRead, W: Write> CheckpointTransport for Connection<R, W> {
    fn request_checkpoint(
        &mut self,
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
    ) -> Result<(), CheckpointError> {
        self.writer
            .write_checkpoint(sequence_number, sub_sequence_number)?;
        loop {
            let Some(line) = self.reader.next_line()? else {
                return Err(CheckpointError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the daemon closed stdin while a checkpoint reply was pending",
                )));
            };
            let found = match parse_line(line, None) {
                Parsed::Blank => ReplyLine::Skip,
                Parsed::Garbage { reason } => {
                    tracing::error!(
                        "skipping a line that is not a daemon message ({reason}): {}",
                        Excerpt(line)
                    );
                    ReplyLine::Skip
                }
                Parsed::Message(Inbound::CheckpointReply {
                    sequence_number: echoed,
                    error,
                    ..
                }) => {
                    if echoed.as_deref() != sequence_number {
                        tracing::warn!(
                            requested = ?sequence_number, echoed = ?echoed,
                            "the checkpoint reply does not echo the requested sequence number"
                        );
                    }
                    ReplyLine::Reply(match error {
                        None => Ok(()),
                        Some(name) => Err(CheckpointError::from_daemon_name(&name)),
                    })
                }
                Parsed::Malformed { action, reason } if action == "checkpoint" => {
                    ReplyLine::Reply(Err(CheckpointError::Protocol(format!(
                        "malformed checkpoint reply ({reason}): {}",
                        Excerpt(line)
                    ))))
                }
                Parsed::Message(other) => ReplyLine::Unexpected(other.action_name().to_owned()),
                Parsed::Malformed { action, .. } => ReplyLine::Unexpected(action),
            };
            match found {
                ReplyLine::Skip => continue,
                ReplyLine::Reply(result) => return result,
                ReplyLine::Unexpected(action) => {
                    self.reader.unread();
                    return Err(CheckpointError::Protocol(format!(
                        "expected a checkpoint reply but the daemon sent {action:?}; that message \
                         is kept and handled after the current callback returns"
                    )));
                }
            }
        }
    }
}

/// What went wrong in a callback, after retries.
enum Failure {
    Error(BoxError),
    Panic(String),
}

/// The result of calling one callback.
struct Called {
    failure: Option<Failure>,
    log: CheckpointLog,
}

/// An owned summary of a parsed line, so the line buffer is free again during the callback.
enum Step {
    Skip,
    Initialize(InitializeInput),
    ProcessRecords,
    LeaseLost { legacy: bool },
    ShardEnded { legacy: bool },
    ShutdownRequested,
    StrayReply,
    Unknown(String),
}

struct Engine<'c, P, R, W> {
    config: &'c Runtime,
    processor: P,
    connection: Connection<R, W>,
    batch: ProcessRecordsInput,
    shard_id: String,
    span: tracing::Span,
    ended: bool,
}

impl<'c, P: Processor, R: BufRead, W: Write> Engine<'c, P, R, W> {
    fn new(config: &'c Runtime, processor: P, reader: R, writer: W, leading_newline: bool) -> Self {
        Engine {
            config,
            processor,
            connection: Connection {
                reader: LineReader::new(reader),
                writer: MessageWriter::new(writer, leading_newline),
            },
            batch: ProcessRecordsInput::default(),
            shard_id: String::new(),
            span: tracing::Span::none(),
            ended: false,
        }
    }

    fn run(mut self) -> Result<(), Error> {
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
            self.handle(step)?;
        }
    }

    /// Reads lines until one needs handling; `None` at end of input.
    fn next_step(&mut self) -> Result<Option<Step>, Error> {
        let Some(line) = self.connection.reader.next_line().map_err(Error::Read)? else {
            return Ok(None);
        };
        Ok(Some(match parse_line(line, Some(&mut self.batch)) {
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
                tracing::error!("{error}");
                return Err(error);
            }
            Parsed::Message(message) => match message {
                Inbound::Initialize {
                    shard_id,
                    sequence_number,
                    sub_sequence_number,
                } => {
                    let checkpoint = match sequence_number.as_deref() {
                        None => None,
                        Some(text) => {
                            match ExtendedSequenceNumber::from_parts(text, sub_sequence_number) {
                                Ok(position) => Some(position),
                                Err(error) => {
                                    tracing::warn!(
                                        "initialize: ignoring the starting checkpoint: {error}"
                                    );
                                    None
                                }
                            }
                        }
                    };
                    Step::Initialize(InitializeInput {
                        shard_id: shard_id.into_owned(),
                        checkpoint,
                    })
                }
                Inbound::ProcessRecords { .. } => Step::ProcessRecords,
                Inbound::LeaseLost => Step::LeaseLost { legacy: false },
                Inbound::ShardEnded => Step::ShardEnded { legacy: false },
                Inbound::ShutdownRequested => Step::ShutdownRequested,
                Inbound::CheckpointReply { .. } => Step::StrayReply,
                Inbound::LegacyShutdown { reason } => match reason.as_deref() {
                    Some("TERMINATE") => Step::ShardEnded { legacy: true },
                    Some("ZOMBIE") => Step::LeaseLost { legacy: true },
                    other => {
                        tracing::warn!(
                            reason = ?other,
                            "legacy shutdown with an unknown reason: handling it as a lost lease \
                             (no checkpoint, nothing acknowledged as processed)"
                        );
                        Step::LeaseLost { legacy: true }
                    }
                },
                Inbound::Unknown { action } => Step::Unknown(action.into_owned()),
            },
        }))
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
                let called = self.call("processRecords", true, |processor, connection, batch| {
                    let mut checkpointer = Checkpointer::new(connection, false);
                    let result = processor.process_records(batch, &mut checkpointer);
                    (result, checkpointer.log())
                });
                self.settle("processRecords", called.failure, self.config.on_error)?;
                self.acknowledge("processRecords")
            }
            Step::ShutdownRequested => {
                let input = ShutdownRequestedInput {
                    shard_id: self.shard_id.clone(),
                };
                let called = self.call("shutdownRequested", true, |processor, connection, _| {
                    let mut checkpointer = Checkpointer::new(connection, false);
                    let result = processor.shutdown_requested(&input, &mut checkpointer);
                    (result, checkpointer.log())
                });
                if let Some(failure) = called.failure {
                    tracing::error!(
                        "shutdownRequested failed: {}; acknowledging anyway: records not checkpointed \
                         are delivered again to the lease's next owner, so nothing is lost",
                        describe(&failure)
                    );
                }
                self.acknowledge("shutdownRequested")
            }
            Step::LeaseLost { legacy } => {
                let input = LeaseLostInput {
                    shard_id: self.shard_id.clone(),
                };
                let called = self.call("leaseLost", false, |processor, _, _| {
                    (processor.lease_lost(&input), CheckpointLog::default())
                });
                if let Some(failure) = called.failure {
                    tracing::error!(
                        "leaseLost failed: {}; acknowledging anyway: the lease is gone, nothing can be lost",
                        describe(&failure)
                    );
                }
                self.ended = true;
                self.acknowledge(if legacy { "shutdown" } else { "leaseLost" })
            }
            Step::ShardEnded { legacy } => self.shard_ended(legacy),
        }
    }

    fn initialize(&mut self, input: InitializeInput) -> Result<(), Error> {
        self.shard_id.clone_from(&input.shard_id);
        self.batch.shard_id.clone_from(&input.shard_id);
        if SHARD_ID.set(input.shard_id.clone()).is_err()
            && current_shard_id() != Some(input.shard_id.as_str())
        {
            tracing::debug!("another engine in this process already named a shard");
        }
        self.span = tracing::info_span!("shard", id = %self.shard_id);
        let _entered = self.span.clone().entered();
        tracing::debug!(checkpoint = ?input.checkpoint, "initialize");
        let called = self.call("initialize", true, |processor, _, _| {
            (processor.initialize(&input), CheckpointLog::default())
        });
        self.settle("initialize", called.failure, self.config.on_error)?;
        self.acknowledge("initialize")
    }

    fn shard_ended(&mut self, legacy: bool) -> Result<(), Error> {
        let action = if legacy { "shutdown" } else { "shardEnded" };
        let input = ShardEndedInput {
            shard_id: self.shard_id.clone(),
        };
        let called = self.call("shardEnded", true, |processor, connection, _| {
            let mut checkpointer = Checkpointer::new(connection, true);
            let result = processor.shard_ended(&input, &mut checkpointer);
            (result, checkpointer.log())
        });
        let failed = called.failure.is_some();
        // With SkipBatch a failure is acknowledged, so the SHARD_END checkpoint is still needed.
        self.settle("shardEnded", called.failure, self.config.on_error)?;
        if !called.log.shard_end_succeeded && !called.log.lease_gone {
            if !failed {
                tracing::warn!(
                    "shard_ended returned Ok without a successful SHARD_END checkpoint \
                     (checkpointer.checkpoint()); making it now, or the shard's children would never start"
                );
            }
            let mut checkpointer = Checkpointer::new(&mut self.connection, true);
            match self
                .config
                .shard_end_retry
                .retry(|| checkpointer.checkpoint())
            {
                Ok(()) => {}
                Err(CheckpointError::Shutdown) => tracing::warn!(
                    "the SHARD_END checkpoint was refused because the lease moved to another \
                     worker (ShutdownException); that worker will finish the shard"
                ),
                Err(error) => {
                    let failure = Failure::Error(Box::new(error));
                    self.settle("shardEnded", Some(failure), self.config.on_error)?;
                }
            }
        }
        self.ended = true;
        self.acknowledge(action)
    }

    /// Calls a callback with panic catching and the configured retries.
    fn call(
        &mut self,
        action: &'static str,
        retry: bool,
        mut callback: impl FnMut(
            &mut P,
            &mut Connection<R, W>,
            &ProcessRecordsInput,
        ) -> (Result<(), BoxError>, CheckpointLog),
    ) -> Called {
        let retry_policy = if retry {
            self.config.callback_retry.clone()
        } else {
            RetryPolicy::none()
        };
        let mut log = CheckpointLog::default();
        let mut attempt = 1;
        loop {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                callback(&mut self.processor, &mut self.connection, &self.batch)
            }));
            match outcome {
                Ok((result, attempt_log)) => {
                    log.any_succeeded |= attempt_log.any_succeeded;
                    log.shard_end_succeeded |= attempt_log.shard_end_succeeded;
                    log.lease_gone |= attempt_log.lease_gone;
                    match result {
                        Ok(()) => return Called { failure: None, log },
                        Err(error) if attempt < retry_policy.attempts() => {
                            let wait = retry_policy.backoff_after(attempt);
                            tracing::warn!(
                                attempt,
                                ?wait,
                                "{action} failed: {error}; calling it again"
                            );
                            std::thread::sleep(wait);
                            attempt += 1;
                        }
                        Err(error) => {
                            return Called {
                                failure: Some(Failure::Error(error)),
                                log,
                            };
                        }
                    }
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    tracing::error!("{action} panicked: {message}");
                    return Called {
                        failure: Some(Failure::Panic(message)),
                        log,
                    };
                }
            }
        }
    }

    /// Applies the failure policy: `Err` to stop without acknowledging, `Ok` to acknowledge.
    fn settle(
        &self,
        action: &'static str,
        failure: Option<Failure>,
        on_error: FailurePolicy,
    ) -> Result<(), Error> {
        let Some(failure) = failure else {
            return Ok(());
        };
        let policy = match failure {
            Failure::Error(_) => on_error,
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
                tracing::error!("{error}");
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

    fn acknowledge(&mut self, action: &str) -> Result<(), Error> {
        self.connection
            .writer
            .write_status(action)
            .map_err(Error::Write)
    }
}

fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Error(error) => error.to_string(),
        Failure::Panic(message) => format!("panic: {message}"),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
