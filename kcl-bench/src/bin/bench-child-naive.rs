//! `bench-child-naive`: the hand-written baseline child for `kcl-bench`, with no SDK.
//!
//! This is what a competent user writes in an afternoon with `serde_json` and `base64`: read each line
//! into a `String`, parse it into owned structs, decode every record's data into a fresh `Vec`, and
//! write the replies with `serde_json`. It does the same work as every other bench child: decode
//! every record, sum the lengths, checkpoint at the last record of each batch, checkpoint at shard
//! end, and print `kcl-bench-child records=<n> bytes=<n>` on stderr at shard end so the driver can
//! check that the work was really done.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// One daemon message, every action in one struct (fields absent from an action stay empty).
#[derive(Deserialize)]
struct DaemonMessage {
    action: String,
    #[serde(default)]
    records: Vec<DaemonRecord>,
    #[serde(default)]
    error: Option<String>,
}

/// One record as the daemon sends it. Every field is parsed (as the SDK children do), even where
/// the benchmark's work does not read it.
#[derive(Deserialize)]
#[allow(dead_code)] // parsed to do the same work as the SDK children; not all are read
struct DaemonRecord {
    data: String,
    #[serde(rename = "partitionKey")]
    partition_key: String,
    #[serde(rename = "sequenceNumber")]
    sequence_number: String,
    #[serde(rename = "subSequenceNumber")]
    sub_sequence_number: Option<u64>,
    #[serde(rename = "approximateArrivalTimestamp")]
    approximate_arrival_timestamp: Option<u64>,
}

#[derive(Serialize)]
struct Status<'a> {
    action: &'static str,
    #[serde(rename = "responseFor")]
    response_for: &'a str,
}

#[derive(Serialize)]
struct CheckpointRequest<'a> {
    action: &'static str,
    #[serde(rename = "sequenceNumber")]
    sequence_number: Option<&'a str>,
    #[serde(rename = "subSequenceNumber")]
    sub_sequence_number: Option<u64>,
}

type BoxError = Box<dyn std::error::Error>;

struct Child<R, W> {
    input: R,
    output: W,
    line: String,
    records: u64,
    bytes: u64,
}

impl<R: BufRead, W: Write> Child<R, W> {
    /// Reads the next non-blank line and parses it; `None` at end of input.
    fn next_message(&mut self) -> Result<Option<DaemonMessage>, BoxError> {
        loop {
            self.line.clear();
            if self.input.read_line(&mut self.line)? == 0 {
                return Ok(None);
            }
            if self.line.trim().is_empty() {
                continue;
            }
            return Ok(Some(serde_json::from_str(&self.line)?));
        }
    }

    fn send<T: Serialize>(&mut self, message: &T) -> Result<(), BoxError> {
        let mut text = serde_json::to_string(message)?;
        text.push('\n');
        self.output.write_all(text.as_bytes())?;
        self.output.flush()?;
        Ok(())
    }

    /// Sends a checkpoint request and waits for the daemon's reply.
    fn checkpoint(
        &mut self,
        sequence_number: Option<&str>,
        sub: Option<u64>,
    ) -> Result<(), BoxError> {
        self.send(&CheckpointRequest {
            action: "checkpoint",
            sequence_number,
            sub_sequence_number: sub,
        })?;
        let reply = self
            .next_message()?
            .ok_or("stdin closed while waiting for a checkpoint reply")?;
        if reply.action != "checkpoint" {
            return Err(
                format!("expected a checkpoint reply, got action {:?}", reply.action).into(),
            );
        }
        if let Some(error) = reply.error {
            return Err(format!("checkpoint failed: {error}").into());
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), BoxError> {
        let engine = base64::engine::general_purpose::STANDARD;
        while let Some(message) = self.next_message()? {
            match message.action.as_str() {
                "processRecords" => {
                    for record in &message.records {
                        let data = engine.decode(&record.data)?;
                        self.bytes += data.len() as u64;
                    }
                    self.records += message.records.len() as u64;
                    if let Some(last) = message.records.last() {
                        self.checkpoint(Some(&last.sequence_number), last.sub_sequence_number)?;
                    }
                }
                "shardEnded" => {
                    self.checkpoint(None, None)?;
                    eprintln!(
                        "kcl-bench-child records={} bytes={}",
                        self.records, self.bytes
                    );
                }
                "shutdownRequested" => self.checkpoint(None, None)?,
                "initialize" | "leaseLost" => {}
                other => return Err(format!("unknown action {other:?}").into()),
            }
            let action = message.action;
            self.send(&Status {
                action: "status",
                response_for: &action,
            })?;
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let mut child = Child {
        input: std::io::stdin().lock(),
        output: std::io::stdout().lock(),
        line: String::new(),
        records: 0,
        bytes: 0,
    };
    match child.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-child-naive: {error}");
            ExitCode::FAILURE
        }
    }
}
