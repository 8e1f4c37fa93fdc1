//! Where a setting comes from: a line of the properties file, a flag, an environment variable,
//! or one of the defaults of a launch without a file. Every finding names it.

use super::parser::Entry;
use crate::display::shown_whole;
use std::fmt;

/// Where one setting comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A 1-based line of the properties file.
    Line(usize),
    /// A command-line flag: `--set`, or a shortcut such as `--stream`.
    Flag(&'static str),
    /// An environment variable, by name (`KCL_PROPERTY_...`).
    Env(String),
    /// A default that kcl-bootstrap supplies when no properties file is given.
    Default,
}

impl Origin {
    /// How the origin opens a finding, before `: error: ...`: `app.properties:3`, `--set`,
    /// `KCL_PROPERTY_MAX_RECORDS`, `kcl-bootstrap default`.
    pub(crate) fn place(&self, file_label: &str) -> String {
        match self {
            Origin::Line(line) => format!("{file_label}:{line}"),
            Origin::Flag(flag) => (*flag).to_string(),
            Origin::Env(name) => shown_whole(name),
            Origin::Default => "kcl-bootstrap default".into(),
        }
    }

    /// True for the sources that override the file (flags and environment variables).
    pub(crate) fn is_override(&self) -> bool {
        matches!(self, Origin::Flag(_) | Origin::Env(_))
    }

    /// The source kind, for deciding when a shadowed setting is worth a warning: a key given
    /// twice in the file or twice with `--set` probably is a mistake, one overridden by a flag
    /// is the point of the flag.
    pub(crate) fn same_source(&self, other: &Origin) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// In a message about another setting: `line 7`, `--set`, `KCL_PROPERTY_STREAM_ARN`.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(line) => write!(f, "line {line}"),
            other => f.write_str(&other.place("")),
        }
    }
}

/// One `key = value` with its origin: what the validator checks and the effective file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The key, exactly as the daemon will see it.
    pub(crate) key: String,
    /// The value, exactly as the daemon will see it.
    pub(crate) value: String,
    /// Where it comes from.
    pub(crate) origin: Origin,
}

impl Setting {
    /// A setting from `origin`.
    pub(crate) fn new(key: String, value: String, origin: Origin) -> Setting {
        Setting { key, value, origin }
    }

    /// The settings of a parsed file, each with its line.
    pub(crate) fn from_file(entries: Vec<Entry>) -> Vec<Setting> {
        entries
            .into_iter()
            .map(|e| Setting::new(e.key, e.value, Origin::Line(e.line)))
            .collect()
    }

    /// The file line, if the setting comes from the file.
    pub(crate) fn line(&self) -> Option<usize> {
        match self.origin {
            Origin::Line(line) => Some(line),
            _ => None,
        }
    }
}
