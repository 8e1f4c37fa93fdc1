//! The worker's metrics as `prometheus-client` families, and their exposition.
//!
//! Every metric with a `shard_id` label is removed by [`Metrics::forget_shard`] when the shard's
//! series expire (the rule is in [`super::shards`]).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::report::ChildReport;

/// The content type of [`Metrics::encode`]'s output (what Prometheus asks for first).
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckpointLabels {
    shard_id: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardActionLabels {
    shard_id: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

type DurationFamily = Family<ActionLabels, Histogram, fn() -> Histogram>;

/// Callback durations from 100 µs (a small batch with no I/O: kcl-bench measures tens of
/// microseconds per batch of the parse alone) to 26 s (near the daemon's timeouts), ×4 per bucket.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

pub(crate) struct Metrics {
    registry: Registry,
    records: Family<ShardLabels, Counter>,
    bytes: Family<ShardLabels, Counter>,
    batches: Family<ShardLabels, Counter>,
    millis_behind_latest: Family<ShardLabels, Gauge>,
    last_batch: Family<ShardLabels, Gauge<f64, AtomicU64>>,
    checkpoints: Family<CheckpointLabels, Counter>,
    failures: Family<ShardActionLabels, Counter>,
    child_up: Family<ShardLabels, Gauge>,
    durations: DurationFamily,
    retries: Family<ActionLabels, Counter>,
    children: Gauge,
    leases: Gauge,
    daemon_up: Gauge,
    daemon_restarts: Counter,
    reports: Counter,
    reports_lost: Counter,
    reports_rejected: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let records = Family::default();
        let bytes = Family::default();
        let batches = Family::default();
        let millis_behind_latest = Family::default();
        let last_batch = Family::default();
        let checkpoints = Family::default();
        let failures = Family::default();
        let child_up = Family::default();
        let durations = DurationFamily::new_with_constructor(duration_histogram);
        let retries = Family::default();
        let children = Gauge::default();
        let leases = Gauge::default();
        let daemon_up = Gauge::default();
        let daemon_restarts = Counter::default();
        let reports = Counter::default();
        let reports_lost = Counter::default();
        let reports_rejected = Counter::default();
        // Counters get `_total` appended by the exposition.
        let r = &mut registry;
        r.register(
            "kcl_records",
            "Records delivered to the shard's child (KPL user records after deaggregation)",
            records.clone(),
        );
        r.register(
            "kcl_bytes",
            "Bytes of record data delivered to the shard's child",
            bytes.clone(),
        );
        r.register(
            "kcl_batches",
            "processRecords calls handled by the shard's child",
            batches.clone(),
        );
        r.register(
            "kcl_millis_behind_latest",
            "millisBehindLatest of the shard's last batch",
            millis_behind_latest.clone(),
        );
        r.register(
            "kcl_last_batch_timestamp_seconds",
            "When the supervisor received the report of the shard's last batch (Unix time)",
            last_batch.clone(),
        );
        r.register(
            "kcl_checkpoints",
            "Checkpoints the daemon answered, by result (ok or the daemon's exception name)",
            checkpoints.clone(),
        );
        r.register(
            "kcl_callback_failures",
            "Callbacks that failed (returned Err or panicked) after their retries",
            failures.clone(),
        );
        r.register(
            "kcl_callback_duration_seconds",
            "Time from the daemon's message to the child's status, by action",
            durations.clone(),
        );
        r.register(
            "kcl_callback_retries",
            "Callbacks called again after an Err (Runner::retry_failed_callbacks), by action",
            retries.clone(),
        );
        r.register(
            "kcl_shard_child_up",
            "1 while the shard's child runs, 0 after it ended (children without kcl-protocol too, from the daemon's log)",
            child_up.clone(),
        );
        r.register(
            "kcl_shard_children",
            "Children alive (one per lease this worker processes)",
            children.clone(),
        );
        r.register(
            "kcl_shard_leases",
            "Leases this worker holds, as the daemon's scheduler last logged them",
            leases.clone(),
        );
        r.register(
            "kcl_daemon_up",
            "1 while the MultiLangDaemon (JVM) runs",
            daemon_up.clone(),
        );
        r.register(
            "kcl_daemon_restarts",
            "Restarts of the MultiLangDaemon by the supervisor",
            daemon_restarts.clone(),
        );
        r.register(
            "kcl_reports",
            "Report datagrams received from children",
            reports.clone(),
        );
        r.register(
            "kcl_reports_lost",
            "Report datagrams children sent that never arrived (gaps in their seq)",
            reports_lost.clone(),
        );
        r.register(
            "kcl_reports_rejected",
            "Datagrams that were not version-1 reports",
            reports_rejected.clone(),
        );
        Metrics {
            registry,
            records,
            bytes,
            batches,
            millis_behind_latest,
            last_batch,
            checkpoints,
            failures,
            child_up,
            durations,
            retries,
            children,
            leases,
            daemon_up,
            daemon_restarts,
            reports,
            reports_lost,
            reports_rejected,
        }
    }

    /// Adds one report; `received_at` is the Unix time in seconds.
    pub(crate) fn record(&self, report: &ChildReport, received_at: f64) {
        self.reports.inc();
        let shard = ShardLabels {
            shard_id: report.shard_id.clone(),
        };
        if report.action == "processRecords" {
            self.records.get_or_create(&shard).inc_by(report.records);
            self.bytes.get_or_create(&shard).inc_by(report.bytes);
            self.batches.get_or_create(&shard).inc();
            self.last_batch.get_or_create(&shard).set(received_at);
            if let Some(millis) = report.millis_behind_latest {
                let millis = i64::try_from(millis).unwrap_or(i64::MAX);
                self.millis_behind_latest.get_or_create(&shard).set(millis);
            }
        }
        for (result, count) in &report.checkpoints {
            let labels = CheckpointLabels {
                shard_id: report.shard_id.clone(),
                result: result.clone(),
            };
            self.checkpoints.get_or_create(&labels).inc_by(*count);
        }
        if report.failure.is_some() {
            let labels = ShardActionLabels {
                shard_id: report.shard_id.clone(),
                action: report.action.clone(),
            };
            self.failures.get_or_create(&labels).inc();
        }
        let action = ActionLabels {
            action: report.action.clone(),
        };
        self.durations
            .get_or_create(&action)
            .observe(report.duration_micros as f64 / 1e6);
        if report.retries > 0 {
            self.retries.get_or_create(&action).inc_by(report.retries);
        }
    }

    pub(crate) fn lost_reports(&self, count: u64) {
        self.reports_lost.inc_by(count);
    }

    pub(crate) fn rejected_report(&self) {
        self.reports_rejected.inc();
    }

    pub(crate) fn set_children(&self, alive: usize, leases: usize) {
        self.children.set(i64::try_from(alive).unwrap_or(i64::MAX));
        self.leases.set(i64::try_from(leases).unwrap_or(i64::MAX));
    }

    pub(crate) fn set_child_up(&self, shard_id: &str, up: bool) {
        let shard = ShardLabels {
            shard_id: shard_id.to_owned(),
        };
        self.child_up.get_or_create(&shard).set(i64::from(up));
    }

    pub(crate) fn set_daemon_up(&self, up: bool) {
        self.daemon_up.set(i64::from(up));
    }

    pub(crate) fn daemon_restarted(&self) {
        self.daemon_restarts.inc();
    }

    /// Removes every series of `shard_id`; `results` and `actions` are the label values of its
    /// checkpoint and failure series.
    pub(crate) fn forget_shard<'a>(
        &self,
        shard_id: &str,
        results: impl IntoIterator<Item = &'a String>,
        actions: impl IntoIterator<Item = &'a String>,
    ) {
        let shard = ShardLabels {
            shard_id: shard_id.to_owned(),
        };
        self.records.remove(&shard);
        self.bytes.remove(&shard);
        self.batches.remove(&shard);
        self.millis_behind_latest.remove(&shard);
        self.last_batch.remove(&shard);
        self.child_up.remove(&shard);
        for result in results {
            self.checkpoints.remove(&CheckpointLabels {
                shard_id: shard_id.to_owned(),
                result: result.clone(),
            });
        }
        for action in actions {
            self.failures.remove(&ShardActionLabels {
                shard_id: shard_id.to_owned(),
                action: action.clone(),
            });
        }
    }

    /// The OpenMetrics text exposition of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::with_capacity(8192);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
