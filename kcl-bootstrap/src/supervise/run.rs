//! The supervisor's main loop: start the daemon, forward signals, wait, clean up, then exit or
//! restart.
//!
//! Exit status (docs/bootstrap.md has the same table):
//! - 0: a SIGTERM, SIGINT or SIGHUP asked for the stop, and the daemon finished its graceful
//!   shutdown in time (it exited by itself within `shutdownGraceMillis` + [`STOP_MARGIN`], with
//!   0 or the status a JVM reports after that signal, and its shutdown hook logged no error);
//! - otherwise the daemon's status: its exit code, or 128 + the signal that killed it (137
//!   after the supervisor's SIGKILL);
//! - [`GAVE_UP`] (8): the restart budget (`--max-restarts` within `--restart-window`) is spent.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::backoff::RestartBudget;
use super::events::{Event, Observers};
use super::lines::Level;
use super::pump::{Pumps, Seen};
use super::render::{Output, Quiet};
use super::{GAVE_UP, Options, RestartPolicy, process, signals};
use crate::cli::show_duration;
use crate::error::{Error, code};
use crate::launch::LaunchSpec;

/// How often the main loop reaps and checks its deadlines while no signal arrives.
const POLL: Duration = Duration::from_millis(50);

/// Added to `shutdownGraceMillis` before a requested stop is enforced with SIGKILL: the JVM
/// exits within about 2 s of the grace (tests/e2e scenario 3 asserts grace + 2 s), so 10 s
/// leaves room on a loaded machine.
const STOP_MARGIN: Duration = Duration::from_secs(10);

/// After a second SIGTERM or SIGINT, how long the daemon has before its group is killed.
const ESCALATION_GRACE: Duration = Duration::from_secs(3);

/// An exit this soon after the start is reported as a start-up failure, with the last lines.
/// The daemon took 12 s from its first log line to "Initialization complete" in scenario 13 on
/// the project's 2-core machine at a load average of 10; a failure to reach an endpoint or a
/// rejected key surfaces within the SDK's retries, inside that time.
const STARTUP_WINDOW: Duration = Duration::from_secs(30);

/// After the daemon exited and its group was cleaned up, how long its output may still take.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// A stop that a signal asked for.
#[derive(Debug)]
struct Stop {
    signal: i32,
    deadline: Instant,
    escalate_at: Option<Instant>,
    killed: Option<Kill>,
}

/// Why the supervisor killed the daemon's group during a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// The graceful shutdown took longer than `shutdownGraceMillis` + [`STOP_MARGIN`].
    DeadlinePassed,
    /// A second SIGTERM or SIGINT.
    Escalated,
}

/// How one run of the daemon ended.
struct Ended {
    pid: u32,
    status: ExitStatus,
    ran_for: Duration,
    stop: Option<Stop>,
    seen: Seen,
}

/// Supervises the daemon until it is asked to stop, exits without a restart due, or the restart
/// budget is spent; returns kcl-bootstrap's exit code. Fails only when the JVM cannot be started.
pub(crate) fn run(
    spec: &LaunchSpec,
    options: &Options,
    observers: Observers,
) -> Result<i32, Error> {
    let quiet = if options.quiet { Quiet::Yes } else { Quiet::No };
    let output = Arc::new(Output::new(options.format, quiet));
    let signals = match signals::listen() {
        Ok(receiver) => receiver,
        Err(e) => {
            let message = format!("cannot catch signals ({e}); run the daemon with -e instead");
            output.supervisor(Level::Error, &message, &[]);
            return Ok(code::INTERNAL);
        }
    };
    process::become_subreaper();
    let mut budget = RestartBudget::new(options.limits);
    let mut run_number = 0;
    loop {
        run_number += 1;
        let ended = run_once(spec, options, &output, &observers, &signals, run_number)?;
        observers.emit(&Event::DaemonExited {
            pid: ended.pid,
            status: ended.status,
            ran_for: ended.ran_for,
            stop_requested: ended.stop.is_some(),
        });
        if let Some(stop) = &ended.stop {
            return Ok(report_stop(&ended, stop, &output));
        }
        let exit = process::shell_code(ended.status);
        let restart = match options.restart {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => exit != 0,
            RestartPolicy::Always => true,
        };
        let what = describe_exit(&ended);
        let quoted: Vec<String> = if exit != 0 {
            ended.seen.tail.iter().cloned().collect()
        } else {
            Vec::new()
        };
        if !restart {
            let level = if exit == 0 { Level::Info } else { Level::Error };
            let message = with_quote(format!("{what}; exit status {exit}"), &quoted);
            output.supervisor(level, &message, &quoted);
            return Ok(exit);
        }
        let Some(delay) = budget.take(Instant::now()) else {
            let limits = budget.limits();
            let message = format!(
                "{what}; giving up: {} restart(s) within {} already (--max-restarts {}, \
                 --restart-window {}); exit status {GAVE_UP}",
                budget.in_window(),
                show_duration(limits.window()),
                limits.max_restarts(),
                show_duration(limits.window()),
            );
            output.supervisor(Level::Error, &with_quote(message, &quoted), &quoted);
            observers.emit(&Event::GaveUp {
                restarts: budget.in_window(),
            });
            return Ok(GAVE_UP);
        };
        let limits = budget.limits();
        let message = format!(
            "{what}; restarting in {} (restart {} of at most {} within {})",
            show_duration(delay),
            budget.in_window(),
            limits.max_restarts(),
            show_duration(limits.window()),
        );
        output.supervisor(Level::Warn, &with_quote(message, &quoted), &quoted);
        observers.emit(&Event::Restarting {
            run: run_number + 1,
            delay,
        });
        if let Some(signal) = wait_for_stop(&signals, delay) {
            let message = format!(
                "{} while waiting to restart the daemon: not restarting; exit status {exit}",
                signals::name(signal)
            );
            output.supervisor(Level::Info, &message, &[]);
            return Ok(exit);
        }
    }
}

/// Starts the daemon once and supervises it until it exited and its group is gone.
fn run_once(
    spec: &LaunchSpec,
    options: &Options,
    output: &Arc<Output>,
    observers: &Observers,
    signals: &Receiver<i32>,
    run_number: u32,
) -> Result<Ended, Error> {
    let started = process::start(spec).map_err(|source| Error::Exec {
        java: spec.java().to_path_buf(),
        source,
    })?;
    let (pid, start) = (started.pid, Instant::now());
    let again = if run_number > 1 {
        format!(", start {run_number}")
    } else {
        String::new()
    };
    output.supervisor(
        Level::Info,
        &format!("started the daemon (pid {pid}{again})"),
        &[],
    );
    observers.emit(&Event::DaemonStarted {
        pid,
        run: run_number,
    });
    let mut pumps = Pumps::start(pid, started.stdout, started.stderr, output, observers);
    let mut stop: Option<Stop> = None;
    let status = loop {
        match signals.recv_timeout(POLL) {
            Ok(signal) => on_signal(signal, pid, &mut stop, options, output),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
        }
        if let Some(status) = process::reap(pid) {
            break status;
        }
        if let Some(stop) = &mut stop {
            enforce(stop, pid, options, output);
        }
    };
    let ran_for = start.elapsed();
    let left = process::clean_up(pid);
    if left > 0 {
        let message = format!(
            "processes of the daemon's were still running after it exited (pid {pid}); stopped them"
        );
        output.supervisor(Level::Warn, &message, &[]);
    }
    pumps.finish(OUTPUT_DRAIN);
    Ok(Ended {
        pid,
        status,
        ran_for,
        stop,
        seen: pumps.seen(),
    })
}

/// Forwards `signal` to the daemon; the first stop signal starts the stop, a second SIGTERM or
/// SIGINT arms the escalation.
fn on_signal(signal: i32, pid: u32, stop: &mut Option<Stop>, options: &Options, output: &Output) {
    process::signal(pid, signal);
    let name = signals::name(signal);
    if !signals::stops(signal) {
        output.supervisor(
            Level::Info,
            &format!("{name} forwarded to the daemon (a thread dump on its stdout)"),
            &[],
        );
        return;
    }
    match stop {
        None => {
            let bound = options.shutdown_grace + STOP_MARGIN;
            output.supervisor(
                Level::Info,
                &format!(
                    "{name}: stopping the daemon gracefully (up to {}: shutdownGraceMillis + {})",
                    show_duration(bound),
                    show_duration(STOP_MARGIN)
                ),
                &[],
            );
            *stop = Some(Stop {
                signal,
                deadline: Instant::now() + bound,
                escalate_at: None,
                killed: None,
            });
        }
        Some(stop) if signals::escalates(signal) && stop.escalate_at.is_none() => {
            output.supervisor(
                Level::Warn,
                &format!(
                    "second {name}: killing the daemon and its children in {} unless it exits",
                    show_duration(ESCALATION_GRACE)
                ),
                &[],
            );
            stop.escalate_at = Some(Instant::now() + ESCALATION_GRACE);
        }
        Some(_) => {}
    }
}

/// Kills the daemon's group when the stop's deadline or escalation time has passed.
fn enforce(stop: &mut Stop, pid: u32, options: &Options, output: &Output) {
    if stop.killed.is_some() {
        return;
    }
    let now = Instant::now();
    let kill = if stop.escalate_at.is_some_and(|at| now >= at) {
        Kill::Escalated
    } else if now >= stop.deadline {
        Kill::DeadlinePassed
    } else {
        return;
    };
    let why = match kill {
        Kill::Escalated => "asked twice".to_string(),
        Kill::DeadlinePassed => format!(
            "its graceful shutdown took longer than {} (shutdownGraceMillis + {})",
            show_duration(options.shutdown_grace + STOP_MARGIN),
            show_duration(STOP_MARGIN)
        ),
    };
    output.supervisor(
        Level::Warn,
        &format!("killing the daemon's process group (SIGKILL): {why}"),
        &[],
    );
    process::kill_group(pid, libc::SIGKILL);
    stop.killed = Some(kill);
}

/// The exit code after a requested stop, and the message saying how it went.
fn report_stop(ended: &Ended, stop: &Stop, output: &Output) -> i32 {
    let graceful_status = match (ended.status.code(), ended.status.signal()) {
        (Some(0), _) => true,
        (Some(code), _) => code == 128 + stop.signal,
        (None, Some(signal)) => signal == stop.signal,
        _ => false,
    };
    let graceful = stop.killed.is_none() && graceful_status && !ended.seen.shutdown_error;
    let took = format!("{:.1}s", ended.ran_for.as_secs_f64());
    let status = process::describe(ended.status);
    let name = signals::name(stop.signal);
    if graceful {
        output.supervisor(
            Level::Info,
            &format!("the daemon stopped gracefully after {name} ({status}); exit status 0"),
            &[],
        );
        return 0;
    }
    let exit = process::shell_code(ended.status);
    let why = if ended.seen.shutdown_error {
        "its shutdown hook reported an error (graceful shutdown not completed within shutdownGraceMillis)"
    } else if stop.killed.is_some() {
        "it was killed"
    } else {
        "not the status of a graceful stop"
    };
    output.supervisor(
        Level::Warn,
        &format!(
            "the daemon stopped after {name} with {status} ({why}), {took} after its start; \
             exit status {exit}"
        ),
        &[],
    );
    exit
}

/// `the daemon (pid N) exited during start-up, 2.1s after it started (within the first 30s):
/// exit 1; the last error a child logged: ...`.
fn describe_exit(ended: &Ended) -> String {
    let ran = format!("{:.1}s", ended.ran_for.as_secs_f64());
    let when = if ended.ran_for < STARTUP_WINDOW {
        format!(
            "exited during start-up, {ran} after it started (within the first {})",
            show_duration(STARTUP_WINDOW)
        )
    } else {
        format!("exited after running {ran}")
    };
    let mut text = format!(
        "the daemon (pid {}) {when}: {}",
        ended.pid,
        process::describe(ended.status)
    );
    if let Some(error) = &ended.seen.last_child_error {
        text.push_str("; the last error a child logged: ");
        text.push_str(error);
    }
    text
}

/// `message`, announcing the quoted lines that follow it.
fn with_quote(message: String, quoted: &[String]) -> String {
    if quoted.is_empty() {
        message
    } else {
        format!("{message}; its last lines:")
    }
}

/// Waits `delay`, or less when a stop signal arrives (returned).
fn wait_for_stop(signals: &Receiver<i32>, delay: Duration) -> Option<i32> {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match signals.recv_timeout(left.min(POLL)) {
            Ok(signal) if signals::stops(signal) => return Some(signal),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(left.min(POLL)),
        }
        // Orphans of the last run that exited meanwhile.
        process::reap(0);
    }
}
