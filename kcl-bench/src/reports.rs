//! `--reports`: the kcl child once more, as `kcl-reports`, with `KCL_SUPERVISOR_SOCKET` naming a
//! socket that the bench drains the way `kcl-bootstrap --supervise --metrics-addr` does, so that
//! what reporting costs a child shows side by side with the same child not reporting.

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The environment variable kcl-protocol reads (`kcl_protocol::REPORT_SOCKET_VARIABLE`).
pub const REPORT_SOCKET_VARIABLE: &str = kcl_protocol::REPORT_SOCKET_VARIABLE;

/// A bound report socket in a private directory, drained by a thread that counts the datagrams.
pub struct ReportDrain {
    dir: PathBuf,
    path: PathBuf,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReportDrain {
    pub fn start() -> Result<ReportDrain, String> {
        let dir = std::env::temp_dir().join(format!("kcl-bench-reports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("reports.sock");
        let socket = UnixDatagram::bind(&path)
            .map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| format!("cannot set a read timeout: {e}"))?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (received.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("report-drain".into())
            .spawn(move || {
                let mut buffer = vec![0u8; 64 * 1024];
                while !stopped.load(Ordering::Relaxed) {
                    if let Ok(length) = socket.recv(&mut buffer)
                        && buffer[..length].starts_with(b"{\"version\":1,")
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| format!("cannot start the report drain: {e}"))?;
        Ok(ReportDrain {
            dir,
            path,
            received,
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reports received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Waits (at most a second) until `count` reports have arrived; returns how many did.
    pub fn wait_for(&self, count: u64) -> u64 {
        for _ in 0..100 {
            if self.received() >= count {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.received()
    }
}

impl Drop for ReportDrain {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reports sent and received over the `kcl-reports` runs of one workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub workload: &'static str,
    /// One per acknowledged action: `initialize`, each batch, `shardEnded`.
    pub expected: u64,
    pub received: u64,
}

/// The most reporting may add to a throughput workload's child CPU (issue 11).
pub const CPU_BUDGET_PERCENT: f64 = 2.0;

/// The throughput workloads the budget applies to (many records per batch).
const THROUGHPUT_WORKLOADS: [&str; 2] = ["a", "c"];

/// The `BENCHMARKS.md` section comparing `kcl` and `kcl-reports`; empty without `kcl-reports`.
pub fn section(
    summaries: &[crate::report::Summary],
    workloads: &[crate::workload::Workload],
    deliveries: &[Delivery],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if !summaries.iter().any(|s| s.child == "kcl-reports") {
        return out;
    }
    let _ = writeln!(out, "## Reports to the supervisor\n");
    let _ = writeln!(
        out,
        "With `KCL_SUPERVISOR_SOCKET` set (as `kcl-bootstrap --supervise --metrics-addr` sets it), \
kcl-protocol sends one JSON datagram per callback (`kcl-protocol/REPORTS.md`). `kcl-reports` is the same \
`bench-child-kcl` binary reporting to a socket the bench drains, run in the same rounds as `kcl`, \
alternating. Target: at most {CPU_BUDGET_PERCENT}% more child CPU on the throughput workloads (a, c).\n"
    );
    let _ = writeln!(
        out,
        "| workload | kcl CPU s/GB (runs) | kcl-reports CPU s/GB (runs) | median difference | reports received / sent | target |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|---|");
    for workload in workloads {
        let find = |child: &str| {
            summaries
                .iter()
                .find(|s| s.workload == workload.id && s.child == child)
        };
        let (Some(off), Some(on)) = (find("kcl"), find("kcl-reports")) else {
            continue;
        };
        let difference = (on.cpu_s_per_gb / off.cpu_s_per_gb - 1.0) * 100.0;
        let delivery = deliveries
            .iter()
            .find(|d| d.workload == workload.id)
            .map_or("—".to_string(), |d| {
                format!("{} / {}", d.received, d.expected)
            });
        let target = if THROUGHPUT_WORKLOADS.contains(&workload.id) {
            if difference <= CPU_BUDGET_PERCENT {
                format!("≤ {CPU_BUDGET_PERCENT}%: met")
            } else {
                format!("≤ {CPU_BUDGET_PERCENT}%: NOT met")
            }
        } else {
            "— (not a throughput workload)".to_string()
        };
        let _ = writeln!(
            out,
            "| ({}) {} | {:.2} ({:.2}–{:.2}) | {:.2} ({:.2}–{:.2}) | {:+.1}% | {} | {} |",
            workload.id,
            workload.purpose,
            off.cpu_s_per_gb,
            off.cpu_s_per_gb_range.0,
            off.cpu_s_per_gb_range.1,
            on.cpu_s_per_gb,
            on.cpu_s_per_gb_range.0,
            on.cpu_s_per_gb_range.1,
            difference,
            delivery,
            target,
        );
    }
    let _ = writeln!(
        out,
        "\nThe difference is of medians over the rounds; the ranges show how much one run varies on this \
shared machine, and a difference inside them is noise, not cost. A report lost because the drain's queue \
was full (the kernel's `net.unix.max_dgram_qlen`) is only a lost sample; the child never waits for it.\n"
    );
    out
}
