//! The benchmark chart: a self-contained SVG of grouped bar charts, one panel per question a user
//! asks (CPU per GB, latency, memory, start-up), with the value printed on every bar.

use crate::bar_panels::{self, Group, Page, Panel};
use crate::report::{Summary, find};

/// Bar colour per child id.
fn colour(child: &str) -> &'static str {
    match child {
        "kcl" => "#d95f02",
        "naive" => "#7570b3",
        "python" => "#1b9e77",
        "node" => "#3a7bd5",
        _ => "#888888",
    }
}

fn group(
    summaries: &[Summary],
    children: &[(&'static str, String)],
    label: &str,
    workload: &str,
    value: &dyn Fn(&Summary) -> f64,
) -> Option<Group> {
    let values: Vec<(String, f64)> = children
        .iter()
        .filter_map(|(child, _)| {
            find(summaries, workload, child).map(|s| ((*child).to_string(), value(s)))
        })
        .collect();
    (!values.is_empty()).then(|| Group {
        label: label.to_string(),
        values,
    })
}

/// Renders the chart. `children` gives the order and the legend labels; `subtitle` names the
/// machine and the command.
pub fn render(
    summaries: &[Summary],
    children: &[(&'static str, String)],
    subtitle: &str,
) -> String {
    let panels = [
        Panel {
            title: "CPU per GB of records (lower is better)".into(),
            unit: "CPU seconds per GB",
            groups: [
                ("(a) 200 x 1000 x 1 KiB", "a"),
                ("(c) 5 x 10000 x 1 KiB", "c"),
            ]
            .iter()
            .filter_map(|(label, w)| group(summaries, children, label, w, &|s| s.cpu_s_per_gb))
            .collect(),
        },
        Panel {
            title: "Latency: one-record batch round trip".into(),
            unit: "µs per batch",
            groups: group(summaries, children, "(b) 2000 x 1 x 100 B", "b", &|s| {
                s.batch_round_trip_us
            })
            .into_iter()
            .collect(),
        },
        Panel {
            title: "Memory per child (lower is better)".into(),
            unit: "RSS MiB",
            groups: [
                group(summaries, children, "idle", "a", &|s| s.idle_rss_mib),
                group(summaries, children, "peak on (a)", "a", &|s| s.peak_rss_mib),
                group(summaries, children, "peak on (c)", "c", &|s| s.peak_rss_mib),
                group(
                    summaries,
                    children,
                    "after a catch-up batch (d)",
                    "d",
                    &|s| s.probe_rss_mib.unwrap_or(0.0),
                ),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Panel {
            title: "Start-up to the initialize acknowledgement".into(),
            unit: "ms",
            groups: group(summaries, children, "spawn to first ack (a)", "a", &|s| {
                s.startup_ms
            })
            .into_iter()
            .collect(),
        },
    ];

    let legend: Vec<(String, String)> = children
        .iter()
        .map(|(child, label)| ((*child).to_string(), label.clone()))
        .collect();
    let page = Page {
        title: "kcl-bench: cost of one shard's child process (medians)",
        subtitle,
        legend: &legend,
        colour: &colour,
        columns: 2,
    };
    bar_panels::render(&page, &panels)
}
