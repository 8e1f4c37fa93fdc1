//! Download progress on stderr: one bar on a terminal, otherwise nothing until one summary line
//! at the end (a log must not get a line per jar: KCL 3.1.3 has 131), nothing with `--quiet`.
//! Lines go through [`crate::output`], so a closed or full stderr costs nothing.

use crate::lock::LockedJar;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// How downloads report progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// A progress bar when stderr is a terminal; a summary line at the end in both cases.
    Auto,
    /// Nothing except errors.
    Quiet,
}

/// A message outside of any download (waiting for the lock, a damaged cached jar).
pub(crate) fn note(mode: ProgressMode, message: &str) {
    if mode != ProgressMode::Quiet {
        crate::output::say(message);
    }
}

/// What the download threads have done so far, for the bar's message and the summary line.
pub(crate) struct Tally {
    started: Instant,
    jars_done: AtomicUsize,
    jars_total: usize,
    bytes_total: u64,
}

impl Tally {
    /// Counts one finished jar; returns how many are finished now.
    fn finished_one(&self) -> usize {
        self.jars_done.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn summary(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let megabytes = self.bytes_total as f64 / 1e6;
        format!(
            "downloaded and verified {} jars ({megabytes:.1} MB) in {seconds:.1} s ({:.1} MB/s)",
            self.jars_done.load(Ordering::Relaxed),
            megabytes / seconds.max(0.001)
        )
    }

    fn bar_message(&self, done: usize) -> String {
        format!("{done}/{} jars", self.jars_total)
    }
}

/// Progress reporting shared by the download threads.
pub(crate) enum Reporter {
    Bar(indicatif::ProgressBar, Tally),
    Summary(Tally),
    Quiet,
}

impl Reporter {
    pub(crate) fn new(mode: ProgressMode, jars: &[&LockedJar]) -> Reporter {
        let tally = Tally {
            started: Instant::now(),
            jars_done: AtomicUsize::new(0),
            jars_total: jars.len(),
            bytes_total: jars.iter().map(|j| j.size).sum(),
        };
        match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(tally.bytes_total),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(tally.bar_message(0));
                Reporter::Bar(bar, tally)
            }
            ProgressMode::Quiet => Reporter::Quiet,
            ProgressMode::Auto => Reporter::Summary(tally),
        }
    }

    pub(crate) fn bytes(&self, n: u64) {
        if let Reporter::Bar(bar, _) = self {
            bar.inc(n);
        }
    }

    /// Undo the bytes of a failed attempt so the bar stays truthful across retries.
    pub(crate) fn rewind(&self, n: u64) {
        if let Reporter::Bar(bar, _) = self {
            bar.set_position(bar.position().saturating_sub(n));
        }
    }

    /// One jar downloaded and verified.
    pub(crate) fn finished(&self) {
        match self {
            Reporter::Bar(bar, tally) => bar.set_message(tally.bar_message(tally.finished_one())),
            Reporter::Summary(tally) => {
                tally.finished_one();
            }
            Reporter::Quiet => {}
        }
    }

    /// A retry or another event worth a line while the bar is drawn.
    pub(crate) fn message(&self, text: &str) {
        match self {
            Reporter::Bar(bar, _) => bar.println(format!("kcl-bootstrap: {text}")),
            Reporter::Summary(_) => crate::output::say(text),
            Reporter::Quiet => {}
        }
    }

    /// Removes the bar, whatever the outcome.
    pub(crate) fn finish(&self) {
        if let Reporter::Bar(bar, _) = self {
            bar.finish_and_clear();
        }
    }

    /// The one line that stays after a successful download, terminal or not.
    pub(crate) fn summarize(&self) {
        match self {
            Reporter::Bar(_, tally) | Reporter::Summary(tally) => {
                crate::output::say(&tally.summary())
            }
            Reporter::Quiet => {}
        }
    }
}
