//! Kinesis records and the positions in a shard that checkpoints name.
//!
//! [`Record`] is one data record as the daemon delivers it. [`SequenceNumber`] is a Kinesis sequence
//! number: up to 128 bits written as decimal digits, ordered numerically (not as text).
//! [`ExtendedSequenceNumber`] adds the sub-sequence number (the position inside a KPL aggregate) and
//! the daemon's sentinels such as `TRIM_HORIZON` and `SHARD_END`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::watermark::NOT_DELIVERED;

/// A Kinesis sequence number: a non-empty string of ASCII digits, ordered by numeric value.
///
/// The daemon sends sequence numbers as strings of up to 56 digits (they do not fit in a `u64`).
/// Comparison ignores leading zeros, so `"007" == "7"` and `"10" > "9"`; [`as_str`](Self::as_str)
/// gives back the digits exactly as received, which is what a checkpoint request sends.
///
/// ```
/// use kcl_protocol::SequenceNumber;
/// let a: SequenceNumber = "49590338271490256608559692538361571095921575989136588898".parse()?;
/// let b: SequenceNumber = "9".parse()?;
/// assert!(a > b);
/// assert!("12a".parse::<SequenceNumber>().is_err());
/// # Ok::<(), kcl_protocol::InvalidSequenceNumber>(())
/// ```
#[derive(Clone, Default)]
pub struct SequenceNumber(String);

/// The error for a string that is not a sequence number (empty, or not all ASCII digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a Kinesis sequence number: expected a non-empty string of decimal digits"
)]
pub struct InvalidSequenceNumber {
    /// The rejected text.
    pub value: String,
}

impl SequenceNumber {
    /// The digits exactly as the daemon sent them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without leading zeros (`"0"` for zero): the canonical form used for comparison.
    fn significant(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() { "0" } else { trimmed }
    }

    fn is_valid(text: &str) -> bool {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
    }

    /// Replaces the digits in place, keeping this value's allocation (the hot path reuses records).
    fn set_from(&mut self, text: &str) -> Result<(), InvalidSequenceNumber> {
        if !Self::is_valid(text) {
            return Err(InvalidSequenceNumber {
                value: text.to_owned(),
            });
        }
        self.0.clear();
        self.0.push_str(text);
        Ok(())
    }
}

impl FromStr for SequenceNumber {
    type Err = InvalidSequenceNumber;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut value = SequenceNumber(String::new());
        value.set_from(text)?;
        Ok(value)
    }
}

impl TryFrom<String> for SequenceNumber {
    type Error = InvalidSequenceNumber;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if Self::is_valid(&text) {
            Ok(SequenceNumber(text))
        } else {
            Err(InvalidSequenceNumber { value: text })
        }
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SequenceNumber({})", self.0)
    }
}

impl PartialEq for SequenceNumber {
    fn eq(&self, other: &Self) -> bool {
        self.significant() == other.significant()
    }
}

impl Eq for SequenceNumber {}

impl Hash for SequenceNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: leading zeros do not change the value.
        self.significant().hash(state);
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        // Same-length digit strings order like numbers; a longer one (without leading zeros) is larger.
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A position in a shard: a sequence number with a sub-sequence number, or one of the daemon's
/// sentinels.
///
/// The `initialize` message carries the lease's current checkpoint in this form
/// ([`InitializeInput::checkpoint`](crate::InitializeInput::checkpoint)).
///
/// Ordering: the starting-position sentinels (`AT_TIMESTAMP`, `TRIM_HORIZON`, `LATEST`) sort before
/// every sequence number, `SHARD_END` after every one, and sequence numbers compare numerically,
/// then by sub-sequence number.
///
/// ```
/// use kcl_protocol::ExtendedSequenceNumber;
/// let start: ExtendedSequenceNumber = "TRIM_HORIZON".parse()?;
/// let at = ExtendedSequenceNumber::Sequence { sequence_number: "42".parse()?, sub_sequence_number: 3 };
/// assert!(start < at && at < ExtendedSequenceNumber::ShardEnd);
/// assert_eq!(at.to_string(), "42/3");
/// # Ok::<(), kcl_protocol::InvalidSequenceNumber>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtendedSequenceNumber {
    /// `AT_TIMESTAMP`: the shard was never checkpointed and starts at a configured time.
    AtTimestamp,
    /// `TRIM_HORIZON`: the shard was never checkpointed and starts at its oldest record.
    TrimHorizon,
    /// `LATEST`: the shard was never checkpointed and starts at its newest record.
    Latest,
    /// A real position: a sequence number and the index inside a KPL aggregate (0 if not aggregated).
    Sequence {
        /// The Kinesis sequence number.
        sequence_number: SequenceNumber,
        /// The sub-sequence number (0 for records that were not aggregated by the KPL).
        sub_sequence_number: u64,
    },
    /// `SHARD_END`: the shard was processed to its end.
    ShardEnd,
}

impl ExtendedSequenceNumber {
    /// Builds the value the daemon describes with a `sequenceNumber` string and an optional
    /// `subSequenceNumber`: a sentinel name or digits.
    pub fn from_parts(
        sequence_number: &str,
        sub_sequence_number: Option<u64>,
    ) -> Result<Self, InvalidSequenceNumber> {
        Ok(match sequence_number {
            "TRIM_HORIZON" => Self::TrimHorizon,
            "LATEST" => Self::Latest,
            "AT_TIMESTAMP" => Self::AtTimestamp,
            "SHARD_END" => Self::ShardEnd,
            digits => Self::Sequence {
                sequence_number: digits.parse()?,
                sub_sequence_number: sub_sequence_number.unwrap_or(0),
            },
        })
    }

    /// The sequence number, if this is a real position and not a sentinel.
    pub fn sequence_number(&self) -> Option<&SequenceNumber> {
        match self {
            Self::Sequence {
                sequence_number, ..
            } => Some(sequence_number),
            _ => None,
        }
    }
}

impl FromStr for ExtendedSequenceNumber {
    type Err = InvalidSequenceNumber;

    /// Parses a sentinel name, `digits`, or `digits/sub` (the [`Display`](fmt::Display) form).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('/') {
            Some((digits, sub)) => {
                let sub = sub.parse::<u64>().map_err(|_| InvalidSequenceNumber {
                    value: text.to_owned(),
                })?;
                Ok(Self::Sequence {
                    sequence_number: digits.parse()?,
                    sub_sequence_number: sub,
                })
            }
            None => Self::from_parts(text, None),
        }
    }
}

impl fmt::Display for ExtendedSequenceNumber {
    /// Sentinels print as the daemon names them; positions print as `sequence/sub`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AtTimestamp => f.write_str("AT_TIMESTAMP"),
            Self::TrimHorizon => f.write_str("TRIM_HORIZON"),
            Self::Latest => f.write_str("LATEST"),
            Self::ShardEnd => f.write_str("SHARD_END"),
            Self::Sequence {
                sequence_number,
                sub_sequence_number,
            } => write!(f, "{sequence_number}/{sub_sequence_number}"),
        }
    }
}

/// A reused record's data buffer is given back above this size when the next record needs less
/// than a quarter of it (a reused slot holds a 1 MiB record's buffer otherwise for ever).
const DATA_RELEASE_ABOVE: usize = 64 * 1024;

/// One Kinesis data record, as delivered in a `processRecords` batch.
///
/// The data is decoded from base64 once, by the library, into bytes. KPL aggregates arrive already
/// split: the user records of one aggregate share a sequence number and differ in their
/// sub-sequence number.
#[derive(Clone)]
pub struct Record {
    data: Vec<u8>,
    partition_key: String,
    sequence_number: SequenceNumber,
    sub_sequence_number: u64,
    approximate_arrival_millis: Option<i64>,
    /// The record's place in delivery order (for the watermark); not part of its value, so not
    /// compared or shown.
    delivery: u64,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            data: Vec::new(),
            partition_key: String::new(),
            sequence_number: SequenceNumber::default(),
            sub_sequence_number: 0,
            approximate_arrival_millis: None,
            delivery: NOT_DELIVERED,
        }
    }
}

impl Record {
    /// Builds a record (for tests; the daemon's records are
    /// built by the library).
    pub fn new(
        data: impl Into<Vec<u8>>,
        partition_key: impl Into<String>,
        sequence_number: SequenceNumber,
        sub_sequence_number: u64,
        approximate_arrival_timestamp: Option<SystemTime>,
    ) -> Self {
        Record {
            data: data.into(),
            partition_key: partition_key.into(),
            sequence_number,
            sub_sequence_number,
            approximate_arrival_millis: approximate_arrival_timestamp.map(system_time_to_millis),
            delivery: NOT_DELIVERED,
        }
    }

    /// The record's payload, decoded from base64. Empty when the daemon sent `null` or `""`.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The partition key the producer chose.
    pub fn partition_key(&self) -> &str {
        &self.partition_key
    }

    /// The record's sequence number.
    pub fn sequence_number(&self) -> &SequenceNumber {
        &self.sequence_number
    }

    /// The index inside a KPL aggregate; 0 for a record that was not aggregated (KCL 1.x daemons
    /// send `null` for those, which also reads as 0).
    pub fn sub_sequence_number(&self) -> u64 {
        self.sub_sequence_number
    }

    /// The record's position as an [`ExtendedSequenceNumber::Sequence`].
    pub fn extended_sequence_number(&self) -> ExtendedSequenceNumber {
        ExtendedSequenceNumber::Sequence {
            sequence_number: self.sequence_number.clone(),
            sub_sequence_number: self.sub_sequence_number,
        }
    }

    /// When Kinesis received the record (millisecond precision), if the daemon sent it.
    pub fn approximate_arrival_timestamp(&self) -> Option<SystemTime> {
        self.approximate_arrival_millis.map(millis_to_system_time)
    }

    /// When Kinesis received the record, in epoch milliseconds, as the daemon sent it.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn approximate_arrival_millis(&self) -> Option<i64> {
        self.approximate_arrival_millis
    }

    // The methods below fill a reused record while a batch is parsed (`wire`). They keep every
    // allocation, so a warm engine allocates nothing per record.

    /// Clears every field but keeps the allocations, so the next batch can refill this record.
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.data.clear();
        self.partition_key.clear();
        self.sequence_number.0.clear();
        self.sub_sequence_number = 0;
        self.approximate_arrival_millis = None;
    }

    /// Replaces the data with `base64` decoded. The daemon always pads (standard alphabet);
    /// unpadded text is accepted too, as by the daemon's own decoder. On error the data is
    /// unspecified (the whole batch is then rejected).
    #[inline]
    pub(crate) fn set_data_from_base64(&mut self, base64: &[u8]) -> Result<(), base64_simd::Error> {
        self.data.clear();
        let engine = if base64.len().is_multiple_of(4) {
            &base64_simd::STANDARD
        } else {
            &base64_simd::STANDARD_NO_PAD
        };
        engine.decode_append(base64, &mut self.data)?;
        Ok(())
    }

    /// Gives back a data buffer sized for a much bigger record than the one it holds now, or any
    /// big buffer of a slot the current batch does not use (`spare`); whether it did. A reused
    /// slot would otherwise keep a 1 MiB record's buffer for ever. Not checked while decoding: a
    /// check there keeps the compiler from inlining the decoder, 0.7% more instructions on the
    /// big-batch workload (callgrind).
    pub(crate) fn release_oversized_data(&mut self, spare: bool) -> bool {
        let capacity = self.data.capacity();
        if capacity <= DATA_RELEASE_ABOVE {
            return false;
        }
        if spare {
            self.data = Vec::new();
        } else if capacity > 4 * self.data.len() {
            self.data.shrink_to_fit();
        } else {
            return false;
        }
        true
    }

    /// Empties the data (the daemon sent `null`).
    pub(crate) fn clear_data(&mut self) {
        self.data.clear();
    }

    /// Replaces the partition key.
    #[inline]
    pub(crate) fn set_partition_key(&mut self, key: &str) {
        self.partition_key.clear();
        self.partition_key.push_str(key);
    }

    /// Replaces the sequence number; fails unless `digits` is a sequence number.
    pub(crate) fn set_sequence_number(
        &mut self,
        digits: &str,
    ) -> Result<(), InvalidSequenceNumber> {
        self.sequence_number.set_from(digits)
    }

    /// Replaces the sub-sequence number.
    #[inline]
    pub(crate) fn set_sub_sequence_number(&mut self, sub_sequence_number: u64) {
        self.sub_sequence_number = sub_sequence_number;
    }

    /// Replaces the arrival time (epoch milliseconds).
    #[inline]
    pub(crate) fn set_approximate_arrival_millis(&mut self, millis: Option<i64>) {
        self.approximate_arrival_millis = millis;
    }

    /// The record's place in the order the engine delivered records ([`NOT_DELIVERED`] for one
    /// built with [`Record::new`]).
    pub(crate) fn delivery(&self) -> u64 {
        self.delivery
    }

    /// Places the record in delivery order (by the batch that owns it).
    #[inline]
    pub(crate) fn set_delivery(&mut self, index: u64) {
        self.delivery = index;
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("partition_key", &self.partition_key)
            .field("sequence_number", &self.sequence_number.as_str())
            .field("sub_sequence_number", &self.sub_sequence_number)
            .field(
                "approximate_arrival_millis",
                &self.approximate_arrival_millis,
            )
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
            && self.partition_key == other.partition_key
            && self.sequence_number.as_str() == other.sequence_number.as_str()
            && self.sub_sequence_number == other.sub_sequence_number
            && self.approximate_arrival_millis == other.approximate_arrival_millis
    }
}

impl Eq for Record {}

fn millis_to_system_time(millis: i64) -> SystemTime {
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

pub(crate) fn system_time_to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(text: &str) -> SequenceNumber {
        text.parse().unwrap()
    }

    #[test]
    fn sequence_numbers_order_numerically_not_as_text() {
        assert!(seq("10") > seq("9"));
        assert!(seq("0009") < seq("10"));
        assert_eq!(seq("007"), seq("7"));
        assert_eq!(seq("0"), seq("000"));
        assert!(
            seq("49590338271490256608559692538361571095921575989136588898")
                > seq("49590338271490256608559692538361571095921575989136588897")
        );
    }

    #[test]
    fn sequence_number_rejects_non_digits() {
        for bad in ["", "12a", "-1", " 1", "1.0", "TRIM_HORIZON", "١٢"] {
            assert!(bad.parse::<SequenceNumber>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn extended_sequence_numbers_parse_sentinels_and_order() {
        let values: Vec<ExtendedSequenceNumber> = [
            "AT_TIMESTAMP",
            "TRIM_HORIZON",
            "LATEST",
            "5/0",
            "5/1",
            "40/0",
            "SHARD_END",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        let mut sorted = values.clone();
        sorted.sort();
        assert_eq!(values, sorted);
        assert_eq!(values[3].to_string(), "5/0");
        assert!("5/x".parse::<ExtendedSequenceNumber>().is_err());
        assert!("BOGUS".parse::<ExtendedSequenceNumber>().is_err());
    }

    #[test]
    fn arrival_time_round_trips_millis() {
        let time = UNIX_EPOCH + Duration::from_millis(1_476_889_707_000);
        let record = Record::new(b"x".to_vec(), "k", seq("1"), 0, Some(time));
        assert_eq!(record.approximate_arrival_timestamp(), Some(time));
        let before = UNIX_EPOCH - Duration::from_millis(5);
        assert_eq!(millis_to_system_time(system_time_to_millis(before)), before);
    }
}
