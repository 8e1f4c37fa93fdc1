//! An async processor (feature `tokio`): each batch awaits a (simulated) async upload before it
//! checkpoints. Run by `tests/process.rs` through the fake daemon.
//!
//! `cargo run -p kcl-protocol --features testing,tokio --bin kcl-test-async-processor` then type daemon
//! messages on stdin, e.g. `{"action":"initialize","shardId":"s"}`.

use kcl_protocol::asynchronous::AsyncProcessor;
use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput};

struct DelayedUploader {
    uploaded: usize,
}

impl AsyncProcessor for DelayedUploader {
    async fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        for record in input.records() {
            // Stands in for an AWS SDK call.
            tokio::task::yield_now().await;
            self.uploaded += record.data().len();
        }
        tracing::info!(bytes = self.uploaded, "uploaded");
        checkpointer.checkpoint()?;
        Ok(())
    }
}

fn main() -> Result<(), kcl_protocol::Error> {
    kcl_protocol::logging::init().expect("install logging once");
    kcl_protocol::asynchronous::run(DelayedUploader { uploaded: 0 })
}
