//! What the fake daemon returns: every [`Exchange`] that crossed the pipes and how the run ended.

use std::fmt;
use std::process::ExitStatus;

use crate::runtime::Error;

/// One entry of a [`Transcript`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// A line the daemon sent to the child (without the line ending).
    Sent(String),
    /// A status the child sent, naming the action it acknowledges.
    Status(String),
    /// A checkpoint request the child sent: sequence number and sub-sequence number as requested.
    Checkpoint {
        /// `null` means "the latest record" (or `SHARD_END` in `shardEnded`).
        sequence_number: Option<String>,
        /// `null` means 0 when a sequence number is given.
        sub_sequence_number: Option<u64>,
    },
    /// A line from the child that the real daemon would skip (and log) or ignore: stray text, a
    /// message with an extra field, a status without `responseFor`.
    Skipped(String),
}

/// How the fake daemon's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonOutcome {
    /// Every scripted action was acknowledged and the child's stdout then closed.
    Completed,
    /// The child's stdout closed while the daemon waited for a status. The real daemon would stop
    /// the whole worker with `System.exit(1)`.
    ChildExited {
        /// The action that was not acknowledged.
        waiting_for: String,
    },
    /// The child acknowledged the wrong action (or sent `responseFor: null`). The real daemon would
    /// stop the whole worker with `System.exit(1)`.
    WrongStatus {
        /// The action the daemon waited for.
        expected: String,
        /// What the child named.
        got: Option<String>,
    },
    /// No line arrived within the timeout while the daemon waited for a status.
    TimedOut {
        /// The action that was not acknowledged.
        waiting_for: String,
    },
    /// Writing to the child failed (its stdin was closed).
    WriteFailed {
        /// The action being sent.
        action: String,
        /// The I/O error.
        error: String,
    },
}

/// Everything that crossed the pipes, and how the run ended.
#[derive(Debug)]
pub struct Transcript {
    exchanges: Vec<Exchange>,
    outcome: DaemonOutcome,
    processor_result: Option<Result<(), Error>>,
    exit_status: Option<ExitStatus>,
    stderr: String,
}

impl Transcript {
    pub(crate) fn new(exchanges: Vec<Exchange>, outcome: DaemonOutcome) -> Self {
        Transcript {
            exchanges,
            outcome,
            processor_result: None,
            exit_status: None,
            stderr: String::new(),
        }
    }

    pub(crate) fn set_processor_result(&mut self, result: Result<(), Error>) {
        self.processor_result = Some(result);
    }

    pub(crate) fn set_exit_status(&mut self, status: ExitStatus) {
        self.exit_status = Some(status);
    }

    pub(crate) fn set_stderr(&mut self, stderr: String) {
        self.stderr = stderr;
    }

    /// Every exchange, in order.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// How the daemon's side ended.
    pub fn outcome(&self) -> &DaemonOutcome {
        &self.outcome
    }

    /// Whether every scripted action was acknowledged.
    pub fn completed(&self) -> bool {
        self.outcome == DaemonOutcome::Completed
    }

    /// The statuses the child sent, in order.
    pub fn statuses(&self) -> Vec<&str> {
        self.exchanges
            .iter()
            .filter_map(|exchange| match exchange {
                Exchange::Status(action) => Some(action.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The checkpoint requests the child sent, in order, as (sequence number, sub-sequence number).
    pub fn checkpoints(&self) -> Vec<(Option<String>, Option<u64>)> {
        self.exchanges
            .iter()
            .filter_map(|exchange| match exchange {
                Exchange::Checkpoint {
                    sequence_number,
                    sub_sequence_number,
                } => Some((sequence_number.clone(), *sub_sequence_number)),
                _ => None,
            })
            .collect()
    }

    /// Lines from the child that the daemon would skip or ignore.
    pub fn skipped(&self) -> Vec<&str> {
        self.exchanges
            .iter()
            .filter_map(|exchange| match exchange {
                Exchange::Skipped(line) => Some(line.as_str()),
                _ => None,
            })
            .collect()
    }

    /// In-process runs: what [`Runner::run_with_io`](crate::Runner::run_with_io) returned. `None` for a binary.
    pub fn processor_result(&self) -> Option<&Result<(), Error>> {
        self.processor_result.as_ref()
    }

    /// Binary runs: the child's exit status. `None` in-process.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit_status
    }

    /// Binary runs: everything the child wrote to stderr (lossy UTF-8). Empty in-process.
    pub fn stderr(&self) -> &str {
        &self.stderr
    }
}

impl fmt::Display for Transcript {
    /// The transcript as `>` (daemon to child) and `<` (child to daemon) lines, then the outcome.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for exchange in &self.exchanges {
            match exchange {
                Exchange::Sent(line) => writeln!(f, "> {line}")?,
                Exchange::Status(action) => writeln!(f, "< status {action}")?,
                Exchange::Checkpoint {
                    sequence_number,
                    sub_sequence_number,
                } => writeln!(
                    f,
                    "< checkpoint {sequence_number:?} {sub_sequence_number:?}"
                )?,
                Exchange::Skipped(line) => writeln!(f, "< (skipped) {line}")?,
            }
        }
        write!(f, "outcome: {:?}", self.outcome)?;
        if let Some(result) = &self.processor_result {
            write!(f, "; processor: {result:?}")?;
        }
        if let Some(status) = self.exit_status {
            write!(f, "; exit: {status}")?;
        }
        if !self.stderr.is_empty() {
            write!(f, "\nstderr:\n{}", self.stderr)?;
        }
        Ok(())
    }
}
