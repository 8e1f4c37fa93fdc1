//! What the supervisor is asked to do: the `--supervise` flags, and the properties it needs.

use std::time::Duration;

use super::backoff::RestartLimits;

/// When the supervisor starts the daemon again (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RestartPolicy {
    // kcl-bootstrap exits with the daemon's status. (Plain comments: doc comments on the
    // variants would turn `--help` into its long form.)
    Never,
    // When the daemon exits with a non-zero status or is killed by a signal, unless a signal to
    // kcl-bootstrap asked for the stop.
    OnFailure,
    // Whenever the daemon exits, unless a signal to kcl-bootstrap asked for the stop.
    Always,
}

/// The worker's log format in supervised mode (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    // The daemon's lines as they are, on stdout and stderr.
    Text,
    // One JSON object per line on stdout.
    Json,
}

/// The daemon's `shutdownGraceMillis` when the properties do not set it (KCL 3.1.3
/// `MultiLangDaemonConfiguration`: a `long` field without a default, so 0).
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::ZERO;

/// Everything the supervisor needs besides the command.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) restart: RestartPolicy,
    pub(crate) limits: RestartLimits,
    pub(crate) format: LogFormat,
    /// The daemon's `shutdownGraceMillis`.
    pub(crate) shutdown_grace: Duration,
    pub(crate) quiet: bool,
}

impl Options {
    /// The options of `cli`, with the properties' `shutdownGraceMillis` value if set.
    pub(crate) fn new(cli: &crate::Cli, shutdown_grace_millis: Option<&str>) -> Options {
        let shutdown_grace = shutdown_grace_millis
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_SHUTDOWN_GRACE, Duration::from_millis);
        Options {
            restart: cli.restart,
            limits: RestartLimits::new(
                cli.max_restarts,
                cli.restart_window,
                cli.restart_delay,
                cli.restart_delay_max,
            ),
            format: cli.log_format,
            shutdown_grace,
            quiet: cli.quiet,
        }
    }
}
