//! A fake MultiLangDaemon for unit-testing processors (feature `testing`): no Java, no AWS.
//!
//! [`FakeDaemon`] plays a script of daemon messages, byte for byte as the real daemon writes them,
//! and behaves like the daemon while it waits for each status: it answers checkpoint requests (with
//! scripted replies such as `ThrottlingException`, or success), answers `InvalidStateException`
//! where the daemon has no checkpointer (`initialize`, `leaseLost`), skips lines the daemon would
//! skip (a line with an extra field, stray text) and stops at a wrong status, as the daemon does.
//! At the end of the script it closes the child's stdin, as the daemon does. It returns a
//! [`Transcript`] of everything that crossed the pipes.
//!
//! It runs a processor in-process ([`FakeDaemon::run`]) or a processor binary as a child process
//! over real pipes ([`FakeDaemon::run_binary`]).
//!
//! ```
//! use kcl_protocol::testing::{CheckpointReply, FakeDaemon, TestRecord};
//! use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor, RetryPolicy};
//! use std::time::Duration;
//!
//! struct Checkpointing;
//!
//! impl Processor for Checkpointing {
//!     fn process_records(
//!         &mut self,
//!         input: &ProcessRecordsInput,
//!         checkpointer: &mut Checkpointer<'_>,
//!     ) -> Result<(), BoxError> {
//!         let retry = RetryPolicy::default().initial_backoff(Duration::ZERO);
//!         retry.retry(|| checkpointer.checkpoint_at_record(input.records().last().unwrap()))?;
//!         Ok(())
//!     }
//! }
//!
//! let transcript = FakeDaemon::new("shardId-000000000001")
//!     .process_records([TestRecord::new("1", "hello"), TestRecord::new("2", "world")])
//!     .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
//!     .shard_ended()
//!     .run(Checkpointing);
//!
//! assert!(transcript.completed(), "{transcript}");
//! assert!(transcript.processor_result().unwrap().is_ok());
//! // Throttled once, retried once, then the SHARD_END checkpoint from the default shard_ended.
//! assert_eq!(
//!     transcript.checkpoints(),
//!     [(Some("2".to_owned()), Some(0)), (Some("2".to_owned()), Some(0)), (None, None)]
//! );
//! assert_eq!(transcript.statuses(), ["initialize", "processRecords", "shardEnded"]);
//! ```

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::processor::Processor;
use crate::record::{ExtendedSequenceNumber, Record, SequenceNumber};
use crate::runtime::Runner;
pub(crate) mod daemon_side;
mod transcript;

pub use transcript::{DaemonOutcome, Exchange, Transcript};

use daemon_side::ChildLine;

/// A record for a scripted `processRecords` batch.
#[derive(Debug, Clone)]
pub struct TestRecord {
    record: Record,
}

impl TestRecord {
    /// A record with the given sequence number and data, partition key `"key"`, sub-sequence 0,
    /// arrival time 2016-10-19T15:08:27Z.
    ///
    /// # Panics
    ///
    /// If `sequence_number` is not all digits (a mistake in the test itself).
    pub fn new(sequence_number: &str, data: impl Into<Vec<u8>>) -> Self {
        let sequence_number: SequenceNumber = sequence_number
            .parse()
            .unwrap_or_else(|error| panic!("TestRecord::new: {error}"));
        TestRecord {
            record: Record::new(
                data,
                "key",
                sequence_number,
                0,
                Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_476_889_707_000)),
            ),
        }
    }

    /// Sets the partition key.
    pub fn partition_key(mut self, key: impl Into<String>) -> Self {
        self.record.set_partition_key(&key.into());
        self
    }

    /// Sets the sub-sequence number (the index inside a KPL aggregate).
    pub fn sub_sequence_number(mut self, sub: u64) -> Self {
        self.record.set_sub_sequence_number(sub);
        self
    }

    /// Sets or clears the arrival time.
    pub fn arrival(mut self, time: Option<SystemTime>) -> Self {
        self.record
            .set_approximate_arrival_millis(time.map(crate::record::system_time_to_millis));
        self
    }
}

impl From<Record> for TestRecord {
    fn from(record: Record) -> Self {
        TestRecord { record }
    }
}

/// The daemon's reply to one checkpoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointReply {
    /// The checkpoint was stored (`"error":null`).
    Success,
    /// The daemon caught this Java exception (its simple class name), e.g. `ThrottlingException`.
    Error(String),
}

impl CheckpointReply {
    /// A failure reply naming a Java exception, e.g. `"ShutdownException"`.
    pub fn error(name: impl Into<String>) -> Self {
        CheckpointReply::Error(name.into())
    }
}

/// One scripted message.
#[derive(Debug, Clone)]
struct Step {
    line: String,
    /// The status the daemon then waits for; `None` for lines it does not wait on.
    awaits: Option<String>,
    /// Whether the daemon has a checkpointer during this action.
    checkpointer: bool,
}

/// A scripted fake daemon; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct FakeDaemon {
    steps: Vec<Step>,
    replies: VecDeque<CheckpointReply>,
    timeout: Duration,
}

impl FakeDaemon {
    /// A script that starts with `initialize` for `shard_id` and no starting checkpoint
    /// (`sequenceNumber: null`).
    pub fn new(shard_id: &str) -> Self {
        FakeDaemon {
            steps: Vec::new(),
            replies: VecDeque::new(),
            timeout: Duration::from_secs(30),
        }
        .push(
            daemon_side::initialize(shard_id, None, None),
            Some("initialize"),
            false,
        )
    }

    /// Like [`new`](Self::new), with the lease's starting checkpoint.
    pub fn with_checkpoint(shard_id: &str, checkpoint: &ExtendedSequenceNumber) -> Self {
        let line = match checkpoint {
            ExtendedSequenceNumber::Sequence {
                sequence_number,
                sub_sequence_number,
            } => daemon_side::initialize(
                shard_id,
                Some(sequence_number.as_str()),
                Some(*sub_sequence_number),
            ),
            sentinel => daemon_side::initialize(shard_id, Some(&sentinel.to_string()), Some(0)),
        };
        FakeDaemon {
            steps: Vec::new(),
            replies: VecDeque::new(),
            timeout: Duration::from_secs(30),
        }
        .push(line, Some("initialize"), false)
    }

    /// A script with no `initialize`: only what you add (e.g. with [`raw`](Self::raw)).
    pub fn empty() -> Self {
        FakeDaemon {
            steps: Vec::new(),
            replies: VecDeque::new(),
            timeout: Duration::from_secs(30),
        }
    }

    fn push(mut self, line: String, awaits: Option<&str>, checkpointer: bool) -> Self {
        self.steps.push(Step {
            line,
            awaits: awaits.map(str::to_owned),
            checkpointer,
        });
        self
    }

    /// Adds a `processRecords` batch (`millisBehindLatest` 0).
    pub fn process_records(self, records: impl IntoIterator<Item = TestRecord>) -> Self {
        self.process_records_behind(records, Some(0))
    }

    /// Adds a `processRecords` batch with the given `millisBehindLatest`.
    pub fn process_records_behind(
        self,
        records: impl IntoIterator<Item = TestRecord>,
        millis_behind_latest: Option<u64>,
    ) -> Self {
        let records: Vec<Record> = records.into_iter().map(|r| r.record).collect();
        let line = daemon_side::process_records(&records, millis_behind_latest);
        self.push(line, Some("processRecords"), true)
    }

    /// Adds `leaseLost`.
    pub fn lease_lost(self) -> Self {
        self.push(daemon_side::bare("leaseLost"), Some("leaseLost"), false)
    }

    /// Adds `shardEnded`.
    pub fn shard_ended(self) -> Self {
        self.push(daemon_side::bare("shardEnded"), Some("shardEnded"), true)
    }

    /// Adds `shutdownRequested`.
    pub fn shutdown_requested(self) -> Self {
        self.push(
            daemon_side::bare("shutdownRequested"),
            Some("shutdownRequested"),
            true,
        )
    }

    /// Adds a KCL 1.x `shutdown` with `reason` (`TERMINATE` or `ZOMBIE`).
    pub fn legacy_shutdown(self, reason: &str) -> Self {
        let checkpointer = reason == "TERMINATE";
        self.push(
            daemon_side::legacy_shutdown(reason),
            Some("shutdown"),
            checkpointer,
        )
    }

    /// Adds any line. With `awaits`, the daemon then waits for a status naming that action (with a
    /// checkpointer); without, it sends the next line at once.
    pub fn raw(self, line: impl Into<String>, awaits: Option<&str>) -> Self {
        self.push(line.into(), awaits, awaits.is_some())
    }

    /// Queues the reply to the next checkpoint request that has none yet (replies are used in
    /// order; requests beyond the queue succeed). Requests where the daemon has no checkpointer
    /// are answered `InvalidStateException` without using the queue, as the daemon does.
    pub fn reply_to_next_checkpoint(mut self, reply: CheckpointReply) -> Self {
        self.replies.push_back(reply);
        self
    }

    /// How long the daemon waits for each line from the child (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `processor` in-process with the default [`Runner`]. The processor runs on this
    /// thread and the daemon on another, over OS pipes. Pass `&mut processor` to inspect it
    /// afterwards.
    pub fn run<P: Processor>(self, processor: P) -> Transcript {
        self.run_with(Runner::new(), processor)
    }

    /// Runs `processor` in-process with the given [`Runner`] (its stdio and signal settings do
    /// not apply in-process).
    ///
    /// # Panics
    ///
    /// If the operating system cannot create a pipe or a thread.
    pub fn run_with<P: Processor>(self, runtime: Runner, processor: P) -> Transcript {
        let (child_stdin, daemon_to_child) = io::pipe().expect("create a pipe");
        let (child_to_daemon, child_stdout) = io::pipe().expect("create a pipe");
        let daemon = thread::Builder::new()
            .name("fake-daemon".into())
            .spawn(move || self.drive(daemon_to_child, child_to_daemon))
            .expect("start the fake daemon's thread");
        let result = runtime.run_with_io(processor, BufReader::new(child_stdin), child_stdout);
        let mut transcript = daemon
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        transcript.set_processor_result(result);
        transcript
    }

    /// Runs a processor binary as a child process: its stdin and stdout are the protocol pipes,
    /// its stderr is captured. Stdio settings on `command` are replaced. After the script the
    /// daemon closes the child's stdin and waits for it to exit (killing it after the timeout).
    pub fn run_binary(self, mut command: Command) -> io::Result<Transcript> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr_reader = thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let timeout = self.timeout;
        let mut transcript = self.drive(stdin, stdout);
        transcript.set_exit_status(wait_with_timeout(&mut child, timeout)?);
        transcript.set_stderr(stderr_reader.join().unwrap_or_default());
        Ok(transcript)
    }

    /// The daemon's side: send each step, then answer and wait as the real daemon does.
    fn drive(
        mut self,
        mut to_child: impl Write,
        from_child: impl Read + Send + 'static,
    ) -> Transcript {
        let lines = spawn_line_reader(from_child);
        let mut exchanges = Vec::new();
        let mut outcome = DaemonOutcome::Completed;
        'steps: for step in std::mem::take(&mut self.steps) {
            let action = step.awaits.clone().unwrap_or_default();
            if let Err(error) = write_line(&mut to_child, &step.line) {
                outcome = DaemonOutcome::WriteFailed {
                    action,
                    error: error.to_string(),
                };
                break;
            }
            exchanges.push(Exchange::Sent(step.line.clone()));
            let Some(expected) = step.awaits else {
                continue;
            };
            loop {
                let line = match lines.recv_timeout(self.timeout) {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                        outcome = DaemonOutcome::ChildExited {
                            waiting_for: expected,
                        };
                        break 'steps;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        outcome = DaemonOutcome::TimedOut {
                            waiting_for: expected,
                        };
                        break 'steps;
                    }
                };
                match daemon_side::parse_child_line(&line) {
                    ChildLine::Empty => {}
                    ChildLine::Skipped | ChildLine::Ignored(_) => {
                        exchanges.push(Exchange::Skipped(line))
                    }
                    ChildLine::Status(Some(name)) if name == expected => {
                        exchanges.push(Exchange::Status(name));
                        break;
                    }
                    ChildLine::Status(got) => {
                        if let Some(name) = &got {
                            exchanges.push(Exchange::Status(name.clone()));
                        } else {
                            exchanges.push(Exchange::Skipped(line));
                        }
                        outcome = DaemonOutcome::WrongStatus { expected, got };
                        break 'steps;
                    }
                    ChildLine::Checkpoint(sequence_number, sub_sequence_number) => {
                        exchanges.push(Exchange::Checkpoint {
                            sequence_number: sequence_number.clone(),
                            sub_sequence_number,
                        });
                        let error = if step.checkpointer {
                            match self.replies.pop_front() {
                                None | Some(CheckpointReply::Success) => None,
                                Some(CheckpointReply::Error(name)) => Some(name),
                            }
                        } else {
                            Some("InvalidStateException".to_owned())
                        };
                        let reply = daemon_side::checkpoint_reply(
                            sequence_number.as_deref(),
                            sub_sequence_number,
                            error.as_deref(),
                        );
                        if let Err(error) = write_line(&mut to_child, &reply) {
                            outcome = DaemonOutcome::WriteFailed {
                                action: "checkpoint".into(),
                                error: error.to_string(),
                            };
                            break 'steps;
                        }
                        exchanges.push(Exchange::Sent(reply));
                    }
                }
            }
        }
        // As the daemon does after the last action: close stdin, then drain stdout until EOF.
        drop(to_child);
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(Some(line)) => match daemon_side::parse_child_line(&line) {
                    ChildLine::Empty => {}
                    _ => exchanges.push(Exchange::Skipped(line)),
                },
                Ok(None) | Err(_) => break,
            }
        }
        Transcript::new(exchanges, outcome)
    }
}

fn write_line(to_child: &mut impl Write, line: &str) -> io::Result<()> {
    to_child.write_all(line.as_bytes())?;
    to_child.write_all(b"\n")?;
    to_child.flush()
}

/// Reads the child's stdout on a thread, line by line (`\n`, `\r\n` or `\r` endings, as Java's
/// `readLine`); `None` marks the end.
fn spawn_line_reader(from_child: impl Read + Send + 'static) -> mpsc::Receiver<Option<String>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(from_child);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    let text = text.strip_suffix('\r').unwrap_or(text);
                    for line in text.split('\r') {
                        if sender.send(Some(line.to_owned())).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        let _ = sender.send(None);
    });
    receiver
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> io::Result<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            child.kill()?;
            return child.wait();
        }
        thread::sleep(Duration::from_millis(5));
    }
}
