//! Scenario 1: happy path. 4 shards, 10,000 records: every record reaches the sink at least once,
//! on its shard at its sequence number, and every shard's lease checkpoint is at its last sequence
//! number.

use std::time::Duration;

use kcl_e2e::scenario::Scenario;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_happy_path_every_record_delivered_and_checkpointed() {
    let mut s = Scenario::new("s1-happy-path");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s1", 0, 10_000)
        .await
        .expect("produce");
    assert_eq!(produced.len(), 10_000);
    let shards: std::collections::BTreeSet<_> =
        produced.iter().map(|p| p.shard_id.clone()).collect();
    assert_eq!(
        shards.len(),
        4,
        "the producer spreads records over all 4 shards"
    );
    s.mark("10,000 records produced");

    let sink = s.sink("worker");
    let worker = s.start_worker("worker", &s.properties(&e2e_consumer()), Some(&sink), &[]);
    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    s.mark("all records in the sink");
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(30),
    )
    .await;
    s.mark("all checkpoints at the last sequence numbers");

    let records = sink.records();
    assert!(
        records.len() >= produced.len(),
        "at least once: {} sunk for {} produced",
        records.len(),
        produced.len()
    );
    drop(worker);
    s.pass();
}
