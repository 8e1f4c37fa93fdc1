//! Deferred (watermark) checkpoints through the engine: plain and async processors, records
//! marked out of order and from other threads, batches arriving while earlier ones are in flight,
//! the bounded waits at shutdown and shard end, and what the engine's own checkpoints do on
//! throttling and on a lost lease.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use kcl_protocol::asynchronous::{AsyncProcessor, BlockOn};
use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, Exchange, FakeDaemon, TestRecord};
use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, FailurePolicy, ProcessRecordsInput, Processor,
    RetryPolicy, Runner, ShardEndedInput, ShutdownRequestedInput, Ticket,
};

fn checkpoint(seq: &str) -> (Option<String>, Option<u64>) {
    (Some(seq.to_owned()), Some(0))
}

/// The checkpoints made during each acknowledged action, in order: `(action, [sequence numbers])`.
fn checkpoints_per_action(
    transcript: &kcl_protocol::testing::Transcript,
) -> Vec<(String, Vec<Option<String>>)> {
    let mut per_action = Vec::new();
    let mut current = Vec::new();
    for exchange in transcript.exchanges() {
        match exchange {
            Exchange::Checkpoint {
                sequence_number, ..
            } => current.push(sequence_number.clone()),
            Exchange::Status(action) => {
                per_action.push((action.clone(), std::mem::take(&mut current)))
            }
            _ => {}
        }
    }
    per_action
}

fn records(seqs: &[&str]) -> Vec<TestRecord> {
    seqs.iter().map(|seq| TestRecord::new(seq, *seq)).collect()
}

fn quick() -> Runner {
    Runner::new()
        .watermark_retry(RetryPolicy::default().initial_backoff(Duration::ZERO))
        .watermark_wait(Duration::from_secs(10))
}

/// Holds every ticket; `plan[n]` says which records (by sequence number) to mark done in call n
/// of `process_records`, with `+` for `done_up_to`. `shutdown_requested` marks the rest from
/// another thread after a pause.
#[derive(Default)]
struct Scripted {
    plan: Vec<Vec<&'static str>>,
    calls: usize,
    tickets: Vec<Ticket>,
    own_checkpoint: Option<Result<(), String>>,
    try_own_checkpoint: bool,
    finish_in_background: bool,
}

impl Scripted {
    fn mark(&self, which: &str) {
        let (seq, up_to) = match which.strip_suffix('+') {
            Some(seq) => (seq, true),
            None => (which, false),
        };
        let ticket = self
            .tickets
            .iter()
            .find(|t| t.sequence_number().as_str() == seq)
            .unwrap_or_else(|| panic!("no ticket for {seq}"));
        if up_to {
            ticket.done_up_to();
        } else {
            ticket.done();
        }
    }

    fn finish_later(&self) {
        let tickets = self.tickets.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            for ticket in tickets {
                ticket.done();
            }
        });
    }
}

impl Processor for Scripted {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let watermark = checkpointer.watermark();
        for record in input.records() {
            self.tickets.push(watermark.track(record));
        }
        if self.try_own_checkpoint
            && let Some(last) = input.records().last()
        {
            self.own_checkpoint = Some(
                checkpointer
                    .checkpoint_at_record(last)
                    .map_err(|e| e.to_string()),
            );
        }
        for which in self.plan.get(self.calls).cloned().unwrap_or_default() {
            self.mark(which);
        }
        self.calls += 1;
        Ok(())
    }

    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        _checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        if self.finish_in_background {
            self.finish_later();
        }
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        _checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        if self.finish_in_background {
            self.finish_later();
        }
        Ok(())
    }
}

#[test]
fn out_of_order_marks_checkpoint_only_below_the_first_gap_and_shutdown_waits_for_the_rest() {
    let mut processor = Scripted {
        plan: vec![vec!["2", "3"], vec!["1"], vec!["5"]],
        finish_in_background: true,
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("shardId-000000000001")
        .process_records(records(&["1", "2", "3"]))
        .process_records(records(&["4", "5"]))
        .process_records([])
        .shutdown_requested()
        .lease_lost()
        .run_with(quick(), &mut processor);
    assert!(transcript.completed(), "{transcript}");
    // Batch 1: record 1 outstanding, no checkpoint. Batch 2: 1-3 done, 4 outstanding: 3. Batch 3:
    // 5 done but 4 is not: nothing new. shutdownRequested: the rest is marked from another thread
    // while the engine waits, then 5.
    let seq = |s: &str| Some(s.to_owned());
    assert_eq!(
        checkpoints_per_action(&transcript),
        [
            ("initialize".to_owned(), vec![]),
            ("processRecords".to_owned(), vec![]),
            ("processRecords".to_owned(), vec![seq("3")]),
            ("processRecords".to_owned(), vec![]),
            ("shutdownRequested".to_owned(), vec![seq("5")]),
            ("leaseLost".to_owned(), vec![]),
        ],
        "{transcript}"
    );
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "processRecords",
            "processRecords",
            "shutdownRequested",
            "leaseLost"
        ]
    );
}

#[test]
fn done_up_to_covers_earlier_batches() {
    let mut processor = Scripted {
        plan: vec![vec![], vec!["5+"]],
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1", "2", "3"]))
        .process_records(records(&["4", "5", "6"]))
        .run_with(quick(), &mut processor);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.checkpoints(), [checkpoint("5")], "{transcript}");
}

#[test]
fn the_processors_own_checkpoint_may_not_pass_outstanding_records() {
    let mut processor = Scripted {
        try_own_checkpoint: true,
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1", "2"]))
        .run_with(quick(), &mut processor);
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.checkpoints().is_empty(), "{transcript}");
    let refused = processor.own_checkpoint.unwrap().unwrap_err();
    assert!(refused.contains("2 records not marked done"), "{refused}");
}

#[test]
fn shard_end_waits_then_checkpoints_shard_end_once_everything_is_done() {
    let mut processor = Scripted {
        plan: vec![vec!["1"]],
        finish_in_background: true,
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1", "2"]))
        .shard_ended()
        .run_with(quick(), &mut processor);
    assert!(transcript.completed(), "{transcript}");
    // The default-like override leaves SHARD_END to the engine: no warning path, no early claim.
    assert_eq!(
        transcript.checkpoints(),
        [checkpoint("1"), (None, None)],
        "{transcript}"
    );
}

#[test]
fn shard_end_with_records_still_outstanding_is_a_failure_unless_skip_batch() {
    let run = |policy: FailurePolicy| {
        let mut processor = Scripted {
            plan: vec![vec!["1"]],
            ..Scripted::default()
        };
        let runtime = quick()
            .watermark_wait(Duration::from_millis(20))
            .on_error(policy);
        let transcript = FakeDaemon::new("s")
            .process_records(records(&["1", "2"]))
            .shard_ended()
            .run_with(runtime, &mut processor);
        (transcript, processor)
    };
    let (transcript, _) = run(FailurePolicy::Exit);
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "shardEnded".into()
        },
        "{transcript}"
    );
    assert_eq!(transcript.checkpoints(), [checkpoint("1")], "no SHARD_END");
    let message = match transcript.processor_result() {
        Some(Err(error)) => {
            let source = std::error::Error::source(error).unwrap().to_string();
            assert!(
                source.contains("1 records are still not marked done"),
                "{source}"
            );
            source
        }
        other => panic!("unexpected result {other:?}"),
    };
    assert!(message.contains("SHARD_END"));

    let (transcript, _) = run(FailurePolicy::SkipBatch);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        transcript.checkpoints(),
        [checkpoint("1"), (None, None)],
        "SkipBatch: the shard's children start anyway"
    );
}

#[test]
fn the_engines_checkpoint_is_retried_on_throttling_and_stops_at_a_lost_lease() {
    let mut processor = Scripted {
        plan: vec![vec!["1"], vec!["2"], vec!["3"]],
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1"]))
        .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
        .process_records(records(&["2"]))
        .reply_to_next_checkpoint(CheckpointReply::Success)
        .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
        .process_records(records(&["3"]))
        .lease_lost()
        .run_with(quick(), &mut processor);
    assert!(transcript.completed(), "{transcript}");
    // 1 throttled then retried; 2 refused (lease gone); 3 never asked.
    assert_eq!(
        transcript.checkpoints(),
        [checkpoint("1"), checkpoint("1"), checkpoint("2")],
        "{transcript}"
    );
    assert!(matches!(transcript.processor_result(), Some(Ok(()))));
}

/// An async processor that uploads each record in a spawned task (as the click-stream sample
/// does) and marks it done there.
struct Uploading {
    uploaded: Arc<Mutex<BTreeSet<String>>>,
}

impl AsyncProcessor for Uploading {
    async fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let watermark = checkpointer.watermark();
        for record in input.records() {
            let ticket = watermark.track(record);
            let uploaded = Arc::clone(&self.uploaded);
            let seq = record.sequence_number().to_string();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                uploaded.lock().unwrap().insert(seq);
                ticket.done();
            });
        }
        Ok(())
    }
}

#[test]
fn async_tasks_keep_running_while_the_engine_waits_at_shard_end() {
    for multi_thread in [false, true] {
        let runtime = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let uploaded = Arc::default();
        let mut adapted = BlockOn::with_runtime(
            Uploading {
                uploaded: Arc::clone(&uploaded),
            },
            runtime,
        );
        let transcript = FakeDaemon::new("s")
            .process_records(records(&["1", "2"]))
            .process_records(records(&["3"]))
            .shard_ended()
            .run_with(quick(), &mut adapted);
        assert!(
            transcript.completed(),
            "multi-thread {multi_thread}: {transcript}"
        );
        assert_eq!(uploaded.lock().unwrap().len(), 3);
        let checkpoints = transcript.checkpoints();
        assert_eq!(checkpoints.last(), Some(&(None, None)), "{transcript}");
        // Whatever was checkpointed before was uploaded before (sequence numbers ascend).
        for (seq, _) in &checkpoints[..checkpoints.len() - 1] {
            assert!(seq.is_some(), "{transcript}");
        }
    }
}

/// A processor whose records are finished by worker threads in random order; each worker notes a
/// record in `done` just before marking it.
struct Workers {
    work: Vec<mpsc::Sender<Ticket>>,
    next_worker: usize,
}

impl Processor for Workers {
    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let watermark = checkpointer.watermark();
        for record in input.records() {
            self.next_worker = (self.next_worker + 7) % self.work.len();
            self.work[self.next_worker].send(watermark.track(record))?;
        }
        Ok(())
    }
}

/// The child's side of the pipe: snapshots `done` whenever a checkpoint request is written, so
/// the test can check it against what had been marked at that moment.
struct SnapshottingWriter {
    done: Arc<Mutex<BTreeSet<u64>>>,
    lines: mpsc::Sender<(String, BTreeSet<u64>)>,
    pending: Vec<u8>,
}

impl Write for SnapshottingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            let snapshot = self.done.lock().unwrap().clone();
            let _ = self.lines.send((text, snapshot));
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn records_finished_by_threads_in_any_order_never_checkpoint_past_an_unfinished_one() {
    for seed in 1..=8u64 {
        let mut random = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let done: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
        let mut work = Vec::new();
        let mut workers = Vec::new();
        for worker in 0..4u64 {
            let (sender, receiver) = mpsc::channel::<Ticket>();
            work.push(sender);
            let done = Arc::clone(&done);
            let mut random = random ^ worker;
            workers.push(thread::spawn(move || {
                for ticket in receiver {
                    thread::sleep(Duration::from_micros(xorshift(&mut random) % 400));
                    let seq: u64 = ticket.sequence_number().as_str().parse().unwrap();
                    done.lock().unwrap().insert(seq);
                    ticket.done();
                }
            }));
        }
        let (engine_input, to_engine) = io::pipe().unwrap();
        let (lines_sender, lines) = mpsc::channel();
        let writer = SnapshottingWriter {
            done: Arc::clone(&done),
            lines: lines_sender,
            pending: Vec::new(),
        };
        let mut batches = Vec::new();
        let mut next_seq = 1u64;
        for _ in 0..30 {
            let count = xorshift(&mut random) % 6;
            batches.push((next_seq..next_seq + count).collect::<Vec<u64>>());
            next_seq += count;
        }
        let last = next_seq - 1;
        let daemon = thread::spawn(move || play_daemon(to_engine, lines, batches));
        let processor = Workers {
            work,
            next_worker: 0,
        };
        quick()
            .run_with_io(processor, BufReader::new(engine_input), writer)
            .unwrap();
        let checkpoints = daemon.join().unwrap();
        for worker in workers {
            worker.join().unwrap();
        }
        for (seq, snapshot) in &checkpoints {
            for earlier in 1..=*seq {
                assert!(
                    snapshot.contains(&earlier),
                    "seed {seed}: checkpoint {seq} passed unfinished record {earlier}"
                );
            }
        }
        let positions: Vec<u64> = checkpoints.iter().map(|(seq, _)| *seq).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: {positions:?}"
        );
        assert_eq!(
            positions.last(),
            Some(&last),
            "seed {seed}: reaches the last record"
        );
    }
}

/// Plays the daemon for the stress test: the batches, then shutdownRequested and leaseLost;
/// answers every checkpoint with success. Returns each checkpoint's sequence number with the
/// snapshot taken when it was written.
fn play_daemon(
    mut to_engine: impl Write,
    lines: mpsc::Receiver<(String, BTreeSet<u64>)>,
    batches: Vec<Vec<u64>>,
) -> Vec<(u64, BTreeSet<u64>)> {
    let mut checkpoints = Vec::new();
    let mut send = |line: String| {
        to_engine.write_all(line.as_bytes()).unwrap();
        to_engine.write_all(b"\n").unwrap();
        to_engine.flush().unwrap();
    };
    let mut actions = vec![(
        r#"{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}"#
            .to_owned(),
        "initialize",
    )];
    for batch in &batches {
        let records: Vec<String> = batch
            .iter()
            .map(|seq| {
                format!(
                    r#"{{"data":"eA==","partitionKey":"k","sequenceNumber":"{seq}","approximateArrivalTimestamp":null,"subSequenceNumber":0,"action":"record"}}"#
                )
            })
            .collect();
        actions.push((
            format!(
                r#"{{"action":"processRecords","records":[{}],"millisBehindLatest":0}}"#,
                records.join(",")
            ),
            "processRecords",
        ));
    }
    actions.push((
        r#"{"action":"shutdownRequested"}"#.to_owned(),
        "shutdownRequested",
    ));
    actions.push((r#"{"action":"leaseLost"}"#.to_owned(), "leaseLost"));
    for (line, status) in actions {
        send(line);
        loop {
            let (line, snapshot) = lines.recv_timeout(Duration::from_secs(30)).unwrap();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            match value["action"].as_str().unwrap() {
                "status" => {
                    assert_eq!(value["responseFor"], status);
                    break;
                }
                "checkpoint" => {
                    let seq = value["sequenceNumber"].as_str().unwrap().to_owned();
                    checkpoints.push((seq.parse().unwrap(), snapshot));
                    send(format!(
                        r#"{{"action":"checkpoint","sequenceNumber":"{seq}","subSequenceNumber":0,"error":null}}"#
                    ));
                }
                other => panic!("unexpected {other}"),
            }
        }
    }
    checkpoints
}

#[test]
fn a_checkpoint_error_of_the_engine_is_a_failure_of_the_batch() {
    let mut processor = Scripted {
        plan: vec![vec!["1"]],
        ..Scripted::default()
    };
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1"]))
        .reply_to_next_checkpoint(CheckpointReply::error("InvalidStateException"))
        .run_with(quick(), &mut processor);
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    match transcript.processor_result() {
        Some(Err(kcl_protocol::Error::Callback { source, .. })) => assert!(matches!(
            source.downcast_ref::<CheckpointError>(),
            Some(CheckpointError::InvalidState)
        )),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn handles_are_clone_send_and_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<kcl_protocol::Watermark>();
    check::<Ticket>();
}

#[test]
fn a_failed_shard_end_does_not_wait_for_the_watermark() {
    struct FailsAtShardEnd;
    impl Processor for FailsAtShardEnd {
        fn process_records(
            &mut self,
            _input: &ProcessRecordsInput,
            checkpointer: &mut Checkpointer<'_>,
        ) -> Result<(), BoxError> {
            checkpointer.watermark(); // Records outstanding for ever.
            Ok(())
        }
        fn shard_ended(
            &mut self,
            _input: &ShardEndedInput,
            _checkpointer: &mut Checkpointer<'_>,
        ) -> Result<(), BoxError> {
            Err("the uploader failed".into())
        }
    }
    let started = std::time::Instant::now();
    let transcript = FakeDaemon::new("s")
        .process_records(records(&["1"]))
        .shard_ended()
        .run_with(
            quick().watermark_wait(Duration::from_secs(30)),
            FailsAtShardEnd,
        );
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "shardEnded".into()
        },
        "{transcript}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the failure policy applies at once, without the 30 s wait"
    );
}
