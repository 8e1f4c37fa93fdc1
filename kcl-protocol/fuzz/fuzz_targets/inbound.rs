//! Feeds arbitrary bytes to the engine as the daemon's stdout, through the public entry point:
//! line framing, lossy UTF-8, message parsing, record decoding, the checkpoint round trip and the
//! failure handling all run on fuzzer input. The library must never panic, and everything it
//! writes must be one of the two messages the daemon accepts.
#![no_main]

use kcl_protocol::{
    BoxError, Checkpointer, ProcessRecordsInput, Processor, RetryPolicy, Runner, ShardEndedInput,
};
use libfuzzer_sys::fuzz_target;

struct Checkpointing;

impl Processor for Checkpointing {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let mut total = 0usize;
        for record in input.records() {
            total += record.data().len() + record.partition_key().len();
        }
        std::hint::black_box(total);
        // Errors are expected on random input; they must be values, not panics.
        let _ = match input.records().last() {
            Some(last) => checkpointer.checkpoint_at_record(last),
            None => checkpointer.checkpoint(),
        };
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let _ = checkpointer.checkpoint();
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut output = Vec::new();
    // No backoff sleeps: a fuzzed ThrottlingException reply must not slow the fuzzer down.
    let runtime = Runner::new().shard_end_checkpoint_retry(RetryPolicy::none());
    let _ = runtime.run_with_io(Checkpointing, data, &mut output);
    assert!(output.is_ascii(), "non-ASCII output");
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ok = line.starts_with(br#"{"action":"status","responseFor":""#)
            || line.starts_with(br#"{"action":"checkpoint","sequenceNumber":"#);
        assert!(ok, "unexpected output line {:?}", String::from_utf8_lossy(line));
    }
});
