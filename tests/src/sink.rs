//! The on-disk sink the `e2e-consumer` processor writes and the scenarios read.
//!
//! One directory per worker run (`E2E_SINK_DIR`):
//!
//! - `records/<shardId>`: one line per delivered record, `<sequence> <sub-sequence> <partition key>
//!   <data>`, appended and fsync'ed **before** the batch is checkpointed, so a checkpoint never runs
//!   ahead of the sink. `<partition key>` and `<data>` are the bytes when they are printable ASCII
//!   without spaces, else `hex:<hex>` (so `hex:` alone is empty).
//! - `events/<shardId>`: one line per lifecycle event of a child, `<unix-millis> <pid> <event> [detail]`
//!   (`initialize <checkpoint>`, `checkpoint <sequence>`, `checkpointRefused <daemon error name>`,
//!   `shutdownRequested`, `shutdownCheckpoint`,
//!   `leaseLost`, `shardEnded`, `shardEndCheckpoint`, `fail <mode>`, `stopCheckpoint <sequence>/<sub>`,
//!   `stoppedShutdown`), so that scenarios can assert on
//!   what each child was asked to do and did.
//!
//! Both writers open with `O_APPEND` and write each batch in one `write`, so two children of the same
//! shard (an old owner finishing while a new one starts) never interleave inside a line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming the sink directory of the `e2e-consumer`.
pub const SINK_DIR_ENV: &str = "E2E_SINK_DIR";

/// One record as the processor saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SunkRecord {
    /// The shard the record was delivered on.
    pub shard_id: String,
    /// Its sequence number (digits).
    pub sequence_number: String,
    /// Its sub-sequence number (0 unless aggregated).
    pub sub_sequence_number: u64,
    /// Its partition key (inside a KPL aggregate: the user record's own key).
    pub partition_key: String,
    /// Its data.
    pub data: Vec<u8>,
}

/// One lifecycle event of a child process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkEvent {
    /// Wall-clock time in milliseconds since the Unix epoch.
    pub unix_millis: u128,
    /// The child's process id.
    pub pid: u32,
    /// The event name (`initialize`, `checkpoint`, `shutdownRequested`, ...).
    pub event: String,
    /// The rest of the line (e.g. the checkpoint), possibly empty.
    pub detail: String,
}

/// Writes records and events under a sink directory (used by `e2e-consumer`).
#[derive(Debug, Clone)]
pub struct SinkWriter {
    records: PathBuf,
    events: PathBuf,
    shard_id: String,
}

impl SinkWriter {
    /// Creates the directories for `shard_id` under `dir`.
    pub fn new(dir: &Path, shard_id: &str) -> io::Result<Self> {
        let records = dir.join("records");
        let events = dir.join("events");
        fs::create_dir_all(&records)?;
        fs::create_dir_all(&events)?;
        Ok(SinkWriter {
            records: records.join(shard_id),
            events: events.join(shard_id),
            shard_id: shard_id.to_owned(),
        })
    }

    /// The shard this writer writes for.
    pub fn shard_id(&self) -> &str {
        &self.shard_id
    }

    /// Appends records (sequence, sub-sequence, partition key, data) and fsyncs the file before
    /// returning.
    pub fn append_records<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a str, u64, &'a str, &'a [u8])>,
    ) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(64 * 1024);
        for (sequence, sub_sequence, partition_key, data) in records {
            buffer.extend_from_slice(sequence.as_bytes());
            write!(buffer, " {sub_sequence} ")?;
            encode_data(partition_key.as_bytes(), &mut buffer);
            buffer.push(b' ');
            encode_data(data, &mut buffer);
            buffer.push(b'\n');
        }
        append_durably(&self.records, &buffer)
    }

    /// Appends one event line and fsyncs it.
    pub fn event(&self, event: &str, detail: &str) -> io::Result<()> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let line = format!("{millis} {} {event} {detail}\n", std::process::id());
        append_durably(&self.events, line.as_bytes())
    }
}

fn append_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}

fn encode_data(data: &[u8], out: &mut Vec<u8>) {
    let plain =
        !data.is_empty() && data.iter().all(|b| b.is_ascii_graphic()) && !data.starts_with(b"hex:");
    if plain {
        out.extend_from_slice(data);
    } else {
        out.extend_from_slice(b"hex:");
        for byte in data {
            write!(out, "{byte:02x}").expect("writing to a Vec cannot fail");
        }
    }
}

fn decode_data(text: &str) -> Option<Vec<u8>> {
    match text.strip_prefix("hex:") {
        None => Some(text.as_bytes().to_vec()),
        Some(hex) => (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect(),
    }
}

/// Reads what `e2e-consumer` children wrote under a sink directory.
#[derive(Debug, Clone)]
pub struct Sink {
    dir: PathBuf,
}

impl Sink {
    /// A reader over `dir` (which need not exist yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Sink { dir: dir.into() }
    }

    /// The sink directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every record line written so far, duplicates included, in file order per shard.
    /// A torn last line (a child killed mid-write) is ignored.
    pub fn records(&self) -> Vec<SunkRecord> {
        let mut out = Vec::new();
        for (shard_id, text) in read_dir_files(&self.dir.join("records")) {
            for line in text.lines() {
                let mut parts = line.split(' ');
                let (Some(seq), Some(sub), Some(key), Some(data), None) = (
                    parts.next(),
                    parts.next(),
                    parts.next(),
                    parts.next(),
                    parts.next(),
                ) else {
                    continue;
                };
                let (Ok(sub), Some(key), Some(data)) =
                    (sub.parse(), decode_data(key), decode_data(data))
                else {
                    continue;
                };
                out.push(SunkRecord {
                    shard_id: shard_id.clone(),
                    sequence_number: seq.to_owned(),
                    sub_sequence_number: sub,
                    partition_key: String::from_utf8_lossy(&key).into_owned(),
                    data,
                });
            }
        }
        out
    }

    /// The distinct data payloads delivered (records are identified by their data in the tests).
    pub fn distinct_data(&self) -> BTreeSet<Vec<u8>> {
        self.records().into_iter().map(|r| r.data).collect()
    }

    /// Lifecycle events per shard.
    pub fn events(&self) -> BTreeMap<String, Vec<SinkEvent>> {
        let mut out = BTreeMap::new();
        for (shard_id, text) in read_dir_files(&self.dir.join("events")) {
            let events = text
                .lines()
                .filter_map(|line| {
                    let mut parts = line.splitn(4, ' ');
                    Some(SinkEvent {
                        unix_millis: parts.next()?.parse().ok()?,
                        pid: parts.next()?.parse().ok()?,
                        event: parts.next()?.to_owned(),
                        detail: parts.next().unwrap_or("").trim().to_owned(),
                    })
                })
                .collect();
            out.insert(shard_id, events);
        }
        out
    }
}

fn read_dir_files(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let bytes = fs::read(entry.path()).ok()?;
            Some((name, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_events_round_trip() {
        let dir = std::env::temp_dir().join(format!("kcl-e2e-sink-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let writer = SinkWriter::new(&dir, "shardId-000000000001").unwrap();
        writer
            .append_records([
                ("49", 0, "pk-1", &b"rec-1"[..]),
                ("50", 2, "key with spaces \u{1F980}", &b"a b\n"[..]),
                ("51", 0, "hex:", &b"hex:x"[..]),
                ("52", 3, "k", &b""[..]),
            ])
            .unwrap();
        writer.event("initialize", "TRIM_HORIZON").unwrap();
        let sink = Sink::new(&dir);
        let records = sink.records();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].data, b"rec-1");
        assert_eq!(records[0].partition_key, "pk-1");
        assert_eq!(records[1].sub_sequence_number, 2);
        assert_eq!(records[1].partition_key, "key with spaces \u{1F980}");
        assert_eq!(records[1].data, b"a b\n");
        assert_eq!(records[2].partition_key, "hex:");
        assert_eq!(records[2].data, b"hex:x");
        assert_eq!(records[3].data, b"");
        let events = sink.events();
        let shard = &events["shardId-000000000001"];
        assert_eq!(shard[0].event, "initialize");
        assert_eq!(shard[0].detail, "TRIM_HORIZON");
        assert_eq!(shard[0].pid, std::process::id());
        fs::remove_dir_all(&dir).unwrap();
    }
}
