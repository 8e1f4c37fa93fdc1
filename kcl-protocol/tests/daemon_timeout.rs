//! The daemon-timeout watchdog: a WARN with the shard id when a callback keeps the daemon waiting
//! for more than 80% of its `timeoutInSeconds`, measured the way the daemon measures (a checkpoint
//! exchange restarts the daemon's timer). The events are captured by a subscriber of this test.

use std::sync::Mutex;
use std::time::Duration;

use kcl_protocol::testing::{FakeDaemon, TestRecord};
use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor, Runner};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps WARN and ERROR events as `message key=value ...`.
struct Capture;

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?} "));
        } else {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        EVENTS.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
}

/// Sleeps in each batch as told: `pauses` separated by a checkpoint.
struct Slow {
    pauses: Vec<Duration>,
}

impl Processor for Slow {
    fn process_records(
        &mut self,
        _input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        for (index, pause) in self.pauses.iter().enumerate() {
            if index > 0 {
                checkpointer.checkpoint()?;
            }
            std::thread::sleep(*pause);
        }
        Ok(())
    }
}

fn run(pauses: &[u64], timeout: Option<Duration>) -> Vec<String> {
    EVENTS.lock().unwrap().clear();
    let processor = Slow {
        pauses: pauses.iter().map(|ms| Duration::from_millis(*ms)).collect(),
    };
    let transcript = FakeDaemon::new("shardId-000000000042")
        .process_records([TestRecord::new("1", "x")])
        .run_with(Runner::new().daemon_timeout(timeout), processor);
    assert!(transcript.completed(), "{transcript}");
    EVENTS.lock().unwrap().clone()
}

#[test]
fn callbacks_close_to_the_daemons_timeout_are_reported_once() {
    tracing::subscriber::set_global_default(Capture).unwrap();
    let second = Some(Duration::from_secs(1));

    // 1.2 s without a message to the daemon: past 80% of 1 s, one warning naming the action and
    // the shard.
    let events = run(&[1200], second);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("processRecords has kept the daemon waiting"),
        "{events:?}"
    );
    assert!(events[0].contains("shardId-000000000042"), "{events:?}");

    // 1 s in all, but the checkpoint in the middle restarts the daemon's timer: 2 x 0.4 s.
    let events = run(&[400, 400], second);
    assert!(events.is_empty(), "{events:?}");

    // Without a timeout nothing is watched.
    let events = run(&[900], None);
    assert!(events.is_empty(), "{events:?}");
}
