//! Downloading the missing jars: parallel workers, retries with backoff, and time bounds.
//!
//! Every wait is bounded. Connecting (DNS, TCP, TLS, proxy) has `--connect-timeout`; each read,
//! including waiting for the response headers, has `--read-timeout`; each such interval must
//! also bring `--min-speed` on average; and each jar has `--jar-timeout` in all, retries and
//! their pauses included. With the defaults (10 s, 20 s, 8 KiB/s, 5 min; 4 attempts with pauses
//! of 0.5, 1 and 2 s) a repository that stops sending is given up after 4 × 20 s + 3.5 s = 84 s.

mod attempt;
mod speed;

use super::error::{DownloadProblem, JarError};
use super::progress::{ProgressMode, Reporter, note};
use crate::cli::show_duration;
use crate::lock::LockedJar;
use crate::maven::Repository;
use attempt::{FailureKind, FatalKind, Http};
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The time bounds of downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    connect: Duration,
    read: Duration,
    min_speed: u64,
    per_jar: Duration,
}

impl Timeouts {
    /// `connect`: DNS, TCP, TLS and proxy set-up; `read`: longest wait for any byte, and the
    /// interval over which `min_speed` (bytes per second, 0 for none) is averaged; `per_jar`:
    /// everything spent on one jar.
    pub(crate) fn new(
        connect: Duration,
        read: Duration,
        min_speed: u64,
        per_jar: Duration,
    ) -> Timeouts {
        Timeouts {
            connect,
            read,
            min_speed,
            per_jar,
        }
    }
}

/// Retries for one jar download.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Total attempts, including the first.
    attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    initial_backoff: Duration,
}

#[cfg(test)]
impl RetryPolicy {
    /// Total attempts, including the first.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The pauses between all attempts, added up.
    pub(crate) fn total_pauses(&self) -> Duration {
        (1..self.attempts.max(1))
            .map(|i| self.initial_backoff.saturating_mul(1 << (i - 1)))
            .sum()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(500),
        }
    }
}

/// What the download of a set of jars needs to know.
pub(crate) struct DownloadPlan<'a> {
    pub(crate) repository: &'a Repository,
    pub(crate) kcl_version: &'a str,
    pub(crate) parallelism: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeouts: Timeouts,
    pub(crate) progress: ProgressMode,
}

/// A failure worth another attempt.
#[derive(Debug)]
pub(super) enum Transient {
    Status(u16),
    Connect(String),
    Truncated {
        got: u64,
        expected: u64,
    },
    Broke {
        got: u64,
        expected: u64,
        reason: String,
    },
    Idle(Duration),
    TooSlow {
        slow: speed::TooSlow,
        min_speed: u64,
    },
    ConnectTimeout(Duration),
    OutOfTime,
}

impl Transient {
    fn from_ureq(e: ureq::Error, timeouts: Timeouts) -> Transient {
        match e {
            ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
                Transient::ConnectTimeout(timeouts.connect)
            }
            ureq::Error::Timeout(ureq::Timeout::Global) => Transient::OutOfTime,
            ureq::Error::Timeout(_) => Transient::Idle(timeouts.read),
            other => Transient::Connect(other.to_string()),
        }
    }

    fn from_body_error(
        e: std::io::Error,
        got: u64,
        expected: u64,
        timeouts: Timeouts,
    ) -> Transient {
        match ureq::Error::from(e) {
            ureq::Error::Timeout(ureq::Timeout::Global) => Transient::OutOfTime,
            ureq::Error::Timeout(_) => Transient::Idle(timeouts.read),
            other => Transient::Broke {
                got,
                expected,
                reason: other.to_string(),
            },
        }
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transient::Status(status) => write!(f, "HTTP {status}"),
            Transient::Connect(reason) => f.write_str(reason),
            Transient::Truncated { got, expected } => {
                write!(f, "truncated body: got {got} of {expected} bytes")
            }
            Transient::Broke {
                got,
                expected,
                reason,
            } => write!(
                f,
                "connection broke after {got} of {expected} bytes ({reason})"
            ),
            Transient::Idle(after) => {
                write!(f, "no data for {} (--read-timeout)", show_duration(*after))
            }
            Transient::TooSlow { slow, min_speed } => write!(
                f,
                "only {} bytes in {:.1} s, slower than --min-speed {min_speed} bytes/s",
                slow.bytes,
                slow.over.as_secs_f64()
            ),
            Transient::ConnectTimeout(after) => write!(
                f,
                "could not connect within {} (--connect-timeout)",
                show_duration(*after)
            ),
            Transient::OutOfTime => f.write_str("out of time"),
        }
    }
}

/// Downloads `jars` into `dir`; stops early once one jar fails for good.
pub(crate) fn download_all(
    jars: &[&LockedJar],
    dir: &Path,
    plan: &DownloadPlan<'_>,
) -> Result<(), JarError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| JarError::cache(dir, "cannot create the directory", e))?;
    let total: u64 = jars.iter().map(|j| j.size).sum();
    note(
        plan.progress,
        &format!(
            "downloading {} jars ({:.1} MB) for KCL {} from {} ({}) into {}",
            jars.len(),
            total as f64 / 1e6,
            plan.kcl_version,
            crate::display::shown_whole(&plan.repository.base_url),
            plan.repository.source,
            crate::display::shown_path(dir)
        ),
    );
    let http = Http::new(plan.timeouts);
    let reporter = Reporter::new(plan.progress, jars);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let errors = Mutex::new(Vec::new());
    let workers = plan.parallelism.clamp(1, 16).min(jars.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(jar) = jars.get(i) else { return };
                    match download_with_retries(&http, plan, jar, dir, &reporter, &stop) {
                        Ok(()) => reporter.finished(),
                        Err(e) => {
                            // A missing or wrong jar means the whole set is unusable: stop early.
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(e);
                            }
                        }
                    }
                }
            });
        }
    });
    reporter.finish();
    let mut errors = errors.into_inner().unwrap_or_default();
    match errors.len() {
        0 => {
            reporter.summarize();
            Ok(())
        }
        1 => Err(errors.remove(0)),
        _ => Err(JarError::Many(errors)),
    }
}

fn download_with_retries(
    http: &Http,
    plan: &DownloadPlan<'_>,
    jar: &LockedJar,
    dir: &Path,
    reporter: &Reporter,
    stop: &AtomicBool,
) -> Result<(), JarError> {
    let url = plan.repository.url_of(&jar.repository_path);
    let per_jar = http.timeouts().per_jar;
    let deadline = Instant::now() + per_jar;
    let attempts = plan.retry.attempts.max(1);
    let mut backoff = plan.retry.initial_backoff;
    let mut last = Transient::OutOfTime;
    let mut final_url = None;
    let mut made = 0;
    let mut out_of_time = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            out_of_time = true;
            break;
        }
        made += 1;
        let failure = match attempt::fetch(http, plan.repository, &url, jar, dir, reporter, left) {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        final_url = failure.final_url;
        match failure.kind {
            FailureKind::Fatal(kind) => return Err(fatal_error(*kind, &url, final_url, jar)),
            FailureKind::Retry(Transient::OutOfTime) => {
                out_of_time = true;
                break;
            }
            FailureKind::Retry(transient) => last = transient,
        }
        if made >= attempts || stop.load(Ordering::Relaxed) {
            break;
        }
        if deadline.saturating_duration_since(Instant::now()) <= backoff {
            out_of_time = true;
            break;
        }
        reporter.message(&format!(
            "{}: {last}; retrying in {} ms (attempt {}/{attempts})",
            crate::display::shown_whole(jar.file_name()),
            backoff.as_millis(),
            made + 1
        ));
        std::thread::sleep(backoff);
        backoff = backoff.saturating_mul(2);
    }
    let problem = if out_of_time {
        DownloadProblem::OutOfTime {
            last: last.to_string(),
            after: per_jar,
        }
    } else {
        DownloadProblem::GaveUp {
            last: last.to_string(),
            attempts: made,
        }
    };
    Err(JarError::Download {
        url,
        final_url,
        problem,
    })
}

fn fatal_error(kind: FatalKind, url: &str, final_url: Option<String>, jar: &LockedJar) -> JarError {
    match kind {
        FatalKind::Problem(problem) => JarError::Download {
            url: url.to_string(),
            final_url,
            problem,
        },
        FatalKind::Mismatch(detail) => JarError::Mismatch {
            file: final_url.unwrap_or_else(|| url.to_string()),
            detail,
            advice: format!(
                "Nothing was cached. The repository served different bytes for {} than Maven resolved when \
                 the lock was made: check that --maven-repo/mirror proxies Maven Central faithfully",
                crate::display::shown_whole(&jar.coordinates)
            ),
        },
        FatalKind::Cache(e) => e,
    }
}
