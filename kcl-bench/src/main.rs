//! `kcl-bench`: the fake-daemon benchmark driver. See the crate docs and `BENCHMARKS.md`.
//!
//! Normally run through `scripts/bench`, which builds the release binaries, installs the pinned
//! Python and Node SDKs, and writes `BENCHMARKS.md` and `docs/bench.svg`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use kcl_bench::children::{ALL_IDS, ChildSpec, Locations, REPORT_ORDER};
use kcl_bench::document::{self, Document};
use kcl_bench::pipe_writes::WriteMode;
use kcl_bench::report::{self, summarize};
use kcl_bench::reports::{self, Delivery, ReportDrain};
use kcl_bench::transcript::{self, Transcript};
use kcl_bench::workload::Workload;
use kcl_bench::{chart, driver, idle, machine, overhead, pipe_section, sections};

/// Replays daemon transcripts to KCL child processes and measures what each child costs.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Rounds; each round runs every child on every workload once, children alternating.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Workloads to run, comma-separated: a (200x1000x1KiB), b (2000x1x100B), c (5x10000x1KiB),
    /// d (1x10000 then 20x10, x1KiB: memory after a catch-up batch).
    #[arg(long, value_delimiter = ',', default_values_t = ["a".to_string(), "b".to_string(), "c".to_string(), "d".to_string()])]
    workloads: Vec<String>,
    /// Children to run, comma-separated: kcl, naive, python, node. Default: every one that is
    /// installed (the others are listed as skipped). A child named here must be installed.
    #[arg(long, value_delimiter = ',')]
    children: Vec<String>,
    /// Reduced sizes and one round: a correctness check, no timing claims.
    #[arg(long)]
    smoke: bool,
    /// Write the Markdown report here (e.g. BENCHMARKS.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write the SVG chart here (e.g. docs/bench.svg); linked from the report relative to it.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Directory holding bench-child-kcl and bench-child-naive (default: this binary's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Directory holding a bench-child-kcl built from an earlier kcl-protocol: runs it too, as
    /// `kcl-before`, side by side in the same rounds (scripts/bench --baseline REV builds one).
    #[arg(long)]
    baseline_bin_dir: Option<PathBuf>,
    /// What the baseline child was built from, for the report (e.g. a commit).
    #[arg(long, default_value = "baseline")]
    baseline_revision: String,
    /// Repository root (default: the checkout this binary was built from).
    #[arg(long)]
    repo_root: Option<PathBuf>,
    /// Kill a child that runs longer than this many seconds, and fail.
    #[arg(long, default_value_t = 600)]
    time_limit_secs: u64,
    /// kcl-bootstrap binary whose warm-cache start-up overhead to measure (print mode).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// Arguments for --bootstrap, split on whitespace (default:
    /// "-p properties/local.properties --no-validate").
    #[arg(long, allow_hyphen_values = true)]
    bootstrap_args: Option<String>,
    /// Write the whole stdin of one shard (the first selected workload, checkpoint replies
    /// included) to this file and exit, e.g. for `valgrind --tool=callgrind child < FILE`.
    #[arg(long)]
    dump_replay: Option<PathBuf>,
    /// How many idle children of each Rust kind to run at once for the idle-memory table (0: skip).
    #[arg(long, default_value_t = 20)]
    idle_children: usize,
    /// Also run the kcl child with reports to a supervisor on (`kcl-reports`: KCL_SUPERVISOR_SOCKET
    /// names a socket this process drains), side by side with `kcl`.
    #[arg(long)]
    reports: bool,
    /// How the driver writes lines, comma-separated: jdk (8 KiB writes, as the JVM: the headline
    /// figures) and line (one write per line, reported beside them).
    #[arg(long, value_delimiter = ',', default_values_t = ["jdk".to_string(), "line".to_string()])]
    write_modes: Vec<String>,
    /// The command line to show in the report (set by scripts/bench).
    #[arg(long, default_value = "scripts/bench")]
    command_line: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kcl-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let mut locations = Locations::from_build();
    if let Some(root) = &args.repo_root {
        locations.repo_root = root.clone();
    }
    if let Some(dir) = &args.bin_dir {
        locations.bin_dir = dir.clone();
    }
    if let Some(dir) = &args.baseline_bin_dir {
        locations.baseline = Some((dir.clone(), args.baseline_revision.clone()));
    }
    let drain = if args.reports {
        let drain = ReportDrain::start()?;
        locations.report_socket = Some(drain.path().to_owned());
        Some(drain)
    } else {
        None
    };

    // Children: the ones asked for must exist; by default, every installed one.
    let mut children: Vec<ChildSpec> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    if args.children.is_empty() {
        for id in ALL_IDS {
            match locations.child(id) {
                Ok(child) => children.push(child),
                Err(why) => {
                    eprintln!("kcl-bench: skipping {id}: {why}");
                    skipped.push((id.to_string(), why));
                }
            }
        }
        if locations.baseline.is_some() {
            children.insert(1.min(children.len()), locations.child("kcl-before")?);
        }
    } else {
        for id in &args.children {
            children.push(locations.child(id)?);
        }
    }
    if args.reports && !children.iter().any(|c| c.id == "kcl-reports") {
        let after_kcl = children
            .iter()
            .position(|c| c.id == "kcl")
            .map_or(0, |i| i + 1);
        children.insert(after_kcl, locations.child("kcl-reports")?);
    }
    if children.is_empty() {
        return Err("no child to run".into());
    }

    let all_workloads = if args.smoke {
        Workload::smoke()
    } else {
        Workload::full()
    };
    let mut workloads = Vec::new();
    for id in &args.workloads {
        let workload = all_workloads
            .iter()
            .find(|w| w.id == id)
            .ok_or_else(|| format!("unknown workload {id:?}; choose from a, b, c, d"))?;
        workloads.push(workload.clone());
    }
    let rounds = if args.smoke { 1 } else { args.rounds.max(1) };
    let mut write_modes = Vec::new();
    for id in &args.write_modes {
        write_modes.push(
            WriteMode::from_id(id)
                .ok_or_else(|| format!("unknown write mode {id:?}; choose from jdk, line"))?,
        );
    }
    // The headline figures are the daemon's way of writing; one write per line is the comparison.
    let headline_mode = if write_modes.contains(&WriteMode::JdkChunks) {
        WriteMode::JdkChunks
    } else {
        *write_modes.first().ok_or("no write mode selected")?
    };

    if let Some(path) = &args.dump_replay {
        let workload = workloads.first().ok_or("no workload selected")?;
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        );
        transcript::generate(workload)
            .write_replay(&mut out)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!(
            "kcl-bench: wrote the replay of workload {} to {}",
            workload.id,
            path.display()
        );
        return Ok(());
    }

    let generating = Instant::now();
    let transcripts: Vec<Transcript> = workloads.iter().map(transcript::generate).collect();
    eprintln!(
        "kcl-bench: generated {} transcripts ({:.0} MB) in {:.2} s",
        transcripts.len(),
        transcripts.iter().map(|t| t.total_bytes()).sum::<u64>() as f64 / 1e6,
        generating.elapsed().as_secs_f64()
    );

    let time_limit = Duration::from_secs(args.time_limit_secs);
    let mut measurements = Vec::new();
    let mut other_mode_measurements = Vec::new();
    let mut deliveries: Vec<Delivery> = Vec::new();
    for round in 0..rounds {
        for (workload, transcript) in workloads.iter().zip(&transcripts) {
            // Rotate the order each round so no child (and no write mode) always runs first or last.
            let runs = children.len() * write_modes.len();
            for offset in 0..runs {
                let index = (offset + round) % runs;
                let child = &children[index % children.len()];
                let write_mode = write_modes[(index / children.len() + round) % write_modes.len()];
                let reports_before = drain.as_ref().map_or(0, ReportDrain::received);
                let measurement =
                    driver::drive(child, workload, transcript, time_limit, write_mode)
                        .map_err(|e| e.to_string())?;
                if let (Some(drain), "kcl-reports") = (&drain, child.id) {
                    let sent = workload.batches() as u64 + 2;
                    let received = drain.wait_for(reports_before + sent) - reports_before;
                    match deliveries.iter_mut().find(|d| d.workload == workload.id) {
                        Some(d) => {
                            d.expected += sent;
                            d.received += received;
                        }
                        None => deliveries.push(Delivery {
                            workload: workload.id,
                            expected: sent,
                            received,
                        }),
                    }
                }
                eprintln!(
                    "round {}/{rounds} ({}) {:<10} {:<4} cpu {:>7.3} s (user {:.3} sys {:.3})  wall {:>7.3} s  peak {:>6.1} MiB  idle {:>5.2} MiB  probe {:>6} end {:>5.2} MiB  start-up {:>6.1} ms  driver cpu {:.3} s  checkpoints {}",
                    round + 1,
                    workload.id,
                    child.id,
                    write_mode.id(),
                    measurement.cpu().as_secs_f64(),
                    measurement.user_cpu.as_secs_f64(),
                    measurement.sys_cpu.as_secs_f64(),
                    measurement.wall.as_secs_f64(),
                    measurement.peak_rss_kib as f64 / 1024.0,
                    measurement.idle_rss_kib as f64 / 1024.0,
                    measurement
                        .probe_rss_kib
                        .map_or("-".to_string(), |kib| format!("{:.2}", kib as f64 / 1024.0)),
                    measurement.end_rss_kib as f64 / 1024.0,
                    measurement.startup.as_secs_f64() * 1e3,
                    measurement.driver_cpu.as_secs_f64(),
                    measurement.checkpoints,
                );
                if write_mode == headline_mode {
                    measurements.push(measurement);
                } else {
                    other_mode_measurements.push(measurement);
                }
            }
        }
    }

    let labels: Vec<(&'static str, String)> = REPORT_ORDER
        .iter()
        .filter_map(|id| children.iter().find(|c| c.id == *id))
        .map(|c| (c.id, c.label.clone()))
        .collect();
    let summaries = summarize(&measurements, &workloads);
    let targets = report::check_targets(&summaries);
    let label_of = |id: &str| {
        labels
            .iter()
            .find(|(child, _)| *child == id)
            .map_or_else(|| id.to_string(), |(_, label)| label.clone())
    };
    for workload in &workloads {
        println!("\n{} — {}", workload.describe(), workload.purpose);
        print!(
            "{}",
            report::workload_table(&summaries, workload, &label_of)
        );
    }
    let reports_section = reports::section(&summaries, &workloads, &deliveries);
    if !reports_section.is_empty() {
        println!("\n{reports_section}");
    }
    let pipe_writes_section = if headline_mode == WriteMode::JdkChunks {
        let whole_line = summarize(&other_mode_measurements, &workloads);
        pipe_section::section(&summaries, &whole_line, &workloads, &label_of)
    } else {
        String::new()
    };
    if !pipe_writes_section.is_empty() {
        println!("\n{pipe_writes_section}");
    }
    if args.smoke {
        println!(
            "\nsmoke: every run acknowledged every action with the right checkpoints; timings above are not meaningful at this size"
        );
        return Ok(());
    }
    if !targets.is_empty() {
        println!("\n{}", report::targets_table(&targets));
    }

    let bootstrap = match &args.bootstrap {
        Some(program) => {
            let bootstrap_args: Vec<String> = args
                .bootstrap_args
                .as_deref()
                .unwrap_or("-p properties/local.properties --no-validate")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let measured = overhead::measure(program, &bootstrap_args, &locations.repo_root, 30);
            match &measured {
                Ok(o) => eprintln!(
                    "kcl-bench: {} median {:.1} ms, true {:.1} ms, added {:.1} ms",
                    o.command,
                    o.command_ms,
                    o.baseline_ms,
                    o.added_ms()
                ),
                Err(why) => eprintln!("kcl-bench: kcl-bootstrap overhead not measured: {why}"),
            }
            measured
        }
        None => Err("kcl-bootstrap was not given (--bootstrap)".to_string()),
    };

    let idle = if args.idle_children > 0 {
        let initialize = &transcripts.first().ok_or("no workload")?.initialize;
        let measured = idle::measure_all(
            &children,
            &locations.bin_dir,
            initialize,
            args.idle_children,
        );
        for result in &measured {
            match result {
                Ok(m) => eprintln!(
                    "kcl-bench: idle x{} {:<10} VmRSS {} kB  PSS {} kB  private {} kB  anonymous {} kB",
                    m.count, m.child, m.rss_kib, m.pss_kib, m.private_kib, m.anonymous_kib
                ),
                Err(why) => eprintln!("kcl-bench: idle memory not measured: {why}"),
            }
        }
        measured.into_iter().filter_map(Result::ok).collect()
    } else {
        Vec::new()
    };

    let facts = machine::read(&locations.repo_root, &locations.venv());
    let subtitle = format!(
        "{} x {}, {}; medians of {rounds} rounds; `{}`",
        facts.cpus, facts.cpu_model, facts.date, args.command_line
    );
    let chart_link = match (&args.svg, &args.markdown) {
        (Some(svg), Some(markdown)) => {
            let base = markdown
                .parent()
                .unwrap_or_else(|| std::path::Path::new(""));
            Some(
                svg.strip_prefix(base)
                    .unwrap_or(svg)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
        (Some(svg), None) => Some(svg.to_string_lossy().into_owned()),
        _ => None,
    };
    if let Some(svg) = &args.svg {
        if let Some(parent) = svg.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(svg, chart::render(&summaries, &labels, &subtitle))
            .map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
        eprintln!("kcl-bench: wrote {}", svg.display());
    }
    if let Some(markdown) = &args.markdown {
        let text = document::render(&Document {
            summaries: &summaries,
            workloads: &workloads,
            children: &labels,
            skipped: &skipped,
            targets: &targets,
            rounds,
            command: &args.command_line,
            machine: &facts,
            chart: chart_link.as_deref(),
            bootstrap,
            idle: &idle,
            reports: &reports_section,
            pipe_writes: &pipe_writes_section,
        });
        // The whole-worker section (`scripts/bench --worker`) is not ours to drop.
        let previous = std::fs::read_to_string(markdown).ok();
        let text = sections::keep_worker_section(previous.as_deref(), text);
        std::fs::write(markdown, text)
            .map_err(|e| format!("cannot write {}: {e}", markdown.display()))?;
        eprintln!("kcl-bench: wrote {}", markdown.display());
    }
    Ok(())
}
