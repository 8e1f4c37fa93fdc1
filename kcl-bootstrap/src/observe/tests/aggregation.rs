//! The worker's aggregation, expiry and probes, with time passed in.

use std::time::{Duration, Instant, SystemTime};

use openmetrics_parser::OpenMetricsType;
use serde_json::json;

use super::Scraped;
use crate::observe::daemon_lines::DaemonLine;
use crate::observe::health::Verdict;
use crate::observe::shards::SERIES_RETENTION;
use crate::observe::worker::{Worker, WorkerEvent};

const STALL: Duration = Duration::from_secs(180);

/// A report as kcl-protocol writes it (REPORTS.md), with `changes` applied.
fn report(pid: u32, seq: u64, shard: &str, action: &str, changes: serde_json::Value) -> Vec<u8> {
    let mut value = json!({
        "version": 1, "pid": pid, "seq": seq, "shard_id": shard, "action": action,
        "records": 0, "bytes": 0, "millis_behind_latest": null, "duration_micros": 500,
        "checkpoints": {}, "retries": 0, "failure": null, "acknowledged": true
    });
    for (key, changed) in changes.as_object().unwrap() {
        value[key] = changed.clone();
    }
    serde_json::to_vec(&value).unwrap()
}

fn batch(pid: u32, seq: u64, shard: &str, records: u64, behind: u64) -> Vec<u8> {
    report(
        pid,
        seq,
        shard,
        "processRecords",
        json!({"records": records, "bytes": records * 10, "millis_behind_latest": behind,
               "checkpoints": {"ok": 1}}),
    )
}

fn scrape(worker: &Worker) -> Scraped {
    Scraped::parse(&worker.exposition())
}

fn alive(_: u32) -> bool {
    true
}

fn running(now: Instant) -> Worker {
    let mut worker = Worker::new(STALL);
    worker.event(WorkerEvent::DaemonStarted, now);
    worker
}

#[test]
fn reports_add_up_per_shard_and_the_exposition_is_valid_openmetrics() {
    let t0 = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut worker = running(t0);
    worker.datagram(
        &report(10, 1, "shardId-0", "initialize", json!({})),
        t0,
        wall,
    );
    worker.datagram(&batch(10, 2, "shardId-0", 100, 5000), t0, wall);
    worker.datagram(&batch(10, 3, "shardId-0", 50, 0), t0, wall);
    worker.datagram(
        &report(11, 1, "shardId-1", "initialize", json!({})),
        t0,
        wall,
    );
    worker.datagram(
        &report(
            11,
            2,
            "shardId-1",
            "processRecords",
            json!({
                "records": 7, "bytes": 70, "millis_behind_latest": 900, "retries": 2,
                "checkpoints": {"ThrottlingException": 2, "ok": 1},
                "failure": {"kind": "error", "message": "sink down"}, "acknowledged": false
            }),
        ),
        t0,
        wall,
    );
    let scraped = scrape(&worker);
    assert_eq!(scraped.family_type("kcl_records"), OpenMetricsType::Counter);
    assert_eq!(
        scraped.family_type("kcl_millis_behind_latest"),
        OpenMetricsType::Gauge
    );
    assert_eq!(
        scraped.family_type("kcl_callback_duration_seconds"),
        OpenMetricsType::Histogram
    );
    assert_eq!(
        scraped.value("kcl_records", &[("shard_id", "shardId-0")]),
        Some(150.0)
    );
    assert_eq!(
        scraped.value("kcl_bytes", &[("shard_id", "shardId-0")]),
        Some(1500.0)
    );
    assert_eq!(
        scraped.value("kcl_batches", &[("shard_id", "shardId-0")]),
        Some(2.0)
    );
    assert_eq!(scraped.sum("kcl_records"), 157.0);
    // The gauge holds the last value.
    assert_eq!(
        scraped.value("kcl_millis_behind_latest", &[("shard_id", "shardId-0")]),
        Some(0.0)
    );
    assert_eq!(
        scraped.value("kcl_millis_behind_latest", &[("shard_id", "shardId-1")]),
        Some(900.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_checkpoints",
            &[("shard_id", "shardId-0"), ("result", "ok")]
        ),
        Some(2.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_checkpoints",
            &[("shard_id", "shardId-1"), ("result", "ThrottlingException")]
        ),
        Some(2.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_callback_failures",
            &[("shard_id", "shardId-1"), ("action", "processRecords")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scraped.value("kcl_callback_retries", &[("action", "processRecords")]),
        Some(2.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_callback_duration_seconds",
            &[("action", "processRecords")]
        ),
        Some(3.0)
    );
    assert_eq!(
        scraped.value("kcl_callback_duration_seconds", &[("action", "initialize")]),
        Some(2.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_last_batch_timestamp_seconds",
            &[("shard_id", "shardId-0")]
        ),
        Some(1_700_000_000.0)
    );
    // shardId-1's child exits (not acknowledged): one child is left.
    assert_eq!(scraped.value("kcl_shard_children", &[]), Some(1.0));
    assert_eq!(scraped.value("kcl_daemon_up", &[]), Some(1.0));
    assert_eq!(scraped.value("kcl_reports", &[]), Some(5.0));
    assert_eq!(scraped.value("kcl_reports_lost", &[]), Some(0.0));
}

#[test]
fn gaps_in_a_childs_sequence_count_as_lost_reports_and_garbage_as_rejected() {
    let t0 = Instant::now();
    let mut worker = running(t0);
    let wall = SystemTime::now();
    worker.datagram(&batch(10, 3, "shardId-0", 1, 0), t0, wall); // 1 and 2 never arrived
    worker.datagram(&batch(10, 4, "shardId-0", 1, 0), t0, wall);
    worker.datagram(&batch(10, 9, "shardId-0", 1, 0), t0, wall); // 5 to 8 lost
    worker.datagram(b"{\"version\":2}", t0, wall);
    worker.datagram(b"garbage", t0, wall);
    let scraped = scrape(&worker);
    assert_eq!(scraped.value("kcl_reports_lost", &[]), Some(6.0));
    assert_eq!(scraped.value("kcl_reports_rejected", &[]), Some(2.0));
    assert_eq!(
        scraped.value("kcl_records", &[("shard_id", "shardId-0")]),
        Some(3.0)
    );
}

#[test]
fn an_ended_childs_series_stay_for_the_retention_then_disappear() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let mut worker = running(t0);
    worker.datagram(&batch(10, 1, "shardId-0", 5, 100), t0, wall);
    worker.datagram(&batch(20, 1, "shardId-1", 5, 100), t0, wall);
    worker.datagram(
        &report(10, 2, "shardId-0", "leaseLost", json!({})),
        t0,
        wall,
    );
    let t1 = t0 + SERIES_RETENTION - Duration::from_secs(1);
    worker.tick(t1, &alive);
    assert_eq!(
        scrape(&worker).shards("kcl_records"),
        ["shardId-0".to_owned(), "shardId-1".to_owned()].into()
    );
    let t2 = t0 + SERIES_RETENTION + Duration::from_secs(1);
    worker.tick(t2, &alive);
    let scraped = scrape(&worker);
    for family in [
        "kcl_shard_child_up",
        "kcl_records",
        "kcl_bytes",
        "kcl_batches",
        "kcl_millis_behind_latest",
        "kcl_last_batch_timestamp_seconds",
        "kcl_checkpoints",
    ] {
        assert_eq!(
            scraped.shards(family),
            ["shardId-1".to_owned()].into(),
            "{family}"
        );
    }
    // A child whose process is gone (kill -9) ends too, and so do its series later.
    worker.tick(t2, &|pid| pid != 20);
    assert_eq!(scrape(&worker).value("kcl_shard_children", &[]), Some(0.0));
    assert_eq!(
        scrape(&worker).value("kcl_shard_child_up", &[("shard_id", "shardId-1")]),
        Some(0.0)
    );
    worker.tick(t2 + SERIES_RETENTION + Duration::from_secs(1), &|pid| {
        pid != 20
    });
    assert!(scrape(&worker).shards("kcl_records").is_empty());
}

#[test]
fn a_held_lease_keeps_its_series_and_a_returning_child_continues_the_counters() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let mut worker = running(t0);
    worker.datagram(&batch(10, 1, "shardId-0", 5, 0), t0, wall);
    worker.event(
        WorkerEvent::DaemonLine(DaemonLine::Assignments(vec!["shardId-0".into()])),
        t0,
    );
    worker.datagram(
        &report(10, 2, "shardId-0", "shardEnded", json!({})),
        t0,
        wall,
    );
    worker.tick(t0 + SERIES_RETENTION * 2, &alive);
    assert_eq!(
        scrape(&worker).value("kcl_records", &[("shard_id", "shardId-0")]),
        Some(5.0)
    );
    worker.datagram(
        &batch(11, 1, "shardId-0", 3, 0),
        t0 + SERIES_RETENTION * 2,
        wall,
    );
    assert_eq!(
        scrape(&worker).value("kcl_records", &[("shard_id", "shardId-0")]),
        Some(8.0)
    );
}

#[test]
fn a_shard_behind_without_batches_is_unhealthy_until_a_batch_arrives() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let mut worker = running(t0);
    worker.datagram(&batch(10, 1, "shardId-0", 5, 0), t0, wall);
    worker.datagram(&batch(11, 1, "shardId-7", 5, 42_000), t0, wall);
    assert_eq!(worker.health(t0 + STALL), Verdict::Pass("ok".into()));
    let late = t0 + STALL + Duration::from_secs(1);
    let Verdict::Fail(reason) = worker.health(late) else {
        panic!("a stalled shard must fail /healthz");
    };
    assert!(
        reason.contains("shardId-7") && !reason.contains("shardId-0"),
        "{reason}"
    );
    assert!(
        reason.contains("42000 ms behind") && !reason.contains('\n'),
        "{reason}"
    );
    worker.datagram(&batch(11, 2, "shardId-7", 5, 1000), late, wall);
    assert_eq!(worker.health(late), Verdict::Pass("ok".into()));
    // Caught up (0 behind): no batch for a long time is normal.
    worker.datagram(&batch(11, 3, "shardId-7", 5, 0), late, wall);
    assert_eq!(worker.health(late + STALL * 10), Verdict::Pass("ok".into()));
}

#[test]
fn a_lease_held_without_a_live_child_is_unhealthy_after_the_bound() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let mut worker = running(t0);
    let leases = vec!["shardId-0".into(), "shardId-1".into()];
    worker.event(WorkerEvent::DaemonLine(DaemonLine::Assignments(leases)), t0);
    worker.datagram(
        &report(10, 1, "shardId-0", "initialize", json!({})),
        t0,
        wall,
    );
    worker.tick(t0, &alive);
    let scraped = scrape(&worker);
    assert_eq!(scraped.value("kcl_shard_leases", &[]), Some(2.0));
    assert_eq!(scraped.value("kcl_shard_children", &[]), Some(1.0));
    let late = t0 + STALL + Duration::from_secs(1);
    worker.tick(late, &alive);
    let Verdict::Fail(reason) = worker.health(late) else {
        panic!("a held lease without a child must fail /healthz");
    };
    assert!(
        reason.contains("shardId-1") && reason.contains("holds its lease"),
        "{reason}"
    );
    assert!(!reason.contains("shardId-0"), "{reason}");
    // The child starts (the daemon's line, as for a child without kcl-protocol).
    worker.event(
        WorkerEvent::DaemonLine(DaemonLine::ConsumerCreated("shardId-1".into())),
        late,
    );
    worker.tick(late, &alive);
    assert_eq!(worker.health(late), Verdict::Pass("ok".into()));
    // A child known only from the daemon's line still has its series.
    let scraped = scrape(&worker);
    assert_eq!(
        scraped.value("kcl_shard_child_up", &[("shard_id", "shardId-1")]),
        Some(1.0)
    );
    assert_eq!(scraped.value("kcl_shard_children", &[]), Some(2.0));
}

#[test]
fn the_daemons_state_drives_health_readiness_and_its_gauges() {
    let t0 = Instant::now();
    let mut worker = Worker::new(STALL);
    assert!(matches!(worker.health(t0), Verdict::Fail(_)));
    assert!(matches!(worker.readiness(), Verdict::Fail(_)));
    worker.event(WorkerEvent::DaemonStarted, t0);
    assert_eq!(worker.health(t0), Verdict::Pass("ok".into()));
    assert!(matches!(worker.readiness(), Verdict::Fail(_)));
    worker.event(WorkerEvent::SchedulerStarted, t0);
    assert_eq!(worker.readiness(), Verdict::Pass("ready".into()));
    worker.event(WorkerEvent::DaemonExited("exit status 1".into()), t0);
    assert!(matches!(worker.health(t0), Verdict::Fail(reason) if reason.contains("exit status 1")));
    worker.event(WorkerEvent::Restarting, t0);
    assert!(matches!(worker.health(t0), Verdict::Pass(_)));
    assert!(matches!(worker.readiness(), Verdict::Fail(_)));
    worker.event(WorkerEvent::DaemonStarted, t0);
    let scraped = scrape(&worker);
    assert_eq!(scraped.value("kcl_daemon_up", &[]), Some(1.0));
    assert_eq!(scraped.value("kcl_daemon_restarts", &[]), Some(1.0));
    worker.event(WorkerEvent::DaemonExited("exit status 1".into()), t0);
    worker.event(WorkerEvent::GaveUp("gave up after 5 restarts".into()), t0);
    assert!(matches!(worker.health(t0), Verdict::Fail(reason) if reason.contains("gave up")));
    assert_eq!(scrape(&worker).value("kcl_daemon_up", &[]), Some(0.0));
}

#[test]
fn label_values_from_children_are_bounded() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let mut worker = running(t0);
    for index in 0..100u64 {
        let name = format!("Exception{index}");
        worker.datagram(
            &report(
                10,
                index + 1,
                "shardId-0",
                "processRecords",
                json!({"checkpoints": {name: 1}}),
            ),
            t0,
            wall,
        );
    }
    let scraped = scrape(&worker);
    let series = scraped.samples("kcl_checkpoints").len();
    assert!(series <= 32, "{series} checkpoint series for one shard");
    assert_eq!(
        scraped.sum("kcl_checkpoints"),
        100.0,
        "every checkpoint is still counted"
    );
    assert!(
        scraped
            .value("kcl_checkpoints", &[("result", "other")])
            .is_some()
    );
}

#[test]
fn a_created_consumer_counts_as_a_held_lease_before_the_first_assignments_line() {
    let t0 = Instant::now();
    let mut worker = running(t0);
    for shard in ["shardId-0", "shardId-1"] {
        worker.event(
            WorkerEvent::DaemonLine(DaemonLine::ConsumerCreated(shard.into())),
            t0,
        );
    }
    worker.tick(t0, &alive);
    let scraped = scrape(&worker);
    assert_eq!(scraped.value("kcl_shard_leases", &[]), Some(2.0));
    assert_eq!(scraped.value("kcl_shard_children", &[]), Some(2.0));
    // The scheduler's own list, once logged, is the truth again.
    worker.event(
        WorkerEvent::DaemonLine(DaemonLine::Assignments(vec!["shardId-1".into()])),
        t0,
    );
    worker.tick(t0, &alive);
    assert_eq!(scrape(&worker).value("kcl_shard_leases", &[]), Some(1.0));
}
