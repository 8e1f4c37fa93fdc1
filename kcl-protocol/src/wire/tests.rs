//! Tests of the inbound classification and the lenient parser, with property tests against the
//! daemon's side of the format.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::record::Record;
use crate::testing::daemon_side;

fn parse(line: &str) -> Parsed<'_> {
    parse_line(line, None)
}

#[test]
fn every_daemon_message_shape_parses() {
    assert_eq!(
        parse(
            r#"{"action":"initialize","shardId":"shardId-000000000001","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}"#
        ),
        Parsed::Message(Inbound::Initialize {
            shard_id: "shardId-000000000001".into(),
            sequence_number: Some("TRIM_HORIZON".into()),
            sub_sequence_number: Some(0)
        })
    );
    assert_eq!(
        parse(
            r#"{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}"#
        ),
        Parsed::Message(Inbound::Initialize {
            shard_id: "s".into(),
            sequence_number: None,
            sub_sequence_number: None
        })
    );
    for (line, expected) in [
        (r#"{"action":"leaseLost"}"#, Inbound::LeaseLost),
        (r#"{"action":"shardEnded"}"#, Inbound::ShardEnded),
        (
            r#"{"action":"shutdownRequested"}"#,
            Inbound::ShutdownRequested,
        ),
        (
            r#"{"action":"shutdown","reason":"ZOMBIE"}"#,
            Inbound::LegacyShutdown {
                reason: Some("ZOMBIE".into()),
            },
        ),
        (
            r#"{"action":"checkpoint","sequenceNumber":"123","subSequenceNumber":null,"error":"IllegalArgumentException"}"#,
            Inbound::CheckpointReply {
                sequence_number: Some("123".into()),
                sub_sequence_number: None,
                error: Some("IllegalArgumentException".into()),
            },
        ),
        (
            r#"{"action":"futureThing","x":[1,{"y":2}]}"#,
            Inbound::Unknown {
                action: "futureThing".into(),
            },
        ),
    ] {
        assert_eq!(parse(line), Parsed::Message(expected), "{line}");
    }
}

#[test]
fn records_fill_the_reusable_batch() {
    let mut batch = ProcessRecordsInput::default();
    let line = r#"{"action":"processRecords","records":[{"data":"bWVvdw==","partitionKey":"cat","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","approximateArrivalTimestamp":1476889707000,"subSequenceNumber":0,"action":"record"},{"data":null,"partitionKey":"d\u00e9","sequenceNumber":"2","approximateArrivalTimestamp":null,"subSequenceNumber":null}],"millisBehindLatest":1234}"#;
    assert_eq!(
        parse_line(line, Some(&mut batch)),
        Parsed::Message(Inbound::ProcessRecords)
    );
    assert_eq!(batch.millis_behind_latest(), Some(1234));
    let records = batch.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].data(), b"meow");
    assert_eq!(records[0].partition_key(), "cat");
    assert_eq!(records[1].data(), b"");
    assert_eq!(records[1].partition_key(), "dé");
    assert_eq!(records[1].approximate_arrival_timestamp(), None);
    let capacity = batch.records()[0].data().as_ptr();
    // The next batch reuses the slots.
    let line = r#"{"action":"processRecords","records":[{"data":"eA==","partitionKey":"k","sequenceNumber":"3"}],"millisBehindLatest":null}"#;
    parse_line(line, Some(&mut batch));
    assert_eq!(batch.records().len(), 1);
    assert_eq!(batch.records()[0].data(), b"x");
    // Same buffer (not a new allocation).
    assert_eq!(batch.records()[0].data().as_ptr(), capacity);
    assert_eq!(batch.millis_behind_latest(), None);
}

#[test]
fn lenient_forms() {
    // Field order, unknown fields, duplicate keys (last wins), trailing text, numbers as text.
    assert_eq!(
        parse(
            r#" {"shardId":"a","extra":{"n":[1]},"action":"initialize","shardId":"b","subSequenceNumber":"7","sequenceNumber":42} trailing"#
        ),
        Parsed::Message(Inbound::Initialize {
            shard_id: "b".into(),
            sequence_number: Some("42".into()),
            sub_sequence_number: Some(7)
        })
    );
    assert_eq!(parse(""), Parsed::Blank);
    assert_eq!(parse(" \t "), Parsed::Blank);
}

#[test]
fn garbage_and_malformed_are_told_apart() {
    for line in [
        "not json",
        "[1,2]",
        "{\"x\":1}",
        "{\"action\":null}",
        "{\"action\":\"initialize\"",
        "\"s\"",
    ] {
        assert!(matches!(parse(line), Parsed::Garbage { .. }), "{line}");
    }
    for line in [
        r#"{"action":"initialize"}"#,
        r#"{"action":"initialize","shardId":5}"#,
    ] {
        assert!(matches!(parse(line), Parsed::Malformed { .. }), "{line}");
    }
    let mut batch = ProcessRecordsInput::default();
    for line in [
        r#"{"action":"processRecords","records":[{"data":"!!","partitionKey":"k","sequenceNumber":"1"}]}"#,
        r#"{"action":"processRecords","records":[{"data":"","partitionKey":"k"}]}"#,
        r#"{"action":"processRecords","records":[{"data":"","partitionKey":"k","sequenceNumber":"1x"}]}"#,
        r#"{"action":"processRecords","records":{}}"#,
        r#"{"records":[{"data":"!!"}],"action":"processRecords"}"#,
    ] {
        assert!(
            matches!(parse_line(line, Some(&mut batch)), Parsed::Malformed { .. }),
            "{line}"
        );
    }
}

fn record_strategy() -> impl Strategy<Value = Record> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<String>(),
        "[0-9]{1,56}",
        any::<u64>(),
        proptest::option::of(0i64..4_102_444_800_000),
    )
        .prop_map(|(data, key, seq, sub, arrival)| {
            Record::new(
                data,
                key,
                seq.parse().unwrap(),
                sub,
                arrival.map(|ms| UNIX_EPOCH + Duration::from_millis(ms as u64)),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_line_never_panics_on_any_text(line in any::<String>()) {
        let mut batch = ProcessRecordsInput::default();
        let _ = parse_line(&line, Some(&mut batch));
        let _ = parse_line(&line, None);
    }

    #[test]
    fn parse_line_never_panics_on_json_like_text(
        line in r#"[\{\}\[\]",:0-9a-zA-Z\\ .\-]{0,80}"#,
        prefix in prop::sample::select(vec![
            "", r#"{"action":"processRecords","records":["#,
            r#"{"action":"initialize","shardId":"#, r#"{"action":"checkpoint","#,
        ]),
    ) {
        let line = format!("{prefix}{line}");
        let mut batch = ProcessRecordsInput::default();
        let _ = parse_line(&line, Some(&mut batch));
    }

    #[test]
    fn records_round_trip_through_the_daemon_format(
        records in proptest::collection::vec(record_strategy(), 0..8),
        behind in proptest::option::of(any::<u64>()),
    ) {
        let line = daemon_side::process_records(&records, behind);
        let mut batch = ProcessRecordsInput::default();
        // Parse twice into the same batch: reuse must not leak data between batches.
        for _ in 0..2 {
            let parsed = parse_line(&line, Some(&mut batch));
            prop_assert_eq!(parsed, Parsed::Message(Inbound::ProcessRecords));
            prop_assert_eq!(batch.millis_behind_latest(), behind);
            prop_assert_eq!(batch.records(), records.as_slice());
        }
    }

    #[test]
    fn initialize_round_trips_any_shard_id(shard_id in any::<String>(), seq in proptest::option::of("[0-9]{1,56}"), sub in any::<u64>()) {
        let line = daemon_side::initialize(&shard_id, seq.as_deref(), seq.as_ref().map(|_| sub));
        let parsed = parse_line(&line, None);
        prop_assert_eq!(parsed, Parsed::Message(Inbound::Initialize {
            shard_id: shard_id.as_str().into(),
            sequence_number: seq.as_deref().map(Into::into),
            sub_sequence_number: seq.as_ref().map(|_| sub),
        }));
    }

    #[test]
    fn field_order_and_unknown_fields_do_not_matter(
        shard_id in "[a-zA-Z0-9-]{1,30}",
        extra in proptest::collection::btree_map("[a-z]{1,8}", any::<i32>(), 0..4),
        reverse in any::<bool>(),
    ) {
        let mut fields: Vec<(String, serde_json::Value)> = vec![
            ("action".into(), "initialize".into()),
            ("shardId".into(), shard_id.clone().into()),
            ("sequenceNumber".into(), serde_json::Value::Null),
        ];
        for (key, value) in extra {
            if !["action", "shardId", "sequenceNumber", "subSequenceNumber"].contains(&key.as_str()) {
                fields.push((key, value.into()));
            }
        }
        if reverse {
            fields.reverse();
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        let line = format!("{{{}}}", body.join(","));
        prop_assert_eq!(parse_line(&line, None), Parsed::Message(Inbound::Initialize {
            shard_id: shard_id.as_str().into(),
            sequence_number: None,
            sub_sequence_number: None,
        }));
    }

    #[test]
    fn checkpoint_replies_round_trip_any_error_name(error in proptest::option::of(any::<String>()), seq in proptest::option::of("[0-9]{1,20}")) {
        let line = daemon_side::checkpoint_reply(seq.as_deref(), None, error.as_deref());
        prop_assert_eq!(parse_line(&line, None), Parsed::Message(Inbound::CheckpointReply {
            sequence_number: seq.as_deref().map(Into::into),
            sub_sequence_number: None,
            error: error.as_deref().map(Into::into),
        }));
    }

}
