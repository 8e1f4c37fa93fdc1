//! Scenario 12: a lease that moves while the child is inside `process_records` does not stop the
//! worker. The child holds its first batch (`E2E_GATE_DIR`), the scenario hands the lease to
//! another owner in the lease table (what KCL 3's balancing or a lease steal does), and the child's
//! checkpoint is then refused by the daemon with `ShutdownException`. The child propagates it with
//! `?`, the way the samples teach; kcl-protocol acknowledges the batch instead of failing, so the
//! daemon keeps running. The lease later comes back to the worker (its other owner never renews it)
//! and every record is delivered: nothing is lost, and the JVM never exits.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use kcl_e2e::scenario::Scenario;
use kcl_e2e::wait::wait_until;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

const SHARD: &str = "shardId-000000000000";
/// An owner no worker uses: nobody renews the lease for it, so it expires back to the worker.
const OTHER_OWNER: &str = "s12-a-worker-that-does-not-exist";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_checkpoint_after_the_lease_moved_keeps_the_worker_running() {
    let name = "s12-lease-moved";
    let mut s = Scenario::new(name);
    s.clients
        .create_stream(&s.stream, 1)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, name, 0, 300)
        .await
        .expect("produce");
    let mut properties = s.properties(&e2e_consumer());
    properties
        .set("maxRecords", 100)
        .set("workerId", format!("{name}-worker"));
    let gate = s.dir().join("gate");
    std::fs::create_dir_all(&gate).expect("gate dir");
    let gate_text = gate.display().to_string();
    let sink = s.sink("run");
    let mut worker = s.start_worker(
        "worker",
        &properties,
        Some(&sink),
        &[("E2E_GATE_DIR", gate_text.as_str())],
    );

    // The child is inside process_records with its first batch.
    wait_until(
        "the child holding its first batch",
        Duration::from_secs(240),
        Duration::from_millis(200),
        || std::future::ready(gate.join("inside").exists().then_some(())),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log_tail(40)));
    s.mark("child holds its first batch");

    // Hand the lease to another owner, as a lease move does: new owner, counter bumped.
    s.clients
        .dynamodb
        .update_item()
        .table_name(&s.application)
        .key("leaseKey", AttributeValue::S(SHARD.into()))
        .update_expression("SET leaseOwner = :owner, leaseCounter = leaseCounter + :one")
        .expression_attribute_values(":owner", AttributeValue::S(OTHER_OWNER.into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("move the lease");
    std::fs::write(gate.join("open"), b"").expect("open the gate");
    s.mark("lease moved, gate opened");

    // The daemon refused the checkpoint with ShutdownException...
    let refused = wait_until(
        "the refused checkpoint",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let refused = sink.events().get(SHARD).and_then(|events| {
                events
                    .iter()
                    .find(|e| e.event == "checkpointRefused")
                    .cloned()
            });
            std::future::ready(refused)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log_tail(40)));
    assert_eq!(
        refused.detail, "ShutdownException",
        "the daemon refuses a checkpoint for a lease this worker no longer holds"
    );
    s.mark("checkpoint refused with ShutdownException");

    // ...and the worker keeps running: the lease comes back and every record is delivered.
    wait_all_in_sink(&sink, &produced, Duration::from_secs(240)).await;
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        worker.try_status().is_none(),
        "the daemon kept running after the refused checkpoint\n{}",
        worker.log_tail(40)
    );
    s.mark("every record delivered, daemon still running");

    // The refusing child was not a failure: it never logged one, and it was ended by the daemon
    // (leaseLost or stdin closed), not by an error. A later child (another process) finished.
    let events = &sink.events()[SHARD];
    assert!(
        events.iter().all(|e| e.event != "fail"),
        "no failure event: {events:?}"
    );
    let refusing_pid = refused.pid;
    assert!(
        events
            .iter()
            .any(|e| e.pid != refusing_pid && e.event == "checkpoint"),
        "a new child checkpointed after the lease came back: {events:?}"
    );
    drop(worker);
    s.pass();
}
