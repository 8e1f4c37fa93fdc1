//! The daemon's process: started in a process group of its own, signalled, reaped, and the
//! group (and whatever the daemon's children left behind) killed at the end.
//!
//! Reaping is `waitpid(-1)` from the main loop, not a `Child` handle: as a child subreaper
//! (Linux), the supervisor also becomes the parent of the daemon's children when the JVM dies
//! before them, and must reap those too. Nothing else in this process starts processes while
//! the supervisor runs (`java -version` ran before), so no other `wait` can race with it.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdout, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::launch::LaunchSpec;

/// A started JVM: its process id (which is also its process group id) and its output pipes.
pub(crate) struct Started {
    /// The JVM's pid and process group id.
    pub(crate) pid: u32,
    /// Its stdout.
    pub(crate) stdout: ChildStdout,
    /// Its stderr.
    pub(crate) stderr: ChildStderr,
}

/// Starts the daemon: stdin from /dev/null, stdout and stderr piped to us, a new process group,
/// and (Linux) SIGTERM when this process dies, so that a supervisor killed with SIGKILL still
/// leaves a daemon that shuts down gracefully rather than runs unsupervised.
pub(crate) fn start(spec: &LaunchSpec) -> std::io::Result<Started> {
    let mut command = spec.command();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn()?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        // Cannot happen with Stdio::piped(); stop the JVM rather than run it blind.
        kill_group(child.id(), libc::SIGKILL);
        return Err(std::io::Error::other(
            "the daemon's output pipes are missing",
        ));
    };
    // The `Child` is dropped without waiting: the main loop reaps with waitpid(-1).
    Ok(Started {
        pid: child.id(),
        stdout,
        stderr,
    })
}

/// Makes this process the reaper of its orphaned descendants (Linux; a no-op elsewhere).
pub(crate) fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
}

/// Sends `signal` to the process `pid` only.
pub(crate) fn signal(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on a pid we started and have not reaped yet.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Sends `signal` to every process of the group `pgid`.
pub(crate) fn kill_group(pgid: u32, signal: i32) {
    if let Ok(pgid) = i32::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: kill(2) on the group created for the daemon (process_group(0)).
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Whether any process of the group `pgid` still exists (zombies included).
fn group_exists(pgid: u32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Reaps every child that has exited; returns the status of `pid` if it was among them.
pub(crate) fn reap(pid: u32) -> Option<ExitStatus> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid pointer to a local.
        let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if reaped <= 0 {
            return found;
        }
        if u32::try_from(reaped) == Ok(pid) {
            found = Some(ExitStatus::from_raw(status));
        }
    }
}

/// Leftovers get this long to exit after SIGTERM before SIGKILL: a kcl-protocol child exits at
/// once when the daemon's pipe closes, so only a processor that ignores it waits this long.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// After the JVM exited: stops what is left of its group (SIGTERM, then SIGKILL after
/// [`LEFTOVER_GRACE`]) and every orphan reparented to us, and reaps them; returns how many
/// processes were left. Bounded in time.
pub(crate) fn clean_up(pgid: u32) -> usize {
    let mut left = 0;
    if group_exists(pgid) {
        kill_group(pgid, libc::SIGTERM);
        left += 1;
        let deadline = Instant::now() + LEFTOVER_GRACE;
        while group_exists(pgid) && Instant::now() < deadline {
            reap(0);
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(pgid, libc::SIGKILL);
    }
    // Orphans outside the group (a child that started a session of its own).
    let orphans = orphans();
    left += orphans.len();
    for pid in &orphans {
        signal(*pid, libc::SIGKILL);
    }
    let deadline = Instant::now() + LEFTOVER_GRACE;
    while (group_exists(pgid) || !self::orphans().is_empty()) && Instant::now() < deadline {
        reap(0);
        std::thread::sleep(Duration::from_millis(20));
    }
    reap(0);
    left
}

/// Processes whose parent is this process (Linux: from /proc; elsewhere none). While no daemon
/// runs, every such process is an orphan of a dead daemon's child.
fn orphans() -> Vec<u32> {
    #[cfg(target_os = "linux")]
    {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| parent_of(*pid) == Some(me) && !is_zombie(*pid))
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

#[cfg(target_os = "linux")]
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after its end.
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

#[cfg(target_os = "linux")]
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// The shell's number for `status`: the exit code, or 128 + the signal that killed it.
pub(crate) fn shell_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    }
}

/// `exit 1` or `killed by SIGKILL`.
pub(crate) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by {}", super::signals::name(signal)),
        _ => "an unknown status".into(),
    }
}
