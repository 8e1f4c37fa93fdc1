//! The fake daemon: drives one child through one transcript exactly as the MultiLangDaemon does,
//! checks every reply, and measures the child.
//!
//! Sequencing follows `multilang-protocol.md` §2.1–§2.2: one outstanding action at a time; while an
//! action is pending, a checkpoint request gets a reply that echoes its sequence number and
//! sub-sequence number with `"error":null`; the action ends with the matching `status`. After
//! `shardEnded` the daemon closes the child's stdin, reads its stdout to EOF and waits for it.
//! Child lines are classified as Jackson would (§1.4): blank lines are skipped, a line that is not
//! a known message with exactly the known fields would be skipped by the daemon, which for the
//! benchmark is a failure.
//!
//! Measurements: wall time from spawn to exit; user and system CPU from `wait4`; peak RSS from
//! `/proc/<pid>/status` `VmHWM` after the `shardEnded` acknowledgement;
//! idle RSS from `/proc/<pid>/status` (`VmRSS`) right after the `initialize` acknowledgement, and
//! the same after the workload's probe batch and after the last batch; start-up time from spawn
//! to the `initialize` acknowledgement; the driver's own CPU over the whole run.

use std::io::{BufRead, BufReader, Read};
use std::process::{ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::child_line::{ChildLine, classify};
use crate::children::ChildSpec;
use crate::pipe_writes::{WriteMode, write_line};
use crate::transcript::{Transcript, checkpoint_reply};
use crate::watchdog::Watchdog;
use crate::workload::Workload;

/// What one run of one child on one workload measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Child id (`kcl`, `naive`, `python`, `node`).
    pub child: &'static str,
    /// Workload id (`a`, `b`, `c`).
    pub workload: &'static str,
    /// Spawn to exit.
    pub wall: Duration,
    /// Spawn to the `initialize` acknowledgement.
    pub startup: Duration,
    /// First `processRecords` written to the last one acknowledged.
    pub processing: Duration,
    /// The child's user CPU time.
    pub user_cpu: Duration,
    /// The child's system CPU time.
    pub sys_cpu: Duration,
    /// The child's peak resident set size (`VmHWM` once it has acknowledged `shardEnded`), KiB.
    pub peak_rss_kib: u64,
    /// The child's resident set size right after the `initialize` acknowledgement, KiB.
    pub idle_rss_kib: u64,
    /// Its resident set size right after it acknowledged the workload's probe batch, KiB.
    pub probe_rss_kib: Option<u64>,
    /// Its resident set size after the last batch's acknowledgement (before `shardEnded`), KiB.
    pub end_rss_kib: u64,
    /// The driver's own user + system CPU for the run (spawn to exit).
    pub driver_cpu: Duration,
    /// Checkpoint requests answered.
    pub checkpoints: usize,
    /// Length of the longest line written to the child, bytes.
    pub largest_line: usize,
    /// How the lines were written.
    pub write_mode: WriteMode,
}

impl Measurement {
    /// User + system CPU of the child.
    pub fn cpu(&self) -> Duration {
        self.user_cpu + self.sys_cpu
    }
}

/// Why a run failed: the child broke the protocol, failed, or could not be started.
#[derive(Debug)]
pub struct DriveError {
    /// What went wrong, for a person.
    pub message: String,
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DriveError {}

fn fail<T>(message: impl Into<String>) -> Result<T, DriveError> {
    Err(DriveError {
        message: message.into(),
    })
}

/// What a checkpoint request inside an action must look like.
#[derive(Clone, Copy)]
enum ExpectedCheckpoint<'a> {
    /// No checkpoint (during `initialize` the daemon has no checkpointer).
    None,
    /// Exactly one, at this sequence number (the batch's last record).
    At(&'a str),
    /// Exactly one, with a null sequence number: SHARD_END.
    ShardEnd,
}

/// The daemon's side of the pipes while the child runs.
struct Session<R> {
    stdin: ChildStdin,
    stdout: R,
    line: Vec<u8>,
    checkpoints: usize,
    write_mode: WriteMode,
}

impl<R: BufRead> Session<R> {
    /// Sends one action and serves the child until it acknowledges it.
    fn action(
        &mut self,
        name: &str,
        label: &str,
        message: &[u8],
        expected: ExpectedCheckpoint<'_>,
    ) -> Result<(), DriveError> {
        if let Err(error) = write_line(&mut self.stdin, message, self.write_mode) {
            return fail(format!("writing {label} to the child failed: {error}"));
        }
        let mut checkpoints_here = 0usize;
        loop {
            self.line.clear();
            match self.stdout.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    return fail(format!(
                        "the child closed stdout while the daemon waited for status({name}) of {label}"
                    ));
                }
                Ok(_) => {}
                Err(error) => return fail(format!("reading the child's stdout failed: {error}")),
            }
            let text = trim_line_end(&self.line);
            if text.is_empty() {
                continue; // The daemon skips exactly-empty lines silently.
            }
            match classify(text) {
                ChildLine::Status(Some(response_for)) if response_for == name => break,
                ChildLine::Status(other) => {
                    return fail(format!(
                        "{label}: status for {other:?}, expected {name:?} (the daemon would exit)"
                    ));
                }
                ChildLine::Checkpoint {
                    sequence_number,
                    sub_sequence_number,
                } => {
                    checkpoints_here += 1;
                    match expected {
                        ExpectedCheckpoint::None => {
                            return fail(format!("{label}: unexpected checkpoint request"));
                        }
                        ExpectedCheckpoint::At(seq) if sequence_number.as_deref() != Some(seq) => {
                            return fail(format!(
                                "{label}: checkpoint at {sequence_number:?}, expected the batch's last record {seq}"
                            ));
                        }
                        ExpectedCheckpoint::ShardEnd if sequence_number.is_some() => {
                            return fail(format!(
                                "{label}: checkpoint at {sequence_number:?}, expected null (SHARD_END)"
                            ));
                        }
                        _ => {}
                    }
                    let reply = checkpoint_reply(sequence_number.as_deref(), sub_sequence_number);
                    if let Err(error) = write_line(&mut self.stdin, &reply, self.write_mode) {
                        return fail(format!("writing a checkpoint reply failed: {error}"));
                    }
                }
                ChildLine::OtherMessage(action) => {
                    return fail(format!(
                        "{label}: the child sent a {action:?} message, which the daemon ignores"
                    ));
                }
                ChildLine::Skipped(why) => {
                    return fail(format!(
                        "{label}: the daemon would skip this child line ({why}): {}",
                        String::from_utf8_lossy(&text[..text.len().min(200)])
                    ));
                }
            }
        }
        let wanted = match expected {
            ExpectedCheckpoint::None => 0,
            _ => 1,
        };
        if checkpoints_here != wanted {
            return fail(format!(
                "{label}: {checkpoints_here} checkpoint requests, expected {wanted}"
            ));
        }
        self.checkpoints += checkpoints_here;
        Ok(())
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Exit status and resource use of a reaped child.
struct Reaped {
    status: i32,
    usage: libc::rusage,
}

fn wait4(pid: i32) -> std::io::Result<Reaped> {
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own unreaped child.
        let result = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if result == pid {
            return Ok(Reaped { status, usage });
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn timeval(value: libc::timeval) -> Duration {
    Duration::from_secs(value.tv_sec as u64) + Duration::from_micros(value.tv_usec as u64)
}

/// This process's own user + system CPU so far (all threads).
pub fn own_cpu() -> Duration {
    // SAFETY: rusage is plain old data; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// A memory field of a running process's `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), KiB.
fn proc_status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reads the child's stderr to EOF on a thread (the daemon always drains it), keeping the last
/// 64 KiB for the report line and error messages.
fn drain_stderr(stderr: std::process::ChildStderr) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        const KEEP: usize = 64 * 1024;
        let mut kept = Vec::new();
        let mut reader = BufReader::new(stderr);
        let mut chunk = [0u8; 8192];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&chunk[..n]);
            if kept.len() > 2 * KEEP {
                kept.drain(..kept.len() - KEEP);
            }
        }
        kept
    })
}

/// The counts a child prints at shard end: `kcl-bench-child records=<n> bytes=<n>`.
fn child_report(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .rev()
        .find_map(|line| line.split("kcl-bench-child ").nth(1))?;
    let mut records = None;
    let mut bytes = None;
    for field in line.split_whitespace() {
        if let Some(value) = field.strip_prefix("records=") {
            records = value.parse().ok();
        } else if let Some(value) = field.strip_prefix("bytes=") {
            bytes = value.parse().ok();
        }
    }
    Some((records?, bytes?))
}

/// What the conversation measured while the child ran.
struct Rss {
    startup: Duration,
    idle_rss_kib: u64,
    probe_rss_kib: Option<u64>,
    end_rss_kib: u64,
    processing: Duration,
    peak_rss_kib: u64,
}

/// Runs `child` through `transcript`, writing each line as `write_mode` says, and measures it.
///
/// Fails if the child breaks the protocol, misses or misplaces a checkpoint, reports different
/// totals than the workload holds, exits non-zero, or runs longer than `time_limit`.
pub fn drive(
    child: &ChildSpec,
    workload: &Workload,
    transcript: &Transcript,
    time_limit: Duration,
    write_mode: WriteMode,
) -> Result<Measurement, DriveError> {
    let cpu_before = own_cpu();
    let started = Instant::now();
    let mut process = match Command::new(&child.program)
        .args(&child.args)
        .envs(child.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(process) => process,
        Err(error) => return fail(format!("cannot start {}: {error}", child.program.display())),
    };
    let pid = process.id() as i32;
    let watchdog = Watchdog::start(pid, time_limit);
    let stderr = drain_stderr(process.stderr.take().expect("stderr was piped"));
    let mut session = Session {
        stdin: process.stdin.take().expect("stdin was piped"),
        stdout: BufReader::with_capacity(
            64 * 1024,
            process.stdout.take().expect("stdout was piped"),
        ),
        line: Vec::with_capacity(4096),
        checkpoints: 0,
        write_mode,
    };

    let conversation = (|| {
        session.action(
            "initialize",
            "initialize",
            &transcript.initialize,
            ExpectedCheckpoint::None,
        )?;
        let startup = started.elapsed();
        let idle_rss_kib = proc_status_kib(pid, "VmRSS:").unwrap_or(0);
        let processing_started = Instant::now();
        let mut probe_rss_kib = None;
        for (index, batch) in transcript.batches.iter().enumerate() {
            session.action(
                "processRecords",
                &format!("processRecords #{}", index + 1),
                &batch.line,
                ExpectedCheckpoint::At(&batch.last_sequence_number),
            )?;
            if workload.rss_probe_after_batch == Some(index + 1) {
                // After the child's acknowledgement it waits for the next line: what it holds now
                // it holds while idle.
                probe_rss_kib = proc_status_kib(pid, "VmRSS:");
            }
        }
        let processing = processing_started.elapsed();
        let end_rss_kib = proc_status_kib(pid, "VmRSS:").unwrap_or(0);
        session.action(
            "shardEnded",
            "shardEnded",
            &transcript.shard_ended,
            ExpectedCheckpoint::ShardEnd,
        )?;
        // Peak RSS of the child's own image, read while it still runs. `ru_maxrss` from wait4 is
        // not usable: Linux carries the pre-exec high-water mark into it, and with vfork-style
        // spawning that is the driver's RSS (hundreds of MB of pre-generated transcripts).
        let peak_rss_kib = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
        Ok::<_, DriveError>(Rss {
            startup,
            idle_rss_kib,
            probe_rss_kib,
            end_rss_kib,
            processing,
            peak_rss_kib,
        })
    })();

    // End of the shard: close stdin, read stdout to EOF, reap.
    let Session {
        stdin,
        mut stdout,
        checkpoints,
        ..
    } = session;
    drop(stdin);
    if conversation.is_err() {
        // SAFETY: no memory-safety preconditions; the child is not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut trailing = Vec::new();
    let _ = stdout.read_to_end(&mut trailing);
    let reaped = wait4(pid);
    let wall = started.elapsed();
    let killed = watchdog.stop();
    let driver_cpu = own_cpu().saturating_sub(cpu_before);
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    let stderr_tail = || {
        let tail: String = stderr
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if tail.trim().is_empty() {
            String::new()
        } else {
            format!("\n--- child stderr (tail) ---\n{}", tail.trim_end())
        }
    };

    if killed {
        return fail(format!(
            "{} on workload {}: killed after the {:?} time limit{}",
            child.id,
            workload.id,
            time_limit,
            stderr_tail()
        ));
    }
    let Rss {
        startup,
        idle_rss_kib,
        probe_rss_kib,
        end_rss_kib,
        processing,
        peak_rss_kib,
    } = match conversation {
        Ok(values) => values,
        Err(error) => {
            return fail(format!(
                "{} on workload {}: {error}{}",
                child.id,
                workload.id,
                stderr_tail()
            ));
        }
    };
    let reaped = match reaped {
        Ok(reaped) => reaped,
        Err(error) => return fail(format!("waiting for the child failed: {error}")),
    };
    if !libc::WIFEXITED(reaped.status) || libc::WEXITSTATUS(reaped.status) != 0 {
        return fail(format!(
            "{} on workload {}: child ended with wait status {:#x} (exit code {}){}",
            child.id,
            workload.id,
            reaped.status,
            libc::WEXITSTATUS(reaped.status),
            stderr_tail()
        ));
    }
    let stray: Vec<&[u8]> = trailing
        .split(|&byte| byte == b'\n')
        .map(trim_line_end)
        .filter(|line| !line.is_empty())
        .collect();
    if !stray.is_empty() {
        return fail(format!(
            "{} on workload {}: {} line(s) on stdout after shardEnded, first: {}",
            child.id,
            workload.id,
            stray.len(),
            String::from_utf8_lossy(stray[0])
        ));
    }
    if checkpoints != workload.batches() + 1 {
        return fail(format!(
            "{} on workload {}: {checkpoints} checkpoints, expected {} (one per batch + shard end)",
            child.id,
            workload.id,
            workload.batches() + 1
        ));
    }
    match child_report(&stderr) {
        Some((records, bytes))
            if records == workload.total_records() && bytes == workload.payload_bytes() => {}
        Some((records, bytes)) => {
            return fail(format!(
                "{} on workload {}: child decoded {records} records / {bytes} bytes, expected {} / {}",
                child.id,
                workload.id,
                workload.total_records(),
                workload.payload_bytes()
            ));
        }
        None => {
            return fail(format!(
                "{} on workload {}: no `kcl-bench-child records=.. bytes=..` line on stderr{}",
                child.id,
                workload.id,
                stderr_tail()
            ));
        }
    }

    Ok(Measurement {
        child: child.id,
        workload: workload.id,
        wall,
        startup,
        processing,
        user_cpu: timeval(reaped.usage.ru_utime),
        sys_cpu: timeval(reaped.usage.ru_stime),
        peak_rss_kib,
        idle_rss_kib,
        probe_rss_kib,
        end_rss_kib,
        driver_cpu,
        checkpoints,
        largest_line: transcript.largest_line(),
        write_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_childs_report_line() {
        assert_eq!(
            child_report("noise\nkcl-bench-child records=10 bytes=1024\n"),
            Some((10, 1024))
        );
        assert_eq!(
            child_report("INFO shard: kcl-bench-child records=3 bytes=7"),
            Some((3, 7))
        );
        assert_eq!(child_report("kcl-bench-child records=x"), None);
        assert_eq!(child_report(""), None);
    }
}
