//! Parsing the daemon's output, line by line, into level, source, shard and message.
//!
//! Two formats are recognised wherever they appear:
//!
//! - kcl-protocol's child lines (`kcl_protocol::logging`):
//!   `2026-11-21T22:09:42.186Z  INFO [shardId-000000000001] my_processor: batch done records=500`
//!   (the `[shard] ` part is missing before `initialize`); its continuation lines are
//!   `[shardId-000000000001] more text`;
//! - the daemon's lines in kcl-bootstrap's default logback pattern:
//!   `2026-12-02T05:00:00.123Z  INFO software.amazon.kinesis.coordinator.Scheduler [main] - text`.
//!
//! Any other line is a message of the stream it came on: the JVM's stdout carries the daemon's
//! logback output (thread dumps too), its stderr the children's lines (KCL prints each one there)
//! and the JVM's own crash output (a Java stack trace there is counted as the daemon's). Its
//! level is a level word among its first tokens (`ERROR`, `WARN`, `WARNING`, `INFO`, `DEBUG`,
//! `TRACE`), else ERROR for a Rust panic message, else INFO.

use std::collections::HashMap;

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// ERROR (FATAL too).
    Error,
    /// WARN.
    Warn,
    /// INFO.
    Info,
    /// DEBUG.
    Debug,
    /// TRACE.
    Trace,
}

impl Level {
    fn parse(word: &str) -> Option<Level> {
        match word.to_ascii_uppercase().as_str() {
            "ERROR" | "FATAL" => Some(Level::Error),
            "WARN" | "WARNING" => Some(Level::Warn),
            "INFO" => Some(Level::Info),
            "DEBUG" => Some(Level::Debug),
            "TRACE" => Some(Level::Trace),
            _ => None,
        }
    }

    /// The level as log processors spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// Who wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The daemon (the JVM).
    Daemon,
    /// A record processor (a shard's child process).
    Child,
    /// kcl-bootstrap itself.
    Supervisor,
}

impl Source {
    /// `daemon`, `child` or `supervisor`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Daemon => "daemon",
            Source::Child => "child",
            Source::Supervisor => "supervisor",
        }
    }
}

/// The JVM's output stream a line came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Its stdout.
    Stdout,
    /// Its stderr.
    Stderr,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    time: Option<String>,
    level: Level,
    source: Source,
    shard: Option<String>,
    logger: Option<String>,
    thread: Option<String>,
    message: String,
}

impl LogLine {
    /// A line of kcl-bootstrap's own.
    pub(crate) fn supervisor(level: Level, message: String) -> LogLine {
        LogLine {
            time: None,
            level,
            source: Source::Supervisor,
            shard: None,
            logger: None,
            thread: None,
            message,
        }
    }

    /// The time the line carries (RFC 3339, UTC), if any.
    pub(crate) fn time(&self) -> Option<&str> {
        self.time.as_deref()
    }

    /// Its level.
    pub(crate) fn level(&self) -> Level {
        self.level
    }

    /// Who wrote it.
    pub(crate) fn source(&self) -> Source {
        self.source
    }

    /// The shard, when the line names it.
    pub(crate) fn shard(&self) -> Option<&str> {
        self.shard.as_deref()
    }

    /// The daemon's logger or the child's `tracing` target.
    pub(crate) fn logger(&self) -> Option<&str> {
        self.logger.as_deref()
    }

    /// The daemon's thread.
    pub(crate) fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    /// The message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

/// Shards whose last level is remembered for continuation lines; a worker has far fewer.
const MAX_REMEMBERED_SHARDS: usize = 100_000;

/// Parses the lines of one stream.
#[derive(Debug)]
pub(crate) struct LineParser {
    stream: Stream,
    /// The level of each shard's last child line, for its continuation lines.
    last_level: HashMap<String, Level>,
}

impl LineParser {
    /// A parser for the lines of `stream`.
    pub(crate) fn new(stream: Stream) -> LineParser {
        LineParser {
            stream,
            last_level: HashMap::new(),
        }
    }

    /// Parses one line (without its line end).
    pub(crate) fn parse(&mut self, raw: &str) -> LogLine {
        if let Some(line) = timestamped(raw) {
            if let (Source::Child, Some(shard)) = (line.source, &line.shard) {
                if self.last_level.len() >= MAX_REMEMBERED_SHARDS {
                    self.last_level.clear();
                }
                self.last_level.insert(shard.clone(), line.level);
            }
            return line;
        }
        if let Some(line) = self.continuation(raw) {
            return line;
        }
        let java_trace = ["\tat ", "Caused by: ", "Exception in thread ", "\t... "]
            .iter()
            .any(|p| raw.starts_with(p));
        let (source, level) = match self.stream {
            Stream::Stderr if java_trace => (Source::Daemon, Level::Error),
            Stream::Stderr => (Source::Child, guess_level(raw)),
            Stream::Stdout => (Source::Daemon, guess_level(raw)),
        };
        LogLine {
            time: None,
            level,
            source,
            shard: None,
            logger: None,
            thread: None,
            message: raw.to_string(),
        }
    }

    /// `[shardId-...] text`: the rest of a multi-line child message.
    fn continuation(&self, raw: &str) -> Option<LogLine> {
        let rest = raw.strip_prefix("[shardId-")?;
        let (id, message) = rest.split_once("] ")?;
        let shard = format!("shardId-{id}");
        let level = self.last_level.get(&shard).copied().unwrap_or(Level::Info);
        Some(LogLine {
            time: None,
            level,
            source: Source::Child,
            shard: Some(shard),
            logger: None,
            thread: None,
            message: message.to_string(),
        })
    }
}

/// A line that starts with a time and a level, in one of the two known formats.
fn timestamped(raw: &str) -> Option<LogLine> {
    let (time, rest) = raw.split_once(' ')?;
    if !is_timestamp(time) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    let (level_word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let level = Level::parse(level_word)?;
    let mut line = LogLine {
        time: Some(time.to_string()),
        level,
        source: Source::Child,
        shard: None,
        logger: None,
        thread: None,
        message: String::new(),
    };
    if let Some((shard, target, message)) = child_fields(rest) {
        line.shard = shard.map(str::to_string);
        line.logger = Some(target.to_string());
        line.message = message.to_string();
    } else if let Some((logger, thread, message)) = daemon_fields(rest) {
        line.source = Source::Daemon;
        line.logger = Some(logger.to_string());
        line.thread = Some(thread.to_string());
        line.message = message.to_string();
    } else {
        return None;
    }
    Some(line)
}

/// `[shard] target: message` or `target: message`.
fn child_fields(rest: &str) -> Option<(Option<&str>, &str, &str)> {
    let (shard, rest) = match rest.strip_prefix('[') {
        Some(inner) => {
            let (shard, rest) = inner.split_once("] ")?;
            (Some(shard), rest)
        }
        None => (None, rest),
    };
    let (target, message) = match rest.split_once(": ") {
        Some(split) => split,
        None => (rest.strip_suffix(':')?, ""),
    };
    let plain = !target.is_empty() && !target.contains([' ', '\t', '[', ']']);
    plain.then_some((shard, target, message))
}

/// `logger [thread] - message`.
fn daemon_fields(rest: &str) -> Option<(&str, &str, &str)> {
    let (logger, rest) = rest.split_once(" [")?;
    if logger.is_empty() || logger.contains(' ') {
        return None;
    }
    let (thread, message) = match rest.split_once("] - ") {
        Some(split) => split,
        None => (rest.strip_suffix("] -")?, ""),
    };
    Some((logger, thread, message))
}

/// `2026-11-21T22:09:42.186Z`.
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 24
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// The level of a line in an unknown format: a level word among its first tokens, else ERROR
/// for a Rust panic message, else INFO.
fn guess_level(raw: &str) -> Level {
    let named = raw
        .split(|c: char| c.is_whitespace() || ":[]()<>|".contains(c))
        .filter(|t| !t.is_empty())
        .take(6)
        .find_map(Level::parse);
    match named {
        Some(level) => level,
        None if raw.contains("panicked at") => Level::Error,
        None => Level::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stream: Stream, raw: &str) -> LogLine {
        LineParser::new(stream).parse(raw)
    }

    #[test]
    fn kcl_protocol_lines_are_split_into_their_fields() {
        let line = parse(
            Stream::Stderr,
            "2026-11-21T22:09:42.186Z  INFO [shardId-000000000001] my_processor: batch done records=500",
        );
        assert_eq!(line.time(), Some("2026-11-21T22:09:42.186Z"));
        assert_eq!(line.level(), Level::Info);
        assert_eq!(line.source(), Source::Child);
        assert_eq!(line.shard(), Some("shardId-000000000001"));
        assert_eq!(line.logger(), Some("my_processor"));
        assert_eq!(line.message(), "batch done records=500");
        let early = parse(
            Stream::Stdout,
            "2026-11-21T22:09:42.186Z ERROR kcl_protocol::engine: cannot read: it's: gone",
        );
        assert_eq!(
            (early.level(), early.source(), early.shard()),
            (Level::Error, Source::Child, None)
        );
        assert_eq!(early.logger(), Some("kcl_protocol::engine"));
        assert_eq!(early.message(), "cannot read: it's: gone");
    }

    #[test]
    fn daemon_lines_in_the_default_pattern_are_split_into_their_fields() {
        let line = parse(
            Stream::Stdout,
            "2026-12-02T05:00:00.123Z  WARN software.amazon.kinesis.coordinator.Scheduler [multi lang-0] - a [b] - c: d",
        );
        assert_eq!(line.source(), Source::Daemon);
        assert_eq!(line.level(), Level::Warn);
        assert_eq!(
            line.logger(),
            Some("software.amazon.kinesis.coordinator.Scheduler")
        );
        assert_eq!(line.thread(), Some("multi lang-0"));
        assert_eq!(line.message(), "a [b] - c: d");
        assert_eq!(line.shard(), None);
    }

    #[test]
    fn continuation_lines_keep_the_shard_and_its_last_level() {
        let mut parser = LineParser::new(Stream::Stderr);
        parser.parse("2026-11-21T22:09:42.186Z  WARN [shardId-000000000002] p: first");
        let more = parser.parse("[shardId-000000000002] second");
        assert_eq!(
            (more.level(), more.source(), more.shard(), more.message()),
            (
                Level::Warn,
                Source::Child,
                Some("shardId-000000000002"),
                "second"
            )
        );
        let unknown = parser.parse("[shardId-000000000009] other");
        assert_eq!(unknown.level(), Level::Info);
    }

    #[test]
    fn other_lines_are_messages_of_their_stream() {
        let panic = parse(Stream::Stderr, "thread 'main' panicked at src/main.rs:3:5:");
        assert_eq!(
            (panic.source(), panic.level()),
            (Source::Child, Level::Error)
        );
        let python = parse(Stream::Stderr, "WARNING:root:slow batch");
        assert_eq!(python.level(), Level::Warn);
        let plain = parse(Stream::Stderr, "hello [x] world");
        assert_eq!(
            (plain.level(), plain.message()),
            (Level::Info, "hello [x] world")
        );
        let trace = parse(
            Stream::Stderr,
            "\tat java.base/java.lang.Thread.run(Thread.java:1583)",
        );
        assert_eq!(
            (trace.source(), trace.level()),
            (Source::Daemon, Level::Error)
        );
        let dump = parse(Stream::Stdout, "\"main\" #1 prio=5 os_prio=0 tid=0x1");
        assert_eq!((dump.source(), dump.level()), (Source::Daemon, Level::Info));
        // Not a timestamp, not a level, not a target: all messages.
        for raw in [
            "2026-11-21T22:09:42Z INFO p: x",
            "2026-11-21T22:09:42.186Z LOUD p: x",
            "2026-11-21T22:09:42.186Z INFO two words: x",
            "",
        ] {
            let line = parse(Stream::Stderr, raw);
            assert_eq!((line.time(), line.message()), (None, raw), "{raw}");
        }
    }
}
