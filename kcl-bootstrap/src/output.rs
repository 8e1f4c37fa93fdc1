//! Messages on stderr that can neither panic nor stall the bootstrap.
//!
//! `eprintln!` panics when stderr is a closed pipe and blocks for as long as a full pipe is not
//! read, which would hold the cache lock and stop every other bootstrap. So lines go through a
//! bounded queue to one writer thread that ignores write errors; when the queue is full (nobody
//! reads stderr), further lines are dropped rather than waited for. [`flush`] waits, for a bounded
//! time, until the queued lines are written; it is called before exiting and before `exec`.

use std::io::{self, Write};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines that may wait for a slow stderr before new ones are dropped.
const QUEUE_LINES: usize = 4096;

/// Bounded wait for queued lines at exit and before `exec`.
pub(crate) const FLUSH_BOUND: Duration = Duration::from_secs(2);

/// Writes `kcl-bootstrap: {message}` to stderr.
pub(crate) fn say(message: &str) {
    line(format!("kcl-bootstrap: {message}"));
}

/// Writes one line to stderr as is.
pub(crate) fn line(text: String) {
    global().push(text);
}

/// Waits until every queued line was written, or `bound` passed.
pub(crate) fn flush(bound: Duration) {
    // Nothing written, no writer thread: a silent warm start does not start one.
    if let Some(sink) = SINK.get() {
        sink.flush(bound);
    }
}

static SINK: OnceLock<Sink> = OnceLock::new();

fn global() -> &'static Sink {
    SINK.get_or_init(|| Sink::new(|| Box::new(io::stderr())))
}

#[derive(Default)]
struct Counts {
    /// Lines queued and not yet written.
    pending: usize,
    /// Lines dropped because the queue was full.
    dropped: usize,
}

struct Shared {
    counts: Mutex<Counts>,
    drained: Condvar,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        if let Ok(mut counts) = self.counts.lock() {
            change(&mut counts);
            if counts.pending == 0 {
                self.drained.notify_all();
            }
        }
    }
}

/// A queue of lines and the thread that writes them.
struct Sink {
    sender: Option<SyncSender<String>>,
    shared: Arc<Shared>,
    /// Used directly when no writer thread could be started.
    fallback: Mutex<Box<dyn Write + Send>>,
}

impl Sink {
    fn new(open: impl Fn() -> Box<dyn Write + Send>) -> Sink {
        let shared = Arc::new(Shared {
            counts: Mutex::new(Counts::default()),
            drained: Condvar::new(),
        });
        let (sender, receiver) = mpsc::sync_channel::<String>(QUEUE_LINES);
        let mut out = open();
        let thread_shared = shared.clone();
        let started = std::thread::Builder::new()
            .name("kcl-bootstrap-stderr".into())
            .spawn(move || {
                for text in receiver {
                    // A closed or broken stderr must not stop the bootstrap: errors are ignored.
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.write_all(b"\n");
                    let _ = out.flush();
                    thread_shared.update(|c| c.pending -= 1);
                }
            })
            .is_ok();
        Sink {
            sender: started.then_some(sender),
            shared,
            fallback: Mutex::new(open()),
        }
    }

    fn push(&self, text: String) {
        let Some(sender) = &self.sender else {
            if let Ok(mut out) = self.fallback.lock() {
                let _ = writeln!(out, "{text}");
            }
            return;
        };
        self.shared.update(|c| c.pending += 1);
        match sender.try_send(text) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.update(|c| {
                    c.pending -= 1;
                    c.dropped += 1;
                });
            }
        }
    }

    fn flush(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        let Ok(mut counts) = self.shared.counts.lock() else {
            return;
        };
        while counts.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.shared.drained.wait_timeout(counts, left) {
                Ok((guard, _)) => counts = guard,
                Err(_) => return,
            }
        }
    }

    #[cfg(test)]
    fn dropped(&self) -> usize {
        self.shared.counts.lock().map_or(0, |c| c.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A stderr that nobody reads: every write blocks until released.
    struct Stuck(Arc<AtomicBool>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while !self.0.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_stuck_stderr_neither_blocks_nor_grows_without_bound() {
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let sink = Sink::new(move || Box::new(Stuck(r.clone())));
        let start = Instant::now();
        for i in 0..(QUEUE_LINES * 3) {
            sink.push(format!("line {i}"));
        }
        assert!(start.elapsed() < Duration::from_secs(5), "push blocked");
        assert!(sink.dropped() >= QUEUE_LINES, "{}", sink.dropped());
        let start = Instant::now();
        sink.flush(Duration::from_millis(200));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5));
        release.store(true, Ordering::Relaxed);
        sink.flush(Duration::from_secs(30));
        assert_eq!(sink.shared.counts.lock().unwrap().pending, 0);
    }

    #[test]
    fn a_broken_stderr_is_ignored() {
        let sink = Sink::new(|| Box::new(Broken));
        for i in 0..100 {
            sink.push(format!("line {i}"));
        }
        sink.flush(Duration::from_secs(30));
        assert_eq!(sink.shared.counts.lock().unwrap().pending, 0);
        assert_eq!(sink.dropped(), 0);
    }
}
