//! Command-line flags, compatible with the official bootstraps (Node's `kcl-bootstrap`, the .NET
//! Bootstrap and the Python helper) plus the options they lack.

use clap::Parser;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Without -e, prints the java command (shell-quoted) on stdout and everything else on stderr, so
copy-paste and `eval \"$(kcl-bootstrap -p app.properties)\"` both work. With -e, becomes the JVM
(exec): signals and the exit status are the daemon's own.

Environment:
  KCL_MAVEN_REPO            repository or mirror URL (same as --maven-repo)
  KCL_MVN_REPO_SEARCH_URL   the Python KCL's name for the same; honoured after KCL_MAVEN_REPO
  KCL_BOOTSTRAP_CACHE_DIR   jar cache root [default: ~/.cache/kcl-bootstrap]
  JAVA_HOME                 used when --java is not given
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY   proxies for downloads
Mirrors are also read from ~/.m2/settings.xml (<mirrorOf> central or *).

Exit codes:
  0  printed the command / classpath, or validation passed (--check)
  2  usage error: bad flag, missing file, unknown --kcl-version
  3  the properties file is invalid (errors listed with file:line)
  4  Java problem: not found, version unreadable, too old, or exec failed
  5  jars: download, verification or cache failure
  other  with -e, the daemon's own exit status";

/// Fetch the KCL MultiLangDaemon jars (verified against a Maven-generated lock) and launch the
/// daemon for your processor.
#[derive(Debug, Clone, Parser)]
#[command(name = "kcl-bootstrap", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// The daemon's properties file (executableName, streamName, applicationName, ...).
    #[arg(
        short = 'p',
        long = "properties",
        value_name = "FILE",
        required_unless_present = "list_versions"
    )]
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
}
