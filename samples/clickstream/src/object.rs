//! What the consumer writes to S3: object keys and the line format of an object's body.
//!
//! Key: `<prefix><shardId>/<firstSeq>-<lastSeq>` (the official sample's naming; the prefix is
//! empty unless configured). Body: one JSON object per record and line (NDJSON), so the verifier
//! and any query engine can read it back:
//!
//! ```text
//! {"sequenceNumber":"4959…","subSequenceNumber":0,"partitionKey":"resource-3","approximateArrivalTimestamp":1700000000000,"data":{"resource":"resource-3","referrer":"http://www.bing.com"}}
//! ```
//!
//! `data` holds the record's data as JSON when it is JSON, and `dataBase64` holds it otherwise, so
//! no record is lost whatever a producer puts.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kcl_protocol::Record;
use serde::{Deserialize, Serialize};

/// The object key for a buffer of `shard_id` that runs from `first` to `last` (sequence numbers).
pub fn object_key(prefix: &str, shard_id: &str, first: &str, last: &str) -> String {
    format!("{prefix}{shard_id}/{first}-{last}")
}

/// The parts of an object key written by [`object_key`], or `None` for any other key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    /// The shard the records came from.
    pub shard_id: String,
    /// The sequence number of the first record in the object.
    pub first: String,
    /// The sequence number of the last record in the object.
    pub last: String,
}

/// Parses a key written by [`object_key`] with the same `prefix`.
pub fn parse_object_key(prefix: &str, key: &str) -> Option<ObjectKey> {
    let rest = key.strip_prefix(prefix)?;
    let (shard_id, range) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (!shard_id.is_empty() && digits(first) && digits(last)).then(|| ObjectKey {
        shard_id: shard_id.to_owned(),
        first: first.to_owned(),
        last: last.to_owned(),
    })
}

/// One line of an object's body: a record as it was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRecord {
    /// The record's sequence number.
    pub sequence_number: String,
    /// The record's sub-sequence number (non-zero only inside KPL aggregates).
    pub sub_sequence_number: u64,
    /// The record's partition key.
    pub partition_key: String,
    /// When Kinesis received the record, in epoch milliseconds, if the daemon said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<u64>,
    /// The record's data, when it is JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The record's data in base64, when it is not JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

/// Encodes `record` as one line of an object's body, newline included.
pub fn encode_line(record: &Record) -> Vec<u8> {
    let (data, data_base64) = match serde_json::from_slice::<serde_json::Value>(record.data()) {
        Ok(value) => (Some(value), None),
        Err(_) => (None, Some(STANDARD.encode(record.data()))),
    };
    let stored = StoredRecord {
        sequence_number: record.sequence_number().to_string(),
        sub_sequence_number: record.sub_sequence_number(),
        partition_key: record.partition_key().to_owned(),
        approximate_arrival_timestamp: record.approximate_arrival_timestamp().and_then(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as u64)
        }),
        data,
        data_base64,
    };
    // Serialising strings, numbers and a JSON value cannot fail; compact JSON has no newline.
    let mut line = serde_json::to_vec(&stored).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Decodes an object's body into its records; a line that is not a record is an error naming it.
pub fn decode_body(body: &[u8]) -> Result<Vec<StoredRecord>, String> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| {
            serde_json::from_slice(line)
                .map_err(|e| format!("line {}: not a stored record: {e}", n + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcl_protocol::SequenceNumber;

    fn record(data: &[u8], seq: &str) -> Record {
        Record::new(
            data.to_vec(),
            "resource-1",
            seq.parse::<SequenceNumber>().unwrap(),
            0,
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123)),
        )
    }

    #[test]
    fn keys_follow_the_official_naming_and_parse_back() {
        let key = object_key("", "shardId-000000000001", "49590", "49599");
        assert_eq!(key, "shardId-000000000001/49590-49599");
        let parsed = parse_object_key("", &key).unwrap();
        assert_eq!(parsed.shard_id, "shardId-000000000001");
        assert_eq!(
            (parsed.first.as_str(), parsed.last.as_str()),
            ("49590", "49599")
        );

        let prefixed = object_key("runs/7/", "shardId-2", "1", "2");
        assert_eq!(prefixed, "runs/7/shardId-2/1-2");
        assert_eq!(
            parse_object_key("runs/7/", &prefixed).unwrap().shard_id,
            "shardId-2"
        );
        assert_eq!(parse_object_key("runs/8/", &prefixed), None);
        assert_eq!(parse_object_key("", "shardId-1/12-x"), None);
        assert_eq!(parse_object_key("", "notes.txt"), None);
    }

    #[test]
    fn json_data_is_stored_as_json_and_reads_back() {
        let line = encode_line(&record(br#"{"resource":"r","referrer":"x"}"#, "123"));
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let stored = decode_body(&line).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].sequence_number, "123");
        assert_eq!(stored[0].partition_key, "resource-1");
        assert_eq!(
            stored[0].approximate_arrival_timestamp,
            Some(1_700_000_000_123)
        );
        assert_eq!(stored[0].data.as_ref().unwrap()["referrer"], "x");
        assert_eq!(stored[0].data_base64, None);
    }

    #[test]
    fn binary_and_multiline_data_survive() {
        let binary = [0u8, 159, 146, 150, b'\n'];
        let mut body = encode_line(&record(&binary, "1"));
        body.extend(encode_line(&record(b"{\n \"a\": 1\n}", "2")));
        let stored = decode_body(&body).unwrap();
        assert_eq!(stored.len(), 2);
        let decoded = STANDARD
            .decode(stored[0].data_base64.as_ref().unwrap())
            .unwrap();
        assert_eq!(decoded, binary);
        assert_eq!(stored[1].data.as_ref().unwrap()["a"], 1);
    }

    #[test]
    fn a_foreign_line_is_an_error_that_names_it() {
        let error = decode_body(
            b"{\"sequenceNumber\":\"1\",\"subSequenceNumber\":0,\"partitionKey\":\"p\"}\nhello\n",
        )
        .unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
    }
}
