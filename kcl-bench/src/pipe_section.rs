//! The report's comparison of the two ways of writing lines to a child (`pipe_writes`): the JVM's
//! 8 KiB writes, the headline everywhere else in the report, against one write per line.

use std::fmt::Write as _;

use crate::pipe_writes::WriteMode;
use crate::report::{Summary, find};
use crate::workload::Workload;

/// The section's Markdown, or empty when only one mode ran.
pub fn section(
    jdk: &[Summary],
    whole_line: &[Summary],
    workloads: &[Workload],
    label_of: &dyn Fn(&str) -> String,
) -> String {
    if jdk.is_empty() || whole_line.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## How the daemon writes: {} against {}\n",
        WriteMode::JdkChunks.describe(),
        WriteMode::WholeLine.describe()
    );
    let _ = writeln!(
        out,
        "The JVM hands a line to the child's pipe in 8 KiB writes (KCL 3.1.3 `MessageWriter`: `BufferedWriter` over \
`OutputStreamWriter`, whose encoder passes on 8 KiB at a time, over the JDK's `ProcessPipeOutputStream`, a \
default 8 KiB `BufferedOutputStream`), so the 14 MB `processRecords` line of workload (c) arrives as ~1,700 writes. Every other \
table in this report drives the children that way; this one repeats each run with the whole line in one write, \
in the same rounds. Medians; ratio = 8 KiB / one write.\n"
    );
    let _ = writeln!(
        out,
        "| workload | child | CPU s/GB, 8 KiB writes | CPU s/GB, one write | ratio | batch round trip µs, 8 KiB | one write | peak RSS MiB, 8 KiB | one write |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for workload in workloads {
        for chunked in jdk.iter().filter(|s| s.workload == workload.id) {
            let Some(line) = find(whole_line, workload.id, chunked.child) else {
                continue;
            };
            let ratio = if line.cpu_s_per_gb > 0.0 {
                format!("{:.2}", chunked.cpu_s_per_gb / line.cpu_s_per_gb)
            } else {
                "–".to_string()
            };
            let _ = writeln!(
                out,
                "| ({}) | {} | {:.2} | {:.2} | {ratio} | {:.0} | {:.0} | {:.1} | {:.1} |",
                workload.id,
                label_of(chunked.child),
                chunked.cpu_s_per_gb,
                line.cpu_s_per_gb,
                chunked.batch_round_trip_us,
                line.batch_round_trip_us,
                chunked.peak_rss_mib,
                line.peak_rss_mib,
            );
        }
    }
    let _ = writeln!(out);
    out
}
