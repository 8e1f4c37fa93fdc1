//! The worker's log as the scenarios read it: the lines `e2e-consumer` writes to its stderr on
//! request (`E2E_STDERR_LINES`), and counting them in a worker's log file.

/// The text of log line `n` of the child `pid`; `end` keeps `n=1` from matching `n=10`.
pub fn child_line_marker(pid: u32, n: u32) -> String {
    format!("e2e-stderr-line pid={pid} n={n} end")
}

/// The lines of `log` that contain `needle`.
pub fn lines_containing<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(needle)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_do_not_match_each_other() {
        let log = format!(
            "a {}\nb {}\nc {}\n",
            child_line_marker(7, 1),
            child_line_marker(7, 10),
            child_line_marker(17, 1)
        );
        assert_eq!(lines_containing(&log, &child_line_marker(7, 1)).len(), 1);
        assert_eq!(lines_containing(&log, &child_line_marker(7, 10)).len(), 1);
        assert_eq!(lines_containing(&log, &child_line_marker(1, 1)).len(), 0);
    }
}
