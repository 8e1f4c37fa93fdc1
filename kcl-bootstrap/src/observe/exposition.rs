//! Reading samples back from a text exposition (for `kcl-bootstrap status`): `name{labels} value`
//! lines; comments, types and anything unparsable are skipped.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

impl Sample {
    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

pub(crate) fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `key="value",...}` with `\\`, `\"` and `\n` escapes; returns the labels and what follows `}`.
fn label_set(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches(',');
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, other) => value.push(other),
            }
        };
        labels.insert(key.trim().to_owned(), value);
        text = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let text = "# TYPE kcl_records counter\n\
                    kcl_records_total{shard_id=\"shardId-1\"} 12\n\
                    kcl_daemon_up 1\n\
                    kcl_callback_duration_seconds_bucket{le=\"+Inf\",action=\"x\\\"y\"} 3\n\
                    garbage line\n\
                    # EOF\n";
        let parsed = samples(text);
        assert_eq!(parsed.len(), 3, "{parsed:?}");
        assert_eq!(parsed[0].name, "kcl_records_total");
        assert_eq!(parsed[0].label("shard_id"), Some("shardId-1"));
        assert_eq!(parsed[0].value, 12.0);
        assert_eq!(parsed[1].value, 1.0);
        assert_eq!(parsed[2].label("action"), Some("x\"y"));
        assert_eq!(parsed[2].label("le"), Some("+Inf"));
    }
}
