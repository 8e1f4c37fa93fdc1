//! The daemon's side of the wire format, for the fake daemon and the tests: messages exactly as
//! the real daemon writes them (§1.2 of the protocol reference: `action` first, fields in the Java
//! declaration order, nulls written), and the daemon's strict reading of child lines (§1.4).

use std::fmt;

use crate::record::Record;
use crate::wire::{Escaping, push_json_string};

fn string_or_null(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => push_json_string(out, text, Escaping::Utf8),
        None => out.extend_from_slice(b"null"),
    }
}

fn number_or_null(out: &mut Vec<u8>, value: Option<impl fmt::Display>) {
    match value {
        Some(number) => out.extend_from_slice(number.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn finish(out: Vec<u8>) -> String {
    String::from_utf8(out).expect("built from UTF-8 pieces")
}

pub(crate) fn initialize(
    shard_id: &str,
    sequence_number: Option<&str>,
    sub_sequence_number: Option<u64>,
) -> String {
    let mut out = br#"{"action":"initialize","shardId":"#.to_vec();
    push_json_string(&mut out, shard_id, Escaping::Utf8);
    out.extend_from_slice(br#","sequenceNumber":"#);
    string_or_null(&mut out, sequence_number);
    out.extend_from_slice(br#","subSequenceNumber":"#);
    number_or_null(&mut out, sub_sequence_number);
    out.push(b'}');
    finish(out)
}

pub(crate) fn process_records(records: &[Record], millis_behind_latest: Option<u64>) -> String {
    let mut out = br#"{"action":"processRecords","records":["#.to_vec();
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"data":""#);
        base64_simd::STANDARD.encode_append(record.data(), &mut out);
        out.extend_from_slice(br#"","partitionKey":"#);
        push_json_string(&mut out, record.partition_key(), Escaping::Utf8);
        out.extend_from_slice(br#","sequenceNumber":"#);
        push_json_string(&mut out, record.sequence_number().as_str(), Escaping::Utf8);
        out.extend_from_slice(br#","approximateArrivalTimestamp":"#);
        number_or_null(&mut out, record.approximate_arrival_millis());
        out.extend_from_slice(br#","subSequenceNumber":"#);
        out.extend_from_slice(record.sub_sequence_number().to_string().as_bytes());
        out.extend_from_slice(br#","action":"record"}"#);
    }
    out.extend_from_slice(br#"],"millisBehindLatest":"#);
    number_or_null(&mut out, millis_behind_latest);
    out.push(b'}');
    finish(out)
}

/// `leaseLost`, `shardEnded`, `shutdownRequested` (and any other field-less action).
pub(crate) fn bare(action: &str) -> String {
    let mut out = br#"{"action":"#.to_vec();
    push_json_string(&mut out, action, Escaping::Utf8);
    out.push(b'}');
    finish(out)
}

pub(crate) fn checkpoint_reply(
    sequence_number: Option<&str>,
    sub_sequence_number: Option<u64>,
    error: Option<&str>,
) -> String {
    let mut out = br#"{"action":"checkpoint","sequenceNumber":"#.to_vec();
    string_or_null(&mut out, sequence_number);
    out.extend_from_slice(br#","subSequenceNumber":"#);
    number_or_null(&mut out, sub_sequence_number);
    out.extend_from_slice(br#","error":"#);
    string_or_null(&mut out, error);
    out.push(b'}');
    finish(out)
}

pub(crate) fn legacy_shutdown(reason: &str) -> String {
    let mut out = br#"{"action":"shutdown","reason":"#.to_vec();
    push_json_string(&mut out, reason, Escaping::Utf8);
    out.push(b'}');
    finish(out)
}

/// A child line as the daemon's `GetNextMessageTask` sees it (§1.4 of the reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChildLine {
    /// An exactly-empty line: skipped silently.
    Empty,
    /// `status`; `None` when `responseFor` is null or absent (the daemon then fails the action).
    Status(Option<String>),
    /// `checkpoint`, with the request's fields after Jackson's coercions.
    Checkpoint(Option<String>, Option<u64>),
    /// A daemon-to-child message the protocol loop ignores.
    Ignored(String),
    /// Not a message: skipped with an INFO log.
    Skipped,
}

pub(crate) fn parse_child_line(line: &str) -> ChildLine {
    use serde::Deserialize as _;
    use serde_json::Value;
    if line.is_empty() {
        return ChildLine::Empty;
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let Ok(Value::Object(object)) = Value::deserialize(&mut deserializer) else {
        return ChildLine::Skipped;
    };
    let Some(Value::String(action)) = object.get("action") else {
        return ChildLine::Skipped;
    };
    let allowed: &[&str] = match action.as_str() {
        "status" => &["action", "responseFor"],
        "checkpoint" => &["action", "sequenceNumber", "subSequenceNumber", "error"],
        "initialize" | "processRecords" | "leaseLost" | "shardEnded" | "shutdownRequested"
        | "shutdown" => return ChildLine::Ignored(action.clone()),
        _ => return ChildLine::Skipped,
    };
    // Jackson's FAIL_ON_UNKNOWN_PROPERTIES: one extra field drops the whole line.
    if object.keys().any(|key| !allowed.contains(&key.as_str())) {
        return ChildLine::Skipped;
    }
    if action == "status" {
        return match object.get("responseFor") {
            None | Some(Value::Null) => ChildLine::Status(None),
            Some(Value::String(name)) => ChildLine::Status(Some(name.clone())),
            Some(Value::Number(n)) => ChildLine::Status(Some(n.to_string())),
            Some(_) => ChildLine::Skipped,
        };
    }
    let sequence_number = match object.get("sequenceNumber") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return ChildLine::Skipped,
    };
    let sub_sequence_number = match object.get("subSequenceNumber") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)) {
            Some(value) => Some(value),
            None => return ChildLine::Skipped,
        },
        Some(Value::String(text)) => match text.parse() {
            Ok(value) => Some(value),
            Err(_) => return ChildLine::Skipped,
        },
        Some(_) => return ChildLine::Skipped,
    };
    ChildLine::Checkpoint(sequence_number, sub_sequence_number)
}
