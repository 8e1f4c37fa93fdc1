//! The whole-worker chart (`docs/bench-worker.svg`): the headline experiment's medians, one group
//! per child kind, one bar per JVM variant.

use crate::bar_panels::{self, Group, Page, Panel};
use crate::worker_results::Experiment;
use crate::worker_summary::{Stat, WorkerSummary, summarize};

/// Bar colour per JVM variant, in the experiment's order.
fn colour_at(index: usize) -> &'static str {
    ["#888888", "#d95f02", "#1b9e77", "#3a7bd5", "#7570b3"][index % 5]
}

fn panel(
    experiment: &Experiment,
    rows: &[WorkerSummary],
    title: &str,
    unit: &'static str,
    value: &dyn Fn(&WorkerSummary) -> Option<Stat>,
) -> Panel {
    let groups = experiment
        .children
        .iter()
        .map(|child| Group {
            label: experiment
                .child_labels
                .get(child)
                .cloned()
                .unwrap_or_else(|| child.clone()),
            values: rows
                .iter()
                .filter(|r| &r.child == child)
                .filter_map(|r| value(r).map(|s| (r.variant.clone(), s.median)))
                .collect(),
        })
        .collect();
    Panel {
        title: title.to_string(),
        unit,
        groups,
    }
}

/// Renders the chart of `experiment`; `subtitle` names the machine and the command.
pub fn render(experiment: &Experiment, subtitle: &str) -> String {
    let rows = summarize(experiment);
    let legend: Vec<(String, String)> = experiment
        .variants
        .iter()
        .map(|v| (v.name.clone(), format!("JVM {}", v.name)))
        .collect();
    let names: Vec<String> = experiment.variants.iter().map(|v| v.name.clone()).collect();
    let colour = move |series: &str| {
        colour_at(
            names
                .iter()
                .position(|n| n == series)
                .unwrap_or(names.len()),
        )
    };
    let panels = [
        panel(
            experiment,
            &rows,
            "JVM peak RSS (lower is better)",
            "MiB",
            &|r| r.jvm_rss_mib,
        ),
        panel(
            experiment,
            &rows,
            "JVM CPU, start to drained",
            "CPU seconds",
            &|r| r.jvm_cpu_s,
        ),
        panel(
            experiment,
            &rows,
            "Children: peak of summed PSS",
            "MiB",
            &|r| r.children_pss_mib,
        ),
        panel(
            experiment,
            &rows,
            "Children: summed CPU",
            "CPU seconds",
            &|r| r.children_cpu_s,
        ),
        panel(
            experiment,
            &rows,
            "JVM start to first initialize (net of lease wait)",
            "seconds",
            &|r| r.to_initialize_net_s,
        ),
        panel(
            experiment,
            &rows,
            "Drain: first child to all checkpointed",
            "seconds",
            &|r| r.drain_s,
        ),
    ];
    let title = format!(
        "kcl-bench --worker: one worker, {} shards, {} x {} B (medians)",
        experiment.shards, experiment.records, experiment.record_bytes
    );
    let page = Page {
        title: &title,
        subtitle,
        legend: &legend,
        colour: &colour,
        columns: 2,
    };
    bar_panels::render(&page, &panels)
}
