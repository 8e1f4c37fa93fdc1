//! `bench-child-kcl`: the `kcl-bench` child built on `kcl-protocol`.
//!
//! The shape of the `basic-consumer` sample (logging set up on stderr, `kcl_protocol::run`, a
//! checkpoint at the last record of every batch with the default retry policy, the default
//! SHARD_END checkpoint), without the per-record log line. Same work as every bench child: decode
//! every record's data (the library does it while parsing), sum the lengths, and print
//! `kcl-bench-child records=<n> bytes=<n>` on stderr at shard end.

use std::process::ExitCode;

use kcl_protocol::{
    BoxError, Checkpointer, ProcessRecordsInput, Processor, RetryPolicy, ShardEndedInput,
};

#[derive(Default)]
struct BenchProcessor {
    records: u64,
    bytes: u64,
    retry: RetryPolicy,
}

impl Processor for BenchProcessor {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let records = input.records();
        for record in records {
            self.bytes += record.data().len() as u64;
        }
        self.records += records.len() as u64;
        if let Some(last) = records.last() {
            self.retry
                .retry(|| checkpointer.checkpoint_at_record(last))?;
        }
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.retry.retry(|| checkpointer.checkpoint())?;
        eprintln!(
            "kcl-bench-child records={} bytes={}",
            self.records, self.bytes
        );
        Ok(())
    }
}

fn main() -> ExitCode {
    if let Err(error) = kcl_protocol::logging::init() {
        eprintln!("bench-child-kcl: cannot set up logging: {error}");
    }
    match kcl_protocol::run(BenchProcessor::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-child-kcl: {error}");
            ExitCode::FAILURE
        }
    }
}
