//! Scenario 7: the samples end to end, by binary name, as a user runs them.
//! - basic: `basic-producer` creates the stream and puts sensor records; the daemon runs
//!   `basic-consumer`; every shard's lease checkpoint reaches its last record.
//! - clickstream: `clickstream-producer` puts click records; the daemon runs `clickstream-consumer`;
//!   every record in the stream is in S3 in an object `<shardId>/<firstSeq>-<lastSeq>` of its shard
//!   whose range holds it, and every shard's checkpoint is in DynamoDB at its last record.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use kcl_e2e::aws::{Clients, Produced};
use kcl_e2e::paths::workspace_binary;
use kcl_e2e::scenario::Scenario;

use crate::common::wait_checkpoints_at_last;

fn run_producer(s: &Scenario, binary: &str, args: &[&str]) {
    let output = Command::new(workspace_binary(binary))
        .args(args)
        .envs(s.stack().env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    assert!(
        output.status.success(),
        "{binary} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn stream_records(clients: &Clients, stream: &str, expected: usize) -> Vec<Produced> {
    let records = clients
        .read_stream(stream)
        .await
        .expect("read the stream back");
    assert_eq!(
        records.len(),
        expected,
        "the producer put {expected} records"
    );
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_basic_sample_end_to_end() {
    let mut s = Scenario::new("s7-basic");
    run_producer(
        &s,
        "basic-producer",
        &[
            "--stream", &s.stream, "--shards", "2", "--count", "300", "--rate", "0",
        ],
    );
    let produced = stream_records(&s.clients, &s.stream, 300).await;
    s.mark("basic-producer put 300 records");
    let worker = s.start_worker(
        "worker",
        &s.properties(&workspace_binary("basic-consumer")),
        None,
        &[("RUST_LOG", "warn")],
    );
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(180),
    )
    .await;
    s.mark("basic-consumer checkpointed every shard at its last record");
    drop(worker);
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_clickstream_sample_end_to_end() {
    let mut s = Scenario::new("s7-clickstream");
    let bucket = format!("e2e-clicks-{}", std::process::id());
    run_producer(
        &s,
        "clickstream-producer",
        &[
            "--stream",
            &s.stream,
            "--shards",
            "2",
            "--count",
            "2000",
            "--batch-size",
            "100",
            "--rate",
            "0",
            "--quiet",
        ],
    );
    let produced = stream_records(&s.clients, &s.stream, 2000).await;
    s.mark("clickstream-producer put 2,000 records");
    let mut properties = s.properties(&workspace_binary("clickstream-consumer"));
    // The consumer flushes a buffer by age only when it is called: with no new records that needs
    // empty batches (as in properties/clickstream.properties).
    properties.set("callProcessRecordsEvenForEmptyRecordList", "true");
    let worker = s.start_worker(
        "worker",
        &properties,
        None,
        &[
            ("CLICKSTREAM_BUCKET", bucket.as_str()),
            ("CLICKSTREAM_MAX_BYTES", "65536"),
            ("CLICKSTREAM_MAX_AGE_SECS", "2"),
            ("RUST_LOG", "warn"),
        ],
    );
    // Checkpoints come only after uploads, so once they are at the last records S3 must hold all.
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(180),
    )
    .await;
    s.mark("clickstream-consumer checkpointed every shard at its last record");

    let mut stored: BTreeSet<(String, String)> = BTreeSet::new();
    let mut objects = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    let keys = loop {
        let listed = s.clients.s3.list_objects_v2().bucket(&bucket).send().await;
        if let Ok(listed) = listed {
            break listed
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect::<Vec<_>>();
        }
        assert!(Instant::now() < deadline, "bucket {bucket} never appeared");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for key in keys {
        let (shard, range) = key
            .split_once('/')
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        let (first, last) = range
            .split_once('-')
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        let body = s
            .clients
            .s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("get object");
        let bytes = body.body.collect().await.expect("read object").into_bytes();
        let mut sequences = Vec::new();
        for line in String::from_utf8_lossy(&bytes).lines() {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{key}: bad line {line:?}: {e}"));
            let seq = value["sequenceNumber"]
                .as_str()
                .unwrap_or_else(|| panic!("{key}: no sequenceNumber"))
                .to_owned();
            sequences.push(seq.clone());
            stored.insert((shard.to_owned(), seq));
        }
        assert_eq!(
            sequences.first().map(String::as_str),
            Some(first),
            "{key}: first record matches the key"
        );
        assert_eq!(
            sequences.last().map(String::as_str),
            Some(last),
            "{key}: last record matches the key"
        );
        objects += 1;
    }
    let missing: Vec<_> = produced
        .iter()
        .filter(|p| !stored.contains(&(p.shard_id.clone(), p.sequence_number.clone())))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} records are not in S3 (first: {:?})",
        missing.len(),
        produced.len(),
        missing.first()
    );
    s.mark(&format!("all 2,000 records found in {objects} S3 objects"));
    drop(worker);
    s.pass();
}
