//! `clickstream-verify`: checks a click-stream run. Every record in the producer's manifest must
//! be in S3 (in the objects the consumer wrote), and the KCL lease table must hold, for every
//! shard of the stream, a checkpoint at or past the last record produced to it.
//!
//! With `--wait-secs N` it polls until the run is complete or N seconds have passed, printing one
//! progress line per poll. Exit status: 0 complete, 1 incomplete, 2 the check itself failed.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use kcl_sample_clickstream::aws::{
    get_object, lease_checkpoints, list_keys, list_shards, load_config, s3_client,
};
use kcl_sample_clickstream::manifest;
use kcl_sample_clickstream::object::{decode_body, parse_object_key};
use kcl_sample_clickstream::verify::{Report, compare};

/// Check that every produced click record is in S3 and every shard has a checkpoint.
#[derive(Debug, Parser)]
#[command(name = "clickstream-verify", version)]
struct Args {
    /// The manifest written by `clickstream-producer --manifest`.
    #[arg(long)]
    manifest: PathBuf,
    /// The consumer's bucket.
    #[arg(long, env = "CLICKSTREAM_BUCKET")]
    bucket: String,
    /// The consumer's key prefix.
    #[arg(long, env = "CLICKSTREAM_KEY_PREFIX", default_value = "")]
    key_prefix: String,
    /// The stream (its shards are listed so that every one is checked).
    #[arg(long, env = "CLICKSTREAM_STREAM")]
    stream: String,
    /// The KCL lease table: the properties file's `tableName`, or else its `applicationName`.
    #[arg(long)]
    lease_table: String,
    /// Keep polling until complete, for at most this many seconds (0 = check once).
    #[arg(long, default_value_t = 0)]
    wait_secs: u64,
    /// Seconds between two polls.
    #[arg(long, default_value_t = 2.0)]
    interval_secs: f64,
    /// Path-style S3 addressing (default: on when AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL is set).
    #[arg(long, env = "CLICKSTREAM_S3_PATH_STYLE")]
    s3_path_style: Option<bool>,
}

/// The objects read so far (objects are written once and never change, so each is read once).
#[derive(Default)]
struct Stored {
    keys: HashSet<String>,
    records: Vec<(String, String)>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match verify(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("clickstream-verify: {message}");
            ExitCode::from(2)
        }
    }
}

async fn verify(args: &Args) -> Result<bool, String> {
    let file = std::fs::File::open(&args.manifest)
        .map_err(|e| format!("cannot open the manifest {}: {e}", args.manifest.display()))?;
    let produced = manifest::read(std::io::BufReader::new(file))?;
    let config = load_config().await;
    let s3 = s3_client(&config, args.s3_path_style);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.wait_secs);
    let interval = Duration::from_secs_f64(args.interval_secs.clamp(0.1, 60.0));
    let mut stored = Stored::default();
    loop {
        for key in list_keys(&s3, &args.bucket, &args.key_prefix).await? {
            if stored.keys.contains(&key) {
                continue;
            }
            let Some(parsed) = parse_object_key(&args.key_prefix, &key) else {
                eprintln!(
                    "clickstream-verify: skipping s3://{}/{key}: not a consumer object",
                    args.bucket
                );
                stored.keys.insert(key);
                continue;
            };
            let body = get_object(&s3, &args.bucket, &key).await?;
            let records =
                decode_body(&body).map_err(|e| format!("s3://{}/{key}: {e}", args.bucket))?;
            stored.records.extend(
                records
                    .into_iter()
                    .map(|r| (parsed.shard_id.clone(), r.sequence_number)),
            );
            stored.keys.insert(key);
        }
        let shards = list_shards(&kinesis, &args.stream).await?;
        let checkpoints = lease_checkpoints(&dynamodb, &args.lease_table).await?;
        let report = compare(
            &produced,
            &stored.records,
            stored.keys.len(),
            &shards,
            &checkpoints,
        );
        let done = report.is_complete();
        if args.wait_secs > 0 {
            println!("[{:6.1} s] {report}", started.elapsed().as_secs_f64());
        }
        if done || Instant::now() >= deadline {
            print_report(&report, &checkpoints);
            return Ok(done);
        }
        tokio::time::sleep(interval).await;
    }
}

fn print_report(report: &Report, checkpoints: &BTreeMap<String, String>) {
    println!(
        "{}",
        if report.is_complete() {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        }
    );
    println!("  records produced:      {}", report.produced);
    println!(
        "  records in S3:         {} ({} objects, {} duplicate copies, {} not from this manifest)",
        report.found, report.objects, report.duplicates, report.unexpected
    );
    if report.missing > 0 {
        println!(
            "  records missing:       {} (e.g. {:?})",
            report.missing, report.missing_examples
        );
    }
    println!(
        "  shards checkpointed:   {}/{}",
        report.shards_checkpointed(),
        report.shards.len()
    );
    for (shard, check) in &report.shards {
        println!(
            "    {shard}  {:>6} records  last {}  checkpoint {}  {}",
            check.produced,
            check.last_produced.as_deref().unwrap_or("-"),
            check.checkpoint.as_deref().unwrap_or("(no lease)"),
            if check.covered { "ok" } else { "MISSING" }
        );
    }
    let others = checkpoints
        .keys()
        .filter(|k| !report.shards.contains_key(*k))
        .count();
    if others > 0 {
        println!("  ({others} further leases for shards not in the stream)");
    }
}
