//! Facts about the machine and the toolchains, for the report.

use std::path::Path;
use std::process::Command;

/// What the benchmark ran on.
#[derive(Debug, Clone)]
pub struct MachineFacts {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory from `/proc/meminfo`.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// The bench venv's `python --version`.
    pub python: String,
    /// `node --version`.
    pub node: String,
    /// UTC time of the run.
    pub date: String,
    /// `/proc/loadavg` when the run ended (1, 5 and 15 minute load): other work on the machine
    /// moves absolute figures, ratios less.
    pub load_average: String,
    /// The last commit touching `kcl-protocol`, with "+ uncommitted changes" if its sources differ
    /// from that commit (the benchmark builds the working tree).
    pub kcl_protocol_revision: String,
}

fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|out| {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "not found".to_string())
}

/// The last commit touching `kcl-protocol` in `repo_root`, marked when the sources differ from it.
fn kcl_protocol_revision(repo_root: &Path) -> String {
    let root = repo_root.to_string_lossy();
    let commit = first_line_of(
        "git",
        &[
            "-C",
            &root,
            "log",
            "-1",
            "--format=%h %s",
            "--",
            "kcl-protocol",
        ],
    );
    let dirty = Command::new("git")
        .args([
            "-C",
            &root,
            "status",
            "--porcelain",
            "--",
            "kcl-protocol/src",
            "kcl-protocol/Cargo.toml",
        ])
        .output()
        .map(|out| !out.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{commit} + uncommitted changes")
    } else {
        commit
    }
}

/// Reads the facts; anything that cannot be read says "unknown" or "not found".
pub fn read(repo_root: &Path, venv: &Path) -> MachineFacts {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let python = venv.join("bin/python");
    MachineFacts {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        memory,
        kernel,
        rustc: first_line_of("rustc", &["--version"]),
        python: first_line_of(&python.to_string_lossy(), &["--version"]),
        node: first_line_of("node", &["--version"]),
        date: first_line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        load_average: std::fs::read_to_string("/proc/loadavg")
            .map(|load| {
                load.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| "unknown".to_string()),
        kcl_protocol_revision: kcl_protocol_revision(repo_root),
    }
}
