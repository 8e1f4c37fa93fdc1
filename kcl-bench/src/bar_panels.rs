//! Grouped bar charts as a self-contained SVG: panels in a grid, one colour per series, the value
//! printed on every bar. Used by the per-child chart (`chart`) and the whole-worker chart
//! (`worker_chart`).

use std::fmt::Write as _;

/// One group of bars: a label under it and one value per child.
pub struct Group {
    /// Shown under the group.
    pub label: String,
    /// One bar per series: the series id (which picks the colour) and the value.
    pub values: Vec<(String, f64)>,
}

pub struct Panel {
    /// Shown above the panel.
    pub title: String,
    /// The y axis label.
    pub unit: &'static str,
    /// The groups of bars, left to right.
    pub groups: Vec<Group>,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" axis maximum and tick step covering `max`.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw_step = max / 4.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| step * 4.0 >= max)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

fn format_value(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Where a panel goes on the page.
#[derive(Clone, Copy)]
struct Frame {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

fn draw_panel(
    out: &mut String,
    panel: &Panel,
    frame: &Frame,
    colour: &dyn Fn(&str) -> &'static str,
) {
    let Frame {
        x,
        y,
        width,
        height,
    } = *frame;
    let left = x + 56.0;
    let right = x + width - 12.0;
    let top = y + 40.0;
    let bottom = y + height - 34.0;
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="15" font-weight="bold">{}</text>"#,
        x + 8.0,
        y + 20.0,
        escape(&panel.title)
    );
    let max = panel
        .groups
        .iter()
        .flat_map(|g| g.values.iter().map(|(_, v)| *v))
        .fold(0.0, f64::max);
    let (axis_max, step) = nice_scale(max * 1.08);
    let scale = |value: f64| bottom - (value / axis_max) * (bottom - top);
    let mut tick = 0.0;
    while tick <= axis_max + step * 0.01 {
        let ty = scale(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{left:.1}" y1="{ty:.1}" x2="{right:.1}" y2="{ty:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            left - 4.0,
            ty + 4.0,
            format_value(tick)
        );
        tick += step;
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#555" transform="rotate(-90 {:.1} {:.1})" text-anchor="middle">{}</text>"##,
        x + 14.0,
        (top + bottom) / 2.0,
        x + 14.0,
        (top + bottom) / 2.0,
        escape(panel.unit)
    );
    let group_width = (right - left) / panel.groups.len().max(1) as f64;
    for (index, group) in panel.groups.iter().enumerate() {
        let group_left = left + group_width * index as f64;
        let bars = group.values.len().max(1) as f64;
        let bar_width = ((group_width - 16.0) / bars).min(56.0);
        let start = group_left + (group_width - bar_width * bars) / 2.0;
        for (bar, (child, value)) in group.values.iter().enumerate() {
            let bx = start + bar_width * bar as f64;
            let by = scale(*value);
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                bx + 1.0,
                bar_width - 2.0,
                (bottom - by).max(0.0),
                colour(child.as_str()),
                bx + bar_width / 2.0,
                by - 3.0,
                format_value(*value)
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
            group_left + group_width / 2.0,
            bottom + 16.0,
            escape(&group.label)
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333"/>"##
    );
}

/// What a chart shows besides its panels.
pub struct Page<'a> {
    /// The bold first line.
    pub title: &'a str,
    /// The grey second line (machine, command).
    pub subtitle: &'a str,
    /// Series ids with their legend labels, in legend order.
    pub legend: &'a [(String, String)],
    /// Colour of a series id.
    pub colour: &'a dyn Fn(&str) -> &'static str,
    /// Panels per row.
    pub columns: usize,
}

/// Renders the panels, `page.columns` per row, under the title and the legend.
pub fn render(page: &Page<'_>, panels: &[Panel]) -> String {
    let (width, panel_height) = (1000.0, 300.0);
    let columns = page.columns.max(1);
    let panel_width = width / columns as f64;
    let rows = panels.len().div_ceil(columns);
    let height = 70.0 + panel_height * rows as f64 + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(
        out,
        "<!-- Generated by kcl-bench (scripts/bench); do not edit by hand. -->"
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="18" font-weight="bold">{}</text>"#,
        escape(page.title)
    );
    let _ = writeln!(
        out,
        r##"<text x="10" y="40" font-size="11" fill="#555">{}</text>"##,
        escape(page.subtitle)
    );
    let mut legend_x = 10.0;
    for (series, label) in page.legend {
        let _ = writeln!(
            out,
            r#"<rect x="{legend_x:.1}" y="50" width="12" height="12" fill="{}"/><text x="{:.1}" y="60" font-size="12">{}</text>"#,
            (page.colour)(series),
            legend_x + 16.0,
            escape(label)
        );
        legend_x += 24.0 + 6.6 * label.chars().count() as f64;
    }
    for (index, panel) in panels.iter().enumerate() {
        let frame = Frame {
            x: (index % columns) as f64 * panel_width,
            y: 70.0 + (index / columns) as f64 * panel_height,
            width: panel_width,
            height: panel_height,
        };
        draw_panel(&mut out, panel, &frame, page.colour);
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scale_covers_the_maximum() {
        for max in [0.3, 1.0, 7.3, 12.0, 99.0, 1234.0] {
            let (axis, step) = nice_scale(max);
            assert!(axis >= max, "{max} -> {axis}");
            assert!(axis / step <= 5.0 + 1e-9, "{max} -> {axis}/{step}");
        }
    }
}
