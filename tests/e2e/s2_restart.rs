//! Scenario 2: restart. Stop the worker (SIGTERM), produce more, start it again: every shard resumes
//! from its checkpoint (its child's `initialize` carries it) and re-delivers at most one batch.

use std::collections::BTreeMap;
use std::time::Duration;

use kcl_e2e::aws::last_sequence_per_shard;
use kcl_e2e::scenario::Scenario;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

const MAX_RECORDS: u64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_restart_resumes_from_checkpoints() {
    let mut s = Scenario::new("s2-restart");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let first = s
        .clients
        .produce(&s.stream, "s2a", 0, 2_000)
        .await
        .expect("produce");
    let mut properties = s.properties(&e2e_consumer());
    // A fixed worker id: the restarted worker finds its own leases at once (KCL 3 does not release
    // leases on shutdown, so a new id would wait for them to expire).
    properties
        .set("workerId", "s2-worker")
        .set("maxRecords", MAX_RECORDS);

    let sink1 = s.sink("run1");
    let mut worker = s.start_worker("run1", &properties, Some(&sink1), &[]);
    wait_all_in_sink(&sink1, &first, Duration::from_secs(180)).await;
    wait_checkpoints_at_last(&s.clients, &s.application, &first, Duration::from_secs(30)).await;
    s.mark("run 1 done");
    worker.signal(libc::SIGTERM);
    worker
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("run 1 exits on SIGTERM");
    drop(worker);
    s.mark("run 1 stopped");

    let second = s
        .clients
        .produce(&s.stream, "s2b", 0, 2_000)
        .await
        .expect("produce more");
    let sink2 = s.sink("run2");
    let worker = s.start_worker("run2", &properties, Some(&sink2), &[]);
    wait_all_in_sink(&sink2, &second, Duration::from_secs(120)).await;
    wait_checkpoints_at_last(&s.clients, &s.application, &second, Duration::from_secs(30)).await;
    s.mark("run 2 done");
    drop(worker);

    // Every child of run 2 started from run 1's last checkpoint of its shard.
    let last1 = last_sequence_per_shard(&first);
    let events = sink2.events();
    for (shard, seq) in &last1 {
        let init = events
            .get(shard)
            .and_then(|e| e.iter().find(|e| e.event == "initialize"))
            .unwrap_or_else(|| panic!("run 2 never initialized {shard}"));
        // kcl-protocol prints an extended sequence number as `<sequence>/<sub-sequence>`.
        let resumed_at = init.detail.split('/').next().unwrap_or_default();
        assert_eq!(
            resumed_at, seq,
            "run 2's {shard} resumed from run 1's checkpoint ({})",
            init.detail
        );
    }
    // Duplicates: records of the first batch delivered again in run 2, bounded by one batch per shard.
    let mut redelivered: BTreeMap<String, u64> = BTreeMap::new();
    for record in sink2.records() {
        if record.data.starts_with(b"s2a-") {
            *redelivered.entry(record.shard_id).or_default() += 1;
        }
    }
    for (shard, count) in &redelivered {
        assert!(
            *count <= MAX_RECORDS,
            "{shard}: {count} records re-delivered, more than one batch"
        );
    }
    eprintln!("[s2-restart] re-delivered after restart per shard: {redelivered:?}");
    s.pass();
}
