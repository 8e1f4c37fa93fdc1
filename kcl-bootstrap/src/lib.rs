//! `kcl-bootstrap`: fetch the KCL MultiLangDaemon jars safely and launch the daemon.
//!
//! The binary is a thin shell over [`main_with`], which runs the steps below, reports a failure
//! with its exit code, and turns a panic into an internal error instead of a crash:
//!
//! - [`lock`]: the Maven-generated jar lists, one per supported KCL version;
//! - `properties`: a `java.util.Properties`-exact parser, overrides from flags and the
//!   environment, and the validator;
//! - `configuration`: the settings from every source and the file the daemon reads, written
//!   privately by `effective_file` when flags or the environment change it;
//! - `java`: finding `java` and its version (bounded in time);
//! - `maven`: which repository or mirror to download from;
//! - `jars`: cache, downloads (bounded in time), verification;
//! - `launch`: the command line, printed or executed;
//! - `jvm`: the JVM defaults of a launched daemon and its AppCDS archive;
//! - `default_logback`: the logback configuration used when the user names none;
//! - `supervise`: `--supervise`, the daemon as a supervised child.
//!
//! Only [`lock`], [`digest`] and [`properties::parse`] are public, for the integration tests.
//! Nothing here writes to stdout except the printed command or classpath; stderr goes through a
//! queue that a closed or full pipe cannot stall.

mod cli;
mod configuration;
mod default_logback;
pub mod digest;
mod display;
mod effective_file;
mod error;
mod files;
mod jars;
mod java;
mod jvm;
mod launch;
pub mod lock;
mod maven;
mod observe;
mod output;
mod process;
pub mod properties;
mod steps;
mod streams;
mod supervise;

pub use cli::{Cli, Command};
pub use jvm::JvmDefaults;
pub use supervise::{LogFormat, RestartPolicy};

use configuration::{Configuration, LauncherSettings};
use error::{Error, code};
use steps::*;

/// Runs the bootstrap for `cli` and returns the process exit code: 0, an error's documented
/// code (after printing the error), or 70 after a panic. With `-e` on Unix it does not return
/// when the daemon starts; with `--supervise` it returns when the supervision ends.
pub fn main_with(cli: &Cli) -> i32 {
    reported(|| run(cli))
}

/// Runs `steps`, prints how they failed, and returns the exit code.
fn reported(steps: impl FnOnce() -> Result<i32, Error>) -> i32 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(steps));
    let exit = match outcome {
        Ok(Ok(exit)) => exit,
        Ok(Err(e)) => {
            output::say(&format!("error: {}", error::with_sources(&e)));
            e.exit_code()
        }
        Err(_) => {
            output::say("internal error (a bug): please report it with the message above");
            code::INTERNAL
        }
    };
    output::flush(output::FLUSH_BOUND);
    exit
}

/// The steps: validate, locate Java, prepare the jars, then print, exec or supervise; returns
/// the exit code.
fn run(cli: &Cli) -> Result<i32, Error> {
    if cli.list_versions {
        return list_versions().map(|()| code::OK);
    }
    if let Some(Command::Status { metrics_addr }) = &cli.command {
        return observe::status::run(metrics_addr)
            .map(|()| code::OK)
            .map_err(Error::from);
    }
    let cwd = std::env::current_dir().map_err(Error::CurrentDir)?;
    let lock = if cli.dynamodb_streams && cli.lock.is_none() {
        streams::lock()?
    } else {
        load_lock(cli)?
    };
    let ctx = properties::Context::new(&lock, cwd.clone(), std::env::var_os("PATH"));
    let file = configuration::read_properties(cli, &cwd)?;
    let properties = Configuration::gather(cli, file, std::env::vars_os(), &ctx)?;
    if !cli.no_validate {
        // Both sets of findings are shown before either refuses the launch.
        let streams = if cli.dynamodb_streams {
            properties.with_effective_values(&ctx, |value| streams::check(value, cli.quiet))
        } else {
            Ok(())
        };
        properties.validate(cli.quiet, &ctx)?;
        streams?;
    }
    let log_configuration = log_configuration(cli, &cwd)?;
    let extra_classpath = extra_classpath(cli, &cwd)?;
    let cache_root = jars::cache_root(std::env::var_os(jars::ENV_CACHE_DIR), &cwd)?;
    let (java, java_major) = find_java(cli, &cwd, &lock, &cache_root)?;
    let env_lookup = |name: &str| std::env::var(name).ok();
    let user_jvm_options = jvm::flags::user_options(&cli.jvm_args, &env_lookup);
    let jvm_defaults = jvm::choose(cli.jvm_defaults, &user_jvm_options, java_major);
    if cli.check {
        report_check(cli, &properties, &java, java_major, &lock, &extra_classpath);
        if !cli.quiet {
            output::say(&jvm_defaults.describe(cli.jvm_defaults));
            if let Some(line) = jvm::flags::describe_user(&user_jvm_options) {
                output::say(&line);
            }
        }
        return properties.print_listing(&ctx).map(|()| code::OK);
    }
    check_repository_flags(cli)?;
    let mut jar_paths = prepare_jars(cli, &lock, &cwd, cache_root.clone())?;
    let main_class = if cli.dynamodb_streams {
        let jar =
            streams::launcher::ensure(&cache_root, &java, java_major, &lock.digest, &jar_paths)
                .map_err(streams::StreamsError::from)?;
        jar_paths.push(jar);
        streams::launcher::MAIN_CLASS
    } else {
        launch::MAIN_CLASS
    };
    // Held until the daemon exits: with -e the JVM inherits the lock that keeps it, and
    // --supervise keeps it until the supervisor returns.
    let (properties_path, _effective_file) = properties.daemon_file(&cache_root, &ctx)?;
    let mut spec = launch::LaunchSpec::new(
        java,
        java_major,
        jar_paths,
        extra_classpath,
        properties_path,
        log_configuration,
        cli.jvm_args.clone(),
    );
    spec.main_class(main_class);
    let launcher = properties.launcher_settings(&ctx);
    if cli.execute || cli.supervise {
        prepare_launch(cli, &mut spec, &launcher, &cache_root);
        let place = jvm::ArchivePlace {
            cache_root: &cache_root,
            lock_digest: &lock.digest,
            timeout: cli.java_timeout,
        };
        let variables = jvm::flags::variable_values(&env_lookup);
        let note = jvm::add_to(&mut spec, &jvm_defaults, &place, &variables);
        if let Some(note) = note.filter(|_| !cli.quiet) {
            output::say(&note);
        }
    }
    if cli.supervise {
        let endpoint = observe_worker(cli, &mut spec)?;
        return supervise(cli, &spec, &launcher, &lock, java_major, endpoint.as_ref());
    }
    finish(cli, &spec, &lock, java_major).map(|()| code::OK)
}

/// What a launched daemon gets that a printed command does not: `KCL_TIMEOUT_IN_SECONDS`, and
/// the default logback file when the user named none (if it cannot be written, the daemon's own
/// configuration is used, with a warning).
fn prepare_launch(
    cli: &Cli,
    spec: &mut launch::LaunchSpec,
    launcher: &LauncherSettings,
    cache_root: &std::path::Path,
) {
    spec.pass_timeout(launcher.timeout_in_seconds());
    if spec.has_log_configuration() {
        return;
    }
    match default_logback::ensure(cache_root) {
        Ok(path) => spec.default_log_configuration(path),
        Err(e) if !cli.quiet => output::say(&format!(
            "warning: cannot write the default logback configuration under {} ({e}); the \
             daemon logs with its own, which prints each child line twice",
            display::shown_path(cache_root)
        )),
        Err(_) => {}
    }
}

/// `--metrics-addr`: starts the endpoint and names its report socket to the daemon's children.
#[cfg(unix)]
fn observe_worker(
    cli: &Cli,
    spec: &mut launch::LaunchSpec,
) -> Result<Option<observe::Endpoint>, Error> {
    let Some(addr) = &cli.metrics_addr else {
        return Ok(None);
    };
    let endpoint = observe::Endpoint::start(addr, cli.stall_after)?;
    let socket = endpoint.socket_path().to_string_lossy().into_owned();
    spec.set_env(observe::REPORT_SOCKET_VARIABLE, socket);
    // Printed even with -q: the port may have been chosen by the system (:0).
    output::say(&format!(
        "metrics on http://{0}/metrics, health on http://{0}/healthz and http://{0}/readyz",
        endpoint.local_addr()
    ));
    Ok(Some(endpoint))
}

#[cfg(not(unix))]
fn observe_worker(
    _cli: &Cli,
    _spec: &mut launch::LaunchSpec,
) -> Result<Option<observe::Endpoint>, Error> {
    Ok(None)
}

/// `--supervise`: runs the daemon as a supervised child; returns the supervisor's exit code.
#[cfg(unix)]
fn supervise(
    cli: &Cli,
    spec: &launch::LaunchSpec,
    launcher: &LauncherSettings,
    lock: &lock::Lock,
    java_major: u32,
    endpoint: Option<&observe::Endpoint>,
) -> Result<i32, Error> {
    if !cli.quiet {
        output::say(&format!(
            "supervising the MultiLangDaemon (KCL {}, Java {java_major})",
            lock.kcl_version
        ));
    }
    output::flush(output::FLUSH_BOUND);
    let options = supervise::Options::new(cli, launcher.shutdown_grace_millis());
    let observers = match endpoint {
        Some(endpoint) => supervise::events::Observers::new(vec![endpoint.feed()]),
        None => supervise::events::Observers::default(),
    };
    supervise::run(spec, &options, observers)
}

/// `--supervise` needs Unix process groups and signals.
#[cfg(not(unix))]
fn supervise(
    _cli: &Cli,
    _spec: &launch::LaunchSpec,
    _launcher: &LauncherSettings,
    _lock: &lock::Lock,
    _java_major: u32,
    _endpoint: Option<&observe::Endpoint>,
) -> Result<i32, Error> {
    output::say("error: --supervise needs Unix (process groups and signals); use -e");
    Ok(code::USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_exit_70_not_a_crash() {
        assert_eq!(reported(|| panic!("boom")), 70);
        assert_eq!(reported(|| Ok(0)), 0);
        assert_eq!(reported(|| Ok(143)), 143);
        let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(reported(|| Err(Error::Stdout(closed))), 6);
    }
}
