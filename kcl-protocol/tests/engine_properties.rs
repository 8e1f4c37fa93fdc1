//! Property test of the whole engine: any input, however broken, never panics the library, and
//! everything it writes is a message the daemon accepts (a status or a checkpoint request).

use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor};
use proptest::prelude::*;

struct CheckpointEveryBatch;

impl Processor for CheckpointEveryBatch {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        // Errors are ignored on purpose: the input is random.
        let _ = match input.records().last() {
            Some(last) => checkpointer.checkpoint_at_record(last),
            None => checkpointer.checkpoint(),
        };
        Ok(())
    }
}

fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}"#.to_owned()),
        Just(r#"{"action":"processRecords","records":[{"data":"eA==","partitionKey":"k","sequenceNumber":"1"}],"millisBehindLatest":0}"#.to_owned()),
        Just(r#"{"action":"processRecords","records":[],"millisBehindLatest":null}"#.to_owned()),
        Just(r#"{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":null}"#.to_owned()),
        Just(r#"{"action":"checkpoint","sequenceNumber":"1","subSequenceNumber":0,"error":"ThrottlingException"}"#.to_owned()),
        Just(r#"{"action":"leaseLost"}"#.to_owned()),
        Just(r#"{"action":"shardEnded"}"#.to_owned()),
        Just(r#"{"action":"shutdownRequested"}"#.to_owned()),
        Just(r#"{"action":"shutdown","reason":"TERMINATE"}"#.to_owned()),
        Just(String::new()),
        any::<String>(),
        r#"\{"action":"[a-zA-Z]{0,12}"[,:\[\]\{\}"a-z0-9]{0,20}\}"#,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_never_panics_and_writes_only_valid_messages(lines in proptest::collection::vec(line_strategy(), 0..12)) {
        let input = lines.join("\n");
        let mut output = Vec::new();
        // Ok, or a Protocol error for a malformed known action; never a panic.
        let _ = kcl_protocol::run_with_io(CheckpointEveryBatch, input.as_bytes(), &mut output);
        let text = String::from_utf8(output).unwrap();
        prop_assert!(text.is_ascii());
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let object = value.as_object().unwrap();
            match object["action"].as_str().unwrap() {
                "status" => prop_assert_eq!(object.len(), 2),
                "checkpoint" => prop_assert_eq!(object.len(), 3),
                other => prop_assert!(false, "unexpected action {}", other),
            }
        }
    }
}
