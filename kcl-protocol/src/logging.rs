//! Logging for processors: a small [`tracing`] subscriber that writes one line per event to
//! stderr or a file, with the shard id on every line.
//!
//! Never log to stdout in a processor: stdout is the protocol channel (the library guards it on
//! Unix, but a log on stdout is still a log in the wrong place). The daemon reads the child's
//! stderr and logs every line at ERROR level as `Received error line from subprocess [...]`, and
//! echoes it to its own stderr; a file ([`init_to_file`]) keeps processor logs out of the daemon's
//! log.
//!
//! Lines look like this (UTC time, level, shard, target, message, fields):
//!
//! ```text
//! 2026-11-21T22:09:42.186Z  INFO [shardId-000000000001] my_processor: batch done records=500
//! ```
//!
//! The level comes from `RUST_LOG` (default `info`), in the `target=level,level` form, e.g.
//! `RUST_LOG=info,my_processor=debug,kcl_protocol=warn`; the longest matching target wins. An
//! unparsable `RUST_LOG` falls back to `info` with a warning on stderr.
//!
//! The subscriber is deliberately small: it keeps no span state (span fields are not printed), so
//! it costs next to nothing in a process that runs once per shard. For span fields, JSON output or
//! other sinks, install any `tracing` subscriber instead (e.g. `tracing-subscriber`); the library's
//! events work with all of them, and the engine runs each callback inside a `shard{id=...}` span.
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     kcl_protocol::logging::init()?;
//!     tracing::info!("starting");
//!     # Ok(())
//! }
//! ```

/// The shard this process handles, once the daemon's `initialize` has arrived.
///
/// One child process handles one shard, so this is process-wide.
pub fn shard_id() -> Option<&'static str> {
    crate::engine::current_shard_id()
}

#[cfg(feature = "logging")]
pub use subscriber::{InitError, init, init_to_file};

#[cfg(feature = "logging")]
mod subscriber {
    use std::fmt::{self, Write as _};
    use std::fs::{File, OpenOptions};
    use std::io::Write as _;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    use tracing::field::{Field, Visit};
    use tracing::level_filters::LevelFilter;
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Metadata, Subscriber};

    /// Why [`init`] or [`init_to_file`] failed.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum InitError {
        /// The log file could not be opened for appending.
        #[error("cannot open the log file {path}: {source}")]
        File {
            /// The path given.
            path: String,
            /// The I/O error.
            #[source]
            source: std::io::Error,
        },
        /// A global `tracing` subscriber was already installed (call `init` only once).
        #[error("a global tracing subscriber is already installed: {0}")]
        AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
    }

    /// Installs a global subscriber writing to stderr, filtered by `RUST_LOG` (default `info`).
    pub fn init() -> Result<(), InitError> {
        install(Sink::Stderr)
    }

    /// Installs a global subscriber appending to the file at `path` (created if missing), filtered
    /// by `RUST_LOG` (default `info`).
    pub fn init_to_file(path: impl AsRef<Path>) -> Result<(), InitError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| InitError::File {
                path: path.display().to_string(),
                source,
            })?;
        install(Sink::File(Mutex::new(file)))
    }

    fn install(sink: Sink) -> Result<(), InitError> {
        let filter = match std::env::var("RUST_LOG") {
            Ok(spec) if !spec.trim().is_empty() => Filter::parse(&spec).unwrap_or_else(|error| {
                // stderr, never stdout: stdout is the protocol channel.
                eprintln!("kcl-protocol: ignoring RUST_LOG={spec:?} ({error}); logging at info");
                Filter::default()
            }),
            _ => Filter::default(),
        };
        let logger = LineLogger {
            filter,
            sink,
            next_span: AtomicU64::new(1),
        };
        tracing::subscriber::set_global_default(logger).map_err(InitError::AlreadyInstalled)
    }

    /// `RUST_LOG` directives: a default level and per-target levels.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) struct Filter {
        default: LevelFilter,
        /// (target prefix, level); the longest matching prefix wins.
        targets: Vec<(String, LevelFilter)>,
    }

    impl Default for Filter {
        fn default() -> Self {
            Filter {
                default: LevelFilter::INFO,
                targets: Vec::new(),
            }
        }
    }

    impl Filter {
        pub(super) fn parse(spec: &str) -> Result<Filter, String> {
            let mut filter = Filter::default();
            for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                match directive.split_once('=') {
                    Some((target, level)) => {
                        let level = level
                            .trim()
                            .parse::<LevelFilter>()
                            .map_err(|_| format!("{level:?} is not a level"))?;
                        let target = target.trim();
                        if target.is_empty() || target.contains(['[', '{', ' ']) {
                            return Err(format!("unsupported directive {directive:?}"));
                        }
                        filter.targets.push((target.to_owned(), level));
                    }
                    None => match directive.parse::<LevelFilter>() {
                        Ok(level) => filter.default = level,
                        // A bare target enables everything for it, as env_logger does.
                        Err(_) if !directive.contains(['[', '{', ' ']) => filter
                            .targets
                            .push((directive.to_owned(), LevelFilter::TRACE)),
                        Err(_) => return Err(format!("unsupported directive {directive:?}")),
                    },
                }
            }
            Ok(filter)
        }

        fn level_for(&self, target: &str) -> LevelFilter {
            self.targets
                .iter()
                .filter(|(prefix, _)| {
                    target == prefix
                        || (target.starts_with(prefix.as_str())
                            && target[prefix.len()..].starts_with("::"))
                })
                .max_by_key(|(prefix, _)| prefix.len())
                .map_or(self.default, |(_, level)| *level)
        }

        pub(super) fn enabled(&self, target: &str, level: &Level) -> bool {
            self.level_for(target) >= *level
        }

        fn max(&self) -> LevelFilter {
            self.targets
                .iter()
                .map(|(_, level)| *level)
                .fold(self.default, LevelFilter::max)
        }
    }

    enum Sink {
        Stderr,
        File(Mutex<File>),
    }

    struct LineLogger {
        filter: Filter,
        sink: Sink,
        next_span: AtomicU64,
    }

    impl Subscriber for LineLogger {
        fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
            if self.enabled(metadata) {
                Interest::always()
            } else {
                Interest::never()
            }
        }

        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            self.filter.enabled(metadata.target(), metadata.level())
        }

        fn max_level_hint(&self) -> Option<LevelFilter> {
            Some(self.filter.max())
        }

        // Spans only need distinct ids here: no span state is kept.
        fn new_span(&self, _span: &Attributes<'_>) -> Id {
            Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
        }

        fn record(&self, _span: &Id, _values: &Record<'_>) {}

        fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let line = format_line(SystemTime::now(), event, super::shard_id());
            // One write per line (stderr is unbuffered), so lines from threads do not interleave.
            let _ = match &self.sink {
                Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
                Sink::File(file) => file
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .write_all(line.as_bytes()),
            };
        }

        fn enter(&self, _span: &Id) {}

        fn exit(&self, _span: &Id) {}
    }

    /// Collects an event's message and its other fields.
    #[derive(Default)]
    struct Fields {
        message: String,
        rest: String,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message.push_str(value);
            } else {
                let _ = write!(self.rest, " {}={value:?}", field.name());
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            } else {
                let _ = write!(self.rest, " {}={value:?}", field.name());
            }
        }
    }

    /// `2026-11-21T22:09:42.186Z  INFO [shard] target: message fields\n`; every continuation
    /// line of a multi-line message carries the shard id too.
    fn format_line(now: SystemTime, event: &Event<'_>, shard_id: Option<&str>) -> String {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(64 + fields.message.len() + fields.rest.len());
        write_timestamp(&mut line, now);
        let _ = write!(line, " {:>5} ", metadata.level());
        let prefix = shard_id.map(|id| format!("[{id}] ")).unwrap_or_default();
        line.push_str(&prefix);
        let _ = write!(line, "{}: ", metadata.target());
        let body = format!("{}{}", fields.message, fields.rest);
        let mut pieces = body.split('\n');
        line.push_str(pieces.next().unwrap_or_default());
        for piece in pieces {
            line.push('\n');
            line.push_str(&prefix);
            line.push_str(piece);
        }
        line.push('\n');
        line
    }

    /// RFC 3339 UTC with milliseconds, without a date library.
    fn write_timestamp(out: &mut String, now: SystemTime) {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since_epoch.as_secs();
        let (days, of_day) = (seconds / 86_400, seconds % 86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        let _ = write!(
            out,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60,
            since_epoch.subsec_millis()
        );
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;

        #[test]
        fn rust_log_directives() {
            let filter =
                Filter::parse("warn,my_app=debug,my_app::noisy=error,kcl_protocol").unwrap();
            assert!(filter.enabled("my_app", &Level::DEBUG));
            assert!(filter.enabled("my_app::db", &Level::DEBUG));
            assert!(!filter.enabled("my_app::noisy", &Level::WARN));
            assert!(filter.enabled("my_app::noisy::x", &Level::ERROR));
            assert!(!filter.enabled("my_application", &Level::INFO));
            assert!(filter.enabled("my_application", &Level::WARN));
            assert!(filter.enabled("kcl_protocol::engine", &Level::TRACE));
            assert_eq!(filter.max(), LevelFilter::TRACE);
            assert!(Filter::parse("info,x=loud").is_err());
            assert!(Filter::parse("x[span]=debug").is_err());
            assert_eq!(Filter::parse("").unwrap(), Filter::default());
            assert!(Filter::parse("off").unwrap().level_for("any") == LevelFilter::OFF);
        }

        #[test]
        fn timestamps_are_rfc3339_utc() {
            let mut out = String::new();
            write_timestamp(
                &mut out,
                UNIX_EPOCH + Duration::from_millis(1_476_889_707_123),
            );
            assert_eq!(out, "2016-10-19T15:08:27.123Z");
            out.clear();
            write_timestamp(&mut out, UNIX_EPOCH + Duration::from_secs(951_782_400)); // leap day
            assert_eq!(out, "2000-02-29T00:00:00.000Z");
        }
    }
}
