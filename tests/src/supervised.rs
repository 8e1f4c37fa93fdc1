//! A supervised worker: `kcl-bootstrap -p FILE --supervise [args]`, which runs the JVM as its
//! child in a process group of the JVM's own. kcl-bootstrap runs in a group of its own too; its
//! stdout and stderr go to two files. Dropping it kills the JVM's group, then kcl-bootstrap's; if
//! the test process dies first, `PR_SET_PDEATHSIG` kills kcl-bootstrap, whose own death signal
//! to the JVM (SIGTERM) stops the daemon.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::scenario::Scenario;
use crate::sink::{SINK_DIR_ENV, Sink};
pub use crate::spawned::Logback;
use crate::spawned::{self, Spawned};

/// A running (or exited) supervised worker.
#[derive(Debug)]
pub struct SupervisedWorker {
    process: Spawned,
    out: PathBuf,
    err: PathBuf,
}

impl SupervisedWorker {
    /// Starts `kcl-bootstrap -p <properties> --supervise <args>` for scenario `s`, with the
    /// stack's environment, `E2E_SINK_DIR` = `sink` and `extra_env`.
    pub fn start(
        s: &Scenario,
        name: &str,
        properties: &Path,
        sink: Option<&Sink>,
        extra_env: &[(&str, &str)],
        logback: Logback,
        args: &[&str],
    ) -> SupervisedWorker {
        let out = s.dir().join(format!("{name}.out"));
        let err = s.dir().join(format!("{name}.err"));
        let mode: Vec<&str> = std::iter::once("--supervise")
            .chain(args.iter().copied())
            .collect();
        let mut command = spawned::bootstrap_command(properties, &mode, logback);
        let mut env = s.stack().env();
        if let Some(sink) = sink {
            env.push((SINK_DIR_ENV.to_owned(), sink.dir().display().to_string()));
        }
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        command
            .envs(env)
            .stdout(File::create(&out).expect("create the worker's stdout file"))
            .stderr(File::create(&err).expect("create the worker's stderr file"));
        let process = Spawned::spawn(name, command, format!("stderr: {}", err.display()))
            .unwrap_or_else(|e| panic!("cannot start supervised worker {name}: {e}"));
        eprintln!(
            "[{name}] supervised worker started, pid {}, output {} and {}",
            process.pid(),
            out.display(),
            err.display()
        );
        SupervisedWorker { process, out, err }
    }

    /// kcl-bootstrap's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The JVMs whose parent is kcl-bootstrap (one while the daemon runs).
    pub fn daemon_pids(&self) -> Vec<u32> {
        children_of(self.process.pid())
    }

    /// Sends `signal` to kcl-bootstrap only.
    pub fn signal(&self, signal: i32) {
        self.process.signal(signal);
    }

    /// The exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.process.try_status()
    }

    /// Waits for kcl-bootstrap to exit; returns its status and how long it took.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration), String> {
        self.process.wait_exit(timeout).await
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The paths of its stdout and stderr files.
    pub fn output_files(&self) -> (&Path, &Path) {
        (&self.out, &self.err)
    }
}

/// Processes whose parent is `parent` (from /proc).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Field 4 (the parent) follows the command name, which is in parentheses.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(parent)
        })
        .collect()
}

impl Drop for SupervisedWorker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of supervised worker {} stdout ({}):\n{}\n---- stderr ({}):\n{}\n----",
                self.process.name(),
                self.out.display(),
                spawned::file_tail(&self.out, 30),
                self.err.display(),
                spawned::file_tail(&self.err, 30)
            );
        }
        for jvm in self.daemon_pids() {
            // SAFETY: the JVM's group (its pid) and the JVM, children of the worker we started.
            unsafe {
                libc::kill(-(jvm as i32), libc::SIGKILL);
                libc::kill(jvm as i32, libc::SIGKILL);
            }
        }
        // Then `process` drops: kcl-bootstrap's own group is killed and kcl-bootstrap reaped.
    }
}
