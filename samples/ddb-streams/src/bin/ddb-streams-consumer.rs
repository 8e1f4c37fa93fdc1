//! `ddb-streams-consumer`: the record processor the daemon starts once per stream shard under
//! `kcl-bootstrap --dynamodb-streams`. Logs each change at DEBUG and the counts per batch at
//! INFO (`RUST_LOG`), checkpoints after every batch.

use std::process::ExitCode;

use kcl_sample_ddb_streams::ChangeProcessor;

fn main() -> ExitCode {
    // stdout belongs to the protocol; logs go to stderr, which the daemon copies into its log.
    if let Err(error) = kcl_protocol::logging::init() {
        eprintln!("ddb-streams-consumer: cannot set up logging: {error}");
    }
    match kcl_protocol::run(ChangeProcessor::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("ddb-streams-consumer stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
