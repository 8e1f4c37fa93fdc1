//! Scenario 10: the stuck lease of KCL 3.1.3's graceful lease handoff, reproduced on purpose, and
//! the safe default (`isGracefulLeaseHandoffEnabled = false`) that avoids it.
//!
//! The bug (KCL 3.0.0-3.4.2, fixed upstream in 3.4.3 by PR #1729): a shard consumer that is still
//! in WAITING_ON_PARENT_SHARDS when its worker is asked to hand the lease over goes straight to
//! SHUTTING_DOWN and runs the ShutdownTask, which neither transfers nor drops the lease. The worker
//! keeps renewing it, the next owner never takes it (`checkpointOwner` is set), no child is ever
//! started again: the shard is owned and not processed, with no error logged.
//!
//! The recipe, the same for both tests except for the one property:
//! 1. the test seeds the lease table before the worker starts: the stream's one shard X, assigned
//!    to the worker, with a parent lease P that the test holds (renewed like a live worker's, at
//!    `TRIM_HORIZON`): the worker's consumer for X waits for P, as a child shard waits for a parent
//!    still being processed by another worker;
//! 2. a ghost worker (a fresh row in `<app>-WorkerMetricStats`, nothing behind it) makes the
//!    worker's own leader move X to it: with the flag on, a graceful handoff (`leaseOwner` =
//!    ghost, `checkpointOwner` = worker); with the flag off, a plain assignment;
//! 3. the ghost dies (its row is deleted), and once the worker has renewed X twice more (so it
//!    has seen the move), P is released (`SHARD_END`).
//!
//! Flag on: X stays owned by the ghost with `checkpointOwner` = the worker, renewed by the worker,
//! and no child ever starts, for longer than a healthy handoff's every time-out; restarting the
//! worker does not help (the lease is then renewed by nobody and still never assigned); the
//! repair of tests/README.md (unassign X) then gets every record delivered. Flag off: no `checkpointOwner`
//! ever appears, X comes back to the worker and every record is delivered.

use std::time::{Duration, Instant};

use kcl_e2e::aws::Lease;
use kcl_e2e::kcl_tables::{GhostWorker, HeldLease, KclTables, LeaseSeed};
use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::Sink;
use kcl_e2e::wait::wait_until;
use kcl_e2e::worker::Worker;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

/// The worker's `gracefulLeaseHandoffTimeoutMillis`: long enough that the test releases the parent
/// before the handoff monitor's forced transfer could fire (about 3 s after the handoff is seen),
/// short enough to keep the stuck window short.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(15);
/// The template's `failoverTimeMillis`.
const FAILOVER: Duration = Duration::from_secs(5);
/// How long the stuck state must last: a healthy handoff completes, or is forced by the monitor,
/// within the handoff time-out + the monitor's 2 s period + one renewal (1.6 s); an expired lease
/// is reassigned within `failoverTimeMillis`; plus 10 s for a loaded machine.
const STUCK_FOR: Duration =
    Duration::from_secs(HANDOFF_TIMEOUT.as_secs() + FAILOVER.as_secs() + 10);
/// How long the lease must stay stranded after the worker's restart: the lease expires after
/// `failoverTimeMillis`, then 10 s of the leader's assignment runs (every second), plus 10 s.
const RESTART_STUCK_FOR: Duration = Duration::from_secs(FAILOVER.as_secs() + 20);
/// The worker's renewal interval: `failoverTimeMillis / 3 - 25 ms`.
const RENEWAL: Duration = Duration::from_millis(FAILOVER.as_millis() as u64 / 3 - 25);
/// Records put to the shard before the worker starts.
const RECORDS: u64 = 1_000;
/// The parent lease the test holds (no such shard exists in the stream).
const PARENT: &str = "shardId-000000009999";

/// Everything up to the parent's release (step 3 above).
struct Reproduction {
    s: Scenario,
    sink: Sink,
    produced: Vec<kcl_e2e::aws::Produced>,
    worker: Worker,
    worker_id: String,
    ghost_id: String,
    shard: String,
    tables: KclTables,
    /// X as it was right after the leader's move.
    moved: Lease,
    _parent_holder: HeldLease,
}

async fn lease(s: &Scenario, key: &str) -> Option<Lease> {
    s.clients.leases_by_shard(&s.application).await.remove(key)
}

async fn reproduce(name: &str, graceful_handoff: bool) -> Reproduction {
    let mut s = Scenario::new(name);
    s.clients
        .create_stream(&s.stream, 1)
        .await
        .expect("create stream");
    let shards = s.clients.shards(&s.stream).await.expect("list shards");
    let shard = shards[0].clone();
    let produced = s
        .clients
        .produce(&s.stream, "s10", 0, RECORDS)
        .await
        .expect("produce");
    let worker_id = format!("{name}-worker");
    let ghost_id = format!("{name}-ghost");
    let holder_id = format!("{name}-parent-holder");

    // 1. Seed the lease table: X assigned to the worker, waiting for the held parent P.
    let tables = KclTables::new(&s.clients, &s.application);
    tables
        .create_lease_table()
        .await
        .expect("create the lease table");
    let range = (&shard.starting_hash_key, &shard.ending_hash_key);
    // A throughput on every lease: the leader balances by throughput when workers report no CPU
    // metric (as on this machine), and all-zero throughputs mean no balancing at all.
    tables
        .put_lease(
            &LeaseSeed::new(PARENT, "TRIM_HORIZON")
                .owner(&holder_id)
                .hash_range(range.0, range.1)
                .throughput_kbps(1.0),
        )
        .await
        .expect("seed the parent lease");
    tables
        .put_lease(
            &LeaseSeed::new(&shard.shard_id, "TRIM_HORIZON")
                .owner(&worker_id)
                .parent(PARENT)
                .hash_range(range.0, range.1)
                .throughput_kbps(1.0),
        )
        .await
        .expect("seed the shard's lease");
    let parent_holder = HeldLease::start(&tables, PARENT, Duration::from_secs(1));
    s.mark(&format!(
        "lease table seeded: {} (owner {worker_id}) waits for {PARENT} (held by the test)",
        shard.shard_id
    ));

    let sink = s.sink("worker");
    let mut properties = s.properties(&e2e_consumer());
    properties
        .set("workerId", &worker_id)
        .set("isGracefulLeaseHandoffEnabled", graceful_handoff)
        .set(
            "gracefulLeaseHandoffTimeoutMillis",
            HANDOFF_TIMEOUT.as_millis(),
        )
        .set("varianceBalancingFrequency", 1)
        .set("workerMetricsReporterFreqInMillis", 2000);
    let worker = s.start_worker("worker", &properties, Some(&sink), &[]);

    // The worker holds X (it renews it) and has reported its metrics.
    let held = wait_until(
        "the worker renewing the seeded lease",
        Duration::from_secs(180),
        Duration::from_millis(300),
        || async {
            let l = lease(&s, &shard.shard_id).await?;
            (l.lease_owner.as_deref() == Some(worker_id.as_str())
                && l.lease_counter.unwrap_or(0) >= 4)
                .then_some(l)
        },
    )
    .await
    .expect("the worker holds the seeded lease");
    let row = wait_until(
        "the worker's row in WorkerMetricStats",
        Duration::from_secs(120),
        Duration::from_millis(300),
        || tables.worker_metrics(&worker_id),
    )
    .await
    .expect("the worker reports its metrics");
    assert!(
        !sink.events().contains_key(&shard.shard_id),
        "no child may start while the parent is unfinished: {:?}",
        sink.events()
    );
    s.mark(&format!(
        "worker holds {} (counter {:?}), no child: its consumer waits for the parent",
        shard.shard_id, held.lease_counter
    ));

    // 2. A ghost worker: the leader moves X to it.
    let ghost = GhostWorker::start(&tables, &ghost_id, &row, Duration::from_secs(1));
    let moved = wait_until(
        "the leader moving the lease to the ghost worker",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let l = lease(&s, &shard.shard_id).await?;
            (l.lease_owner.as_deref() == Some(ghost_id.as_str())).then_some(l)
        },
    )
    .await
    .expect("the leader moves the lease");
    // 3. The target dies while the move is in flight.
    ghost.kill().await.expect("delete the ghost worker's row");
    s.mark(&format!(
        "leader moved {} to the ghost (checkpointOwner {:?}, counter {:?}); ghost gone",
        shard.shard_id, moved.checkpoint_owner, moved.lease_counter
    ));
    let moved_counter = moved.lease_counter.unwrap_or(0);
    wait_until(
        "two more renewals of the moved lease",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let l = lease(&s, &shard.shard_id).await?;
            (l.lease_counter.unwrap_or(0) >= moved_counter + 2).then_some(())
        },
    )
    .await
    .expect("the moved lease is renewed");
    tables
        .set_checkpoint(PARENT, "SHARD_END")
        .await
        .expect("release the parent");
    s.mark("parent released (SHARD_END)");
    Reproduction {
        s,
        sink,
        produced,
        worker,
        worker_id,
        ghost_id,
        shard: shard.shard_id,
        tables,
        moved,
        _parent_holder: parent_holder,
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn log_text(worker: &Worker) -> String {
    std::fs::read_to_string(worker.log()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_graceful_handoff_strands_the_lease_on_kcl_3_1_3() {
    let mut r = reproduce("s10-handoff-on", true).await;
    assert_eq!(
        r.moved.checkpoint_owner.as_deref(),
        Some(r.worker_id.as_str()),
        "with isGracefulLeaseHandoffEnabled = true the leader starts a graceful handoff: {:?}",
        r.moved
    );

    // The stuck state: owned by the dead ghost, pending the worker's checkpoint, heart-beaten by
    // the worker, and no child for the shard, for longer than any healthy handoff takes.
    let start = Instant::now();
    let mut first_counter = None;
    let mut last = None;
    while start.elapsed() < STUCK_FOR {
        let l = lease(&r.s, &r.shard).await.expect("the lease row exists");
        assert!(
            l.lease_owner.as_deref() == Some(r.ghost_id.as_str())
                && l.checkpoint_owner.as_deref() == Some(r.worker_id.as_str()),
            "the stuck state ended after {:.1}s: {l:?}. With KCL >= 3.4.3 (PR #1729) the \
             ShutdownTask transfers the lease: assert that transfer here instead.",
            start.elapsed().as_secs_f64()
        );
        first_counter.get_or_insert(l.lease_counter.unwrap_or(0));
        let events = r.sink.events();
        assert!(
            !events.contains_key(&r.shard) && r.sink.records().is_empty(),
            "a child started for the stranded shard: {events:?}"
        );
        last = Some(l);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let last = last.expect("the window ran at least once");
    let renewals = last.lease_counter.unwrap_or(0) - first_counter.unwrap_or(0);
    // At least a third of the renewals due in the window (a loaded machine delays some).
    let due = (STUCK_FOR.as_millis() / RENEWAL.as_millis()) as u64;
    assert!(
        renewals * 3 >= due,
        "the worker should keep renewing the stranded lease: {renewals} renewals in {STUCK_FOR:?} ({due} due)"
    );
    let log = log_text(&r.worker);
    let handoff_line = format!("Calling graceful shutdown for lease {}", r.shard);
    assert!(
        log.contains(&handoff_line),
        "the worker's log should show `{handoff_line}`; see {}",
        r.worker.log().display()
    );
    assert!(
        !log.contains("to graceful handoff. Attempting to transfer the lease"),
        "the handoff monitor's time-out transfer must not have run (it would have cleared the state)"
    );
    r.s.mark(&format!(
        "stuck for {STUCK_FOR:?}: owner {:?}, checkpointOwner {:?}, {renewals} renewals by the worker, no child",
        last.lease_owner, last.checkpoint_owner
    ));

    // A restart does not help: the restarted worker no longer renews the lease (`leaseOwner` is
    // the ghost), the lease expires, and the leader does not assign it to the worker named in
    // `checkpointOwner` (its assignment skips a lease whose target is its "actual owner"). With a
    // single worker it stays stranded (KCL 3.4.2 fixed this part, PR #1718).
    r.worker.signal(libc::SIGTERM);
    r.worker
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("the worker stops on SIGTERM");
    let restarted_at = unix_seconds();
    let properties = r.s.dir().join("worker.properties");
    let restarted =
        r.s.start_worker_with_file("worker-restarted", &properties, Some(&r.sink), &[]);
    wait_until(
        "the restarted worker reporting its metrics",
        Duration::from_secs(120),
        Duration::from_millis(300),
        || async {
            let row = r.tables.worker_metrics(&r.worker_id).await?;
            let lut = row.get("lut")?.as_n().ok()?.parse::<u64>().ok()?;
            (lut > restarted_at).then_some(())
        },
    )
    .await
    .expect("the restarted worker runs");
    r.s.mark("worker restarted (same workerId)");
    let start = Instant::now();
    let mut first_counter = None;
    while start.elapsed() < RESTART_STUCK_FOR {
        let l = lease(&r.s, &r.shard).await.expect("the lease row exists");
        assert!(
            l.lease_owner.as_deref() == Some(r.ghost_id.as_str())
                && l.checkpoint_owner.as_deref() == Some(r.worker_id.as_str())
                && !r.sink.events().contains_key(&r.shard),
            "after the restart the stranded lease moved on after {:.1}s: {l:?}",
            start.elapsed().as_secs_f64()
        );
        let counter = *first_counter.get_or_insert(l.lease_counter);
        assert_eq!(
            l.lease_counter, counter,
            "nobody may renew the stranded lease after the restart: {l:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    r.s.mark(&format!(
        "still stranded {RESTART_STUCK_FOR:?} after the restart, not renewed by anyone"
    ));

    // The repair: unassign the lease; the leader assigns it afresh and a child starts from the
    // last checkpoint.
    r.tables
        .unassign(&r.shard)
        .await
        .expect("unassign the stranded lease");
    r.s.mark("lease unassigned (repair)");
    wait_all_in_sink(&r.sink, &r.produced, Duration::from_secs(120)).await;
    wait_checkpoints_at_last(
        &r.s.clients,
        &r.s.application,
        &r.produced,
        Duration::from_secs(30),
    )
    .await;
    r.s.mark(&format!(
        "all {} records in the sink after the repair",
        r.produced.len()
    ));
    drop(restarted);
    drop(r.worker);
    r.s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_safe_default_delivers_every_record_after_the_same_move() {
    let mut r = reproduce("s10-handoff-off", false).await;
    assert_eq!(
        r.moved.checkpoint_owner, None,
        "isGracefulLeaseHandoffEnabled = false must reach the KCL config: the leader's move is then \
         a plain assignment, without checkpointOwner: {:?}",
        r.moved
    );
    assert!(
        r.moved.lease_counter > Some(0),
        "a plain assignment bumps the lease counter: {:?}",
        r.moved
    );

    // Every record arrives; no lease ever carries checkpointOwner on the way.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let leases = r.s.clients.leases_by_shard(&r.s.application).await;
        if let Some(pending) = leases.values().find(|l| l.checkpoint_owner.is_some()) {
            panic!("a graceful handoff with the flag off: {pending:?}");
        }
        let delivered = r.sink.distinct_data().len();
        if delivered as u64 >= RECORDS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {delivered} of {RECORDS} records delivered within 120 s of the parent's release; \
             lease: {:?}",
            leases.get(&r.shard)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_all_in_sink(&r.sink, &r.produced, Duration::from_secs(10)).await;
    wait_checkpoints_at_last(
        &r.s.clients,
        &r.s.application,
        &r.produced,
        Duration::from_secs(30),
    )
    .await;
    let log = log_text(&r.worker);
    assert!(
        !log.contains("Calling graceful shutdown for lease"),
        "no graceful handoff may reach the worker with the flag off"
    );
    let owner = lease(&r.s, &r.shard).await.and_then(|l| l.lease_owner);
    assert_eq!(owner.as_deref(), Some(r.worker_id.as_str()));
    r.s.mark(&format!(
        "all {} records in the sink; {} back with the worker",
        r.produced.len(),
        r.shard
    ));
    drop(r.worker);
    r.s.pass();
}
