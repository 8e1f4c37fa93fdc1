//! Reports to a supervisor: after each callback, one JSON datagram saying what the child just did
//! (the format, version 1, is in `REPORTS.md` at the crate's root).
//!
//! A supervisor (`kcl-bootstrap --supervise --metrics-addr`) binds a Unix datagram socket in a
//! private directory and names it in the environment variable [`REPORT_SOCKET_VARIABLE`]; the JVM
//! passes its environment on to every child. Without the variable nothing here runs and nothing is
//! allocated per batch.
//!
//! Sending must never cost the shard anything that matters: the socket is non-blocking, a datagram
//! that does not fit in the receiver's queue is dropped (a lost report is a lost sample, which the
//! supervisor sees as a gap in `seq`), an error never reaches the callback, and nothing is written
//! to stdout. The report is sent after the action was acknowledged, so the daemon does not wait
//! for it.

mod encode;
mod outcomes;
mod sender;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) use outcomes::CheckpointOutcomes;

use crate::failure::{Chain, Failure};
use crate::processor::ProcessRecordsInput;
use encode::{FailureKind, Report};
use sender::Sender;

/// The environment variable with the path of the supervisor's report socket.
pub const REPORT_SOCKET_VARIABLE: &str = "KCL_SUPERVISOR_SOCKET";

/// The socket named by [`REPORT_SOCKET_VARIABLE`]; `None` when it is unset or empty.
pub(crate) fn socket_from_environment() -> Option<PathBuf> {
    let value = std::env::var_os(REPORT_SOCKET_VARIABLE)?;
    if value.is_empty() {
        return None;
    }
    Some(PathBuf::from(value))
}

/// Whether the daemon got its status for the action (or the child exits without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acknowledged {
    Yes,
    No,
}

/// The engine's reporter: inactive (every method a no-op) unless a socket was named.
pub(crate) struct Reporter {
    active: Option<Box<Active>>,
}

struct Active {
    sender: Sender,
    /// Reused for every datagram.
    buffer: Vec<u8>,
    /// Numbers the reports of this process, so that the receiver can count lost ones.
    seq: u64,
    pid: u32,
    current: Option<Current>,
}

/// What is known about the callback being handled.
struct Current {
    action: &'static str,
    started: Instant,
    retries: u32,
    failure: Option<(FailureKind, String)>,
}

/// Longest failure message sent (the supervisor keeps only the last one per shard for display).
const MAX_FAILURE_MESSAGE: usize = 512;

impl Reporter {
    /// Reports to `socket`, or nowhere with `None`. A socket that cannot be created is one WARN,
    /// then nothing.
    pub(crate) fn new(socket: Option<&Path>) -> Self {
        let Some(path) = socket else {
            return Reporter { active: None };
        };
        match Sender::new(path) {
            Ok(sender) => Reporter {
                active: Some(Box::new(Active {
                    sender,
                    buffer: Vec::with_capacity(512),
                    seq: 0,
                    pid: std::process::id(),
                    current: None,
                })),
            },
            Err(error) => {
                tracing::warn!(
                    socket = %path.display(),
                    "not reporting to the supervisor: could not create a datagram socket: {error}"
                );
                Reporter { active: None }
            }
        }
    }

    /// Whether reports are sent (the engine counts checkpoint outcomes only then).
    pub(crate) fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// A callback for `action` starts (`None`: a message that calls no callback).
    #[inline]
    pub(crate) fn begin(&mut self, action: Option<&'static str>) {
        if let (Some(active), Some(action)) = (self.active.as_deref_mut(), action) {
            active.current = Some(Current {
                action,
                started: Instant::now(),
                retries: 0,
                failure: None,
            });
        }
    }

    /// The callback is being called again (after `attempt` failed attempts).
    #[inline]
    pub(crate) fn note_retry(&mut self) {
        if let Some(current) = self.current() {
            current.retries += 1;
        }
    }

    /// The callback failed, after any retries. A checkpoint refused because the lease moved is not
    /// a failure of the processor (its outcome is in the checkpoints) and is not noted.
    pub(crate) fn note_failure(&mut self, failure: &Failure) {
        if failure.is_lease_refusal() {
            return;
        }
        let Some(current) = self.current() else {
            return;
        };
        let (kind, mut message) = match failure {
            Failure::Error(error) => (FailureKind::Error, Chain(error.as_ref()).to_string()),
            Failure::Panic(message) => (FailureKind::Panic, message.clone()),
        };
        truncate(&mut message, MAX_FAILURE_MESSAGE);
        current.failure = Some((kind, message));
    }

    fn current(&mut self) -> Option<&mut Current> {
        self.active.as_deref_mut()?.current.as_mut()
    }

    /// The callback is handled: sends its report. `batch` is read only for `processRecords`.
    pub(crate) fn finish(
        &mut self,
        shard_id: &str,
        batch: &ProcessRecordsInput,
        outcomes: Option<&mut CheckpointOutcomes>,
        acknowledged: Acknowledged,
    ) {
        let Some(active) = self.active.as_deref_mut() else {
            return;
        };
        let Some(current) = active.current.take() else {
            return;
        };
        let duration = current.started.elapsed();
        let (records, bytes, millis_behind_latest) = if current.action == "processRecords" {
            let records = batch.records();
            let bytes = records
                .iter()
                .map(|record| record.data().len() as u64)
                .sum();
            (records.len() as u64, bytes, batch.millis_behind_latest())
        } else {
            (0, 0, None)
        };
        active.seq += 1;
        let empty = CheckpointOutcomes::default();
        let report = Report {
            pid: active.pid,
            seq: active.seq,
            shard_id,
            action: current.action,
            records,
            bytes,
            millis_behind_latest,
            duration_micros: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            checkpoints: outcomes.as_deref().unwrap_or(&empty),
            retries: current.retries,
            failure: current
                .failure
                .as_ref()
                .map(|(kind, message)| (*kind, message.as_str())),
            acknowledged,
        };
        active.buffer.clear();
        report.encode(&mut active.buffer);
        active.sender.send(&active.buffer);
        if let Some(outcomes) = outcomes {
            outcomes.clear();
        }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

#[cfg(test)]
mod tests;
