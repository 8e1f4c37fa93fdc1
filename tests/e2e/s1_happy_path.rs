//! Scenario 1: happy path. 4 shards, 10,000 records: every record reaches the sink at least once,
//! on its shard at its sequence number, and every shard's lease checkpoint is at its last sequence
//! number. Each child logs [`CHILD_LOG_LINES`] lines to its stderr, alternately at WARN and ERROR:
//! each appears exactly once in the worker's log, at the child's own level (the daemon's
//! `DrainChildSTDERRTask` logger is off in `tests/fixtures/logback-e2e.xml`, so only the raw copy
//! the daemon prints to its stderr remains).

use std::time::Duration;

use kcl_e2e::logs::{child_line_marker, lines_containing};
use kcl_e2e::scenario::Scenario;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

/// Lines each child writes to its stderr on `initialize` (`E2E_STDERR_LINES`).
const CHILD_LOG_LINES: u32 = 6;

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
    let lines = CHILD_LOG_LINES.to_string();
    let worker = s.start_worker(
        "worker",
        &s.properties(&e2e_consumer()),
        Some(&sink),
        &[("E2E_STDERR_LINES", &lines)],
    );
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

    // Each child's stderr line once in the worker's log, with the child's level.
    let log = std::fs::read_to_string(worker.log()).expect("read the worker's log");
    let children: Vec<u32> = sink
        .events()
        .values()
        .flatten()
        .filter(|e| e.event == "initialize")
        .map(|e| e.pid)
        .collect();
    assert!(children.len() >= 4, "a child per shard: {children:?}");
    for pid in &children {
        for n in 0..CHILD_LOG_LINES {
            let found = lines_containing(&log, &child_line_marker(*pid, n));
            let level = if n % 2 == 0 { " WARN " } else { " ERROR " };
            assert!(
                found.len() == 1 && found[0].contains(level),
                "child {pid}'s line {n} should appear once, at{level}, in {}: {found:#?}",
                worker.log().display()
            );
        }
    }
    s.mark(&format!(
        "{} child lines each once in the worker's log",
        children.len() * CHILD_LOG_LINES as usize
    ));
    drop(worker);
    s.pass();
}
