//! A typed view of DynamoDB Streams records (feature `ddb-streams`).
//!
//! Under `kcl-bootstrap --dynamodb-streams` the daemon reads a table's change stream through the
//! DynamoDB Streams Kinesis Adapter, and every [`Record`] a processor gets carries one stream
//! record, serialized by the adapter's `RecordObjectMapper` as JSON:
//!
//! ```json
//! {"eventID":"…","eventName":"MODIFY","eventVersion":"1.1","eventSource":"aws:dynamodb",
//!  "awsRegion":"us-east-1",
//!  "dynamodb":{"ApproximateCreationDateTime":1764668623692,"Keys":{"pk":{"S":"k1"}},
//!              "NewImage":{"pk":{"S":"k1"},"n":{"N":"2"}},"OldImage":{"pk":{"S":"k1"},"n":{"N":"1"}},
//!              "SequenceNumber":"1100000000017454423012","SizeBytes":61,
//!              "StreamViewType":"NEW_AND_OLD_IMAGES"},
//!  "userIdentity":{"principalId":"dynamodb.amazonaws.com","type":"Service"}}
//! ```
//!
//! `ApproximateCreationDateTime` is in milliseconds since the epoch; attribute values are
//! DynamoDB JSON (`{"S": …}`, `{"N": "…"}`, binary as base64); an image the stream view type
//! leaves out may arrive as `{}`, which this view reports as `None`. The record's partition key
//! and sequence number are the stream record's sequence number, so checkpointing a [`Record`] as
//! usual checkpoints the stream.
//!
//! No AWS SDK is involved: the view is plain `serde_json`.
//!
//! ```
//! use kcl_protocol::ddb::{AttributeValue, EventName, StreamRecord};
//!
//! let data = br#"{"eventID":"1","eventName":"INSERT","eventSource":"aws:dynamodb",
//!   "dynamodb":{"ApproximateCreationDateTime":1764668623692,"Keys":{"pk":{"S":"k1"}},
//!   "NewImage":{"pk":{"S":"k1"},"n":{"N":"7"}},"SequenceNumber":"42","SizeBytes":20,
//!   "StreamViewType":"NEW_IMAGE"}}"#;
//! let change = StreamRecord::parse(data).unwrap();
//! assert_eq!(change.event_name, EventName::Insert);
//! assert_eq!(change.keys["pk"], AttributeValue::S("k1".into()));
//! assert_eq!(change.new_image.as_ref().unwrap()["n"].as_number(), Some("7"));
//! assert!(change.old_image.is_none());
//! assert_eq!(change.sequence_number, "42");
//! // In a processor: `StreamRecord::try_from(&record)` for each `kcl_protocol::Record`.
//! ```

use crate::Record;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// An item or key: attribute name → value.
pub type Item = BTreeMap<String, AttributeValue>;

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// A new item was added.
    Insert,
    /// An item was updated.
    Modify,
    /// An item was deleted (or expired by TTL: see [`StreamRecord::user_identity`]).
    Remove,
}

/// One DynamoDB attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number, as DynamoDB sends it (arbitrary precision: parse it as you need).
    N(String),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// Map.
    M(Item),
    /// List.
    L(Vec<AttributeValue>),
    /// String set.
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<String>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
}

impl AttributeValue {
    /// The string of an `S` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }

    /// The digits of an `N` value.
    pub fn as_number(&self) -> Option<&str> {
        match self {
            AttributeValue::N(n) => Some(n),
            _ => None,
        }
    }
}

/// A stream record: one change to one item.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// Unique per record.
    pub event_id: String,
    /// INSERT, MODIFY or REMOVE.
    pub event_name: EventName,
    /// `aws:dynamodb`.
    pub event_source: Option<String>,
    /// The record format's version.
    pub event_version: Option<String>,
    /// The table's region.
    pub aws_region: Option<String>,
    /// The item's key attributes (always present).
    pub keys: Item,
    /// The item after the change (stream view types NEW_IMAGE, NEW_AND_OLD_IMAGES; not for REMOVE).
    pub new_image: Option<Item>,
    /// The item before the change (OLD_IMAGE, NEW_AND_OLD_IMAGES; not for INSERT).
    pub old_image: Option<Item>,
    /// The stream sequence number (ordered within a shard, so within an item's key).
    pub sequence_number: String,
    /// Size of the stream record in bytes, as DynamoDB reports it.
    pub size_bytes: Option<u64>,
    /// KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES.
    pub stream_view_type: Option<String>,
    /// When the change was made, approximately (millisecond precision).
    pub approximate_creation: Option<SystemTime>,
    /// Who made it, when DynamoDB says (TTL deletions: `type` Service,
    /// `principalId` dynamodb.amazonaws.com), as sent.
    pub user_identity: Option<Value>,
}

/// A record that is not a DynamoDB stream record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DynamoDB stream record: {0}")]
pub struct StreamRecordError(String);

fn bad(what: impl Into<String>) -> StreamRecordError {
    StreamRecordError(what.into())
}

impl TryFrom<&Record> for StreamRecord {
    type Error = StreamRecordError;

    fn try_from(record: &Record) -> Result<StreamRecord, StreamRecordError> {
        StreamRecord::parse(record.data())
    }
}

impl StreamRecord {
    /// Parses the adapter's JSON form of a stream record (a [`Record`]'s data).
    pub fn parse(data: &[u8]) -> Result<StreamRecord, StreamRecordError> {
        let root: Value =
            serde_json::from_slice(data).map_err(|e| bad(format!("invalid JSON ({e})")))?;
        let root = root.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let text = |o: &serde_json::Map<String, Value>, key: &str| {
            o.get(key).and_then(Value::as_str).map(str::to_owned)
        };
        let event_name = match root.get("eventName").and_then(Value::as_str) {
            Some("INSERT") => EventName::Insert,
            Some("MODIFY") => EventName::Modify,
            Some("REMOVE") => EventName::Remove,
            Some(other) => return Err(bad(format!("unknown eventName {other:?}"))),
            None => return Err(bad("no eventName")),
        };
        let change = root
            .get("dynamodb")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no \"dynamodb\" object"))?;
        let image = |key: &str| -> Result<Option<Item>, StreamRecordError> {
            match change.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => item(v, key).map(|i| (!i.is_empty()).then_some(i)),
            }
        };
        let keys = match change.get("Keys") {
            Some(v) => item(v, "Keys")?,
            None => return Err(bad("no Keys")),
        };
        let approximate_creation = match change.get("ApproximateCreationDateTime") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let millis = v
                    .as_u64()
                    .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                    .ok_or_else(|| bad("ApproximateCreationDateTime is not milliseconds"))?;
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
            }
        };
        Ok(StreamRecord {
            event_id: text(root, "eventID").unwrap_or_default(),
            event_name,
            event_source: text(root, "eventSource"),
            event_version: text(root, "eventVersion"),
            aws_region: text(root, "awsRegion"),
            keys,
            new_image: image("NewImage")?,
            old_image: image("OldImage")?,
            sequence_number: text(change, "SequenceNumber")
                .ok_or_else(|| bad("no SequenceNumber"))?,
            size_bytes: change.get("SizeBytes").and_then(Value::as_u64),
            stream_view_type: text(change, "StreamViewType"),
            approximate_creation,
            user_identity: root.get("userIdentity").filter(|v| !v.is_null()).cloned(),
        })
    }
}

/// An object of attribute values.
fn item(value: &Value, what: &str) -> Result<Item, StreamRecordError> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(format!("{what} is not an object")))?;
    object
        .iter()
        .map(|(name, v)| Ok((name.clone(), attribute(v, name)?)))
        .collect()
}

/// One value in DynamoDB JSON: an object with exactly one type key.
fn attribute(value: &Value, name: &str) -> Result<AttributeValue, StreamRecordError> {
    let object = value.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        bad(format!(
            "attribute {name:?} is not a one-key DynamoDB JSON object"
        ))
    })?;
    let (kind, v) = object.iter().next().ok_or_else(|| bad("empty attribute"))?;
    let wrong = || bad(format!("attribute {name:?} has a malformed {kind} value"));
    let string = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(wrong);
    let strings = |v: &Value| -> Result<Vec<String>, StreamRecordError> {
        v.as_array().ok_or_else(wrong)?.iter().map(string).collect()
    };
    let binary = |v: &Value| -> Result<Vec<u8>, StreamRecordError> {
        let text = v.as_str().ok_or_else(wrong)?;
        base64_simd::STANDARD
            .decode_to_vec(text.as_bytes())
            .map_err(|_| wrong())
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(string(v)?),
        "N" => AttributeValue::N(string(v)?),
        "B" => AttributeValue::B(binary(v)?),
        "BOOL" => AttributeValue::Bool(v.as_bool().ok_or_else(wrong)?),
        "NULL" => AttributeValue::Null,
        "M" => AttributeValue::M(item(v, name)?),
        "L" => AttributeValue::L(
            v.as_array()
                .ok_or_else(wrong)?
                .iter()
                .map(|e| attribute(e, name))
                .collect::<Result<_, _>>()?,
        ),
        "SS" => AttributeValue::Ss(strings(v)?),
        "NS" => AttributeValue::Ns(strings(v)?),
        "BS" => AttributeValue::Bs(
            v.as_array()
                .ok_or_else(wrong)?
                .iter()
                .map(binary)
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(bad(format!(
                "attribute {name:?} has unknown type {other:?}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A REMOVE as the adapter serialized it from moto 5.2.5 (e2e s15), NewImage `{}`.
    const REMOVE: &str = r#"{"eventID":"118b3fa797aa4adb8345fd738653a29f","eventName":"REMOVE","eventVersion":"1.0",
      "eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1796204623709,
      "Keys":{"pk":{"S":"k1"}},"NewImage":{},"OldImage":{"v":{"N":"1"},"pk":{"S":"k1"}},
      "SequenceNumber":"1100000000017454423013","SizeBytes":226,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#;

    #[test]
    fn a_remove_has_its_old_image_and_no_new_one() {
        let r = StreamRecord::parse(REMOVE.as_bytes()).unwrap();
        assert_eq!(r.event_name, EventName::Remove);
        assert!(r.new_image.is_none());
        assert_eq!(r.old_image.unwrap()["v"], AttributeValue::N("1".into()));
        assert_eq!(r.sequence_number, "1100000000017454423013");
        assert_eq!(r.size_bytes, Some(226));
        assert_eq!(
            r.approximate_creation,
            Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1796204623709))
        );
        assert_eq!(r.aws_region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn every_attribute_type_parses() {
        let data =
            br#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"k":{"B":"AAEC"}},
          "NewImage":{"s":{"S":"x"},"n":{"N":"1.5"},"b":{"BOOL":false},"z":{"NULL":true},
          "m":{"M":{"in":{"S":"y"}}},"l":{"L":[{"N":"1"},{"S":"a"}]},"ss":{"SS":["a","b"]},
          "ns":{"NS":["1"]},"bs":{"BS":["/w=="]}}}}"#;
        let r = StreamRecord::parse(data).unwrap();
        assert_eq!(r.keys["k"], AttributeValue::B(vec![0, 1, 2]));
        let new = r.new_image.unwrap();
        assert_eq!(new["b"], AttributeValue::Bool(false));
        assert_eq!(new["z"], AttributeValue::Null);
        assert_eq!(
            new["m"],
            AttributeValue::M(Item::from([("in".into(), AttributeValue::S("y".into()))]))
        );
        assert_eq!(
            new["l"],
            AttributeValue::L(vec![
                AttributeValue::N("1".into()),
                AttributeValue::S("a".into())
            ])
        );
        assert_eq!(new["ss"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(new["bs"], AttributeValue::Bs(vec![vec![0xff]]));
        assert!(r.approximate_creation.is_none());
    }

    #[test]
    fn what_is_not_a_stream_record_is_an_error_not_a_panic() {
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"eventName":"INSERT"}"#,
            br#"{"eventName":"UPSERT","dynamodb":{"SequenceNumber":"1","Keys":{}}}"#,
            br#"{"eventName":"INSERT","dynamodb":{"Keys":{}}}"#,
            br#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"k":{"S":"a","N":"1"}}}}"#,
            br#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"k":{"X":"a"}}}}"#,
            br#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"k":{"B":"!!"}}}}"#,
            br#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{},"ApproximateCreationDateTime":"x"}}"#,
        ] {
            let err = StreamRecord::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("not a DynamoDB stream record: "), "{err}");
        }
    }
}
