//! Scenario 13: `kcl-bootstrap --supervise` with the real daemon and kcl-bootstrap's default
//! logback configuration (no `-l`).
//!
//! - SIGTERM to the supervisor: every child shuts down gracefully, exit 0, no process left, and
//!   each child log line appears once at its level (text); the same in JSON lines;
//! - `kill -9` of one shard's child while records flow: the daemon exits 1, the supervisor
//!   restarts it, every record reaches the sink and no checkpoint moves backwards;
//! - a processor that fails on its first batch every time: the supervisor backs off and gives up
//!   after `--max-restarts` (exit 8) naming the shard and the child's error;
//! - DynamoDB, then Kinesis, refusing connections for 20 s mid-run (a loopback proxy in front):
//!   the worker survives or is restarted, and every record is delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kcl_e2e::aws::numeric_cmp;
use kcl_e2e::logs::child_line_marker;
use kcl_e2e::properties::Properties;
use kcl_e2e::proxy::OutageProxy;
use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::{SINK_DIR_ENV, Sink};
use kcl_e2e::supervised::{Logback, SupervisedWorker};
use kcl_e2e::wait::wait_until;
use kcl_e2e::worker::Worker;

use crate::common::{
    BackgroundProducer, e2e_consumer, process_alive, processes_with, wait_all_in_sink,
    wait_checkpoints_at_last,
};

/// The e2e template's `shutdownGraceMillis`.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// `shutdownGraceMillis` of the two scenarios that only test the graceful stop: with all 24
/// scenarios at once on 2 cores, 4 children took 16 s to finish `shutdownRequested` and the
/// daemon's final-shutdown wait then ran past the template's 20 s (exit 143, "Encountered an
/// error during shutdown", one full suite of two); 60 s leaves the daemon room. The assertions
/// are the same: exit 0 within this grace + kcl-bootstrap's margin.
const STOP_TEST_GRACE: Duration = Duration::from_secs(60);

/// kcl-bootstrap's margin on top of it before it kills the daemon's group.
const STOP_MARGIN: Duration = Duration::from_secs(10);

fn start(
    s: &Scenario,
    name: &str,
    properties: &Properties,
    sink: &Sink,
    env: &[(&str, &str)],
    args: &[&str],
) -> SupervisedWorker {
    let path = s.dir().join(format!("{name}.properties"));
    properties.write(&path).expect("write the properties");
    SupervisedWorker::start(s, name, &path, Some(sink), env, Logback::Default, args)
}

/// SIGTERM to the supervisor; asserts exit 0 within shutdownGraceMillis + the margin and that no
/// process of the worker (JVM, children) is left.
async fn stop_gracefully(
    s: &mut Scenario,
    worker: &mut SupervisedWorker,
    sink: &Sink,
    grace: Duration,
) {
    let jvms = worker.daemon_pids();
    assert_eq!(jvms.len(), 1, "one JVM under the supervisor: {jvms:?}");
    worker.signal(libc::SIGTERM);
    let (status, took) = worker
        .wait_exit(grace + STOP_MARGIN + Duration::from_secs(10))
        .await
        .expect("the supervisor exits after SIGTERM");
    s.mark(&format!(
        "supervisor exited after SIGTERM: {} in {:.1}s",
        Worker::describe(status),
        took.as_secs_f64()
    ));
    assert_eq!(
        status.code(),
        Some(0),
        "a graceful stop is exit 0; stderr:\n{}",
        worker.stderr()
    );
    assert!(took <= grace + STOP_MARGIN, "{took:?}");
    // On stderr in text mode, a JSON object on stdout in JSON mode.
    let output = format!("{}{}", worker.stdout(), worker.stderr());
    assert!(
        output.contains("the daemon stopped gracefully after SIGTERM"),
        "{output}"
    );
    for jvm in jvms {
        assert!(!process_alive(jvm), "the JVM {jvm} is still alive");
    }
    let env_entry = format!("{SINK_DIR_ENV}={}", sink.dir().display());
    let left = processes_with("e2e-consumer", &env_entry);
    assert!(left.is_empty(), "e2e-consumer processes left: {left:?}");
}

/// Each shard's child pids, from the sink's `initialize` events.
fn children(sink: &Sink) -> BTreeMap<u32, String> {
    sink.events()
        .into_iter()
        .flat_map(|(shard, events)| {
            events
                .into_iter()
                .filter(|e| e.event == "initialize")
                .map(move |e| (e.pid, shard.clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_sigterm_to_the_supervisor_is_a_graceful_stop_with_each_child_line_once() {
    const LINES: u32 = 6;
    let mut s = Scenario::new("s13-supervised-sigterm");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s13a", 0, 2_000)
        .await
        .expect("produce");
    let sink = s.sink("worker");
    let lines = LINES.to_string();
    let mut properties = s.properties(&e2e_consumer());
    properties.set("shutdownGraceMillis", STOP_TEST_GRACE.as_millis());
    let mut worker = start(
        &s,
        "worker",
        &properties,
        &sink,
        &[("E2E_STDERR_LINES", &lines)],
        &[],
    );
    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    s.mark("all records in the sink");
    stop_gracefully(&mut s, &mut worker, &sink, STOP_TEST_GRACE).await;

    // Every shard's child: shutdownRequested, its checkpoint, then leaseLost (as with -e).
    let events = sink.events();
    assert_eq!(events.len(), 4, "{:?}", events.keys());
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
            "{shard}: expected shutdownRequested, shutdownCheckpoint, leaseLost, got {names:?}"
        );
    }
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(5),
    )
    .await;

    // The worker's log (stdout: the daemon's lines; stderr: the children's and ours): each child
    // line once, at the child's level; the daemon's lines in the default pattern.
    let log = format!("{}{}", worker.stdout(), worker.stderr());
    let pids = children(&sink);
    assert!(pids.len() >= 4, "{pids:?}");
    for pid in pids.keys() {
        for n in 0..LINES {
            let found: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(&child_line_marker(*pid, n)))
                .collect();
            let level = if n % 2 == 0 { " WARN " } else { " ERROR " };
            assert!(
                found.len() == 1 && found[0].contains(level),
                "child {pid}'s line {n} should appear once, at{level}: {found:#?}"
            );
        }
    }
    assert!(!log.contains("Received error line from subprocess"));
    let scheduler = " INFO software.amazon.kinesis.coordinator.Scheduler [";
    assert!(
        worker.stdout().contains(scheduler),
        "no daemon line in the default pattern"
    );
    s.mark(&format!(
        "{} child lines each once",
        pids.len() * LINES as usize
    ));
    drop(worker);
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_json_lines_carry_each_child_line_once_with_its_level_and_shard() {
    const LINES: u32 = 4;
    let mut s = Scenario::new("s13-supervised-json");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s13e", 0, 200)
        .await
        .expect("produce");
    let sink = s.sink("worker");
    let lines = LINES.to_string();
    let mut properties = s.properties(&e2e_consumer());
    properties.set("shutdownGraceMillis", STOP_TEST_GRACE.as_millis());
    let mut worker = start(
        &s,
        "worker",
        &properties,
        &sink,
        &[("E2E_STDERR_LINES", &lines)],
        &["--log-format", "json"],
    );
    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    stop_gracefully(&mut s, &mut worker, &sink, STOP_TEST_GRACE).await;

    let objects: Vec<serde_json::Value> = worker
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for object in &objects {
        for key in ["time", "level", "source", "message"] {
            assert!(object[key].is_string(), "{key} missing: {object}");
        }
    }
    let pids = children(&sink);
    assert!(pids.len() >= 2, "{pids:?}");
    for (pid, shard) in &pids {
        for n in 0..LINES {
            let marker = child_line_marker(*pid, n);
            let found: Vec<&serde_json::Value> = objects
                .iter()
                .filter(|o| o["message"].as_str().is_some_and(|m| m.contains(&marker)))
                .collect();
            assert_eq!(found.len(), 1, "child {pid}'s line {n}: {found:#?}");
            let level = if n % 2 == 0 { "WARN" } else { "ERROR" };
            assert_eq!(found[0]["level"], level, "{}", found[0]);
            assert_eq!(found[0]["source"], "child", "{}", found[0]);
            assert_eq!(found[0]["shard"], shard.as_str(), "{}", found[0]);
        }
    }
    let daemon = objects
        .iter()
        .filter(|o| {
            o["source"] == "daemon"
                && o["logger"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("software.amazon.kinesis"))
                && o["thread"].is_string()
        })
        .count();
    assert!(daemon > 0, "no parsed daemon line");
    // The default pattern makes every daemon line parse (one line per event, stack traces
    // folded in): none is left as a bare message.
    let unparsed: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| o["source"] == "daemon" && !o["logger"].is_string())
        .collect();
    assert!(
        unparsed.is_empty(),
        "daemon lines not parsed: {unparsed:#?}"
    );
    assert!(objects.iter().any(|o| {
        o["source"] == "supervisor"
            && o["message"]
                .as_str()
                .is_some_and(|m| m.contains("stopped gracefully"))
    }));
    s.mark(&format!(
        "{} JSON lines, {daemon} parsed daemon lines",
        objects.len()
    ));
    drop(worker);
    s.pass();
}

/// Samples every shard's lease checkpoint until stopped; returns each shard's history.
fn watch_checkpoints(
    s: &Scenario,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<BTreeMap<String, Vec<String>>> {
    let (clients, table) = (s.clients.clone(), s.application.clone());
    tokio::spawn(async move {
        let mut history: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while !stop.load(Ordering::Relaxed) {
            for (shard, lease) in clients.leases_by_shard(&table).await {
                if let Some(checkpoint) = lease.checkpoint {
                    let seen = history.entry(shard).or_default();
                    if seen.last() != Some(&checkpoint) {
                        seen.push(checkpoint);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        history
    })
}

/// A checkpoint history never moves backwards (sentinels such as TRIM_HORIZON only first).
fn assert_monotonic(history: &BTreeMap<String, Vec<String>>) {
    for (shard, checkpoints) in history {
        let numeric: Vec<&String> = checkpoints
            .iter()
            .skip_while(|c| !c.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        for pair in numeric.windows(2) {
            assert!(
                pair[1].bytes().all(|b| b.is_ascii_digit())
                    && numeric_cmp(pair[0], pair[1]).is_lt(),
                "{shard}: checkpoint moved from {} to {}: {checkpoints:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_kill_9_of_a_child_restarts_the_daemon_and_loses_nothing() {
    let mut s = Scenario::new("s13-supervised-child-kill");
    s.clients
        .create_stream(&s.stream, 4)
        .await
        .expect("create stream");
    let producer = BackgroundProducer::start(
        &s.clients,
        &s.stream,
        "s13b",
        100,
        Duration::from_millis(250),
    );
    let mut properties = s.properties(&e2e_consumer());
    properties.set("workerId", "s13-child-kill");
    let sink = s.sink("worker");
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watch = watch_checkpoints(&s, stop_watch.clone());
    let mut worker = start(
        &s,
        "worker",
        &properties,
        &sink,
        &[],
        &["--restart", "on-failure", "--restart-delay", "1s"],
    );

    // A child of every shard processing, then kill -9 one of them.
    let victim = wait_until(
        "4 live children and 500 records",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || {
            let live: Vec<(u32, String)> = children(&sink)
                .into_iter()
                .filter(|(pid, _)| process_alive(*pid))
                .collect();
            let ready = live.len() >= 4 && sink.records().len() >= 500;
            std::future::ready(ready.then(|| live[0].clone()))
        },
    )
    .await
    .expect("processing started");
    // SAFETY: kill(2) on a child of the daemon this scenario started.
    unsafe {
        libc::kill(victim.0 as i32, libc::SIGKILL);
    }
    s.mark(&format!("kill -9 of child {} ({})", victim.0, victim.1));

    wait_until(
        "the restarted daemon",
        Duration::from_secs(120),
        Duration::from_millis(250),
        || std::future::ready(worker.stderr().contains(", start 2)").then_some(())),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; stderr:\n{}", worker.stderr()));
    let err = worker.stderr();
    let restart = err
        .lines()
        .find(|l| l.contains("restarting in"))
        .expect("a restart line");
    assert!(
        restart.contains(": exit 1"),
        "the daemon exits 1 when a child dies: {restart}"
    );
    s.mark("the daemon exited 1 and was restarted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let produced = producer.stop().await;
    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(60),
    )
    .await;
    s.mark(&format!(
        "all {} records in the sink after the restart",
        produced.len()
    ));
    stop_watch.store(true, Ordering::Relaxed);
    let history = watch.await.expect("the checkpoint watcher");
    assert_eq!(history.len(), 4, "{history:?}");
    assert_monotonic(&history);
    assert!(
        worker.try_status().is_none(),
        "the supervisor is still running"
    );
    stop_gracefully(&mut s, &mut worker, &sink, SHUTDOWN_GRACE).await;
    drop(worker);
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_a_crash_loop_backs_off_and_gives_up_naming_the_shard_and_the_error() {
    const FAILING: &str = "shardId-000000000000";
    let mut s = Scenario::new("s13-supervised-crash-loop");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    s.clients
        .produce(&s.stream, "s13c", 0, 200)
        .await
        .expect("produce");
    let mut properties = s.properties(&e2e_consumer());
    properties
        .set("workerId", "s13-crash-loop")
        .set("maxRecords", 50);
    let sink = s.sink("worker");
    let failure = [("E2E_FAIL_AFTER_BATCHES", "0"), ("E2E_FAIL_SHARD", FAILING)];
    let started = Instant::now();
    let mut worker = start(
        &s,
        "worker",
        &properties,
        &sink,
        &failure,
        &[
            "--restart",
            "on-failure",
            "--max-restarts",
            "2",
            "--restart-delay",
            "1s",
        ],
    );
    let (status, took) = worker
        .wait_exit(Duration::from_secs(420))
        .await
        .expect("the supervisor gives up");
    s.mark(&format!(
        "supervisor exited: {} after {:.1}s",
        Worker::describe(status),
        took.as_secs_f64()
    ));
    let err = worker.stderr();
    assert_eq!(status.code(), Some(8), "gave up: exit 8; stderr:\n{err}");
    assert_eq!(
        err.matches("kcl-bootstrap: started the daemon").count(),
        3,
        "{err}"
    );
    assert!(
        err.contains("restarting in 1s") && err.contains("restarting in 2s"),
        "{err}"
    );
    let gave_up = err
        .lines()
        .find(|l| l.contains("giving up"))
        .expect("a give-up line");
    assert!(
        gave_up.contains(&format!("[{FAILING}]"))
            && gave_up.contains("injected failure on batch 1"),
        "the give-up line names the shard and the child's error: {gave_up}"
    );
    let fails = sink.events().get(FAILING).map_or(0, |events| {
        events.iter().filter(|e| e.event == "fail").count()
    });
    assert!(
        fails >= 3,
        "each run failed on the first batch again (nothing was skipped): {fails}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "1 s + 2 s of back-off"
    );
    let jvms: BTreeSet<u32> = worker.daemon_pids().into_iter().collect();
    assert!(jvms.is_empty(), "{jvms:?}");
    drop(worker);
    s.pass();
}

/// Which dependency the proxy cuts.
#[derive(Debug, Clone, Copy)]
enum Dependency {
    DynamoDb,
    Kinesis,
}

async fn outage(name: &str, dependency: Dependency) {
    let mut s = Scenario::new(name);
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let stack = s.stack();
    let target = match dependency {
        Dependency::DynamoDb => &stack.moto_endpoint,
        Dependency::Kinesis => &stack.kinesis_endpoint,
    };
    let proxy = OutageProxy::start(target).expect("start the proxy");
    let mut properties = s.properties(&e2e_consumer());
    let key = match dependency {
        Dependency::DynamoDb => "dynamoDBEndpoint",
        Dependency::Kinesis => "kinesisEndpoint",
    };
    properties
        .set(key, proxy.endpoint())
        .set("workerId", format!("{name}-worker"));
    let sink = s.sink("worker");
    let producer =
        BackgroundProducer::start(&s.clients, &s.stream, name, 50, Duration::from_millis(250));
    let mut worker = start(
        &s,
        "worker",
        &properties,
        &sink,
        &[],
        &[
            "--restart",
            "on-failure",
            "--restart-delay",
            "1s",
            "--max-restarts",
            "10",
        ],
    );
    wait_until(
        "records flowing",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || std::future::ready((sink.records().len() >= 200).then_some(())),
    )
    .await
    .expect("processing started");
    proxy.refuse();
    s.mark(&format!("{dependency:?} refuses connections"));
    // The outage itself lasts 20 s by definition: this sleep is the fault, not a wait on data.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let during = proxy.accepted();
    proxy.accept_again();
    s.mark(&format!("{dependency:?} accepts connections again"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let produced = producer.stop().await;
    wait_all_in_sink(&sink, &produced, Duration::from_secs(240)).await;
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        proxy.accepted() > during,
        "the daemon reconnected through the proxy"
    );
    let restarts = worker.stderr().matches("restarting in").count();
    s.mark(&format!(
        "all {} records delivered; the daemon was restarted {restarts} time(s)",
        produced.len()
    ));
    assert!(
        worker.try_status().is_none(),
        "the supervisor is still running: {}",
        worker.stderr()
    );
    stop_gracefully(&mut s, &mut worker, &sink, SHUTDOWN_GRACE).await;
    drop(worker);
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_dynamodb_refusing_connections_for_20s_loses_nothing() {
    outage("s13-outage-dynamodb", Dependency::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_kinesis_refusing_connections_for_20s_loses_nothing() {
    outage("s13-outage-kinesis", Dependency::Kinesis).await;
}
