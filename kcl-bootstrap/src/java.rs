//! Finding `java` and reading its major version.
//!
//! Order: `--java PATH`, else `$JAVA_HOME/bin/java`, else `java` on `PATH`. The version comes from
//! running `java -version` once; the answer is remembered in the cache root keyed by the
//! executable's resolved path, size and modification time, because starting a JVM just to ask
//! costs 50-100 ms and would dominate a warm start.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

/// How `java` was found (shown in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JavaSource {
    /// `--java`.
    Flag,
    /// `$JAVA_HOME/bin/java`.
    JavaHome,
    /// `java` on `PATH`.
    Path,
}

/// A located Java executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Java {
    /// The executable.
    pub path: PathBuf,
    /// How it was found.
    pub source: JavaSource,
}

/// Java could not be found or used.
#[derive(Debug, thiserror::Error)]
pub enum JavaError {
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
    #[error("{what} {} does not exist or is not executable; {advice}", path.display())]
    Missing {
        /// Description of the source.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What to do.
        advice: &'static str,
    },
    /// `java -version` failed or printed something unexpected.
    #[error("could not read the version of {}: {message}", path.display())]
    Version {
        /// The executable.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// Too old for the KCL version.
    #[error(
        "{} is Java {found}, but KCL {kcl} needs Java {min} or newer. Install a newer JDK and pass it with \
         --java or JAVA_HOME, or choose an older --kcl-version"
    , path.display())]
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
pub fn find_java(
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
pub fn is_executable(path: &Path) -> bool {
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

/// Parses the major version out of `java -version` output (`openjdk version "17.0.15"`,
/// `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`, `"9-ea"`).
pub fn parse_major_version(output: &str) -> Option<u32> {
    for line in output.lines() {
        // Lines such as "Picked up JAVA_TOOL_OPTIONS: ..." come first; skip them.
        let Some(start) = line.find(" version \"") else {
            continue;
        };
        let rest = &line[start + " version \"".len()..];
        let version = &rest[..rest.find('"')?];
        let mut parts = version.split(|c: char| !c.is_ascii_digit());
        let first: u32 = parts.next()?.parse().ok()?;
        return if first == 1 {
            parts.next()?.parse().ok()
        } else {
            Some(first)
        };
    }
    None
}

/// The major version of `java`, from the cache file if the executable is unchanged, else by
/// running `java -version` (and remembering the answer in `cache_file`, when given).
pub fn major_version(java: &Path, cache_file: Option<&Path>) -> Result<u32, JavaError> {
    let key = cache_key(java);
    if let (Some(file), Some(key)) = (cache_file, &key)
        && let Ok(text) = fs::read_to_string(file)
        && let Some(major) = text.lines().find_map(|l| {
            let (k, v) = l.rsplit_once('\t')?;
            (k == key).then(|| v.parse().ok()).flatten()
        })
    {
        return Ok(major);
    }
    let output = Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| JavaError::Version {
            path: java.to_path_buf(),
            message: format!("cannot run it: {e}"),
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    if !output.status.success() {
        return Err(JavaError::Version {
            path: java.to_path_buf(),
            message: format!(
                "`java -version` exited with {}: {}",
                output.status,
                text.trim()
            ),
        });
    }
    let major = parse_major_version(&text).ok_or_else(|| JavaError::Version {
        path: java.to_path_buf(),
        message: format!(
            "`java -version` printed no version line I understand: {:?}",
            text.trim()
        ),
    })?;
    if let (Some(file), Some(key)) = (cache_file, key) {
        remember(file, &key, major);
    }
    Ok(major)
}

fn cache_key(java: &Path) -> Option<String> {
    let real = fs::canonicalize(java).ok()?;
    let meta = fs::metadata(&real).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!(
        "{}\t{}\t{}",
        real.display(),
        meta.len(),
        mtime.as_nanos()
    ))
}

/// Adds a line to the version cache, atomically (temp + rename); failures only cost speed.
fn remember(file: &Path, key: &str, major: u32) {
    let mut lines: Vec<String> = fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with(key))
        .map(str::to_string)
        .collect();
    // Keep the file small: the newest 32 executables are plenty.
    if lines.len() >= 32 {
        lines.drain(..lines.len() - 31);
    }
    lines.push(format!("{key}\t{major}"));
    if let Some(dir) = file.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
    if fs::write(&tmp, lines.join("\n") + "\n").is_ok() && fs::rename(&tmp, file).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_version_banners() {
        let cases = [
            (
                "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment",
                17,
            ),
            (
                "java version \"1.8.0_392\"\nJava(TM) SE Runtime Environment",
                8,
            ),
            ("openjdk version \"21\" 2023-09-19", 21),
            ("openjdk version \"9-ea\"", 9),
            (
                "Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version \"11.0.2\" 2019-01-15",
                11,
            ),
            ("openjdk version \"1.7.0_80\"", 7),
        ];
        for (text, major) in cases {
            assert_eq!(parse_major_version(text), Some(major), "{text}");
        }
        assert_eq!(parse_major_version("bash: java: command not found"), None);
        assert_eq!(parse_major_version("openjdk version \"abc\""), None);
    }
}
