//! The daemon's properties: a `java.util.Properties`-exact parser, the table of keys KCL 2.x and
//! 3.x read, settings from flags and the environment with the origin of each, the defaults of a
//! launch without a file, and the validator that reports traps with the origin of each.

mod context;
mod defaults;
mod diagnostic;
pub(crate) mod keys;
mod merge;
mod origin;
mod overrides;
mod parser;
mod redact;
mod validate;
mod writer;

pub(crate) use context::Context;
pub(crate) use defaults::defaults;
pub(crate) use diagnostic::{Diagnostic, Severity};
pub(crate) use merge::{canonical, effective};
pub(crate) use origin::Setting;
pub(crate) use overrides::{ENV_PREFIX, OverrideError, Shortcut, overrides};
pub use parser::{Entry, ParseError, parse};
pub(crate) use redact::{listed_value, shown_jvm_option};
pub(crate) use validate::validate;
pub(crate) use writer::properties_text;

/// Largest properties file accepted: real ones are a few KiB; validating 16 MiB takes well under
/// a second (see `tests/validation_speed.rs`), and beyond that memory, not time, is the concern.
pub(crate) const MAX_PROPERTIES_BYTES: u64 = 16 * 1024 * 1024;
