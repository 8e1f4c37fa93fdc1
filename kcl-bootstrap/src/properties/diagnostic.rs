//! One finding of the validator, and how it is printed.

use super::origin::Origin;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// Works, but probably not as intended.
    Warning,
    /// The daemon would fail or silently misbehave: launch refused.
    Error,
}

/// One finding. Its message already shows any text from the settings display-safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// Error or warning.
    pub(crate) severity: Severity,
    /// Where the setting comes from, or `None` for findings about the whole configuration
    /// (e.g. a missing key).
    pub(crate) origin: Option<Origin>,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

impl Diagnostic {
    /// An error about the setting from `origin`.
    pub(crate) fn error(origin: Option<Origin>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            origin,
            message,
        }
    }

    /// A warning about the setting from `origin`.
    pub(crate) fn warning(origin: Option<Origin>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            origin,
            message,
        }
    }

    /// The file line the finding is about, if it is about one.
    #[cfg(test)]
    pub(crate) fn line(&self) -> Option<usize> {
        match self.origin {
            Some(Origin::Line(line)) => Some(line),
            _ => None,
        }
    }

    /// Sort key: whole-configuration findings first, then file lines in order, then the rest
    /// (defaults, environment, flags) in the order they were found.
    pub(crate) fn order(&self) -> (u8, usize) {
        match &self.origin {
            None => (0, 0),
            Some(Origin::Line(line)) => (1, *line),
            Some(Origin::Default) => (2, 0),
            Some(Origin::Env(_)) => (3, 0),
            Some(Origin::Flag(_)) => (4, 0),
        }
    }

    /// Formats as `origin: error: message`, where the origin is `file:line`, the flag, the
    /// variable, or `file_label` alone for whole-configuration findings.
    pub(crate) fn render(&self, file_label: &str) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.origin {
            Some(origin) => format!("{}: {sev}: {}", origin.place(file_label), self.message),
            None => format!("{file_label}: {sev}: {}", self.message),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
