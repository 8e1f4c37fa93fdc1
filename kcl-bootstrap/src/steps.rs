//! The steps of a launch, in the order [`crate::run`] takes them. Each returns what the next
//! ones need, or the error that ends the launch.

use crate::configuration::Configuration;
use crate::display::shown_path;
use crate::error::Error;
use crate::{Cli, files, jars, java, launch, lock, maven, output};
use std::path::{Path, PathBuf};

/// `--list-versions`: one line per built-in lock on stdout.
pub(crate) fn list_versions() -> Result<(), Error> {
    for version in lock::supported_versions() {
        let lock = load_builtin(version)?;
        let default = if version == lock::DEFAULT_KCL_VERSION {
            "  (default)"
        } else {
            ""
        };
        emit(&format!("{lock}{default}"))?;
    }
    Ok(())
}

fn load_builtin(version: &str) -> Result<lock::Lock, Error> {
    match lock::Lock::load_builtin(version) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(Error::UnknownVersion {
            version: version.to_string(),
            supported: lock::supported_versions().collect::<Vec<_>>().join(", "),
        }),
        Err(source) => Err(Error::BrokenBuiltinLock {
            version: version.to_string(),
            source,
        }),
    }
}

/// Largest `--lock` file read (the built-in ones are about 40 KiB).
const MAX_LOCK_BYTES: u64 = 4 * 1024 * 1024;

/// The lock to launch: `--lock FILE`, else the built-in one of `--kcl-version`.
pub(crate) fn load_lock(cli: &Cli) -> Result<lock::Lock, Error> {
    let Some(path) = &cli.lock else {
        return load_builtin(&cli.kcl_version);
    };
    let text =
        files::read_regular_text(path, MAX_LOCK_BYTES).map_err(|source| Error::LockFile {
            path: path.clone(),
            source,
        })?;
    lock::Lock::parse(&text).map_err(|problem| Error::LockSyntax {
        path: path.clone(),
        problem,
    })
}

/// `-l FILE`, made absolute: the daemon opens it by path.
pub(crate) fn log_configuration(cli: &Cli, cwd: &Path) -> Result<Option<PathBuf>, Error> {
    let Some(given) = &cli.log_configuration else {
        return Ok(None);
    };
    let path = launch::absolute(given, cwd);
    // The daemon opens it by path; a FIFO would hang the daemon instead of us.
    files::check_regular(&path).map_err(|source| {
        if source.is_not_found() {
            Error::LogConfigurationMissing { path: path.clone() }
        } else {
            Error::LogConfiguration {
                path: path.clone(),
                source,
            }
        }
    })?;
    Ok(Some(path))
}

/// `--extra-classpath` entries, made absolute; each must exist.
pub(crate) fn extra_classpath(cli: &Cli, cwd: &Path) -> Result<Vec<PathBuf>, Error> {
    cli.extra_classpath
        .iter()
        .map(|given| {
            let path = launch::absolute(given, cwd);
            std::fs::metadata(&path)
                .map(|_| path.clone())
                .map_err(|source| Error::ExtraClasspath { path, source })
        })
        .collect()
}

/// The `java` to run and its major version, which must be at least the lock's `min-java`.
pub(crate) fn find_java(
    cli: &Cli,
    cwd: &Path,
    lock: &lock::Lock,
    cache_root: &Path,
) -> Result<(PathBuf, u32), Error> {
    let java = java::find_java(
        cli.java.as_deref(),
        std::env::var_os("JAVA_HOME"),
        std::env::var_os("PATH"),
        cwd,
        lock.min_java,
    )?;
    let major = java::major_version(
        &java.path,
        Some(&cache_root.join("java-versions")),
        cli.java_timeout,
    )?;
    if major < lock.min_java {
        return Err(java::JavaError::TooOld {
            path: java.path,
            found: major,
            min: lock.min_java,
            kcl: lock.kcl_version.clone(),
        }
        .into());
    }
    Ok((java.path, major))
}

/// `--check`: one line saying what was checked and what the classpath will hold.
pub(crate) fn report_check(
    cli: &Cli,
    properties: &Configuration,
    java: &Path,
    java_major: u32,
    lock: &lock::Lock,
    extra_classpath: &[PathBuf],
) {
    if cli.quiet {
        return;
    }
    let classpath = if extra_classpath.is_empty() {
        format!("classpath: the {} verified jars only", lock.jars.len())
    } else {
        let extra: Vec<String> = extra_classpath.iter().map(|p| shown_path(p)).collect();
        format!(
            "classpath: the {} verified jars, then UNVERIFIED (--extra-classpath): {}",
            lock.jars.len(),
            extra.join(", ")
        )
    };
    output::say(&format!(
        "{} is valid; Java {java_major} at {}; {lock}; {classpath}",
        properties.description(),
        shown_path(java)
    ));
}

/// A malformed `--maven-repo` or `--maven-settings` is refused at once, even on a warm start;
/// the environment and `~/.m2/settings.xml` are only read when something must be downloaded.
pub(crate) fn check_repository_flags(cli: &Cli) -> Result<(), Error> {
    if let Some(flag) = &cli.maven_repo {
        maven::choose_repository(Some(flag), &|_| None, None).map_err(Error::Repository)?;
    }
    if let Some(path) = &cli.maven_settings {
        files::check_regular(path).map_err(|source| Error::MavenSettings {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Makes the lock's jars ready (cache or `--jar-folder`) and returns them in classpath order.
pub(crate) fn prepare_jars(
    cli: &Cli,
    lock: &lock::Lock,
    cwd: &Path,
    cache_root: PathBuf,
) -> Result<Vec<PathBuf>, Error> {
    let settings = cli
        .maven_settings
        .clone()
        .or_else(maven::default_settings_path);
    let env_lookup = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let choose =
        || maven::choose_repository(cli.maven_repo.as_deref(), &env_lookup, settings.as_deref());
    let location = match &cli.jar_folder {
        Some(dir) => jars::JarLocation::Folder(launch::absolute(dir, cwd)),
        None => jars::JarLocation::Cache,
    };
    let progress = if cli.quiet {
        jars::ProgressMode::Quiet
    } else {
        jars::ProgressMode::Auto
    };
    let paths = jars::ensure_jars(&jars::JarOptions {
        lock,
        location,
        cache_root,
        offline: cli.offline,
        verify: cli.verify,
        parallelism: usize::from(cli.parallel),
        retry: jars::RetryPolicy::default(),
        timeouts: jars::Timeouts::new(
            cli.connect_timeout,
            cli.read_timeout,
            cli.min_speed,
            cli.jar_timeout,
        ),
        lock_timeout: cli.lock_timeout,
        progress,
        repository: &choose,
    })?;
    Ok(paths)
}

/// Prints the classpath or the command, or becomes the daemon (`-e`).
pub(crate) fn finish(
    cli: &Cli,
    spec: &launch::LaunchSpec,
    lock: &lock::Lock,
    java_major: u32,
) -> Result<(), Error> {
    let unverified = spec.unverified();
    if !unverified.0.is_empty() && !cli.quiet {
        let entries: Vec<String> = unverified.0.iter().map(|p| shown_path(p)).collect();
        output::say(&format!(
            "note: the classpath also holds unverified entries (--extra-classpath): {}",
            entries.join(", ")
        ));
    }
    if cli.print_classpath {
        return emit(&spec.classpath().to_string_lossy());
    }
    let argv = spec.argv();
    if !cli.execute {
        return emit(&launch::shell_line(&argv));
    }
    if !cli.quiet {
        output::say(&format!(
            "starting the MultiLangDaemon (KCL {}, Java {java_major})",
            lock.kcl_version
        ));
    }
    output::flush(output::FLUSH_BOUND);
    let source = launch::exec(spec);
    Err(Error::Exec {
        java: argv.first().map(PathBuf::from).unwrap_or_default(),
        source,
    })
}

/// Writes one line to stdout; a closed stdout (e.g. `| head -c0`) is reported, not a panic.
pub(crate) fn emit(line: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
