//! The `records` array, parsed straight into the batch's reusable slots through the filling
//! methods of [`ProcessRecordsInput`] and [`Record`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::values::{Expects, LenientMillis, LenientU64, Nullable, OrNull, Text};
use crate::processor::ProcessRecordsInput;
use crate::record::Record;

/// The `records` array; `null` means no records.
pub(super) struct Records<'b> {
    pub(super) batch: &'b mut ProcessRecordsInput,
}

impl Expects for Records<'_> {
    fn expected(&self) -> &'static str {
        "an array of records"
    }
}

impl<'de> Nullable<'de> for Records<'_> {
    type Value = ();
    fn null(self) -> Self::Value {
        self.batch.begin_batch();
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A duplicated `records` key: the last one wins.
        self.batch.begin_batch();
        while seq
            .next_element_seed(RecordSeed {
                batch: &mut *self.batch,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One record; takes the batch's next slot only once an element is there.
struct RecordSeed<'b> {
    batch: &'b mut ProcessRecordsInput,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(RecordVisitor {
            slot: self.batch.next_slot(),
        })
    }
}

struct RecordVisitor<'b> {
    slot: &'b mut Record,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let slot = self.slot;
        let mut has_sequence_number = false;
        while let Some(key) = map.next_key_seed(RecordFieldSeed)? {
            match key {
                RecordField::Data => map.next_value_seed(OrNull(Data(&mut *slot)))?,
                RecordField::PartitionKey => {
                    map.next_value_seed(OrNull(PartitionKey(&mut *slot)))?
                }
                RecordField::SequenceNumber => {
                    let text = map
                        .next_value_seed(OrNull(Text::STRING_OR_INTEGER))?
                        .ok_or_else(|| {
                            de::Error::custom(
                                "a record's sequenceNumber is null; cannot checkpoint it",
                            )
                        })?;
                    slot.set_sequence_number(&text).map_err(de::Error::custom)?;
                    has_sequence_number = true;
                }
                RecordField::SubSequenceNumber => {
                    let sub = map.next_value_seed(OrNull(LenientU64))?;
                    slot.set_sub_sequence_number(sub.unwrap_or(0));
                }
                RecordField::ArrivalTimestamp => {
                    let millis = map.next_value_seed(OrNull(LenientMillis))?;
                    slot.set_approximate_arrival_millis(millis);
                }
                RecordField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if has_sequence_number {
            Ok(())
        } else {
            Err(de::Error::custom("a record has no sequenceNumber"))
        }
    }
}

#[derive(Clone, Copy)]
enum RecordField {
    Data,
    PartitionKey,
    SequenceNumber,
    SubSequenceNumber,
    ArrivalTimestamp,
    Other,
}

struct RecordFieldSeed;

impl<'de> DeserializeSeed<'de> for RecordFieldSeed {
    type Value = RecordField;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RecordField, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for RecordFieldSeed {
    type Value = RecordField;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record field name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<RecordField, E> {
        Ok(match name {
            "data" => RecordField::Data,
            "partitionKey" => RecordField::PartitionKey,
            "sequenceNumber" => RecordField::SequenceNumber,
            "subSequenceNumber" => RecordField::SubSequenceNumber,
            "approximateArrivalTimestamp" => RecordField::ArrivalTimestamp,
            _ => RecordField::Other,
        })
    }
}

/// Base64 text decoded straight into the record's reusable data buffer; `null` means no bytes.
struct Data<'b>(&'b mut Record);

impl Expects for Data<'_> {
    fn expected(&self) -> &'static str {
        "base64 text or null"
    }
}

impl<'de> Nullable<'de> for Data<'_> {
    type Value = ();
    fn null(self) -> Self::Value {
        self.0.clear_data();
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Data<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0
            .set_data_from_base64(text.as_bytes())
            .map_err(|error| {
                E::custom(format_args!("a record's data is not valid base64: {error}"))
            })
    }
}

/// A partition key copied into the record's existing `String`; `null` means empty.
struct PartitionKey<'b>(&'b mut Record);

impl Expects for PartitionKey<'_> {
    fn expected(&self) -> &'static str {
        "a string or null"
    }
}

impl<'de> Nullable<'de> for PartitionKey<'_> {
    type Value = ();
    fn null(self) -> Self::Value {
        self.0.set_partition_key("");
    }
    fn present<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for PartitionKey<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0.set_partition_key(text);
        Ok(())
    }
}
