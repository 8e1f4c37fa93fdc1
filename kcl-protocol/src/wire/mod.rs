//! The wire format, and nothing else. Every byte the library reads or writes on the protocol pipes
//! goes through this folder, one job per file:
//!
//! - [`framing`]: line framing over any reader ([`LineReader`]), and [`Excerpt`] for messages;
//! - this file: what a line is ([`parse_line`] → [`Parsed`], [`Inbound`]);
//! - `fast_path`: the exact-shape `processRecords` parser, with its equivalence tests;
//! - `lenient`: the serde parser that decides everything the fast path does not take;
//! - [`writer`]: the child's two messages ([`MessageWriter`]).
//!
//! The daemon's side of the format (for the fake daemon and the tests) is in
//! `testing::daemon_side`.
//!
//! # Reading (daemon → child)
//!
//! One JSON object per line. [`LineReader`] keeps one line buffer for the whole run, accepts `\n`
//! and `\r\n` endings and lines of any length, and decodes invalid UTF-8 lossily (U+FFFD) instead
//! of failing. [`parse_line`] then classifies the line:
//!
//! | line | result |
//! | --- | --- |
//! | empty or whitespace only | [`Parsed::Blank`]: skipped silently |
//! | not a JSON object, or an object without a string `action` | [`Parsed::Garbage`]: logged and skipped |
//! | a known action whose fields do not fit (e.g. `initialize` without `shardId`, bad base64) | [`Parsed::Malformed`] |
//! | an object with an action name this library does not know | [`Inbound::Unknown`] |
//! | anything else | the message |
//!
//! Parsing is lenient where the daemon's format may vary: unknown fields are ignored, fields may
//! come in any order, nullable fields may be `null` or absent, numbers may be strings (and sequence
//! numbers numbers), a duplicated key takes the last value, and text after the object is ignored.
//! Records are parsed straight into the reusable [`ProcessRecordsInput`] through its filling
//! methods: strings are copied into the records' existing buffers and base64 is decoded into the
//! existing data buffer, so a warm engine allocates nothing per record.
//!
//! # Writing (child → daemon)
//!
//! Exactly `{"action":"status","responseFor":"<action>"}` and
//! `{"action":"checkpoint","sequenceNumber":<string|null>,"subSequenceNumber":<number|null>}`:
//! the daemon drops a line with any extra field and then waits forever. Output is pure ASCII
//! (non-ASCII escaped as `\uXXXX`) because a daemon on Java ≤ 17 may read the pipe as US-ASCII.
//! Each message is assembled in a buffer and written with one `write_all` and a `flush`. A leading
//! newline is written only when asked for ([`MessageWriter::new`]); see
//! [`Runner::leading_newline`](crate::Runner::leading_newline) for when that helps.

use std::borrow::Cow;

use crate::processor::ProcessRecordsInput;

mod fast_path;
pub(crate) mod framing;
mod lenient;
pub(crate) mod writer;

pub(crate) use framing::{Excerpt, LineReader};
pub use writer::LeadingNewline;
pub(crate) use writer::MessageWriter;
#[cfg(any(test, feature = "testing"))]
pub(crate) use writer::{Escaping, push_json_string};

/// The action names the daemon uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Initialize,
    ProcessRecords,
    LeaseLost,
    ShardEnded,
    ShutdownRequested,
    Checkpoint,
    /// KCL 1.x `shutdown` with a `reason`.
    LegacyShutdown,
    Unknown,
}

impl Kind {
    pub(crate) fn from_name(name: &str) -> Kind {
        match name {
            "initialize" => Kind::Initialize,
            "processRecords" => Kind::ProcessRecords,
            "leaseLost" => Kind::LeaseLost,
            "shardEnded" => Kind::ShardEnded,
            "shutdownRequested" => Kind::ShutdownRequested,
            "checkpoint" => Kind::Checkpoint,
            "shutdown" => Kind::LegacyShutdown,
            _ => Kind::Unknown,
        }
    }
}

/// A daemon message, borrowing its strings from the line where possible.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound<'a> {
    Initialize {
        shard_id: Cow<'a, str>,
        sequence_number: Option<Cow<'a, str>>,
        sub_sequence_number: Option<u64>,
    },
    /// The batch, `millisBehindLatest` included, is in the [`ProcessRecordsInput`] passed to
    /// [`parse_line`] (when one was).
    ProcessRecords,
    LeaseLost,
    ShardEnded,
    ShutdownRequested,
    CheckpointReply {
        sequence_number: Option<Cow<'a, str>>,
        sub_sequence_number: Option<u64>,
        error: Option<Cow<'a, str>>,
    },
    LegacyShutdown {
        reason: Option<Cow<'a, str>>,
    },
    Unknown {
        action: Cow<'a, str>,
    },
}

impl Inbound<'_> {
    /// The action name, as a `status` reply must name it.
    pub(crate) fn action_name(&self) -> &str {
        match self {
            Inbound::Initialize { .. } => "initialize",
            Inbound::ProcessRecords => "processRecords",
            Inbound::LeaseLost => "leaseLost",
            Inbound::ShardEnded => "shardEnded",
            Inbound::ShutdownRequested => "shutdownRequested",
            Inbound::CheckpointReply { .. } => "checkpoint",
            Inbound::LegacyShutdown { .. } => "shutdown",
            Inbound::Unknown { action } => action,
        }
    }
}

/// How a line was classified; see the module docs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    Blank,
    Message(Inbound<'a>),
    /// Not a daemon message at all; `reason` says why.
    Garbage {
        reason: String,
    },
    /// A known action with fields that do not fit.
    Malformed {
        action: String,
        reason: String,
    },
}

/// Parses one line (without its line ending). With `batch`, a `processRecords` message's records
/// are written into it; without, they are skipped unread.
pub(crate) fn parse_line<'a>(
    line: &'a str,
    mut batch: Option<&mut ProcessRecordsInput>,
) -> Parsed<'a> {
    if let Some(batch) = batch.as_deref_mut()
        && fast_path::process_records(line, batch).is_some()
    {
        return Parsed::Message(Inbound::ProcessRecords);
    }
    lenient::parse_line(line, batch)
}

#[cfg(test)]
mod tests;
