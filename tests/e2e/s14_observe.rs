//! Scenario 14: a supervised worker's metrics and probes (`kcl-bootstrap --supervise
//! --metrics-addr`), with the real daemon and the real children reporting over
//! `KCL_SUPERVISOR_SOCKET`. 2 shards, 2,000 records produced before the worker starts and read 50
//! per batch, so that the first batches are behind. `/readyz` is 503 until the scheduler starts,
//! then 200. One child (`E2E_GATE_AFTER_BATCHES=1`) holds its second batch: `/healthz` turns 503
//! naming that shard once `--stall-after` (10 s here) has passed, and 200 again after the batch is
//! let through. At the end `sum(kcl_records_total)` equals the records produced (no restart, no
//! lost report), each shard's `kcl_millis_behind_latest` is 0, and each shard's successful
//! checkpoints equal its batches (the consumer checkpoints every batch). `kcl-bootstrap status`
//! prints the per-shard table. Every scrape is parsed with a strict OpenMetrics parser.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kcl_e2e::paths;
use kcl_e2e::scenario::Scenario;
use kcl_e2e::sink::SINK_DIR_ENV;
use kcl_e2e::wait::wait_until;
use openmetrics_parser::OpenMetricsValue;

use crate::common::{e2e_consumer, wait_all_in_sink};

const STALL_AFTER: &str = "10s";

/// `kcl-bootstrap --supervise --metrics-addr 127.0.0.1:0`, in a process group of its own that is
/// killed when dropped.
struct Supervised {
    child: Child,
    log: PathBuf,
}

impl Supervised {
    fn start(properties: &Path, log: &Path, env: &[(String, String)]) -> Supervised {
        let log_file = File::create(log).expect("create the worker's log");
        let mut command = Command::new(paths::workspace_binary("kcl-bootstrap"));
        command
            .arg("-p")
            .arg(properties)
            .args([
                "--supervise",
                "--metrics-addr",
                "127.0.0.1:0",
                "--stall-after",
                STALL_AFTER,
            ])
            .arg("-l")
            .arg(paths::repo_root().join("tests/fixtures/logback-e2e.xml"))
            .args([
                "--jvm-arg=-XX:TieredStopAtLevel=1",
                "--jvm-arg=-XX:+UseSerialGC",
            ])
            .current_dir(properties.parent().unwrap_or(Path::new(".")))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log file"))
            .stderr(log_file)
            .process_group(0);
        if std::env::var_os("KCL_BOOTSTRAP_CACHE_DIR").is_none() {
            command.env(
                "KCL_BOOTSTRAP_CACHE_DIR",
                paths::repo_root().join(".local/kcl-bootstrap-cache"),
            );
        }
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start kcl-bootstrap --supervise");
        Supervised {
            child,
            log: log.to_owned(),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // SAFETY: kill(2) of the process group this test created (process_group(0)).
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status and body of `GET url`; `None` if the endpoint did not answer.
fn get(agent: &ureq::Agent, url: &str) -> Option<(u16, String)> {
    let mut response = agent.get(url).call().ok()?;
    let status = response.status().as_u16();
    Some((status, response.body_mut().read_to_string().ok()?))
}

/// The samples of a scrape by family: labels and value.
type Families = HashMap<String, Vec<(HashMap<String, String>, f64)>>;

fn parse(text: &str) -> Families {
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(text)
        .unwrap_or_else(|e| panic!("/metrics is not valid OpenMetrics ({e:?}):\n{text}"));
    exposition
        .families
        .into_iter()
        .map(|(name, family)| {
            let samples = family
                .iter_samples()
                .map(|sample| {
                    let labels = sample
                        .get_labelset()
                        .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    let value = match &sample.value {
                        OpenMetricsValue::Counter(counter) => counter.value.as_f64(),
                        OpenMetricsValue::Gauge(gauge) => gauge.as_f64(),
                        OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0) as f64,
                        OpenMetricsValue::Unknown(number) => number.as_f64(),
                        _ => f64::NAN,
                    };
                    (labels, value)
                })
                .collect();
            (name, samples)
        })
        .collect()
}

fn total(families: &Families, name: &str) -> f64 {
    families
        .get(name)
        .map_or(0.0, |samples| samples.iter().map(|(_, v)| v).sum())
}

/// Per shard: the value of `name` (summed over its other labels, filtered by `also`).
fn per_shard(families: &Families, name: &str, also: Option<(&str, &str)>) -> HashMap<String, f64> {
    let mut values = HashMap::new();
    for (labels, value) in families.get(name).into_iter().flatten() {
        if let Some((key, wanted)) = also
            && labels.get(key).map(String::as_str) != Some(wanted)
        {
            continue;
        }
        if let Some(shard) = labels.get("shard_id") {
            *values.entry(shard.clone()).or_default() += value;
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_a_supervised_workers_metrics_and_probes() {
    let mut s = Scenario::new("s14-observe");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s14", 0, 2_000)
        .await
        .expect("produce");
    assert_eq!(produced.len(), 2_000);
    s.mark("2,000 records produced on 2 shards");

    let sink = s.sink("worker");
    let gate = s.dir().join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let mut properties = s.properties(&e2e_consumer());
    properties.set("maxRecords", 50);
    let path = s.dir().join("worker.properties");
    properties.write(&path).expect("write the properties");
    let mut env = s.stack().env();
    env.push((SINK_DIR_ENV.to_owned(), sink.dir().display().to_string()));
    env.push(("E2E_GATE_DIR".to_owned(), gate.display().to_string()));
    env.push(("E2E_GATE_AFTER_BATCHES".to_owned(), "1".to_owned()));
    let worker = Supervised::start(&path, &s.dir().join("worker.log"), &env);

    // The endpoint's address, printed before the JVM starts.
    let base = wait_until(
        "the endpoint's address in the log",
        Duration::from_secs(240),
        Duration::from_millis(100),
        || {
            let text = worker.log_text();
            let found = text
                .split("metrics on http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .map(|addr| format!("http://{addr}"));
            std::future::ready(found)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    eprintln!("[s14] the worker's endpoint: {base}/metrics");
    let agent = agent();

    // Not ready until the scheduler has started, then ready.
    let first = get(&agent, &format!("{base}/readyz")).expect("the endpoint answers");
    let mut saw_not_ready = first.0 == 503;
    wait_until(
        "/readyz 200",
        Duration::from_secs(180),
        Duration::from_millis(100),
        || {
            let answer = get(&agent, &format!("{base}/readyz"));
            if answer.as_ref().is_some_and(|(status, _)| *status == 503) {
                saw_not_ready = true;
            }
            std::future::ready(answer.filter(|(status, _)| *status == 200))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    assert!(
        saw_not_ready,
        "/readyz must be 503 before the scheduler started"
    );
    s.mark("/readyz went from 503 to 200");

    // One child holds its second batch: its shard stalls.
    let held_shard = wait_until(
        "a held batch",
        Duration::from_secs(120),
        Duration::from_millis(200),
        || {
            let held = sink
                .events()
                .into_iter()
                .find(|(_, events)| events.iter().any(|e| e.event == "gateHeld"))
                .map(|(shard, _)| shard);
            std::future::ready(held)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    let held_at = Instant::now();
    let reason = wait_until(
        "/healthz 503",
        Duration::from_secs(40),
        Duration::from_millis(200),
        || {
            let answer = get(&agent, &format!("{base}/healthz"));
            std::future::ready(
                answer
                    .filter(|(status, _)| *status == 503)
                    .map(|(_, body)| body),
            )
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    assert!(
        reason.contains(&held_shard)
            && reason.contains("stalled")
            && reason.trim().lines().count() == 1,
        "the reason names the held shard {held_shard}: {reason}"
    );
    assert!(
        held_at.elapsed() >= Duration::from_secs(5),
        "503 too early: {:?}",
        held_at.elapsed()
    );
    s.mark(&format!("/healthz 503: {}", reason.trim()));
    std::fs::write(gate.join("open"), b"").unwrap();
    wait_until(
        "/healthz 200 again",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let answer = get(&agent, &format!("{base}/healthz"));
            std::future::ready(answer.filter(|(status, _)| *status == 200))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    s.mark("/healthz 200 after the batch was let through");

    wait_all_in_sink(&sink, &produced, Duration::from_secs(180)).await;
    s.mark("all records in the sink");
    let shards: std::collections::BTreeSet<String> =
        produced.iter().map(|p| p.shard_id.clone()).collect();
    let families = wait_until(
        "every record and lag 0 in /metrics",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let families = get(&agent, &format!("{base}/metrics")).map(|(_, text)| parse(&text));
            let done = families.filter(|f| {
                let lag = per_shard(f, "kcl_millis_behind_latest", None);
                total(f, "kcl_records") >= produced.len() as f64
                    && shards.iter().all(|shard| lag.get(shard) == Some(&0.0))
            });
            std::future::ready(done)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", worker.log_text()));
    assert_eq!(total(&families, "kcl_daemon_restarts"), 0.0);
    assert_eq!(total(&families, "kcl_reports_lost"), 0.0, "no report lost");
    assert_eq!(
        total(&families, "kcl_records"),
        produced.len() as f64,
        "without a restart every record is reported exactly once"
    );
    let batches = per_shard(&families, "kcl_batches", None);
    let checkpoints = per_shard(&families, "kcl_checkpoints", Some(("result", "ok")));
    assert_eq!(
        batches.keys().collect::<std::collections::BTreeSet<_>>(),
        shards.iter().collect()
    );
    assert_eq!(batches, checkpoints, "one successful checkpoint per batch");
    assert!(
        batches.values().all(|b| *b >= 2.0),
        "batches of 50 from a backlog: {batches:?}"
    );
    assert_eq!(total(&families, "kcl_daemon_up"), 1.0);
    assert_eq!(total(&families, "kcl_shard_children"), 2.0);
    s.mark("sum(kcl_records_total) = produced, lag 0 on every shard, checkpoints = batches");

    let addr = base.trim_start_matches("http://");
    let status = Command::new(paths::workspace_binary("kcl-bootstrap"))
        .args(["status", "--metrics-addr", addr])
        .output()
        .expect("run kcl-bootstrap status");
    let table = String::from_utf8_lossy(&status.stdout);
    eprintln!("[s14] kcl-bootstrap status --metrics-addr {addr}:\n{table}");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for shard in &shards {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(shard.as_str()) && l.contains(" ok")),
            "{shard} in the table:\n{table}"
        );
    }
    drop(worker);
    s.pass();
}
