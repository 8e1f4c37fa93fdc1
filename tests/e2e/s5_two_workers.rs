//! Scenario 5: two workers on one lease table. Shards spread across both; `kill -9` one worker's JVM
//! (its children see stdin EOF); the other takes over every shard and nothing is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kcl_e2e::scenario::Scenario;

use crate::common::{
    BackgroundProducer, e2e_consumer, process_alive, wait_all_in_sink, wait_checkpoints_at_last,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_two_workers_failover_after_kill_9() {
    let mut s = Scenario::new("s5-two-workers");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let sink = s.sink("workers");
    let producer =
        BackgroundProducer::start(&s.clients, &s.stream, "s5", 100, Duration::from_millis(250));
    let mut properties = s.properties(&e2e_consumer());
    properties.set("varianceBalancingFrequency", 1);
    let a = s.start_worker(
        "worker-a",
        properties.clone().set("workerId", "s5-a"),
        Some(&sink),
        &[],
    );
    let b = s.start_worker(
        "worker-b",
        properties.clone().set("workerId", "s5-b"),
        Some(&sink),
        &[],
    );

    // Wait until the leases are spread over both workers.
    let deadline = Instant::now() + Duration::from_secs(180);
    let owners = loop {
        let leases = s.clients.leases_by_shard(&s.application).await;
        let mut owners: BTreeMap<String, usize> = BTreeMap::new();
        for lease in leases.values() {
            if let Some(owner) = &lease.lease_owner {
                *owners.entry(owner.clone()).or_default() += 1;
            }
        }
        if owners.len() == 2 && leases.len() == 4 {
            break owners;
        }
        assert!(
            Instant::now() < deadline,
            "leases not spread over both workers within 180 s: {owners:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    s.mark(&format!("leases spread: {owners:?}"));

    // Kill the worker that is not the KCL 3 leader: only the leader reassigns leases, and a killed
    // leader's lock must first expire (measured: no takeover within 90 s), which would make this
    // scenario minutes long without testing anything more about our processor.
    let leader = s.clients.leader(&s.application).await;
    let (mut victim, victim_id, survivor, survivor_id) = if leader.as_deref() == Some("s5-a") {
        (b, "s5-b", a, "s5-a")
    } else {
        (a, "s5-a", b, "s5-b")
    };
    let victim_shards: BTreeSet<String> = s
        .clients
        .leases_by_shard(&s.application)
        .await
        .into_values()
        .filter(|l| l.lease_owner.as_deref() == Some(victim_id))
        .map(|l| l.lease_key)
        .collect();
    victim.signal(libc::SIGKILL);
    victim
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the victim dies on SIGKILL");
    s.mark(&format!(
        "{victim_id} killed with SIGKILL (leader {leader:?}; it held {victim_shards:?})"
    ));

    // The survivor takes over every shard.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let leases = s.clients.leases_by_shard(&s.application).await;
        if leases.len() == 4
            && leases
                .values()
                .all(|l| l.lease_owner.as_deref() == Some(survivor_id))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{survivor_id} did not take over every lease within 90 s: {leases:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    s.mark(&format!("{survivor_id} owns every lease"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let produced = producer.stop().await;
    wait_all_in_sink(&sink, &produced, Duration::from_secs(120)).await;
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(30),
    )
    .await;
    s.mark(&format!("all {} records in the sink", produced.len()));

    // Worker a's children ended (stdin EOF) although their JVM was killed: on every shard, only the
    // newest child (worker b's) may still be alive.
    for (shard, events) in sink.events() {
        let pids: Vec<u32> = events
            .iter()
            .filter(|e| e.event == "initialize")
            .map(|e| e.pid)
            .collect();
        for pid in &pids[..pids.len().saturating_sub(1)] {
            assert!(
                !process_alive(*pid),
                "{shard}: an earlier child {pid} is still alive"
            );
        }
    }
    drop(victim);
    drop(survivor);
    s.pass();
}
