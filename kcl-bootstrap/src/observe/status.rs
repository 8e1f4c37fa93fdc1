//! `kcl-bootstrap status --metrics-addr ADDR`: the endpoint's view of the worker as a table, the
//! view an operator wants in a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::exposition::{Sample, samples};
use super::{MetricsAddr, ObserveError};

/// How long each request to the endpoint may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One shard's row.
#[derive(Debug, Default)]
struct Row {
    records: f64,
    batches: f64,
    bytes: f64,
    behind: Option<f64>,
    last_batch: Option<f64>,
    checkpoints: BTreeMap<String, f64>,
    failures: f64,
}

/// Fetches the endpoint's metrics and probes and prints the table on stdout.
pub(crate) fn run(addr: &MetricsAddr) -> Result<(), ObserveError> {
    let base = addr.url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str| -> Result<(u16, String), ObserveError> {
        let url = format!("{base}{path}");
        let mut response = agent
            .get(&url)
            .call()
            .map_err(|source| ObserveError::Fetch {
                url: url.clone(),
                source: Box::new(source),
            })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|source| ObserveError::Fetch {
                url,
                source: Box::new(source),
            })?;
        Ok((status, body))
    };
    let (status, metrics) = get("/metrics")?;
    if status != 200 || !metrics.contains("kcl_daemon_up") {
        return Err(ObserveError::NotMetrics {
            url: format!("{base}/metrics"),
            problem: format!("HTTP {status}, no kcl_daemon_up"),
        });
    }
    let (_, health) = get("/healthz")?;
    let (_, ready) = get("/readyz")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    let table = render(&base, &samples(&metrics), health.trim(), ready.trim(), now);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(table.as_bytes())
        .and_then(|()| out.flush())
        .map_err(ObserveError::Stdout)
}

/// The table for `samples` (`now`: Unix time in seconds).
pub(crate) fn render(
    base: &str,
    samples: &[Sample],
    health: &str,
    ready: &str,
    now: f64,
) -> String {
    let scalar = |name: &str| {
        samples
            .iter()
            .find(|sample| sample.name == name)
            .map_or(0.0, |sample| sample.value)
    };
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for sample in samples {
        let Some(shard) = sample.label("shard_id") else {
            continue;
        };
        let row = rows.entry(shard).or_default();
        match sample.name.as_str() {
            "kcl_records_total" => row.records = sample.value,
            "kcl_batches_total" => row.batches = sample.value,
            "kcl_bytes_total" => row.bytes = sample.value,
            "kcl_millis_behind_latest" => row.behind = Some(sample.value),
            "kcl_last_batch_timestamp_seconds" => row.last_batch = Some(sample.value),
            "kcl_checkpoints_total" => {
                let result = sample.label("result").unwrap_or("?").to_owned();
                *row.checkpoints.entry(result).or_default() += sample.value;
            }
            "kcl_callback_failures_total" => row.failures += sample.value,
            _ => {}
        }
    }
    let mut text = String::new();
    let daemon = if scalar("kcl_daemon_up") >= 1.0 {
        "up"
    } else {
        "down"
    };
    let _ = writeln!(
        text,
        "{base}: daemon {daemon}, {} restarts, {} children, {} leases held; health: {health}; {ready}",
        scalar("kcl_daemon_restarts_total"),
        scalar("kcl_shard_children"),
        scalar("kcl_shard_leases"),
    );
    let lost = scalar("kcl_reports_lost_total");
    if lost > 0.0 {
        let _ = writeln!(
            text,
            "({lost} reports from children were lost: counts are lower bounds)"
        );
    }
    if rows.is_empty() {
        let _ = writeln!(text, "no shard has reported yet");
        return text;
    }
    let header = [
        "SHARD",
        "RECORDS",
        "BATCHES",
        "BYTES",
        "BEHIND",
        "LAST BATCH",
        "CHECKPOINTS",
        "FAILURES",
    ];
    let mut lines = vec![header.map(str::to_owned).to_vec()];
    for (shard, row) in &rows {
        let checkpoints = if row.checkpoints.is_empty() {
            "-".to_owned()
        } else {
            row.checkpoints
                .iter()
                .map(|(result, count)| format!("{count} {result}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(vec![
            (*shard).to_owned(),
            format!("{}", row.records),
            format!("{}", row.batches),
            format!("{}", row.bytes),
            row.behind.map_or("-".to_owned(), |ms| format!("{ms} ms")),
            row.last_batch.map_or("-".to_owned(), |at| {
                format!("{:.0}s ago", (now - at).max(0.0))
            }),
            checkpoints,
            format!("{}", row.failures),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            lines
                .iter()
                .map(|line| line[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(text, "{}", cells.join("  ").trim_end());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_shard_with_its_checkpoints() {
        let text = "kcl_daemon_up 1\nkcl_daemon_restarts_total 2\nkcl_shard_children 2\nkcl_shard_leases 2\n\
                    kcl_records_total{shard_id=\"shardId-0\"} 120\n\
                    kcl_batches_total{shard_id=\"shardId-0\"} 4\n\
                    kcl_millis_behind_latest{shard_id=\"shardId-0\"} 0\n\
                    kcl_last_batch_timestamp_seconds{shard_id=\"shardId-0\"} 990\n\
                    kcl_checkpoints_total{shard_id=\"shardId-0\",result=\"ok\"} 4\n\
                    kcl_checkpoints_total{shard_id=\"shardId-0\",result=\"ThrottlingException\"} 1\n\
                    kcl_records_total{shard_id=\"shardId-1\"} 7\n";
        let table = render("http://127.0.0.1:9", &samples(text), "ok", "ready", 1000.0);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "http://127.0.0.1:9: daemon up, 2 restarts, 2 children, 2 leases held; health: ok; ready"
        );
        assert!(lines[1].starts_with("SHARD"), "{table}");
        assert!(lines[2].starts_with("shardId-0"), "{table}");
        assert!(
            lines[2].contains("0 ms") && lines[2].contains("10s ago"),
            "{table}"
        );
        assert!(lines[2].contains("1 ThrottlingException, 4 ok"), "{table}");
        assert!(
            lines[3].starts_with("shardId-1") && lines[3].contains(" 7 "),
            "{table}"
        );
        assert_eq!(lines.len(), 4);
    }
}
