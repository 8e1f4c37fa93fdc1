//! The consumer through kcl-protocol's fake daemon: background uploads and the checkpoints
//! that follow them, shard end, shutdown, lease loss, failing and flaky uploads.

use super::*;
use kcl_protocol::asynchronous::BlockOn;
use kcl_protocol::testing::{CheckpointReply, DaemonOutcome, FakeDaemon, TestRecord};
use kcl_protocol::{RetryPolicy, Runner};

use crate::object::{decode_body, parse_object_key};

const SHARD: &str = "shardId-000000000007";

/// An in-memory stand-in for S3 that can be told to fail; clones share the objects, so the
/// test keeps one while the uploader owns another.
#[derive(Debug, Clone, Default)]
struct MemorySink {
    state: Arc<Mutex<SinkState>>,
}

#[derive(Debug, Default)]
struct SinkState {
    objects: Vec<(String, Vec<u8>)>,
    failures_left: u32,
    calls: u32,
}

impl ObjectSink for MemorySink {
    async fn put(&mut self, key: &str, body: &[u8]) -> Result<(), BoxError> {
        let mut state = self.state.lock().unwrap();
        state.calls += 1;
        if state.failures_left > 0 {
            state.failures_left -= 1;
            return Err("InternalError: We encountered an internal error".into());
        }
        state.objects.push((key.to_owned(), body.to_vec()));
        Ok(())
    }
}

impl MemorySink {
    fn failing(failures: u32) -> Self {
        let sink = MemorySink::default();
        sink.state.lock().unwrap().failures_left = failures;
        sink
    }

    fn calls(&self) -> u32 {
        self.state.lock().unwrap().calls
    }

    /// (key, sequence numbers stored in it) per object.
    fn contents(&self) -> Vec<(String, Vec<String>)> {
        self.state
            .lock()
            .unwrap()
            .objects
            .iter()
            .map(|(key, body)| {
                let seqs = decode_body(body)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.sequence_number)
                    .collect();
                (key.clone(), seqs)
            })
            .collect()
    }
}

fn settings(max_bytes: usize, max_age: Duration) -> ConsumerSettings {
    let quick = UploadRetry {
        attempts: 3,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };
    ConsumerSettings {
        key_prefix: String::new(),
        max_bytes,
        max_age,
        upload_retry: quick,
        queued_uploads: 2,
        final_wait: Duration::from_secs(10),
    }
}

/// As the binary runs it: a multi-thread runtime, so uploads go on between callbacks.
fn processor(
    sink: &MemorySink,
    settings: ConsumerSettings,
) -> BlockOn<ClickstreamProcessor<MemorySink>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    BlockOn::with_runtime(ClickstreamProcessor::new(sink.clone(), settings), runtime)
}

fn runtime() -> Runner {
    Runner::new()
        .watermark_retry(RetryPolicy::default().initial_backoff(Duration::ZERO))
        .watermark_wait(Duration::from_secs(10))
}

fn click(seq: &str) -> TestRecord {
    TestRecord::new(
        seq,
        format!(r#"{{"resource":"resource-{seq}","referrer":"http://www.bing.com"}}"#),
    )
    .partition_key(format!("resource-{seq}"))
}

fn checkpoint(seq: &str) -> (Option<String>, Option<u64>) {
    (Some(seq.to_owned()), Some(0))
}

/// Every checkpoint is at the last record of an object stored by then (objects are stored in
/// order), the checkpoints ascend, and the last one is `last`.
fn assert_checkpoints_follow_uploads(
    checkpoints: &[(Option<String>, Option<u64>)],
    sink: &MemorySink,
    last: &str,
) {
    let object_ends: Vec<String> = sink
        .contents()
        .into_iter()
        .map(|(_, seqs)| seqs.last().unwrap().clone())
        .collect();
    let mut previous = 0usize;
    for (seq, sub) in checkpoints {
        let seq = seq.as_deref().expect("a record, not SHARD_END");
        assert_eq!(*sub, Some(0));
        let at = object_ends
            .iter()
            .position(|end| end == seq)
            .unwrap_or_else(|| panic!("checkpoint {seq} is not an object's last record"));
        assert!(at + 1 >= previous, "checkpoints ascend: {checkpoints:?}");
        previous = at + 1;
    }
    assert_eq!(checkpoints.last(), Some(&checkpoint(last)));
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn full_buffers_upload_in_the_background_and_are_checkpointed_once_stored() {
    // Each encoded click is ~150 bytes: a 400-byte limit holds two of them.
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(400, HOUR));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("1"), click("2"), click("3")])
        .process_records([click("4"), click("5")])
        .process_records([])
        .shutdown_requested()
        .lease_lost()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        sink.contents(),
        [
            (format!("{SHARD}/1-2"), vec!["1".to_owned(), "2".to_owned()]),
            (format!("{SHARD}/3-4"), vec!["3".to_owned(), "4".to_owned()]),
            (format!("{SHARD}/5-5"), vec!["5".to_owned()]),
        ]
    );
    // Checkpoints come when uploads are done (after some batch, or after the shutdown
    // request's wait), never before, and reach the last record.
    assert_checkpoints_follow_uploads(&transcript.checkpoints(), &sink, "5");
    assert_eq!(p.processor().uploaded_records(), 5);
}

#[test]
fn nothing_is_checkpointed_while_records_are_only_buffered() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, HOUR));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("1"), click("2")])
        .process_records([])
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.checkpoints().is_empty());
    assert!(sink.contents().is_empty());
    assert_eq!(p.processor().buffered_records(), 2);
}

#[test]
fn an_old_buffer_is_flushed_even_by_an_empty_batch() {
    // max_age 0: everything is due at once, including on the empty batch a quiet shard gets
    // with callProcessRecordsEvenForEmptyRecordList.
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("10"), click("11")])
        .process_records([])
        .process_records([click("12")])
        .shutdown_requested()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    let keys: Vec<_> = sink.contents().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [format!("{SHARD}/10-11"), format!("{SHARD}/12-12")]);
    assert_checkpoints_follow_uploads(&transcript.checkpoints(), &sink, "12");
}

#[test]
fn shutdown_requested_uploads_waits_and_the_library_checkpoints() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, HOUR));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("5"), click("6")])
        .shutdown_requested()
        .lease_lost()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.checkpoints(), [checkpoint("6")]);
    assert_eq!(sink.contents()[0].0, format!("{SHARD}/5-6"));
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "shutdownRequested",
            "leaseLost"
        ]
    );
}

#[test]
fn shard_end_uploads_then_the_library_checkpoints_shard_end() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, HOUR));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("7")])
        .shard_ended()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.checkpoints(), [(None, None)], "SHARD_END only");
    assert_eq!(
        sink.contents(),
        [(format!("{SHARD}/7-7"), vec!["7".to_owned()])]
    );
}

#[test]
fn lease_lost_never_uploads_or_checkpoints() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, HOUR));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("1"), click("2")])
        .lease_lost()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert!(transcript.checkpoints().is_empty());
    assert!(sink.contents().is_empty());
    assert_eq!(
        p.processor().buffered_records(),
        0,
        "the buffer is left to the next owner"
    );
}

#[test]
fn a_flaky_upload_is_retried_and_then_checkpointed() {
    let sink = MemorySink::failing(2);
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("3")])
        .shutdown_requested()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(sink.calls(), 3);
    assert_eq!(transcript.checkpoints(), [checkpoint("3")]);
}

#[test]
fn an_upload_that_keeps_failing_is_an_error_and_never_checkpointed() {
    let sink = MemorySink::failing(100);
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("3"), click("4")])
        .shard_ended()
        .run_with(runtime(), &mut p);
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "shardEnded".into()
        },
        "the failure policy stops the child: {transcript}"
    );
    assert!(
        transcript.checkpoints().is_empty(),
        "no checkpoint without a stored object, no SHARD_END"
    );
    let error = transcript.processor_result().unwrap().as_ref().unwrap_err();
    let cause = std::error::Error::source(error).unwrap().to_string();
    assert!(cause.contains("failed 3 times"), "{cause}");
    assert_eq!(sink.calls(), 3, "three attempts, then give up");
}

#[test]
fn a_failed_upload_fails_the_next_batch() {
    let sink = MemorySink::failing(100);
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("3")])
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    // Wait until the uploader gave up, then the next batch reports it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.processor().check_uploads().is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let transcript = FakeDaemon::empty()
        .process_records([click("4")])
        .run_with(runtime(), &mut p);
    assert_eq!(
        transcript.outcome(),
        &DaemonOutcome::ChildExited {
            waiting_for: "processRecords".into()
        },
        "{transcript}"
    );
    assert!(transcript.checkpoints().is_empty());
}

#[test]
fn a_throttled_checkpoint_is_retried() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("8")])
        .reply_to_next_checkpoint(CheckpointReply::error("ThrottlingException"))
        .shutdown_requested()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(transcript.checkpoints(), [checkpoint("8"), checkpoint("8")]);
}

#[test]
fn a_shutdown_exception_on_checkpoint_keeps_the_child_running() {
    let sink = MemorySink::default();
    let mut p = processor(&sink, settings(1 << 20, Duration::ZERO));
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("8")])
        .reply_to_next_checkpoint(CheckpointReply::error("ShutdownException"))
        .shutdown_requested()
        .lease_lost()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    assert_eq!(
        transcript.statuses(),
        [
            "initialize",
            "processRecords",
            "shutdownRequested",
            "leaseLost"
        ]
    );
    assert_eq!(transcript.checkpoints(), [checkpoint("8")], "asked once");
}

#[test]
fn keys_carry_the_prefix_and_parse_back() {
    let mut s = settings(1 << 20, Duration::ZERO);
    s.key_prefix = "demo/run-1/".into();
    let sink = MemorySink::default();
    let mut p = processor(&sink, s);
    let transcript = FakeDaemon::new(SHARD)
        .process_records([click("100"), click("205")])
        .shutdown_requested()
        .run_with(runtime(), &mut p);
    assert!(transcript.completed(), "{transcript}");
    let key = &sink.contents()[0].0;
    assert_eq!(key, &format!("demo/run-1/{SHARD}/100-205"));
    let parsed = parse_object_key("demo/run-1/", key).unwrap();
    assert_eq!(
        (parsed.shard_id.as_str(), parsed.last.as_str()),
        (SHARD, "205")
    );
}
