//! `kcl-bench-worker-report`: renders the whole-worker results (`worker_bench.py --results`) into
//! `BENCHMARKS.md` (its own section, the rest of the file untouched) and `docs/bench-worker.svg`.
//! Run by `scripts/bench --worker`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use kcl_bench::{sections, worker_chart, worker_results, worker_section};

/// Writes the whole-worker section of BENCHMARKS.md and its chart.
#[derive(Parser, Debug)]
struct Args {
    /// The results file `worker_bench.py` appended its experiments to.
    #[arg(long)]
    results: PathBuf,
    /// The report to put the section into (created if missing).
    #[arg(long)]
    markdown: PathBuf,
    /// The chart to write (linked from the report relative to it).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// The JVM variant that is plain `java`: the baseline of the target checks.
    #[arg(long, default_value = "plain")]
    baseline_variant: String,
    /// A sentence on what the JVM variants are.
    #[arg(long, default_value = "")]
    variants_note: String,
    /// The command line shown in the report.
    #[arg(long, default_value = "scripts/bench --worker")]
    command_line: String,
}

fn run(args: &Args) -> Result<(), String> {
    let experiments = worker_results::load(&args.results)?;
    let headline = experiments
        .first()
        .ok_or_else(|| format!("{} holds no experiment", args.results.display()))?;
    let mut chart_link = None;
    if let Some(svg) = &args.svg {
        let subtitle = format!(
            "{} CPUs, {}; load before {}; `{}`",
            headline.cpus, headline.started_utc, headline.load_before, args.command_line
        );
        std::fs::write(svg, worker_chart::render(headline, &subtitle))
            .map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
        eprintln!("kcl-bench-worker-report: wrote {}", svg.display());
        let base = args.markdown.parent().unwrap_or(std::path::Path::new(""));
        chart_link = Some(
            svg.strip_prefix(base)
                .unwrap_or(svg)
                .to_string_lossy()
                .into_owned(),
        );
    }
    let section = worker_section::render(&worker_section::SectionInput {
        experiments: &experiments,
        command: &args.command_line,
        chart: chart_link.as_deref(),
        baseline_variant: &args.baseline_variant,
        variants_note: &args.variants_note,
    });
    let existing = std::fs::read_to_string(&args.markdown).unwrap_or_default();
    std::fs::write(
        &args.markdown,
        sections::replace_worker_section(&existing, &section),
    )
    .map_err(|e| format!("cannot write {}: {e}", args.markdown.display()))?;
    eprintln!("kcl-bench-worker-report: wrote {}", args.markdown.display());
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kcl-bench-worker-report: {message}");
            ExitCode::FAILURE
        }
    }
}
