//! Scenario 9: KPL-aggregated records through the real daemon.
//!
//! Puts KPL aggregates (and a plain record, an aggregate with a user record outside its shard, and
//! one with a broken MD5 trailer) into a two-shard stream, checks that kinesis-local stored them
//! byte for byte, and runs `e2e-consumer` twice with one worker id:
//!
//! 1. run 1 checkpoints in the middle of aggregate `a3` (`checkpoint_at_sub_sequence`) and stops
//!    processing (then SIGTERM, acknowledged without a checkpoint); on shard 1 it checkpoints at
//!    the last user record of `b1`. The lease table holds `checkpoint` = the aggregate's sequence
//!    number and `checkpointSubSequenceNumber` = 20 (and 4 on shard 1).
//! 2. run 2 starts from those checkpoints: its children's `initialize` carries `<seq>/20` and
//!    `<seq>/4`; shard 0 delivers exactly the rest of `a3` (sub-sequence 21..49) and what follows,
//!    shard 1 only the new aggregate `b2`.
//!
//! Every delivered record is compared, in order, with what the daemon must deliver: sequence
//! number, sub-sequence number, partition key and data (see `s9_kpl_plan`). A second test checks
//! the harness's encoder against AWS's `aws-kinesis-agg` Python package.

use std::collections::BTreeMap;
use std::time::Duration;

use kcl_e2e::aws::{Clients, Lease, ShardInfo};
use kcl_e2e::kpl::{self, UserRecord};
use kcl_e2e::kpl_python;
use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::{Sink, SunkRecord};

use crate::common::e2e_consumer;
use crate::s9_kpl_plan::{
    Expected, HashRange, Put, STOP_AT_SUB_SEQUENCE, before_run_1, between_runs, stop_at_data,
};

/// A put and where Kinesis placed it.
struct Placed {
    put: Put,
    shard_id: String,
    sequence_number: String,
}

impl Placed {
    /// The records the daemon must deliver for this put, in order.
    fn deliveries(&self) -> Vec<SunkRecord> {
        let record = |sub: usize, partition_key: &str, data: &[u8]| SunkRecord {
            shard_id: self.shard_id.clone(),
            sequence_number: self.sequence_number.clone(),
            sub_sequence_number: sub as u64,
            partition_key: partition_key.to_owned(),
            data: data.to_vec(),
        };
        match &self.put.expected {
            Expected::UserRecords(users) => users
                .iter()
                .enumerate()
                .map(|(sub, user)| record(sub, &user.partition_key, &user.data))
                .collect(),
            Expected::Unchanged => vec![record(0, &self.put.partition_key, &self.put.data)],
            Expected::Dropped => Vec::new(),
        }
    }
}

fn half_ranges() -> [HashRange; 2] {
    let half = 1u128 << 127;
    [
        HashRange {
            start: 0,
            end: half - 1,
        },
        HashRange {
            start: half,
            end: u128::MAX,
        },
    ]
}

fn without_tags(records: &[UserRecord]) -> Vec<UserRecord> {
    records
        .iter()
        .map(|r| UserRecord {
            tags: Vec::new(),
            ..r.clone()
        })
        .collect()
}

/// The harness's encoder against an independent implementation: the `aws-kinesis-agg` package's
/// deaggregator (with Google's protobuf runtime) reads every aggregate scenario 9 puts, and the
/// package's aggregator builds the same aggregates byte for byte.
#[test]
fn s9_kpl_encoder_agrees_with_aws_kinesis_agg() {
    let mut puts = before_run_1(half_ranges());
    puts.extend(between_runs(half_ranges()));
    let data: Vec<Vec<u8>> = puts.iter().map(|p| p.data.clone()).collect();
    let specs: Vec<Vec<UserRecord>> = puts
        .iter()
        .filter_map(|p| match &p.expected {
            Expected::UserRecords(records) => Some(without_tags(records)),
            _ => None,
        })
        .collect();
    let (decoded, encoded) =
        kpl_python::crosscheck(&data, &specs).unwrap_or_else(|e| panic!("cross-check: {e}"));
    assert_eq!(decoded.len(), puts.len());
    for (put, python) in puts.iter().zip(&decoded) {
        let ours = kpl::decode(&put.data);
        match (&put.expected, ours) {
            (Expected::Unchanged, ours) => {
                assert!(ours.is_err(), "{}: our decoder accepts it", put.label);
                assert!(
                    !python.aggregated,
                    "{}: aws-kinesis-agg accepts it",
                    put.label
                );
            }
            // No range check in the package: an aggregate with a key outside the shard is valid.
            (_, Ok(ours)) => {
                assert!(
                    python.aggregated,
                    "{}: not an aggregate to aws-kinesis-agg",
                    put.label
                );
                let numbered: Vec<(u64, UserRecord)> = (0..).zip(ours).collect();
                assert_eq!(python.records, numbered, "{}", put.label);
            }
            (_, Err(error)) => panic!("{}: our decoder rejects our encoding: {error}", put.label),
        }
    }
    assert_eq!(encoded.len(), specs.len());
    for (spec, theirs) in specs.iter().zip(&encoded) {
        assert_eq!(kpl::decode(theirs).as_ref(), Ok(spec));
        assert!(
            *theirs == kpl::encode(spec),
            "aws-kinesis-agg and the harness encode {} records differently",
            spec.len()
        );
    }
}

/// A compact description of a record for failure messages (payloads can be 200 KiB).
fn describe(record: &SunkRecord) -> String {
    let head: String = record
        .data
        .iter()
        .take(24)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    format!(
        "{} {}/{} pk={:?} data[{}]={head}",
        record.shard_id,
        record.sequence_number,
        record.sub_sequence_number,
        record.partition_key,
        record.data.len()
    )
}

/// Asserts that `shard_id`'s records in the sink are exactly `expected`, in order.
fn assert_delivered_exactly(sink: &Sink, run: &str, shard_id: &str, expected: &[SunkRecord]) {
    let got: Vec<SunkRecord> = sink
        .records()
        .into_iter()
        .filter(|r| r.shard_id == shard_id)
        .collect();
    if got == expected {
        return;
    }
    let first_difference = got
        .iter()
        .zip(expected)
        .position(|(g, e)| g != e)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{run}, {shard_id}: delivered {} records, expected {}; first difference at #{first_difference}: got {}, expected {}",
        got.len(),
        expected.len(),
        got.get(first_difference)
            .map(describe)
            .unwrap_or_else(|| "nothing".into()),
        expected
            .get(first_difference)
            .map(describe)
            .unwrap_or_else(|| "nothing".into()),
    );
}

/// Puts each record with PutRecord on its shard (explicit hash key = the shard's first key).
async fn put_all(
    clients: &Clients,
    stream: &str,
    shards: &[ShardInfo],
    puts: Vec<Put>,
) -> Vec<Placed> {
    let mut placed = Vec::with_capacity(puts.len());
    for put in puts {
        let shard = &shards[put.shard];
        let result = clients
            .put_record(
                stream,
                &put.partition_key,
                &shard.starting_hash_key,
                &put.data,
            )
            .await
            .unwrap_or_else(|e| panic!("PutRecord of {}: {e}", put.label));
        assert_eq!(
            result.shard_id, shard.shard_id,
            "{} went to another shard",
            put.label
        );
        placed.push(Placed {
            put,
            shard_id: result.shard_id,
            sequence_number: result.sequence_number,
        });
    }
    placed
}

/// kinesis-local returns every put's data and partition key byte for byte, and nothing else.
async fn assert_stored_byte_for_byte(clients: &Clients, stream: &str, placed: &[Placed]) {
    let stored: BTreeMap<(String, String), _> = clients
        .read_stream_raw(stream)
        .await
        .expect("read the stream back")
        .into_iter()
        .map(|r| ((r.shard_id.clone(), r.sequence_number.clone()), r))
        .collect();
    assert_eq!(stored.len(), placed.len(), "records in the stream");
    for p in placed {
        let record = stored
            .get(&(p.shard_id.clone(), p.sequence_number.clone()))
            .unwrap_or_else(|| panic!("{} is not in the stream", p.put.label));
        if record.data != p.put.data {
            let at = record
                .data
                .iter()
                .zip(&p.put.data)
                .position(|(a, b)| a != b)
                .unwrap_or(record.data.len().min(p.put.data.len()));
            panic!(
                "{}: kinesis-local returned {} bytes for {} put, first difference at byte {at}",
                p.put.label,
                record.data.len(),
                p.put.data.len()
            );
        }
        assert_eq!(record.partition_key, p.put.partition_key, "{}", p.put.label);
    }
}

/// Waits until the lease of `shard_id` is at `sequence_number` / `sub_sequence_number`.
async fn wait_lease_at(
    clients: &Clients,
    table: &str,
    shard_id: &str,
    sequence_number: &str,
    sub_sequence_number: u64,
    timeout: Duration,
) -> Lease {
    let mut last: Option<Lease> = None;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let lease = clients.leases_by_shard(table).await.remove(shard_id);
        if let Some(lease) = &lease
            && lease.checkpoint.as_deref() == Some(sequence_number)
            && lease.checkpoint_sub_sequence_number == Some(sub_sequence_number)
        {
            return lease.clone();
        }
        last = lease.or(last);
        if std::time::Instant::now() > deadline {
            panic!(
                "{shard_id}: lease not at {sequence_number}/{sub_sequence_number} after {timeout:?}; last seen: {last:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The detail of the first `event` of `shard_id` in the sink's lifecycle events.
fn event_detail(sink: &Sink, shard_id: &str, event: &str) -> Option<String> {
    sink.events()
        .get(shard_id)?
        .iter()
        .find(|e| e.event == event)
        .map(|e| e.detail.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_kpl_aggregates_resume_from_a_checkpoint_inside_an_aggregate() {
    let mut s = Scenario::new("s9-kpl-aggregation");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let mut shards = s.clients.shards(&s.stream).await.expect("list shards");
    shards.sort_by_key(|shard| shard.starting_hash_key.parse::<u128>().unwrap_or(0));
    assert_eq!(shards.len(), 2, "two shards: {shards:?}");
    let ranges = [0, 1].map(|i| HashRange {
        start: shards[i].starting_hash_key.parse().expect("hash key"),
        end: shards[i].ending_hash_key.parse().expect("hash key"),
    });
    let (shard0, shard1) = (shards[0].shard_id.clone(), shards[1].shard_id.clone());

    let first = put_all(&s.clients, &s.stream, &shards, before_run_1(ranges)).await;
    assert_stored_byte_for_byte(&s.clients, &s.stream, &first).await;
    s.mark("aggregates put, kinesis-local returns them byte for byte");
    let by_label = |label_start: &str| {
        first
            .iter()
            .find(|p| p.put.label.starts_with(label_start))
            .unwrap_or_else(|| panic!("no put {label_start}"))
    };
    let (a3, b1) = (by_label("a3"), by_label("b1"));
    let b1_last = b1.deliveries().len() as u64 - 1;

    // What each run must deliver, per shard, in order.
    let shard0_all: Vec<SunkRecord> = first
        .iter()
        .filter(|p| p.shard_id == shard0)
        .flat_map(Placed::deliveries)
        .collect();
    let stop_index = shard0_all
        .iter()
        .position(|r| r.data == stop_at_data().as_bytes())
        .expect("the stop record is on shard 0");
    assert_eq!(
        shard0_all[stop_index].sub_sequence_number,
        STOP_AT_SUB_SEQUENCE as u64
    );
    let (run1_shard0, run2_shard0) = shard0_all.split_at(stop_index + 1);
    let run1_shard1 = b1.deliveries();

    let mut properties = s.properties(&e2e_consumer());
    // A fixed worker id: run 2 finds its own leases at once (see s2_restart).
    properties.set("workerId", "s9-worker");
    let sink1 = s.sink("run1");
    let stop_at = stop_at_data();
    let mut worker = s.start_worker(
        "run1",
        &properties,
        Some(&sink1),
        &[("E2E_STOP_AT_DATA", stop_at.as_str())],
    );
    let lease0 = wait_lease_at(
        &s.clients,
        &s.application,
        &shard0,
        &a3.sequence_number,
        STOP_AT_SUB_SEQUENCE as u64,
        Duration::from_secs(180),
    )
    .await;
    let lease1 = wait_lease_at(
        &s.clients,
        &s.application,
        &shard1,
        &b1.sequence_number,
        b1_last,
        Duration::from_secs(60),
    )
    .await;
    s.mark(&format!(
        "run 1 checkpoints: {shard0} checkpoint={:?} checkpointSubSequenceNumber={:?}, {shard1} checkpoint={:?} checkpointSubSequenceNumber={:?}",
        lease0.checkpoint,
        lease0.checkpoint_sub_sequence_number,
        lease1.checkpoint,
        lease1.checkpoint_sub_sequence_number
    ));
    // The sink is written before each checkpoint, so it is complete now.
    assert_delivered_exactly(&sink1, "run 1", &shard0, run1_shard0);
    assert_delivered_exactly(&sink1, "run 1", &shard1, &run1_shard1);
    assert_eq!(
        event_detail(&sink1, &shard0, "stopCheckpoint"),
        Some(format!("{}/{STOP_AT_SUB_SEQUENCE}", a3.sequence_number))
    );

    worker.signal(libc::SIGTERM);
    worker
        .wait_exit(Duration::from_secs(40))
        .await
        .expect("run 1 exits on SIGTERM");
    drop(worker);
    assert!(
        event_detail(&sink1, &shard0, "stoppedShutdown").is_some(),
        "run 1's {shard0} child acknowledged shutdownRequested without a checkpoint"
    );
    let after_stop = s.clients.leases_by_shard(&s.application).await;
    assert_eq!(
        after_stop
            .get(&shard0)
            .map(|l| (l.checkpoint.clone(), l.checkpoint_sub_sequence_number)),
        Some((
            Some(a3.sequence_number.clone()),
            Some(STOP_AT_SUB_SEQUENCE as u64)
        )),
        "the checkpoint inside a3 survives the shutdown"
    );
    s.mark("run 1 stopped");

    let second = put_all(&s.clients, &s.stream, &shards, between_runs(ranges)).await;
    let b2 = &second[0];
    let run2_shard1 = b2.deliveries();
    let sink2 = s.sink("run2");
    let worker = s.start_worker("run2", &properties, Some(&sink2), &[]);
    let a4_last = run2_shard0.last().expect("records after a3");
    let end0 = wait_lease_at(
        &s.clients,
        &s.application,
        &shard0,
        &a4_last.sequence_number,
        a4_last.sub_sequence_number,
        Duration::from_secs(120),
    )
    .await;
    let b2_last = run2_shard1.last().expect("b2 has records");
    let end1 = wait_lease_at(
        &s.clients,
        &s.application,
        &shard1,
        &b2_last.sequence_number,
        b2_last.sub_sequence_number,
        Duration::from_secs(60),
    )
    .await;
    s.mark(&format!(
        "run 2 done: {shard0} at {:?}/{:?}, {shard1} at {:?}/{:?}",
        end0.checkpoint,
        end0.checkpoint_sub_sequence_number,
        end1.checkpoint,
        end1.checkpoint_sub_sequence_number
    ));
    drop(worker);

    // Each child of run 2 started from run 1's checkpoint, sub-sequence number included.
    assert_eq!(
        event_detail(&sink2, &shard0, "initialize"),
        Some(format!("{}/{STOP_AT_SUB_SEQUENCE}", a3.sequence_number))
    );
    assert_eq!(
        event_detail(&sink2, &shard1, "initialize"),
        Some(format!("{}/{b1_last}", b1.sequence_number))
    );
    // Shard 0: the rest of a3 (sub-sequence 21..), the plain record, the corrupt aggregate as one
    // unchanged record, a4; nothing at or before the checkpoint, nothing of the dropped aggregate.
    assert_delivered_exactly(&sink2, "run 2", &shard0, run2_shard0);
    // Shard 1: checkpointed at b1's last user record, so only b2.
    assert_delivered_exactly(&sink2, "run 2", &shard1, &run2_shard1);
    eprintln!(
        "[s9-kpl-aggregation] run 1 delivered {} + {} records, run 2 {} + {}",
        run1_shard0.len(),
        run1_shard1.len(),
        run2_shard0.len(),
        run2_shard1.len()
    );
    s.pass();
}
