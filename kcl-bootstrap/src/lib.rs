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
//! - `launch`: the command line, printed or executed.
//!
//! Only [`lock`], [`digest`] and [`properties::parse`] are public, for the integration tests.
//! Nothing here writes to stdout except the printed command or classpath; stderr goes through a
//! queue that a closed or full pipe cannot stall.

mod cli;
mod configuration;
pub mod digest;
mod display;
mod effective_file;
mod error;
mod files;
mod jars;
mod java;
mod launch;
pub mod lock;
mod maven;
mod output;
mod process;
pub mod properties;
mod steps;

pub use cli::Cli;

use configuration::Configuration;
use error::{Error, code};
use steps::*;

/// Runs the bootstrap for `cli` and returns the process exit code: 0, an error's documented
/// code (after printing the error), or 70 after a panic. With `-e` on Unix it does not return
/// when the daemon starts.
pub fn main_with(cli: &Cli) -> i32 {
    reported(|| run(cli))
}

/// Runs `steps`, prints how they failed, and returns the exit code.
fn reported(steps: impl FnOnce() -> Result<(), Error>) -> i32 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(steps));
    let exit = match outcome {
        Ok(Ok(())) => code::OK,
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

/// The steps: validate, locate Java, prepare the jars, then print or exec.
fn run(cli: &Cli) -> Result<(), Error> {
    if cli.list_versions {
        return list_versions();
    }
    let cwd = std::env::current_dir().map_err(Error::CurrentDir)?;
    let lock = load_lock(cli)?;
    let ctx = properties::Context::new(&lock, cwd.clone(), std::env::var_os("PATH"));
    let file = configuration::read_properties(cli, &cwd)?;
    let properties = Configuration::gather(cli, file, std::env::vars_os(), &ctx)?;
    if !cli.no_validate {
        properties.validate(cli.quiet, &ctx)?;
    }
    let log_configuration = log_configuration(cli, &cwd)?;
    let extra_classpath = extra_classpath(cli, &cwd)?;
    let cache_root = jars::cache_root(std::env::var_os(jars::ENV_CACHE_DIR), &cwd)?;
    let (java, java_major) = find_java(cli, &cwd, &lock, &cache_root)?;
    if cli.check {
        report_check(cli, &properties, &java, java_major, &lock, &extra_classpath);
        return properties.print_listing(&ctx);
    }
    check_repository_flags(cli)?;
    let jar_paths = prepare_jars(cli, &lock, &cwd, cache_root.clone())?;
    // Held until the daemon exits: with -e the JVM inherits the lock that keeps it.
    let (properties_path, _effective_file) = properties.daemon_file(&cache_root, &ctx)?;
    let spec = launch::LaunchSpec::new(
        java,
        java_major,
        jar_paths,
        extra_classpath,
        properties_path,
        log_configuration,
        cli.jvm_args.clone(),
    );
    finish(cli, &spec, &lock, java_major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_exit_70_not_a_crash() {
        assert_eq!(reported(|| panic!("boom")), 70);
        assert_eq!(reported(|| Ok(())), 0);
        let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(reported(|| Err(Error::Stdout(closed))), 6);
    }
}
