//! Scenario 3: SIGTERM to `kcl-bootstrap -e` (the JVM, since it exec's): every child gets
//! `shutdownRequested`, checkpoints, then `leaseLost` and exits; the worker exits within
//! `shutdownGraceMillis` and no e2e-consumer process of this worker is left.

use std::time::Duration;

use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::SINK_DIR_ENV;
use kcl_e2e::worker::Worker;

use crate::common::{
    e2e_consumer, process_alive, processes_with, wait_all_in_sink, wait_checkpoints_at_last,
};

const SHUTDOWN_GRACE_MILLIS: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sigterm_shuts_down_gracefully() {
    let mut s = Scenario::new("s3-graceful-shutdown");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s3", 0, 2_000)
        .await
        .expect("produce");
    let mut properties = s.properties(&e2e_consumer());
    properties.set("shutdownGraceMillis", SHUTDOWN_GRACE_MILLIS);
    let sink = s.sink("worker");
    let mut worker = s.start_worker("worker", &properties, Some(&sink), &[]);
    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    s.mark("all records in the sink");

    worker.signal(libc::SIGTERM);
    let (status, took) = worker
        .wait_exit(Duration::from_millis(SHUTDOWN_GRACE_MILLIS + 10_000))
        .await
        .expect("the worker exits after SIGTERM");
    s.mark(&format!(
        "worker exited after SIGTERM: {} in {:.1}s",
        Worker::describe(status),
        took.as_secs_f64()
    ));
    assert!(
        took <= Duration::from_millis(SHUTDOWN_GRACE_MILLIS + 2_000),
        "the worker took {took:?}, more than shutdownGraceMillis ({SHUTDOWN_GRACE_MILLIS} ms) + 2 s"
    );
    // The JVM runs its shutdown hook (the graceful shutdown) and then reports the signal: 143.
    assert!(
        matches!(status.code(), Some(143) | Some(0)),
        "graceful stop exit status: {}",
        Worker::describe(status)
    );

    // Every shard's child got shutdownRequested, checkpointed, then leaseLost, then exited.
    let events = sink.events();
    assert_eq!(
        events.len(),
        4,
        "4 shards had children: {:?}",
        events.keys()
    );
    for (shard, events) in &events {
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        let pos = |name: &str| names.iter().rposition(|n| *n == name);
        let (req, ckpt, lost) = (
            pos("shutdownRequested"),
            pos("shutdownCheckpoint"),
            pos("leaseLost"),
        );
        assert!(
            req.is_some() && ckpt > req && lost > ckpt,
            "{shard}: expected shutdownRequested, shutdownCheckpoint, leaseLost in order, got {names:?}"
        );
        for pid in events.iter().map(|e| e.pid) {
            assert!(
                !process_alive(pid),
                "{shard}: child {pid} still alive after the worker exited"
            );
        }
    }
    let env_entry = format!("{SINK_DIR_ENV}={}", sink.dir().display());
    let left = processes_with("e2e-consumer", &env_entry);
    assert!(
        left.is_empty(),
        "e2e-consumer processes left behind: {left:?}"
    );
    assert!(!process_alive(worker.pid()) || worker.try_status().is_some());

    // The shutdown checkpoints are in the lease table.
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(5),
    )
    .await;
    drop(worker);
    s.pass();
}
