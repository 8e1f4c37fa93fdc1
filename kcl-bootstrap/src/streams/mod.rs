//! `--dynamodb-streams`: the daemon for a DynamoDB table's change stream.
//!
//! The stock MultiLangDaemon only reads Kinesis. In this mode kcl-bootstrap launches the same
//! multilang machinery with Amazon's DynamoDB Streams Kinesis Adapter instead:
//!
//! - the jars come from the built-in streams lock (`locks/ddb-streams/`, written by
//!   `scripts/update-lock VERSION --ddb-streams ADAPTER`): the multilang closure plus the adapter;
//! - the main class is kcl-bootstrap's own Java launcher ([`launcher`]), compiled at first use;
//! - the properties file is the daemon's, with `dynamoDBStreamArn` naming the stream in place
//!   of `streamName`/`streamArn` ([`rules`] checks what applies).
//!
//! The record processor is unchanged: it receives each stream record as the adapter serializes
//! it (JSON), the typed view being `kcl_protocol::ddb` (docs/ddb-streams.md).

pub(crate) mod launcher;
mod rules;

pub(crate) use rules::check;

use crate::lock::{Lock, LockError};

/// The built-in streams lock.
const LOCK_TEXT: &str = include_str!("../../locks/ddb-streams/3.1.3-ddb-streams-2.0.1.lock");

/// The key naming the stream (the launcher's `STREAM_ARN_KEY`).
pub(crate) const STREAM_ARN_KEY: &str = "dynamoDBStreamArn";

/// The optional DynamoDB Streams endpoint (the launcher's `STREAMS_ENDPOINT_KEY`).
pub(crate) const STREAMS_ENDPOINT_KEY: &str = "dynamoDBStreamsEndpoint";

/// Why the streams mode cannot launch.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamsError {
    /// The built-in lock does not parse: the build is broken.
    #[error("the built-in DynamoDB Streams lock is broken (a bug in this build)")]
    BrokenLock(#[source] LockError),
    /// The launcher could not be compiled or cached.
    #[error(transparent)]
    Launcher(#[from] launcher::LauncherError),
    /// Settings that do not apply to a DynamoDB stream.
    #[error("{count} setting error(s) for --dynamodb-streams (see above)")]
    Settings {
        /// How many.
        count: usize,
    },
}

impl StreamsError {
    /// The exit code (the table in `docs/bootstrap.md`): properties 3, Java 4, jars/cache 5.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            StreamsError::BrokenLock(_) => crate::error::code::INTERNAL,
            StreamsError::Settings { .. } => crate::error::code::PROPERTIES,
            StreamsError::Launcher(launcher::LauncherError::Cache { .. }) => {
                crate::error::code::JARS
            }
            StreamsError::Launcher(_) => crate::error::code::JAVA,
        }
    }
}

/// The built-in streams lock.
pub(crate) fn lock() -> Result<Lock, StreamsError> {
    Lock::parse(LOCK_TEXT).map_err(StreamsError::BrokenLock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lock_holds_the_adapter_the_daemon_and_the_launcher_keys() {
        let lock = lock().unwrap();
        assert!(lock.kcl_version.starts_with("3.1.3-ddb-streams-"));
        let has = |artifact: &str| lock.jars.iter().any(|j| j.coordinates.contains(artifact));
        assert!(has("com.amazonaws:dynamodb-streams-kinesis-adapter:"));
        assert!(has(
            "software.amazon.kinesis:amazon-kinesis-client-multilang:3.1.3"
        ));
        assert!(has("software.amazon.kinesis:amazon-kinesis-client:3.1.3"));
        for key in [STREAM_ARN_KEY, STREAMS_ENDPOINT_KEY] {
            assert!(lock.settings.iter().any(|(k, _)| k == key), "{key}");
            // The Java launcher reads the same names.
            assert!(launcher::SOURCE.contains(&format!("\"{key}\"")), "{key}");
        }
    }
}
