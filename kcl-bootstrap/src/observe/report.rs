//! The children's report datagrams (format version 1, `kcl-protocol/REPORTS.md`), parsed.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The only format version this supervisor reads; others are counted as rejected.
const FORMAT_VERSION: u32 = 1;

/// Longest shard id or result name kept (a label value); longer ones are cut.
pub(crate) const MAX_LABEL_LENGTH: usize = 256;

/// What one callback of one child did.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChildReport {
    pub(crate) pid: u32,
    pub(crate) seq: u64,
    pub(crate) shard_id: String,
    pub(crate) action: String,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) millis_behind_latest: Option<u64>,
    pub(crate) duration_micros: u64,
    /// Result name (`ok` or the daemon's exception name) and count.
    pub(crate) checkpoints: BTreeMap<String, u64>,
    pub(crate) retries: u64,
    /// The failure's kind and message are for logs; the supervisor only counts failures.
    pub(crate) failure: Option<serde::de::IgnoredAny>,
    pub(crate) acknowledged: bool,
}

#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

impl ChildReport {
    /// Parses one datagram; `None` for anything that is not a version-1 report.
    pub(crate) fn parse(datagram: &[u8]) -> Option<ChildReport> {
        let versioned: Versioned = serde_json::from_slice(datagram).ok()?;
        if versioned.version != FORMAT_VERSION {
            return None;
        }
        let mut report: ChildReport = serde_json::from_slice(datagram).ok()?;
        cut(&mut report.shard_id);
        cut(&mut report.action);
        Some(report)
    }

    /// Whether the action ends the child's work on the shard (the daemon closes its stdin next).
    pub(crate) fn ends_the_child(&self) -> bool {
        matches!(
            self.action.as_str(),
            "leaseLost" | "shardEnded" | "shutdown"
        ) || !self.acknowledged
    }
}

/// Cuts a label value to [`MAX_LABEL_LENGTH`] bytes on a character boundary.
pub(crate) fn cut(text: &mut String) {
    if text.len() <= MAX_LABEL_LENGTH {
        return;
    }
    let mut end = MAX_LABEL_LENGTH;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kcl-protocol/tests/fixtures/reports")
            .join(name);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn the_library_fixtures_parse() {
        let batch = ChildReport::parse(&fixture("process-records.json")).unwrap();
        assert_eq!(batch.shard_id, "shardId-000000000003");
        assert_eq!((batch.records, batch.bytes), (250, 64000));
        assert_eq!(batch.millis_behind_latest, Some(1200));
        assert_eq!(batch.checkpoints["ThrottlingException"], 1);
        assert!(!batch.ends_the_child());
        let failure = ChildReport::parse(&fixture("failure.json")).unwrap();
        assert!(failure.failure.is_some());
        assert_eq!(failure.retries, 2);
        assert!(
            failure.ends_the_child(),
            "not acknowledged: the child exits"
        );
        let first = ChildReport::parse(&fixture("initialize.json")).unwrap();
        assert_eq!(first.millis_behind_latest, None);
        assert_eq!(first.duration_micros, 40);
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let text = String::from_utf8(fixture("initialize.json")).unwrap();
        let later = text.replace("\"version\":1", "\"version\":2");
        assert!(ChildReport::parse(later.as_bytes()).is_none());
        assert!(ChildReport::parse(b"not json").is_none());
        assert!(ChildReport::parse(b"{\"version\":1}").is_none());
        // Unknown fields are ignored (later library versions add some).
        let extended = text.replacen('{', "{\"extra\":[1,2],", 1);
        assert!(ChildReport::parse(extended.as_bytes()).is_some());
        let long = text.replace("shardId-000000000003", &"s".repeat(1000));
        let cut = ChildReport::parse(long.as_bytes()).unwrap();
        assert_eq!(cut.shard_id.len(), MAX_LABEL_LENGTH);
    }
}
