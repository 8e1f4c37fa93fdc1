//! One daemon worker: `kcl-bootstrap -p FILE -e`, which exec's the JVM, so the child's PID is the
//! JVM's. It runs in a process group of its own (the e2e-consumer children the JVM starts join it),
//! its stdout and stderr go to a log file, and it is killed with its whole group when dropped. If the
//! test thread dies without dropping it, `PR_SET_PDEATHSIG` kills the JVM.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::spawned::{self, Logback, Spawned};

/// A running (or exited) daemon worker.
#[derive(Debug)]
pub struct Worker {
    process: Spawned,
    log: PathBuf,
}

impl Worker {
    /// Starts `kcl-bootstrap -p <properties> -e` with `env` on top of a cleaned environment.
    pub fn start(
        name: &str,
        properties: &Path,
        log: &Path,
        env: &[(String, String)],
    ) -> std::io::Result<Worker> {
        let log_file = File::create(log)?;
        let mut command = spawned::bootstrap_command(properties, &["-e"], Logback::Harness);
        command
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let process = Spawned::spawn(name, command, format!("log: {}", log.display()))?;
        Ok(Worker {
            process,
            log: log.to_path_buf(),
        })
    }

    /// The JVM's process id (kcl-bootstrap exec'ed it).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The worker's name in the scenario.
    pub fn name(&self) -> &str {
        self.process.name()
    }

    /// The daemon log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Sends a signal to the JVM only (not its group).
    pub fn signal(&self, signal: i32) {
        self.process.signal(signal);
    }

    /// The exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.process.try_status()
    }

    /// Waits for the JVM to exit; returns its status and how long it took.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration), String> {
        self.process.wait_exit(timeout).await
    }

    /// The last `lines` lines of the daemon log.
    pub fn log_tail(&self, lines: usize) -> String {
        spawned::file_tail(&self.log, lines)
    }

    /// Describes an exit status as `exit N` or `signal N`.
    pub fn describe(status: ExitStatus) -> String {
        spawned::describe(status)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of worker {} log ({}):\n{}\n----",
                self.name(),
                self.log.display(),
                self.log_tail(40)
            );
        }
        // Then `process` drops: the whole group is killed and the JVM reaped.
    }
}
