//! A `kcl-bootstrap` process the harness started: the command line and environment every worker
//! shares, a process group of its own, `PR_SET_PDEATHSIG`, signals, polling for its exit, and the
//! kill of its whole group when dropped. [`Worker`](crate::worker::Worker) (`-e`) and
//! [`SupervisedWorker`](crate::supervised::SupervisedWorker) (`--supervise`) are built on it.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::paths;

/// JVM options that cut start-up CPU on a small machine (C1 only, serial GC).
const JVM_ARGS: &[&str] = &[
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xshare:auto",
];

/// Which logback configuration the daemon gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logback {
    /// kcl-bootstrap's default (no `-l`): the configuration under test in scenario 13.
    Default,
    /// `tests/fixtures/logback-e2e.xml` (or `$KCL_E2E_LOGBACK`), as the `-e` scenarios use.
    Harness,
}

/// `kcl-bootstrap -p <properties> <mode...>` with the harness's logback choice, JVM options and
/// environment (jar cache, `RUST_LOG=warn`, no AWS profile), run from the properties' directory.
/// The jars are fetched once per test process first.
pub(crate) fn bootstrap_command(properties: &Path, mode: &[&str], logback: Logback) -> Command {
    let bootstrap = paths::workspace_binary("kcl-bootstrap");
    fetch_jars_once(&bootstrap, properties);
    let mut command = Command::new(bootstrap);
    command.arg("-p").arg(properties).args(mode);
    if logback == Logback::Harness
        && let Some(file) = logback_configuration()
    {
        command.arg("-l").arg(file);
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
        .stdin(Stdio::null());
    command
}

/// A started process in a group of its own, killed with its group when dropped.
#[derive(Debug)]
pub(crate) struct Spawned {
    name: String,
    /// Where its output is, for the message when it does not exit in time.
    output: String,
    child: Child,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Spawns `command` in a new process group; if the test process dies first, the kernel kills
    /// it (`PR_SET_PDEATHSIG`). `output` names where its output goes (for error messages).
    pub(crate) fn spawn(
        name: &str,
        mut command: Command,
        output: String,
    ) -> std::io::Result<Spawned> {
        command.process_group(0);
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
        Ok(Spawned {
            name: name.to_owned(),
            output,
            child,
            status: None,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process only (not its group).
    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: plain syscall on a pid we started and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the process to exit; returns its status and how long it took.
    pub(crate) async fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> Result<(ExitStatus, Duration), String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status() {
                return Ok((status, start.elapsed()));
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{} did not exit within {timeout:?}; {}",
                    self.name, self.output
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The whole group (kcl-bootstrap or the JVM it exec'ed, and any child still in it), then
        // reap.
        // SAFETY: plain syscall; the group id is the child's pid (process_group(0)).
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Describes an exit status as `exit N` or `signal N`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => "unknown".into(),
    }
}

/// The last `lines` lines of a file (empty if unreadable).
pub(crate) fn file_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The logback file passed with `-l`: `tests/fixtures/logback-e2e.xml`, or `$KCL_E2E_LOGBACK`
/// when set (a path, or `none` for no `-l` at all, i.e. the daemon jar's own `logback.xml`), for
/// measuring what another configuration logs (tests/README.md, "Log volume").
fn logback_configuration() -> Option<PathBuf> {
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
fn fetch_jars_once(bootstrap: &Path, properties: &Path) {
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
