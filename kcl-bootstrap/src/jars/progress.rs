//! Download progress on stderr: a bar on a terminal, one line per jar otherwise, nothing with
//! `--quiet`. Lines go through [`crate::output`], so a closed or full stderr costs nothing.

use crate::lock::LockedJar;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How downloads report progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// A progress bar when stderr is a terminal, plain lines otherwise.
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

/// Progress reporting shared by the download threads.
pub(crate) enum Reporter {
    Bar(indicatif::ProgressBar),
    Lines { done: AtomicUsize, total: usize },
    Quiet,
}

impl Reporter {
    pub(crate) fn new(mode: ProgressMode, jars: &[&LockedJar]) -> Reporter {
        let bytes: u64 = jars.iter().map(|j| j.size).sum();
        match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(bytes),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(format!("downloading {} jars", jars.len()));
                Reporter::Bar(bar)
            }
            ProgressMode::Quiet => Reporter::Quiet,
            ProgressMode::Auto => Reporter::Lines {
                done: AtomicUsize::new(0),
                total: jars.len(),
            },
        }
    }

    pub(crate) fn bytes(&self, n: u64) {
        if let Reporter::Bar(bar) = self {
            bar.inc(n);
        }
    }

    /// Undo the bytes of a failed attempt so the bar stays truthful across retries.
    pub(crate) fn rewind(&self, n: u64) {
        if let Reporter::Bar(bar) = self {
            bar.set_position(bar.position().saturating_sub(n));
        }
    }

    pub(crate) fn finished(&self, jar: &LockedJar) {
        if let Reporter::Lines { done, total } = self {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            crate::output::say(&format!(
                "[{n}/{total}] {} ({} KiB)",
                crate::display::shown_whole(jar.file_name()),
                jar.size.div_ceil(1024)
            ));
        }
    }

    pub(crate) fn message(&self, text: &str) {
        match self {
            Reporter::Bar(bar) => bar.println(format!("kcl-bootstrap: {text}")),
            Reporter::Lines { .. } => crate::output::say(text),
            Reporter::Quiet => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
