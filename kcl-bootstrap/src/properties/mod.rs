//! The daemon's properties file: a `java.util.Properties`-exact parser, the table of keys KCL
//! 2.x and 3.x read, and the validator that reports traps with line numbers.

mod context;
mod diagnostic;
pub(crate) mod keys;
mod parser;
mod validate;

pub(crate) use context::Context;
pub(crate) use diagnostic::{Diagnostic, Severity};
pub use parser::{Entry, ParseError, parse};
pub(crate) use validate::validate;

/// Largest properties file accepted: real ones are a few KiB; validating 16 MiB takes well under
/// a second (see `tests/validation_speed.rs`), and beyond that memory, not time, is the concern.
pub(crate) const MAX_PROPERTIES_BYTES: u64 = 16 * 1024 * 1024;
