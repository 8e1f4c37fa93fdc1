//! The daemon's properties file: a `java.util.Properties`-exact parser, the table of keys KCL
//! 2.x and 3.x read, and the validator that reports traps with line numbers.

pub mod keys;
mod parser;
mod validate;

pub use parser::{Entry, ParseError, parse};
pub use validate::{Context, Diagnostic, Severity, validate};
