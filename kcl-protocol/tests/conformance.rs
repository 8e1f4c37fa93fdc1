//! Conformance tests from golden transcripts (`tests/golden/*.txt`), plus the cases that do not
//! fit in a text file (a 64 MiB line, invalid UTF-8).
//!
//! A golden file is a transcript, one entry per line:
//!
//! - `> TEXT`: a line the daemon sends (`>` alone sends an empty line). All of them are fed to the
//!   engine as its input, in order; the engine reads them lazily, so a checkpoint reply placed after
//!   a checkpoint request is read exactly when the processor waits for it.
//! - `< TEXT`: a line the child must write, byte for byte.
//! - `= TEXT`: what the scripted processor must observe (a callback and its input, or the result
//!   of a checkpoint), in order with the `<` lines.
//! - `! CALLBACK: STEP; STEP`: what the scripted processor does the next time CALLBACK runs
//!   (`initialize`, `process_records`, `lease_lost`, `shard_ended`, `shutdown_requested`). Steps:
//!   `checkpoint`, `checkpoint-at SEQ [SUB]`, `checkpoint-last`, `retry-checkpoint`, `nothing`,
//!   `fail`, `panic`. A checkpoint step ending in `?` returns its error from the callback, as `?`
//!   would; without it the error is only noted. Without a plan a callback does nothing, except `shard_ended`, which does what
//!   the trait's default does (`retry-checkpoint`).
//! - `@crlf`: end every input line with `\r\n`. `@policy skip-batch`: `FailurePolicy::SkipBatch`.
//!   `@result ok|Protocol|Callback|Panic|Read|Write`: what `run_with_io` must return (default ok).
//! - `#` lines and empty lines are comments.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, Error, FailurePolicy, InitializeInput, LeaseLostInput,
    ProcessRecordsInput, Processor, RetryPolicy, Runner, SequenceNumber, ShardEndedInput,
    ShutdownRequestedInput,
};

type Log = Rc<RefCell<Vec<String>>>;

/// Records every whole line written as `< line`.
struct LoggingWriter {
    log: Log,
    pending: Vec<u8>,
    writes: usize,
}

impl Write for LoggingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8(line[..line.len() - 1].to_vec()).expect("ASCII output");
            assert!(text.is_ascii(), "non-ASCII output: {text:?}");
            self.log.borrow_mut().push(format!("< {text}"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        assert!(
            self.pending.is_empty(),
            "flushed half a message: {:?}",
            self.pending
        );
        Ok(())
    }
}

struct Scripted {
    log: Log,
    plans: VecDeque<(String, Vec<String>)>,
}

impl Scripted {
    fn plan(&mut self, callback: &str) -> Option<Vec<String>> {
        if self.plans.front().is_some_and(|(name, _)| name == callback) {
            self.plans.pop_front().map(|(_, steps)| steps)
        } else {
            None
        }
    }

    fn note(&self, text: String) {
        self.log.borrow_mut().push(format!("= {text}"));
    }

    fn execute(
        &self,
        steps: &[String],
        mut checkpointer: Option<&mut Checkpointer<'_>>,
        input: Option<&ProcessRecordsInput>,
    ) -> Result<(), BoxError> {
        for step in steps {
            let (step, propagate) = match step.strip_suffix('?') {
                Some(step) => (step, true),
                None => (step.as_str(), false),
            };
            let words: Vec<&str> = step.split_whitespace().collect();
            let result = match (words.as_slice(), checkpointer.as_deref_mut()) {
                (["nothing"], _) => continue,
                (["fail"], _) => return Err("scripted failure".into()),
                (["panic"], _) => panic!("scripted panic"),
                (["checkpoint"], Some(c)) => c.checkpoint(),
                (["retry-checkpoint"], Some(c)) => RetryPolicy::default()
                    .initial_backoff(Duration::ZERO)
                    .retry(|| c.checkpoint()),
                (["checkpoint-last"], Some(c)) => {
                    c.checkpoint_at_record(input.unwrap().records().last().unwrap())
                }
                (["checkpoint-at", seq], Some(c)) => {
                    c.checkpoint_at(&seq.parse::<SequenceNumber>().unwrap())
                }
                (["checkpoint-at", seq, sub], Some(c)) => c.checkpoint_at_sub_sequence(
                    &seq.parse::<SequenceNumber>().unwrap(),
                    sub.parse().unwrap(),
                ),
                (other, _) => panic!("bad plan step {other:?} (or no checkpointer here)"),
            };
            self.note(format!("checkpoint -> {}", describe(&result)));
            if propagate {
                result?;
            }
        }
        Ok(())
    }
}

fn describe(result: &Result<(), CheckpointError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(CheckpointError::Protocol(_)) => "protocol error".into(),
        Err(CheckpointError::Io(_)) => "io error".into(),
        Err(error) => format!("error {}", error.daemon_name().unwrap()),
    }
}

fn show_data(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?}"),
        _ => format!(
            "hex:{}",
            data.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

impl Processor for Scripted {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        let checkpoint = input
            .checkpoint()
            .map_or("none".to_owned(), ToString::to_string);
        self.note(format!(
            "initialize shard={} checkpoint={checkpoint}",
            input.shard_id()
        ));
        let plan = self.plan("initialize").unwrap_or_default();
        self.execute(&plan, None, None)
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let behind = input
            .millis_behind_latest()
            .map_or("none".to_owned(), |m| m.to_string());
        self.note(format!(
            "process_records shard={} n={} behind={behind}",
            input.shard_id(),
            input.records().len()
        ));
        for record in input.records() {
            let arrival = record
                .approximate_arrival_timestamp()
                .map_or("none".to_owned(), |t| {
                    t.duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        .to_string()
                });
            self.note(format!(
                "record seq={} sub={} key={:?} data={} arrival={arrival}",
                record.sequence_number(),
                record.sub_sequence_number(),
                record.partition_key(),
                show_data(record.data()),
            ));
        }
        let plan = self.plan("process_records").unwrap_or_default();
        self.execute(&plan, Some(checkpointer), Some(input))
    }

    fn lease_lost(&mut self, input: &LeaseLostInput) -> Result<(), BoxError> {
        self.note(format!("lease_lost shard={}", input.shard_id()));
        let plan = self.plan("lease_lost").unwrap_or_default();
        self.execute(&plan, None, None)
    }

    fn shard_ended(
        &mut self,
        input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.note(format!("shard_ended shard={}", input.shard_id()));
        let plan = self
            .plan("shard_ended")
            .unwrap_or_else(|| vec!["retry-checkpoint".to_owned()]);
        self.execute(&plan, Some(checkpointer), None)
    }

    fn shutdown_requested(
        &mut self,
        input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.note(format!("shutdown_requested shard={}", input.shard_id()));
        let plan = self.plan("shutdown_requested").unwrap_or_default();
        self.execute(&plan, Some(checkpointer), None)
    }
}

fn result_name(result: &Result<(), Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(Error::Protocol { .. }) => "Protocol",
        Err(Error::Callback { .. }) => "Callback",
        Err(Error::Panic { .. }) => "Panic",
        Err(Error::Read(_)) => "Read",
        Err(Error::Write(_)) => "Write",
        Err(_) => "other",
    }
}

fn run_golden(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut input = Vec::new();
    let mut expected = Vec::new();
    let mut plans = VecDeque::new();
    let mut crlf = false;
    let mut runtime = Runner::new();
    let mut expected_result = "ok".to_owned();
    let mut inputs = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        } else if line == ">" {
            inputs.push(String::new());
        } else if let Some(rest) = line.strip_prefix("> ") {
            inputs.push(rest.to_owned());
        } else if line.starts_with("< ") || line.starts_with("= ") {
            expected.push(line.to_owned());
        } else if let Some(rest) = line.strip_prefix("! ") {
            let (callback, steps) = rest.split_once(':').ok_or("plan without ':'")?;
            let steps = steps.split(';').map(|s| s.trim().to_owned()).collect();
            plans.push_back((callback.trim().to_owned(), steps));
        } else if line == "@crlf" {
            crlf = true;
        } else if line == "@policy skip-batch" {
            runtime = runtime
                .on_error(FailurePolicy::SkipBatch)
                .on_panic(FailurePolicy::SkipBatch);
        } else if let Some(result) = line.strip_prefix("@result ") {
            expected_result = result.trim().to_owned();
        } else {
            return Err(format!("unrecognised golden line {line:?}"));
        }
    }
    for line in inputs {
        input.extend_from_slice(line.as_bytes());
        input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    let log: Log = Rc::default();
    let processor = Scripted {
        log: log.clone(),
        plans,
    };
    let writer = LoggingWriter {
        log: log.clone(),
        pending: Vec::new(),
        writes: 0,
    };
    let result = runtime.run_with_io(processor, input.as_slice(), writer);
    let actual = log.borrow().clone();
    let mut problems = Vec::new();
    if result_name(&result) != expected_result {
        problems.push(format!(
            "result: expected {expected_result}, got {result:?}"
        ));
    }
    if actual != expected {
        problems.push(format!(
            "transcript differs.\n--- expected\n{}\n--- actual\n{}",
            expected.join("\n"),
            actual.join("\n")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn golden_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "golden files missing in {}",
        dir.display()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_golden(path).err().map(|error| {
                format!(
                    "=== {}\n{error}",
                    path.file_name().unwrap().to_string_lossy()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} golden transcripts failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// A reader/writer pair run through the default runtime; returns the output lines.
fn run_bytes(processor: impl Processor, input: &[u8]) -> (Result<(), Error>, Vec<String>) {
    let mut output = Vec::new();
    let result = kcl_protocol::run_with_io(processor, input, &mut output);
    let text = String::from_utf8(output).unwrap();
    (result, text.lines().map(str::to_owned).collect())
}

struct SizeCounter {
    sizes: Vec<usize>,
    keys: Vec<String>,
}

impl Processor for SizeCounter {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        _checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        for record in input.records() {
            self.sizes.push(record.data().len());
            self.keys.push(record.partition_key().to_owned());
        }
        Ok(())
    }
}

#[test]
fn a_64_mib_line_is_processed() {
    // 48 MiB of data in one record: its base64 is a 64 MiB line.
    let data = vec![0xA5u8; 48 * 1024 * 1024];
    let encoded = base64_simd::STANDARD.encode_to_string(&data);
    let mut input =
        br#"{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}"#
            .to_vec();
    input.extend_from_slice(b"\n{\"action\":\"processRecords\",\"records\":[{\"data\":\"");
    input.extend_from_slice(encoded.as_bytes());
    input.extend_from_slice(br#"","partitionKey":"k","sequenceNumber":"1","approximateArrivalTimestamp":null,"subSequenceNumber":0,"action":"record"}],"millisBehindLatest":0}"#);
    input.extend_from_slice(b"\n{\"action\":\"leaseLost\"}\n");
    assert!(input.len() > 64 * 1024 * 1024);
    let mut processor = SizeCounter {
        sizes: Vec::new(),
        keys: Vec::new(),
    };
    let (result, lines) = run_bytes(&mut processor, &input);
    result.unwrap();
    assert_eq!(processor.sizes, [data.len()]);
    assert_eq!(
        lines,
        [
            r#"{"action":"status","responseFor":"initialize"}"#,
            r#"{"action":"status","responseFor":"processRecords"}"#,
            r#"{"action":"status","responseFor":"leaseLost"}"#
        ]
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_never_fatal() {
    let mut input = b"{\"action\":\"initialize\",\"shardId\":\"s\"}\n".to_vec();
    // A partition key with invalid bytes (a daemon on a Latin-1 locale), then a garbage line of
    // invalid bytes, then a normal end.
    input.extend_from_slice(b"{\"action\":\"processRecords\",\"records\":[{\"data\":\"eA==\",\"partitionKey\":\"caf\xe9\",\"sequenceNumber\":\"1\"}]}\n");
    input.extend_from_slice(b"\xff\xfe\xfd\n");
    input.extend_from_slice(b"{\"action\":\"leaseLost\"}\n");
    let mut processor = SizeCounter {
        sizes: Vec::new(),
        keys: Vec::new(),
    };
    let (result, lines) = run_bytes(&mut processor, &input);
    result.unwrap();
    assert_eq!(processor.keys, ["caf\u{fffd}"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[test]
fn every_message_is_written_whole_and_flushed() {
    // The logging writer asserts one complete message per flush; here count writes too.
    let log: Log = Rc::default();
    let mut writer = LoggingWriter {
        log: log.clone(),
        pending: Vec::new(),
        writes: 0,
    };
    let input = b"{\"action\":\"initialize\",\"shardId\":\"s\"}\n{\"action\":\"shardEnded\"}\n{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null,\"error\":null}\n";
    let processor = Scripted {
        log: log.clone(),
        plans: VecDeque::new(),
    };
    kcl_protocol::run_with_io(processor, &input[..], &mut writer).unwrap();
    // initialize status, checkpoint request, shardEnded status: one write each.
    assert_eq!(writer.writes, 3);
}

#[test]
fn leading_newline_when_asked() {
    let mut output = Vec::new();
    let input = b"{\"action\":\"initialize\",\"shardId\":\"s\"}\n";
    Runner::new()
        .leading_newline(kcl_protocol::LeadingNewline::Write)
        .run_with_io(
            SizeCounter {
                sizes: Vec::new(),
                keys: Vec::new(),
            },
            &input[..],
            &mut output,
        )
        .unwrap();
    assert_eq!(
        output,
        b"\n{\"action\":\"status\",\"responseFor\":\"initialize\"}\n"
    );
}
