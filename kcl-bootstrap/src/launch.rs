//! The daemon's command line: classpath, JVM options, main class and arguments; printing it
//! shell-quoted, or replacing this process with it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The MultiLangDaemon's main class in KCL 2.x and 3.x.
pub const MAIN_CLASS: &str = "software.amazon.kinesis.multilang.MultiLangDaemon";

/// Everything needed to start the daemon.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The `java` executable.
    pub java: PathBuf,
    /// Its major version (below 18, `-Dfile.encoding=UTF-8` is added).
    pub java_major: u32,
    /// Jars in classpath order.
    pub jars: Vec<PathBuf>,
    /// The properties file (absolute).
    pub properties: PathBuf,
    /// Optional logback configuration (absolute).
    pub log_configuration: Option<PathBuf>,
    /// Extra JVM options, placed after ours so they can override them.
    pub jvm_args: Vec<String>,
    /// The daemon's working directory (added to the classpath).
    pub cwd: PathBuf,
}

impl LaunchSpec {
    /// The classpath: the jars, the properties file's directory (the daemon looks the file up on
    /// the classpath first), then the working directory.
    pub fn classpath(&self) -> OsString {
        let sep = if cfg!(windows) { ";" } else { ":" };
        let mut cp = OsString::new();
        let props_dir = self
            .properties
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.cwd.clone());
        let entries = self.jars.iter().chain([&props_dir, &self.cwd]);
        for (i, entry) in entries.enumerate() {
            if i > 0 {
                cp.push(sep);
            }
            cp.push(entry.as_os_str());
        }
        cp
    }

    /// The full argument vector, `java` first.
    pub fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![self.java.clone().into()];
        if self.java_major < 18 {
            // Before Java 18 the pipes to the processors use the locale's charset, which is
            // US-ASCII in many containers: non-ASCII partition keys would arrive as '?'.
            argv.push("-Dfile.encoding=UTF-8".into());
        }
        argv.extend(self.jvm_args.iter().map(OsString::from));
        argv.push("-cp".into());
        argv.push(self.classpath());
        argv.push(MAIN_CLASS.into());
        argv.push("--properties-file".into());
        argv.push(self.properties.clone().into());
        if let Some(log) = &self.log_configuration {
            argv.push("--log-configuration".into());
            argv.push(log.clone().into());
        }
        argv
    }
}

/// Quotes one argument for a POSIX shell: left bare when it only holds safe characters,
/// otherwise wrapped in single quotes (with `'` written as `'\''`).
///
/// ```
/// use kcl_bootstrap::launch::shell_quote;
/// assert_eq!(shell_quote("a/b-c.jar:d"), "a/b-c.jar:d");
/// assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The argument vector as one shell-quoted line that can be pasted into `sh`/`bash`/`zsh`.
pub fn shell_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts the daemon so that its signals and exit status are the caller's: on Unix this
/// process becomes the JVM (`exec`) and this function only returns on failure; elsewhere the
/// JVM runs as a child and its exit code is returned.
pub fn exec(argv: &[OsString]) -> std::io::Error {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.exec()
    }
    #[cfg(not(unix))]
    {
        // Ctrl-C reaches the whole console process group, the JVM included; we only wait.
        match cmd.status() {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(e) => e,
        }
    }
}

/// Makes a path absolute against `cwd` without resolving symlinks.
pub fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        let joined = cwd.join(path);
        // Drop `./` segments so printed commands stay readable.
        joined
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
    }
}

/// True if `s` would need quoting (used by tests and the `--print-classpath` path).
pub fn needs_quoting(s: &OsStr) -> bool {
    shell_quote(&s.to_string_lossy()) != s.to_string_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(major: u32) -> LaunchSpec {
        LaunchSpec {
            java: "/jdk/bin/java".into(),
            java_major: major,
            jars: vec!["/c/a.jar".into(), "/c/b.jar".into()],
            properties: "/app/conf/app.properties".into(),
            log_configuration: Some("/app/logback.xml".into()),
            jvm_args: vec!["-Xmx1g".into()],
            cwd: "/work dir".into(),
        }
    }

    #[test]
    fn argv_layout() {
        let argv = spec(17).argv();
        let line = shell_line(&argv);
        assert_eq!(
            line,
            "/jdk/bin/java -Dfile.encoding=UTF-8 -Xmx1g -cp '/c/a.jar:/c/b.jar:/app/conf:/work dir' \
             software.amazon.kinesis.multilang.MultiLangDaemon --properties-file /app/conf/app.properties \
             --log-configuration /app/logback.xml"
        );
        let argv21 = spec(21).argv();
        assert!(!argv21.iter().any(|a| a == "-Dfile.encoding=UTF-8"));
    }

    #[test]
    fn quoting_round_trips_through_sh() {
        let args = [
            "plain",
            "with space",
            "it's",
            "$HOME",
            "a\"b",
            "back\\slash",
            "*",
            "",
        ];
        let argv: Vec<OsString> = std::iter::once(OsString::from("printf"))
            .chain(std::iter::once(OsString::from("[%s]")))
            .chain(args.iter().map(OsString::from))
            .collect();
        let out = Command::new("sh")
            .arg("-c")
            .arg(shell_line(&argv))
            .output()
            .unwrap();
        let expected: String = args.iter().map(|a| format!("[{a}]")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        assert!(needs_quoting(OsStr::new("a b")) && !needs_quoting(OsStr::new("a")));
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(
            absolute(Path::new("./x/y"), Path::new("/w")),
            PathBuf::from("/w/x/y")
        );
        assert_eq!(
            absolute(Path::new("/abs"), Path::new("/w")),
            PathBuf::from("/abs")
        );
    }
}
