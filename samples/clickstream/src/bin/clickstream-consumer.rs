//! `clickstream-consumer`: the record processor the MultiLangDaemon starts once per shard. It
//! buffers records (1 MiB or 60 s by default), uploads each buffer to S3 under
//! `<shardId>/<firstSeq>-<lastSeq>` in the background while it keeps receiving, and lets
//! kcl-protocol checkpoint each record once its upload succeeded (a watermark).
//!
//! The daemon starts it with no arguments, so every setting also has an environment variable
//! (the daemon's environment is passed to its children): `CLICKSTREAM_BUCKET` (required),
//! `CLICKSTREAM_KEY_PREFIX`, `CLICKSTREAM_MAX_BYTES`, `CLICKSTREAM_MAX_AGE_SECS`,
//! `CLICKSTREAM_S3_PATH_STYLE`, `CLICKSTREAM_CREATE_BUCKET`, `CLICKSTREAM_UPLOAD_ATTEMPTS`,
//! `CLICKSTREAM_FINAL_WAIT_SECS`. AWS settings come from the standard variables (`AWS_REGION`,
//! `AWS_ENDPOINT_URL_S3`, …).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kcl_protocol::asynchronous::BlockOn;
use kcl_sample_clickstream::aws::{load_config, s3_client};
use kcl_sample_clickstream::{ClickstreamProcessor, ConsumerSettings, S3Sink, UploadRetry};

/// Upload a shard's click records to S3 in batches (the click-stream KCL sample's consumer).
#[derive(Debug, Parser)]
#[command(name = "clickstream-consumer", version)]
struct Args {
    /// Bucket to upload to.
    #[arg(long, env = "CLICKSTREAM_BUCKET")]
    bucket: String,
    /// Prefix for every object key.
    #[arg(long, env = "CLICKSTREAM_KEY_PREFIX", default_value = "")]
    key_prefix: String,
    /// Upload a buffer once it holds this many bytes.
    #[arg(long, env = "CLICKSTREAM_MAX_BYTES", default_value_t = 1024 * 1024)]
    max_bytes: usize,
    /// Upload a buffer once its oldest record is this many seconds old.
    #[arg(long, env = "CLICKSTREAM_MAX_AGE_SECS", default_value_t = 60.0)]
    max_age_secs: f64,
    /// Path-style S3 addressing (default: on when AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL is set).
    #[arg(long, env = "CLICKSTREAM_S3_PATH_STYLE")]
    s3_path_style: Option<bool>,
    /// Create the bucket when it does not exist.
    #[arg(long, env = "CLICKSTREAM_CREATE_BUCKET", default_value_t = true, action = clap::ArgAction::Set)]
    create_bucket: bool,
    /// Attempts per upload before the consumer gives up (and the failure policy applies).
    #[arg(long, env = "CLICKSTREAM_UPLOAD_ATTEMPTS", default_value_t = 6)]
    upload_attempts: u32,
    /// How long shutdown and shard end wait for the uploads still running (keep it below the
    /// daemon's shutdownGraceMillis).
    #[arg(long, env = "CLICKSTREAM_FINAL_WAIT_SECS", default_value_t = 15.0)]
    final_wait_secs: f64,
}

fn main() -> ExitCode {
    // stdout belongs to the protocol; logs go to stderr, which the daemon copies into its log.
    if let Err(error) = kcl_protocol::logging::init() {
        eprintln!("clickstream-consumer: cannot set up logging: {error}");
    }
    let args = Args::parse();
    for (name, value) in [
        ("CLICKSTREAM_MAX_AGE_SECS", args.max_age_secs),
        ("CLICKSTREAM_FINAL_WAIT_SECS", args.final_wait_secs),
    ] {
        if !(value >= 0.0 && value.is_finite()) {
            tracing::error!("{name} must be 0 or a positive number of seconds");
            return ExitCode::FAILURE;
        }
    }
    // One worker thread: uploads keep running while the engine waits for the daemon's next
    // action (on a current-thread runtime they would run only during callbacks).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = runtime.block_on(load_config());
    let client = s3_client(&config, args.s3_path_style);
    let sink = S3Sink::new(client, args.bucket);
    if args.create_bucket
        && let Err(error) = runtime.block_on(sink.ensure_bucket())
    {
        tracing::error!("{error}");
        return ExitCode::FAILURE;
    }
    let settings = ConsumerSettings {
        key_prefix: args.key_prefix,
        max_bytes: args.max_bytes,
        max_age: Duration::from_secs_f64(args.max_age_secs),
        upload_retry: UploadRetry {
            attempts: args.upload_attempts.max(1),
            ..UploadRetry::default()
        },
        final_wait: Duration::from_secs_f64(args.final_wait_secs),
        ..ConsumerSettings::default()
    };
    // The async processor runs on the same runtime that loaded the configuration, so the S3
    // client's connection pool is reused from the first upload on.
    let processor = BlockOn::with_runtime(ClickstreamProcessor::new(sink, settings), runtime);
    // The processor itself waits for its uploads at shutdown and shard end; the library's own
    // wait for the watermark after that only needs to be short.
    let library = kcl_protocol::Runner::new().watermark_wait(Duration::from_secs(2));
    match library.run(processor) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // A summary: kcl-protocol logged the failure with each of its causes just before.
            tracing::error!("clickstream-consumer stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
