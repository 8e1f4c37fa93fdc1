//! The pipes to the daemon, and the checkpoint round trip over them: write a request, then read
//! until the reply, skipping what the daemon would skip and keeping any other message for the
//! engine.

use std::io::{self, BufRead, Write};

use crate::checkpoint::{CheckpointError, CheckpointTransport};
use crate::report::CheckpointOutcomes;
use crate::watchdog::WatchdogHandle;
use crate::wire::{
    Excerpt, Inbound, LeadingNewline, LineReader, MessageWriter, Parsed, parse_line,
};

/// The pipes to the daemon. Implements the checkpoint round trip.
pub(crate) struct Connection<R, W> {
    reader: LineReader<R>,
    writer: MessageWriter<W>,
    /// Told when the daemon's timer restarts after a checkpoint reply.
    watchdog: Option<WatchdogHandle>,
    /// The daemon's answers since the last report (only while reporting to a supervisor).
    outcomes: Option<CheckpointOutcomes>,
}

impl<R: BufRead, W: Write> Connection<R, W> {
    pub(crate) fn new(
        reader: R,
        writer: W,
        leading_newline: LeadingNewline,
        watchdog: Option<WatchdogHandle>,
    ) -> Self {
        Connection {
            reader: LineReader::new(reader),
            writer: MessageWriter::new(writer, leading_newline),
            watchdog,
            outcomes: None,
        }
    }

    /// Counts the daemon's checkpoint answers from now on, for the reports.
    pub(crate) fn count_checkpoint_outcomes(&mut self) {
        self.outcomes = Some(CheckpointOutcomes::default());
    }

    /// The answers counted since the last report, if counting.
    pub(crate) fn checkpoint_outcomes(&mut self) -> Option<&mut CheckpointOutcomes> {
        self.outcomes.as_mut()
    }

    /// The daemon's next line (or the one a checkpoint round trip kept); `None` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<&str>> {
        self.reader.next_line()
    }

    /// Gives back line-buffer memory beyond what a line of `line_len` bytes needs (see
    /// [`LineReader::release_excess`]); whether any was released.
    #[inline]
    pub(crate) fn release_excess(&mut self, line_len: usize) -> bool {
        self.reader.release_excess(line_len)
    }

    /// Writes the `status` that acknowledges `action`.
    #[inline]
    pub(crate) fn acknowledge(&mut self, action: &str) -> io::Result<()> {
        self.writer.write_status(action)
    }
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
                ReplyLine::Reply(result) => {
                    // The daemon wrote its reply and now waits again, with a fresh timeout.
                    if let Some(watchdog) = &self.watchdog {
                        watchdog.restart();
                    }
                    if let Some(outcomes) = &mut self.outcomes {
                        outcomes.note(&result);
                    }
                    return result;
                }
                ReplyLine::Unexpected(action) => {
                    self.reader.unread();
                    // The message is kept: the engine handles it after the current callback.
                    return Err(CheckpointError::Protocol(format!(
                        "expected a checkpoint reply, the daemon sent {action:?}"
                    )));
                }
            }
        }
    }
}
