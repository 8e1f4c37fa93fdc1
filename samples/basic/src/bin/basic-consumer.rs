//! `basic-consumer`: the record processor the MultiLangDaemon starts once per shard.
//!
//! Name it in the properties file (`executableName = /path/to/basic-consumer`). It logs every
//! record to stderr (`RUST_LOG` sets the level; `RUST_LOG=warn` silences the per-record lines)
//! and checkpoints after every batch, at shard end and when the worker shuts down.

use std::process::ExitCode;

use kcl_sample_basic::BasicProcessor;

fn main() -> ExitCode {
    // stdout belongs to the protocol; logs go to stderr, which the daemon copies into its log.
    if let Err(error) = kcl_protocol::logging::init() {
        eprintln!("basic-consumer: cannot set up logging: {error}");
    }
    match kcl_protocol::run(BasicProcessor::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("basic-consumer stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
