//! Idle memory of many children at once: what a host running one child per shard pays.
//!
//! `VmRSS` of one idle child counts every page it maps, shared or not: libc, the loader and the
//! executable's text are the same pages for every process that maps them, so 200 children do not
//! cost 200 times that. This starts `count` children of each kind at once, sends each the
//! `initialize` action, and reads `/proc/<pid>/smaps_rollup` of every one while all are idle:
//! `Rss` (what `VmRSS` shows), `Pss` (shared pages divided among the processes that map them: the
//! fair share), private pages (what this child alone holds), and anonymous memory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::children::ChildSpec;

/// Medians over the `count` children of one kind, KiB.
#[derive(Debug, Clone)]
pub struct IdleMemory {
    /// Child id (`kcl`, `kcl-before`, `naive`, `floor`).
    pub child: String,
    /// How many ran at once.
    pub count: usize,
    /// `Rss` (as `VmRSS`).
    pub rss_kib: u64,
    /// `Pss`.
    pub pss_kib: u64,
    /// `Private_Clean + Private_Dirty`.
    pub private_kib: u64,
    /// `Anonymous`.
    pub anonymous_kib: u64,
}

fn rollup(pid: u32) -> Option<[u64; 4]> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some([
        field("Rss:")?,
        field("Pss:")?,
        field("Private_Clean:")? + field("Private_Dirty:")?,
        field("Anonymous:")?,
    ])
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Starts `count` copies of `program` with `args`, initializes each with `initialize` (one line)
/// and measures them while all are idle; every child is then ended by closing its stdin.
pub fn measure(
    id: &str,
    program: &Path,
    args: &[std::ffi::OsString],
    initialize: &[u8],
    count: usize,
) -> Result<IdleMemory, String> {
    let mut children: Vec<Child> = Vec::with_capacity(count);
    let result = (|| {
        for _ in 0..count {
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
            let stdin = child.stdin.as_mut().expect("stdin was piped");
            stdin
                .write_all(initialize)
                .and_then(|()| stdin.flush())
                .map_err(|e| format!("{id}: writing initialize failed: {e}"))?;
            let mut status = String::new();
            BufReader::new(child.stdout.as_mut().expect("stdout was piped"))
                .read_line(&mut status)
                .map_err(|e| format!("{id}: reading the status failed: {e}"))?;
            if !status.contains("\"responseFor\":\"initialize\"") {
                return Err(format!("{id}: no initialize status, got {status:?}"));
            }
            children.push(child);
        }
        let rollups: Vec<[u64; 4]> = children
            .iter()
            .map(|child| rollup(child.id()).ok_or(format!("{id}: no smaps_rollup")))
            .collect::<Result<_, _>>()?;
        let column = |i: usize| median(rollups.iter().map(|r| r[i]).collect());
        Ok(IdleMemory {
            child: id.to_string(),
            count,
            rss_kib: column(0),
            pss_kib: column(1),
            private_kib: column(2),
            anonymous_kib: column(3),
        })
    })();
    for child in &mut children {
        drop(child.stdin.take());
    }
    for child in &mut children {
        let _ = child.wait();
    }
    result
}

/// Measures each Rust child and the floor program in `bin_dir`.
pub fn measure_all(
    children: &[ChildSpec],
    bin_dir: &Path,
    initialize: &[u8],
    count: usize,
) -> Vec<Result<IdleMemory, String>> {
    let mut results: Vec<Result<IdleMemory, String>> = children
        .iter()
        .filter(|child| matches!(child.id, "kcl" | "kcl-before" | "naive"))
        .map(|child| measure(child.id, &child.program, &child.args, initialize, count))
        .collect();
    results.push(measure(
        "floor",
        &bin_dir.join("bench-idle-floor"),
        &[],
        initialize,
        count,
    ));
    results
}
