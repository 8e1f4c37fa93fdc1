//! Helpers shared by the scenarios: the processor binary, waiting for data, lease assertions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kcl_e2e::aws::{Clients, Produced, last_sequence_per_shard, numeric_cmp};
use kcl_e2e::sink::Sink;
use kcl_e2e::wait::wait_until;
use tokio::sync::Mutex;

/// The test processor built by this crate.
pub fn e2e_consumer() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_e2e-consumer"))
}

/// Waits until every produced record is in the sink, on the shard and at the sequence number
/// Kinesis gave it. Fails with the count still missing.
pub async fn wait_all_in_sink(sink: &Sink, produced: &[Produced], timeout: Duration) {
    let expected: BTreeSet<(String, String, String)> = produced
        .iter()
        .map(|p| {
            (
                p.shard_id.clone(),
                p.sequence_number.clone(),
                p.data.clone(),
            )
        })
        .collect();
    let mut last_missing = expected.len();
    let result = wait_until(
        "every produced record in the sink",
        timeout,
        Duration::from_millis(500),
        || {
            let got: BTreeSet<(String, String, String)> = sink
                .records()
                .into_iter()
                .map(|r| {
                    (
                        r.shard_id,
                        r.sequence_number,
                        String::from_utf8_lossy(&r.data).into_owned(),
                    )
                })
                .collect();
            last_missing = expected.difference(&got).count();
            std::future::ready((last_missing == 0).then_some(()))
        },
    )
    .await;
    if let Err(error) = result {
        panic!(
            "{error}: {last_missing} of {} records never reached the sink\n{}",
            expected.len(),
            describe_missing(sink, &expected)
        );
    }
}

/// Per shard: which records are missing, whether a later record of that shard did reach the
/// sink (a record skipped) or not (the shard's tail never delivered), and the shard's last child
/// events. A flaky run is diagnosed from this text.
fn describe_missing(sink: &Sink, expected: &BTreeSet<(String, String, String)>) -> String {
    let records = sink.records();
    let got: BTreeSet<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r.shard_id.clone(),
                r.sequence_number.clone(),
                String::from_utf8_lossy(&r.data).into_owned(),
            )
        })
        .collect();
    let mut highest_sunk: BTreeMap<&str, &str> = BTreeMap::new();
    for record in &records {
        let entry = highest_sunk
            .entry(record.shard_id.as_str())
            .or_insert(record.sequence_number.as_str());
        if numeric_cmp(&record.sequence_number, entry).is_gt() {
            *entry = record.sequence_number.as_str();
        }
    }
    let mut missing_by_shard: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (shard, sequence, data) in expected.difference(&got) {
        missing_by_shard
            .entry(shard.as_str())
            .or_default()
            .push((sequence.as_str(), data.as_str()));
    }
    let events = sink.events();
    let mut out = String::new();
    for (shard, mut missing) in missing_by_shard {
        missing.sort_by(|a, b| numeric_cmp(a.0, b.0));
        let highest = highest_sunk.get(shard).copied();
        let skipped = missing
            .iter()
            .filter(|(sequence, _)| highest.is_some_and(|h| numeric_cmp(sequence, h).is_lt()))
            .count();
        let shown: Vec<String> = missing
            .iter()
            .take(6)
            .map(|(sequence, data)| format!("{data}@{sequence}"))
            .collect();
        let last_events: Vec<String> = events
            .get(shard)
            .map(|events| {
                events
                    .iter()
                    .rev()
                    .take(4)
                    .rev()
                    .map(|e| format!("{} pid {} {} {}", e.unix_millis, e.pid, e.event, e.detail))
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "  {shard}: {} missing ({skipped} below the highest sunk sequence {highest:?}): {shown:?}; \
             last events {last_events:?}\n",
            missing.len()
        ));
    }
    out
}

/// Waits until every shard's lease checkpoint equals the last sequence number produced to it.
pub async fn wait_checkpoints_at_last(
    clients: &Clients,
    table: &str,
    produced: &[Produced],
    timeout: Duration,
) {
    let last = last_sequence_per_shard(produced);
    let deadline = Instant::now() + timeout;
    loop {
        let leases = clients.leases_by_shard(table).await;
        let report: BTreeMap<&String, (Option<&str>, &String)> = last
            .iter()
            .map(|(shard, seq)| {
                (
                    shard,
                    (leases.get(shard).and_then(|l| l.checkpoint.as_deref()), seq),
                )
            })
            .collect();
        if report
            .values()
            .all(|(got, want)| *got == Some(want.as_str()))
        {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "lease checkpoints not at the last sequence numbers after {timeout:?} (shard: (lease checkpoint, last produced)): {report:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A background producer: puts `batch` records every `every` until stopped; returns what it put.
pub struct BackgroundProducer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Produced>>,
}

impl BackgroundProducer {
    /// Starts producing `<prefix>-<n>` records.
    pub fn start(
        clients: &Clients,
        stream: &str,
        prefix: &str,
        batch: u64,
        every: Duration,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let produced = Arc::new(Mutex::new(Vec::new()));
        let (clients, stream, prefix, flag) = (
            clients.clone(),
            stream.to_owned(),
            prefix.to_owned(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let mut next = 0;
            while !flag.load(Ordering::Relaxed) {
                match clients.produce(&stream, &prefix, next, batch).await {
                    Ok(records) => {
                        next += batch;
                        produced.lock().await.extend(records);
                    }
                    Err(error) => panic!("background producer failed: {error}"),
                }
                tokio::time::sleep(every).await;
            }
            produced.lock().await.clone()
        });
        BackgroundProducer { stop, task }
    }

    /// Stops and returns every record put.
    pub async fn stop(self) -> Vec<Produced> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the background producer panicked")
    }
}

/// Whether a process exists.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Processes whose command line mentions `needle` and whose environment has `env_entry`
/// (`KEY=value`): used to prove no e2e-consumer of a scenario survived.
pub fn processes_with(needle: &str, env_entry: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(needle)
                && environ
                    .split(|b| *b == 0)
                    .any(|entry| entry == env_entry.as_bytes())
        })
        .collect()
}
