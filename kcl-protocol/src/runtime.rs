//! How the engine is configured and how it ends: [`Runner`] (the builder behind
//! [`run`](crate::run)), the [`FailurePolicy`], and the [`Error`] that [`run`](crate::run)
//! returns.

use std::io::{self, BufRead, Write};
use std::time::Duration;

use crate::checkpoint::RetryPolicy;
use crate::engine::Engine;
use crate::processor::{BoxError, Processor};
use crate::report::{self, Reporter};
use crate::stdio::{self, SignalHandling, StdoutGuard};
use crate::watchdog;
use crate::wire::LeadingNewline;

/// What the library does when a callback returns `Err` or panics (after any retries configured
/// with [`Runner::retry_failed_callbacks`]). See the [crate docs](crate#failure-policy).
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
/// [`run`](crate::run) is `Runner::new().run(processor)`.
///
/// ```no_run
/// use kcl_protocol::{FailurePolicy, RetryPolicy, Runner, SignalHandling};
/// # struct MyProcessor;
/// # impl kcl_protocol::Processor for MyProcessor {
/// #     fn process_records(&mut self, _: &kcl_protocol::ProcessRecordsInput, _: &mut kcl_protocol::Checkpointer<'_>) -> Result<(), kcl_protocol::BoxError> { Ok(()) }
/// # }
/// fn main() -> Result<(), kcl_protocol::Error> {
///     Runner::new()
///         .on_error(FailurePolicy::Exit)
///         .retry_failed_callbacks(RetryPolicy::default().max_attempts(3))
///         .signal_handling(SignalHandling::Ignore)
///         .run(MyProcessor)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    // Read by the engine; set only by the builder methods below.
    pub(crate) on_error: FailurePolicy,
    pub(crate) on_panic: FailurePolicy,
    pub(crate) callback_retry: RetryPolicy,
    pub(crate) shard_end_retry: RetryPolicy,
    pub(crate) watermark_retry: RetryPolicy,
    pub(crate) watermark_wait: Duration,
    signals: SignalHandling,
    stdout: StdoutGuard,
    leading_newline: Option<LeadingNewline>,
    daemon_timeout: DaemonTimeout,
    report_socket: ReportSocket,
}

/// Where the supervisor's report socket comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReportSocket {
    /// [`REPORT_SOCKET_VARIABLE`](crate::REPORT_SOCKET_VARIABLE), read by [`Runner::run`].
    FromEnvironment,
    /// Set with [`Runner::report_socket`].
    Given(Option<std::path::PathBuf>),
}

/// Where the daemon's `timeoutInSeconds` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DaemonTimeout {
    /// [`TIMEOUT_VARIABLE`](crate::TIMEOUT_VARIABLE), read by [`Runner::run`].
    FromEnvironment,
    /// Set with [`Runner::daemon_timeout`].
    Given(Option<Duration>),
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            on_error: FailurePolicy::Exit,
            on_panic: FailurePolicy::Exit,
            callback_retry: RetryPolicy::none(),
            shard_end_retry: RetryPolicy::default(),
            watermark_retry: RetryPolicy::default(),
            watermark_wait: Duration::from_secs(10),
            signals: SignalHandling::Ignore,
            stdout: StdoutGuard::Private,
            leading_newline: None,
            daemon_timeout: DaemonTimeout::FromEnvironment,
            report_socket: ReportSocket::FromEnvironment,
        }
    }
}

impl Runner {
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

    /// Retries for the checkpoints the engine makes for a [`Watermark`](crate::Watermark) (default
    /// [`RetryPolicy::default`]). If they still fail, the callback they were made in fails (see the
    /// [failure policy](crate#failure-policy)); `shutdown_requested` is acknowledged anyway.
    pub fn watermark_retry(mut self, policy: RetryPolicy) -> Self {
        self.watermark_retry = policy;
        self
    }

    /// How long the engine waits, after `shutdown_requested` and `shard_ended` return, for records
    /// not yet marked done on the processor's [`Watermark`](crate::Watermark) (default 10 s; tasks
    /// of an async processor keep running meanwhile). Then `shutdown_requested` checkpoints what is
    /// done and acknowledges; `shard_ended` makes the `SHARD_END` checkpoint only if everything is
    /// done, and otherwise fails (see the [failure policy](crate#failure-policy)). Keep it below the
    /// daemon's `timeoutInSeconds` and, for graceful handoffs, below
    /// `gracefulLeaseHandoffTimeoutMillis` (30 s by default).
    pub fn watermark_wait(mut self, wait: Duration) -> Self {
        self.watermark_wait = wait;
        self
    }

    /// What to do with SIGINT and SIGTERM (Unix; default [`SignalHandling::Ignore`]).
    pub fn signal_handling(mut self, signals: SignalHandling) -> Self {
        self.signals = signals;
        self
    }

    /// Whether [`run`](Self::run) keeps a private copy of stdout for the protocol and points file
    /// descriptor 1 at stderr (Unix; default [`StdoutGuard::Private`]), so that `println!` from any
    /// code ends up in the daemon's log instead of corrupting the protocol.
    pub fn stdout(mut self, guard: StdoutGuard) -> Self {
        self.stdout = guard;
        self
    }

    /// Whether each message starts with a `\n` (which the daemon skips as an empty line).
    ///
    /// By default [`run`](Self::run) writes it only when the stdout guard is not active: then other
    /// code may leave an unterminated line on the pipe, and the newline keeps the next message from
    /// being glued to it (and dropped). With the guard, nothing else can write to the protocol
    /// pipe, so the extra line would only cost the daemon a read. [`run_with_io`](Self::run_with_io)
    /// writes none by default: the caller owns that writer.
    pub fn leading_newline(mut self, leading_newline: LeadingNewline) -> Self {
        self.leading_newline = Some(leading_newline);
        self
    }

    /// The daemon's `timeoutInSeconds`, if set: the engine then logs a WARN (with the shard id and
    /// the action) when a callback keeps the daemon waiting for more than 80% of it, because at
    /// 100% the daemon halts the whole JVM without a word from the child.
    ///
    /// By default [`run`](Self::run) reads it from the environment variable
    /// `KCL_TIMEOUT_IN_SECONDS` ([`TIMEOUT_VARIABLE`](crate::TIMEOUT_VARIABLE); whole seconds, set by the launcher from the
    /// properties file, passed on by the JVM to its children), ignoring it with one WARN if it is
    /// not a positive integer. [`run_with_io`](Self::run_with_io) does not read the environment.
    /// `None` turns the watch off.
    pub fn daemon_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.daemon_timeout = DaemonTimeout::Given(timeout);
        self
    }

    /// The Unix datagram socket of a supervisor to which the engine sends one report after each
    /// callback (the format is in the crate's `REPORTS.md`). Sending never blocks and never fails a
    /// callback: a report that does not fit is dropped.
    ///
    /// By default [`run`](Self::run) reads the path from the environment variable
    /// `KCL_SUPERVISOR_SOCKET` ([`REPORT_SOCKET_VARIABLE`](crate::REPORT_SOCKET_VARIABLE), set by
    /// `kcl-bootstrap --supervise --metrics-addr`); [`run_with_io`](Self::run_with_io) does not
    /// read the environment. `None` sends nothing.
    pub fn report_socket(mut self, socket: Option<std::path::PathBuf>) -> Self {
        self.report_socket = ReportSocket::Given(socket);
        self
    }

    fn reporter(&self, environment: Environment) -> Reporter {
        match (&self.report_socket, environment) {
            (ReportSocket::Given(socket), _) => Reporter::new(socket.as_deref()),
            (ReportSocket::FromEnvironment, Environment::Read) => {
                Reporter::new(report::socket_from_environment().as_deref())
            }
            (ReportSocket::FromEnvironment, Environment::Ignore) => Reporter::new(None),
        }
    }

    /// Runs `processor` over the process's stdin and stdout until stdin ends.
    ///
    /// Sets up stdio first (the stdout guard and signal handling, see above). Returns `Ok(())`
    /// at stdin EOF, which is how the daemon ends every child.
    pub fn run<P: Processor>(self, processor: P) -> Result<(), Error> {
        let output = stdio::protocol_output(self.stdout).map_err(Error::Setup)?;
        stdio::apply_signal_handling(self.signals).map_err(Error::Setup)?;
        let leading_newline = match self.leading_newline {
            Some(chosen) => chosen,
            // Only another writer on the same pipe can leave a partial line.
            None if output.is_private() => LeadingNewline::Omit,
            None => LeadingNewline::Write,
        };
        let daemon_timeout = match self.daemon_timeout {
            DaemonTimeout::FromEnvironment => watchdog::timeout_from_environment(),
            DaemonTimeout::Given(timeout) => timeout,
        };
        // The engine's line reader reads into its own buffer; large reads bypass stdin's buffer.
        let input = io::stdin().lock();
        let report = self.reporter(Environment::Read);
        Engine::new(
            &self,
            processor,
            input,
            output,
            leading_newline,
            daemon_timeout,
            report,
        )
        .run()
    }

    /// Runs `processor` over any reader and writer, with no stdio or signal set-up: for tests, or
    /// for a transport of your own. Returns `Ok(())` when `reader` ends.
    pub fn run_with_io<P: Processor, R: BufRead, W: Write>(
        self,
        processor: P,
        reader: R,
        writer: W,
    ) -> Result<(), Error> {
        let leading_newline = self.leading_newline.unwrap_or(LeadingNewline::Omit);
        let daemon_timeout = match self.daemon_timeout {
            DaemonTimeout::FromEnvironment => None,
            DaemonTimeout::Given(timeout) => timeout,
        };
        let report = self.reporter(Environment::Ignore);
        Engine::new(
            &self,
            processor,
            reader,
            writer,
            leading_newline,
            daemon_timeout,
            report,
        )
        .run()
    }
}

/// Whether a setting left to the environment is read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Environment {
    Read,
    Ignore,
}

/// Why [`run`](crate::run) stopped before stdin ended.
///
/// Each message is one line and names what failed; the cause is the error's
/// [`source`](std::error::Error::source), so a report that prints the chain (`anyhow`, or the
/// library's own log lines) shows every cause once. What each case means for the daemon is in the
/// [crate docs](crate#failure-policy).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Setting up stdio failed (duplicating stdout, redirecting it, or changing signal handling).
    #[error("could not set up the protocol's stdio")]
    Setup(#[source] io::Error),
    /// Building the tokio runtime for an async processor failed
    /// ([`asynchronous::run`](crate::asynchronous::run)).
    #[cfg(feature = "tokio")]
    #[error("could not build the tokio runtime for the async processor")]
    AsyncRuntime(#[source] io::Error),
    /// Reading the daemon's messages from stdin failed.
    #[error("reading from the daemon (stdin) failed")]
    Read(#[source] io::Error),
    /// Writing to the daemon failed; usually the daemon has exited.
    #[error("writing to the daemon (stdout) failed")]
    Write(#[source] io::Error),
    /// The daemon sent a known action whose fields do not fit (for example records with invalid
    /// base64). The child exits without acknowledging it, so that no record is lost.
    #[error("malformed {action:?} message from the daemon ({reason}); line: {line}")]
    Protocol {
        /// The action name.
        action: String,
        /// What did not fit.
        reason: String,
        /// The start of the line.
        line: String,
    },
    /// A callback returned an error and the [`FailurePolicy`] is `Exit`: the action was not
    /// acknowledged.
    #[error("{action} failed for shard {shard_id}")]
    Callback {
        /// The daemon's action name, e.g. `processRecords`.
        action: &'static str,
        /// The shard.
        shard_id: String,
        /// The processor's error.
        #[source]
        source: BoxError,
    },
    /// A callback panicked and the panic [`FailurePolicy`] is `Exit`: the action was not
    /// acknowledged.
    #[error("{action} panicked for shard {shard_id}: {message}")]
    Panic {
        /// The daemon's action name.
        action: &'static str,
        /// The shard.
        shard_id: String,
        /// The panic message.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointError;
    use crate::failure::Chain;

    #[test]
    fn messages_are_one_line_and_show_each_cause_once() {
        let io_error = || io::Error::other("broken pipe (os error 32)");
        let errors = [
            Error::Setup(io_error()),
            Error::Read(io_error()),
            Error::Write(io_error()),
            Error::Callback {
                action: "processRecords",
                shard_id: "shardId-1".into(),
                source: Box::new(CheckpointError::Io(io_error())),
            },
            Error::Protocol {
                action: "processRecords".into(),
                reason: "a record has no sequenceNumber".into(),
                line: "\"{}\"".into(),
            },
        ];
        for error in &errors {
            let report = Chain(error).to_string();
            assert!(!report.contains('\n'), "{report}");
            assert_eq!(
                report.matches("broken pipe").count(),
                usize::from(!matches!(error, Error::Protocol { .. })),
                "{report}"
            );
        }
        assert_eq!(
            Chain(&errors[3]).to_string(),
            "processRecords failed for shard shardId-1: I/O error while checkpointing: broken pipe (os error 32)"
        );
    }
}
