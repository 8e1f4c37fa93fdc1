//! Checking a run: is every produced record in S3, and does every shard have a checkpoint?
//!
//! [`compare`] is pure: the `clickstream-verify` binary gathers the facts (the manifest, the
//! stored records, the lease table's checkpoints) and this module judges them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use kcl_protocol::SequenceNumber;

use crate::manifest::ProducedRecord;

/// A lease's checkpoint as the lease table holds it: a sequence number or a sentinel such as
/// `TRIM_HORIZON` or `SHARD_END`.
pub type Checkpoint = String;

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records in the manifest.
    pub produced: usize,
    /// Produced records found in S3 at least once.
    pub found: usize,
    /// Produced records not found in S3 (shard id and sequence number, first few only).
    pub missing_examples: Vec<(String, String)>,
    /// Produced records not found in S3.
    pub missing: usize,
    /// Extra copies of records stored more than once (allowed: delivery is at-least-once).
    pub duplicates: usize,
    /// Stored records that are not in the manifest (another producer, or an earlier run).
    pub unexpected: usize,
    /// Objects read.
    pub objects: usize,
    /// Per shard: the last produced sequence number, the checkpoint, and whether it covers it.
    pub shards: BTreeMap<String, ShardCheck>,
}

/// The checkpoint check of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardCheck {
    /// Records produced to this shard.
    pub produced: usize,
    /// The highest sequence number produced to this shard, if any.
    pub last_produced: Option<String>,
    /// The lease's checkpoint, if the lease exists.
    pub checkpoint: Option<Checkpoint>,
    /// The checkpoint is at or past the last produced record (or `SHARD_END`); for a shard that
    /// got no records, any lease with a checkpoint counts.
    pub covered: bool,
}

impl Report {
    /// Shards whose checkpoint covers every record produced to them.
    pub fn shards_checkpointed(&self) -> usize {
        self.shards.values().filter(|s| s.covered).count()
    }

    /// Every produced record is stored and every shard's checkpoint covers its records.
    pub fn is_complete(&self) -> bool {
        self.missing == 0 && self.shards_checkpointed() == self.shards.len()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records in S3: {}/{} ({} objects, {} duplicates); shards checkpointed: {}/{}",
            self.found,
            self.produced,
            self.objects,
            self.duplicates,
            self.shards_checkpointed(),
            self.shards.len()
        )
    }
}

/// Judges a run.
///
/// * `produced`: the producer's manifest.
/// * `stored`: every stored record as (shard id from the object key, sequence number), one entry
///   per stored copy.
/// * `objects`: how many objects were read.
/// * `shards`: every shard of the stream (from `ListShards`); shards that got no records must
///   still have a lease.
/// * `checkpoints`: the lease table's checkpoint per shard id.
pub fn compare(
    produced: &[ProducedRecord],
    stored: &[(String, String)],
    objects: usize,
    shards: &[String],
    checkpoints: &BTreeMap<String, Checkpoint>,
) -> Report {
    let mut copies: HashMap<(&str, &str), usize> = HashMap::new();
    for (shard, seq) in stored {
        *copies.entry((shard.as_str(), seq.as_str())).or_default() += 1;
    }
    let mut report = Report {
        produced: produced.len(),
        objects,
        ..Report::default()
    };
    let mut expected: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut last_per_shard: BTreeMap<&str, (usize, Option<SequenceNumber>)> =
        shards.iter().map(|s| (s.as_str(), (0, None))).collect();
    for record in produced {
        let key = (record.shard_id.as_str(), record.sequence_number.as_str());
        expected.insert(key);
        let entry = last_per_shard.entry(record.shard_id.as_str()).or_default();
        entry.0 += 1;
        if let Ok(seq) = record.sequence_number.parse::<SequenceNumber>()
            && entry.1.as_ref().is_none_or(|last| seq > *last)
        {
            entry.1 = Some(seq);
        }
        match copies.get(&key) {
            Some(&n) => {
                report.found += 1;
                report.duplicates += n - 1;
            }
            None => {
                report.missing += 1;
                if report.missing_examples.len() < 5 {
                    report
                        .missing_examples
                        .push((record.shard_id.clone(), record.sequence_number.clone()));
                }
            }
        }
    }
    report.unexpected = copies
        .iter()
        .filter(|(key, _)| !expected.contains(key))
        .map(|(_, n)| n)
        .sum();
    for (shard, (count, last)) in last_per_shard {
        let checkpoint = checkpoints.get(shard).cloned();
        let covered = match (&checkpoint, &last) {
            (None, _) => false,
            (Some(c), _) if c == "SHARD_END" => true,
            (Some(c), None) => !c.is_empty(),
            (Some(c), Some(last)) => c.parse::<SequenceNumber>().is_ok_and(|c| c >= *last),
        };
        report.shards.insert(
            shard.to_owned(),
            ShardCheck {
                produced: count,
                last_produced: last.map(|s| s.to_string()),
                checkpoint,
                covered,
            },
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced(shard: &str, seq: &str) -> ProducedRecord {
        ProducedRecord {
            shard_id: shard.into(),
            sequence_number: seq.into(),
            partition_key: "pk".into(),
        }
    }

    fn stored(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn checkpoints(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_complete_run_is_complete() {
        let manifest = [
            produced("s0", "10"),
            produced("s0", "9"),
            produced("s1", "100"),
        ];
        let report = compare(
            &manifest,
            &stored(&[("s0", "9"), ("s0", "10"), ("s1", "100"), ("s1", "100")]),
            3,
            &["s0".into(), "s1".into()],
            &checkpoints(&[("s0", "10"), ("s1", "100")]),
        );
        assert_eq!((report.found, report.missing, report.duplicates), (3, 0, 1));
        assert_eq!(report.shards_checkpointed(), 2);
        assert!(report.is_complete(), "{report}");
        assert_eq!(report.shards["s0"].last_produced.as_deref(), Some("10"));
    }

    #[test]
    fn a_missing_record_fails_and_is_named() {
        let report = compare(
            &[produced("s0", "1"), produced("s0", "2")],
            &stored(&[("s0", "1")]),
            1,
            &["s0".into()],
            &checkpoints(&[("s0", "2")]),
        );
        assert_eq!(report.missing, 1);
        assert_eq!(
            report.missing_examples,
            [("s0".to_string(), "2".to_string())]
        );
        assert!(!report.is_complete());
    }

    #[test]
    fn the_same_sequence_number_on_another_shard_does_not_count() {
        let report = compare(
            &[produced("s0", "5")],
            &stored(&[("s1", "5")]),
            1,
            &["s0".into(), "s1".into()],
            &checkpoints(&[("s0", "5"), ("s1", "TRIM_HORIZON")]),
        );
        assert_eq!((report.found, report.missing, report.unexpected), (0, 1, 1));
    }

    #[test]
    fn checkpoints_compare_numerically_and_accept_shard_end() {
        // "99" < "100" numerically, although it sorts after it as text.
        let manifest = [
            produced("s0", "100"),
            produced("s1", "7"),
            produced("s2", "7"),
        ];
        let all = stored(&[("s0", "100"), ("s1", "7"), ("s2", "7")]);
        let shards = ["s0".to_string(), "s1".into(), "s2".into(), "s3".into()];
        let report = compare(
            &manifest,
            &all,
            3,
            &shards,
            &checkpoints(&[("s0", "99"), ("s1", "SHARD_END"), ("s2", "TRIM_HORIZON")]),
        );
        assert!(
            !report.shards["s0"].covered,
            "checkpoint 99 is before record 100"
        );
        assert!(report.shards["s1"].covered);
        assert!(
            !report.shards["s2"].covered,
            "TRIM_HORIZON covers no record"
        );
        assert!(!report.shards["s3"].covered, "no lease at all");
        assert_eq!(report.shards["s3"].produced, 0);
        let report = compare(
            &manifest,
            &all,
            3,
            &shards,
            &checkpoints(&[
                ("s0", "100"),
                ("s1", "8"),
                ("s2", "7"),
                ("s3", "TRIM_HORIZON"),
            ]),
        );
        assert!(report.is_complete(), "{report:?}");
    }
}
