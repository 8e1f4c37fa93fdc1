//! The lenient parser: serde visitors over a borrowed line, reading every form the daemon's
//! format may take (see the [module docs](super)). It is the reference behaviour; the fast path
//! only takes lines this parser reads the same way.
//!
//! Every nullable value goes through one adapter, `values::OrNull`: `null` means the value's
//! `Nullable::null`, anything else goes to its `Nullable::present`, so each visitor only handles
//! the non-null forms. [`values`] holds the scalars, [`records`] the batch.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{Inbound, Kind, Parsed};
use crate::processor::ProcessRecordsInput;

mod records;
mod values;

use records::Records;
use values::{LenientU64, OrNull, Text};

/// Parses one line with serde; see [`super::parse_line`].
pub(super) fn parse_line<'a>(
    line: &'a str,
    mut batch: Option<&mut ProcessRecordsInput>,
) -> Parsed<'a> {
    if line.bytes().all(|b| b.is_ascii_whitespace()) {
        return Parsed::Blank;
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // Not calling `end()`: text after the first object is ignored, as the daemon's Jackson does.
    let seed = EnvelopeSeed {
        batch: batch.as_deref_mut(),
    };
    let envelope = match seed.deserialize(&mut deserializer) {
        Ok(envelope) => envelope,
        Err(error) => return classify_failure(line, error),
    };
    let Some(action) = envelope.action else {
        return Parsed::Garbage {
            reason: "the JSON object has no \"action\"".to_owned(),
        };
    };
    let malformed = |reason: &str| Parsed::Malformed {
        action: action.to_string(),
        reason: reason.to_owned(),
    };
    let message = match Kind::from_name(&action) {
        Kind::Initialize => {
            let Some(shard_id) = envelope.shard_id else {
                return malformed("initialize without a shardId");
            };
            Inbound::Initialize {
                shard_id,
                sequence_number: envelope.sequence_number,
                sub_sequence_number: envelope.sub_sequence_number,
            }
        }
        Kind::ProcessRecords => {
            if let Some(batch) = batch {
                batch.finish(envelope.millis_behind_latest);
            }
            Inbound::ProcessRecords
        }
        Kind::LeaseLost => Inbound::LeaseLost,
        Kind::ShardEnded => Inbound::ShardEnded,
        Kind::ShutdownRequested => Inbound::ShutdownRequested,
        Kind::Checkpoint => Inbound::CheckpointReply {
            sequence_number: envelope.sequence_number,
            sub_sequence_number: envelope.sub_sequence_number,
            error: envelope.error,
        },
        Kind::LegacyShutdown => Inbound::LegacyShutdown {
            reason: envelope.reason,
        },
        Kind::Unknown => Inbound::Unknown { action },
    };
    Parsed::Message(message)
}

/// A line failed the full parse: find out whether it is at least an object with an action name
/// (then the fields are at fault), or no daemon message at all.
fn classify_failure(line: &str, error: serde_json::Error) -> Parsed<'_> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    match ActionOnly.deserialize(&mut deserializer) {
        Ok(Some(action)) => match Kind::from_name(&action) {
            // An action we do not know: its fields are none of our business.
            Kind::Unknown => Parsed::Message(Inbound::Unknown { action }),
            _ => Parsed::Malformed {
                action: action.into_owned(),
                reason: error.to_string(),
            },
        },
        _ => Parsed::Garbage {
            reason: error.to_string(),
        },
    }
}

#[derive(Default)]
struct Envelope<'a> {
    action: Option<Cow<'a, str>>,
    kind: Option<Kind>,
    shard_id: Option<Cow<'a, str>>,
    sequence_number: Option<Cow<'a, str>>,
    sub_sequence_number: Option<u64>,
    millis_behind_latest: Option<u64>,
    error: Option<Cow<'a, str>>,
    reason: Option<Cow<'a, str>>,
}

#[derive(Clone, Copy)]
enum Field {
    Action,
    ShardId,
    SequenceNumber,
    SubSequenceNumber,
    Records,
    MillisBehindLatest,
    Error,
    Reason,
    Other,
}

impl Field {
    /// Whether the field means anything for `kind`. The daemon writes `action` first, so this
    /// usually skips the fields of other actions without looking at them; while the action is
    /// unknown every field is read.
    fn relevant_for(self, kind: Option<Kind>) -> bool {
        use Field::*;
        let Some(kind) = kind else {
            return !matches!(self, Other);
        };
        match self {
            Action => true,
            ShardId => kind == Kind::Initialize,
            SequenceNumber | SubSequenceNumber => {
                matches!(kind, Kind::Initialize | Kind::Checkpoint)
            }
            Records | MillisBehindLatest => kind == Kind::ProcessRecords,
            Error => kind == Kind::Checkpoint,
            Reason => kind == Kind::LegacyShutdown,
            Other => false,
        }
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "action" => Field::Action,
            "shardId" => Field::ShardId,
            "sequenceNumber" => Field::SequenceNumber,
            "subSequenceNumber" => Field::SubSequenceNumber,
            "records" => Field::Records,
            "millisBehindLatest" => Field::MillisBehindLatest,
            "error" => Field::Error,
            "reason" => Field::Reason,
            _ => Field::Other,
        })
    }
}

struct EnvelopeSeed<'b> {
    batch: Option<&'b mut ProcessRecordsInput>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with an \"action\"")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = Envelope::default();
        if let Some(batch) = self.batch.as_deref_mut() {
            batch.begin_batch();
        }
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            if !field.relevant_for(envelope.kind) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match field {
                Field::Action => {
                    envelope.action = map.next_value_seed(OrNull(Text::STRING))?;
                    envelope.kind = envelope.action.as_deref().map(Kind::from_name);
                }
                Field::ShardId => envelope.shard_id = map.next_value_seed(OrNull(Text::STRING))?,
                Field::SequenceNumber => {
                    envelope.sequence_number =
                        map.next_value_seed(OrNull(Text::STRING_OR_INTEGER))?
                }
                Field::SubSequenceNumber => {
                    envelope.sub_sequence_number = map.next_value_seed(OrNull(LenientU64))?
                }
                Field::MillisBehindLatest => {
                    envelope.millis_behind_latest = map.next_value_seed(OrNull(LenientU64))?
                }
                Field::Error => envelope.error = map.next_value_seed(OrNull(Text::STRING))?,
                Field::Reason => envelope.reason = map.next_value_seed(OrNull(Text::STRING))?,
                Field::Records => match self.batch.as_deref_mut() {
                    Some(batch) => map.next_value_seed(OrNull(Records { batch }))?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// Reads only `action` (second pass after a failed parse).
struct ActionOnly;

impl<'de> DeserializeSeed<'de> for ActionOnly {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ActionOnly {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut action = None;
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            match field {
                Field::Action => action = map.next_value_seed(OrNull(Text::STRING))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(action)
    }
}
