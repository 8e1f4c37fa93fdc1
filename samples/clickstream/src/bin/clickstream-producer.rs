//! `clickstream-producer`: generates `{"resource","referrer"}` click records and sends them to a
//! Kinesis stream with `PutRecords`, in batches, at a set rate; then prints a summary and, with
//! `--manifest`, writes every record's shard, sequence number and partition key to a file that
//! `clickstream-verify` checks against S3.
//!
//! AWS settings come from the standard places (`AWS_REGION`, the credential chain, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KINESIS` for a local stack).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use clap::Parser;
use kcl_sample_clickstream::ClickGenerator;
use kcl_sample_clickstream::aws::{ensure_stream, load_config};
use kcl_sample_clickstream::manifest::{self, ProducedRecord};

/// Put click records into a Kinesis stream (the click-stream KCL sample's producer).
#[derive(Debug, Parser)]
#[command(name = "clickstream-producer", version)]
struct Args {
    /// Stream to write to; created if missing.
    #[arg(long, env = "CLICKSTREAM_STREAM", default_value = "kcl-rs-clickstream")]
    stream: String,
    /// Shard count used when the stream has to be created.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    shards: i32,
    /// Number of records to put in all.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Records per PutRecords call (Kinesis allows at most 500).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=500))]
    batch_size: u16,
    /// Records per second (0 = as fast as possible). The official sample sends 5-record batches
    /// at 20 batches per second: 100 records per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Number of distinct resources (partition keys).
    #[arg(long, default_value_t = 100)]
    resources: u32,
    /// Seed of the pseudo-random clicks (default: the current time).
    #[arg(long)]
    seed: Option<u64>,
    /// Write every record's shard, sequence number and partition key to this file.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Attempts for records that PutRecords rejected (throttling, internal errors).
    #[arg(long, default_value_t = 8)]
    attempts: u32,
    /// Seconds to wait for the stream to become ACTIVE.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
    /// Print only the summary (no per-second progress lines on stderr).
    #[arg(long)]
    quiet: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match produce(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("clickstream-producer: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn produce(args: &Args) -> Result<(), String> {
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err(format!(
            "--rate must be 0 or a positive number, not {}",
            args.rate
        ));
    }
    let mut manifest = match &args.manifest {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create the manifest {}: {e}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            manifest::write_header(
                &mut out,
                &format!("clickstream-producer --stream {}", args.stream),
            )
            .map_err(|e| format!("cannot write the manifest: {e}"))?;
            Some(out)
        }
        None => None,
    };

    let config = load_config().await;
    let client = aws_sdk_kinesis::Client::new(&config);
    let created = ensure_stream(
        &client,
        &args.stream,
        args.shards,
        Duration::from_secs(args.wait_secs),
    )
    .await?;
    if !args.quiet {
        eprintln!(
            "stream {} is ACTIVE{}",
            args.stream,
            if created { " (created)" } else { "" }
        );
    }

    let seed = args.seed.unwrap_or_else(now_millis);
    let mut generator = ClickGenerator::new(args.resources, seed);
    let started = Instant::now();
    let mut last_report = started;
    let mut put = 0u64;
    let mut calls = 0u64;
    let mut retried = 0u64;
    let mut per_shard: BTreeMap<String, u64> = BTreeMap::new();
    while put < args.count {
        let size = (args.count - put).min(u64::from(args.batch_size)) as usize;
        if args.rate > 0.0 {
            // Pace against the start time, so slow calls do not lower the overall rate.
            let due = started + Duration::from_secs_f64(put as f64 / args.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let mut pending: Vec<(String, Vec<u8>)> = (0..size)
            .map(|_| {
                let click = generator.next_click();
                (click.partition_key().to_owned(), click.to_json())
            })
            .collect();
        let mut attempt = 1;
        while !pending.is_empty() {
            let entries = pending
                .iter()
                .map(|(key, data)| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(key)
                        .data(Blob::new(data.clone()))
                        .build()
                        .map_err(|e| format!("cannot build a PutRecords entry: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            calls += 1;
            let output = client
                .put_records()
                .stream_name(&args.stream)
                .set_records(Some(entries))
                .send()
                .await;
            let output = match output {
                Ok(output) => output,
                Err(e) if attempt < args.attempts => {
                    eprintln!("PutRecords failed ({}), retrying", DisplayErrorContext(&e));
                    backoff(attempt).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(format!("PutRecords failed: {}", DisplayErrorContext(&e))),
            };
            // Entries come back in request order; keep the rejected ones for the next attempt.
            let mut rejected = Vec::new();
            for ((key, data), result) in pending.into_iter().zip(output.records()) {
                match (result.shard_id(), result.sequence_number()) {
                    (Some(shard), Some(seq)) if result.error_code().is_none() => {
                        put += 1;
                        *per_shard.entry(shard.to_owned()).or_default() += 1;
                        if let Some(out) = manifest.as_mut() {
                            let record = ProducedRecord {
                                shard_id: shard.to_owned(),
                                sequence_number: seq.to_owned(),
                                partition_key: key,
                            };
                            manifest::write_record(out, &record)
                                .map_err(|e| format!("cannot write the manifest: {e}"))?;
                        }
                    }
                    _ => rejected.push((key, data)),
                }
            }
            pending = rejected;
            if !pending.is_empty() {
                if attempt >= args.attempts {
                    return Err(format!(
                        "{} records were still rejected after {} attempts (last error: {:?})",
                        pending.len(),
                        args.attempts,
                        output.records().iter().find_map(|r| r.error_message())
                    ));
                }
                retried += pending.len() as u64;
                backoff(attempt).await;
                attempt += 1;
            }
        }
        if !args.quiet && last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            eprintln!("  put {put}/{} records", args.count);
        }
    }
    if let Some(mut out) = manifest {
        out.flush()
            .map_err(|e| format!("cannot write the manifest: {e}"))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "clickstream-producer: put {put} records into {} with {calls} PutRecords calls in {seconds:.1} s \
         ({:.0} records/s, {retried} retried)",
        args.stream,
        put as f64 / seconds.max(1e-9)
    );
    for (shard, count) in &per_shard {
        println!("  {shard}: {count} records");
    }
    if let Some(path) = &args.manifest {
        println!("  manifest: {}", path.display());
    }
    Ok(())
}

async fn backoff(attempt: u32) {
    let wait = Duration::from_millis(100 * 2u64.pow(attempt.min(6)));
    tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
