//! `basic-producer`: creates the stream if it is missing, waits until it is `ACTIVE`, then puts
//! sensor-style JSON records (`{"time","sensor","reading"}`, partition key = sensor).
//!
//! AWS settings come from the standard places (`AWS_REGION`, the credential chain, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KINESIS` for a local stack).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::primitives::Blob;
use clap::Parser;
use kcl_sample_basic::SensorGenerator;
use kcl_sample_basic::stream::{ensure_active, load_config};

/// Put sensor readings into a Kinesis stream (the basic KCL sample's producer).
#[derive(Debug, Parser)]
#[command(name = "basic-producer", version)]
struct Args {
    /// Stream to write to; created if missing.
    #[arg(long, env = "BASIC_STREAM", default_value = "kcl-rs-basic-sample")]
    stream: String,
    /// Shard count used when the stream has to be created.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    shards: i32,
    /// Number of records to put.
    #[arg(long, default_value_t = 10)]
    count: u64,
    /// Records per second (0 = as fast as possible).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Number of distinct sensors (partition keys).
    #[arg(long, default_value_t = 100)]
    sensors: u32,
    /// Seed of the pseudo-random readings (default: the current time).
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds to wait for the stream to become ACTIVE.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match produce(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("basic-producer: {message}");
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
    let config = load_config().await;
    let client = aws_sdk_kinesis::Client::new(&config);
    let created = ensure_active(
        &client,
        &args.stream,
        args.shards,
        Duration::from_secs(args.wait_secs),
    )
    .await?;
    eprintln!(
        "stream {} is ACTIVE{}",
        args.stream,
        if created { " (created)" } else { "" }
    );

    let seed = args.seed.unwrap_or_else(now_millis);
    let mut generator = SensorGenerator::new(args.sensors, seed);
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let started = Instant::now();
    for n in 0..args.count {
        if let Some(interval) = interval {
            // Pace against the start time, so slow calls do not lower the overall rate.
            let due = started + interval.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let reading = generator.next_reading(now_millis());
        let output = client
            .put_record()
            .stream_name(&args.stream)
            .partition_key(reading.partition_key())
            .data(Blob::new(reading.to_json()))
            .send()
            .await
            .map_err(|e| format!("PutRecord failed: {}", DisplayErrorContext(&e)))?;
        println!(
            "put {} -> {} {}",
            String::from_utf8_lossy(&reading.to_json()),
            output.shard_id(),
            output.sequence_number()
        );
    }
    eprintln!(
        "put {} records into {} in {:.1} s",
        args.count,
        args.stream,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
