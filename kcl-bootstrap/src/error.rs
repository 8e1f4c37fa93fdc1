//! Every way the bootstrap can fail, and the exit code of each (the table in `--help` and
//! `docs/bootstrap.md`).

use crate::display::{shown, shown_path};
use crate::files::ReadFileError;
use crate::jars::JarError;
use crate::java::JavaError;
use crate::lock::LockError;
use crate::maven::RepositoryError;
use std::path::PathBuf;

/// Exit codes; `docs/bootstrap.md` and `--help` show the same table.
pub(crate) mod code {
    /// Printed the command or classpath, `--check` passed, `--list-versions`.
    pub(crate) const OK: i32 = 0;
    /// Usage: a flag or its value, a file named by a flag that cannot be read (`-p` included),
    /// the environment, settings.xml.
    pub(crate) const USAGE: i32 = 2;
    /// The properties file's content: too large, a syntax error, or validation errors.
    pub(crate) const PROPERTIES: i32 = 3;
    /// Java: not found, unusable, too old, or could not be started.
    pub(crate) const JAVA: i32 = 4;
    /// Jars: download, verification, cache, or the cache lock.
    pub(crate) const JARS: i32 = 5;
    /// The command or classpath could not be written to stdout.
    pub(crate) const STDOUT: i32 = 6;
    /// `status`: the endpoint could not be read.
    pub(crate) const UNREACHABLE: i32 = 1;
    /// A bug (a panic, a broken built-in lock): `EX_SOFTWARE`.
    pub(crate) const INTERNAL: i32 = 70;
}

/// A failure of [`crate::run`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// `--dynamodb-streams`: its lock, settings or Java launcher.
    #[error(transparent)]
    Streams(#[from] crate::streams::StreamsError),
    /// The working directory is unreadable.
    #[error("cannot read the current directory")]
    CurrentDir(#[source] std::io::Error),
    /// `--kcl-version` names no built-in lock.
    #[error(
        "no built-in lock for KCL {}; supported: {supported}. For another version, generate a lock with \
         scripts/update-lock VERSION and pass it with --lock FILE", shown(.version)
    )]
    UnknownVersion {
        /// What was asked for.
        version: String,
        /// What this build has.
        supported: String,
    },
    /// A built-in lock does not parse: the build is broken.
    #[error("the built-in lock for KCL {version} is broken (a bug in this build)")]
    BrokenBuiltinLock {
        /// Its version.
        version: String,
        /// The parser's complaint.
        #[source]
        source: LockError,
    },
    /// `--lock FILE` is unreadable.
    #[error("cannot read the lock {}", shown_path(.path))]
    LockFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// `--lock FILE` does not parse.
    #[error("{}: {problem}; regenerate it with scripts/update-lock", shown_path(.path))]
    LockSyntax {
        /// The file.
        path: PathBuf,
        /// The parser's complaint (part of this message: it names the line).
        problem: LockError,
    },
    /// `-p FILE` does not exist, cannot be read, or is not a regular file.
    #[error("cannot read the properties file {}; pass the path of your .properties file with -p", shown_path(.path))]
    PropertiesUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// `-p FILE` is larger than any real properties file.
    #[error(
        "the properties file {} is larger than {limit} bytes, far beyond any real configuration; pass the right \
         file with -p", shown_path(.path)
    )]
    PropertiesTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The properties have errors; the findings were already printed.
    #[error("{count} error(s) in {what}; fix them, or pass --no-validate to launch anyway")]
    Properties {
        /// The file, or what else the properties come from (display-safe).
        what: String,
        /// Number of errors.
        count: usize,
    },
    /// A `--set` flag or a `KCL_PROPERTY_*` variable is malformed.
    #[error(transparent)]
    Override(#[from] crate::properties::OverrideError),
    /// Neither a properties file nor any property from flags or the environment.
    #[error(
        "no properties: pass a properties file with -p/--properties FILE, or set them with --stream, \
         --application, --region, --executable, --set KEY=VALUE or {}<KEY> variables",
        crate::properties::ENV_PREFIX
    )]
    NoProperties,
    /// The effective properties file could not be written in the cache.
    #[error(transparent)]
    EffectiveFile(#[from] crate::effective_file::EffectiveFileError),
    /// `-l FILE` does not exist.
    #[error("the log configuration {} does not exist; pass a logback XML file with -l or drop the flag", shown_path(.path))]
    LogConfigurationMissing {
        /// The file.
        path: PathBuf,
    },
    /// `-l FILE` is unusable.
    #[error("cannot use the log configuration {}; pass a logback XML file with -l or drop the flag", shown_path(.path))]
    LogConfiguration {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// `--maven-settings FILE` is unusable.
    #[error("cannot use the Maven settings {}", shown_path(.path))]
    MavenSettings {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// An `--extra-classpath` entry does not exist.
    #[error("the --extra-classpath entry {} does not exist", shown_path(.path))]
    ExtraClasspath {
        /// The entry.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The repository choice failed (bad URL from any source, bad settings.xml).
    #[error(transparent)]
    Repository(RepositoryError),
    /// Java problem.
    #[error(transparent)]
    Java(#[from] JavaError),
    /// The JVM could not be started.
    #[error("could not start {}", shown_path(.java))]
    Exec {
        /// The executable.
        java: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Jar download, verification or cache problem.
    #[error(transparent)]
    Jars(JarError),
    /// Printing the command or classpath failed.
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
    /// The metrics endpoint could not start, or `status` could not read one.
    #[error(transparent)]
    Observe(#[from] crate::observe::ObserveError),
}

impl From<JarError> for Error {
    fn from(e: JarError) -> Error {
        match e {
            // A bad repository URL is the same usage error wherever it comes from.
            JarError::Repository(r) => Error::Repository(r),
            other => Error::Jars(other),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::CurrentDir(_)
            | Error::UnknownVersion { .. }
            | Error::LockFile { .. }
            | Error::LockSyntax { .. }
            | Error::PropertiesUnreadable { .. }
            | Error::LogConfigurationMissing { .. }
            | Error::LogConfiguration { .. }
            | Error::MavenSettings { .. }
            | Error::ExtraClasspath { .. }
            | Error::Override(_)
            | Error::NoProperties
            | Error::Repository(_) => code::USAGE,
            Error::PropertiesTooLarge { .. } | Error::Properties { .. } => code::PROPERTIES,
            Error::Java(_) | Error::Exec { .. } => code::JAVA,
            Error::Jars(_) | Error::EffectiveFile(_) => code::JARS,
            Error::Stdout(_) => code::STDOUT,
            Error::BrokenBuiltinLock { .. } => code::INTERNAL,
            Error::Observe(e) => e.exit_code(),
            Error::Streams(e) => e.exit_code(),
        }
    }
}

/// `error: source: source's source...` on one line.
pub(crate) fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let part = source.to_string();
        // Some errors (io::Error wrapping another) show their source's text themselves.
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_built_in_lock_is_an_internal_error() {
        let source = crate::lock::Lock::parse("").unwrap_err();
        let e = Error::BrokenBuiltinLock {
            version: "3.1.3".into(),
            source,
        };
        assert_eq!(e.exit_code(), code::INTERNAL);
        assert!(
            with_sources(&e).contains("missing 'kcl-version'"),
            "{}",
            with_sources(&e)
        );
    }

    #[test]
    fn sources_are_chained_once() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::Stdout(io);
        assert_eq!(with_sources(&e), "cannot write to stdout: denied");
        assert_eq!(e.exit_code(), code::STDOUT);
    }
}
