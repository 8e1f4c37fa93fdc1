//! The major version of a `java` executable: from `java -version` (bounded in time), remembered
//! in the cache root keyed by the executable's resolved path, size and modification time,
//! because starting a JVM just to ask costs 50-100 ms and would dominate a warm start.

use super::JavaError;
use crate::display::shown;
use crate::process::{self, RunError};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

/// Largest version cache read (it keeps 32 short lines).
const MAX_CACHE_BYTES: u64 = 64 * 1024;

/// Parses the major version out of `java -version` output (`openjdk version "17.0.15"`,
/// `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`, `"9-ea"`).
pub(crate) fn parse_major_version(output: &str) -> Option<u32> {
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

/// The major version of `java`, from `cache_file` if the executable is unchanged, else by
/// running `java -version` for at most `timeout` (and remembering the answer).
pub(crate) fn major_version(
    java: &Path,
    cache_file: Option<&Path>,
    timeout: Duration,
) -> Result<u32, JavaError> {
    let key = cache_key(java);
    if let (Some(file), Some(key)) = (cache_file, &key)
        && let Ok(text) = crate::files::read_regular_text(file, MAX_CACHE_BYTES)
        && let Some(major) = text.lines().find_map(|l| {
            let (k, v) = l.rsplit_once('\t')?;
            (k == key).then(|| v.parse().ok()).flatten()
        })
    {
        return Ok(major);
    }
    let version_error = |message: String| JavaError::Version {
        path: java.to_path_buf(),
        message,
    };
    let mut command = Command::new(java);
    command.arg("-version");
    let output = process::run_bounded(command, timeout).map_err(|e| match e {
        RunError::TimedOut(after) => JavaError::VersionTimedOut {
            path: java.to_path_buf(),
            after,
        },
        RunError::Spawn(e) => version_error(format!("cannot run it: {e}")),
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    if !output.status.success() {
        return Err(version_error(format!(
            "`java -version` exited with {}: {}",
            output.status,
            shown(text.trim())
        )));
    }
    let major = parse_major_version(&text).ok_or_else(|| {
        version_error(format!(
            "`java -version` printed no version line I understand: \"{}\"",
            shown(text.trim())
        ))
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
    let path = real.to_str()?;
    // The cache is line- and tab-separated; such a path is simply not cached.
    if path.contains(['\t', '\n', '\r']) {
        return None;
    }
    Some(format!("{path}\t{}\t{}", meta.len(), mtime.as_nanos()))
}

/// Adds a line to the version cache, atomically (temp + rename); failures only cost speed.
fn remember(file: &Path, key: &str, major: u32) {
    let old = crate::files::read_regular_text(file, MAX_CACHE_BYTES).unwrap_or_default();
    let mut lines: Vec<&str> = old.lines().filter(|l| !l.starts_with(key)).collect();
    // Keep the file small: the newest 32 executables are plenty.
    if lines.len() >= 32 {
        lines.drain(..lines.len() - 31);
    }
    let new_line = format!("{key}\t{major}");
    lines.push(&new_line);
    let Some(dir) = file.parent() else { return };
    let _ = fs::create_dir_all(dir);
    let Ok((tmp, mut out)) = crate::jars::TempFile::create(dir, "java-versions") else {
        return;
    };
    if std::io::Write::write_all(&mut out, (lines.join("\n") + "\n").as_bytes()).is_ok() {
        let _ = tmp.persist(out, file);
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
        assert_eq!(parse_major_version("é version \"é"), None);
    }
}
