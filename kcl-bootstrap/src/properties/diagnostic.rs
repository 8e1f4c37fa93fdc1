//! One finding of the validator, and how it is printed.

use crate::display::shown_path;
use std::fmt;
use std::path::Path;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// Works, but probably not as intended.
    Warning,
    /// The daemon would fail or silently misbehave: launch refused.
    Error,
}

/// One finding. Its message already shows any text from the file display-safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// Error or warning.
    pub(crate) severity: Severity,
    /// 1-based line, or `None` for whole-file findings (e.g. a missing key).
    pub(crate) line: Option<usize>,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

impl Diagnostic {
    /// An error on `line`.
    pub(crate) fn error(line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            line,
            message,
        }
    }

    /// A warning on `line`.
    pub(crate) fn warning(line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            line,
            message,
        }
    }

    /// Formats as `file:line: error: message`.
    pub(crate) fn render(&self, file: &Path) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let file = shown_path(file);
        match self.line {
            Some(line) => format!("{file}:{line}: {sev}: {}", self.message),
            None => format!("{file}: {sev}: {}", self.message),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
