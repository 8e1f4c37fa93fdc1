//! What scenario 9 puts into its two-shard stream and what the daemon must deliver for each put.
//!
//! The daemon's de-aggregation (KCL 3.1.3 `AggregatorUtil.deaggregate`, called by `ProcessTask`
//! with the shard's hash key range) decides the expectations:
//! - a valid aggregate becomes its user records, all with the aggregate's sequence number and
//!   sub-sequence numbers 0..n, each with its own partition key;
//! - if any user record's effective hash key (explicit hash key, else MD5 of the partition key) is
//!   outside the shard's range (bounds inclusive), the whole aggregate is dropped;
//! - a record with the magic but a wrong MD5 trailer is delivered unchanged, as one record.

use kcl_e2e::kpl::{self, UserRecord, md5_hash_key};

/// A shard's hash key range, bounds inclusive.
#[derive(Debug, Clone, Copy)]
pub struct HashRange {
    pub start: u128,
    pub end: u128,
}

impl HashRange {
    fn middle(self) -> u128 {
        self.start + (self.end - self.start) / 2
    }

    /// A partition key `<prefix><n>` whose MD5 hash key falls in this range (the first such `n`).
    fn partition_key_inside(self, prefix: &str) -> String {
        (0..)
            .map(|n| format!("{prefix}{n}"))
            .find(|key| (self.start..=self.end).contains(&md5_hash_key(key)))
            .expect("some key hashes into a range of half the key space")
    }
}

/// What the daemon does with one put.
#[derive(Debug, Clone)]
pub enum Expected {
    /// De-aggregated into these user records (sub-sequence number = position).
    UserRecords(Vec<UserRecord>),
    /// Delivered as one record, unchanged (sub-sequence 0, the outer partition key).
    Unchanged,
    /// Dropped whole: a user record's hash key is outside the shard.
    Dropped,
}

/// One PutRecord call.
#[derive(Debug, Clone)]
pub struct Put {
    /// Name in failure messages.
    pub label: &'static str,
    /// Index of the target shard in hash key order (0 or 1).
    pub shard: usize,
    /// The PutRecord partition key (for an aggregate the first user record's, as the KPL does).
    pub partition_key: String,
    /// The PutRecord data.
    pub data: Vec<u8>,
    /// What the daemon must deliver.
    pub expected: Expected,
}

impl Put {
    fn aggregate(label: &'static str, shard: usize, records: Vec<UserRecord>) -> Put {
        Put {
            label,
            shard,
            partition_key: records[0].partition_key.clone(),
            data: kpl::encode(&records),
            expected: Expected::UserRecords(records),
        }
    }
}

/// The user record of aggregate `a3` at which run 1 checkpoints and stops.
pub const STOP_AT_SUB_SEQUENCE: usize = 20;
/// Number of user records in `a3`.
const A3_RECORDS: usize = 50;

/// Data of the user record run 1 stops at.
pub fn stop_at_data() -> String {
    a3_data(STOP_AT_SUB_SEQUENCE)
}

fn a3_data(i: usize) -> String {
    format!("s9-a3-{i:03}")
}

/// Deterministic pseudo-random bytes (a 64-bit LCG), so a large payload has every byte value.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

/// The puts before run 1, in order: shard 0 first, then shard 1. `shards` are the two shards'
/// ranges in hash key order.
pub fn before_run_1(shards: [HashRange; 2]) -> Vec<Put> {
    let [r0, r1] = shards;
    let md5_key = r0.partition_key_inside("s9-a1-md5-");
    let a1 = vec![
        UserRecord::new("s9-a1-shared", "s9-a1-0")
            .with_explicit_hash_key(r0.start)
            .with_tag("app", Some("s9")),
        // The same partition key again (one table entry), the range's inclusive upper bound.
        UserRecord::new("s9-a1-shared", "s9-a1-1").with_explicit_hash_key(r0.end),
        // No explicit hash key: the daemon checks the MD5 of the partition key.
        UserRecord::new(md5_key.clone(), "s9-a1-2"),
        UserRecord::new(md5_key, "s9-a1-3").with_tag("only-key", None),
        UserRecord::new("s9-a1 ü ñ \u{1F980}", "s9-a1-4").with_explicit_hash_key(r0.middle()),
        UserRecord::new("s9-a1-shared", "s9-a1-5").with_explicit_hash_key(r0.start),
    ];
    let in_r0 =
        |key: &str, data: Vec<u8>| UserRecord::new(key, data).with_explicit_hash_key(r0.start);
    let a2 = vec![
        in_r0("s9-a2-bytes", (0..=255).collect()),
        in_r0("s9-a2-empty", Vec::new()),
        in_r0("s9-a2-text", b"line\nwith spaces\r\n\0tab\t".to_vec()),
        // A payload that looks like an aggregate itself: the daemon de-aggregates one level only.
        in_r0(
            "s9-a2-nested",
            kpl::encode(&[UserRecord::new("inner", "inner-data")]),
        ),
        in_r0("s9-a2-noise", noise(200 * 1024)),
    ];
    let a3 = (0..A3_RECORDS)
        .map(|i| {
            UserRecord::new(format!("s9-a3-pk-{i}"), a3_data(i))
                .with_explicit_hash_key(r0.start + i as u128)
        })
        .collect();
    let dropped = vec![
        UserRecord::new("s9-dropped-0", "s9-dropped-0").with_explicit_hash_key(r0.start),
        // One past shard 0's range: the daemon drops the whole aggregate, record 0 included.
        UserRecord::new("s9-dropped-1", "s9-dropped-1").with_explicit_hash_key(r1.start),
        UserRecord::new("s9-dropped-2", "s9-dropped-2").with_explicit_hash_key(r0.start),
    ];
    let mut corrupt = kpl::encode(&[
        UserRecord::new("s9-corrupt-0", "s9-corrupt-0"),
        UserRecord::new("s9-corrupt-1", "s9-corrupt-1"),
    ]);
    *corrupt.last_mut().expect("an aggregate is not empty") ^= 0xFF;
    let a4 = (0..3)
        .map(|i| {
            UserRecord::new(format!("s9-a4-pk-{i}"), format!("s9-a4-{i}"))
                .with_explicit_hash_key(r0.end - i)
        })
        .collect();
    let b1_key = r1.partition_key_inside("s9-b1-md5-");
    let b1 = vec![
        UserRecord::new("s9-b1-0", "s9-b1-0").with_explicit_hash_key(r1.start),
        UserRecord::new(b1_key.clone(), "s9-b1-1"),
        UserRecord::new("s9-b1-2", "s9-b1-2").with_explicit_hash_key(r1.end),
        UserRecord::new(b1_key, "s9-b1-3"),
        UserRecord::new("s9-b1-4", "s9-b1-4").with_explicit_hash_key(r1.middle()),
    ];
    vec![
        Put::aggregate("a1 (mixed keys)", 0, a1),
        Put::aggregate("a2 (binary payloads)", 0, a2),
        Put::aggregate("a3 (checkpoint target)", 0, a3),
        Put {
            label: "plain (not aggregated)",
            shard: 0,
            partition_key: "s9-plain-0".into(),
            data: b"s9-plain-0".to_vec(),
            expected: Expected::Unchanged,
        },
        Put {
            label: "dropped (a key outside the shard)",
            shard: 0,
            partition_key: "s9-dropped-0".into(),
            data: kpl::encode(&dropped),
            expected: Expected::Dropped,
        },
        Put {
            label: "corrupt (wrong MD5)",
            shard: 0,
            partition_key: "s9-corrupt".into(),
            data: corrupt,
            expected: Expected::Unchanged,
        },
        Put::aggregate("a4 (after)", 0, a4),
        Put::aggregate("b1 (shard 1)", 1, b1),
    ]
}

/// The put between run 1 and run 2 (on shard 1, whose checkpoint is at the end of `b1`).
pub fn between_runs(shards: [HashRange; 2]) -> Vec<Put> {
    let r1 = shards[1];
    vec![Put::aggregate(
        "b2 (shard 1, after run 1)",
        1,
        vec![
            UserRecord::new("s9-b2-0", "s9-b2-0").with_explicit_hash_key(r1.start),
            UserRecord::new("s9-b2-1", "s9-b2-1").with_explicit_hash_key(r1.end),
        ],
    )]
}
