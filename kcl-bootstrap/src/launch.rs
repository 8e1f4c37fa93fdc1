//! The daemon's command line: classpath, JVM options, main class and arguments; printing it
//! shell-quoted, or replacing this process with it.
//!
//! The classpath holds the verified jars and nothing else (plus what the user names with
//! `--extra-classpath`). The daemon does not need a directory there: it looks the properties
//! file up as a classpath resource first, but an absolute path is never found that way, so it
//! is opened from the filesystem; and `--log-configuration` is opened as a file. A directory on
//! the classpath would let any class, `logback-test.xml` or `META-INF/services` entry in it run
//! inside the daemon.
//!
//! Launched (`-e`, `--supervise`), the daemon also gets `KCL_TIMEOUT_IN_SECONDS` (the properties'
//! `timeoutInSeconds`, which its children inherit: kcl-protocol warns before the daemon's time-out
//! kills a slow callback), and, when the user names no logback file, kcl-bootstrap's default one
//! ([`crate::default_logback`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The MultiLangDaemon's main class in KCL 2.x and 3.x.
pub(crate) const MAIN_CLASS: &str = "software.amazon.kinesis.multilang.MultiLangDaemon";

/// Everything needed to start the daemon.
#[derive(Debug, Clone)]
pub(crate) struct LaunchSpec {
    java: PathBuf,
    java_major: u32,
    jars: Vec<PathBuf>,
    extra_classpath: Vec<PathBuf>,
    properties: PathBuf,
    log_configuration: Option<PathBuf>,
    jvm_args: Vec<String>,
    /// kcl-bootstrap's JVM defaults (`crate::jvm`), placed before `jvm_args`.
    default_jvm_args: Vec<String>,
    /// [`MAIN_CLASS`], or the DynamoDB Streams launcher's (`crate::streams`).
    main_class: &'static str,
    /// Variables set in the daemon's environment (and so its children's) when launched.
    env: Vec<(String, String)>,
}

/// The variable that carries the properties' `timeoutInSeconds` to the children (kcl-protocol's
/// `TIMEOUT_VARIABLE`; docs/bootstrap.md names it).
pub(crate) const TIMEOUT_VARIABLE: &str = "KCL_TIMEOUT_IN_SECONDS";

/// The properties key whose value [`TIMEOUT_VARIABLE`] carries.
pub(crate) const TIMEOUT_KEY: &str = "timeoutInSeconds";

/// What the classpath holds besides the verified jars.
pub(crate) struct Unverified<'a>(pub(crate) &'a [PathBuf]);

impl LaunchSpec {
    /// `java` (major version `java_major`: below 18, `-Dfile.encoding=UTF-8` is added) runs the
    /// daemon with `jars` (verified, in classpath order), then `extra_classpath` (unverified,
    /// asked for by the user), the absolute `properties` file and an optional absolute logback
    /// file; `jvm_args` come after ours so they can override them.
    pub(crate) fn new(
        java: PathBuf,
        java_major: u32,
        jars: Vec<PathBuf>,
        extra_classpath: Vec<PathBuf>,
        properties: PathBuf,
        log_configuration: Option<PathBuf>,
        jvm_args: Vec<String>,
    ) -> LaunchSpec {
        LaunchSpec {
            java,
            java_major,
            jars,
            extra_classpath,
            properties,
            log_configuration,
            jvm_args,
            default_jvm_args: Vec::new(),
            main_class: MAIN_CLASS,
            env: Vec::new(),
        }
    }

    /// Runs `class` instead of the MultiLangDaemon (`--dynamodb-streams`).
    pub(crate) fn main_class(&mut self, class: &'static str) {
        self.main_class = class;
    }

    /// Sets `KCL_TIMEOUT_IN_SECONDS` from the effective `timeoutInSeconds` when it is a positive
    /// whole number; the validator reports other values.
    pub(crate) fn pass_timeout(&mut self, timeout_in_seconds: Option<&str>) {
        let seconds = timeout_in_seconds.and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(seconds) = seconds.filter(|s| *s > 0) {
            self.env
                .push((TIMEOUT_VARIABLE.to_string(), seconds.to_string()));
        }
    }

    /// Adds kcl-bootstrap's JVM defaults (before the user's `--jvm-arg`s).
    pub(crate) fn add_default_jvm_args(&mut self, args: impl IntoIterator<Item = String>) {
        self.default_jvm_args.extend(args);
    }

    /// The JVM options before `-cp`, in order: the encoding flag, the defaults, the user's.
    pub(crate) fn jvm_options(&self) -> Vec<String> {
        let mut options = Vec::new();
        if self.java_major < 18 {
            // Before Java 18 the pipes to the processors use the locale's charset, which is
            // US-ASCII in many containers: non-ASCII partition keys would arrive as '?'.
            options.push("-Dfile.encoding=UTF-8".to_string());
        }
        options.extend(self.default_jvm_args.iter().cloned());
        options.extend(self.jvm_args.iter().cloned());
        options
    }

    /// Sets a variable in the daemon's environment (and so its children's).
    pub(crate) fn set_env(&mut self, name: &str, value: String) {
        self.env.push((name.to_owned(), value));
    }

    /// Uses `path` (kcl-bootstrap's default logback file) when the user named none.
    pub(crate) fn default_log_configuration(&mut self, path: PathBuf) {
        if self.log_configuration.is_none() {
            self.log_configuration = Some(path);
        }
    }

    /// Whether a logback file (the user's or the default) is passed.
    pub(crate) fn has_log_configuration(&self) -> bool {
        self.log_configuration.is_some()
    }

    /// The `java` executable.
    pub(crate) fn java(&self) -> &Path {
        &self.java
    }

    /// The variables the launched daemon gets on top of this process's environment.
    #[cfg(test)]
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The daemon's command, environment included, ready to exec or spawn.
    pub(crate) fn command(&self) -> Command {
        let argv = self.argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The classpath: the verified jars, then the entries the user added.
    pub(crate) fn classpath(&self) -> OsString {
        let sep = if cfg!(windows) { ";" } else { ":" };
        let mut cp = OsString::new();
        for (i, entry) in self.jars.iter().chain(&self.extra_classpath).enumerate() {
            if i > 0 {
                cp.push(sep);
            }
            cp.push(entry.as_os_str());
        }
        cp
    }

    /// The classpath entries that are not verified jars.
    pub(crate) fn unverified(&self) -> Unverified<'_> {
        Unverified(&self.extra_classpath)
    }

    /// The full argument vector, `java` first.
    pub(crate) fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![self.java.clone().into()];
        argv.extend(self.jvm_options().into_iter().map(OsString::from));
        argv.push("-cp".into());
        argv.push(self.classpath());
        argv.push(self.main_class.into());
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
pub(crate) fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The argument vector as one shell-quoted line that can be pasted into `sh`/`bash`/`zsh`.
pub(crate) fn shell_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts the daemon so that its signals and exit status are the caller's: on Unix this
/// process becomes the JVM (`exec`) and this function only returns on failure; elsewhere the
/// JVM runs as a child and its exit code is returned.
pub(crate) fn exec(spec: &LaunchSpec) -> std::io::Error {
    let mut cmd = spec.command();
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
pub(crate) fn absolute(path: &Path, cwd: &Path) -> PathBuf {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(major: u32) -> LaunchSpec {
        LaunchSpec::new(
            "/jdk/bin/java".into(),
            major,
            vec!["/c/a.jar".into(), "/c/b.jar".into()],
            vec![],
            "/app/conf/app.properties".into(),
            Some("/app/logback.xml".into()),
            vec!["-Xmx1g".into()],
        )
    }

    #[test]
    fn argv_layout_holds_only_the_jars_on_the_classpath() {
        let argv = spec(17).argv();
        let line = shell_line(&argv);
        assert_eq!(
            line,
            "/jdk/bin/java -Dfile.encoding=UTF-8 -Xmx1g -cp /c/a.jar:/c/b.jar \
             software.amazon.kinesis.multilang.MultiLangDaemon --properties-file /app/conf/app.properties \
             --log-configuration /app/logback.xml"
        );
        let argv21 = spec(21).argv();
        assert!(!argv21.iter().any(|a| a == "-Dfile.encoding=UTF-8"));
        let mut with_extra = spec(21);
        with_extra.extra_classpath = vec!["/my dir/creds.jar".into()];
        assert_eq!(
            with_extra.classpath(),
            OsString::from("/c/a.jar:/c/b.jar:/my dir/creds.jar")
        );
        assert_eq!(with_extra.unverified().0.len(), 1);
    }

    #[test]
    fn the_timeout_is_passed_when_it_is_a_positive_number() {
        let mut s = spec(21);
        s.pass_timeout(Some("60 "));
        assert_eq!(s.env(), &[(TIMEOUT_VARIABLE.to_string(), "60".to_string())]);
        for value in [None, Some(""), Some("0"), Some("x"), Some("-5")] {
            let mut s = spec(21);
            s.pass_timeout(value);
            assert!(s.env().is_empty(), "{value:?}");
        }
        let mut s = spec(21);
        s.default_log_configuration("/cache/default.xml".into());
        assert!(shell_line(&s.argv()).ends_with("--log-configuration /app/logback.xml"));
        s.log_configuration = None;
        s.default_log_configuration("/cache/default.xml".into());
        assert!(shell_line(&s.argv()).ends_with("--log-configuration /cache/default.xml"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b-c.jar:d"), "a/b-c.jar:d");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(shell_quote(""), "''");
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
            "\u{1b}[2J",
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
