//! One daemon worker: `kcl-bootstrap -p FILE -e`, which exec's the JVM, so the child's PID is the
//! JVM's. It runs in a process group of its own (the e2e-consumer children the JVM starts join it),
//! its stdout and stderr go to a log file, and it is killed with its whole group when dropped. If the
//! test thread dies without dropping it, `PR_SET_PDEATHSIG` kills the JVM.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::paths;

/// A running (or exited) daemon worker.
#[derive(Debug)]
pub struct Worker {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

/// JVM options that cut start-up CPU on a small machine (C1 only, serial GC).
pub(crate) const JVM_ARGS: &[&str] = &[
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xshare:auto",
];

impl Worker {
    /// Starts `kcl-bootstrap -p <properties> -e` with `env` on top of a cleaned environment.
    pub fn start(
        name: &str,
        properties: &Path,
        log: &Path,
        env: &[(String, String)],
    ) -> std::io::Result<Worker> {
        let bootstrap = paths::workspace_binary("kcl-bootstrap");
        fetch_jars_once(&bootstrap, properties);
        let log_file = File::create(log)?;
        let mut command = Command::new(bootstrap);
        command.arg("-p").arg(properties).arg("-e");
        if let Some(logback) = logback_configuration() {
            command.arg("-l").arg(logback);
        }
        for arg in JVM_ARGS {
            command.arg(format!("--jvm-arg={arg}"));
        }
        command
            .current_dir(properties.parent().unwrap_or(Path::new(".")))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("KCL_BOOTSTRAP_CACHE_DIR", jar_cache())
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
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
        let child = command.spawn()?;
        Ok(Worker {
            name: name.to_owned(),
            child,
            log: log.to_path_buf(),
            status: None,
        })
    }

    /// The JVM's process id (kcl-bootstrap exec'ed it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The worker's name in the scenario.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Sends a signal to the JVM only (not its group).
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

    /// Waits for the JVM to exit; returns its status and how long it took.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status() {
                return Ok((status, start.elapsed()));
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "worker {} did not exit within {timeout:?}; log: {}",
                    self.name,
                    self.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `lines` lines of the daemon log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Describes an exit status as `exit N` or `signal N`.
    pub fn describe(status: ExitStatus) -> String {
        match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => "unknown".into(),
        }
    }
}

/// The logback file passed with `-l`: `tests/fixtures/logback-e2e.xml`, or `$KCL_E2E_LOGBACK`
/// when set (a path, or `none` for no `-l` at all, i.e. the daemon jar's own `logback.xml`), for
/// measuring what another configuration logs (tests/README.md, "Log volume").
pub(crate) fn logback_configuration() -> Option<PathBuf> {
    match std::env::var_os("KCL_E2E_LOGBACK") {
        Some(value) if value == "none" => None,
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => Some(
            paths::repo_root()
                .join("tests")
                .join("fixtures")
                .join("logback-e2e.xml"),
        ),
    }
}

/// The jar cache all workers share: `$KCL_BOOTSTRAP_CACHE_DIR` when set (as `scripts/test` sets
/// it, or a cache shared by several clones; kcl-bootstrap locks it), else `.local/kcl-bootstrap-cache`
/// (git-ignored).
pub(crate) fn jar_cache() -> PathBuf {
    match std::env::var_os("KCL_BOOTSTRAP_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => paths::repo_root()
            .join(".local")
            .join("kcl-bootstrap-cache"),
    }
}

/// Downloads (or verifies) the daemon jars once per test process, before the first worker starts,
/// so that parallel scenarios do not all download at once and a download problem is reported as
/// such rather than as a scenario timeout.
pub(crate) fn fetch_jars_once(bootstrap: &Path, properties: &Path) {
    static FETCHED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = FETCHED.get_or_init(|| {
        let output = Command::new(bootstrap)
            .arg("-p")
            .arg(properties)
            .arg("--print-classpath")
            .arg("--no-validate")
            .env("KCL_BOOTSTRAP_CACHE_DIR", jar_cache())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run kcl-bootstrap: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "kcl-bootstrap could not fetch the daemon jars ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of worker {} log ({}):\n{}\n----",
                self.name,
                self.log.display(),
                self.log_tail(40)
            );
        }
        // Kill the whole group (JVM and any e2e-consumer still alive), then reap the JVM.
        // SAFETY: plain syscall; the group id is the child's pid (process_group(0)).
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
