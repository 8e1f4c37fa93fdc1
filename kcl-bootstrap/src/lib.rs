//! `kcl-bootstrap`: fetch the KCL MultiLangDaemon jars safely and launch the daemon.
//!
//! The binary is a thin shell over [`run`]; the modules are public so that tests (and tools that
//! want the same behaviour) can use each step on its own:
//!
//! - [`lock`]: the Maven-generated jar lists, one per supported KCL version;
//! - [`maven`]: which repository or mirror to download from;
//! - [`jars`]: cache, downloads, verification;
//! - [`java`]: finding `java` and its version;
//! - [`properties`]: a `java.util.Properties`-exact parser and the validator;
//! - [`launch`]: the command line, printed or executed.
//!
//! Nothing here writes to stdout except [`run`]'s printed command or classpath.

pub mod cli;
pub mod digest;
pub mod jars;
pub mod java;
pub mod launch;
pub mod lock;
pub mod maven;
pub mod properties;

use cli::Cli;
use std::path::{Path, PathBuf};

/// A failure, with the exit code documented in `--help`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or input files (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The properties file has errors (exit 3); the findings were already printed.
    #[error("{count} error(s) in {}; fix them, or pass --no-validate to launch anyway", file.display())]
    Properties {
        /// The file.
        file: PathBuf,
        /// Number of errors.
        count: usize,
    },
    /// Java problem (exit 4).
    #[error(transparent)]
    Java(#[from] java::JavaError),
    /// The JVM could not be started (exit 4).
    #[error("could not start {}: {source}", java.display())]
    Exec {
        /// The executable.
        java: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Jar download, verification or cache problem (exit 5).
    #[error(transparent)]
    Jars(#[from] jars::JarError),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Properties { .. } => 3,
            Error::Java(_) | Error::Exec { .. } => 4,
            Error::Jars(_) => 5,
        }
    }
}

/// Runs the bootstrap: validate, locate Java, prepare the jars, then print or exec.
/// Returns normally only when something was printed (or with `-e` on platforms without exec).
pub fn run(cli: &Cli) -> Result<(), Error> {
    if cli.list_versions {
        for v in lock::supported_versions() {
            let l = lock::Lock::builtin(v)
                .ok_or_else(|| Error::Usage(format!("built-in lock {v} is broken")))?;
            let default = if v == lock::DEFAULT_KCL_VERSION {
                "  (default)"
            } else {
                ""
            };
            emit(&format!("{l}{default}"))?;
        }
        return Ok(());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current directory: {e}")))?;
    let say = |msg: &str| {
        if !cli.quiet {
            eprintln!("kcl-bootstrap: {msg}");
        }
    };

    let lock = load_lock(cli)?;
    let kcl_major: u32 = lock
        .kcl_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3);

    // Properties.
    let props_arg = cli
        .properties
        .as_deref()
        .ok_or_else(|| Error::Usage("-p/--properties FILE is required".into()))?;
    let properties = launch::absolute(props_arg, &cwd);
    let bytes = std::fs::read(&properties).map_err(|e| {
        Error::Usage(format!(
            "cannot read the properties file {}: {e}; pass the path of your .properties file with -p",
            properties.display()
        ))
    })?;
    if !cli.no_validate {
        let entries = properties::parse(&bytes).map_err(|e| {
            eprintln!("{}:{}: error: {}", properties.display(), e.line, e.message);
            Error::Properties {
                file: properties.clone(),
                count: 1,
            }
        })?;
        let ctx = properties::Context {
            cwd: cwd.clone(),
            path_env: std::env::var_os("PATH"),
            kcl_major,
            kcl_version: lock.kcl_version.clone(),
            settings: (!lock.settings.is_empty()).then(|| lock.settings.iter().cloned().collect()),
            dialect: properties::keys::Dialect::for_version(&lock.kcl_version),
        };
        let findings = properties::validate(&entries, &ctx);
        let errors = findings
            .iter()
            .filter(|d| d.severity == properties::Severity::Error)
            .count();
        for d in &findings {
            if d.severity == properties::Severity::Error || !cli.quiet {
                eprintln!("{}", d.render(props_arg));
            }
        }
        if errors > 0 {
            return Err(Error::Properties {
                file: props_arg.to_path_buf(),
                count: errors,
            });
        }
    }
    let log_configuration = match &cli.log_configuration {
        Some(p) => {
            let abs = launch::absolute(p, &cwd);
            if !abs.is_file() {
                return Err(Error::Usage(format!(
                    "the log configuration {} does not exist; pass a logback XML file with -l or drop the flag",
                    abs.display()
                )));
            }
            Some(abs)
        }
        None => None,
    };

    // Java.
    let cache_root = jars::default_cache_root()?;
    let java = java::find_java(
        cli.java.as_deref(),
        std::env::var_os("JAVA_HOME"),
        std::env::var_os("PATH"),
        &cwd,
        lock.min_java,
    )?;
    let java_major = java::major_version(&java.path, Some(&cache_root.join("java-versions")))?;
    if java_major < lock.min_java {
        return Err(java::JavaError::TooOld {
            path: java.path.clone(),
            found: java_major,
            min: lock.min_java,
            kcl: lock.kcl_version.clone(),
        }
        .into());
    }
    if cli.check {
        say(&format!(
            "{} is valid; Java {java_major} at {}; {lock}",
            props_arg.display(),
            java.path.display()
        ));
        return Ok(());
    }

    // Jars.
    let settings = cli
        .maven_settings
        .clone()
        .or_else(maven::default_settings_path);
    let env_lookup = |name: &str| std::env::var(name).ok();
    let choose =
        || maven::choose_repository(cli.maven_repo.as_deref(), &env_lookup, settings.as_deref());
    if let Some(flag) = &cli.maven_repo {
        // Reject a malformed --maven-repo at once, even when nothing needs downloading.
        maven::Repository::from_url(flag, maven::RepositorySource::Flag)
            .map_err(|e| Error::Usage(format!("--maven-repo: {e}")))?;
    }
    let location = match &cli.jar_folder {
        Some(dir) => jars::JarLocation::Folder(launch::absolute(dir, &cwd)),
        None => jars::JarLocation::Cache,
    };
    let progress = if cli.quiet {
        jars::ProgressMode::Quiet
    } else {
        jars::ProgressMode::Auto
    };
    let jar_paths = jars::ensure_jars(&jars::JarOptions {
        lock: &lock,
        location,
        cache_root,
        offline: cli.offline,
        verify: cli.verify,
        parallelism: usize::from(cli.parallel),
        retry: jars::RetryPolicy::default(),
        progress,
        repository: &choose,
    })?;

    let spec = launch::LaunchSpec {
        java: java.path.clone(),
        java_major,
        jars: jar_paths,
        properties,
        log_configuration,
        jvm_args: cli.jvm_args.clone(),
        cwd,
    };
    if cli.print_classpath {
        return emit(&spec.classpath().to_string_lossy());
    }
    let argv = spec.argv();
    if cli.execute {
        say(&format!(
            "starting the MultiLangDaemon (KCL {}, Java {java_major})",
            lock.kcl_version
        ));
        let error = launch::exec(&argv);
        return Err(Error::Exec {
            java: java.path,
            source: error,
        });
    }
    emit(&launch::shell_line(&argv))
}

/// Writes one line to stdout; a closed stdout (e.g. `| head`) is reported instead of panicking.
fn emit(line: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::Usage(format!("cannot write to stdout: {e}")))
}

fn load_lock(cli: &Cli) -> Result<lock::Lock, Error> {
    if let Some(path) = &cli.lock {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read the lock {}: {e}", path.display())))?;
        return lock::Lock::parse(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: {e}; regenerate it with scripts/update-lock",
                path.display()
            ))
        });
    }
    lock::Lock::builtin(&cli.kcl_version).ok_or_else(|| {
        Error::Usage(format!(
            "no built-in lock for KCL {}; supported: {}. For another version, generate a lock with \
             scripts/update-lock VERSION and pass it with --lock FILE",
            cli.kcl_version,
            lock::supported_versions().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Path helper re-exported for tests: the cache directory of a version under a cache root.
pub fn version_cache_dir(cache_root: &Path, version: &str) -> PathBuf {
    cache_root.join(version)
}
