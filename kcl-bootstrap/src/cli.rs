//! Command-line flags, compatible with the official bootstraps (Node's `kcl-bootstrap`, the .NET
//! Bootstrap and the Python helper) plus the options they lack.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Without -e, prints the java command (shell-quoted) on stdout and everything else on stderr, so
copy-paste and `eval \"$(kcl-bootstrap -p app.properties)\"` both work. With -e, becomes the JVM
(exec): signals and the exit status are the daemon's own. With --supervise, runs the JVM as a
child in its own process group, forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to it, restarts it
as --restart says, and leaves none of its processes behind. Launched either way, the daemon (and
its children) get KCL_TIMEOUT_IN_SECONDS = the properties' timeoutInSeconds, and, without -l,
kcl-bootstrap's default logback configuration (each child line once, at its own level).

Durations are written 500ms, 20s, 5m or 1h (a bare number means seconds); speeds in bytes per
second, 8k meaning 8 KiB/s.

Environment:
  KCL_MAVEN_REPO            repository or mirror URL (same as --maven-repo)
  KCL_MVN_REPO_SEARCH_URL   the Python KCL's name for the same; honoured after KCL_MAVEN_REPO
  KCL_BOOTSTRAP_CACHE_DIR   jar cache root [default: ~/.cache/kcl-bootstrap]
  JAVA_HOME                 used when --java is not given
  KCL_PROPERTY_<KEY>        sets the property KEY (STREAM_NAME: streamName; __ for a dot);
                            overrides the file, --set overrides it
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY   proxies for downloads
Mirrors are also read from ~/.m2/settings.xml (<mirrorOf> central or *).

Exit codes:
  0   printed the command / classpath, or validation passed (--check)
  1   status: the --metrics-addr endpoint could not be read
  2   usage: bad flag or value (a --set without KEY=, a bad KCL_PROPERTY_ variable, no properties
      at all); a file named by a flag (-p included) missing, unreadable or not a regular file;
      unknown --kcl-version; bad lock; bad repository URL or settings.xml
  3   the properties are refused: file too large, a syntax error, or validation errors
  4   Java: not found, version unreadable or timed out, too old, or exec failed
  5   jars: download, verification, cache, or waiting for another kcl-bootstrap failed; or the
      effective properties file could not be written in the cache
  6   the command or classpath could not be written to stdout
  8   --supervise: gave up restarting the daemon (--max-restarts within --restart-window)
  70  internal error (a bug: please report it)
  other  with -e, the daemon's own exit status; with --supervise, 0 after a graceful stop asked
      for by SIGTERM, SIGINT or SIGHUP, else the daemon's status (128 + N: killed by signal N)";

/// Fetch the KCL MultiLangDaemon jars (verified against a Maven-generated lock) and launch the
/// daemon for your processor.
#[derive(Debug, Clone, Parser)]
#[command(name = "kcl-bootstrap", version, after_help = AFTER_HELP, max_term_width = 100,
          subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The daemon's properties file (executableName, streamName, applicationName, ...);
    /// optional when --set, the shortcut flags or KCL_PROPERTY_* variables give the properties.
    #[arg(short = 'p', long = "properties", value_name = "FILE")]
    pub properties: Option<PathBuf>,

    /// Start the daemon (replacing this process) instead of printing the command.
    #[arg(short = 'e', long = "execute")]
    pub execute: bool,

    /// The java executable [default: $JAVA_HOME/bin/java, else `java` on PATH].
    #[arg(short = 'j', long = "java", value_name = "PATH")]
    pub java: Option<PathBuf>,

    /// Use (and fill) this folder for the jars instead of the cache; pre-staged jars are verified
    /// against the lock. Node's -c/--jar-path means the same.
    #[arg(
        long = "jar-folder",
        visible_alias = "jar-path",
        short = 'c',
        value_name = "DIR"
    )]
    pub jar_folder: Option<PathBuf>,

    /// A logback XML file for the daemon's own logging.
    #[arg(short = 'l', long = "log-configuration", value_name = "FILE")]
    pub log_configuration: Option<PathBuf>,

    /// KCL multilang version to run (see --list-versions).
    #[arg(long = "kcl-version", value_name = "V", default_value = crate::lock::DEFAULT_KCL_VERSION)]
    pub kcl_version: String,

    /// Use this lock file (made by scripts/update-lock) instead of a built-in one.
    #[arg(long = "lock", value_name = "FILE", conflicts_with = "kcl_version")]
    pub lock: Option<PathBuf>,

    /// Read a DynamoDB table's change stream instead of a Kinesis stream: the properties name it
    /// with dynamoDBStreamArn; the jars come from the built-in DynamoDB Streams lock (or --lock)
    /// and the main class is kcl-bootstrap's own launcher, compiled with the JDK's javac at first
    /// use (docs/ddb-streams.md).
    #[arg(
        long = "dynamodb-streams",
        env = "KCL_BOOTSTRAP_DYNAMODB_STREAMS",
        conflicts_with = "kcl_version"
    )]
    pub dynamodb_streams: bool,

    /// Maven repository or mirror URL to download from (credentials as https://USER:PASS@host/path)
    /// [default: $KCL_MAVEN_REPO, $KCL_MVN_REPO_SEARCH_URL, a settings.xml mirror, Maven Central].
    #[arg(long = "maven-repo", value_name = "URL")]
    pub maven_repo: Option<String>,

    /// Maven settings file to read mirrors from [default: ~/.m2/settings.xml].
    #[arg(long = "maven-settings", value_name = "FILE")]
    pub maven_settings: Option<PathBuf>,

    /// Never use the network: only jars already in the cache or the jar folder.
    #[arg(long = "offline")]
    pub offline: bool,

    /// Re-hash every jar against the lock even if the cache was verified before.
    #[arg(long = "verify")]
    pub verify: bool,

    /// Extra JVM option, e.g. --jvm-arg=-Xmx2g (repeatable; placed before -cp).
    #[arg(long = "jvm-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub jvm_args: Vec<String>,

    /// The JVM options added to a launched daemon (-e, --supervise): tuned (measured defaults for
    /// memory and start-up, and an AppCDS archive; an option you give for the same setting, in
    /// --jvm-arg or JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS, drops ours) or none (plain
    /// java). --check lists them.
    #[arg(
        long = "jvm-defaults",
        value_enum,
        value_name = "SET",
        default_value = "tuned",
        env = "KCL_BOOTSTRAP_JVM_DEFAULTS",
        hide_possible_values = true
    )]
    pub jvm_defaults: crate::jvm::JvmDefaults,

    /// Print only the classpath (prepared and verified as usual) and exit.
    #[arg(long = "print-classpath", conflicts_with = "execute")]
    pub print_classpath: bool,

    /// Validate the properties file and Java, print the findings and exit (no jars needed).
    #[arg(long = "check", conflicts_with_all = ["execute", "print_classpath"])]
    pub check: bool,

    /// Skip the properties checks (launch even if they find errors).
    #[arg(long = "no-validate", conflicts_with = "check")]
    pub no_validate: bool,

    /// Concurrent downloads.
    #[arg(long = "parallel", value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,

    /// Only errors on stderr (no progress, no warnings).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// List the KCL versions with a built-in lock and exit.
    #[arg(long = "list-versions")]
    pub list_versions: bool,

    /// Also put this jar or directory on the daemon's classpath, after the verified jars (e.g. a
    /// custom credentials provider). Not verified: only name what you trust (repeatable).
    #[arg(long = "extra-classpath", value_name = "PATH")]
    pub extra_classpath: Vec<PathBuf>,

    /// Give up connecting to the repository (DNS, TCP, TLS, proxy) after this long.
    #[arg(long = "connect-timeout", value_name = "DURATION", env = "KCL_BOOTSTRAP_CONNECT_TIMEOUT",
          default_value = "10s", value_parser = parse_duration, help_heading = "Timeouts")]
    pub connect_timeout: Duration,

    /// A download attempt fails when no byte arrives for this long, or when one such interval
    /// brings less than --min-speed.
    #[arg(long = "read-timeout", value_name = "DURATION", env = "KCL_BOOTSTRAP_READ_TIMEOUT",
          default_value = "20s", value_parser = parse_duration, help_heading = "Timeouts")]
    pub read_timeout: Duration,

    /// Slowest acceptable download speed, averaged over each --read-timeout interval (0: no
    /// minimum).
    #[arg(long = "min-speed", value_name = "BYTES_PER_SEC", env = "KCL_BOOTSTRAP_MIN_SPEED",
          default_value = "8k", value_parser = parse_speed, help_heading = "Timeouts")]
    pub min_speed: u64,

    /// Give up on a jar after this long in all, retries and their pauses included.
    #[arg(long = "jar-timeout", value_name = "DURATION", env = "KCL_BOOTSTRAP_JAR_TIMEOUT",
          default_value = "5m", value_parser = parse_duration, help_heading = "Timeouts")]
    pub jar_timeout: Duration,

    /// Give up waiting for another kcl-bootstrap that is preparing the same jars after this long.
    #[arg(long = "lock-timeout", value_name = "DURATION", env = "KCL_BOOTSTRAP_LOCK_TIMEOUT",
          default_value = "10m", value_parser = parse_duration, help_heading = "Timeouts")]
    pub lock_timeout: Duration,

    /// Stop `java -version` (and what it started) after this long.
    #[arg(long = "java-timeout", value_name = "DURATION", env = "KCL_BOOTSTRAP_JAVA_TIMEOUT",
          default_value = "20s", value_parser = parse_duration, help_heading = "Timeouts")]
    pub java_timeout: Duration,

    // --- properties from flags and environment ---
    /// Set a property, overriding the file and KCL_PROPERTY_* variables (repeatable):
    /// --set maxRecords=1000. KEY is spelled exactly as in a properties file.
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        help_heading = "Properties from flags (a file becomes optional)"
    )]
    pub set: Vec<String>,

    /// The stream to consume (streamName).
    #[arg(
        long = "stream",
        value_name = "NAME",
        help_heading = "Properties from flags (a file becomes optional)"
    )]
    pub stream: Option<String>,

    /// The application: lease table and consumer name (applicationName).
    #[arg(
        long = "application",
        value_name = "NAME",
        help_heading = "Properties from flags (a file becomes optional)"
    )]
    pub application: Option<String>,

    /// The AWS region of the stream and the tables (regionName).
    #[arg(
        long = "region",
        value_name = "REGION",
        help_heading = "Properties from flags (a file becomes optional)"
    )]
    pub region: Option<String>,

    /// The record processor the daemon starts per shard (executableName; split on spaces).
    #[arg(
        long = "executable",
        value_name = "PATH",
        help_heading = "Properties from flags (a file becomes optional)"
    )]
    pub executable: Option<String>,

    // --- supervised mode ---
    /// Run the daemon as a child and supervise it: signals forwarded, output read (see
    /// --log-format), restarts (--restart), exit status 0 after a graceful stop (see the exit
    /// codes below).
    #[arg(long = "supervise", conflicts_with_all = ["execute", "print_classpath"],
          help_heading = "Supervised mode")]
    pub supervise: bool,

    /// When to start the daemon again after it exited without being asked to (on-failure: a
    /// non-zero status or a signal; never after a stop that a signal asked for).
    #[arg(
        long = "restart",
        value_enum,
        value_name = "WHEN",
        default_value = "never",
        requires = "supervise",
        help_heading = "Supervised mode"
    )]
    pub restart: crate::supervise::RestartPolicy,

    /// Restarts allowed within --restart-window; one more failure gives up (exit status 8).
    #[arg(
        long = "max-restarts",
        value_name = "N",
        default_value_t = 5,
        requires = "supervise",
        help_heading = "Supervised mode"
    )]
    pub max_restarts: u32,

    /// The sliding window --max-restarts counts in.
    #[arg(long = "restart-window", value_name = "DURATION", default_value = "10m",
          value_parser = parse_duration, requires = "supervise", help_heading = "Supervised mode")]
    pub restart_window: Duration,

    /// The delay before the first restart; it doubles with each restart within the window.
    #[arg(long = "restart-delay", value_name = "DURATION", default_value = "1s",
          value_parser = parse_duration, requires = "supervise", help_heading = "Supervised mode")]
    pub restart_delay: Duration,

    /// The largest delay before a restart.
    #[arg(long = "restart-delay-max", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration, requires = "supervise", help_heading = "Supervised mode")]
    pub restart_delay_max: Duration,

    /// The worker's log: the daemon's lines as they are (text), or one JSON object per line on
    /// stdout for the daemon's, the children's and kcl-bootstrap's lines (json).
    #[arg(
        long = "log-format",
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        requires = "supervise",
        help_heading = "Supervised mode"
    )]
    pub log_format: crate::supervise::LogFormat,

    // --- observability ---
    /// Serve /metrics (Prometheus), /healthz and /readyz for the whole worker on HOST:PORT (a
    /// bare PORT means 127.0.0.1:PORT); the children report to it (KCL_SUPERVISOR_SOCKET).
    #[arg(long = "metrics-addr", value_name = "ADDR", value_parser = crate::observe::parse_metrics_addr,
          requires = "supervise", help_heading = "Observability")]
    pub metrics_addr: Option<crate::observe::MetricsAddr>,

    /// /healthz fails when a shard that was behind got no batch for this long, or when a lease
    /// this worker holds has had no live child for this long (more than the scheduler's
    /// 1-minute report of its leases).
    #[arg(long = "stall-after", value_name = "DURATION", default_value = "3m",
          value_parser = parse_duration, requires = "metrics_addr", help_heading = "Observability")]
    pub stall_after: Duration,

    /// `status`: print the worker's per-shard table from a running --metrics-addr endpoint.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands (the default, without one, is to launch the daemon).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a per-shard table (records, lag, last batch, checkpoints) and the health of a worker
    /// from its --metrics-addr endpoint.
    Status {
        /// The endpoint's address: HOST:PORT, or PORT for 127.0.0.1.
        #[arg(long = "metrics-addr", value_name = "ADDR", value_parser = crate::observe::parse_metrics_addr)]
        metrics_addr: crate::observe::MetricsAddr,
    },
}

/// Parses `500ms`, `20s`, `1.5s`, `5m`, `1h` or a bare number of seconds; zero is refused.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit '{other}': use ms, s, m or h")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 500ms, 20s or 5m"))?;
    let seconds = value * scale;
    if !(seconds > 0.0 && seconds <= 7.0 * 86400.0) {
        return Err(format!("'{text}' must be more than 0 and at most a week"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a speed in bytes per second: `8192`, `8k`, `8KiB`, `1M`, optionally followed by `/s`.
pub(crate) fn parse_speed(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let body = trimmed.strip_suffix("/s").unwrap_or(trimmed);
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (number, unit) = body.split_at(split);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "k" | "K" | "KiB" | "kB" => 1024,
        "m" | "M" | "MiB" | "MB" => 1024 * 1024,
        other => {
            return Err(format!(
                "unknown unit '{other}': use a number of bytes, or k or M"
            ));
        }
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("'{trimmed}' is not a speed such as 8k (bytes per second)"))?;
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("'{trimmed}' is too large"))
}

/// A duration the way the flags write it: `500ms`, `20s`, `5m`.
pub(crate) fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 || !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) && ms >= 120_000 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration(" 1h "), Ok(Duration::from_secs(3600)));
        for bad in ["", "0", "0s", "-1s", "10x", "s", "1e9", "9999h", "é"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(show_duration(Duration::from_secs(20)), "20s");
        assert_eq!(show_duration(Duration::from_secs(60)), "60s");
        assert_eq!(show_duration(Duration::from_secs(600)), "10m");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("8192"), Ok(8192));
        assert_eq!(parse_speed("8k"), Ok(8192));
        assert_eq!(parse_speed("8KiB/s"), Ok(8192));
        assert_eq!(parse_speed("1M"), Ok(1 << 20));
        assert_eq!(parse_speed("0"), Ok(0));
        for bad in ["", "k", "1.5k", "-1", "8 k", "99999999999999999999M", "1G"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }

    /// The defaults, as `--help` states them (not the environment of this test).
    fn default_duration(id: &str) -> Duration {
        use clap::CommandFactory;
        let command = Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("no flag {id}"));
        let text = arg.get_default_values()[0].to_str().unwrap().to_string();
        parse_duration(&text).unwrap()
    }

    #[test]
    fn defaults_give_up_on_a_silent_mirror_or_java_in_time() {
        let retry = crate::jars::RetryPolicy::default();
        let pauses = retry.total_pauses();
        assert_eq!(pauses, Duration::from_millis(3500));
        let attempts = retry.attempts();
        let stalled = default_duration("read_timeout") * attempts + pauses;
        let unreachable = default_duration("connect_timeout") * attempts + pauses;
        assert!(stalled <= Duration::from_secs(120), "{stalled:?}");
        assert!(unreachable <= Duration::from_secs(120), "{unreachable:?}");
        assert!(default_duration("java_timeout") <= Duration::from_secs(30));
        assert!(default_duration("jar_timeout") >= stalled);
    }

    #[test]
    fn the_flags_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
