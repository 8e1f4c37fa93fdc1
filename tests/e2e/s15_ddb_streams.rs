//! Scenario 15: DynamoDB Streams. A table with a NEW_AND_OLD_IMAGES stream on moto, consumed by the
//! unchanged e2e-consumer under `kcl-bootstrap --dynamodb-streams -e` (the adapter's scheduler from
//! kcl-bootstrap's own Java launcher). Inserts, updates and deletes of N items: every change reaches
//! the processor, in order per item, as the adapter's JSON stream record; the shard's lease
//! checkpoint ends at the stream's last record. Then a restart in the middle (SIGTERM after the
//! first changes, more changes while no worker runs): nothing lost, re-deliveries bounded by one
//! batch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use kcl_e2e::aws::numeric_cmp;
use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::{Sink, SunkRecord};

use crate::common::e2e_consumer;

const ITEMS: usize = 12;
/// Small batches, so a restart re-delivers a bounded amount and a run spans several batches.
const MAX_RECORDS: usize = 10;

/// One change as the test made it: the item, the event and the `v` attribute after/before it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    event: String,
    new_v: Option<String>,
    old_v: Option<String>,
}

/// Writes item `pk` = `key` with `v` = `value` (INSERT the first time, MODIFY after).
async fn put(s: &Scenario, table: &str, key: &str, value: u32) {
    s.clients
        .dynamodb
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(key.into()))
        .item("v", AttributeValue::N(value.to_string()))
        .send()
        .await
        .expect("put_item");
}

async fn delete(s: &Scenario, table: &str, key: &str) {
    s.clients
        .dynamodb
        .delete_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.into()))
        .send()
        .await
        .expect("delete_item");
}

/// The `v` number of an image in the adapter's JSON (`{"v":{"N":"3"},...}`), if the image has one.
fn image_v(change: &serde_json::Value, image: &str) -> Option<String> {
    change["dynamodb"][image]["v"]["N"]
        .as_str()
        .map(str::to_owned)
}

/// The sink's records as (pk, sequence number, change), in delivery order.
fn changes(sink: &Sink) -> Vec<(String, String, Change)> {
    sink.records()
        .iter()
        .map(|r: &SunkRecord| {
            let json: serde_json::Value = serde_json::from_slice(&r.data).unwrap_or_else(|e| {
                panic!(
                    "record {} is not the adapter's JSON ({e}): {:?}",
                    r.sequence_number,
                    String::from_utf8_lossy(&r.data)
                )
            });
            let pk = json["dynamodb"]["Keys"]["pk"]["S"]
                .as_str()
                .expect("Keys.pk.S")
                .to_owned();
            // The adapter's record: partition key and sequence number are the stream record's.
            assert_eq!(
                json["dynamodb"]["SequenceNumber"].as_str(),
                Some(r.sequence_number.as_str())
            );
            assert_eq!(r.partition_key, r.sequence_number);
            let change = Change {
                event: json["eventName"].as_str().unwrap_or_default().to_owned(),
                new_v: image_v(&json, "NewImage"),
                old_v: image_v(&json, "OldImage"),
            };
            (pk, r.sequence_number.clone(), change)
        })
        .collect()
}

/// Waits until the sink holds `want` distinct sequence numbers.
async fn wait_distinct(sink: &Sink, want: usize, timeout: Duration, worker_log: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let mut seqs: Vec<String> = sink
            .records()
            .into_iter()
            .map(|r| r.sequence_number)
            .collect();
        seqs.sort();
        seqs.dedup();
        if seqs.len() >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {want} changes in the sink after {timeout:?}; log: {worker_log}",
            seqs.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the stream shard's lease checkpoint is `last`.
async fn wait_checkpoint(s: &Scenario, last: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let leases = s.clients.leases_by_shard(&s.application).await;
        let checkpoints: Vec<Option<String>> =
            leases.values().map(|l| l.checkpoint.clone()).collect();
        if leases.len() == 1 && checkpoints[0].as_deref() == Some(last) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lease checkpoints {checkpoints:?} (shards {:?}), want one at {last}",
            leases.keys().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_ddb_streams_every_change_in_order_and_restart() {
    let mut s = Scenario::new("s15-ddb-streams");
    let table = format!("{}-table", s.application);
    let created = s
        .clients
        .dynamodb
        .create_table()
        .table_name(&table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table with a stream");
    let arn = created
        .table_description()
        .and_then(|t| t.latest_stream_arn())
        .expect("LatestStreamArn")
        .to_owned();

    // What each item must go through, in order.
    let mut expected: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    let mut writes = 0;
    let key = |i: usize| format!("item-{i:02}");
    // Phase 1 (before any worker): insert every item, update every item, delete every third.
    for i in 0..ITEMS {
        put(&s, &table, &key(i), 1).await;
        expected.entry(key(i)).or_default().push(Change {
            event: "INSERT".into(),
            new_v: Some("1".into()),
            old_v: None,
        });
        writes += 1;
    }
    for i in 0..ITEMS {
        put(&s, &table, &key(i), 2).await;
        expected.entry(key(i)).or_default().push(Change {
            event: "MODIFY".into(),
            new_v: Some("2".into()),
            old_v: Some("1".into()),
        });
        writes += 1;
    }
    for i in (0..ITEMS).step_by(3) {
        delete(&s, &table, &key(i)).await;
        expected.entry(key(i)).or_default().push(Change {
            event: "REMOVE".into(),
            new_v: None,
            old_v: Some("2".into()),
        });
        writes += 1;
    }

    let mut properties = s.properties(&e2e_consumer());
    properties
        .remove("streamName")
        .remove("kinesisEndpoint")
        .set("dynamoDBStreamArn", &arn)
        .set("dynamoDBStreamsEndpoint", &s.stack().moto_endpoint)
        .set("workerId", "s15-worker")
        .set("maxRecords", MAX_RECORDS);
    let streams_env = [("KCL_BOOTSTRAP_DYNAMODB_STREAMS", "true")];

    let sink1 = s.sink("run1");
    let mut worker = s.start_worker("run1", &properties, Some(&sink1), &streams_env);
    let log1 = worker.log().display().to_string();
    // First start: the streams jars may still be downloading and the launcher compiling.
    wait_distinct(&sink1, writes, Duration::from_secs(240), &log1).await;
    s.mark("run 1 has phase 1");
    // Phase 2, while run 1 reads: the deleted items come back, the others change again.
    for i in 0..ITEMS {
        let (value, change) = if i % 3 == 0 {
            (
                3,
                Change {
                    event: "INSERT".into(),
                    new_v: Some("3".into()),
                    old_v: None,
                },
            )
        } else {
            (
                3,
                Change {
                    event: "MODIFY".into(),
                    new_v: Some("3".into()),
                    old_v: Some("2".into()),
                },
            )
        };
        put(&s, &table, &key(i), value).await;
        expected.entry(key(i)).or_default().push(change);
        writes += 1;
    }
    // Stop in the middle: as soon as some of phase 2 arrived, not necessarily all of it.
    wait_distinct(&sink1, writes - ITEMS + 1, Duration::from_secs(60), &log1).await;
    worker.signal(libc::SIGTERM);
    worker
        .wait_exit(Duration::from_secs(40))
        .await
        .expect("run 1 exits on SIGTERM");
    drop(worker);
    s.mark("run 1 stopped");
    // Phase 3, while no worker runs: delete every item whose index is odd.
    for i in (1..ITEMS).step_by(2) {
        delete(&s, &table, &key(i)).await;
        expected.entry(key(i)).or_default().push(Change {
            event: "REMOVE".into(),
            new_v: None,
            old_v: Some("3".into()),
        });
        writes += 1;
    }

    let sink2 = s.sink("run2");
    let worker = s.start_worker("run2", &properties, Some(&sink2), &streams_env);
    let log2 = worker.log().display().to_string();
    let run1 = changes(&sink1);
    let resumed_from = run1.len();
    // Run 2 must bring the union to every write.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut all: Vec<String> = run1
            .iter()
            .chain(changes(&sink2).iter())
            .map(|(_, seq, _)| seq.clone())
            .collect();
        all.sort();
        all.dedup();
        if all.len() >= writes {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {writes} changes after the restart; log: {log2}",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let run2 = changes(&sink2);

    // Every change of every item, in order: per run as delivered, and in the union by sequence.
    for (run, delivered) in [("run 1", &run1), ("run 2", &run2)] {
        let mut last: BTreeMap<&str, &str> = BTreeMap::new();
        for (pk, seq, _) in delivered.iter() {
            if let Some(previous) = last.insert(pk, seq) {
                assert_eq!(
                    numeric_cmp(previous, seq),
                    std::cmp::Ordering::Less,
                    "{run}: {pk} got {seq} after {previous}"
                );
            }
        }
    }
    let mut by_seq: BTreeMap<String, (String, Change)> = BTreeMap::new();
    for (pk, seq, change) in run1.iter().chain(run2.iter()) {
        let previous = by_seq.insert(seq.clone(), (pk.clone(), change.clone()));
        if let Some(previous) = previous {
            assert_eq!(
                previous,
                (pk.clone(), change.clone()),
                "re-delivery of {seq} differs"
            );
        }
    }
    let mut ordered: Vec<(&String, &(String, Change))> = by_seq.iter().collect();
    ordered.sort_by(|a, b| numeric_cmp(a.0, b.0));
    let mut got: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    for (_, (pk, change)) in &ordered {
        got.entry(pk.clone()).or_default().push(change.clone());
    }
    assert_eq!(ordered.len(), writes, "one stream record per write");
    assert_eq!(got, expected, "every change of every item, in order");

    // The lease checkpoint ends at the stream's last record.
    let last = ordered
        .last()
        .map(|(seq, _)| seq.to_string())
        .unwrap_or_default();
    wait_checkpoint(&s, &last, Duration::from_secs(30)).await;
    // Run 2 resumed from run 1's checkpoint: what it saw again is at most one batch.
    let run1_seqs: Vec<&String> = run1.iter().map(|(_, seq, _)| seq).collect();
    let redelivered = run2
        .iter()
        .filter(|(_, seq, _)| run1_seqs.contains(&seq))
        .count();
    assert!(
        redelivered <= MAX_RECORDS,
        "{redelivered} changes re-delivered after the restart, more than one batch ({MAX_RECORDS})"
    );
    eprintln!(
        "[s15-ddb-streams] {writes} changes on {ITEMS} items; run 1 saw {resumed_from}, run 2 {} ({redelivered} again)",
        run2.len()
    );
    drop(worker);
    s.pass();
}
