//! The per-shard buffer: collects encoded records until it is full or old enough to upload.
//!
//! The daemon runs one consumer process per shard, so one buffer per process is one buffer per
//! shard. The buffer knows nothing about S3 or checkpoints; [`consumer`](crate::consumer) decides
//! what to do with a [`Batch`].

use std::time::{Duration, Instant};

use kcl_protocol::{Record, SequenceNumber};

use crate::object::{encode_line, object_key};

/// Records waiting for upload, with the size and age limits that make them due.
#[derive(Debug)]
pub struct ShardBuffer {
    max_bytes: usize,
    max_age: Duration,
    body: Vec<u8>,
    records: usize,
    first: Option<SequenceNumber>,
    last: Option<(SequenceNumber, u64)>,
    oldest: Option<Instant>,
}

/// A buffer's content, taken for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The object body: one line per record ([`object`](crate::object)).
    pub body: Vec<u8>,
    /// How many records the body holds.
    pub records: usize,
    /// The sequence number of the first record.
    pub first: SequenceNumber,
    /// The sequence number of the last record: where to checkpoint after the upload.
    pub last: SequenceNumber,
    /// The sub-sequence number of the last record.
    pub last_sub_sequence: u64,
}

impl Batch {
    /// The S3 key of this batch: `<prefix><shardId>/<firstSeq>-<lastSeq>`.
    pub fn key(&self, prefix: &str, shard_id: &str) -> String {
        object_key(prefix, shard_id, self.first.as_str(), self.last.as_str())
    }
}

impl ShardBuffer {
    /// A buffer that is due when it holds `max_bytes` bytes or its oldest record is `max_age`
    /// old. `max_bytes` is also the largest object it builds, unless one record alone is larger.
    pub fn new(max_bytes: usize, max_age: Duration) -> Self {
        ShardBuffer {
            max_bytes: max_bytes.max(1),
            max_age,
            body: Vec::new(),
            records: 0,
            first: None,
            last: None,
            oldest: None,
        }
    }

    /// Whether the buffer holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// How many records the buffer holds.
    pub fn len(&self) -> usize {
        self.records
    }

    /// How many bytes the object would have now.
    pub fn bytes(&self) -> usize {
        self.body.len()
    }

    /// Encodes `record`; returns the line, to be passed to [`push_line`](Self::push_line) once
    /// [`fits`](Self::fits) allows it.
    pub fn encode(record: &Record) -> Vec<u8> {
        encode_line(record)
    }

    /// Whether a line of `len` bytes fits without passing the size limit. An empty buffer takes
    /// any line, so a record larger than the limit still gets its own object.
    pub fn fits(&self, len: usize) -> bool {
        self.is_empty() || self.body.len() + len <= self.max_bytes
    }

    /// Appends an encoded `line` for `record`, received at `now`.
    pub fn push_line(&mut self, record: &Record, line: &[u8], now: Instant) {
        if self.is_empty() {
            self.first = Some(record.sequence_number().clone());
            self.oldest = Some(now);
        }
        self.body.extend_from_slice(line);
        self.records += 1;
        self.last = Some((
            record.sequence_number().clone(),
            record.sub_sequence_number(),
        ));
    }

    /// Whether the buffer should be uploaded now: it is full, or its oldest record is too old.
    pub fn is_due(&self, now: Instant) -> bool {
        !self.is_empty()
            && (self.body.len() >= self.max_bytes
                || self
                    .oldest
                    .is_some_and(|oldest| now.saturating_duration_since(oldest) >= self.max_age))
    }

    /// Takes the buffered records out as a [`Batch`], leaving the buffer empty; `None` if empty.
    pub fn take(&mut self) -> Option<Batch> {
        let first = self.first.take()?;
        let (last, last_sub_sequence) = self.last.take()?;
        let records = std::mem::take(&mut self.records);
        self.oldest = None;
        Some(Batch {
            body: std::mem::take(&mut self.body),
            records,
            first,
            last,
            last_sub_sequence,
        })
    }

    /// Drops the buffered records (after a lost lease: the next owner reads them again from the
    /// last checkpoint). Returns how many were dropped.
    pub fn clear(&mut self) -> usize {
        self.take().map_or(0, |batch| batch.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, size: usize) -> Record {
        Record::new(
            vec![b'x'; size],
            "pk",
            seq.to_string().parse::<SequenceNumber>().unwrap(),
            0,
            None,
        )
    }

    #[test]
    fn an_empty_buffer_is_never_due_and_takes_nothing() {
        let mut buffer = ShardBuffer::new(10, Duration::ZERO);
        assert!(!buffer.is_due(Instant::now()));
        assert_eq!(buffer.take(), None);
        assert_eq!(buffer.clear(), 0);
    }

    #[test]
    fn the_size_limit_decides_what_fits_and_when_it_is_due() {
        let now = Instant::now();
        let mut buffer = ShardBuffer::new(100, Duration::from_secs(3600));
        let line = vec![b'a'; 40];
        assert!(buffer.fits(line.len()));
        buffer.push_line(&record(1, 1), &line, now);
        assert!(buffer.fits(line.len()));
        buffer.push_line(&record(2, 1), &line, now);
        assert!(
            !buffer.fits(line.len()),
            "120 bytes would pass the 100-byte limit"
        );
        assert!(!buffer.is_due(now), "80 of 100 bytes, young: not due");
        assert!(buffer.fits(20));
        buffer.push_line(&record(3, 1), &[b'b'; 20], now);
        assert!(buffer.is_due(now), "exactly full is due");
    }

    #[test]
    fn a_record_larger_than_the_limit_gets_its_own_batch() {
        let mut buffer = ShardBuffer::new(10, Duration::from_secs(3600));
        assert!(buffer.fits(50));
        buffer.push_line(&record(1, 1), &[b'z'; 50], Instant::now());
        assert!(buffer.is_due(Instant::now()));
        assert!(!buffer.fits(1));
        assert_eq!(buffer.take().unwrap().records, 1);
    }

    #[test]
    fn age_makes_a_buffer_due() {
        let start = Instant::now();
        let mut buffer = ShardBuffer::new(1 << 20, Duration::from_secs(5));
        buffer.push_line(&record(1, 1), b"x\n", start);
        buffer.push_line(&record(2, 1), b"y\n", start + Duration::from_secs(4));
        assert!(!buffer.is_due(start + Duration::from_secs(4)));
        assert!(
            buffer.is_due(start + Duration::from_secs(5)),
            "age counts from the oldest record"
        );
    }

    #[test]
    fn take_returns_the_range_and_body_and_resets() {
        let now = Instant::now();
        let mut buffer = ShardBuffer::new(1 << 20, Duration::from_secs(5));
        for seq in [100u64, 205, 307] {
            let r = record(seq, 3);
            buffer.push_line(&r, &ShardBuffer::encode(&r), now);
        }
        let batch = buffer.take().unwrap();
        assert_eq!(batch.records, 3);
        assert_eq!(batch.first.as_str(), "100");
        assert_eq!(batch.last.as_str(), "307");
        assert_eq!(
            batch.key("", "shardId-000000000003"),
            "shardId-000000000003/100-307"
        );
        assert_eq!(crate::object::decode_body(&batch.body).unwrap().len(), 3);
        assert!(buffer.is_empty());
        assert_eq!(buffer.bytes(), 0);
        assert!(
            !buffer.is_due(now + Duration::from_secs(60)),
            "age resets with the buffer"
        );
        let r = record(400, 1);
        buffer.push_line(&r, &ShardBuffer::encode(&r), now);
        assert_eq!(buffer.take().unwrap().first.as_str(), "400");
    }
}
