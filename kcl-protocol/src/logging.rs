//! Logging for processors: a [`tracing`] subscriber on stderr or a file, with the shard id on
//! every line.
//!
//! Never log to stdout in a processor: stdout is the protocol channel (the library guards it on
//! Unix, but a log on stdout is still a log in the wrong place). The daemon reads the child's
//! stderr and logs every line at ERROR level as `Received error line from subprocess [...]`, and
//! echoes it to its own stderr; a file ([`init_to_file`]) keeps processor logs out of the daemon's
//! log.
//!
//! The level comes from `RUST_LOG` (default `info`), in the `target=level,level` form, e.g.
//! `RUST_LOG=info,my_processor=debug,kcl_protocol=warn`. Span and field filters (`[span{f=1}]`)
//! are not supported; an unparsable `RUST_LOG` falls back to `info` with a warning on stderr.
//!
//! The engine runs every callback inside a `shard{id=...}` span, so lines from the processor's
//! thread read `... INFO shard{id=shardId-000000000001}: my_processor: message`; lines from other
//! threads get a `[shardId-000000000001]` prefix instead.
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
    use std::fmt;
    use std::fs::OpenOptions;
    use std::path::Path;
    use std::sync::Mutex;

    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
    use tracing_subscriber::fmt::{FmtContext, MakeWriter};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::{Layer, Registry};

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
        install(std::io::stderr)
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
        install(Mutex::new(file))
    }

    fn filter_from_env() -> Targets {
        let default = Targets::new().with_default(Level::INFO);
        match std::env::var("RUST_LOG") {
            Ok(spec) if !spec.trim().is_empty() => spec.parse().unwrap_or_else(|error| {
                // stderr, never stdout: stdout is the protocol channel.
                eprintln!("kcl-protocol: ignoring RUST_LOG={spec:?} ({error}); logging at info");
                default
            }),
            _ => default,
        }
    }

    fn install<W>(writer: W) -> Result<(), InitError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .event_format(WithShardId(format::format()))
            .with_filter(filter_from_env());
        let subscriber = Registry::default().with(layer);
        tracing::subscriber::set_global_default(subscriber).map_err(InitError::AlreadyInstalled)
    }

    /// Prefixes `[shard id]` to events that are not inside the engine's `shard` span (which
    /// already names the shard), e.g. events from the processor's own threads.
    struct WithShardId<F>(F);

    impl<S, N, F> FormatEvent<S, N> for WithShardId<F>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
        F: FormatEvent<S, N>,
    {
        fn format_event(
            &self,
            context: &FmtContext<'_, S, N>,
            mut writer: format::Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let in_shard_span = context.event_scope().is_some_and(|scope| {
                scope.from_root().any(|span| {
                    span.name() == "shard" && span.metadata().target().starts_with("kcl_protocol")
                })
            });
            if let (false, Some(shard_id)) = (in_shard_span, super::shard_id()) {
                write!(writer, "[{shard_id}] ")?;
            }
            self.0.format_event(context, writer, event)
        }
    }
}
