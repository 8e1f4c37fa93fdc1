//! Scenario 4: resharding. Split a shard while records flow: the parent's child gets `shardEnded`
//! and checkpoints SHARD_END (seen in the lease table), the children shards are processed, and no
//! record is lost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kcl_e2e::scenario::Scenario;

use crate::common::{BackgroundProducer, e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

const PARENT: &str = "shardId-000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_split_while_records_flow() {
    let mut s = Scenario::new("s4-resharding");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let sink = s.sink("worker");
    let producer =
        BackgroundProducer::start(&s.clients, &s.stream, "s4", 100, Duration::from_millis(250));
    let worker = s.start_worker("worker", &s.properties(&e2e_consumer()), Some(&sink), &[]);

    // Split once the parent's child has processed records, so the split happens mid-stream.
    let deadline = Instant::now() + Duration::from_secs(180);
    while !sink.records().iter().any(|r| r.shard_id == PARENT) {
        assert!(
            Instant::now() < deadline,
            "no record processed on {PARENT} within 180 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    s.mark("parent shard processing");
    s.clients
        .split_in_half(&s.stream, PARENT)
        .await
        .expect("split");
    s.mark("parent split");

    let shards = s.clients.shards(&s.stream).await.expect("list shards");
    let children: BTreeSet<String> = shards
        .iter()
        .filter(|sh| sh.parent_shard_id.as_deref() == Some(PARENT))
        .map(|sh| sh.shard_id.clone())
        .collect();
    assert_eq!(children.len(), 2, "the split made two children: {shards:?}");

    // Keep producing until the children have records too, then stop.
    let mut parent_shard_end_seen = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let leases = s.clients.leases_by_shard(&s.application).await;
        parent_shard_end_seen |=
            leases.get(PARENT).and_then(|l| l.checkpoint.as_deref()) == Some("SHARD_END");
        let sunk: BTreeSet<String> = sink.records().into_iter().map(|r| r.shard_id).collect();
        if parent_shard_end_seen && children.iter().all(|c| sunk.contains(c)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 120 s: parent SHARD_END in lease table = {parent_shard_end_seen}, shards with records = {sunk:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    s.mark("parent at SHARD_END, children processing");
    let produced = producer.stop().await;
    let on_children = produced
        .iter()
        .filter(|p| children.contains(&p.shard_id))
        .count();
    assert!(on_children > 0, "records were produced to the children");

    wait_all_in_sink(&sink, &produced, Duration::from_secs(120)).await;
    let open: Vec<_> = produced
        .iter()
        .filter(|p| p.shard_id != PARENT)
        .cloned()
        .collect();
    wait_checkpoints_at_last(&s.clients, &s.application, &open, Duration::from_secs(30)).await;
    s.mark(&format!(
        "all {} records in the sink ({on_children} on the children)",
        produced.len()
    ));

    // The parent's child was told the shard ended and made the SHARD_END checkpoint.
    let events = sink.events();
    let parent: Vec<&str> = events[PARENT].iter().map(|e| e.event.as_str()).collect();
    let ended = parent
        .iter()
        .position(|e| *e == "shardEnded")
        .expect("parent child got shardEnded");
    assert_eq!(
        parent.get(ended + 1),
        Some(&"shardEndCheckpoint"),
        "parent events: {parent:?}"
    );
    drop(worker);
    s.pass();
}
