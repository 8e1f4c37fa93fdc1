//! The Kinesis Producer Library's aggregated-record format, written and read by the harness so that
//! scenarios can put aggregates into the local stack and check what came back.
//!
//! An aggregated Kinesis record is the 4 magic bytes `F3 89 9A C2`, a protobuf `AggregatedRecord`
//! (proto2), then the 16-byte MD5 of the protobuf bytes:
//!
//! ```text
//! message AggregatedRecord {
//!   repeated string partition_key_table     = 1;
//!   repeated string explicit_hash_key_table = 2;
//!   repeated Record records                 = 3;
//! }
//! message Record {
//!   required uint64 partition_key_index     = 1;
//!   optional uint64 explicit_hash_key_index = 2;
//!   required bytes  data                    = 3;
//!   repeated Tag    tags                    = 4;
//! }
//! message Tag { required string key = 1; optional string value = 2; }
//! ```
//!
//! (`messages.proto` of the KPL, the subset the KCL carries.) The KCL's `AggregatorUtil` treats a
//! record as an aggregate only if the magic matches, more than 16 bytes follow it, the MD5 matches
//! and the protobuf parses; otherwise it delivers the record unchanged. User record `i` of an
//! aggregate gets the aggregate's sequence number and sub-sequence number `i`. Each user record's
//! effective hash key ([`effective_hash_key`]) must lie in the shard's hash key range, or the
//! daemon drops the **whole** aggregate (a resharding guard).
//!
//! The writer here is a small hand-written protobuf encoder (four message shapes need no protobuf
//! crate); the reader parses what the writer and other producers write, skipping unknown fields.

use std::fmt;

use md5::{Digest, Md5};

/// The bytes every aggregated record starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// Length of the MD5 trailer.
pub const DIGEST_LEN: usize = 16;

/// One user record inside an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Its partition key (an entry of the aggregate's partition key table).
    pub partition_key: String,
    /// Its explicit hash key (decimal, an entry of the explicit hash key table), if any.
    pub explicit_hash_key: Option<String>,
    /// Its payload.
    pub data: Vec<u8>,
    /// KPL tags (`key`, optional `value`); the KCL ignores them.
    pub tags: Vec<(String, Option<String>)>,
}

impl UserRecord {
    /// A user record with a partition key and data, no explicit hash key, no tags.
    pub fn new(partition_key: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        UserRecord {
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            data: data.into(),
            tags: Vec::new(),
        }
    }

    /// Sets its explicit hash key.
    pub fn with_explicit_hash_key(mut self, hash_key: impl fmt::Display) -> Self {
        self.explicit_hash_key = Some(hash_key.to_string());
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, key: &str, value: Option<&str>) -> Self {
        self.tags.push((key.to_owned(), value.map(str::to_owned)));
        self
    }
}

/// The hash key the daemon checks against the shard's range: the explicit hash key if the record
/// has one, else the MD5 of the partition key's UTF-8 bytes read as an unsigned big-endian number.
/// `None` if the explicit hash key is not a decimal number below 2^128.
pub fn effective_hash_key(record: &UserRecord) -> Option<u128> {
    match &record.explicit_hash_key {
        Some(key) => key.parse().ok(),
        None => Some(md5_hash_key(&record.partition_key)),
    }
}

/// The MD5 of a partition key as a 128-bit hash key (how Kinesis and the KCL map a key to a shard).
pub fn md5_hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Encodes `records` as one aggregated Kinesis record (magic, protobuf, MD5). The key tables hold
/// each distinct key once, in order of first use, as the KPL writes them.
pub fn encode(records: &[UserRecord]) -> Vec<u8> {
    let mut partition_keys: Vec<&str> = Vec::new();
    let mut hash_keys: Vec<&str> = Vec::new();
    let mut message = Vec::new();
    let mut bodies = Vec::with_capacity(records.len());
    for record in records {
        let partition_index = table_index(&mut partition_keys, &record.partition_key);
        let hash_index = record
            .explicit_hash_key
            .as_deref()
            .map(|key| table_index(&mut hash_keys, key));
        let mut body = Vec::with_capacity(record.data.len() + 16);
        put_varint_field(&mut body, 1, partition_index);
        if let Some(index) = hash_index {
            put_varint_field(&mut body, 2, index);
        }
        put_bytes_field(&mut body, 3, &record.data);
        for (key, value) in &record.tags {
            let mut tag = Vec::new();
            put_bytes_field(&mut tag, 1, key.as_bytes());
            if let Some(value) = value {
                put_bytes_field(&mut tag, 2, value.as_bytes());
            }
            put_bytes_field(&mut body, 4, &tag);
        }
        bodies.push(body);
    }
    for key in &partition_keys {
        put_bytes_field(&mut message, 1, key.as_bytes());
    }
    for key in &hash_keys {
        put_bytes_field(&mut message, 2, key.as_bytes());
    }
    for body in &bodies {
        put_bytes_field(&mut message, 3, body);
    }
    frame(&message)
}

/// Wraps protobuf bytes in the magic and the MD5 trailer.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + message.len() + DIGEST_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(message);
    out.extend_from_slice(&Md5::digest(message));
    out
}

fn table_index<'a>(table: &mut Vec<&'a str>, key: &'a str) -> u64 {
    let index = table.iter().position(|k| *k == key).unwrap_or_else(|| {
        table.push(key);
        table.len() - 1
    });
    index as u64
}

const WIRE_VARINT: u64 = 0;
const WIRE_I64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_I32: u64 = 5;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, (field << 3) | WIRE_VARINT);
    put_varint(out, value);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | WIRE_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Why bytes are not a well-formed aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// They do not start with [`MAGIC`] followed by more than [`DIGEST_LEN`] bytes.
    NotAggregated,
    /// The MD5 trailer does not match the protobuf bytes.
    DigestMismatch,
    /// The protobuf is malformed at this byte offset (of the protobuf part).
    Malformed {
        /// Offset into the protobuf bytes.
        offset: usize,
        /// What is wrong there.
        problem: &'static str,
    },
    /// A record names a key table entry that does not exist.
    BadIndex {
        /// The record's position in the aggregate.
        record: usize,
        /// The index it names.
        index: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotAggregated => {
                f.write_str("not a KPL aggregate (no magic or too short)")
            }
            DecodeError::DigestMismatch => f.write_str("KPL aggregate MD5 trailer does not match"),
            DecodeError::Malformed { offset, problem } => {
                write!(f, "malformed KPL protobuf at byte {offset}: {problem}")
            }
            DecodeError::BadIndex { record, index } => {
                write!(
                    f,
                    "KPL user record {record} names missing key table entry {index}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes an aggregated Kinesis record into its user records, in sub-sequence order.
pub fn decode(bytes: &[u8]) -> Result<Vec<UserRecord>, DecodeError> {
    let body = bytes
        .strip_prefix(&MAGIC[..])
        .filter(|rest| rest.len() > DIGEST_LEN)
        .ok_or(DecodeError::NotAggregated)?;
    let (message, digest) = body.split_at(body.len() - DIGEST_LEN);
    if Md5::digest(message).as_slice() != digest {
        return Err(DecodeError::DigestMismatch);
    }
    let mut partition_keys = Vec::new();
    let mut hash_keys = Vec::new();
    let mut raw_records = Vec::new();
    let mut reader = Reader::new(message, 0);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            (1, Value::Len(text, at)) => partition_keys.push(utf8(text, at)?),
            (2, Value::Len(text, at)) => hash_keys.push(utf8(text, at)?),
            (3, Value::Len(record, at)) => raw_records.push(parse_record(record, at)?),
            _ => {}
        }
    }
    raw_records
        .into_iter()
        .enumerate()
        .map(|(position, raw)| {
            let lookup = |table: &[String], index: u64| {
                table
                    .get(index as usize)
                    .cloned()
                    .ok_or(DecodeError::BadIndex {
                        record: position,
                        index,
                    })
            };
            Ok(UserRecord {
                partition_key: lookup(&partition_keys, raw.partition_key_index)?,
                explicit_hash_key: raw
                    .explicit_hash_key_index
                    .map(|index| lookup(&hash_keys, index))
                    .transpose()?,
                data: raw.data,
                tags: raw.tags,
            })
        })
        .collect()
}

struct RawRecord {
    partition_key_index: u64,
    explicit_hash_key_index: Option<u64>,
    data: Vec<u8>,
    tags: Vec<(String, Option<String>)>,
}

fn parse_record(bytes: &[u8], base: usize) -> Result<RawRecord, DecodeError> {
    let mut partition_key_index = None;
    let mut explicit_hash_key_index = None;
    let mut data = None;
    let mut tags = Vec::new();
    let mut reader = Reader::new(bytes, base);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            (1, Value::Varint(index)) => partition_key_index = Some(index),
            (2, Value::Varint(index)) => explicit_hash_key_index = Some(index),
            (3, Value::Len(payload, _)) => data = Some(payload.to_vec()),
            (4, Value::Len(tag, at)) => tags.push(parse_tag(tag, at)?),
            _ => {}
        }
    }
    let missing = |problem| DecodeError::Malformed {
        offset: base,
        problem,
    };
    Ok(RawRecord {
        partition_key_index: partition_key_index
            .ok_or_else(|| missing("record without partition_key_index"))?,
        explicit_hash_key_index,
        data: data.ok_or_else(|| missing("record without data"))?,
        tags,
    })
}

fn parse_tag(bytes: &[u8], base: usize) -> Result<(String, Option<String>), DecodeError> {
    let mut key = None;
    let mut value = None;
    let mut reader = Reader::new(bytes, base);
    while let Some((field, field_value)) = reader.next_field()? {
        match (field, field_value) {
            (1, Value::Len(text, at)) => key = Some(utf8(text, at)?),
            (2, Value::Len(text, at)) => value = Some(utf8(text, at)?),
            _ => {}
        }
    }
    let key = key.ok_or(DecodeError::Malformed {
        offset: base,
        problem: "tag without key",
    })?;
    Ok((key, value))
}

fn utf8(bytes: &[u8], offset: usize) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed {
        offset,
        problem: "string field is not UTF-8",
    })
}

enum Value<'a> {
    Varint(u64),
    /// The bytes and their offset in the whole message.
    Len(&'a [u8], usize),
    Fixed,
}

/// Reads protobuf fields one by one; offsets are reported relative to the whole message.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader { bytes, at: 0, base }
    }

    fn error(&self, problem: &'static str) -> DecodeError {
        DecodeError::Malformed {
            offset: self.base + self.at,
            problem,
        }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| self.error("truncated varint"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    fn take(&mut self, len: usize) -> Result<(&'a [u8], usize), DecodeError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.error("field runs past the end"))?;
        let start = self.at;
        self.at = end;
        Ok((&self.bytes[start..end], self.base + start))
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, DecodeError> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.error("field number 0"));
        }
        let value = match key & 7 {
            WIRE_VARINT => Value::Varint(self.varint()?),
            WIRE_LEN => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| self.error("length does not fit in memory"))?;
                let (bytes, at) = self.take(len)?;
                Value::Len(bytes, at)
            }
            WIRE_I64 => {
                self.take(8)?;
                Value::Fixed
            }
            WIRE_I32 => {
                self.take(4)?;
                Value::Fixed
            }
            _ => return Err(self.error("unsupported wire type (groups are not used here)")),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests;
