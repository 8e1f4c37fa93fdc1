//! Finding `java` and reading its major version.
//!
//! Order: `--java PATH`, else `$JAVA_HOME/bin/java`, else `java` on `PATH`.

mod version;

pub(crate) use version::major_version;

use crate::display::shown_path;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How `java` was found (shown in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JavaSource {
    /// `--java`.
    Flag,
    /// `$JAVA_HOME/bin/java`.
    JavaHome,
    /// `java` on `PATH`.
    Path,
}

/// A located Java executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Java {
    /// The executable.
    pub(crate) path: PathBuf,
    /// How it was found.
    pub(crate) source: JavaSource,
}

/// Java could not be found or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JavaError {
    /// Nothing found.
    #[error(
        "no Java found: --java was not given, JAVA_HOME is not set and there is no `java` on PATH. \
         Install a JDK or JRE (Java {min}+) and pass --java /path/to/bin/java or set JAVA_HOME"
    )]
    NotFound {
        /// Minimum Java needed.
        min: u32,
    },
    /// The chosen executable is not there.
    #[error("{what} {} does not exist or is not executable; {advice}", shown_path(.path))]
    Missing {
        /// Description of the source.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What to do.
        advice: &'static str,
    },
    /// `java -version` failed or printed something unexpected.
    #[error("could not read the version of {}: {message}", shown_path(.path))]
    Version {
        /// The executable.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// `java -version` hung.
    #[error(
        "`{} -version` did not finish within {} and was stopped (--java-timeout); check that this \
         is a working Java installation", shown_path(.path), crate::cli::show_duration(*.after)
    )]
    VersionTimedOut {
        /// The executable.
        path: PathBuf,
        /// The bound.
        after: Duration,
    },
    /// Too old for the KCL version.
    #[error(
        "{} is Java {found}, but KCL {kcl} needs Java {min} or newer. Install a newer JDK and pass it with \
         --java or JAVA_HOME, or choose an older --kcl-version"
    , shown_path(.path))]
    TooOld {
        /// The executable.
        path: PathBuf,
        /// Its major version.
        found: u32,
        /// Needed major version.
        min: u32,
        /// The KCL version.
        kcl: String,
    },
}

/// Locates `java`: `flag`, else `java_home`/bin/java, else `java` on `path_env`.
pub(crate) fn find_java(
    flag: Option<&Path>,
    java_home: Option<OsString>,
    path_env: Option<OsString>,
    cwd: &Path,
    min: u32,
) -> Result<Java, JavaError> {
    let exe = if cfg!(windows) { "java.exe" } else { "java" };
    if let Some(p) = flag {
        // A bare name such as `--java java17` is looked up on PATH, like a shell would.
        // Relative paths are made absolute so the printed command works from anywhere.
        let resolved = if p.components().count() == 1 && !p.exists() {
            which::which_in(p, path_env.as_ref(), cwd).unwrap_or_else(|_| p.to_path_buf())
        } else if p.is_relative() {
            cwd.join(p)
        } else {
            p.to_path_buf()
        };
        return check_executable(
            resolved,
            JavaSource::Flag,
            "--java",
            "pass the path of a java executable",
        );
    }
    if let Some(home) = java_home.filter(|h| !h.is_empty()) {
        let p = PathBuf::from(home).join("bin").join(exe);
        return check_executable(
            p,
            JavaSource::JavaHome,
            "$JAVA_HOME/bin/java",
            "fix JAVA_HOME (it must point at a JDK or JRE directory) or pass --java",
        );
    }
    match which::which_in("java", path_env, cwd) {
        Ok(p) => Ok(Java {
            path: p,
            source: JavaSource::Path,
        }),
        Err(_) => Err(JavaError::NotFound { min }),
    }
}

fn check_executable(
    path: PathBuf,
    source: JavaSource,
    what: &'static str,
    advice: &'static str,
) -> Result<Java, JavaError> {
    if is_executable(&path) {
        Ok(Java { path, source })
    } else {
        Err(JavaError::Missing { what, path, advice })
    }
}

/// True if `path` is a regular file the current user may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}
