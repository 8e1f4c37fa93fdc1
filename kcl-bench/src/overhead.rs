//! Start-up overhead of a launcher command (used for `kcl-bootstrap` in print mode with a warm jar
//! cache), measured against spawning a do-nothing program.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::report::median;

/// Median wall times of the launcher and of the baseline, ms.
#[derive(Debug, Clone)]
pub struct Overhead {
    /// The command measured, for the report.
    pub command: String,
    /// Runs of each.
    pub runs: usize,
    /// Median wall time of the command, ms.
    pub command_ms: f64,
    /// Median wall time of the baseline (`true`), ms.
    pub baseline_ms: f64,
    /// Fastest run of the command, ms.
    pub command_min_ms: f64,
}

impl Overhead {
    /// What the command adds over starting any process, ms.
    pub fn added_ms(&self) -> f64 {
        self.command_ms - self.baseline_ms
    }
}

fn time_runs(program: &Path, args: &[String], cwd: &Path, runs: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let output = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if !output.status.success() {
            return Err(format!(
                "{} {} failed ({}): {}",
                program.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    Ok(times)
}

/// Runs `program args` once to warm caches, then `runs` times, and as many runs of `true`.
pub fn measure(
    program: &Path,
    args: &[String],
    cwd: &Path,
    runs: usize,
) -> Result<Overhead, String> {
    time_runs(program, args, cwd, 1)?;
    let mut command = time_runs(program, args, cwd, runs)?;
    let baseline_program =
        crate::children::find_on_path("true").unwrap_or_else(|| PathBuf::from("/bin/true"));
    let mut baseline = time_runs(&baseline_program, &[], cwd, runs)?;
    let command_min_ms = command.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Overhead {
        command: format!(
            "{} {}",
            program.file_name().map_or_else(
                || program.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            args.join(" ")
        ),
        runs,
        command_ms: median(&mut command),
        baseline_ms: median(&mut baseline),
        command_min_ms,
    })
}
