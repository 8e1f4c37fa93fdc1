//! One report as a JSON object (format version 1, `REPORTS.md`), written without building a
//! value tree: numbers written with `write!`, strings escaped by serde_json.

use std::io::Write;

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
    /// Appends the JSON object to `out` (writing to a `Vec` cannot fail).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{{\"version\":{FORMAT_VERSION},\"pid\":{},\"seq\":{}",
            self.pid, self.seq
        );
        out.extend_from_slice(b",\"shard_id\":");
        string(out, self.shard_id);
        out.extend_from_slice(b",\"action\":");
        string(out, self.action);
        let _ = write!(
            out,
            ",\"records\":{},\"bytes\":{},\"millis_behind_latest\":",
            self.records, self.bytes
        );
        match self.millis_behind_latest {
            Some(millis) => {
                let _ = write!(out, "{millis}");
            }
            None => out.extend_from_slice(b"null"),
        }
        let _ = write!(
            out,
            ",\"duration_micros\":{},\"checkpoints\":{{",
            self.duration_micros
        );
        for (index, (result, count)) in self.checkpoints.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            string(out, result);
            let _ = write!(out, ":{count}");
        }
        let _ = write!(out, "}},\"retries\":{},\"failure\":", self.retries);
        match self.failure {
            None => out.extend_from_slice(b"null"),
            Some((kind, message)) => {
                let kind = match kind {
                    FailureKind::Error => "error",
                    FailureKind::Panic => "panic",
                };
                let _ = write!(out, "{{\"kind\":\"{kind}\",\"message\":");
                string(out, message);
                out.push(b'}');
            }
        }
        let acknowledged = match self.acknowledged {
            Acknowledged::Yes => "true",
            Acknowledged::No => "false",
        };
        let _ = write!(out, ",\"acknowledged\":{acknowledged}}}");
    }
}

/// A JSON string literal (serde_json's escaping; a `str` always serializes).
fn string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}
