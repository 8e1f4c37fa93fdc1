//! A supervised worker: `kcl-bootstrap -p FILE --supervise [args]`, which runs the JVM as its
//! child in a process group of the JVM's own. kcl-bootstrap runs in a group of its own too; its
//! stdout and stderr go to two files. Dropping it kills the JVM's group, then kcl-bootstrap's; if
//! the test process dies first, `PR_SET_PDEATHSIG` kills kcl-bootstrap, whose own death signal
//! to the JVM (SIGTERM) stops the daemon.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::paths;
use crate::scenario::Scenario;
use crate::sink::{SINK_DIR_ENV, Sink};
use crate::worker::{JVM_ARGS, fetch_jars_once, jar_cache};

/// Which logback configuration the daemon gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logback {
    /// kcl-bootstrap's default (no `-l`): the configuration under test in scenario 13.
    Default,
    /// `tests/fixtures/logback-e2e.xml` (or `$KCL_E2E_LOGBACK`), as the `-e` scenarios use.
    Harness,
}

/// A running (or exited) supervised worker.
#[derive(Debug)]
pub struct SupervisedWorker {
    name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    status: Option<ExitStatus>,
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
        let bootstrap = paths::workspace_binary("kcl-bootstrap");
        fetch_jars_once(&bootstrap, properties);
        let out = s.dir().join(format!("{name}.out"));
        let err = s.dir().join(format!("{name}.err"));
        let mut command = Command::new(bootstrap);
        command
            .arg("-p")
            .arg(properties)
            .arg("--supervise")
            .args(args);
        if logback == Logback::Harness
            && let Some(file) = crate::worker::logback_configuration()
        {
            command.arg("-l").arg(file);
        }
        for arg in JVM_ARGS {
            command.arg(format!("--jvm-arg={arg}"));
        }
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
            .current_dir(properties.parent().unwrap_or(Path::new(".")))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("KCL_BOOTSTRAP_CACHE_DIR", jar_cache())
            .env("RUST_LOG", "warn")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("create the worker's stdout file"))
            .stderr(File::create(&err).expect("create the worker's stderr file"))
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start supervised worker {name}: {e}"));
        eprintln!(
            "[{name}] supervised worker started, pid {}, output {} and {}",
            child.id(),
            out.display(),
            err.display()
        );
        SupervisedWorker {
            name: name.to_owned(),
            child,
            out,
            err,
            status: None,
        }
    }

    /// kcl-bootstrap's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JVMs whose parent is kcl-bootstrap (one while the daemon runs).
    pub fn daemon_pids(&self) -> Vec<u32> {
        children_of(self.child.id())
    }

    /// Sends `signal` to kcl-bootstrap only.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain syscall on a pid we started and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// The exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for kcl-bootstrap to exit; returns its status and how long it took.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status() {
                return Ok((status, start.elapsed()));
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "supervised worker {} did not exit within {timeout:?}; stderr: {}",
                    self.name,
                    self.err.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
            let tail = |text: String| {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            };
            eprintln!(
                "---- last lines of supervised worker {} stdout ({}):\n{}\n---- stderr ({}):\n{}\n----",
                self.name,
                self.out.display(),
                tail(self.stdout()),
                self.err.display(),
                tail(self.stderr())
            );
        }
        for jvm in self.daemon_pids() {
            // SAFETY: the JVM's group (its pid) and the JVM, children of the worker we started.
            unsafe {
                libc::kill(-(jvm as i32), libc::SIGKILL);
                libc::kill(jvm as i32, libc::SIGKILL);
            }
        }
        // SAFETY: kcl-bootstrap's own group (process_group(0)).
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
