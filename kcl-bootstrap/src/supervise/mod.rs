//! `kcl-bootstrap --supervise`: the daemon as a child in a process group of its own, signals
//! forwarded, its output read (and rewritten as JSON with `--log-format json`), restarts with
//! back-off, and an exit status that says how it ended (docs/bootstrap.md, "Running in
//! production").
//!
//! - [`options`]: the flags and the properties the supervisor uses;
//! - [`run`]: the main loop (one run of the daemon after another);
//! - `process`: starting, signalling, reaping and cleaning up after the JVM (Unix);
//! - `signals`: the forwarded signals as channel messages;
//! - `pump`: the reader threads of the JVM's output;
//! - [`lines`]: parsing a line into level, source, shard and message;
//! - `render`: text or JSON output;
//! - `backoff`: the restart budget;
//! - [`events`]: the event feed for observers (metrics, health).

mod backoff;
pub(crate) mod events;
pub(crate) mod lines;
mod options;
#[cfg(unix)]
mod process;
#[cfg(unix)]
mod pump;
mod render;
#[cfg(unix)]
mod run;
#[cfg(unix)]
mod signals;

pub(crate) use options::Options;
pub use options::{LogFormat, RestartPolicy};
#[cfg(unix)]
pub(crate) use run::run;

/// kcl-bootstrap's exit code when it stopped restarting the daemon (`--max-restarts`).
pub(crate) const GAVE_UP: i32 = 8;
