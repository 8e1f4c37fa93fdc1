//! Scenario 11: KCL 3 leader failure. Two workers on one lease table; `kill -9` of the JVM of the
//! worker holding the leader lock while records flow. The survivor takes the lock, then every
//! lease, and every record reaches the sink. The scenario measures each step from the kill.
//!
//! What decides the time (KCL 3.1.3 source, tests/README.md "Leader failure"): only the leader
//! assigns leases, and the leader lock (DynamoDB lock client, item `Leader` in
//! `<app>-CoordinatorState`) has a fixed 120 s lease and 30 s heartbeat that no multilang property
//! reaches. A non-leader checks the lock at most every 30 s and takes it only once it has seen the
//! same record version for longer than 120 s: 90-180 s after the kill. Then the new leader's
//! assignment runs (every `leaseAssignmentIntervalMillis`) see the dead worker's leases expired
//! after `failoverTimeMillis` and assign them to the survivor.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kcl_e2e::kcl_tables::KclTables;
use kcl_e2e::scenario::Scenario;

use crate::common::{
    BackgroundProducer, e2e_consumer, process_alive, wait_all_in_sink, wait_checkpoints_at_last,
};

/// The lock client's lease duration KCL 3.1.3 hard-codes (`DynamoDBLockBasedLeaderDecider`).
const LOCK_LEASE: Duration = Duration::from_secs(120);
/// Its heartbeat period, which is also how often a non-leader re-checks the lock.
const LOCK_HEARTBEAT: Duration = Duration::from_secs(30);
/// The template's `failoverTimeMillis`.
const FAILOVER: Duration = Duration::from_secs(5);
/// The latest the survivor can take the lock: it sees the dead leader's last record version at
/// its next check (up to one heartbeat), must see it unchanged for longer than the lease, and
/// checks once per heartbeat; plus 30 s for a loaded machine.
const LOCK_BOUND: Duration =
    Duration::from_secs(LOCK_LEASE.as_secs() + 2 * LOCK_HEARTBEAT.as_secs() + 30);
/// The earliest: the last heartbeat may have been up to one period before the kill.
const LOCK_EARLIEST: Duration =
    Duration::from_secs(LOCK_LEASE.as_secs() - LOCK_HEARTBEAT.as_secs());
/// From the lock to every lease: the new leader's first assignment run takes every lease as just
/// renewed; a run `failoverTimeMillis` later sees the dead worker's expired; discovery and the
/// consumers follow within seconds. Twice that, plus 20 s for load.
const LEASES_BOUND: Duration = Duration::from_secs(2 * FAILOVER.as_secs() + 20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_leader_killed_survivor_takes_lock_leases_and_records() {
    let mut s = Scenario::new("s11-leader-failure");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let tables = KclTables::new(&s.clients, &s.application);
    let sink = s.sink("workers");
    // 40 records/s for the whole run (about 4 minutes): enough to have records in flight when the
    // leader dies and during the leaderless minutes, few enough to keep the sink cheap to read.
    let producer =
        BackgroundProducer::start(&s.clients, &s.stream, "s11", 20, Duration::from_millis(500));
    let mut properties = s.properties(&e2e_consumer());
    properties
        // Balancing on every assignment run spreads the leases over both workers quickly.
        .set("varianceBalancingFrequency", 1)
        // A dead worker's metrics go stale after 2 reports: keep that far below the lock wait.
        .set("workerMetricsReporterFreqInMillis", 1000);
    let a = s.start_worker(
        "worker-a",
        properties.clone().set("workerId", "s11-a"),
        Some(&sink),
        &[],
    );
    let b = s.start_worker(
        "worker-b",
        properties.clone().set("workerId", "s11-b"),
        Some(&sink),
        &[],
    );

    // Wait until the leases are spread over both workers and someone holds the lock.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (owners, lock) = loop {
        let leases = s.clients.leases_by_shard(&s.application).await;
        let mut owners: BTreeMap<String, usize> = BTreeMap::new();
        for lease in leases.values() {
            if let Some(owner) = &lease.lease_owner {
                *owners.entry(owner.clone()).or_default() += 1;
            }
        }
        let lock = tables.leader_lock().await;
        if owners.len() == 2 && leases.len() == 4 && lock.as_ref().is_some_and(|l| !l.released) {
            break (owners, lock.expect("checked above"));
        }
        assert!(
            Instant::now() < deadline,
            "leases not spread over both workers with a leader within 180 s: {owners:?}, lock {lock:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        lock.lease_duration_millis,
        Some(LOCK_LEASE.as_millis() as u64),
        "the leader lock's lease duration is fixed in KCL 3.1.3 (no property reaches it): {lock:?}"
    );
    s.mark(&format!("leases spread: {owners:?}; leader {}", lock.owner));

    let (mut victim, survivor, survivor_id) = match lock.owner.as_str() {
        "s11-a" => (a, b, "s11-b"),
        "s11-b" => (b, a, "s11-a"),
        other => panic!("the lock names an unknown worker {other}"),
    };
    let victim_shards: BTreeSet<String> = s
        .clients
        .leases_by_shard(&s.application)
        .await
        .into_values()
        .filter(|l| l.lease_owner.as_deref() == Some(lock.owner.as_str()))
        .map(|l| l.lease_key)
        .collect();
    assert!(
        !victim_shards.is_empty(),
        "the leader must hold leases to be taken over"
    );
    victim.signal(libc::SIGKILL);
    let killed = Instant::now();
    victim
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the leader dies on SIGKILL");
    s.mark(&format!(
        "leader {} killed with SIGKILL (it held {victim_shards:?})",
        lock.owner
    ));

    // The survivor takes the lock, then every lease.
    let mut lock_taken: Option<Duration> = None;
    let leases_taken = loop {
        let elapsed = killed.elapsed();
        if lock_taken.is_none() {
            let now = tables.leader_lock().await;
            if now.as_ref().is_some_and(|l| l.owner == survivor_id) {
                lock_taken = Some(elapsed);
                s.mark(&format!(
                    "{survivor_id} holds the leader lock {:.1}s after the kill",
                    elapsed.as_secs_f64()
                ));
            } else {
                assert!(
                    elapsed < LOCK_BOUND,
                    "{survivor_id} did not take the leader lock within {LOCK_BOUND:?} of the kill: {now:?}"
                );
            }
        }
        let leases = s.clients.leases_by_shard(&s.application).await;
        if lock_taken.is_some()
            && leases.len() == 4
            && leases
                .values()
                .all(|l| l.lease_owner.as_deref() == Some(survivor_id))
        {
            break elapsed;
        }
        assert!(
            elapsed < LOCK_BOUND + LEASES_BOUND,
            "{survivor_id} did not own every lease within {:?} of the kill: {leases:#?}",
            LOCK_BOUND + LEASES_BOUND
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let lock_taken = lock_taken.expect("the loop ends only after the lock was taken");
    assert!(
        lock_taken >= LOCK_EARLIEST,
        "the lock moved {lock_taken:?} after the kill, sooner than the fixed 120 s lease minus one \
         30 s heartbeat allows: has KCL's leader lock changed? Update tests/README.md."
    );
    s.mark(&format!(
        "{survivor_id} owns every lease {:.1}s after the kill ({:.1}s after taking the lock)",
        leases_taken.as_secs_f64(),
        (leases_taken - lock_taken).as_secs_f64()
    ));

    let produced = producer.stop().await;
    wait_all_in_sink(&sink, &produced, Duration::from_secs(90)).await;
    let records_done = killed.elapsed();
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(30),
    )
    .await;
    s.mark(&format!(
        "all {} records in the sink {:.1}s after the kill",
        produced.len(),
        records_done.as_secs_f64()
    ));

    // The killed leader's children ended (stdin EOF): on every shard only the newest child may
    // still be alive.
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
