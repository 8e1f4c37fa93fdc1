//! Child lines as the daemon reads them: Jackson's parse, with its unknown-field rule
//! (`multilang-protocol.md` §1.4).

use serde_json::Value;

/// A child line, classified as the daemon's Jackson parser would.
#[derive(Debug, PartialEq)]
pub(crate) enum ChildLine {
    Status(Option<String>),
    Checkpoint {
        sequence_number: Option<String>,
        sub_sequence_number: Option<u64>,
    },
    /// Parsed, but neither `status` nor `checkpoint`: the daemon ignores it.
    OtherMessage(String),
    /// The daemon would skip this line (not JSON, unknown action, unknown field).
    Skipped(&'static str),
}

pub(crate) fn classify(line: &[u8]) -> ChildLine {
    // Jackson reads the first value and ignores trailing text.
    let first = serde_json::Deserializer::from_slice(line)
        .into_iter::<Value>()
        .next();
    let Some(Ok(Value::Object(object))) = first else {
        return ChildLine::Skipped("not a JSON object");
    };
    let Some(Value::String(action)) = object.get("action") else {
        return ChildLine::Skipped("no string `action`");
    };
    let allowed: &[&str] = match action.as_str() {
        "status" => &["action", "responseFor"],
        "checkpoint" => &["action", "sequenceNumber", "subSequenceNumber", "error"],
        "initialize" | "processRecords" | "leaseLost" | "shardEnded" | "shutdownRequested"
        | "shutdown" | "record" => return ChildLine::OtherMessage(action.clone()),
        _ => return ChildLine::Skipped("unknown action"),
    };
    if object.keys().any(|key| !allowed.contains(&key.as_str())) {
        return ChildLine::Skipped("unknown field (the daemon drops the whole line)");
    }
    match action.as_str() {
        "status" => match object.get("responseFor") {
            Some(Value::String(name)) => ChildLine::Status(Some(name.clone())),
            Some(Value::Null) | None => ChildLine::Status(None),
            Some(_) => ChildLine::Skipped("responseFor is not a string"),
        },
        _ => {
            let sequence_number = match object.get("sequenceNumber") {
                Some(Value::String(seq)) => Some(seq.clone()),
                Some(Value::Number(number)) => Some(number.to_string()),
                Some(Value::Null) | None => None,
                Some(_) => return ChildLine::Skipped("sequenceNumber is not a string"),
            };
            let sub_sequence_number = match object.get("subSequenceNumber") {
                Some(Value::Number(number)) => number
                    .as_u64()
                    .or_else(|| number.as_f64().map(|float| float as u64)),
                Some(Value::String(text)) => match text.parse() {
                    Ok(sub) => Some(sub),
                    Err(_) => return ChildLine::Skipped("subSequenceNumber is not a number"),
                },
                Some(Value::Null) | None => None,
                Some(_) => return ChildLine::Skipped("subSequenceNumber is not a number"),
            };
            ChildLine::Checkpoint {
                sequence_number,
                sub_sequence_number,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines_as_jackson_does() {
        assert_eq!(
            classify(br#"{"action":"status","responseFor":"initialize"}"#),
            ChildLine::Status(Some("initialize".into()))
        );
        assert_eq!(
            classify(br#" {"responseFor":"shardEnded","action":"status"} trailing"#),
            ChildLine::Status(Some("shardEnded".into()))
        );
        assert_eq!(classify(br#"{"action":"status"}"#), ChildLine::Status(None));
        assert_eq!(
            classify(br#"{"action":"status","responseFor":"initialize","extra":1}"#),
            ChildLine::Skipped("unknown field (the daemon drops the whole line)")
        );
        assert_eq!(
            classify(br#"{"action":"checkpoint","sequenceNumber":"123","subSequenceNumber":"7"}"#),
            ChildLine::Checkpoint {
                sequence_number: Some("123".into()),
                sub_sequence_number: Some(7)
            }
        );
        assert_eq!(
            classify(br#"{"action":"checkpoint","sequenceNumber":123}"#),
            ChildLine::Checkpoint {
                sequence_number: Some("123".into()),
                sub_sequence_number: None
            }
        );
        assert_eq!(
            classify(br#"{"action":"checkpoint","checkpoint":"123"}"#),
            ChildLine::Skipped("unknown field (the daemon drops the whole line)")
        );
        assert_eq!(
            classify(b"not json"),
            ChildLine::Skipped("not a JSON object")
        );
        assert_eq!(
            classify(br#"{"action":"Status"}"#),
            ChildLine::Skipped("unknown action")
        );
        assert_eq!(
            classify(br#"{"action":"leaseLost"}"#),
            ChildLine::OtherMessage("leaseLost".into())
        );
    }
}
