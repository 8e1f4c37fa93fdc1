use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor, RetryPolicy};

struct LogAndCheckpoint;

impl Processor for LogAndCheckpoint {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let bytes: usize = input.records().iter().map(|r| r.data().len()).sum();
        tracing::info!(records = input.records().len(), bytes, "batch");
        // Checkpoint once the batch is handled (a lease that moved away is not a failure).
        if let Some(last) = input.records().last() {
            RetryPolicy::default().retry(|| checkpointer.checkpoint_at_record(last))?;
        }
        Ok(())
    }
}

fn main() -> Result<(), kcl_protocol::Error> {
    kcl_protocol::logging::init().expect("logging is set up once");
    kcl_protocol::run(LogAndCheckpoint)
}
