//! How a callback failed, and how failures are shown in log lines.

use crate::checkpoint::CheckpointError;
use crate::processor::BoxError;

/// What went wrong in a callback, after retries.
pub(crate) enum Failure {
    Error(BoxError),
    Panic(String),
}

impl Failure {
    /// Whether the error is (or was caused by) a checkpoint refused with `ShutdownException`.
    pub(crate) fn is_lease_refusal(&self) -> bool {
        let Failure::Error(error) = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(error) = cause {
            if matches!(
                error.downcast_ref::<CheckpointError>(),
                Some(CheckpointError::Shutdown)
            ) {
                return true;
            }
            cause = error.source();
        }
        false
    }
}

/// The failure for a log line: the error with its causes, or the panic message.
pub(crate) fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Error(error) => Chain(error.as_ref()).to_string(),
        Failure::Panic(message) => format!("panic: {message}"),
    }
}

/// An error and each of its causes, once each, joined with `": "` (for log lines; the errors
/// themselves do not repeat their source).
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The message a panic carried.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
