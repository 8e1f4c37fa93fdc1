//! Sections of `BENCHMARKS.md` that another command owns: the whole-worker section is written by
//! `scripts/bench --worker` between two markers and kept when plain `scripts/bench` rewrites the
//! rest of the file.

/// Starts the whole-worker section.
pub const WORKER_BEGIN: &str = "<!-- kcl-bench worker section: begin -->";
/// Ends it.
pub const WORKER_END: &str = "<!-- kcl-bench worker section: end -->";

/// The section between the markers (markers included), if `text` has one.
pub fn worker_section(text: &str) -> Option<&str> {
    let start = text.find(WORKER_BEGIN)?;
    let end = text[start..].find(WORKER_END)? + start + WORKER_END.len();
    Some(&text[start..end])
}

/// `text` with its worker section replaced by `section` (appended when it has none).
pub fn replace_worker_section(text: &str, section: &str) -> String {
    match worker_section(text) {
        Some(old) => text.replacen(old, section.trim_end(), 1),
        None => format!("{}\n\n{}\n", text.trim_end(), section.trim_end()),
    }
}

/// A freshly rendered per-child report, keeping the worker section of the file it replaces.
pub fn keep_worker_section(previous: Option<&str>, rendered: String) -> String {
    match previous.and_then(worker_section) {
        Some(section) => replace_worker_section(&rendered, section),
        None => rendered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(body: &str) -> String {
        format!("{WORKER_BEGIN}\n{body}\n{WORKER_END}")
    }

    #[test]
    fn appends_then_replaces_the_section() {
        let first = replace_worker_section("# Report\n", &section("one"));
        assert_eq!(first, format!("# Report\n\n{}\n", section("one")));
        let second = replace_worker_section(&first, &section("two"));
        assert_eq!(second, format!("# Report\n\n{}\n", section("two")));
    }

    #[test]
    fn a_rewrite_of_the_rest_keeps_the_section() {
        let old = format!("# Old\n\n{}\n", section("kept"));
        let new = keep_worker_section(Some(&old), "# New\n".to_string());
        assert_eq!(new, format!("# New\n\n{}\n", section("kept")));
        assert_eq!(keep_worker_section(None, "# New\n".into()), "# New\n");
    }
}
