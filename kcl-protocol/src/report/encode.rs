//! One report as a JSON object (format version 1, `REPORTS.md`), written without building a
//! value tree: numbers by `itoa`, strings escaped by serde_json. (`write!` through `core::fmt`
//! made it 3,900 instructions per report, a third of a one-record batch's whole cost under
//! callgrind on kcl-bench's workload b.)

use super::Acknowledged;
use super::outcomes::CheckpointOutcomes;

/// The version of the report format; a receiver ignores reports of versions it does not know.
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Error,
    Panic,
}

/// What one callback did, borrowed from the engine for the time of encoding.
#[derive(Clone, Copy)]
pub(crate) struct Report<'a> {
    pub(crate) pid: u32,
    pub(crate) seq: u64,
    pub(crate) shard_id: &'a str,
    pub(crate) action: &'a str,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) millis_behind_latest: Option<u64>,
    pub(crate) duration_micros: u64,
    pub(crate) checkpoints: &'a CheckpointOutcomes,
    pub(crate) retries: u32,
    pub(crate) failure: Option<(FailureKind, &'a str)>,
    pub(crate) acknowledged: Acknowledged,
}

impl Report<'_> {
    /// Appends the JSON object to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut numbers = itoa::Buffer::new();
        let mut number = |out: &mut Vec<u8>, value: u64| {
            out.extend_from_slice(numbers.format(value).as_bytes());
        };
        out.extend_from_slice(b"{\"version\":");
        number(out, u64::from(FORMAT_VERSION));
        out.extend_from_slice(b",\"pid\":");
        number(out, u64::from(self.pid));
        out.extend_from_slice(b",\"seq\":");
        number(out, self.seq);
        out.extend_from_slice(b",\"shard_id\":");
        string(out, self.shard_id);
        out.extend_from_slice(b",\"action\":");
        string(out, self.action);
        out.extend_from_slice(b",\"records\":");
        number(out, self.records);
        out.extend_from_slice(b",\"bytes\":");
        number(out, self.bytes);
        out.extend_from_slice(b",\"millis_behind_latest\":");
        match self.millis_behind_latest {
            Some(millis) => number(out, millis),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"duration_micros\":");
        number(out, self.duration_micros);
        out.extend_from_slice(b",\"checkpoints\":{");
        for (index, (result, count)) in self.checkpoints.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            string(out, result);
            out.push(b':');
            number(out, u64::from(count));
        }
        out.extend_from_slice(b"},\"retries\":");
        number(out, u64::from(self.retries));
        out.extend_from_slice(b",\"failure\":");
        match self.failure {
            None => out.extend_from_slice(b"null"),
            Some((kind, message)) => {
                out.extend_from_slice(match kind {
                    FailureKind::Error => b"{\"kind\":\"error\",\"message\":",
                    FailureKind::Panic => b"{\"kind\":\"panic\",\"message\":",
                });
                string(out, message);
                out.push(b'}');
            }
        }
        out.extend_from_slice(match self.acknowledged {
            Acknowledged::Yes => b",\"acknowledged\":true}",
            Acknowledged::No => b",\"acknowledged\":false}",
        });
    }
}

/// A JSON string literal: shard ids and action names need no escaping and are copied as they
/// are; anything else goes through serde_json's escaping (a `str` always serializes).
fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}
