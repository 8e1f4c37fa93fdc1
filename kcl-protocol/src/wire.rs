//! The wire format, and nothing else: line framing, parsing the daemon's messages, and writing the
//! child's two messages. Every byte the library reads or writes on the protocol pipes goes through
//! this file (the fake daemon's side of the format is here too, behind the `testing` feature).
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
//! Records are parsed straight into the reusable [`ProcessRecordsInput`]: strings are copied into
//! the records' existing buffers and base64 is decoded into the existing data buffer, so a warm
//! engine allocates nothing per record.
//!
//! # Writing (child → daemon)
//!
//! Exactly `{"action":"status","responseFor":"<action>"}` and
//! `{"action":"checkpoint","sequenceNumber":<string|null>,"subSequenceNumber":<number|null>}`:
//! the daemon drops a line with any extra field and then waits forever. Output is pure ASCII
//! (non-ASCII escaped as `\uXXXX`) because a daemon on Java ≤ 17 may read the pipe as US-ASCII.
//! Each message is assembled in a buffer and written with one `write_all` and a `flush`. A leading
//! newline is written only when asked for ([`MessageWriter::new`]); see
//! [`Runtime::leading_newline`](crate::Runtime::leading_newline) for when that helps.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::processor::ProcessRecordsInput;
use crate::record::Record;

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

/// Reads lines from the daemon with one reusable buffer.
///
/// Bytes are read through a small staging buffer (at most [`STAGING_MAX`]) and appended to the
/// line buffer, and line ends are found with a SIMD search. Reading straight into the line buffer
/// looks cheaper but is not under a pipe: the kernel then copies into a multi-megabyte buffer that
/// is not in cache, and that copy (`_copy_to_iter`) took 29% of a child's CPU on the throughput
/// workload; through a 64 KiB buffer that stays in cache it is ~2%, and the extra user-space
/// `memcpy` is cheaper than what it saves (measured with kcl-bench under the real pipe).
/// Lines are handed out as `&str` borrowed from the line buffer when they are valid UTF-8
/// (the normal case); otherwise a lossy copy is made. The line buffer grows to the longest line
/// seen and is kept; it grows by at most 1/32 at a time so that it stays close to the longest
/// line's size (peak memory matters with 14 MB batches).
pub(crate) struct LineReader<R> {
    inner: R,
    /// Bytes read so far; `buffer[start..]` is not consumed yet.
    buffer: Vec<u8>,
    start: usize,
    /// Where the search for the next `\n` continues (everything before it was searched).
    scanned: usize,
    /// Where the kernel writes; starts small (an idle child touches as little memory as possible)
    /// and grows to [`STAGING_MAX`] once a read fills it.
    staging: Vec<u8>,
    /// The current line: `buffer[line.0..line.1]`, without its line ending.
    line: (usize, usize),
    /// The current line decoded lossily, when it was not valid UTF-8.
    lossy: Option<String>,
    /// `next_line` hands out the current line again instead of reading (see [`Self::unread`]).
    replay: bool,
    eof: bool,
    lossy_warned: bool,
}

/// The smallest growth of the line buffer once lines get long.
const MIN_GROWTH: usize = 8 * 1024;
/// The first staging buffer: enough for every message but `processRecords`.
const STAGING_MIN: usize = 4 * 1024;
/// The largest staging buffer: the default pipe capacity on Linux, and small enough to stay in
/// the L2 cache.
const STAGING_MAX: usize = 64 * 1024;

impl<R: io::Read> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineReader {
            inner,
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            staging: Vec::new(),
            line: (0, 0),
            lossy: None,
            replay: false,
            eof: false,
            lossy_warned: false,
        }
    }

    /// The next line without its line ending, or `Ok(None)` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<&str>> {
        if self.replay {
            self.replay = false;
            return Ok(Some(self.current()));
        }
        self.lossy = None;
        let (line_start, line_end) = loop {
            if let Some(offset) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
                let newline = self.scanned + offset;
                let line = (self.start, newline);
                self.start = newline + 1;
                self.scanned = self.start;
                break line;
            }
            self.scanned = self.buffer.len();
            if self.eof {
                if self.start == self.buffer.len() {
                    return Ok(None);
                }
                // A last line without a line ending.
                let line = (self.start, self.buffer.len());
                self.start = self.buffer.len();
                break line;
            }
            self.fill()?;
        };
        let mut end = line_end;
        if end > line_start && self.buffer[end - 1] == b'\r' {
            end -= 1;
        }
        self.line = (line_start, end);
        match std::str::from_utf8(&self.buffer[line_start..end]) {
            // Valid UTF-8 (the normal case): borrowed from the buffer, validated once.
            Ok(text) => Ok(Some(text)),
            Err(_) => {
                if !self.lossy_warned {
                    self.lossy_warned = true;
                    tracing::warn!(
                        "the daemon sent invalid UTF-8; decoding it lossily (U+FFFD). If partition \
                         keys are non-ASCII, run the daemon with -Dfile.encoding=UTF-8 or Java 18+"
                    );
                }
                let text = String::from_utf8_lossy(&self.buffer[line_start..end]).into_owned();
                Ok(Some(self.lossy.insert(text)))
            }
        }
    }

    fn current(&self) -> &str {
        match &self.lossy {
            Some(text) => text,
            // Valid (checked in `next_line`); checked again only on replays, which are rare.
            None => std::str::from_utf8(&self.buffer[self.line.0..self.line.1]).unwrap_or_default(),
        }
    }

    /// Reads more bytes into the staging buffer and appends them to the line buffer, first moving
    /// unconsumed bytes to the front.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            // Usually nothing or a few bytes: the daemon writes one message and then waits.
            let unconsumed = self.buffer.len() - self.start;
            self.buffer.copy_within(self.start.., 0);
            self.buffer.truncate(unconsumed);
            self.scanned -= self.start;
            self.line = (0, 0);
            self.start = 0;
        }
        if self.staging.is_empty() {
            self.staging.resize(STAGING_MIN, 0);
        }
        let count = loop {
            match self.inner.read(&mut self.staging) {
                Ok(count) => break count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        };
        if count == 0 {
            self.eof = true;
            return Ok(());
        }
        let free = self.buffer.capacity() - self.buffer.len();
        if free < count {
            // Grow by at least MIN_GROWTH, and by 1/32 of the line for long lines (exactly, so the
            // buffer stays close to the longest line instead of doubling past it).
            let growth = MIN_GROWTH.max(self.buffer.len() / 32).max(count);
            self.buffer.reserve_exact(growth);
        }
        self.buffer.extend_from_slice(&self.staging[..count]);
        if count == self.staging.len() && self.staging.len() < STAGING_MAX {
            // A long message is arriving: read in bigger steps from now on.
            self.staging.resize(STAGING_MAX, 0);
        }
        Ok(())
    }

    /// Makes the next [`next_line`](Self::next_line) return the current line again: a message that
    /// arrived where it could not be handled is kept for the engine instead of being lost.
    pub(crate) fn unread(&mut self) {
        self.replay = true;
    }
}

/// A short, printable excerpt of a line for error messages.
pub(crate) struct Excerpt<'a>(pub(crate) &'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 200;
        let line = self.0;
        if line.len() <= MAX {
            write!(f, "{line:?}")
        } else {
            let mut end = MAX;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            write!(f, "{:?}… ({} bytes)", &line[..end], line.len())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound messages
// ---------------------------------------------------------------------------------------------

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
    fn from_name(name: &str) -> Kind {
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
    /// The records are in the [`ProcessRecordsInput`] passed to [`parse_line`] (when one was).
    ProcessRecords {
        millis_behind_latest: Option<u64>,
    },
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
            Inbound::ProcessRecords { .. } => "processRecords",
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
        && let Some(millis_behind_latest) = fast_path::process_records(line, batch)
    {
        return Parsed::Message(Inbound::ProcessRecords {
            millis_behind_latest,
        });
    }
    parse_line_lenient(line, batch)
}

/// [`parse_line`] without the fast path: the reference behaviour (the fast path's tests compare
/// against it).
fn parse_line_lenient<'a>(line: &'a str, batch: Option<&mut ProcessRecordsInput>) -> Parsed<'a> {
    if line.bytes().all(|b| b.is_ascii_whitespace()) {
        return Parsed::Blank;
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // Not calling `end()`: text after the first object is ignored, as the daemon's Jackson does.
    let envelope = match (EnvelopeSeed { batch }).deserialize(&mut deserializer) {
        Ok(envelope) => envelope,
        Err(error) => return classify_failure(line, error),
    };
    let Some(action) = envelope.action else {
        return Parsed::Garbage {
            reason: "the JSON object has no \"action\"".to_owned(),
        };
    };
    let malformed = |reason: &str| Parsed::Malformed {
        action: action.to_string(),
        reason: reason.to_owned(),
    };
    let message = match Kind::from_name(&action) {
        Kind::Initialize => {
            let Some(shard_id) = envelope.shard_id else {
                return malformed("initialize without a shardId");
            };
            Inbound::Initialize {
                shard_id,
                sequence_number: envelope.sequence_number,
                sub_sequence_number: envelope.sub_sequence_number,
            }
        }
        Kind::ProcessRecords => Inbound::ProcessRecords {
            millis_behind_latest: envelope.millis_behind_latest,
        },
        Kind::LeaseLost => Inbound::LeaseLost,
        Kind::ShardEnded => Inbound::ShardEnded,
        Kind::ShutdownRequested => Inbound::ShutdownRequested,
        Kind::Checkpoint => Inbound::CheckpointReply {
            sequence_number: envelope.sequence_number,
            sub_sequence_number: envelope.sub_sequence_number,
            error: envelope.error,
        },
        Kind::LegacyShutdown => Inbound::LegacyShutdown {
            reason: envelope.reason,
        },
        Kind::Unknown => Inbound::Unknown { action },
    };
    Parsed::Message(message)
}

/// A parser for exactly the `processRecords` line the daemon writes, byte for byte (field order,
/// no whitespace, no escapes). It is an optimisation only: on any difference at all it gives up
/// and the lenient parser reads the line from the start, so it can never accept something the
/// lenient parser would reject or read differently. What it accepts it reads the same way (the
/// tests compare both on the daemon's shape and on every one-byte mutation of it).
///
/// Why: serde_json scans every string byte by byte for escapes; the `data` strings are most of a
/// batch, and here a SIMD search for the closing quote plus a SIMD base64 decode (which fails on
/// any `\\`, so a successful decode proves there was no escape) replaces that scan. Callgrind on
/// the big-batch workload: 547M → 334M instructions.
mod fast_path {
    use crate::processor::ProcessRecordsInput;
    use crate::record::Record;

    /// Fills `batch` from `line` and returns `millisBehindLatest`, or `None` when the line is not
    /// exactly in the daemon's shape (then `batch` holds garbage that the lenient parser resets).
    pub(super) fn process_records(
        line: &str,
        batch: &mut ProcessRecordsInput,
    ) -> Option<Option<u64>> {
        let mut rest = line.as_bytes();
        eat(&mut rest, br#"{"action":"processRecords","records":["#)?;
        let mut count = 0;
        if rest.first() != Some(&b']') {
            loop {
                if count == batch.slots.len() {
                    batch.slots.push(Record::default());
                }
                record(&mut rest, &mut batch.slots[count])?;
                count += 1;
                match rest.split_first()? {
                    (b',', after) => rest = after,
                    (b']', _) => break,
                    _ => return None,
                }
            }
        }
        eat(&mut rest, br#"],"millisBehindLatest":"#)?;
        let millis_behind_latest = if eat(&mut rest, b"null").is_some() {
            None
        } else {
            Some(integer(&mut rest)?)
        };
        // Nothing after the object (the lenient parser ignores trailing text; this one need not).
        if rest != b"}" {
            return None;
        }
        batch.len = count;
        batch.millis_behind_latest = millis_behind_latest;
        Some(millis_behind_latest)
    }

    /// One record: `{"data":"…","partitionKey":"…","sequenceNumber":"…",
    /// "approximateArrivalTimestamp":N,"subSequenceNumber":N,"action":"record"}`.
    fn record(rest: &mut &[u8], slot: &mut Record) -> Option<()> {
        eat(rest, br#"{"data":""#)?;
        let data = string(rest)?;
        slot.data.clear();
        // As the lenient parser: padded input with the standard engine, unpadded without.
        let engine = if data.len().is_multiple_of(4) {
            &base64_simd::STANDARD
        } else {
            &base64_simd::STANDARD_NO_PAD
        };
        engine.decode_append(data, &mut slot.data).ok()?;
        eat(rest, br#","partitionKey":""#)?;
        let key = string(rest)?;
        // An escape or a control character (which JSON forbids unescaped): leave it to serde_json.
        if key.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        // The line is valid UTF-8 and `key` is cut at ASCII quotes, so this only re-checks it.
        let key = std::str::from_utf8(key).ok()?;
        slot.partition_key.clear();
        slot.partition_key.push_str(key);
        eat(rest, br#","sequenceNumber":""#)?;
        let sequence_number = std::str::from_utf8(string(rest)?).ok()?;
        // Digits only (else an error the lenient parser reports), so no escape can hide here.
        slot.sequence_number.set_from(sequence_number).ok()?;
        eat(rest, br#","approximateArrivalTimestamp":"#)?;
        slot.approximate_arrival_millis = Some(i64::try_from(integer(rest)?).ok()?);
        eat(rest, br#","subSequenceNumber":"#)?;
        slot.sub_sequence_number = integer(rest)?;
        eat(rest, br#","action":"record"}"#)
    }

    /// Consumes `literal` if `rest` starts with it.
    fn eat(rest: &mut &[u8], literal: &[u8]) -> Option<()> {
        *rest = rest.strip_prefix(literal)?;
        Some(())
    }

    /// The text up to the next `"` (the opening quote was already eaten), consuming the quote.
    fn string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let end = memchr::memchr(b'"', rest)?;
        let text = &rest[..end];
        *rest = &rest[end + 1..];
        Some(text)
    }

    /// A JSON integer as serde_json reads it into a `u64`: digits, no leading zero, no sign, no
    /// overflow. A fraction or exponent is left unread, and then the caller's next literal fails.
    fn integer(rest: &mut &[u8]) -> Option<u64> {
        let length = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = &rest[..length];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut value: u64 = 0;
        for &digit in digits {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
        }
        *rest = &rest[length..];
        Some(value)
    }
}

/// A line failed the full parse: find out whether it is at least an object with an action name
/// (then the fields are at fault), or no daemon message at all.
fn classify_failure(line: &str, error: serde_json::Error) -> Parsed<'_> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    match ActionOnly.deserialize(&mut deserializer) {
        Ok(Some(action)) => match Kind::from_name(&action) {
            // An action we do not know: its fields are none of our business.
            Kind::Unknown => Parsed::Message(Inbound::Unknown { action }),
            _ => Parsed::Malformed {
                action: action.into_owned(),
                reason: error.to_string(),
            },
        },
        _ => Parsed::Garbage {
            reason: error.to_string(),
        },
    }
}

#[derive(Default)]
struct Envelope<'a> {
    action: Option<Cow<'a, str>>,
    kind: Option<Kind>,
    shard_id: Option<Cow<'a, str>>,
    sequence_number: Option<Cow<'a, str>>,
    sub_sequence_number: Option<u64>,
    millis_behind_latest: Option<u64>,
    error: Option<Cow<'a, str>>,
    reason: Option<Cow<'a, str>>,
}

#[derive(Clone, Copy)]
enum Field {
    Action,
    ShardId,
    SequenceNumber,
    SubSequenceNumber,
    Records,
    MillisBehindLatest,
    Error,
    Reason,
    Other,
}

impl Field {
    /// Whether the field means anything for `kind`. The daemon writes `action` first, so this
    /// usually skips the fields of other actions without looking at them; while the action is
    /// unknown every field is read.
    fn relevant_for(self, kind: Option<Kind>) -> bool {
        use Field::*;
        let Some(kind) = kind else {
            return !matches!(self, Other);
        };
        match self {
            Action => true,
            ShardId => kind == Kind::Initialize,
            SequenceNumber | SubSequenceNumber => {
                matches!(kind, Kind::Initialize | Kind::Checkpoint)
            }
            Records | MillisBehindLatest => kind == Kind::ProcessRecords,
            Error => kind == Kind::Checkpoint,
            Reason => kind == Kind::LegacyShutdown,
            Other => false,
        }
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "action" => Field::Action,
            "shardId" => Field::ShardId,
            "sequenceNumber" => Field::SequenceNumber,
            "subSequenceNumber" => Field::SubSequenceNumber,
            "records" => Field::Records,
            "millisBehindLatest" => Field::MillisBehindLatest,
            "error" => Field::Error,
            "reason" => Field::Reason,
            _ => Field::Other,
        })
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

struct EnvelopeSeed<'b> {
    batch: Option<&'b mut ProcessRecordsInput>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with an \"action\"")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = Envelope::default();
        if let Some(batch) = self.batch.as_deref_mut() {
            batch.len = 0;
            batch.millis_behind_latest = None;
        }
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            if !field.relevant_for(envelope.kind) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match field {
                Field::Action => {
                    envelope.action = map.next_value_seed(Text { numbers: false })?;
                    envelope.kind = envelope.action.as_deref().map(Kind::from_name);
                }
                Field::ShardId => {
                    envelope.shard_id = map.next_value_seed(Text { numbers: false })?
                }
                Field::SequenceNumber => {
                    envelope.sequence_number = map.next_value_seed(Text { numbers: true })?
                }
                Field::SubSequenceNumber => {
                    envelope.sub_sequence_number = map.next_value_seed(LenientU64)?
                }
                Field::MillisBehindLatest => {
                    envelope.millis_behind_latest = map.next_value_seed(LenientU64)?;
                    if let Some(batch) = self.batch.as_deref_mut() {
                        batch.millis_behind_latest = envelope.millis_behind_latest;
                    }
                }
                Field::Error => envelope.error = map.next_value_seed(Text { numbers: false })?,
                Field::Reason => envelope.reason = map.next_value_seed(Text { numbers: false })?,
                Field::Records => match self.batch.as_deref_mut() {
                    Some(batch) => map.next_value_seed(RecordsSeed { batch })?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// Reads only `action` (second pass after a failed parse).
struct ActionOnly;

impl<'de> DeserializeSeed<'de> for ActionOnly {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ActionOnly {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut action = None;
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            match field {
                Field::Action => action = map.next_value_seed(Text { numbers: false })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(action)
    }
}

/// A nullable string, borrowed from the line when it has no escapes. With `numbers`, a JSON
/// integer is accepted and kept as its decimal text (the daemon's Jackson coerces the same way).
#[derive(Clone, Copy)]
struct Text {
    numbers: bool,
}

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numbers {
            f.write_str("a string, an integer or null")
        } else {
            f.write_str("a string or null")
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(text)))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(text.to_owned())))
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        if self.numbers {
            Ok(Some(Cow::Owned(number.to_string())))
        } else {
            Err(E::invalid_type(de::Unexpected::Unsigned(number), &self))
        }
    }
}

/// A nullable non-negative integer; also accepts a decimal string and truncates a fraction, as
/// the daemon's Jackson does.
struct LenientU64;

impl<'de> DeserializeSeed<'de> for LenientU64 {
    type Value = Option<u64>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for LenientU64 {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Some(number))
    }
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        u64::try_from(number)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(number), &self))
    }
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        if number.is_finite() && number >= 0.0 && number < u64::MAX as f64 {
            Ok(Some(number as u64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(number), &self))
        }
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

/// The `records` array, written into the batch's reusable slots.
struct RecordsSeed<'b> {
    batch: &'b mut ProcessRecordsInput,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.batch.len = 0;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let batch = self.batch;
        batch.len = 0;
        let mut count = 0;
        loop {
            if count == batch.slots.len() {
                batch.slots.push(Record::default());
            }
            let slot = &mut batch.slots[count];
            slot.reset();
            match seq.next_element_seed(RecordSeed { slot })? {
                Some(()) => count += 1,
                None => break,
            }
        }
        batch.len = count;
        Ok(())
    }
}

struct RecordSeed<'b> {
    slot: &'b mut Record,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let slot = self.slot;
        let mut has_sequence_number = false;
        while let Some(key) = map.next_key_seed(RecordFieldSeed)? {
            match key {
                RecordField::Data => map.next_value_seed(DataInto(&mut slot.data))?,
                RecordField::PartitionKey => {
                    map.next_value_seed(StringInto(&mut slot.partition_key))?
                }
                RecordField::SequenceNumber => {
                    let text = map
                        .next_value_seed(Text { numbers: true })?
                        .ok_or_else(|| {
                            de::Error::custom(
                                "a record's sequenceNumber is null; cannot checkpoint it",
                            )
                        })?;
                    slot.sequence_number
                        .set_from(&text)
                        .map_err(de::Error::custom)?;
                    has_sequence_number = true;
                }
                RecordField::SubSequenceNumber => {
                    slot.sub_sequence_number = map.next_value_seed(LenientU64)?.unwrap_or(0)
                }
                RecordField::ArrivalTimestamp => {
                    slot.approximate_arrival_millis = map.next_value_seed(LenientMillis)?
                }
                RecordField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if has_sequence_number {
            Ok(())
        } else {
            Err(de::Error::custom("a record has no sequenceNumber"))
        }
    }
}

#[derive(Clone, Copy)]
enum RecordField {
    Data,
    PartitionKey,
    SequenceNumber,
    SubSequenceNumber,
    ArrivalTimestamp,
    Other,
}

struct RecordFieldSeed;

impl<'de> DeserializeSeed<'de> for RecordFieldSeed {
    type Value = RecordField;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RecordField, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for RecordFieldSeed {
    type Value = RecordField;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record field name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<RecordField, E> {
        Ok(match name {
            "data" => RecordField::Data,
            "partitionKey" => RecordField::PartitionKey,
            "sequenceNumber" => RecordField::SequenceNumber,
            "subSequenceNumber" => RecordField::SubSequenceNumber,
            "approximateArrivalTimestamp" => RecordField::ArrivalTimestamp,
            _ => RecordField::Other,
        })
    }
}

/// Base64 text decoded straight into the record's reusable data buffer; `null` means no bytes.
struct DataInto<'b>(&'b mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for DataInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DataInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.clear();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0.clear();
        // The daemon always pads (standard alphabet); unpadded input is accepted too.
        let engine = if text.len().is_multiple_of(4) {
            &base64_simd::STANDARD
        } else {
            &base64_simd::STANDARD_NO_PAD
        };
        engine
            .decode_append(text.as_bytes(), self.0)
            .map_err(|error| {
                E::custom(format_args!("a record's data is not valid base64: {error}"))
            })
    }
}

/// A string copied into an existing `String` (keeps its allocation); `null` means empty.
struct StringInto<'b>(&'b mut String);

impl<'de> DeserializeSeed<'de> for StringInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for StringInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.clear();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0.clear();
        self.0.push_str(text);
        Ok(())
    }
}

/// Epoch milliseconds: an integer (possibly negative), a float (truncated), or null.
struct LenientMillis;

impl<'de> DeserializeSeed<'de> for LenientMillis {
    type Value = Option<i64>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for LenientMillis {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("epoch milliseconds or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Some(number))
    }
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        i64::try_from(number)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(number), &self))
    }
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        if number.is_finite() && number.abs() < i64::MAX as f64 {
            Ok(Some(number as i64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(number), &self))
        }
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound messages
// ---------------------------------------------------------------------------------------------

/// Writes the child's messages, each with one `write_all` and a `flush`.
pub(crate) struct MessageWriter<W> {
    inner: W,
    buffer: Vec<u8>,
    leading_newline: bool,
}

impl<W: Write> MessageWriter<W> {
    /// `leading_newline` starts every message with `\n`, which the daemon skips as an empty line;
    /// it protects the message when something else may have left a partial line on the same pipe.
    pub(crate) fn new(inner: W, leading_newline: bool) -> Self {
        MessageWriter {
            inner,
            buffer: Vec::with_capacity(128),
            leading_newline,
        }
    }

    /// `{"action":"status","responseFor":"<action>"}`
    pub(crate) fn write_status(&mut self, response_for: &str) -> io::Result<()> {
        self.start();
        self.buffer
            .extend_from_slice(br#"{"action":"status","responseFor":"#);
        push_json_string(&mut self.buffer, response_for, true);
        self.buffer.push(b'}');
        self.finish()
    }

    /// `{"action":"checkpoint","sequenceNumber":<string|null>,"subSequenceNumber":<number|null>}`
    pub(crate) fn write_checkpoint(
        &mut self,
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
    ) -> io::Result<()> {
        self.start();
        self.buffer
            .extend_from_slice(br#"{"action":"checkpoint","sequenceNumber":"#);
        match sequence_number {
            Some(digits) => push_json_string(&mut self.buffer, digits, true),
            None => self.buffer.extend_from_slice(b"null"),
        }
        self.buffer.extend_from_slice(br#","subSequenceNumber":"#);
        match sub_sequence_number {
            Some(number) => {
                // Avoids a formatter: a u64 has at most 20 digits.
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut rest = number;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    if rest == 0 {
                        break;
                    }
                }
                self.buffer.extend_from_slice(&digits[at..]);
            }
            None => self.buffer.extend_from_slice(b"null"),
        }
        self.buffer.push(b'}');
        self.finish()
    }

    fn start(&mut self) {
        self.buffer.clear();
        if self.leading_newline {
            self.buffer.push(b'\n');
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.buffer.push(b'\n');
        self.inner.write_all(&self.buffer)?;
        self.inner.flush()
    }
}

/// Appends `text` as a JSON string. With `ascii_only`, every non-ASCII character is escaped as
/// `\uXXXX` (UTF-16), so the output survives a daemon reading US-ASCII; otherwise non-ASCII is
/// written raw, as the daemon's Jackson writes it. Control characters use the short escapes where
/// JSON has them and `\u00XX` with uppercase hex otherwise (Jackson's style).
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str, ascii_only: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let push_u = |out: &mut Vec<u8>, unit: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((unit >> shift) & 0xF)]);
        }
    };
    out.push(b'"');
    // Fast path: action names and sequence numbers need no escaping at all.
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    for ch in text.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => push_u(out, c as u16),
            c if c.is_ascii() || !ascii_only => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u(out, *unit);
                }
            }
        }
    }
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// The daemon's side of the format (for the fake daemon)
// ---------------------------------------------------------------------------------------------

/// The daemon's side: messages exactly as the real daemon writes them (§1.2 of the protocol
/// reference: `action` first, fields in the Java declaration order, nulls written), and the
/// daemon's strict reading of child lines.
#[cfg(any(test, feature = "testing"))]
pub(crate) mod daemon_side {
    use super::*;
    use crate::record::system_time_to_millis;

    fn string_or_null(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(text) => push_json_string(out, text, false),
            None => out.extend_from_slice(b"null"),
        }
    }

    fn number_or_null(out: &mut Vec<u8>, value: Option<impl fmt::Display>) {
        match value {
            Some(number) => out.extend_from_slice(number.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
    }

    fn finish(out: Vec<u8>) -> String {
        String::from_utf8(out).expect("built from UTF-8 pieces")
    }

    pub(crate) fn initialize(
        shard_id: &str,
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
    ) -> String {
        let mut out = br#"{"action":"initialize","shardId":"#.to_vec();
        push_json_string(&mut out, shard_id, false);
        out.extend_from_slice(br#","sequenceNumber":"#);
        string_or_null(&mut out, sequence_number);
        out.extend_from_slice(br#","subSequenceNumber":"#);
        number_or_null(&mut out, sub_sequence_number);
        out.push(b'}');
        finish(out)
    }

    pub(crate) fn process_records(records: &[Record], millis_behind_latest: Option<u64>) -> String {
        let mut out = br#"{"action":"processRecords","records":["#.to_vec();
        for (index, record) in records.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"data":""#);
            base64_simd::STANDARD.encode_append(record.data(), &mut out);
            out.extend_from_slice(br#"","partitionKey":"#);
            push_json_string(&mut out, record.partition_key(), false);
            out.extend_from_slice(br#","sequenceNumber":"#);
            push_json_string(&mut out, record.sequence_number().as_str(), false);
            out.extend_from_slice(br#","approximateArrivalTimestamp":"#);
            number_or_null(
                &mut out,
                record
                    .approximate_arrival_timestamp()
                    .map(system_time_to_millis),
            );
            out.extend_from_slice(br#","subSequenceNumber":"#);
            out.extend_from_slice(record.sub_sequence_number().to_string().as_bytes());
            out.extend_from_slice(br#","action":"record"}"#);
        }
        out.extend_from_slice(br#"],"millisBehindLatest":"#);
        number_or_null(&mut out, millis_behind_latest);
        out.push(b'}');
        finish(out)
    }

    /// `leaseLost`, `shardEnded`, `shutdownRequested` (and any other field-less action).
    pub(crate) fn bare(action: &str) -> String {
        let mut out = br#"{"action":"#.to_vec();
        push_json_string(&mut out, action, false);
        out.push(b'}');
        finish(out)
    }

    pub(crate) fn checkpoint_reply(
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
        error: Option<&str>,
    ) -> String {
        let mut out = br#"{"action":"checkpoint","sequenceNumber":"#.to_vec();
        string_or_null(&mut out, sequence_number);
        out.extend_from_slice(br#","subSequenceNumber":"#);
        number_or_null(&mut out, sub_sequence_number);
        out.extend_from_slice(br#","error":"#);
        string_or_null(&mut out, error);
        out.push(b'}');
        finish(out)
    }

    pub(crate) fn legacy_shutdown(reason: &str) -> String {
        let mut out = br#"{"action":"shutdown","reason":"#.to_vec();
        push_json_string(&mut out, reason, false);
        out.push(b'}');
        finish(out)
    }

    /// A child line as the daemon's `GetNextMessageTask` sees it (§1.4 of the reference).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum ChildLine {
        /// An exactly-empty line: skipped silently.
        Empty,
        /// `status`; `None` when `responseFor` is null or absent (the daemon then fails the action).
        Status(Option<String>),
        /// `checkpoint`, with the request's fields after Jackson's coercions.
        Checkpoint(Option<String>, Option<u64>),
        /// A daemon-to-child message the protocol loop ignores.
        Ignored(String),
        /// Not a message: skipped with an INFO log.
        Skipped,
    }

    pub(crate) fn parse_child_line(line: &str) -> ChildLine {
        use serde::Deserialize as _;
        use serde_json::Value;
        if line.is_empty() {
            return ChildLine::Empty;
        }
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let Ok(Value::Object(object)) = Value::deserialize(&mut deserializer) else {
            return ChildLine::Skipped;
        };
        let Some(Value::String(action)) = object.get("action") else {
            return ChildLine::Skipped;
        };
        let allowed: &[&str] = match action.as_str() {
            "status" => &["action", "responseFor"],
            "checkpoint" => &["action", "sequenceNumber", "subSequenceNumber", "error"],
            "initialize" | "processRecords" | "leaseLost" | "shardEnded" | "shutdownRequested"
            | "shutdown" => return ChildLine::Ignored(action.clone()),
            _ => return ChildLine::Skipped,
        };
        // Jackson's FAIL_ON_UNKNOWN_PROPERTIES: one extra field drops the whole line.
        if object.keys().any(|key| !allowed.contains(&key.as_str())) {
            return ChildLine::Skipped;
        }
        if action == "status" {
            return match object.get("responseFor") {
                None | Some(Value::Null) => ChildLine::Status(None),
                Some(Value::String(name)) => ChildLine::Status(Some(name.clone())),
                Some(Value::Number(n)) => ChildLine::Status(Some(n.to_string())),
                Some(_) => ChildLine::Skipped,
            };
        }
        let sequence_number = match object.get("sequenceNumber") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return ChildLine::Skipped,
        };
        let sub_sequence_number = match object.get("subSequenceNumber") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)) {
                Some(value) => Some(value),
                None => return ChildLine::Skipped,
            },
            Some(Value::String(text)) => match text.parse() {
                Ok(value) => Some(value),
                Err(_) => return ChildLine::Skipped,
            },
            Some(_) => return ChildLine::Skipped,
        };
        ChildLine::Checkpoint(sequence_number, sub_sequence_number)
    }
}

#[cfg(test)]
mod tests {
    use super::daemon_side::{ChildLine, parse_child_line};
    use super::*;

    fn parse(line: &str) -> Parsed<'_> {
        parse_line(line, None)
    }

    fn write_with(f: impl FnOnce(&mut MessageWriter<&mut Vec<u8>>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut MessageWriter::new(&mut out, false)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_and_checkpoint_are_byte_exact() {
        assert_eq!(
            write_with(|w| w.write_status("initialize")),
            "{\"action\":\"status\",\"responseFor\":\"initialize\"}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(None, None)),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(Some("123"), Some(18446744073709551615))),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":\"123\",\"subSequenceNumber\":18446744073709551615}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(Some("7"), Some(0))),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":\"7\",\"subSequenceNumber\":0}\n"
        );
        let mut out = Vec::new();
        MessageWriter::new(&mut out, true)
            .write_status("leaseLost")
            .unwrap();
        assert_eq!(
            out,
            b"\n{\"action\":\"status\",\"responseFor\":\"leaseLost\"}\n"
        );
    }

    #[test]
    fn outbound_strings_are_ascii_json() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\n\u{b}é😀\u{7f}", true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\n\u000B\u00E9\uD83D\uDE00"#.to_owned() + "\u{7f}\""
        );
    }

    #[test]
    fn our_output_is_what_the_daemon_accepts() {
        for (line, expected) in [
            (
                write_with(|w| w.write_status("processRecords")),
                ChildLine::Status(Some("processRecords".into())),
            ),
            (
                write_with(|w| w.write_checkpoint(Some("5"), None)),
                ChildLine::Checkpoint(Some("5".into()), None),
            ),
            (
                write_with(|w| w.write_status("weird \"name\" é")),
                ChildLine::Status(Some("weird \"name\" é".into())),
            ),
        ] {
            assert_eq!(parse_child_line(line.trim_end_matches('\n')), expected);
        }
    }

    #[test]
    fn every_daemon_message_shape_parses() {
        assert_eq!(
            parse(
                r#"{"action":"initialize","shardId":"shardId-000000000001","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}"#
            ),
            Parsed::Message(Inbound::Initialize {
                shard_id: "shardId-000000000001".into(),
                sequence_number: Some("TRIM_HORIZON".into()),
                sub_sequence_number: Some(0)
            })
        );
        assert_eq!(
            parse(
                r#"{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}"#
            ),
            Parsed::Message(Inbound::Initialize {
                shard_id: "s".into(),
                sequence_number: None,
                sub_sequence_number: None
            })
        );
        for (line, expected) in [
            (r#"{"action":"leaseLost"}"#, Inbound::LeaseLost),
            (r#"{"action":"shardEnded"}"#, Inbound::ShardEnded),
            (
                r#"{"action":"shutdownRequested"}"#,
                Inbound::ShutdownRequested,
            ),
            (
                r#"{"action":"shutdown","reason":"ZOMBIE"}"#,
                Inbound::LegacyShutdown {
                    reason: Some("ZOMBIE".into()),
                },
            ),
            (
                r#"{"action":"checkpoint","sequenceNumber":"123","subSequenceNumber":null,"error":"IllegalArgumentException"}"#,
                Inbound::CheckpointReply {
                    sequence_number: Some("123".into()),
                    sub_sequence_number: None,
                    error: Some("IllegalArgumentException".into()),
                },
            ),
            (
                r#"{"action":"futureThing","x":[1,{"y":2}]}"#,
                Inbound::Unknown {
                    action: "futureThing".into(),
                },
            ),
        ] {
            assert_eq!(parse(line), Parsed::Message(expected), "{line}");
        }
    }

    #[test]
    fn records_fill_the_reusable_batch() {
        let mut batch = ProcessRecordsInput::default();
        let line = r#"{"action":"processRecords","records":[{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","approximateArrivalTimestamp":1476889707000,"subSequenceNumber":0,"action":"record"},{"data":null,"partitionKey":"d\u00e9","sequenceNumber":"2","approximateArrivalTimestamp":null,"subSequenceNumber":null}],"millisBehindLatest":1234}"#;
        assert_eq!(
            parse_line(line, Some(&mut batch)),
            Parsed::Message(Inbound::ProcessRecords {
                millis_behind_latest: Some(1234)
            })
        );
        let records = batch.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].data(), b"meow");
        assert_eq!(records[0].partition_key(), "cat");
        assert_eq!(records[1].data(), b"");
        assert_eq!(records[1].partition_key(), "dé");
        assert_eq!(records[1].approximate_arrival_timestamp(), None);
        let capacity = batch.slots[0].data.capacity();
        // The next batch reuses the slots.
        let line = r#"{"action":"processRecords","records":[{"data":"eA==","partitionKey":"k","sequenceNumber":"3"}],"millisBehindLatest":null}"#;
        parse_line(line, Some(&mut batch));
        assert_eq!(batch.records().len(), 1);
        assert_eq!(batch.records()[0].data(), b"x");
        assert_eq!(batch.slots[0].data.capacity(), capacity);
        assert_eq!(batch.millis_behind_latest(), None);
    }

    #[test]
    fn lenient_forms() {
        // Field order, unknown fields, duplicate keys (last wins), trailing text, numbers as text.
        assert_eq!(
            parse(
                r#" {"shardId":"a","extra":{"n":[1]},"action":"initialize","shardId":"b","subSequenceNumber":"7","sequenceNumber":42} trailing"#
            ),
            Parsed::Message(Inbound::Initialize {
                shard_id: "b".into(),
                sequence_number: Some("42".into()),
                sub_sequence_number: Some(7)
            })
        );
        assert_eq!(parse(""), Parsed::Blank);
        assert_eq!(parse(" \t "), Parsed::Blank);
    }

    #[test]
    fn garbage_and_malformed_are_told_apart() {
        for line in [
            "not json",
            "[1,2]",
            "{\"x\":1}",
            "{\"action\":null}",
            "{\"action\":\"initialize\"",
            "\"s\"",
        ] {
            assert!(matches!(parse(line), Parsed::Garbage { .. }), "{line}");
        }
        for line in [
            r#"{"action":"initialize"}"#,
            r#"{"action":"initialize","shardId":5}"#,
        ] {
            assert!(matches!(parse(line), Parsed::Malformed { .. }), "{line}");
        }
        let mut batch = ProcessRecordsInput::default();
        for line in [
            r#"{"action":"processRecords","records":[{"data":"!!","partitionKey":"k","sequenceNumber":"1"}]}"#,
            r#"{"action":"processRecords","records":[{"data":"","partitionKey":"k"}]}"#,
            r#"{"action":"processRecords","records":[{"data":"","partitionKey":"k","sequenceNumber":"1x"}]}"#,
            r#"{"action":"processRecords","records":{}}"#,
            r#"{"records":[{"data":"!!"}],"action":"processRecords"}"#,
        ] {
            assert!(
                matches!(parse_line(line, Some(&mut batch)), Parsed::Malformed { .. }),
                "{line}"
            );
        }
    }

    #[test]
    fn line_reader_handles_endings_replay_and_invalid_utf8() {
        let input: &[u8] = b"a\r\n\nb\nc\xff\xfed\nlast";
        let mut reader = LineReader::new(input);
        assert_eq!(reader.next_line().unwrap(), Some("a"));
        assert_eq!(reader.next_line().unwrap(), Some(""));
        assert_eq!(reader.next_line().unwrap(), Some("b"));
        reader.unread();
        assert_eq!(reader.next_line().unwrap(), Some("b"));
        assert_eq!(reader.next_line().unwrap(), Some("c\u{fffd}\u{fffd}d"));
        assert_eq!(reader.next_line().unwrap(), Some("last"));
        assert_eq!(reader.next_line().unwrap(), None);
        assert_eq!(reader.next_line().unwrap(), None);
    }
}

#[cfg(test)]
mod properties {
    //! Property tests of the inbound parser and the outbound writer (run in the normal suite).
    use super::daemon_side::{self, ChildLine, parse_child_line};
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn record_strategy() -> impl Strategy<Value = Record> {
        (
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<String>(),
            "[0-9]{1,56}",
            any::<u64>(),
            proptest::option::of(0i64..4_102_444_800_000),
        )
            .prop_map(|(data, key, seq, sub, arrival)| {
                Record::new(
                    data,
                    key,
                    seq.parse().unwrap(),
                    sub,
                    arrival.map(|ms| UNIX_EPOCH + Duration::from_millis(ms as u64)),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn parse_line_never_panics_on_any_text(line in any::<String>()) {
            let mut batch = ProcessRecordsInput::default();
            let _ = parse_line(&line, Some(&mut batch));
            let _ = parse_line(&line, None);
        }

        #[test]
        fn parse_line_never_panics_on_json_like_text(
            line in r#"[\{\}\[\]",:0-9a-zA-Z\\ .\-]{0,80}"#,
            prefix in prop::sample::select(vec![
                "", r#"{"action":"processRecords","records":["#,
                r#"{"action":"initialize","shardId":"#, r#"{"action":"checkpoint","#,
            ]),
        ) {
            let line = format!("{prefix}{line}");
            let mut batch = ProcessRecordsInput::default();
            let _ = parse_line(&line, Some(&mut batch));
        }

        #[test]
        fn line_reader_never_fails_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut reader = LineReader::new(bytes.as_slice());
            let mut lines = 0;
            while let Some(line) = reader.next_line().unwrap() {
                prop_assert!(!line.contains('\n'));
                lines += 1;
            }
            prop_assert_eq!(lines, bytes.split(|&b| b == b'\n').filter(|_| true).count()
                - usize::from(bytes.is_empty() || bytes.last() == Some(&b'\n')));
        }

        #[test]
        fn records_round_trip_through_the_daemon_format(
            records in proptest::collection::vec(record_strategy(), 0..8),
            behind in proptest::option::of(any::<u64>()),
        ) {
            let line = daemon_side::process_records(&records, behind);
            let mut batch = ProcessRecordsInput::default();
            // Parse twice into the same batch: reuse must not leak data between batches.
            for _ in 0..2 {
                let parsed = parse_line(&line, Some(&mut batch));
                prop_assert_eq!(parsed, Parsed::Message(Inbound::ProcessRecords { millis_behind_latest: behind }));
                prop_assert_eq!(batch.records(), records.as_slice());
            }
        }

        #[test]
        fn initialize_round_trips_any_shard_id(shard_id in any::<String>(), seq in proptest::option::of("[0-9]{1,56}"), sub in any::<u64>()) {
            let line = daemon_side::initialize(&shard_id, seq.as_deref(), seq.as_ref().map(|_| sub));
            let parsed = parse_line(&line, None);
            prop_assert_eq!(parsed, Parsed::Message(Inbound::Initialize {
                shard_id: shard_id.as_str().into(),
                sequence_number: seq.as_deref().map(Into::into),
                sub_sequence_number: seq.as_ref().map(|_| sub),
            }));
        }

        #[test]
        fn field_order_and_unknown_fields_do_not_matter(
            shard_id in "[a-zA-Z0-9-]{1,30}",
            extra in proptest::collection::btree_map("[a-z]{1,8}", any::<i32>(), 0..4),
            reverse in any::<bool>(),
        ) {
            let mut fields: Vec<(String, serde_json::Value)> = vec![
                ("action".into(), "initialize".into()),
                ("shardId".into(), shard_id.clone().into()),
                ("sequenceNumber".into(), serde_json::Value::Null),
            ];
            for (key, value) in extra {
                if !["action", "shardId", "sequenceNumber", "subSequenceNumber"].contains(&key.as_str()) {
                    fields.push((key, value.into()));
                }
            }
            if reverse {
                fields.reverse();
            }
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
                .collect();
            let line = format!("{{{}}}", body.join(","));
            prop_assert_eq!(parse_line(&line, None), Parsed::Message(Inbound::Initialize {
                shard_id: shard_id.as_str().into(),
                sequence_number: None,
                sub_sequence_number: None,
            }));
        }

        #[test]
        fn checkpoint_replies_round_trip_any_error_name(error in proptest::option::of(any::<String>()), seq in proptest::option::of("[0-9]{1,20}")) {
            let line = daemon_side::checkpoint_reply(seq.as_deref(), None, error.as_deref());
            prop_assert_eq!(parse_line(&line, None), Parsed::Message(Inbound::CheckpointReply {
                sequence_number: seq.as_deref().map(Into::into),
                sub_sequence_number: None,
                error: error.as_deref().map(Into::into),
            }));
        }

        #[test]
        fn every_status_we_write_is_ascii_and_accepted_by_the_daemon(name in any::<String>()) {
            let mut out = Vec::new();
            MessageWriter::new(&mut out, false).write_status(&name).unwrap();
            prop_assert!(out.is_ascii());
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            let line = std::str::from_utf8(&out).unwrap().trim_end_matches('\n');
            prop_assert_eq!(parse_child_line(line), ChildLine::Status(Some(name)));
        }

        #[test]
        fn every_checkpoint_we_write_is_accepted_by_the_daemon(seq in proptest::option::of("[0-9]{1,56}"), sub in proptest::option::of(any::<u64>())) {
            let mut out = Vec::new();
            MessageWriter::new(&mut out, false).write_checkpoint(seq.as_deref(), sub).unwrap();
            let line = std::str::from_utf8(&out).unwrap().trim_end_matches('\n');
            prop_assert_eq!(parse_child_line(line), ChildLine::Checkpoint(seq, sub));
        }
    }
}

#[cfg(test)]
mod fast_path_equivalence {
    //! The `processRecords` fast path must read what the lenient parser reads, and give up (so
    //! that the lenient parser decides) on everything else.
    use super::*;

    type Snapshot = (
        Vec<(Vec<u8>, String, String, u64, Option<i64>)>,
        Option<u64>,
    );

    fn snapshot(batch: &ProcessRecordsInput) -> Snapshot {
        let records = batch.slots[..batch.len]
            .iter()
            .map(|r| {
                (
                    r.data.clone(),
                    r.partition_key.clone(),
                    r.sequence_number.as_str().to_owned(),
                    r.sub_sequence_number,
                    r.approximate_arrival_millis,
                )
            })
            .collect();
        (records, batch.millis_behind_latest)
    }

    /// A batch that already held other records, as in a running engine.
    fn used_batch() -> ProcessRecordsInput {
        let mut batch = ProcessRecordsInput::default();
        let line = daemon_line(&[
            ("c3RhbGU=", "stale", "111"),
            ("c3RhbGU=", "stale", "112"),
            ("c3RhbGU=", "stale", "113"),
        ]);
        assert!(fast_path::process_records(&line, &mut batch).is_some());
        batch
    }

    fn daemon_line(records: &[(&str, &str, &str)]) -> String {
        let records: Vec<String> = records
            .iter()
            .map(|(data, key, sequence)| {
                format!(
                    r#"{{"data":"{data}","partitionKey":"{key}","sequenceNumber":"{sequence}","approximateArrivalTimestamp":1476889707000,"subSequenceNumber":0,"action":"record"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"action":"processRecords","records":[{}],"millisBehindLatest":1234}}"#,
            records.join(",")
        )
    }

    /// Parses `line` with and without the fast path and asserts the same outcome; returns whether
    /// the fast path took the line.
    fn check(line: &str) -> bool {
        let mut fast = used_batch();
        let mut lenient = used_batch();
        let taken = fast_path::process_records(line, &mut used_batch()).is_some();
        let fast_parsed = parse_line(line, Some(&mut fast));
        let lenient_parsed = parse_line_lenient(line, Some(&mut lenient));
        assert_eq!(fast_parsed, lenient_parsed, "line: {line}");
        if matches!(fast_parsed, Parsed::Message(Inbound::ProcessRecords { .. })) {
            assert_eq!(snapshot(&fast), snapshot(&lenient), "line: {line}");
        }
        taken
    }

    const SEQUENCE: &str = "49590338271490256608559692538361571095921575989136588898";

    #[test]
    fn takes_the_daemons_shape_and_reads_it_like_the_lenient_parser() {
        let canonical = [
            daemon_line(&[("bWVvdw==", "cat", SEQUENCE)]),
            daemon_line(&[
                ("bWVvdw==", "cat", SEQUENCE),
                ("", "dog", "1"),
                ("AAEC", "é ✓", "2"),
            ]),
            daemon_line(&[]),
            // Unpadded base64 is accepted by both.
            daemon_line(&[("bWVvdw", "cat", "3")]),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":null}"#.to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":0}"#.to_owned(),
        ];
        for line in &canonical {
            assert!(check(line), "the fast path should take {line}");
        }
        let mut batch = ProcessRecordsInput::default();
        assert_eq!(
            parse_line(&canonical[1], Some(&mut batch)),
            Parsed::Message(Inbound::ProcessRecords {
                millis_behind_latest: Some(1234)
            })
        );
        assert_eq!(batch.len, 3);
        assert_eq!(batch.slots[0].data, b"meow");
        assert_eq!(batch.slots[2].partition_key, "é ✓");
        assert_eq!(
            batch.slots[0].approximate_arrival_millis,
            Some(1476889707000)
        );
    }

    #[test]
    fn leaves_every_other_shape_to_the_lenient_parser() {
        let record = |body: &str| {
            format!(r#"{{"action":"processRecords","records":[{body}],"millisBehindLatest":5}}"#)
        };
        let tail = r#""approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record""#;
        let variants = [
            // Escapes in the partition key (valid and an escaped quote).
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"ca\u0074","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"c\"t","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"c\\","sequenceNumber":"1",{tail}}}"#
            )),
            // A raw control character (JSON forbids it: the lenient parser rejects the line).
            record(&format!(
                "{{\"data\":\"bWVvdw==\",\"partitionKey\":\"c\tt\",\"sequenceNumber\":\"1\",{tail}}}"
            )),
            // An escape inside data.
            record(&format!(
                r#"{{"data":"bWVv\u0064w==","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw\/=","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            // Invalid base64.
            record(&format!(
                r#"{{"data":"bWVvdw=!","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"b","partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            // Reordered fields.
            record(&format!(
                r#"{{"partitionKey":"cat","data":"bWVvdw==","sequenceNumber":"1",{tail}}}"#
            )),
            r#"{"records":[],"action":"processRecords","millisBehindLatest":5}"#.to_owned(),
            r#"{"action":"processRecords","millisBehindLatest":5,"records":[]}"#.to_owned(),
            // Extra, missing and duplicated fields.
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1",{tail},"x":1}}"#
            )),
            record(r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1"}"#),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1",{tail},"data":"AA=="}}"#
            )),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5,"extra":null}"#
                .to_owned(),
            r#"{"action":"processRecords","records":[]}"#.to_owned(),
            // Nulls.
            record(&format!(
                r#"{{"data":null,"partitionKey":"cat","sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":null,"sequenceNumber":"1",{tail}}}"#
            )),
            record(&format!(
                r#"{{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":null,{tail}}}"#
            )),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":null,"subSequenceNumber":null,"action":"record"}"#,
            ),
            r#"{"action":"processRecords","records":null,"millisBehindLatest":5}"#.to_owned(),
            // Numbers in other forms: strings, fractions, exponents, signs, leading zeros, overflow.
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":1,"approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":"1","subSequenceNumber":"0","action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1.5,"subSequenceNumber":0.0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1e3,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":-1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":01,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":9223372036854775808,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"1","approximateArrivalTimestamp":1,"subSequenceNumber":18446744073709551616,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"12a","approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            record(
                r#"{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"","approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}"#,
            ),
            // Whitespace, trailing text, a truncated line.
            r#"{"action":"processRecords", "records":[],"millisBehindLatest":5}"#.to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5} trailing"#
                .to_owned(),
            r#"{"action":"processRecords","records":[],"millisBehindLatest":5}{}"#.to_owned(),
            r#"{"action":"processRecords","records":[{"data":"bWVvdw==""#.to_owned(),
        ];
        for line in &variants {
            assert!(
                !check(line),
                "the fast path must leave this to serde_json: {line}"
            );
        }
    }

    #[test]
    fn every_one_byte_mutation_of_the_daemons_shape_reads_the_same() {
        let line = daemon_line(&[("bWVvdw==", "cat", SEQUENCE), ("AAEC", "k", "7")]);
        let mut taken = 0;
        for at in 0..=line.len() {
            for replacement in [
                "", "\\", "\"", " ", "0", "9", ",", "}", "]", "A", "=", "-", ".", "\t", "é",
            ] {
                let mut mutated = line.clone();
                if at < line.len() {
                    mutated.replace_range(at..at + 1, replacement);
                } else {
                    mutated.push_str(replacement);
                }
                if check(&mutated) {
                    taken += 1;
                }
            }
        }
        // Some mutations stay in the daemon's shape (other digits, other base64 or key letters).
        assert!(taken > 0);
    }
}
