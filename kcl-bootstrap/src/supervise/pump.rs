//! Reading the JVM's stdout and stderr: one thread per stream splits it into lines, writes each
//! to the worker's log, hands it to the observers, and keeps what the supervisor's messages quote
//! (the last lines, the last error a child logged, whether the shutdown hook reported an error).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::events::{Event, Observers};
use super::lines::{Level, LineParser, LogLine, Source, Stream};
use super::render::Output;

/// Longest line kept whole; a longer one is split (a child printing a huge blob without a line
/// end must not grow our memory without bound).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Lines kept for the messages about an early exit.
const TAIL_LINES: usize = 12;

/// What KCL's `Scheduler` logs when it starts processing.
const SCHEDULER_STARTED: &str = "Initialization complete. Starting worker loop.";

/// What the daemon's shutdown hook logs when the graceful shutdown did not complete in time
/// (KCL 3.1.3 `MultiLangDaemon.setupShutdownHook`).
const SHUTDOWN_ERROR: &str = "Encountered an error during shutdown.";

/// What one run of the daemon showed, for the supervisor's messages and decisions.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// The last lines, both streams.
    pub(crate) tail: VecDeque<String>,
    /// The last ERROR line of a child: `[shard] target: message` or the raw line.
    pub(crate) last_child_error: Option<String>,
    /// Whether the daemon reported that its graceful shutdown failed or timed out.
    pub(crate) shutdown_error: bool,
}

impl Seen {
    fn note(&mut self, raw: &str, line: &LogLine) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(raw.to_string());
        if line.source() == Source::Child && line.level() == Level::Error {
            let shard = line.shard().map(|s| format!("[{s}] ")).unwrap_or_default();
            let target = line.logger().map(|t| format!("{t}: ")).unwrap_or_default();
            self.last_child_error = Some(format!("{shard}{target}{}", line.message()));
        }
        if line.source() == Source::Daemon && line.message().contains(SHUTDOWN_ERROR) {
            self.shutdown_error = true;
        }
    }
}

/// The reader threads of one run.
pub(crate) struct Pumps {
    seen: Arc<Mutex<Seen>>,
    done: Receiver<()>,
    running: usize,
}

impl Pumps {
    /// Starts reading the JVM `pid`'s two streams.
    pub(crate) fn start(
        pid: u32,
        stdout: impl Read + Send + 'static,
        stderr: impl Read + Send + 'static,
        output: &Arc<Output>,
        observers: &Observers,
    ) -> Pumps {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (sender, done) = mpsc::channel();
        let mut running = 0;
        let streams: [(Stream, Box<dyn Read + Send>); 2] = [
            (Stream::Stdout, Box::new(stdout)),
            (Stream::Stderr, Box::new(stderr)),
        ];
        for (stream, pipe) in streams {
            let (seen, output, observers, sender) = (
                seen.clone(),
                output.clone(),
                observers.clone(),
                sender.clone(),
            );
            let started = std::thread::Builder::new()
                .name("kcl-bootstrap-log".into())
                .spawn(move || {
                    let mut reader = Reader {
                        pid,
                        stream,
                        parser: LineParser::new(stream),
                        seen,
                        output,
                        observers,
                    };
                    reader.read_all(pipe);
                    let _ = sender.send(());
                });
            running += usize::from(started.is_ok());
        }
        Pumps {
            seen,
            done,
            running,
        }
    }

    /// What was seen so far.
    pub(crate) fn seen(&self) -> Seen {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until both streams ended (every process holding them exited), for at most `bound`;
    /// a reader still blocked after that is left behind (harmless: it ends with this process).
    pub(crate) fn finish(&mut self, bound: Duration) {
        let deadline = Instant::now() + bound;
        while self.running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                return;
            }
            self.running -= 1;
        }
    }
}

struct Reader {
    pid: u32,
    stream: Stream,
    parser: LineParser,
    seen: Arc<Mutex<Seen>>,
    output: Arc<Output>,
    observers: Observers,
}

impl Reader {
    fn read_all(&mut self, pipe: impl Read) {
        let mut reader = BufReader::with_capacity(MAX_LINE_BYTES, pipe);
        let mut line = Vec::new();
        loop {
            let available = match reader.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(bytes) => bytes,
            };
            let room = MAX_LINE_BYTES - line.len();
            match available.iter().take(room).position(|b| *b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&available[..end]);
                    reader.consume(end + 1);
                    self.line(&line);
                    line.clear();
                }
                None => {
                    let take = available.len().min(room);
                    line.extend_from_slice(&available[..take]);
                    reader.consume(take);
                    if line.len() >= MAX_LINE_BYTES {
                        self.line(&line);
                        line.clear();
                    }
                }
            }
        }
        if !line.is_empty() {
            self.line(&line);
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes);
        let parsed = self.parser.parse(&text);
        self.output.daemon_line(self.stream, bytes, &parsed);
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .note(&text, &parsed);
        self.observers.emit(&Event::Line {
            pid: self.pid,
            line: &parsed,
        });
        if parsed.source() == Source::Daemon && parsed.message().contains(SCHEDULER_STARTED) {
            self.observers
                .emit(&Event::SchedulerStarted { pid: self.pid });
        }
    }
}
