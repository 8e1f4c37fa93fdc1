//! Running an external command with a bound on its time, and stopping everything it started.
//!
//! `Command::output` waits until stdout and stderr are closed, so a program that hangs, or that
//! exits but leaves a child holding its stderr, blocks the caller forever. Here the command runs
//! in its own process group; its output is read by threads that the caller does not wait for
//! beyond the deadline; when the command exits or the deadline passes, the whole group is killed.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Output kept per stream; a `java -version` banner is a few hundred bytes.
const MAX_CAPTURED: u64 = 64 * 1024;

/// After the command exited, how long its output may still take to arrive.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// What a bounded command produced.
#[derive(Debug)]
pub(crate) struct Captured {
    /// Its exit status.
    pub(crate) status: ExitStatus,
    /// Up to [`MAX_CAPTURED`] bytes of stdout.
    pub(crate) stdout: Vec<u8>,
    /// Up to [`MAX_CAPTURED`] bytes of stderr.
    pub(crate) stderr: Vec<u8>,
}

/// Why a bounded command gave no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// It could not be started.
    #[error("cannot run it")]
    Spawn(#[source] std::io::Error),
    /// It did not exit in time and was killed.
    #[error("it did not finish within {} and was stopped", crate::cli::show_duration(*.0))]
    TimedOut(Duration),
}

/// Runs `command` (stdin closed, stdout and stderr captured) for at most `timeout`.
pub(crate) fn run_bounded(mut command: Command, timeout: Duration) -> Result<Captured, RunError> {
    let deadline = Instant::now() + timeout;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(RunError::TimedOut(timeout));
            }
        }
    };
    // Whatever it left running (a child holding stderr open) belongs to its group.
    kill_group(&mut child);
    let grace = Instant::now() + OUTPUT_GRACE;
    Ok(Captured {
        status,
        stdout: receive(&stdout, grace),
        stderr: receive(&stderr, grace),
    })
}

/// Reads a stream on a thread of its own; its bytes arrive on the returned channel, chunk by
/// chunk, and the channel closes at end of stream.
fn collect(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut stream) = stream {
        // Not joined: if a process outside the group keeps the pipe open, the thread stays
        // blocked until this process exits, which is harmless.
        let _ = std::thread::Builder::new()
            .name("kcl-bootstrap-capture".into())
            .spawn(move || {
                let mut kept = 0u64;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    // Past the cap the stream is drained (so the writer never blocks) and dropped.
                    let keep = (n as u64).min(MAX_CAPTURED - kept) as usize;
                    kept += keep as u64;
                    if keep > 0 && sender.send(buf[..keep].to_vec()).is_err() {
                        break;
                    }
                }
            });
    }
    receiver
}

/// Collects chunks until the stream ends or `until` passes.
fn receive(receiver: &mpsc::Receiver<Vec<u8>>, until: Instant) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(_) => return bytes,
        }
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pgid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on the process group we created for this child (process_group(0)
            // makes its id the group id); it touches no memory.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
}

/// Whether process `pid` exists, as `kill(pid, 0)` tells it (`EPERM`: it runs as another user);
/// `None` when that cannot be told (not a valid process id, or not Unix): each caller decides
/// what an unknown answer means for what it guards.
pub(crate) fn process_exists(pid: u32) -> Option<bool> {
    #[cfg(unix)]
    {
        let pid = libc::pid_t::try_from(pid).ok().filter(|pid| *pid > 0)?;
        // SAFETY: signal 0 performs only the existence and permission check; nothing is sent.
        let result = unsafe { libc::kill(pid, 0) };
        Some(result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn captures_output_and_status() {
        let out = run_bounded(
            sh("echo out; echo err >&2; exit 3"),
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_hung_command_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 300 & echo $! > '{}'; wait", pid_file.display());
        let start = Instant::now();
        let err = run_bounded(sh(&script), Duration::from_millis(500)).unwrap_err();
        assert!(matches!(err, RunError::TimedOut(_)), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "the command's child {pid} was left running");
    }

    #[test]
    fn a_child_holding_stderr_does_not_block_and_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "echo banner >&2; sleep 300 & echo $! > '{}'; exit 0",
            pid_file.display()
        );
        let start = Instant::now();
        let out = run_bounded(sh(&script), Duration::from_secs(20)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(out.status.success());
        assert_eq!(out.stderr, b"banner\n");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid));
    }
}
