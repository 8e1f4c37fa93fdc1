//! Scenario 6: a processor that fails follows kcl-protocol's documented default failure policy
//! (`FailurePolicy::Exit`): the failing child does not acknowledge the batch and exits non-zero, the
//! daemon then exits with status 1, the failed batch is not checkpointed, and a restarted worker
//! delivers every record: nothing is lost.

use std::time::Duration;

use kcl_e2e::aws::{last_sequence_per_shard, numeric_cmp};
use kcl_e2e::scenario::Scenario;
use kcl_e2e::worker::Worker;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

const FAILING_SHARD: &str = "shardId-000000000000";

async fn fails_then_recovers(name: &str, mode: &str) {
    let mut s = Scenario::new(name);
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, name, 0, 1_000)
        .await
        .expect("produce");
    let mut properties = s.properties(&e2e_consumer());
    // Small batches so the failure hits the middle of the shard; a fixed worker id for the restart.
    properties
        .set("maxRecords", 100)
        .set("workerId", format!("{name}-worker"));
    let marker = s.dir().join("failed-once");
    let marker_text = marker.display().to_string();
    let failure_env = [
        ("E2E_FAIL_AFTER_BATCHES", "1"),
        ("E2E_FAIL_SHARD", FAILING_SHARD),
        ("E2E_FAIL_MODE", mode),
        ("E2E_FAIL_MARKER", marker_text.as_str()),
    ];

    let sink1 = s.sink("run1");
    let mut worker = s.start_worker("run1", &properties, Some(&sink1), &failure_env);
    let (status, _) = worker
        .wait_exit(Duration::from_secs(240))
        .await
        .expect("the daemon exits when its child fails");
    s.mark(&format!(
        "daemon exited after the injected {mode}: {}",
        Worker::describe(status)
    ));
    assert_eq!(
        status.code(),
        Some(1),
        "the daemon exits 1 when a child dies without acknowledging"
    );
    assert!(marker.exists(), "the failure was injected");
    drop(worker);

    // The failed batch (the second of the shard) never reached the sink nor the checkpoint.
    let events = sink1.events();
    let shard_events: Vec<&str> = events[FAILING_SHARD]
        .iter()
        .map(|e| e.event.as_str())
        .collect();
    assert!(
        shard_events.contains(&"fail"),
        "{FAILING_SHARD} events: {shard_events:?}"
    );
    let last = last_sequence_per_shard(&produced);
    let leases = s.clients.leases_by_shard(&s.application).await;
    let checkpoint = leases[FAILING_SHARD]
        .checkpoint
        .clone()
        .expect("a checkpoint");
    let sunk_max = sink1
        .records()
        .into_iter()
        .filter(|r| r.shard_id == FAILING_SHARD)
        .map(|r| r.sequence_number)
        .max_by(|a, b| numeric_cmp(a, b))
        .expect("the first batch reached the sink");
    assert_eq!(
        checkpoint, sunk_max,
        "the checkpoint is the last record written before the failure"
    );
    assert!(
        numeric_cmp(&checkpoint, &last[FAILING_SHARD]).is_lt(),
        "the failed batch is not checkpointed"
    );

    // Restart (the marker makes the child run clean now): everything arrives.
    let sink2 = s.sink("run2");
    let worker = s.start_worker("run2", &properties, Some(&sink2), &failure_env);
    let missing_before: Vec<_> = {
        let got = sink1.distinct_data();
        produced
            .iter()
            .filter(|p| !got.contains(p.data.as_bytes()))
            .cloned()
            .collect()
    };
    assert!(
        !missing_before.is_empty(),
        "the failure left records to be re-delivered"
    );
    wait_all_in_sink(&sink2, &missing_before, Duration::from_secs(180)).await;
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(30),
    )
    .await;
    s.mark(&format!(
        "restart delivered the {} records left after the failure",
        missing_before.len()
    ));
    drop(worker);
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_processor_error_exits_and_loses_nothing() {
    fails_then_recovers("s6-error", "error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_processor_panic_exits_and_loses_nothing() {
    fails_then_recovers("s6-panic", "panic").await;
}
